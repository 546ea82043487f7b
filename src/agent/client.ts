/**
 * The engine's side of one agent session (docs/agent-protocol.md).
 *
 *   await loadAgent(remote);
 *   const session = await AgentSession.start(local, remote, limits, (m) => {
 *     if (m.type === 'batch') ingest(m.seq, m.bin);      // bin: term_to_binary of a list of events
 *     else console.log('session ended:', m.reasonText);
 *   });
 *   await session.traceCalls([{ module: 'Elixir.Shop.Cart', function: 'add', arity: 2, matchSpec: [] }], { returns: true });
 *   await session.traceProcesses({ kind: 'all' }, ['call', 'send', 'receive']);
 *   await session.traceState({ kind: 'name', name: 'Elixir.Shop.Inventory' });
 *   const stats = await session.stop();
 *
 * Each session has its own LocalProcess on our node: the relay on the target monitors it, so when it
 * (or our whole node, or the link) goes away, the relay removes everything it set and exits. Batches
 * and the final `done` reach `onMessage` synchronously, in the order they arrived.
 */

import type { LocalNode } from '../erlang/node.js';
import type { LocalProcess } from '../erlang/process.js';
import type { RemoteNode } from '../erlang/remoteNode.js';
import { inspect } from '../erlang/inspect.js';
import { BadRpcError } from '../erlang/errors.js';
import { Atom, ErlMap, Pid, Reference, Tuple, atom, isAtom, isTuple, type EncodableTerm, type Term } from '../erlang/terms.js';
import { AGENT_MODULE, AgentError } from './loader.js';

export { AgentError } from './loader.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** The limits the engine sends to the agent's `start_session` (every one filled in); see src/runtime/limits.ts for defaults. */
export interface AgentLimits {
  maxRate: number;
  maxEvents: number;
  maxDurationMs: number;
  maxMailbox: number;
  maxTermBytes: number;
  batchEvents: number;
  flushMs: number;
}

export interface CallTarget {
  /** Atom text, e.g. 'Elixir.Shop.Cart' or 'lists'. */
  module: string;
  function: string | '_';
  arity: number | '_';
  /** A match spec list; atoms from the user inside it written as tuple({'$es_atom', Buffer}) markers. */
  matchSpec: EncodableTerm;
}

export type ProcessSelector =
  | { kind: 'all' }
  | { kind: 'new' }
  | { kind: 'existing' }
  | { kind: 'pid'; pid: Pid }
  | { kind: 'name'; name: string };

export type ProcessFlag = 'call' | 'send' | 'receive' | 'procs' | 'set_on_spawn';

export interface AgentStats {
  events: number;
  sent: number;
  dropped: Record<string, number>;
  truncated: number;
  batches: number;
}

export type AgentMessage =
  | { type: 'batch'; seq: number; bin: Uint8Array }
  | { type: 'done'; reason: Term; reasonText: string; stats: AgentStats };

export interface AgentInfo {
  agentVersion: number;
  otpRelease: string;
  elixirVersion: string | null;
  /** Native time units per second (erlang:convert_time_unit(1, second, native)). */
  nativePerSec: number;
  /** Native monotonic time when the session started. */
  monoStart: bigint;
  /** erlang:time_offset() in native units: monotonic + offset = Erlang system time. */
  timeOffset: bigint;
  node: string;
}

/** Default time a request may take on the target (trace_state may wait on a busy GenServer). */
const DEFAULT_REQUEST_MS = 10_000;

export class AgentSession {
  private ended = false;
  private finalStats: AgentStats | undefined;
  private resolveEnded!: () => void;
  private readonly endedPromise: Promise<void>;

  private constructor(
    private readonly proc: LocalProcess,
    private readonly remote: RemoteNode,
    readonly relay: Pid,
    readonly info: AgentInfo,
    private readonly onMessage: (m: AgentMessage) => void,
  ) {
    this.endedPromise = new Promise((r) => (this.resolveEnded = r));
  }

