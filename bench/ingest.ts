/**
 * `npm run bench -- ingest [--batches N] [--set S] [--open-events E] [--seconds S] [--socket-only] [--sqlite PATH]`
 *
 * Sustained ingest from the SOCKET to the durable store, on one Node thread: a real erl node holds
 * S distinct batches of 500 realistic trace_ts events (calls with small args, returns, gen_server
 * sends and receives, as the agent's relay would batch them) encoded with term_to_binary, and a
 * sender process sends N batches (cycling through the set) as `{es_batch, Self, Seq, Bin}` to a
 * registered process of our LocalNode as fast as distribution lets it. Our side runs the real
 * pipeline: Ingestor → parse → ring buffer → correlator → RecordingWriter (fsync at close). Reported:
 *
 * - ingest_events_s: events / (first batch received → last batch parsed and queued);
 * - ingest_durable_events_s: events / (first batch received → everything written and closed);
 * - ingest_lost: sent − stored (must be 0), and the ring buffer's drops;
 * - ingest_cpu_us_per_event: Node CPU time (user + system) per event over the run;
 * - transport_only_events_s / _cpu_us_per_event: the same batches received and dropped, before the
 *   ingest run (the distribution layer's share, and the ceiling for the pipeline);
 * - the reference, measured by the same erl before the run: binary_to_term of the same batches,
 *   events/s (beam_binary_to_term_events_s), and the ratio durable ingest / BEAM decode.
 *
 * Then, in-process on the same batches (no socket): parse alone and parse → correlate → write;
 * and the store's reader on a recording of E events (default 10,000,000): open time and lookups.
 * With `--sqlite PATH/node_modules/better-sqlite3` (installed anywhere; not a dependency), the same
 * pipeline into SQLite, for docs/store.md's comparison.
 */

import { rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { LocalNode } from '../src/erlang/node.js';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { parseBatch, ParseContext } from '../src/capture/batchParser.js';
import { Correlator } from '../src/capture/correlator.js';
import { Ingestor } from '../src/capture/ingestor.js';
import { RecordingWriter } from '../src/store/writer.js';
import { openRecording } from '../src/store/reader.js';
import { startNode } from '../test/support/beam.js';
import { result, medianPass } from './support/report.js';
import { makeTempDir, removeDir } from '../test/support/erlScript.js';

const EVENTS_PER_BATCH = 500;

/** Builds the batch set on the node (kept in persistent_term) and times binary_to_term on it. */
const SETUP = (set: number, seconds: number): string => `
Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, 8)],
Server = spawn(fun() -> receive stop -> ok end end),
Sku = fun(I) -> list_to_binary("SKU-" ++ integer_to_list(I rem 50)) end,
Cycle = fun(P, I, T) ->
  Ref = make_ref(),
  Req = {'$gen_call', {P, Ref}, {reserve, Sku(I), I rem 5 + 1}},
  [{trace_ts, P, call, {'Elixir.Shop.Cart', add_item, [P, #{sku => Sku(I), qty => I rem 5 + 1}]}, T},
   {trace_ts, P, call, {'Elixir.Shop.Inventory', reserve, [Sku(I), I rem 5 + 1]}, T + 150},
   {trace_ts, P, send, Req, Server, T + 300},
   {trace_ts, Server, 'receive', Req, T + 420},
   {trace_ts, Server, send, {Ref, {ok, I rem 97}}, P, T + 800},
   {trace_ts, P, 'receive', {Ref, {ok, I rem 97}}, T + 900},
   {trace_ts, P, return_from, {'Elixir.Shop.Inventory', reserve, 2}, {ok, I rem 97}, T + 1000},
   {trace_ts, P, return_from, {'Elixir.Shop.Cart', add_item, 2}, {ok, #{items => I rem 9, total => I * 3}}, T + 1200}]
end,
T0 = erlang:monotonic_time(),
Batch = fun(B) ->
  Evs = lists:append([Cycle(lists:nth((B * 63 + K) rem 8 + 1, Pids), B * 1000 + K, T0 + (B * 63 + K) * 2000) || K <- lists:seq(0, 62)]),
  term_to_binary(lists:sublist(Evs, ${EVENTS_PER_BATCH}))
end,
Bins = [Batch(B) || B <- lists:seq(0, ${set - 1})],
persistent_term:put(es_bench_bins, list_to_tuple(Bins)),
persistent_term:put(es_bench_start, T0),
Pass = fun() -> {Us, _} = timer:tc(fun() -> lists:foreach(fun(Bin) -> binary_to_term(Bin) end, Bins) end), Us end,
_ = [Pass() || _ <- lists:seq(1, 3)],
Deadline = erlang:monotonic_time(millisecond) + ${Math.round(seconds * 1000)},
Loop = fun L(Acc) -> case erlang:monotonic_time(millisecond) > Deadline andalso length(Acc) >= 5 of true -> Acc; false -> L([Pass() | Acc]) end end,
Times = lists:sort(Loop([])),
Median = lists:nth((length(Times) + 1) div 2, Times),
{T0, erlang:convert_time_unit(1, second, native), Median, lists:sum([byte_size(B) || B <- Bins]), erlang:system_info(otp_release)}
`;

/** Spawns the sender: N batches to {Name, Node}, then es_done. */
const SEND = (n: number, name: string, node: string): string => `
Bins = persistent_term:get(es_bench_bins),
S = tuple_size(Bins),
Dest = {${name}, '${node}'},
spawn(fun() ->
  Self = self(),
  Send = fun L(Seq) when Seq > ${n} -> ok; L(Seq) -> Dest ! {es_batch, Self, Seq, element((Seq - 1) rem S + 1, Bins)}, L(Seq + 1) end,
  Send(1),
  Dest ! {es_done, Self, stopped, #{}}
end),
ok
`;

export async function run(args: string[]): Promise<void> {
  const batches = numberArg(args, '--batches', 4000);
  const set = numberArg(args, '--set', 200);
  const openEvents = numberArg(args, '--open-events', 10_000_000);
  const seconds = numberArg(args, '--seconds', 3);
  const dir = await makeTempDir('bench-ingest');
  const node = await startNode({ kind: 'erl' });
  let local: LocalNode | undefined;
  try {
    process.stdout.write(`building ${set} batches of ${EVENTS_PER_BATCH} events on ${node.name} and timing binary_to_term (${seconds} s)...\n`);
    const setup = await node.eval(SETUP(set, seconds).trim(), 300_000);
    const m = /^\{(-?\d+),(\d+),(\d+),(\d+),\s*"(\d+)"\}$/s.exec(setup.trim());
    if (m === null) throw new Error(`unexpected setup result: ${setup.slice(0, 300)}`);
    const monoStart = m[1]!;
    const nativePerSec = Number(m[2]);
    const beamUs = Number(m[3]);
    const setBytes = Number(m[4]);
    const beamEventsPerSec = (set * EVENTS_PER_BATCH) / (beamUs / 1e6);
    process.stdout.write(
      `node ${process.version}, OTP ${m[5]}, ${cpus().length} cpu(s): ${cpus()[0]?.model ?? 'unknown'}\n` +
        `set: ${set} batches, ${set * EVENTS_PER_BATCH} events, ${setBytes} bytes (${(setBytes / set / EVENTS_PER_BATCH).toFixed(0)} bytes/event); ` +
        `sending ${batches} batches = ${batches * EVENTS_PER_BATCH} events\n`,
    );

    local = await LocalNode.start({ cookie: node.cookie });
    await local.connect(node.name);
    const me = local.spawn();
    const name = `es_ingest_bench`;
    me.register(name);

    // The transport alone first (messages received and dropped): the ceiling for the pipeline.
    await node.eval(SEND(batches, name, local.name).trim());
    let tr0 = 0;
    const trCpu0 = process.cpuUsage();
    for (;;) {
      const msg = await me.receive(undefined, 120_000);
      if (!(msg instanceof Tuple)) continue;
      if (tr0 === 0) tr0 = performance.now();
      if (msg.elements[0] === Atom.of('es_done')) break;
    }
    const transportRate = (batches * EVENTS_PER_BATCH) / ((performance.now() - tr0) / 1000);
    const trCpu = process.cpuUsage(trCpu0);

    const recDir = join(dir, 'socket');
    const writer = await RecordingWriter.create(recDir, {
      node: node.name,
      otpRelease: m[5]!,
      elixirVersion: null,
      agentVersion: 1,
      monoStart,
      nativePerSec,
      request: { bench: 'ingest' },
    });
    let ing: Ingestor | undefined;
    const captured: Buffer[] = [];
    await node.eval(SEND(batches, name, local.name).trim());
    let t0 = 0;
    let cpu0 = process.cpuUsage();
    let tQueued = 0;
    for (;;) {
      const msg = await me.receive(undefined, 120_000);
      if (!(msg instanceof Tuple)) continue;
      const tag = msg.elements[0];
      if (tag === Atom.of('es_batch')) {
        const [, relay, seq, bin] = msg.elements as [Term, Pid, number, Buffer];
        if (ing === undefined) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
          ing = new Ingestor({ writer, relay });
        }
        ing.ingest(seq, bin);
        if (seq <= set) captured.push(bin);
      } else if (tag === Atom.of('es_done')) {
        tQueued = performance.now();
        break;
      }
    }
    if (ing === undefined) throw new Error('no batch arrived');
    await ing.close('complete', 'stopped');
    const tDone = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const sent = batches * EVENTS_PER_BATCH;
    const counts = writer.meta.counts;
    const rec = openRecording(recDir);
    const stored = rec.count;
    const links = countLinks(rec, Math.min(stored, 20_000));
    rec.close();
    await rm(recDir, { recursive: true, force: true });

    const ingestRate = sent / ((tQueued - t0) / 1000);
    const durableRate = stored / ((tDone - t0) / 1000);
    result('ingest_events_s', ingestRate, 'events/s');
    result('ingest_durable_events_s', durableRate, 'events/s');
    result('ingest_sent_events', sent, 'events');
    result('ingest_stored_events', stored, 'events');
    result('ingest_lost_events', sent - stored, 'events');
    result('ingest_buffer_full_events', counts.dropped.buffer_full, 'events');
    result('ingest_cpu_us_per_event', ((cpu.user + cpu.system) / sent), 'us');
    result('ingest_cpu_system_us_per_event', cpu.system / sent, 'us');
    result('ingest_linked_fraction', links, 'x');
    result('transport_only_events_s', transportRate, 'events/s');
    result('transport_only_cpu_us_per_event', (trCpu.user + trCpu.system) / (batches * EVENTS_PER_BATCH), 'us');
    result('beam_binary_to_term_events_s', beamEventsPerSec, 'events/s');
    result('ingest_durable_vs_beam_decode', durableRate / beamEventsPerSec, 'x');

    if (args.includes('--socket-only')) return;
    // In-process, the same batches, no socket.
    const ctx = new ParseContext({ monoStart, nativePerSec });
    const parseMs = medianPass(() => {
      for (const b of captured) parseBatch(ctx, b);
    }, seconds);
    result('parse_events_s', (captured.length * EVENTS_PER_BATCH) / (parseMs / 1000), 'events/s');
    const pipeDir = join(dir, 'pipe');
    const pipeRounds = Math.max(1, Math.round(batches / captured.length));
    const tp0 = performance.now();
    const pw = await RecordingWriter.create(pipeDir, { node: node.name, otpRelease: m[5]!, elixirVersion: null, agentVersion: 1, monoStart, nativePerSec, request: null });
    const pi = new Ingestor({ writer: pw });
    let seq = 0;
    for (let r = 0; r < pipeRounds; r++) {
      for (const b of captured) {
        pi.ingest(++seq, b);
        // Let the timers run between batches, as they do between socket reads.
        if (seq % 8 === 0) await new Promise((res) => setImmediate(res));
      }
    }
    await pi.close('complete', null);
    const pipeEvents = pipeRounds * captured.length * EVENTS_PER_BATCH;
    result('pipeline_inprocess_events_s', pipeEvents / ((performance.now() - tp0) / 1000), 'events/s');
    await rm(pipeDir, { recursive: true, force: true });

    // The reader on a big recording.
    if (openEvents > 0) await measureOpen(join(dir, 'big'), captured, openEvents, monoStart, nativePerSec);
    // The alternative store, when given (not a dependency: see docs/store.md).
    const sqlite = stringArg(args, '--sqlite');
    if (sqlite !== undefined) await measureSqlite(sqlite, join(dir, 'sqlite'), captured, Math.min(openEvents || 2_000_000, 2_000_000), monoStart, nativePerSec);
  } finally {
    await local?.close();
    await node.stop();
    await removeDir(dir);
  }
}

