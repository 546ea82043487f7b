/**
 * Time-travel queries over one recording: what a process did (history), what it looked like at a
 * moment (stateAt), how its calls nested (callTree), and which messages went between processes (flow).
 *
 *   const q = new QueryCoordinator(recording);
 *   q.history({ pid, since: { ns: 1_500_000_000 }, kinds: ['call', 'return'], limit: 100 });
 *   q.stateAt(pid, 4242);             // state, open calls and last message of pid as of event #4242
 *   q.callTree(pid, { maxDepth: 3 });
 *   q.flow([cart, inventory]);
 *
 * Everything is answered from the `Recording` interface alone (src/store/types.ts), so it works on any
 * store. Queries about one moment never scan the recording: they binary-search the pid's id list and
 * follow the `parent` / `link` ids the store already keeps, so their cost does not grow with its size.
 */

import type { EventKind, EventSource, StoredEvent } from '../capture/event.js';
import { Atom, Tuple, type Pid, type Term } from '../erlang/terms.js';
import type { Recording } from './types.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC: types
// ----------------------------------------------------------------------------------------------

/** A point in a recording: nanoseconds since its start, or an event id. */
export type TimePoint = { readonly ns: number } | { readonly id: number };

export interface HistoryOptions {
  /** Only this process (default: every process, in id order). */
  pid?: Pid;
  /** Inclusive lower bound. */
  since?: TimePoint;
  /** Inclusive upper bound. */
  until?: TimePoint;
  /** Only these kinds (default: all). */
  kinds?: readonly EventKind[];
  /** Only events from this source: runtime tracing or instrumented code (default: both). */
  source?: EventSource;
  /** At most this many events, the first ones (default: no limit). */
  limit?: number;
}

export interface StateValue {
  /** The `state` or `state_init` event that recorded it. */
  readonly event: StoredEvent;
  readonly value: Term;
}

export interface StackFrame {
  readonly call: StoredEvent;
  /** The argument list. */
  readonly args: Term;
}

/** A local variable as the latest AST `locals` event of the frame recorded it. */
export interface LocalBinding {
  readonly name: string;
  readonly value: Term;
  /** The `locals` event that recorded this value. */
  readonly event: StoredEvent;
  /** The line after which it was taken. */
  readonly line: number | null;
}

/** Where instrumented code last was in the frame: its latest AST event and that event's line. */
export interface CurrentLine {
  readonly line: number;
  readonly event: StoredEvent;
}

export interface StateAt {
  /** The event asked about (it may belong to another process). */
  readonly at: StoredEvent;
  /** The process's own last event with id <= at, or null when it had done nothing yet. */
  readonly last: StoredEvent | null;
  /** Its last recorded state (`state` or `state_init`) with id <= at. */
  readonly state: StateValue | null;
  /** The state before that one. */
  readonly previousState: StateValue | null;
  /** The calls open on the process at that moment, outermost first. */
  readonly stack: readonly StackFrame[];
  /** Its last `receive` with id <= at. */
  readonly lastMessage: StoredEvent | null;
  /**
   * The bindings in scope in the innermost open call (or at top level when none is open): for each
   * name, its latest value from that frame's own `locals` events with id <= at, in source order of
   * first capture. Locals of calls that had finished inside it are not in scope and not shown.
   */
  readonly locals: readonly LocalBinding[];
  /** The line of the frame's latest AST event (null when instrumented code has not run in it). */
  readonly line: CurrentLine | null;
}

export interface CallTreeOptions {
  /** Calls nested deeper than this (roots are depth 0) are left out and counted in `omitted`. */
  maxDepth?: number;
}

/** `tail_call`: the call ended in a tail call (AST instrumentation), so it has no result of its own. */
export type CallStatus = 'returned' | 'raised' | 'tail_call' | 'unfinished';