  /** Starts a relay on `remote` reporting to a new process of ours. The agent must be loaded. */
  static async start(local: LocalNode, remote: RemoteNode, limits: AgentLimits, onMessage: (m: AgentMessage) => void): Promise<AgentSession> {
    const proc = local.spawn();
    // Messages that arrive before the session object exists (none are expected: the relay only
    // reports once something is traced) are kept and replayed, so order is never lost.
    const early: Term[] = [];
    proc.handler = (m) => early.push(m);
    let reply: Term;
    try {
      reply = await remote.rpc(AGENT_MODULE, 'start_session', [proc.pid, limitsTerm(limits)]);
    } catch (err) {
      proc.exit();
      if (err instanceof BadRpcError && /undef/.test(err.message)) {
        throw new AgentError('NOT_LOADED', `The agent is not loaded on ${remote.name} (elixir_scope_agent:start_session/2 is undefined there). Call loadAgent first.`, err.reason);
      }
      throw err;
    }
    if (!(isTuple(reply, 3) && isAtom(reply.elements[0], 'ok') && reply.elements[1] instanceof Pid && reply.elements[2] instanceof ErlMap)) {
      proc.exit();
      throw agentError(reply, remote);
    }
    const session = new AgentSession(proc, remote, reply.elements[1], parseInfo(reply.elements[2]), onMessage);
    const mref = proc.monitor(session.relay);
    proc.handler = (m) => session.deliver(m, mref);
    for (const m of early) session.deliver(m, mref);
    return session;
  }

  /** True once the session has ended (stopped, a limit, or the relay went away). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Sets call trace patterns; resolves with every function matched. */
  async traceCalls(targets: CallTarget[], opts: { returns: boolean }): Promise<{ module: string; function: string; arity: number }[]> {
    const ts = targets.map(
      (t) =>
        new ErlMap([
          [atom('module'), Buffer.from(t.module, 'utf8')],
          [atom('function'), t.function === '_' ? atom('_') : Buffer.from(t.function, 'utf8')],
          [atom('arity'), t.arity === '_' ? atom('_') : t.arity],
          // The encoder accepts EncodableTerm anywhere inside a term; ErlMap is typed with Term only.
          [atom('match_spec'), t.matchSpec as Term],
        ]),
    );
    const opt = new ErlMap([[atom('returns'), opts.returns ? atom('true') : atom('false')]]);
    const r = await this.request(new Tuple([atom('trace_calls'), ts, opt]));
    if (!Array.isArray(r)) throw this.unexpected(r);
    return r.map((m) => {
      if (!(m instanceof ErlMap)) throw this.unexpected(m);
      return { module: atomText(m.getAtom('module')), function: atomText(m.getAtom('function')), arity: Number(m.getAtom('arity')) };
    });
  }

  /** Sets process trace flags; resolves with how many processes got them (0 for `new`). */
  async traceProcesses(which: ProcessSelector, flags: ProcessFlag[]): Promise<number> {
    const r = await this.request(new Tuple([atom('trace_processes'), selectorTerm(which), flags.map((f) => atom(f))]));
    if (typeof r !== 'number') throw this.unexpected(r);
    return r;
  }

  /** Hooks a GenServer / gen_statem (sys debug fun); an initial state snapshot is emitted first. */
  async traceState(which: { kind: 'pid'; pid: Pid } | { kind: 'name'; name: string }): Promise<{ pid: Pid; behaviour: string }> {
    const reply = await this.rawRequest(new Tuple([atom('trace_state'), selectorTerm(which)]), DEFAULT_REQUEST_MS);
    if (isTuple(reply, 3) && isAtom(reply.elements[0], 'ok') && reply.elements[1] instanceof Pid && reply.elements[2] instanceof Atom) {
      return { pid: reply.elements[1], behaviour: reply.elements[2].name };
    }
    throw agentError(reply, this.remote);
  }

  async stats(): Promise<AgentStats> {
    if (this.ended && this.finalStats) return this.finalStats;
    return parseStats(await this.request(atom('stats')));
  }

