/**
 * A realistic 1,000,000-event recording for the Cinema's load tests and the UI benchmark, written
 * through the real pipeline (trace messages as the agent sends them → term_to_binary batches →
 * Ingestor → correlator → RecordingWriter), so links, parents and the send → receive pairs on disk
 * are the correlator's.
 *
 * The system it pretends to trace: one node; a root supervisor (Big.Supervisor) spawns 10 pool
 * supervisors (Big.Pool<g>.Supervisor), each spawning 99 workers, 5 of them registered
 * (Big.Worker<g>_<k>). Workers serve requests: handle_call → compute → (sometimes) Big.Math.step,
 * a message to another worker, which receives it in handle_info; both GenServers' states are
 * traced. Eight times a registered worker raises (ArithmeticError in Big.Worker.risky/1), exits
 * with an abnormal reason, and its pool supervisor starts a new process under the same name (a
 * restart). At the end some workers stop normally or with :shutdown. Random choices come from a
 * seeded generator: the same recording every time.
 *
 * It is built once and cached in os.tmpdir() (about 110 MB, some seconds to write); a half-built
 * copy is never used (built in a scratch folder, then renamed).
 */

import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../../src/erlang/etf/index.js';
import { Atom, ErlMap, Pid, Tuple, type Term } from '../../src/erlang/terms.js';
import { Ingestor } from '../../src/capture/ingestor.js';
import { RecordingWriter } from '../../src/store/writer.js';
import { mulberry32 } from './prng.js';

export const BIG_EVENTS = 1_000_000;
export const BIG_GROUPS = 10;
export const BIG_WORKERS_PER_GROUP = 99;
export const BIG_CRASHES = 8;
const VERSION = 1;

export interface BigRecording {
  dir: string;
  events: number;
  /** Processes with events: the root, the pool supervisors, the workers and their restarts. */
  processes: number;
}

/** The cached recording (built on first use). */
export async function bigRecording(): Promise<BigRecording> {
  const dir = join(tmpdir(), `elixir-scope-big-recording-v${VERSION}-${BIG_EVENTS}`);
  const expected = 1 + BIG_GROUPS + BIG_GROUPS * BIG_WORKERS_PER_GROUP + BIG_CRASHES;
  if (isComplete(dir)) return { dir, events: BIG_EVENTS, processes: expected };
  const scratch = mkdtempSync(join(tmpdir(), 'elixir-scope-big-building-'));
  const rec = join(scratch, 'rec');
  await build(rec);
  if (!isComplete(rec)) throw new Error(`bigRecording: the recording built in ${rec} is not complete with ${BIG_EVENTS} events; see its meta.json errors`);
  try {
    renameSync(rec, dir);
  } catch (err) {
    // Another test process won the race: its copy is as good as ours.
    if (!isComplete(dir)) throw err;
  }
  rmSync(scratch, { recursive: true, force: true });
  return { dir, events: BIG_EVENTS, processes: expected };
}

function isComplete(dir: string): boolean {
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath)) return false;
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { status?: string; counts?: { stored?: number } };
  return meta.status === 'complete' && meta.counts?.stored === BIG_EVENTS;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: the simulated system
// ----------------------------------------------------------------------------------------------

const a = Atom.of;
const t = (...els: Term[]): Tuple => new Tuple(els);
const NODE = a('big@vm');
const TRACE_TS = a('trace_ts');

