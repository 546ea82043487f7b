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
 * AST instrumentation (docs/ast.md) goes through the same session: the relay owns what it loads
 * and puts every original back when the session ends, however it ends.
 *
 *   const src = await session.astSource('Elixir.Shop.Cart');           // quoted form as a Term
 *   if (src.origin === 'source') {
 *     const [r] = await session.instrument([{ module: 'Elixir.Shop.Cart', quoted: transform(src.quoted) }]);
 *     ... es_ast events arrive in the batches ...
 *     await session.revert('all');                                      // md5 back to r.md5Before
 *   }
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
/** Parsing and compiling a module on the target; the agent gives up on one compilation after 120 s. */
const COMPILE_MS = 130_000;

export interface AstSourceOptions {
  /**
   * The module's source text, read by the engine from a local project folder: parsed on the target
   * instead of the file named in the module's compile info.
   */
  sourceText?: string;
  /** The file name to give the parser (and `__ENV__.file`) for `sourceText`; default the compile info's. */
  file?: string;
  /** Compile the source (not loaded) to check it is what the loaded code came from; default true. */
  verify?: boolean;
}

interface AstSourceCommon {
  /** Atom text, e.g. 'Elixir.Shop.Cart'. */
  module: string;
  /** md5 of the loaded code, hex. */
  md5: string;
  /** The .beam the module was loaded from, or 'in_memory'. */
  beam: string | 'in_memory';
}

/** The module's `defmodule` from its source, parsed with columns and token metadata. */
export interface AstFromSource extends AstSourceCommon {
  origin: 'source';
  file: string;
  /** `{:defmodule, meta, [alias, [do: body]]}` exactly as `Code.string_to_quoted/2` gave it. */
  quoted: Term;
  /**
   * true: the source compiles to the loaded md5. false: the code differs (edited since). 'unknown':
   * only literals differ (Mix's compile-time settings, e.g. Logger metadata), or no check was made.
   */
  sourceMatches: boolean | 'unknown';
}

/** No source file: Elixir's debug_info (definitions after macro expansion), to rebuild a module from. */
export interface AstFromDebugInfo extends AstSourceCommon {
  origin: 'debug_info';
  file: string | null;
  definitions: Term;
  attributes: Term;
  /** The whole map `Backend:debug_info(elixir_v1, ...)` returned (struct, line, compile_opts, ...). */
  debugInfo: ErlMap;
}

export type AstSource = AstFromSource | AstFromDebugInfo;

export interface InstrumentItem {
  module: string;
  /** A `defmodule` of that module (the quoted form from astSource, transformed). */
  quoted: EncodableTerm;
}

export interface CompileWarning {
  file: string;
  /** A line, or {line, column}, as Elixir reports it. */
  position: Term;
  message: string;
}

export interface InstrumentResult {
  module: string;
  md5Before: string;
  md5Instrumented: string;
  warnings: CompileWarning[];
}

export interface RevertResult {
  module: string;
  /** md5 after the revert: the original's. */
  md5: string;
}

