/**
 * A recording session: attach to a node, load the agent, set up what was asked for, stream the
 * agent's batches into a recording on disk, and stop cleanly whatever ends it (the duration, a
 * limit on the target, Ctrl-C, the node going away).
 *
 *   const rec = await Recorder.start(plan, { onProgress: (p) => draw(p) });
 *   process.on('SIGINT', () => void rec.stop('interrupted'));
 *   const summary = await rec.done;
 *
 * Safe on production: every limit is enforced by the agent on the target itself, so losing this
 * process (or the network) leaves the target protected; the agent removes what it set when the link
 * drops. Here we only add a second line of defence (the duration timer) and keep what arrived.
 */

import { existsSync, rmSync } from 'node:fs';
import { AgentSession, moduleName, type AgentLimits, type AgentMessage, type AgentStats, type CallTarget, type ProcessFlag, type ProcessSelector } from '../agent/client.js';
import { loadAgent, unloadAgentIfUnused } from '../agent/loader.js';
import { LocalNode } from '../erlang/node.js';
import type { RemoteNode } from '../erlang/remoteNode.js';
import { Atom, isAtom, isTuple, Pid, type Term } from '../erlang/terms.js';
import { Ingestor } from '../capture/ingestor.js';
import { RecordingWriter } from '../store/writer.js';
import { display, instrumentLive, type LiveInstrumented } from '../ast/live.js';
import type { InstrumentSpec } from '../ast/spec.js';
import type { RecordingCounts, SupervisionSnapshot } from '../store/types.js';
import { readSupervision } from './supervision.js';

export type ProcessScope = 'all' | 'new' | 'existing';

export type StateTarget = { kind: 'pid'; pid: Pid } | { kind: 'name'; name: string };

/** A pid as the user typed it (`<0.123.0>`), resolved against the target once we are connected. */
export interface PidText {
  id: number;
  serial: number;
}

export interface RecordPlan {
  node: string;
  cookie: string;
  out: string;
  /** Functions to trace (from --module and --function). */
  calls: CallTarget[];
  /** Record returns and exceptions of traced calls (return_trace breaks tail calls; see docs). */
  returns: boolean;
  /** --pid values. */
  pids: PidText[];
  /** --name values. */
  names: string[];
  /** --pid all / new / existing. */
  scopes: ProcessScope[];
  /** --messages: send and receive of the selected processes. */
  messages: boolean;
  /** --processes: spawn, exit, link, unlink, register of the selected processes. */
  procs: boolean;
  /** --follow: children of selected processes are traced like their parents. */
  follow: boolean;
  /** --state values. */
  states: Array<{ kind: 'pid'; pid: PidText } | { kind: 'name'; name: string }>;
  limits: AgentLimits;
  /** --instrument specs (AST instrumentation, loaded before trace patterns are set), --source, --force. */
  instrument?: { specs: InstrumentSpec[]; sourceDir?: string; force: boolean };
  /** What was asked, kept in the recording's meta. */
  request: unknown;
  connectTimeoutMs: number;
}

export interface RecordProgress {
  received: number;
  stored: number;
  dropped: number;
  elapsedMs: number;
  /** Events per second over the last second. */
  rate: number;
}

export interface RecordSummary {
  out: string;
  node: string;
  status: string;
  /** A short code: duration, interrupted, node_down, max_rate, max_events, max_mailbox, write_failed, ... */
  stopReason: string;
  /** The same, as a sentence. */
  stopDetail: string;
  durationMs: number;
  counts: RecordingCounts;
  /** What the agent counted on the target (events it saw, dropped there, truncated). */
  agent: AgentStats | null;
  traced: { functions: string[]; processes: number; states: string[] };
  /** Modules instrumented, and how each was put back (md5 identical to before, or not). */
  instrumented: Array<LiveInstrumented & { revertedMd5: string | null }>;
  warnings: string[];
}