async function build(dir: string): Promise<void> {
  const writer = await RecordingWriter.create(
    dir,
    { node: 'big@vm', otpRelease: '25', elixirVersion: '1.14.0', agentVersion: 1, monoStart: '0', nativePerSec: 1_000_000_000, request: { synthetic: 'bigRecording' } },
    { fsync: 'never' },
  );
  const relay = new Pid(NODE, 90, 0, 1);
  const ing = new Ingestor({ writer, relay, flushMs: 50 });
  const rand = mulberry32(20261124);
  let ts = 1_000;
  let emitted = 0;
  let seq = 0;
  let batch: Term[] = [];
  const flushBatch = async (): Promise<void> => {
    if (batch.length === 0) return;
    ing.ingest(++seq, encode(batch));
    batch = [];
    // Let the Ingestor correlate and write between batches, as the socket's event loop would.
    if (seq % 16 === 0) await new Promise<void>((r) => setImmediate(r));
  };
  const emit = async (m: Term): Promise<void> => {
    batch.push(m);
    emitted++;
    if (batch.length >= 2000) await flushBatch();
  };
  const tick = (lo: number, hi: number): number => (ts += lo + Math.floor(rand() * (hi - lo)));

  let nextPid = 1000;
  const pidOf = (id: number): Pid => new Pid(NODE, id, 0, 1);
  const mfa = (m: string, f: string, args: Term): Tuple => t(a(m), a(f), args);

  const spawnChild = async (parent: Pid, child: Pid, m: string, args: Term[]): Promise<void> => {
    const init = mfa(m, 'init', args);
    await emit(t(TRACE_TS, parent, a('spawn'), child, init, tick(2000, 4000)));
    await emit(t(TRACE_TS, child, a('spawned'), parent, init, tick(500, 1500)));
    await emit(t(TRACE_TS, parent, a('link'), child, tick(200, 500)));
    await emit(t(TRACE_TS, child, a('getting_linked'), parent, tick(100, 300)));
  };
  const state = (n: number, name: string): ErlMap => new ErlMap([[a('served'), n], [a('name'), Buffer.from(name)]]);

  // Supervision tree.
  const root = pidOf(100);
  await emit(t(TRACE_TS, root, a('register'), a('Elixir.Big.Supervisor'), tick(100, 200)));
  interface Worker { pid: Pid; name: string | null; served: number; group: number }
  const workers: Worker[] = [];
  const sups: Pid[] = [];
  for (let g = 0; g < BIG_GROUPS; g++) {
    const sup = pidOf(200 + g);
    sups.push(sup);
    await spawnChild(root, sup, 'Elixir.Supervisor', [a(`Elixir.Big.Pool${g}.Supervisor`)]);
    await emit(t(TRACE_TS, sup, a('register'), a(`Elixir.Big.Pool${g}.Supervisor`), tick(100, 300)));
    for (let k = 0; k < BIG_WORKERS_PER_GROUP; k++) {
      const w: Worker = { pid: pidOf(nextPid++), name: k < 5 ? `Elixir.Big.Worker${g}_${k}` : null, served: 0, group: g };
      await spawnChild(sup, w.pid, 'Elixir.Big.Worker', [g, k]);
      if (w.name !== null) await emit(t(TRACE_TS, w.pid, a('register'), a(w.name), tick(100, 300)));
      await emit(t(a('es_state_init'), w.pid, tick(100, 300), state(0, w.name ?? `w${g}_${k}`)));
      workers.push(w);
    }
  }

  // Where the crashes happen: spread over the run, each on a registered worker.
  const tail = 300; // events kept for the normal stops at the end (one exit each, on distinct workers)
  const crashAt = Array.from({ length: BIG_CRASHES }, (_, i) => Math.floor(((i + 1) * (BIG_EVENTS - tail)) / (BIG_CRASHES + 1)));
  let crashes = 0;
  let n = 0;
  const W = 'Elixir.Big.Worker';
  while (emitted < BIG_EVENTS - tail - 40) {
    if (crashes < BIG_CRASHES && emitted >= crashAt[crashes]!) {
      crashes++;
      const named = workers.filter((w) => w.name !== null);
      const w = named[Math.floor(rand() * named.length)]!;
      const sup = sups[w.group]!;
      const req = t(a('divide'), n++, 0);
      await emit(t(TRACE_TS, w.pid, a('call'), mfa(W, 'handle_call', [req, a('from'), state(w.served, w.name!)]), tick(3000, 9000)));
      await emit(t(TRACE_TS, w.pid, a('call'), mfa(W, 'risky', [0]), tick(200, 600)));
      const reason = t(a('error'), a('badarith'));
      await emit(t(TRACE_TS, w.pid, a('exception_from'), mfa(W, 'risky', 1), reason, tick(100, 300)));
      await emit(t(TRACE_TS, w.pid, a('exception_from'), mfa(W, 'handle_call', 3), reason, tick(100, 300)));
      await emit(t(TRACE_TS, w.pid, a('exit'), t(a('badarith'), [t(a(W), a('risky'), 1, [])]), tick(300, 800)));
      await emit(t(TRACE_TS, sup, a('receive'), t(a('EXIT'), w.pid, a('badarith')), tick(300, 800)));
      const fresh: Worker = { pid: pidOf(nextPid++), name: w.name, served: 0, group: w.group };
      await spawnChild(sup, fresh.pid, W, [w.group, -1]);
      await emit(t(TRACE_TS, fresh.pid, a('register'), a(fresh.name!), tick(100, 300)));
      await emit(t(a('es_state_init'), fresh.pid, tick(100, 300), state(0, fresh.name!)));
      workers[workers.indexOf(w)] = fresh;
      continue;
    }
    // One request: 7 events on the worker, 4 on the peer that gets its message, 2 more sometimes.
    const w = workers[Math.floor(rand() * workers.length)]!;
    let p = workers[Math.floor(rand() * workers.length)]!;
    if (p === w) p = workers[(workers.indexOf(w) + 1) % workers.length]!;
    const id = n++;
    const req = t(a('work'), id);
    const from = t(a('from'), id);
    await emit(t(TRACE_TS, w.pid, a('call'), mfa(W, 'handle_call', [req, from, state(w.served, w.name ?? 'w')]), tick(2000, 9000)));
    await emit(t(TRACE_TS, w.pid, a('call'), mfa(W, 'compute', [id]), tick(200, 800)));
    if (rand() < 0.5) {
      await emit(t(TRACE_TS, w.pid, a('call'), mfa('Elixir.Big.Math', 'step', [id, 3]), tick(100, 400)));
      await emit(t(TRACE_TS, w.pid, a('return_from'), mfa('Elixir.Big.Math', 'step', 2), id * 3, tick(300, 2000)));
    }
    await emit(t(TRACE_TS, w.pid, a('return_from'), mfa(W, 'compute', 1), id * 2, tick(200, 900)));
    const msg = t(a('job'), id, w.pid);
    await emit(t(TRACE_TS, w.pid, a('send'), msg, p.pid, tick(100, 400)));
    w.served++;
    await emit(t(a('es_state'), w.pid, tick(100, 300), t(a('$gen_call'), from, req), t(a('reply'), a('ok')), state(w.served, w.name ?? 'w')));
    await emit(t(TRACE_TS, w.pid, a('return_from'), mfa(W, 'handle_call', 3), t(a('reply'), a('ok'), state(w.served, w.name ?? 'w')), tick(100, 300)));
    await emit(t(TRACE_TS, p.pid, a('receive'), msg, tick(500, 3000)));
    await emit(t(TRACE_TS, p.pid, a('call'), mfa(W, 'handle_info', [msg, state(p.served, p.name ?? 'w')]), tick(200, 600)));
    p.served++;
    await emit(t(TRACE_TS, p.pid, a('return_from'), mfa(W, 'handle_info', 2), t(a('noreply'), state(p.served, p.name ?? 'w')), tick(300, 1500)));
    await emit(t(a('es_state'), p.pid, tick(50, 200), msg, a('noreply'), state(p.served, p.name ?? 'w')));
  }
  // Normal ends: workers stop with :normal or :shutdown (not crashes) until the count is exact.
  let i = 0;
  while (emitted < BIG_EVENTS) {
    const w = workers[i++ % workers.length]!;
    await emit(t(TRACE_TS, w.pid, a('exit'), i % 2 === 0 ? a('normal') : a('shutdown'), tick(1000, 3000)));
  }
  await flushBatch();
  await ing.close('complete', 'max_events');
}