async function measureOpen(dir: string, bins: Buffer[], events: number, monoStart: string, nativePerSec: number): Promise<void> {
  const w = await RecordingWriter.create(dir, { node: 'bench@host', otpRelease: '', elixirVersion: null, agentVersion: 1, monoStart, nativePerSec, request: null }, { fsync: 'never' });
  const cor = new Correlator();
  let k = 0;
  const tw0 = performance.now();
  while (w.count < events) {
    const b = parseBatch(w.ctx, bins[k++ % bins.length]!);
    const link = new Uint32Array(b.count);
    const parent = new Uint32Array(b.count);
    cor.process(b, w.count, link, parent, w);
    w.append(b, link, parent);
    if (w.pendingCount >= 250_000) await w.flush();
  }
  await w.close('complete', null);
  result('store_pipeline_events_s', w.count / ((performance.now() - tw0) / 1000), 'events/s');
  const t0 = performance.now();
  const rec = openRecording(dir);
  const openMs = performance.now() - t0;
  result('store_open_events', rec.count, 'events');
  const { stat } = await import('node:fs/promises');
  result('store_bytes_per_event', (await stat(join(dir, 'events.esr'))).size / rec.count, 'bytes');
  result('store_open_ms', openMs, 'ms');
  const procs = rec.processes();
  const t1 = performance.now();
  let n = 0;
  for (let i = 0; i < 100_000; i++) {
    const e = rec.event((i * 7919) % rec.count);
    if (e.payloadBytes() !== undefined) n++;
  }
  result('store_random_event_us', ((performance.now() - t1) * 1000) / 100_000, 'us');
  const t2 = performance.now();
  for (const p of procs) n += rec.idsOfPid(p.pid).length;
  result('store_ids_of_pid_all_ms', performance.now() - t2, 'ms');
  rec.close();
  if (n < 0) process.stdout.write('');
}