export interface CallNode {
  readonly call: StoredEvent;
  /** Its `return`, `exception` or `tail_call` event; null while the call had not finished when recording stopped. */
  readonly end: StoredEvent | null;
  readonly status: CallStatus;
  readonly durationNs: number | null;
  readonly depth: number;
  readonly children: CallNode[];
  /** AST line, locals, expr and probe events directly inside this call, in id order. */
  readonly inner: StoredEvent[];
  /** Calls directly under this one that maxDepth left out. */
  omitted: number;
}

export interface CallTree {
  readonly pid: Pid;
  readonly roots: CallNode[];
  /** Every call of the pid, including those maxDepth left out. */
  readonly calls: number;
  /** Root-level calls left out by maxDepth (only when maxDepth < 0 is it ever non-zero). */
  readonly omitted: number;
  /** AST line, locals, expr and probe events outside any traced call. */
  readonly inner: StoredEvent[];
}

export interface FlowOptions {
  /** Also list sends from a pid of the set to a process outside it (default false). */
  outside?: boolean;
}

export interface FlowMessage {
  /** The `send` or `send_to_dead` event. */
  readonly send: StoredEvent;
  /** The receive that took it in, when the receiver was traced and took it. */
  readonly receive: StoredEvent | null;
  readonly latencyNs: number | null;
  /** Whether the receiver is one of the pids asked about. */
  readonly inside: boolean;
}