export interface InstrumentedModule {
  module: string;
  /** The relay (session) that owns it. */
  relay: Pid;
  md5Before: string | null;
  /** A revert is waiting for processes to leave the old code. */
  blocked: boolean;
}

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

  /**
   * The quoted form of an Elixir module on the target, from its source file (or `opts.sourceText`),
   * else from the debug_info chunk of its .beam. Needs no tracing; runs in an rpc worker.
   */
  async astSource(module: string, opts: AstSourceOptions = {}): Promise<AstSource> {
    return astSource(this.remote, module, opts);
  }

  /**
   * Compiles each quoted module on the target (in an rpc worker, never in the relay) and has the
   * relay load them all, or none: a soft purge first, and a refusal (OLD_CODE_IN_USE,
   * MODULE_IN_USE, ALREADY_INSTRUMENTED, ...) rather than a process killed.
   */
  async instrument(items: InstrumentItem[]): Promise<InstrumentResult[]> {
    if (this.ended) throw new AgentError('SESSION_ENDED', `The agent session on ${this.remote.name} has already ended.`);
    const terms = items.map((i) => new ErlMap([[atom('module'), Buffer.from(i.module, 'utf8')], [atom('quoted'), i.quoted as Term]]));
    const opts = new ErlMap([[atom('timeout'), DEFAULT_REQUEST_MS]]);
    const reply = await this.remote.rpc(AGENT_MODULE, 'instrument', [this.relay, terms, opts], { timeoutMs: COMPILE_MS * Math.max(1, items.length) });
    if (!(isTuple(reply, 2) && isAtom(reply.elements[0], 'ok') && Array.isArray(reply.elements[1]))) throw agentError(reply, this.remote);
    return reply.elements[1].map((m) => {
      if (!(m instanceof ErlMap)) throw this.unexpected(m);
      const ws = m.getAtom('warnings');
      return {
        module: atomText(m.getAtom('module')),
        md5Before: hex(m.getAtom('md5_before')),
        md5Instrumented: hex(m.getAtom('md5_instrumented')),
        warnings: Array.isArray(ws) ? ws.map(parseWarning) : [],
      };
    });
  }

  /** Puts the original code back (exactly: the md5 is checked) for these modules, or all of this session's. */
  async revert(modules: string[] | 'all'): Promise<RevertResult[]> {
    const which = modules === 'all' ? atom('all') : modules.map((m) => Buffer.from(m, 'utf8'));
    const r = await this.request(new Tuple([atom('ast_revert'), which]));
    return parseReverted(r, (t) => this.unexpected(t));
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
// AST instrumentation without a session (the CLI's `revert`)
// ----------------------------------------------------------------------------------------------

/** See AgentSession.astSource: the same, for callers without a session. */
export async function astSource(remote: RemoteNode, module: string, opts: AstSourceOptions = {}): Promise<AstSource> {
  const o: Array<[Term, Term]> = [];
  if (opts.sourceText !== undefined) o.push([atom('source_text'), Buffer.from(opts.sourceText, 'utf8')]);
  if (opts.file !== undefined) o.push([atom('file'), Buffer.from(opts.file, 'utf8')]);
  if (opts.verify !== undefined) o.push([atom('verify'), atom(opts.verify ? 'true' : 'false')]);
  const reply = await remote.rpc(AGENT_MODULE, 'ast_source', [Buffer.from(module, 'utf8'), new ErlMap(o)], { timeoutMs: COMPILE_MS });
  if (!(isTuple(reply, 2) && isAtom(reply.elements[0], 'ok') && reply.elements[1] instanceof ErlMap)) throw agentError(reply, remote);
  const m = reply.elements[1];
  const beam = m.getAtom('beam');
  const common = { module: atomText(m.getAtom('module')), md5: hex(m.getAtom('md5')), beam: Buffer.isBuffer(beam) ? beam.toString('utf8') : ('in_memory' as const) };
  const file = m.getAtom('file');
  if (isAtom(m.getAtom('origin'), 'debug_info')) {
    return {
      ...common,
      origin: 'debug_info',
      file: Buffer.isBuffer(file) ? file.toString('utf8') : null,
      definitions: m.getAtom('definitions') ?? [],
      attributes: m.getAtom('attributes') ?? [],
      debugInfo: m,
    };
  }
  const sm = m.getAtom('source_matches');
  return {
    ...common,
    origin: 'source',
    file: text(file),
    quoted: m.getAtom('quoted')!,
    sourceMatches: isAtom(sm, 'true') ? true : isAtom(sm, 'false') ? false : 'unknown',
  };
}

/** Every instrumented module on the node, by any session (elixir_scope_agent:instrumented/0). */
export async function instrumentedModules(remote: RemoteNode): Promise<InstrumentedModule[]> {
  const r = await remote.rpc(AGENT_MODULE, 'instrumented', [], { timeoutMs: DEFAULT_REQUEST_MS });
  if (!Array.isArray(r)) throw agentError(r, remote);
  return r.map((m) => {
    if (!(m instanceof ErlMap)) throw new AgentError('PROTOCOL', `Unexpected reply from the agent on ${remote.name}: ${inspect(r)}.`, r);
    const relay = m.getAtom('relay');
    const md5 = m.getAtom('md5_before');
    return {
      module: atomText(m.getAtom('module')),
      relay: relay as Pid,
      md5Before: Buffer.isBuffer(md5) ? md5.toString('hex') : null,
      blocked: isAtom(m.getAtom('blocked'), 'true'),
    };
  });
}

/**
 * Asks the sessions that instrumented these modules (or every instrumented module) to revert them:
 * for a second engine, when the one that instrumented them is stuck.
 */
export async function revertInstrumented(remote: RemoteNode, modules: string[] | 'all'): Promise<RevertResult[]> {
  const which = modules === 'all' ? atom('all') : modules.map((m) => Buffer.from(m, 'utf8'));
  const r = await remote.rpc(AGENT_MODULE, 'revert_all', [which], { timeoutMs: 3 * DEFAULT_REQUEST_MS });
  if (!(isTuple(r, 2) && isAtom(r.elements[0], 'ok'))) throw agentError(r, remote);
  return parseReverted(r.elements[1]!, (t) => new AgentError('PROTOCOL', `Unexpected reply from the agent on ${remote.name}: ${inspect(t)}.`, t));
}

function parseReverted(r: Term, unexpected: (t: Term) => AgentError): RevertResult[] {
  if (!Array.isArray(r)) throw unexpected(r);
  return r.map((m) => {
    if (!(m instanceof ErlMap)) throw unexpected(m);
    return { module: atomText(m.getAtom('module')), md5: hex(m.getAtom('md5')) };
  });
}

function parseWarning(w: Term): CompileWarning {
  if (!(w instanceof ErlMap)) return { file: '', position: 0, message: inspect(w) };
  return { file: text(w.getAtom('file')), position: w.getAtom('position') ?? 0, message: text(w.getAtom('message')) };
}

function hex(t: Term | undefined): string {
  return Buffer.isBuffer(t) ? t.toString('hex') : '';
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
    const ast = astError(name, r, node, pid);
    if (ast) return ast;
  }
  return new AgentError('AGENT_ERROR', `The agent on ${node} answered ${inspect(r)}.`, r);
}