/** The minimal surface of better-sqlite3 used below (it is loaded from a path, untyped). */
interface SqliteDb {
  pragma(s: string): unknown;
  exec(s: string): void;
  prepare(s: string): { run(...args: unknown[]): unknown; all(...args: unknown[]): unknown[] };
  transaction(f: () => void): () => void;
  close(): void;
}

/**
 * The same pipeline into SQLite (better-sqlite3 12, WAL, synchronous=NORMAL, one transaction per
 * 100,000 events, payload and aux as blobs, an index on (pid, id)), then reopening it and reading
 * a pid's ids: what docs/store.md compares the custom format with.
 */
async function measureSqlite(modPath: string, dir: string, bins: Buffer[], events: number, monoStart: string, nativePerSec: number): Promise<void> {
  const mod = (await import(modPath)) as { default: new (file: string) => SqliteDb };
  const Database = mod.default;
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'rec.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE events (id INTEGER PRIMARY KEY, ts REAL, kind INTEGER, pid INTEGER, mfa INTEGER, peer INTEGER, link INTEGER, parent INTEGER, payload BLOB, aux BLOB);' +
      'CREATE INDEX events_pid ON events (pid, id);',
  );
  const ins = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const ctx = new ParseContext({ monoStart, nativePerSec });
  const cor = new Correlator();
  const none = (v: number): number | null => (v === 0xffffffff ? null : v);
  const t0 = performance.now();
  let id = 0;
  let k = 0;
  let pending: Array<{ b: ReturnType<typeof parseBatch>; link: Uint32Array; parent: Uint32Array; first: number }> = [];
  let pendingEvents = 0;
  const flush = db.transaction(() => {
    for (const { b, link, parent, first } of pending) {
      for (let i = 0; i < b.count; i++) {
        const pl = b.payLen[i]!;
        const al = b.auxLen[i]!;
        ins.run(
          first + i,
          b.ts[i],
          b.kind[i],
          b.pid[i],
          none(b.mfa[i]!),
          none(b.peer[i]!),
          none(link[i]!),
          none(parent[i]!),
          pl === 0xffffffff ? null : b.bin.subarray(b.payOff[i]!, b.payOff[i]! + pl),
          al === 0xffffffff ? null : b.bin.subarray(b.auxOff[i]!, b.auxOff[i]! + al),
        );
      }
    }
  });
  while (id < events) {
    const b = parseBatch(ctx, bins[k++ % bins.length]!);
    const link = new Uint32Array(b.count);
    const parent = new Uint32Array(b.count);
    cor.process(b, id, link, parent);
    pending.push({ b, link, parent, first: id });
    id += b.count;
    pendingEvents += b.count;
    if (pendingEvents >= 100_000) {
      flush();
      pending = [];
      pendingEvents = 0;
    }
  }
  if (pendingEvents > 0) flush();
  db.close();
  const writeRate = id / ((performance.now() - t0) / 1000);
  result('sqlite_pipeline_events_s', writeRate, 'events/s');
  const t1 = performance.now();
  const db2 = new Database(file);
  const rows = db2.prepare('SELECT id FROM events WHERE pid = ? ORDER BY id').all(1);
  result('sqlite_open_and_ids_of_pid_ms', performance.now() - t1, 'ms');
  db2.close();
  const { stat } = await import('node:fs/promises');
  const size = (await stat(file)).size;
  result('sqlite_bytes_per_event', size / id, 'bytes');
  if (rows.length < 0) process.stdout.write('');
  await rm(dir, { recursive: true, force: true });
}

function stringArg(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

function countLinks(rec: ReturnType<typeof openRecording>, upTo: number): number {
  let linked = 0;
  let linkable = 0;
  for (let id = 0; id < upTo; id++) {
    const e = rec.event(id);
    if (e.kind === 'return' || e.kind === 'receive') {
      linkable++;
      if (e.link !== null) linked++;
    }
  }
  return linkable === 0 ? 0 : linked / linkable;
}

function numberArg(args: string[], flag: string, dflt: number): number {
  const i = args.indexOf(flag);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
  return v;
}