  /**
   * Ends the session: the relay removes what it set, sends the last batch and `done`, and exits.
   * Resolves with the final stats once the relay is gone (so the agent can be unloaded).
   */
  async stop(timeoutMs = DEFAULT_REQUEST_MS): Promise<AgentStats> {
    if (!this.ended) {
      const reply = await this.rawRequest(atom('stop'), timeoutMs);
      if (isTuple(reply, 2) && isAtom(reply.elements[0], 'ok')) this.finalStats ??= parseStats(reply.elements[1]!);
      else if (!isSessionEnded(reply)) throw agentError(reply, this.remote);
      // The relay exits right after answering; wait for its DOWN so "no relay left" is true after us.
      await Promise.race([this.endedPromise, delay(timeoutMs)]);
      if (!this.ended) throw new AgentError('TIMEOUT', `The relay on ${this.remote.name} did not exit within ${timeoutMs} ms of being stopped.`);
    }
    if (this.proc.alive) this.proc.exit();
    return this.finalStats ?? { events: 0, sent: 0, dropped: {}, truncated: 0, batches: 0 };
  }

  // --------------------------------------------------------------------------------------------
  // Internals
  // --------------------------------------------------------------------------------------------

  private deliver(m: Term, mref: Reference): void {
    if (!(m instanceof Tuple)) return;
    const [tag, from] = m.elements;
    if (isAtom(tag, 'es_batch') && m.size === 4 && from instanceof Pid && from.key === this.relay.key) {
      const seq = m.elements[2];
      const bin = m.elements[3];
      if (typeof seq === 'number' && Buffer.isBuffer(bin)) this.onMessage({ type: 'batch', seq, bin });
      return;
    }
    if (isAtom(tag, 'es_done') && m.size === 4 && from instanceof Pid && from.key === this.relay.key) {
      const reason = m.elements[2]!;
      const stats = parseStats(m.elements[3]!);
      this.finalStats = stats;
      this.onMessage({ type: 'done', reason, reasonText: reasonText(reason), stats });
      return;
    }
    if (isAtom(tag, 'DOWN') && m.size === 5 && from instanceof Reference && from.key === mref.key) {
      const wasDone = this.finalStats !== undefined;
      this.ended = true;
      if (!wasDone) {
        // The relay went away without saying why (killed, or the node went down).
        const reason = new Tuple([atom('relay_down'), m.elements[4]!]);
        this.finalStats = { events: 0, sent: 0, dropped: {}, truncated: 0, batches: 0 };
        this.onMessage({ type: 'done', reason, reasonText: reasonText(reason), stats: this.finalStats });
      }
      this.resolveEnded();
      if (this.proc.alive) this.proc.exit();
    }
  }

  /** A request whose reply is `{ok, Value}`; resolves with Value, else throws an AgentError. */
  private async request(req: Term, timeoutMs = DEFAULT_REQUEST_MS): Promise<Term> {
    const reply = await this.rawRequest(req, timeoutMs);
    if (isTuple(reply, 2) && isAtom(reply.elements[0], 'ok')) return reply.elements[1]!;
    throw agentError(reply, this.remote);
  }

  private rawRequest(req: Term, timeoutMs: number): Promise<Term> {
    if (this.ended) {
      return Promise.reject(new AgentError('SESSION_ENDED', `The agent session on ${this.remote.name} has already ended.`));
    }
    // The rpc waits a little longer than the agent does, so the agent's own {error, timeout} wins.
    return this.remote.rpc(AGENT_MODULE, 'request', [this.relay, req, timeoutMs], { timeoutMs: timeoutMs + 5000 });
  }

  private unexpected(t: Term): AgentError {
    return new AgentError('PROTOCOL', `Unexpected reply from the agent on ${this.remote.name}: ${inspect(t)}.`, t);
  }
}

// ----------------------------------------------------------------------------------------------
// Terms
// ----------------------------------------------------------------------------------------------

