/**
 * Helpers for the agent tests: attach to a real node, load the agent, record a session's events
 * (decoded from the batches), compile a test module on the node, and poll for a condition.
 *
 *   const eng = await attach(node);
 *   await loadAgent(eng.remote);
 *   const rec = await record(eng, { maxEvents: 100 });
 *   await rec.session.traceCalls(...);
 *   await rec.session.stop();
 *   rec.events   // every event of every batch, in order
 */

import { LocalNode } from '../../src/erlang/node.js';
import type { RemoteNode } from '../../src/erlang/remoteNode.js';
import { decode } from '../../src/erlang/etf/index.js';
import { Atom, Tuple, atom, type Term } from '../../src/erlang/terms.js';
import { AgentSession, type AgentLimits, type AgentMessage, type AgentStats } from '../../src/agent/client.js';
import { unloadAgentIfUnused } from '../../src/agent/loader.js';
import type { BeamNode } from './beam.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const DEFAULT_TEST_LIMITS: AgentLimits = {
  maxRate: 1_000_000,
  maxEvents: 1_000_000,
  maxDurationMs: 120_000,
  maxMailbox: 1_000_000,
  maxTermBytes: 1_000_000,
  batchEvents: 50,
  flushMs: 20,
};

export interface Engine {
  local: LocalNode;
  remote: RemoteNode;
  close(): Promise<void>;
}

export async function attach(node: BeamNode): Promise<Engine> {
  const local = await LocalNode.start({ cookie: node.cookie });
  const remote = await local.connect(node.name);
  return { local, remote, close: () => local.close() };
}

/** The end of a suite: unload the agent if no session is left, leave the node, stop it. */
export async function detach(eng: Engine, node: BeamNode): Promise<void> {
  await unloadAgentIfUnused(eng.remote);
  await eng.close();
  await node.stop();
}

export interface Recording {
  session: AgentSession;
  /** Every event of every batch, decoded, in arrival order. */
  events: Term[];
  seqs: number[];
  /** Set once `done` arrived. */
  done: { reason: Term; reasonText: string; stats: AgentStats } | undefined;
  /** Resolves when `done` arrives. */
  finished: Promise<void>;
}

export async function record(eng: Engine, limits: Partial<AgentLimits> = {}): Promise<Recording> {
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const rec: Omit<Recording, 'session'> & { session?: AgentSession } = { events: [], seqs: [], done: undefined, finished };
  const onMessage = (m: AgentMessage): void => {
    if (m.type === 'batch') {
      rec.seqs.push(m.seq);
      const list = decode(Buffer.from(m.bin));
      if (!Array.isArray(list)) throw new Error('a batch is not a list');
      rec.events.push(...list);
    } else {
      rec.done = { reason: m.reason, reasonText: m.reasonText, stats: m.stats };
      resolveDone();
    }
  };
  rec.session = await AgentSession.start(eng.local, eng.remote, { ...DEFAULT_TEST_LIMITS, ...limits }, onMessage);
  return rec as Recording;
}

/** The kind of an event: `call`, `return_from`, `send`, ... for trace_ts; the tag otherwise. */
export function kind(e: Term): string {
  if (!(e instanceof Tuple)) return '?';
  const tag = e.elements[0];
  if (tag instanceof Atom && tag.name === 'trace_ts') {
    const k = e.elements[2];
    return k instanceof Atom ? k.name : '?';
  }
  return tag instanceof Atom ? tag.name : '?';
}

export function ofKind(events: Term[], k: string): Tuple[] {
  return events.filter((e): e is Tuple => kind(e) === k);
}

/** Compiles and loads an Erlang module from source on the node (nothing written to disk). */
/**
 * An Erlang module `name` whose `run(N)` calls `f/1` N times in a fresh process and returns when that
 * process has ended: a steady stream of calls to trace (floods, limits).
 */
export function callLoopModule(name: string): string {
  return `
-module(${name}).
-export([f/1, run/1]).
f(X) -> X.
run(N) ->
  P = spawn(fun() -> [f(I) || I <- lists:seq(1, N)], ok end),
  R = monitor(process, P),
  receive {'DOWN', R, _, _, _} -> ok end.
`;
}

export async function compileOnNode(node: BeamNode, source: string): Promise<void> {
  const b64 = Buffer.from(source, 'utf8').toString('base64');
  await node.eval(`
    Src = unicode:characters_to_list(base64:decode(<<"${b64}">>)),
    {ok, Toks, _} = erl_scan:string(Src),
    Split = fun Split([], _Cur, Acc) -> lists:reverse(Acc);
                Split([{dot, _} = D | T], Cur, Acc) -> Split(T, [], [lists:reverse([D | Cur]) | Acc]);
                Split([X | T], Cur, Acc) -> Split(T, [X | Cur], Acc) end,
    Forms = [begin {ok, F} = erl_parse:parse_form(Ts), F end || Ts <- Split(Toks, [], [])],
    {ok, M, B} = compile:forms(Forms, [binary]),
    {module, M} = code:load_binary(M, "nofile", B),
    M`);
}

/** Polls `check` until it returns true (or throws the last failure after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const A = atom;

/**
 * Starts test/support/engineChild.ts (`trace` or `instrument`) against `node` in another OS process
 * and resolves with it and the READY line it printed, once it has set everything up.
 */
export async function startEngineChild(node: BeamNode, mode: 'trace' | 'instrument'): Promise<{ child: ChildProcess; ready: string[] }> {
  const childJs = fileURLToPath(new URL('./engineChild.js', import.meta.url));
  const child = spawn(process.execPath, [childJs, mode, node.name, node.cookie], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('READY')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`engine child exited (${code}) before READY:\n${out}\n${err}`)));
  });
  return { child, ready: out.split('\n')[0]!.split(' ') };
}