export interface RecorderHooks {
  onProgress?: (p: RecordProgress) => void;
  progressIntervalMs?: number;
  /**
   * Called once tracing is set up, with the modules whose functions are traced (atoms as the node
   * names them: `Elixir.Shop.Cart`; instrumented modules belong here too), while the node is still
   * connected: the CLI keeps their source files with the recording for the Cinema
   * (src/cinema/sources.ts). A failure becomes a warning of the summary.
   */
  onTraced?: (remote: RemoteNode, modules: string[], out: string) => Promise<void>;
}

export class Recorder {
  readonly done: Promise<RecordSummary>;
  private resolveDone!: (s: RecordSummary) => void;
  private rejectDone!: (e: Error) => void;
  private stopping: Promise<RecordSummary> | undefined;
  private readonly startedAt = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private agentDone: { code: string; reasonText: string; stats: AgentStats } | undefined;
  private lastRateSample = { at: Date.now(), received: 0 };
  private rate = 0;
  private readonly warnings: string[] = [];
  readonly traced: RecordSummary['traced'] = { functions: [], processes: 0, states: [] };
  private readonly tracedModules: string[] = [];
  readonly instrumented: RecordSummary['instrumented'] = [];
  private writer: RecordingWriter | undefined;

  private constructor(
    private readonly plan: RecordPlan,
    private readonly local: LocalNode,
    private readonly remote: RemoteNode,
    private session: AgentSession | undefined,
    private ingestor: Ingestor | undefined,
    private readonly hooks: RecorderHooks,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /** Connects, loads the agent and starts tracing. Rejects (and leaves the target clean) on any error. */
  static async start(plan: RecordPlan, hooks: RecorderHooks = {}): Promise<Recorder> {
    const local = await LocalNode.start({ cookie: plan.cookie, connectTimeoutMs: plan.connectTimeoutMs });
    let rec: Recorder | undefined;
    const outExisted = existsSync(plan.out);
    try {
      const remote = await local.connect(plan.node);
      await loadAgent(remote);
      rec = new Recorder(plan, local, remote, undefined, undefined, hooks);
      await rec.begin();
      return rec;
    } catch (err) {
      if (rec !== undefined) await rec.abort();
      else await local.close();
      // A set-up that failed recorded nothing worth keeping; leave no half-made folder behind.
      if (!outExisted) rmSync(plan.out, { recursive: true, force: true });
      throw err;
    }
  }

  private async begin(): Promise<void> {
    const { plan, remote } = this;
    // Events may arrive before AgentSession.start resolves, and the writer needs the session's clock,
    // so whatever comes first waits in `pending` and is replayed in order.
    const pending: AgentMessage[] = [];
    let ingestor: Ingestor | undefined;
    const onMessage = (m: AgentMessage): void => {
      if (ingestor === undefined) pending.push(m);
      else this.onAgentMessage(ingestor, m);
    };
    // Read before the session starts, so that its duration is not spent on it and no trace sees it.
    const supervision = await this.readSupervision('start');
    const session = await AgentSession.start(this.local, remote, plan.limits, onMessage);
    this.session = session;
    const writer = await RecordingWriter.create(plan.out, {
      ...(supervision !== undefined ? { supervision } : {}),
      node: remote.name,
      otpRelease: session.info.otpRelease,
      elixirVersion: session.info.elixirVersion,
      agentVersion: session.info.agentVersion,
      startedAt: this.startedAt,
      monoStart: session.info.monoStart.toString(),
      nativePerSec: session.info.nativePerSec,
      request: plan.request,
    });
    this.writer = writer;
    ingestor = new Ingestor({
      writer,
      relay: session.relay,
      onWriteError: (err) => {
        // The disk is full or gone: what was flushed stays readable; stop tracing rather than
        // make the target produce events nobody can keep.
        this.warnings.push(`writing the recording failed: ${err.message}`);
        void this.stop('write_failed');
      },
    });
    this.ingestor = ingestor;
    for (const m of pending) this.onAgentMessage(ingestor, m);
    await this.nameRegisteredProcesses(writer);

    this.local.on('nodedown', (name: string) => {
      if (name === remote.name) void this.stop('node_down');
    });

    // Order matters: sys hooks first (their initial snapshot is the state before anything we see),
    // then trace patterns, and process flags last, since flags are what start the flow of events.
    for (const s of plan.states) {
      const target: StateTarget = s.kind === 'name' ? s : { kind: 'pid', pid: this.pidOf(s.pid) };
      const r = await session.traceState(target);
      this.traced.states.push(s.kind === 'name' ? moduleName(s.name).replace(/^:/, '') : render(r.pid));
      if (s.kind === 'name') writer.nameProcess(r.pid, s.name);
    }
    // Instrumented code first: loading a module drops the trace patterns set on its old code.
    if (plan.instrument !== undefined && plan.instrument.specs.length > 0) {
      const done = await instrumentLive(session, remote, plan.instrument.specs, {
        runtimeTraced: plan.calls,
        force: plan.instrument.force,
        ...(plan.instrument.sourceDir !== undefined ? { sourceDir: plan.instrument.sourceDir } : {}),
      });
      this.instrumented.push(...done.map((d) => ({ ...d, revertedMd5: null })));
      this.tracedModules.push(...done.map((d) => d.module));
      for (const d of done) for (const w of d.warnings) this.warnings.push(`compiling ${display(d.module)}: ${w.message}`);
    }
    if (plan.calls.length > 0) {
      const matched = await session.traceCalls(plan.calls, { returns: plan.returns });
      this.traced.functions.push(...matched.map((m) => `${moduleName(m.module)}.${m.function}/${m.arity}`));
      this.tracedModules.push(...matched.map((m) => m.module));
    }
    // Before the process flags: reading the sources takes rpc calls, whose worker processes would
    // otherwise be spawned, traced and recorded as if the application had made them.
    if (this.hooks.onTraced !== undefined && (this.traced.functions.length > 0 || this.instrumented.length > 0)) {
      try {
        await this.hooks.onTraced(remote, [...new Set(this.tracedModules)], plan.out);
      } catch (err) {
        this.warnings.push(`the sources of the traced modules were not kept: ${(err as Error).message}`);
      }
    }
    const flags: ProcessFlag[] = [];
    if (plan.calls.length > 0) flags.push('call');
    if (plan.messages) flags.push('send', 'receive');
    if (plan.procs) flags.push('procs');
    if (plan.follow) flags.push('set_on_spawn');
    if (flags.length > 0) {
      const selectors: ProcessSelector[] = [
        ...plan.pids.map((p): ProcessSelector => ({ kind: 'pid', pid: this.pidOf(p) })),
        ...plan.names.map((name): ProcessSelector => ({ kind: 'name', name })),
        ...plan.scopes.map((kind): ProcessSelector => ({ kind })),
      ];
      if (selectors.length === 0) selectors.push({ kind: 'all' });
      for (const sel of selectors) this.traced.processes += await session.traceProcesses(sel, flags);
    }

    this.timers.push(setTimeout(() => void this.stop('duration'), plan.limits.maxDurationMs));
    if (this.hooks.onProgress !== undefined) {
      const every = this.hooks.progressIntervalMs ?? 250;
      this.timers.push(setInterval(() => this.reportProgress(), every));
    }
  }

  /**
   * Registered names make a history readable (`#PID<0.150.0> (Shop.Inventory)`). Names registered
   * later arrive as register events when --processes is on.
   */
  private async nameRegisteredProcesses(writer: RecordingWriter): Promise<void> {
    const names = await this.remote.rpc('erlang', 'registered', [], { timeoutMs: this.plan.connectTimeoutMs });
    if (!Array.isArray(names)) return;
    const atoms = names.filter((n): n is Atom => n instanceof Atom);
    const pids = await Promise.all(atoms.map((n) => this.remote.rpc('erlang', 'whereis', [n], { timeoutMs: this.plan.connectTimeoutMs })));
    atoms.forEach((n, i) => {
      const p = pids[i];
      if (p instanceof Pid) writer.nameProcess(p, n.name);
    });
  }

  /** The supervision trees for the recording's meta (docs/cinema.md, group); a failure is only a warning. */
  private async readSupervision(when: 'start' | 'stop'): Promise<SupervisionSnapshot | undefined> {
    try {
      return await readSupervision(this.remote);
    } catch (err) {
      this.warnings.push(`the supervision tree was not read at the ${when}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private pidOf(p: PidText): Pid {
    return new Pid(this.remote.nodeAtom, p.id, p.serial, this.remote.creation);
  }

  private onAgentMessage(ingestor: Ingestor, m: AgentMessage): void {
    if (m.type === 'batch') {
      ingestor.ingest(m.seq, Buffer.isBuffer(m.bin) ? m.bin : Buffer.from(m.bin.buffer, m.bin.byteOffset, m.bin.byteLength));
      return;
    }
    this.agentDone = { code: stopCode(m.reason), reasonText: m.reasonText, stats: m.stats };
    void this.stop(this.agentDone.code);
  }

  private reportProgress(): void {
    const ing = this.ingestor;
    if (ing === undefined || this.hooks.onProgress === undefined) return;
    const c = ing.writer.meta.counts;
    const now = Date.now();
    const dt = now - this.lastRateSample.at;
    if (dt >= 1000) {
      this.rate = Math.round(((c.received - this.lastRateSample.received) * 1000) / dt);
      this.lastRateSample = { at: now, received: c.received };
    }
    this.hooks.onProgress({
      received: c.received,
      stored: c.stored,
      dropped: totalDropped(c),
      elapsedMs: now - this.startedAt,
      rate: this.rate,
    });
  }

  /** Stops tracing, saves everything that arrived, detaches. Safe to call more than once. */
  stop(reason: string): Promise<RecordSummary> {
    if (this.stopping === undefined) {
      this.stopping = this.finish(reason).then(
        (s) => {
          this.resolveDone(s);
          return s;
        },
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          this.rejectDone(err);
          throw err;
        },
      );
    }
    return this.stopping;
  }

  private async finish(reason: string): Promise<RecordSummary> {
    for (const t of this.timers) clearTimeout(t);
    let agentStats: AgentStats | null = this.agentDone?.stats ?? null;
    let stopReason = this.agentDone?.code ?? reason;
    let stopDetail = this.agentDone !== undefined && this.agentDone.code !== 'duration' ? this.agentDone.reasonText : describeStop(stopReason, this.plan.limits.maxDurationMs);
    const nodeAlive = this.remote.connected;
    if (this.session !== undefined && nodeAlive && this.instrumented.length > 0 && this.agentDone === undefined) {
      // The relay reverts on stop too; asking first gives the md5 of each module put back.
      try {
        for (const r of await this.session.revert('all')) {
          const m = this.instrumented.find((i) => i.module === r.module);
          if (m !== undefined) m.revertedMd5 = r.md5;
        }
      } catch (err) {
        this.warnings.push(`reverting the instrumented modules: ${(err as Error).message}`);
      }
    }
    if (this.session !== undefined && nodeAlive) {
      try {
        // stop() resolves after the relay has sent its last batch (which arrives before the reply)
        // and has exited. When the agent ended the session itself (a limit), it only waits for the
        // exit, so that unloading below finds no relay left.
        agentStats = await this.session.stop(5000);
      } catch (err) {
        this.warnings.push(`the agent did not stop cleanly: ${(err as Error).message}`);
      }
    }
    // A session the agent ended itself (a limit, the duration) reverted before its relay exited,
    // which stop() above waited for: the md5 on the node now says whether it was exact.
    if (nodeAlive && this.remote.connected) await this.checkReverted();
    if (!nodeAlive) {
      stopReason = 'node_down';
      stopDetail = `${this.remote.name} went away`;
    }
    if (nodeAlive && this.remote.connected && this.writer !== undefined) {
      // Tracing is off by now, so asking the supervisors records nothing; restarts show as new pids.
      const snap = await this.readSupervision('stop');
      if (snap !== undefined) this.writer.setStopSupervision(snap);
    }
    const status = stopReason === 'node_down' ? 'interrupted' : 'complete';
    const ingestor = this.ingestor;
    let counts: RecordingCounts | undefined;
    let errors: string[] = [];
    if (ingestor !== undefined) {
      if (agentStats !== null) ingestor.agentStats(agentStats.dropped, agentStats.truncated);
      for (const w of this.warnings) ingestor.error(w);
      try {
        await ingestor.close(status, stopReason);
      } catch (err) {
        this.warnings.push(`the recording could not be closed cleanly: ${(err as Error).message}`);
      }
      counts = ingestor.writer.meta.counts;
      errors = ingestor.writer.meta.errors.filter((e) => !this.warnings.includes(e));
    }
    if (nodeAlive) {
      try {
        await unloadAgentIfUnused(this.remote);
      } catch (err) {
        this.warnings.push(`the agent could not be unloaded: ${(err as Error).message}`);
      }
    }
    await this.local.close();
    return {
      out: this.plan.out,
      node: this.remote.name,
      status,
      stopReason,
      stopDetail,
      durationMs: Date.now() - this.startedAt,
      counts: counts ?? emptyCounts(),
      agent: agentStats,
      traced: this.traced,
      instrumented: this.instrumented,
      warnings: [...this.warnings, ...errors],
    };
  }

  private async checkReverted(): Promise<void> {
    for (const m of this.instrumented) {
      if (m.revertedMd5 === null) {
        try {
          const md5 = await this.remote.rpc(m.module, 'module_info', [Atom.of('md5')], { timeoutMs: this.plan.connectTimeoutMs });
          if (Buffer.isBuffer(md5)) m.revertedMd5 = md5.toString('hex');
        } catch (err) {
          this.warnings.push(`reading the md5 of ${display(m.module)} after the revert: ${(err as Error).message}`);
        }
      }
      if (m.revertedMd5 !== null && m.revertedMd5 !== m.md5Before) {
        this.warnings.push(`${display(m.module)} is loaded with md5 ${m.revertedMd5}, not ${m.md5Before} as before it was instrumented`);
      }
    }
  }

  /** Used when start-up fails half way: undo what was set, keep what was recorded. */
  private async abort(): Promise<void> {
    try {
      await this.stop('setup_failed');
    } catch {
      // The set-up error is what the user needs to see; a failure while undoing it is secondary and
      // the agent cleans up on its own when our node goes away.
      await this.local.close();
    }
  }
}

export function totalDropped(c: RecordingCounts): number {
  let n = c.dropped.buffer_full + c.dropped.after_stop + c.dropped.malformed + (c.dropped.write_failed ?? 0);
  for (const v of Object.values(c.dropped.agent)) n += v;
  return n;
}

function emptyCounts(): RecordingCounts {
  return {
    received: 0,
    stored: 0,
    dropped: { buffer_full: 0, agent: {}, after_stop: 0, malformed: 0 },
    truncated: 0,
    byKind: {},
  };
}

function render(p: Pid): string {
  return `#PID<0.${p.id}.${p.serial}>`;
}

/** The agent's end reason as a short code: `{limit, max_duration_ms, _}` is the duration ending. */
function stopCode(reason: Term): string {
  if (isAtom(reason, 'stopped')) return 'stopped';
  if (isTuple(reason, 3) && isAtom(reason.elements[0], 'limit') && reason.elements[1] instanceof Atom) {
    const name = reason.elements[1].name;
    return name === 'max_duration_ms' ? 'duration' : name;
  }
  if (isTuple(reason) && reason.elements[0] instanceof Atom) return reason.elements[0].name;
  return 'agent_ended';
}

function describeStop(code: string, durationMs: number): string {
  switch (code) {
    case 'duration':
      return `the duration (${durationMs / 1000} s) ended`;
    case 'interrupted':
      return 'interrupted (Ctrl-C or SIGTERM)';
    case 'write_failed':
      return 'writing the recording failed';
    case 'setup_failed':
      return 'setting up the trace failed';
    default:
      return code;
  }
}