function limitsTerm(l: AgentLimits): ErlMap {
  const pairs: Array<[string, number]> = [
    ['max_rate', l.maxRate],
    ['max_events', l.maxEvents],
    ['max_duration_ms', l.maxDurationMs],
    ['max_mailbox', l.maxMailbox],
    ['max_term_bytes', l.maxTermBytes],
    ['batch_events', l.batchEvents],
    ['flush_ms', l.flushMs],
  ];
  return new ErlMap(pairs.map(([k, v]) => [atom(k), Math.trunc(v)]));
}

function selectorTerm(s: ProcessSelector): Term {
  switch (s.kind) {
    case 'all':
    case 'new':
    case 'existing':
      return atom(s.kind);
    case 'pid':
      return new Tuple([atom('pid'), s.pid]);
    case 'name':
      return new Tuple([atom('name'), Buffer.from(s.name, 'utf8')]);
  }
}

function parseInfo(m: ErlMap): AgentInfo {
  const elixir = m.getAtom('elixir_version');
  return {
    agentVersion: Number(m.getAtom('agent_version')),
    otpRelease: text(m.getAtom('otp_release')),
    elixirVersion: Buffer.isBuffer(elixir) ? elixir.toString('utf8') : null,
    nativePerSec: Number(m.getAtom('native_per_sec')),
    monoStart: BigInt(m.getAtom('mono_start') as number | bigint),
    timeOffset: BigInt(m.getAtom('time_offset') as number | bigint),
    node: atomText(m.getAtom('node')),
  };
}

/** Parses the agent's Stats map. Exported for tests and for batch consumers. */
export function parseStats(t: Term): AgentStats {
  if (!(t instanceof ErlMap)) return { events: 0, sent: 0, dropped: {}, truncated: 0, batches: 0 };
  const dropped: Record<string, number> = {};
  const d = t.getAtom('dropped');
  if (d instanceof ErlMap) for (const [k, v] of d.entries) dropped[k instanceof Atom ? k.name : inspect(k)] = Number(v);
  return {
    events: Number(t.getAtom('events') ?? 0),
    sent: Number(t.getAtom('sent') ?? 0),
    dropped,
    truncated: Number(t.getAtom('truncated') ?? 0),
    batches: Number(t.getAtom('batches') ?? 0),
  };
}

function text(t: Term | undefined): string {
  if (Buffer.isBuffer(t)) return t.toString('utf8');
  if (t instanceof Atom) return t.name;
  if (Array.isArray(t) && t.every((x) => typeof x === 'number')) return String.fromCodePoint(...(t as number[]));
  return t === undefined ? '' : inspect(t);
}

function atomText(t: Term | undefined): string {
  return t instanceof Atom ? t.name : text(t);
}

/** How a person writes the module: `Shop.Cart` for 'Elixir.Shop.Cart', `:lists` for lists. */
export function moduleName(name: string): string {
  if (name.startsWith('Elixir.')) return name.slice('Elixir.'.length);
  return /^[a-z][a-zA-Z0-9_@]*$/.test(name) ? `:${name}` : `:"${name}"`;
}

function reasonText(reason: Term): string {
  if (isAtom(reason, 'stopped')) return 'stopped by the engine';
  if (isTuple(reason, 3) && isAtom(reason.elements[0], 'limit')) {
    return `the ${atomText(reason.elements[1])} limit (${inspect(reason.elements[2]!)}) was reached; tracing was switched off`;
  }
  if (isTuple(reason, 2) && isAtom(reason.elements[0], 'relay_down')) {
    return `the relay went away (${inspect(reason.elements[1]!)})`;
  }
  return inspect(reason);
}

function isSessionEnded(reply: Term): boolean {
  return (
    isTuple(reply, 2) &&
    isAtom(reply.elements[0], 'error') &&
    isTuple(reply.elements[1]) &&
    (isAtom(reply.elements[1].elements[0], 'relay_down') || isAtom(reply.elements[1].elements[0], 'session_ended'))
  );
}