/** A query the recording cannot answer: unknown pid, an event id out of range. Exit code 1 in the CLI. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly code: 'ES_QUERY_RANGE' | 'ES_QUERY_PID' | 'ES_QUERY_ARG',
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

// ----------------------------------------------------------------------------------------------
// PUBLIC: the coordinator
// ----------------------------------------------------------------------------------------------

export class QueryCoordinator {
  constructor(readonly recording: Recording) {}

  /** Events in id order, filtered by pid, bounds and kinds, up to limit. */
  history(opts: HistoryOptions = {}): StoredEvent[] {
    return Array.from(this.historyEvents(opts));
  }

  /**
   * The same events as `history`, one at a time: the CLI streams a whole recording this way without
   * holding millions of events in memory.
   */
  *historyEvents(opts: HistoryOptions = {}): Generator<StoredEvent, void, undefined> {
    const rec = this.recording;
    const limit = opts.limit ?? Infinity;
    const kinds = opts.kinds && opts.kinds.length > 0 ? new Set(opts.kinds) : null;
    const source = opts.source ?? null;
    const wanted = (e: StoredEvent): boolean => (kinds === null || kinds.has(e.kind)) && (source === null || e.source === source);
    let n = 0;
    if (limit <= 0) return;

    if (opts.pid !== undefined) {
      const ids = rec.idsOfPid(opts.pid);
      const from = opts.since === undefined ? 0 : this.lowerIndex(ids, opts.since);
      const to = opts.until === undefined ? ids.length : this.upperIndex(ids, opts.until);
      for (let i = from; i < to && n < limit; i++) {
        const e = rec.event(ids[i]!);
        if (wanted(e)) {
          n++;
          yield e;
        }
      }
      return;
    }

    // Across processes ts is only nearly ordered (batches from different schedulers interleave), so a
    // time bound picks the id range from the store's index and then checks each event's own ts.
    let from = 0;
    let minTs = -Infinity;
    if (opts.since !== undefined) {
      if ('id' in opts.since) from = Math.max(0, opts.since.id);
      else {
        from = rec.firstIdAtOrAfter(opts.since.ns);
        minTs = opts.since.ns;
      }
    }
    let to = rec.count;
    let maxTs = Infinity;
    if (opts.until !== undefined) {
      if ('id' in opts.until) to = Math.min(rec.count, opts.until.id + 1);
      else {
        to = rec.firstIdAtOrAfter(opts.until.ns + 1);
        maxTs = opts.until.ns;
      }
    }
    for (let id = from; id < to && n < limit; id++) {
      const e = rec.event(id);
      if (e.ts < minTs || e.ts > maxTs) continue;
      if (wanted(e)) {
        n++;
        yield e;
      }
    }
  }

  /** The process as of event `eventId`: its state, the calls open on it, the last message it took. */
  stateAt(pid: Pid, eventId: number): StateAt {
    const rec = this.recording;
    this.checkId(eventId);
    const at = rec.event(eventId);
    const ids = rec.idsOfPid(pid);
    const idx = upperBound(ids, eventId) - 1;
    if (idx < 0) {
      return { at, last: null, state: null, previousState: null, stack: [], lastMessage: null, locals: [], line: null };
    }
    const last = rec.event(ids[idx]!);

    // One walk back over the pid's own events finds the two latest states and the latest receive; a
    // GenServer records a state per message, so the walk is short where it matters.
    let state: StateValue | null = null;
    let previousState: StateValue | null = null;
    let lastMessage: StoredEvent | null = null;
    let statesDone = false;
    for (let i = idx; i >= 0 && !(statesDone && lastMessage !== null); i--) {
      const e = i === idx ? last : rec.event(ids[i]!);
      if ((e.kind === 'state' || e.kind === 'state_init') && !statesDone) {
        const sv: StateValue = { event: e, value: e.payload() ?? [] };
        if (state === null) state = sv;
        else {
          previousState = sv;
          statesDone = true;
        }
        // A state_init is the first state there is: nothing older can be the previous one.
        if (e.kind === 'state_init') statesDone = true;
      } else if (e.kind === 'receive' && lastMessage === null) {
        lastMessage = e;
      }
    }

    const stack = this.openCalls(last);
    const frame = stack.length === 0 ? null : stack[stack.length - 1]!.call;
    const { locals, line } = this.frameLocals(ids, idx, frame);
    return { at, last, state, previousState, stack, lastMessage, locals, line };
  }

  /** The calls of one process, nested by their parent links. */
  callTree(pid: Pid, opts: CallTreeOptions = {}): CallTree {
    const rec = this.recording;
    const maxDepth = opts.maxDepth ?? Infinity;
    const ids = rec.idsOfPid(pid);
    const nodes = new Map<number, CallNode>();
    // Depth of every call, kept even for calls maxDepth leaves out, so their children know theirs.
    const depthOf = new Map<number, number>();
    const ends = new Map<number, StoredEvent>();
    const calls: StoredEvent[] = [];
    const innerOf = new Map<number | null, StoredEvent[]>();
    for (let i = 0; i < ids.length; i++) {
      const e = rec.event(ids[i]!);
      if (e.kind === 'call') calls.push(e);
      else if ((e.kind === 'return' || e.kind === 'exception' || e.kind === 'tail_call') && e.link !== null) ends.set(e.link, e);
      else if (e.kind === 'line' || e.kind === 'locals' || e.kind === 'expr' || e.kind === 'probe') {
        const list = innerOf.get(e.parent);
        if (list === undefined) innerOf.set(e.parent, [e]);
        else list.push(e);
      }
    }
    const roots: CallNode[] = [];
    let omittedRoots = 0;
    for (const c of calls) {
      const parentDepth = c.parent === null ? undefined : depthOf.get(c.parent);
      const depth = parentDepth === undefined ? 0 : parentDepth + 1;
      depthOf.set(c.id, depth);
      const parentNode = c.parent === null ? undefined : nodes.get(c.parent);
      if (depth > maxDepth) {
        if (parentNode !== undefined) parentNode.omitted++;
        else if (depth === 0) omittedRoots++;
        continue;
      }
      const end = ends.get(c.id) ?? null;
      const node: CallNode = {
        call: c,
        end,
        status: end === null ? 'unfinished' : end.kind === 'return' ? 'returned' : end.kind === 'tail_call' ? 'tail_call' : 'raised',
        durationNs: end === null ? null : end.ts - c.ts,
        depth,
        children: [],
        inner: innerOf.get(c.id) ?? [],
        omitted: 0,
      };
      nodes.set(c.id, node);
      if (parentNode !== undefined) parentNode.children.push(node);
      else roots.push(node);
    }
    return { pid, roots, calls: calls.length, omitted: omittedRoots, inner: innerOf.get(null) ?? [] };
  }

  /**
   * Messages among `pids`: every send from one of them to one of them (to any process with
   * `outside`), with the receive that took it in (the receive's `link` names its send), by ts.
   */
  flow(pids: readonly Pid[], opts: FlowOptions = {}): FlowMessage[] {
    const rec = this.recording;
    const inSet = new Set(pids.map((p) => p.key));
    const sends: StoredEvent[] = [];
    const receiveOf = new Map<number, StoredEvent>();
    const seen = new Set<string>();
    for (const pid of pids) {
      if (seen.has(pid.key)) continue;
      seen.add(pid.key);
      const ids = rec.idsOfPid(pid);
      for (let i = 0; i < ids.length; i++) {
        const e = rec.event(ids[i]!);
        if (e.kind === 'send' || e.kind === 'send_to_dead') {
          const inside = e.peer !== null && inSet.has(e.peer.key);
          if (inside || opts.outside === true) sends.push(e);
        } else if (e.kind === 'receive' && e.link !== null) {
          receiveOf.set(e.link, e);
        }
      }
    }
    if (opts.outside === true) {
      // Receivers outside the set: their receives are read only to pair them with these sends.
      const wanted = new Set(sends.map((e) => e.id));
      const outsiders = new Map<string, Pid>();
      for (const e of sends) if (e.peer !== null && !seen.has(e.peer.key)) outsiders.set(e.peer.key, e.peer);
      for (const peer of outsiders.values()) {
        const ids = rec.idsOfPid(peer);
        for (let i = 0; i < ids.length; i++) {
          const e = rec.event(ids[i]!);
          if (e.kind === 'receive' && e.link !== null && wanted.has(e.link)) receiveOf.set(e.link, e);
        }
      }
    }
    sends.sort((a, b) => a.ts - b.ts || a.id - b.id);
    return sends.map((send) => {
      const receive = receiveOf.get(send.id) ?? null;
      return {
        send,
        receive,
        latencyNs: receive === null ? null : receive.ts - send.ts,
        inside: send.peer !== null && inSet.has(send.peer.key),
      };
    });
  }

  /** The last event with ts <= ns (the moment "at time T"), or -1 when none is that early. */
  lastIdAtOrBefore(ns: number): number {
    return Math.min(this.recording.count, this.recording.firstIdAtOrAfter(ns + 1)) - 1;
  }

  /** Calls nested around an event (outermost first), by following parent links: one read per frame. */
  openCalls(e: StoredEvent): StackFrame[] {
    const frames: StackFrame[] = [];
    // A call is open at its own event; a return, exception or tail_call has closed its call, and its parent is the
    // caller's; any other event's parent is the innermost call open around it.
    let id: number | null = e.kind === 'call' ? e.id : e.parent;
    let guard = 0;
    while (id !== null) {
      const call = this.recording.event(id);
      frames.push({ call, args: call.payload() ?? [] });
      id = call.parent;
      // Parent ids always point backwards; a store bug that made a cycle must not hang a query.
      if (++guard > 1_000_000 || (id !== null && id >= call.id)) break;
    }
    return frames.reverse();
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  /**
   * The locals in scope in `frame` (null: top level) as of the pid's event ids[idx], and the line of
   * the frame's latest AST event. Walks back over the pid's events to the frame's call, so the cost is
   * the frame's own length (one loop iteration, for a tail-recursive loop), bounded by
   * MAX_LOCALS_WALK for frames that never end (a top-level loop, a server's receive loop).
   */
  private frameLocals(ids: Uint32Array, idx: number, frame: StoredEvent | null): { locals: LocalBinding[]; line: CurrentLine | null } {
    const rec = this.recording;
    const frameId = frame === null ? null : frame.id;
    const captures: StoredEvent[] = [];
    let line: CurrentLine | null = null;
    if (!this.hasInnerAst()) {
      // No instrumented code ran inside functions in this recording: nothing to walk back for (a
      // runtime-only recording must not pay a walk per state-at). An AST call still names its line.
      const l = frame !== null && frame.source === 'ast' ? frame.aux() : undefined;
      return { locals: [], line: typeof l === 'number' ? { line: l, event: frame! } : null };
    }
    const stop = frame === null ? Math.max(0, idx - MAX_LOCALS_WALK) : Math.max(lowerBound(ids, frame.id), idx - MAX_LOCALS_WALK);
    for (let i = idx; i >= stop; i--) {
      const e = rec.event(ids[i]!);
      const isFrameCall = frame !== null && e.id === frame.id;
      // The frame's own AST events; nested calls and their ends also name this frame as parent.
      const own = e.parent === frameId && e.source === 'ast' && (e.kind === 'line' || e.kind === 'locals' || e.kind === 'expr' || e.kind === 'probe');
      if (line === null && (own || (isFrameCall && e.source === 'ast'))) {
        const l = e.aux();
        if (typeof l === 'number') line = { line: l, event: e };
      }
      if (own && e.kind === 'locals') captures.push(e);
      if (isFrameCall) break;
    }
    // Forward over the captures: a name keeps the place of its first capture and its latest value.
    const latest = new Map<string, LocalBinding>();
    for (let k = captures.length - 1; k >= 0; k--) {
      const e = captures[k]!;
      const l = e.aux();
      const p = e.payload();
      if (!Array.isArray(p)) continue;
      for (const b of p) {
        if (!(b instanceof Tuple && b.elements.length === 2 && b.elements[0] instanceof Atom)) continue;
        const name = b.elements[0].name;
        latest.set(name, { name, value: b.elements[1]!, event: e, line: typeof l === 'number' ? l : null });
      }
    }
    const locals = Array.from(latest.values());
    return { locals, line };
  }

  /** Whether the recording holds any line, locals, expr or probe event (from its counts by kind). */
  private hasInnerAst(): boolean {
    const k = this.recording.meta.counts.byKind;
    return (k.line ?? 0) + (k.locals ?? 0) + (k.expr ?? 0) + (k.probe ?? 0) > 0;
  }

  private checkId(id: number): void {
    const n = this.recording.count;
    if (!Number.isInteger(id) || id < 0 || id >= n) {
      throw new QueryError(
        n === 0
          ? `event #${id} is out of range: the recording has no events`
          : `event #${id} is out of range: the recording has events #0 to #${n - 1}`,
        'ES_QUERY_RANGE',
      );
    }
  }

  /** First index into a pid's ids whose event is at or after the point. */
  private lowerIndex(ids: Uint32Array, p: TimePoint): number {
    if ('id' in p) return lowerBound(ids, p.id);
    // A pid's events are in ts order, so the index can be found by ts too.
    return this.searchTs(ids, (ts) => ts >= p.ns);
  }

  /** One past the last index into a pid's ids whose event is at or before the point. */
  private upperIndex(ids: Uint32Array, p: TimePoint): number {
    if ('id' in p) return upperBound(ids, p.id);
    return this.searchTs(ids, (ts) => ts > p.ns);
  }

  /** The first index whose event's ts satisfies `past` (monotone over a pid's ids). */
  private searchTs(ids: Uint32Array, past: (ts: number) => boolean): number {
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (past(this.recording.event(ids[mid]!).ts)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Events looked at, at most, to find the locals of one frame. */
const MAX_LOCALS_WALK = 100_000;

// ----------------------------------------------------------------------------------------------
// PRIVATE: searching sorted id lists
// ----------------------------------------------------------------------------------------------

/** First index with ids[i] >= v. */
function lowerBound(ids: Uint32Array, v: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index with ids[i] > v. */
function upperBound(ids: Uint32Array, v: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