/** The refusals of AST instrumentation (docs/ast.md), each with what to do about it. */
function astError(name: string, r: Tuple, node: string, pid: (p: Term | undefined) => string): AgentError | undefined {
  const [, a, b] = r.elements;
  const mod = (t: Term | undefined): string => moduleName(atomText(t));
  // [{Pid, {M, F, A}}] → "<0.1.0> (Foo.loop/1), <0.2.0> (...)"
  const users = (t: Term | undefined): string =>
    (Array.isArray(t) ? t : [])
      .map((u) => {
        if (!isTuple(u, 2)) return inspect(u);
        const at = u.elements[1];
        const where = isTuple(at, 3) ? ` (${mod(at.elements[0])}.${atomText(at.elements[1])}/${inspect(at.elements[2]!)})` : '';
        return `${pid(u.elements[0])}${where}`;
      })
      .join(', ');
  switch (name) {
    case 'not_elixir':
      return new AgentError('NOT_ELIXIR', `${mod(a)} on ${node} is not an Elixir module (it has no __info__/1), so it has no Elixir source to instrument. Trace its calls at runtime instead.`, r);
    case 'no_source': {
      const info = a instanceof ErlMap ? a : new ErlMap([]);
      const file = info.getAtom('file');
      const dbg = atomText(info.getAtom('debug_info'));
      const fileText = Buffer.isBuffer(file) ? `its source file ${file.toString('utf8')} is not on ${node}` : `its compile info names no source file`;
      return new AgentError(
        'NO_SOURCE',
        `No code to instrument for ${mod(info.getAtom('module'))}: ${fileText}, and its .beam has no debug_info chunk (${dbg}). ` +
          `Give ElixirScope the project folder so it can send the source itself, or build with debug_info (Mix's default outside releases; releases strip it unless strip_beams: false).`,
        r,
      );
    }
    case 'parse_failed':
      return new AgentError('PARSE_FAILED', `The source ${text(a)} does not parse on ${node}: ${b instanceof ErlMap ? text(b.getAtom('message')) + text(b.getAtom('token')) : inspect(b!)}. Check that the file is the module's current source.`, r);
    case 'module_not_in_source':
      return new AgentError('MODULE_NOT_IN_SOURCE', `${text(b)} has no defmodule ${mod(a)}. The source given is not this module's: check the project folder or the file.`, r);
    case 'compile_failed': {
      const d = b instanceof ErlMap ? text(b.getAtom('message')) : inspect(b!);
      return new AgentError('COMPILE_FAILED', `The instrumented ${mod(a)} does not compile on ${node}: ${d}. Nothing was loaded; this is a bug in the instrumentation plan or the transformer.`, r);
    }
    case 'bad_quoted':
      return new AgentError('BAD_QUOTED', `The quoted form sent for ${mod(a)} was refused: ${text(b)}. Send one defmodule of that module, as astSource returned it (transformed).`, r);
    case 'original_unavailable': {
      const why = atomText(b);
      const detail =
        why === 'no_object_code'
          ? `there is no .beam for it in the code path (it was loaded from memory)`
          : why === 'md5_differs'
            ? `the .beam in the code path is not the code that is loaded (it was rebuilt or hot-loaded since)`
            : `it was reloaded while being instrumented`;
      return new AgentError('ORIGINAL_UNAVAILABLE', `${mod(a)} on ${node} cannot be instrumented: ${detail}, so its original could not be put back exactly afterwards. Nothing was changed. Use runtime tracing for it, or restart the node from its .beam files.`, r);
    }
    case 'already_instrumented':
      return new AgentError('ALREADY_INSTRUMENTED', `${mod(a)} on ${node} is already instrumented (by this or another session). Revert it first (\`elixir-scope revert\` reverts another session's).`, r);
    case 'old_code_in_use':
      return new AgentError('OLD_CODE_IN_USE', `Processes ${users(b)} still run the old code of ${mod(a)} on ${node}; loading new code would kill them, so nothing was changed. Wait until they leave it or stop them, then try again.`, r);
    case 'module_in_use':
      return new AgentError('MODULE_IN_USE', `Processes ${users(b)} are running ${mod(a)}'s code on ${node} right now; instrumenting it would leave them in the original code and block the exact revert, so nothing was changed. Wait until they leave it (a loop that never makes a fully qualified call never does) or stop them.`, r);
    case 'revert_blocked':
      return new AgentError('REVERT_BLOCKED', `${mod(a)} on ${node} cannot be reverted yet: processes ${users(b)} still run code the revert would replace. Its probes are silenced and the agent keeps trying in the background; the original is loaded as soon as they leave it.`, r);
    case 'not_instrumented':
      return new AgentError('NOT_INSTRUMENTED', `${moduleName(text(a))} is not instrumented by this session on ${node}. \`elixir-scope revert\` lists what is instrumented there.`, r);
    case 'load_failed':
      return new AgentError('LOAD_FAILED', `Loading the instrumented ${mod(a)} on ${node} failed: ${inspect(b!)}. Nothing stays loaded.`, r);
    case 'bad_item':
      return new AgentError('BAD_REQUEST', `The agent refused an instrumentation item: ${inspect(a!)}; expected %{module: binary, quoted: defmodule}.`, r);
    case 'badarg':
      return new AgentError('BAD_REQUEST', `The agent refused the arguments ${inspect(a!)}.`, r);
    default:
      return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