/** The agent's `{error, Reason}` (or anything unexpected) as an AgentError people can act on. */
export function agentError(reply: Term, remote: RemoteNode): AgentError {
  const node = remote.name;
  const pid = (p: Term | undefined): string => (p === undefined ? '?' : inspect(p, { localNode: remote.nodeAtom }));
  const fnText = (m: Term | undefined, f: Term | undefined, a: Term | undefined): string => {
    const mod = moduleName(atomText(m));
    const fun = isAtom(f, '_') ? '*' : atomText(f);
    const ar = isAtom(a, '_') ? '*' : inspect(a!);
    return `${mod}.${fun}/${ar}`;
  };
  if (!(isTuple(reply, 2) && isAtom(reply.elements[0], 'error'))) {
    return new AgentError('PROTOCOL', `Unexpected reply from the agent on ${node}: ${inspect(reply)}.`, reply);
  }
  const r = reply.elements[1]!;
  if (isAtom(r, 'timeout')) {
    return new AgentError('TIMEOUT', `The agent on ${node} did not answer in time. It may be busy (a flood of events, or a GenServer that does not answer system messages); try again or lower the load.`, r);
  }
  if (r instanceof Tuple) {
    const [tag, a, b, c] = r.elements;
    const name = tag instanceof Atom ? tag.name : '';
    switch (name) {
      case 'unknown_module':
        return new AgentError('UNKNOWN_MODULE', `Module ${moduleName(atomText(a))} is not available on ${node}: no such module is loaded or can be loaded there. Check the spelling (Elixir modules as Shop.Cart, Erlang modules as :lists) and that the application is running on that node.`, r);
      case 'unknown_function':
        return new AgentError('UNKNOWN_FUNCTION', `${fnText(a, b, c)} does not exist on ${node}. Check the name and arity; private functions count too.`, r);
      case 'unknown_atom':
        return new AgentError('UNKNOWN_ATOM', `The match spec mentions :${atomText(a)}, which is not an atom anywhere on ${node}, so nothing there could match it. Check the spelling. (ElixirScope never creates atoms on the node it debugs.)`, r);
      case 'bad_match_spec':
        return new AgentError('BAD_MATCH_SPEC', `The match spec was refused by ${node}: ${inspect(a!)}.`, r);
      case 'no_such_process':
        return new AgentError('NO_SUCH_PROCESS', `There is no process ${pid(a)} on ${node} (it may have exited).`, r);
      case 'unknown_name':
        return new AgentError('UNKNOWN_NAME', `No process is registered as ${moduleName(atomText(a))} on ${node}.`, r);
      case 'not_a_sys_process':
        return new AgentError('NOT_A_SYS_PROCESS', `${pid(a)} on ${node} is not a GenServer, gen_statem or other OTP (sys) process, so its state cannot be followed. Trace its calls and messages instead.`, r);
      case 'already_traced': {
        const what = a instanceof Pid ? `process ${pid(a)}` : isTuple(a, 3) ? fnText(a.elements[0], a.elements[1], a.elements[2]) : inspect(a!);
        return new AgentError('ALREADY_TRACED', `${what} on ${node} is already traced by someone else (another debugger session, dbg, recon or redbug). ElixirScope leaves other traces alone: stop that trace first, or pick something else.`, r);
      }
      case 'sys_timeout':
        return new AgentError('TIMEOUT', `${pid(a)} on ${node} did not answer a system message within 1 s: it is busy, or it is not an OTP process that handles them. Try again when it is idle, or trace its calls instead.`, r);
      case 'relay_down':
      case 'session_ended':
        return new AgentError('SESSION_ENDED', `The agent session on ${node} has ended (${inspect(a!)}).`, r);
      case 'bad_flags':
        return new AgentError('BAD_REQUEST', `Unsupported process trace flags ${inspect(a!)}: use call, send, receive, procs, set_on_spawn.`, r);
      case 'bad_opts':
        return new AgentError('BAD_REQUEST', `The agent refused the session limits: ${inspect(a!)} must be positive integers.`, r);
      default:
        break;
    }
  }
  return new AgentError('AGENT_ERROR', `The agent on ${node} answered ${inspect(r)}.`, r);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
