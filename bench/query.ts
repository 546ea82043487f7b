/**
 * `npm run bench -- query [--events N] [--pids P] [--samples S] [--dir D] [--keep]`
 *
 * Time-travel queries on a large recording. It first writes a synthetic recording of N events
 * (default 10,000,000) over P processes (default 1,000) through the real pipeline (agent-format
 * batches → Ingestor → RecordingWriter), each process a GenServer-like loop: receive a request,
 * handle_call → work → leaf with their returns, a send to the next process, a state change (9 events
 * per message). Then, on the reopened recording, it measures p50/p99 over S random samples
 * (seeded, so runs compare) of:
 *
 * - `history_page`: the first 100 events of a random process;
 * - `history_pid`: every event of a random process (~N/P);
 * - `history_window`: 100 events of a random process from a random moment (`--since 1.5s`);
 * - `render_page`: a history page of 100 events rendered as the CLI prints it;
 * - `state_at`: stateAt(pid of a random event, that event);
 * - `call_tree`: callTree of a random process.
 *
 * The reference, measured in the same run on the same recording: reading the same number of
 * consecutive events with `event(id)` (`seq_100`, `seq_pid`), the floor any query over that many
 * events pays, and decoding the payload of one random event (`random_payload`, which loads its block
 * when it is not cached), the floor under any question about a random moment. Each ratio is
 * `query / reference` at the p50.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Ingestor } from '../src/capture/ingestor.js';
import { encode } from '../src/erlang/etf/index.js';
import { Atom, ErlMap, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { eventLine } from '../src/cli/render/event.js';
import { Renderer } from '../src/cli/render/format.js';
import { QueryCoordinator } from '../src/store/query.js';
import { openRecording } from '../src/store/recording.js';
import { RecordingWriter } from '../src/store/writer.js';
import { result } from './support/report.js';
import type { Recording } from '../src/store/types.js';
import { mulberry32 } from '../test/support/prng.js';

const NODE = 'bench@localhost';
const EVENTS_PER_MESSAGE = 9;
/** Rounds (one message per process) per batch handed to the Ingestor. */
const ROUNDS_PER_BATCH = 10;

export async function run(args: string[]): Promise<void> {
  const events = numberArg(args, '--events', 10_000_000);
  const pids = numberArg(args, '--pids', 1000);
  const samples = numberArg(args, '--samples', 200);
  const keep = args.includes('--keep');
  const given = stringArg(args, '--dir');
  const root = given ?? (await mkdtemp(join(tmpdir(), 'bench-query-')));
  const dir = given ?? join(root, 'rec');
  try {
    process.stdout.write(
      `node ${process.version}, ${cpus().length} cpu(s): ${cpus()[0]?.model ?? 'unknown'}\n` +
        `writing ${events.toLocaleString('en-US')} events over ${pids} processes to ${dir} ...\n`,
    );
    const t0 = performance.now();
    const written = await writeWorkload(dir, events, pids);
    const buildS = (performance.now() - t0) / 1000;
    process.stdout.write(`wrote ${written.toLocaleString('en-US')} events in ${buildS.toFixed(1)} s\n`);
    result('query_build_events_s', Math.round(written / buildS), 'events/s');

    const t1 = performance.now();
    const rec = openRecording(dir);
    result('query_open', performance.now() - t1, 'ms');
    try {
      measure(rec, samples);
    } finally {
      rec.close();
    }
  } finally {
    if (!keep && given === undefined) await rm(root, { recursive: true, force: true });
    else process.stdout.write(`kept ${dir}\n`);
  }
}

// ----------------------------------------------------------------------------------------------
// The measurements
// ----------------------------------------------------------------------------------------------

function measure(rec: Recording, samples: number): void {
  const q = new QueryCoordinator(rec);
  const procs = rec.processes().filter((p) => p.count > 100);
  const rnd = mulberry32(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const r = new Renderer(rec);

  // A warm-up pass over each kind of query, so the numbers are of the steady state, not of the JIT.
  for (let i = 0; i < 20; i++) {
    const p = pick(procs).pid;
    q.history({ pid: p, limit: 100 });
    q.stateAt(p, rec.idsOfPid(p)[50]!);
  }

  const page = timeIt(samples, () => q.history({ pid: pick(procs).pid, limit: 100 }).length);
  const seq100 = timeIt(samples, () => {
    const start = Math.floor(rnd() * (rec.count - 100));
    for (let id = start; id < start + 100; id++) rec.event(id);
    return 100;
  });
  const fullSamples = Math.max(10, Math.floor(samples / 4));
  let perPid = 0;
  const full = timeIt(fullSamples, () => (perPid = q.history({ pid: pick(procs).pid }).length));
  const seqPid = timeIt(fullSamples, () => {
    const start = Math.floor(rnd() * (rec.count - perPid));
    for (let id = start; id < start + perPid; id++) rec.event(id);
    return perPid;
  });
  const window = timeIt(samples, () => {
    const info = pick(procs);
    const since = rec.event(info.firstId).ts + rnd() * (rec.event(info.lastId).ts - rec.event(info.firstId).ts);
    return q.history({ pid: info.pid, since: { ns: since }, limit: 100 }).length;
  });
  const render = timeIt(samples, () => {
    let out = '';
    for (const e of q.history({ pid: pick(procs).pid, limit: 100 })) out += eventLine(e, r) + '\n';
    return out.length;
  });
  const stateAt = timeIt(samples * 5, () => {
    const id = Math.floor(rnd() * rec.count);
    const s = q.stateAt(rec.event(id).pid, id);
    return s.stack.length;
  });
  const tree = timeIt(fullSamples, () => q.callTree(pick(procs).pid).calls);
  // The floor under stateAt: one random event with its payload decoded (loading its block if it is
  // not cached), the least any question about a random moment must read.
  const randomPayload = timeIt(samples * 5, () => {
    const p = rec.event(Math.floor(rnd() * rec.count)).payload();
    return p === undefined ? 0 : 1;
  });

  process.stdout.write(`(${perPid} events in the last process read whole; ${samples} samples, ${fullSamples} for whole processes)\n`);
  report('history_page', page);
  report('seq_100', seq100);
  report('history_window', window);
  report('render_page', render);
  report('history_pid', full);
  report('seq_pid', seqPid);
  report('state_at', stateAt);
  report('random_payload', randomPayload);
  report('call_tree', tree);
  result('query_history_page_vs_seq', page.p50 / seq100.p50, 'x');
  result('query_history_pid_vs_seq', full.p50 / seqPid.p50, 'x');
  result('query_call_tree_vs_seq', tree.p50 / seqPid.p50, 'x');
  result('query_state_at_vs_random_payload', stateAt.p50 / randomPayload.p50, 'x');
}

interface Timing {
  p50: number;
  p99: number;
}

function timeIt(n: number, f: () => number): Timing {
  const ms: number[] = [];
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    sink += f();
    ms.push(performance.now() - t);
  }
  // The sink keeps the work from being optimised away.
  if (sink < 0) process.stdout.write('');
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(0.5 * (ms.length - 1))]!, p99: ms[Math.floor(0.99 * (ms.length - 1))]! };
}

function report(name: string, t: Timing): void {
  result(`query_${name}_p50`, t.p50, 'ms');
  result(`query_${name}_p99`, t.p99, 'ms');
}

// ----------------------------------------------------------------------------------------------
// The workload
// ----------------------------------------------------------------------------------------------

const a = Atom.of;
const t = (...els: Term[]): Tuple => new Tuple(els);

/** Writes the synthetic recording; returns how many events it holds. */
async function writeWorkload(dir: string, events: number, nPids: number): Promise<number> {
  const node = a(NODE);
  const pids = Array.from({ length: nPids }, (_, i) => new Pid(node, 100 + i, 0, 1));
  const relay = new Pid(node, 90, 0, 1);
  const writer = await RecordingWriter.create(
    dir,
    { node: NODE, otpRelease: '25', elixirVersion: '1.14.0', agentVersion: 1, monoStart: '0', nativePerSec: 1_000_000_000, request: { bench: true } },
    { fsync: 'never' },
  );
  const ing = new Ingestor({ writer, relay });
  const TS = a('trace_ts');
  const CALL = a('call');
  const RET = a('return_from');
  const SEND = a('send');
  const RECV = a('receive');
  const STATE = a('es_state');
  const SERVER = a('Elixir.Bench.Server');
  const UTIL = a('Elixir.Bench.Util');
  const HANDLE = a('handle_call');
  const WORK = a('work');
  const LEAF = a('leaf');
  const REQ = a('req');
  const OK = a('ok');
  const REPLY = a('reply');
  const COUNT = a('count');
  const OWNER = a('owner');
  const state = (r: number, i: number): ErlMap => new ErlMap([[COUNT, r], [OWNER, i]]);

  let ts = 0;
  let seq = 0;
  // Startup: every process reads its initial state, and the first hundred have names.
  const first: Term[] = [];
  for (let i = 0; i < nPids; i++) {
    if (i < 100) first.push(t(TS, pids[i]!, a('register'), a(`Elixir.Bench.Server${i}`), (ts += 100)));
    first.push(t(a('es_state_init'), pids[i]!, (ts += 100), state(0, i)));
  }
  ing.ingest(++seq, encode(first));

  const rounds = Math.ceil(events / (EVENTS_PER_MESSAGE * nPids));
  for (let r0 = 1; r0 <= rounds; r0 += ROUNDS_PER_BATCH) {
    const batch: Term[] = [];
    for (let r = r0; r < r0 + ROUNDS_PER_BATCH && r <= rounds; r++) {
      for (let i = 0; i < nPids; i++) {
        const p = pids[i]!;
        const src = (i + nPids - 1) % nPids;
        const msg = t(REQ, r, src);
        const raw = t(a('$gen_call'), t(pids[src]!, r), msg);
        batch.push(
          t(TS, p, RECV, raw, (ts += 100)),
          t(TS, p, CALL, t(SERVER, HANDLE, [msg, t(pids[src]!, r), state(r - 1, i)]), (ts += 100)),
          t(TS, p, CALL, t(SERVER, WORK, [r, i]), (ts += 100)),
          t(TS, p, CALL, t(UTIL, LEAF, [r]), (ts += 100)),
          t(TS, p, RET, t(UTIL, LEAF, 1), r * 2, (ts += 100)),
          t(TS, p, RET, t(SERVER, WORK, 2), t(OK, r), (ts += 100)),
          t(TS, p, SEND, t(a('$gen_call'), t(p, r + 1), t(REQ, r + 1, i)), pids[(i + 1) % nPids]!, (ts += 100)),
          t(TS, p, RET, t(SERVER, HANDLE, 3), t(REPLY, OK, state(r, i)), (ts += 100)),
          t(STATE, p, (ts += 100), raw, t(REPLY, OK), state(r, i)),
        );
      }
    }
    ing.ingest(++seq, encode(batch));
    // Waiting for the disk keeps the Ingestor's buffer from filling (it would drop, as it must live).
    await ing.flush();
  }
  await ing.close('complete', 'bench');
  return writer.count;
}

function numberArg(args: string[], name: string, dflt: number): number {
  const v = stringArg(args, name);
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
}

function stringArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
