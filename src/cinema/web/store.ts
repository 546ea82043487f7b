/**
 * The page's one shared state: the recording's meta, its columns (the whole event table in typed
 * arrays, growing while a recording is live), what is selected, the visible time range, and the
 * indexes the timeline and the panels need. Panels never talk to each other: they call
 * `store.select(...)` / `store.setView(...)` and listen with `store.on(...)`.
 *
 * Memory: 29 bytes per event for the columns plus 20 for the derived indexes (about 50 MB for a
 * million events), allocated with doubling capacity so live growth is amortized.
 */

import { AST_BIT, NONE, copyColumns, type Api, type ColumnChunk, type LiveMessage, type MetaResponse, type ProcessMeta } from './api.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export { NONE, AST_BIT };

export interface Selection {
  /** The selected event id (the playhead), or null. */
  id: number | null;
  /** The selected process (index into meta.processes), or null. */
  pid: number | null;
}

/** The visible time range, in ns since the recording's start (the `ts` column's unit). */
export interface ViewRange {
  t0: number;
  t1: number;
}

/** Why `select` was called, so a listener can avoid echoing its own change back. */
export type SelectOrigin = 'timeline' | 'scrubber' | 'url' | 'panel' | 'play' | 'keyboard';

export interface StoreEvents {
  /** The selection changed (`prev` is what it was). */
  select: { sel: Selection; prev: Selection; origin: SelectOrigin | string };
  /** Events were appended: ids `from .. to - 1` are new. */
  grow: { from: number; to: number };
  /** The visible time range changed. */
  view: { view: ViewRange; origin: string };
  /** meta (processes, MFAs) was reloaded. */
  meta: { meta: MetaResponse };
  /** A live recording ended. */
  end: { status: string; reason: string | null };
}
export type StoreEventName = keyof StoreEvents;

/** The event kinds by their stored code (src/capture/event.ts EVENT_KINDS, duplicated: the page does not import node code). */
export const KIND_NAMES: readonly string[] = [
  '?', 'call', 'return', 'exception', 'send', 'send_to_dead', 'receive', 'spawn', 'spawned', 'exit',
  'link', 'unlink', 'getting_linked', 'getting_unlinked', 'register', 'unregister', 'state_init', 'state', 'limit',
  'line', 'locals', 'expr', 'probe', 'tail_call',
];
export const KIND = {
  call: 1, return: 2, exception: 3, send: 4, send_to_dead: 5, receive: 6, spawn: 7, spawned: 8, exit: 9,
  link: 10, unlink: 11, getting_linked: 12, getting_unlinked: 13, register: 14, unregister: 15,
  state_init: 16, state: 17, limit: 18, line: 19, locals: 20, expr: 21, probe: 22, tail_call: 23,
} as const;

/**
 * The event table: the columns of a chunk from event 0, in arrays of length >= count (capacity);
 * only `0 .. count - 1` are events. `kind` has `AST_BIT` set for AST events: `kindOf(id)` gives the
 * code alone.
 */
export type Columns = Omit<ColumnChunk, 'from'>;

export class Store {
  meta: MetaResponse;
  readonly cols: Columns;
  sel: Selection = { id: null, pid: null };
  view: ViewRange;
  /** Nesting depth of each event: a call's level among open calls on its pid (0 = outermost); a
   *  return/exception has its call's depth; any other event the depth of the call it happened in + 1. */
  depth: Uint16Array;
  /** For a call: the id of its return/exception, or NONE while it is open. */
  endOf: Uint32Array;
  /** For a send: the id of the receive that took it, or NONE. */
  recvOf: Uint32Array;
  /** Running maximum of ts (ts is only nearly sorted across pids): binary-searchable. */
  tsMax: Float64Array;
  /** Ids of each process's events, ascending: `pidIds.subarray(pidStart[p], pidStart[p + 1])`. */
  pidIds: Uint32Array = new Uint32Array(0);
  pidStart: Uint32Array = new Uint32Array(1);
  /** `pidTs[i] = ts[pidIds[i]]`, so a lane's time range is one binary search. */
  pidTs: Float64Array = new Float64Array(0);
  live: boolean;

  private readonly listeners = new Map<StoreEventName, Set<(e: never) => void>>();
  private growing: Promise<void> = Promise.resolve();

  private constructor(
    readonly api: Api,
    meta: MetaResponse,
    chunk: ColumnChunk,
  ) {
    this.meta = meta;
    this.live = meta.live;
    const cap = Math.max(1024, chunk.count);
    this.cols = {
      count: 0,
      ts: new Float64Array(cap),
      pid: new Uint32Array(cap),
      mfa: new Uint32Array(cap),
      link: new Uint32Array(cap),
      parent: new Uint32Array(cap),
      peer: new Uint32Array(cap),
      kind: new Uint8Array(cap),
    };
    this.depth = new Uint16Array(cap);
    this.endOf = new Uint32Array(cap).fill(NONE);
    this.recvOf = new Uint32Array(cap).fill(NONE);
    this.tsMax = new Float64Array(cap);
    this.append(chunk);
    this.view = this.fullRange();
  }

  /** Fetches meta and every column, and builds the indexes. */
  static async load(api: Api): Promise<Store> {
    const meta = await api.getJson<MetaResponse>('/api/meta');
    const chunk = await api.getColumns(0, meta.count);
    return new Store(api, meta, chunk);
  }

  get count(): number {
    return this.cols.count;
  }

  on<K extends StoreEventName>(name: K, fn: (e: StoreEvents[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) this.listeners.set(name, (set = new Set()));
    set.add(fn as (e: never) => void);
    return () => set.delete(fn as (e: never) => void);
  }

  /** Like `on`, for one event only. */
  once<K extends StoreEventName>(name: K, fn: (e: StoreEvents[K]) => void): () => void {
    const off = this.on(name, (e) => {
      off();
      fn(e);
    });
    return off;
  }

  /** The process of event `id`, or null when the id is not (yet) loaded. */
  pidOf(id: number): number | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) return null;
    const p = this.cols.pid[id]!;
    return p === NONE ? null : p;
  }

  /** Changes the selection; an id with no pid given selects that event's process too. */
  select(partial: Partial<Selection>, origin: SelectOrigin | string = 'panel'): void {
    const prev = this.sel;
    const next: Selection = { ...prev, ...partial };
    if (partial.id !== undefined && partial.id !== null) {
      if (!Number.isInteger(partial.id) || partial.id < 0 || partial.id >= this.count) {
        throw new RangeError(`select: event id ${partial.id} is not in this recording (ids are 0 .. ${this.count - 1})`);
      }
      if (partial.pid === undefined) next.pid = this.cols.pid[partial.id]!;
    }
    if (next.pid !== null && (next.pid < 0 || next.pid >= this.meta.processes.length)) {
      throw new RangeError(`select: process ${next.pid} is not in this recording (0 .. ${this.meta.processes.length - 1})`);
    }
    if (next.id === prev.id && next.pid === prev.pid) return;
    this.sel = next;
    this.emit('select', { sel: next, prev, origin });
  }

  /** Sets the visible range, kept inside the recording and at least 1 µs wide. */
  setView(v: ViewRange, origin = 'panel'): void {
    const full = this.fullRange();
    const span = full.t1 - full.t0;
    let w = Math.max(1000, Math.min(v.t1 - v.t0, span));
    if (!Number.isFinite(w)) w = span;
    let t0 = Math.max(full.t0, Math.min(v.t0, full.t1 - w));
    if (!Number.isFinite(t0)) t0 = full.t0;
    const next = { t0, t1: t0 + w };
    if (next.t0 === this.view.t0 && next.t1 === this.view.t1) return;
    this.view = next;
    this.emit('view', { view: next, origin });
  }

  /** The whole recording's time range, with a small margin so the first and last marks show. */
  fullRange(): ViewRange {
    const n = this.count;
    if (n === 0) return { t0: 0, t1: 1e9 };
    const t0 = this.cols.ts[0]!;
    const t1 = this.tsMax[n - 1]!;
    const pad = Math.max((t1 - t0) * 0.01, 1000);
    return { t0: t0 - pad, t1: t1 + pad };
  }

  kindOf(id: number): number {
    return this.cols.kind[id]! & ~AST_BIT;
  }

  kindName(id: number): string {
    return KIND_NAMES[this.kindOf(id)] ?? `kind ${this.kindOf(id)}`;
  }

  isAst(id: number): boolean {
    return (this.cols.kind[id]! & AST_BIT) !== 0;
  }

  process(pid: number): ProcessMeta | undefined {
    return this.meta.processes[pid];
  }

  /** A process as people name it: its registered name, else its pid text. */
  processLabel(pid: number): string {
    const p = this.meta.processes[pid];
    if (p === undefined) return `process ${pid}`;
    return p.name ?? p.pid;
  }

  mfaText(id: number): string | null {
    const m = this.cols.mfa[id]!;
    return m === NONE ? null : (this.meta.mfas[m]?.text ?? `mfa ${m}`);
  }

  /** This process's event ids, ascending (a view: do not keep it across 'grow'). */
  idsOfPid(pid: number): Uint32Array {
    if (pid < 0 || pid + 1 >= this.pidStart.length) return new Uint32Array(0);
    return this.pidIds.subarray(this.pidStart[pid]!, this.pidStart[pid + 1]!);
  }

  /** The first id whose ts >= t (count if none). Exact although ts is only nearly sorted. */
  firstIdAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsMax[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index into `idsOfPid(pid)` of the first event of pid at or after time t. */
  pidIndexAtOrAfter(pid: number, t: number): number {
    let lo = this.pidStart[pid]!;
    let hi = this.pidStart[pid + 1]!;
    const base = lo;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pidTs[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo - base;
  }

  /** Position of event `id` within its process's events (binary search on ids). */
  pidIndexOf(id: number): number {
    const ids = this.idsOfPid(this.cols.pid[id]!);
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** When a call ended: its return's ts, or (still open) the last ts of the recording. */
  spanEnd(callId: number): number {
    const e = this.endOf[callId]!;
    return e === NONE ? this.tsMax[this.count - 1]! : this.cols.ts[e]!;
  }

  /** Bytes held in typed arrays (columns and indexes): the bulk of the page's memory, outside the JS heap. */
  memoryBytes(): number {
    const k = this.cols;
    return [k.ts, k.pid, k.mfa, k.link, k.parent, k.peer, k.kind, this.depth, this.endOf, this.recvOf, this.tsMax, this.pidIds, this.pidStart, this.pidTs]
      .reduce((sum, a) => sum + a.byteLength, 0);
  }

  /** Follows a live recording: 'grow' messages fetch the new events. Returns the socket. */
  followLive(onClose: (why: string) => void): WebSocket {
    return this.api.live((m: LiveMessage) => {
      if (m.type === 'grow') this.growTo(m.count);
      else if (m.type === 'meta') void this.reloadMeta();
      else if (m.type === 'end') {
        this.live = false;
        this.emit('end', { status: m.status, reason: m.reason });
      }
    }, onClose);
  }

  /** Fetches events up to `count` (serialized, so grows never interleave). */
  growTo(count: number): Promise<void> {
    this.growing = this.growing.then(async () => {
      const from = this.count;
      if (count <= from) return;
      const chunk = await this.api.getColumns(from, count);
      // New events may name processes or MFAs meta does not have yet: only then fetch it again.
      let unknown = false;
      for (let i = 0; i < chunk.count && !unknown; i++) {
        const p = chunk.pid[i]!;
        const m = chunk.mfa[i]!;
        unknown = (p !== NONE && p >= this.meta.processes.length) || (m !== NONE && m >= this.meta.mfas.length);
      }
      if (unknown) this.meta = await this.api.getJson<MetaResponse>('/api/meta');
      this.append(chunk);
      if (unknown) this.emit('meta', { meta: this.meta });
      this.emit('grow', { from, to: this.count });
    }).catch((err: unknown) => {
      console.error('elixir-scope: could not fetch the new events', err);
    });
    return this.growing;
  }

  async reloadMeta(): Promise<void> {
    this.meta = await this.api.getJson<MetaResponse>('/api/meta');
    this.rebuildPidIndex();
    this.emit('meta', { meta: this.meta });
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  private emit<K extends StoreEventName>(name: K, e: StoreEvents[K]): void {
    const set = this.listeners.get(name);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        (fn as (e: StoreEvents[K]) => void)(e);
      } catch (err) {
        // One broken panel must not stop the others from hearing about the change.
        console.error(`elixir-scope: a '${name}' listener failed`, err);
      }
    }
  }

  private append(c: ColumnChunk): void {
    if (c.from !== this.cols.count) {
      throw new Error(`columns from ${c.from} do not continue the ${this.cols.count} events already loaded`);
    }
    const need = this.cols.count + c.count;
    if (need > this.cols.ts.length) this.reserve(Math.max(need, this.cols.ts.length * 2));
    const at = this.cols.count;
    const k = this.cols;
    copyColumns(c, k, at);
    k.count = need;
    let max = at > 0 ? this.tsMax[at - 1]! : -Infinity;
    for (let i = at; i < need; i++) {
      const t = k.ts[i]!;
      if (t > max) max = t;
      this.tsMax[i] = max;
      const kind = k.kind[i]! & ~AST_BIT;
      const par = k.parent[i]!;
      const pd = par === NONE || par >= i ? -1 : this.depth[par]!;
      if (kind === KIND.return || kind === KIND.exception) {
        const call = k.link[i]!;
        if (call !== NONE && call < i) {
          this.depth[i] = this.depth[call]!;
          this.endOf[call] = i;
        } else this.depth[i] = pd + 1;
      } else {
        this.depth[i] = pd + 1;
        if (kind === KIND.receive) {
          const s = k.link[i]!;
          if (s !== NONE && s < i) this.recvOf[s] = i;
        }
      }
    }
    this.rebuildPidIndex();
  }

  private reserve(cap: number): void {
    const k = this.cols;
    const grow = <T extends Float64Array | Uint32Array | Uint8Array | Uint16Array>(a: T, make: (n: number) => T, fill?: number): T => {
      const b = make(cap);
      if (fill !== undefined) (b as Uint32Array).fill(fill);
      b.set(a as never);
      return b;
    };
    k.ts = grow(k.ts, (n) => new Float64Array(n));
    k.pid = grow(k.pid, (n) => new Uint32Array(n));
    k.mfa = grow(k.mfa, (n) => new Uint32Array(n));
    k.link = grow(k.link, (n) => new Uint32Array(n));
    k.parent = grow(k.parent, (n) => new Uint32Array(n));
    k.peer = grow(k.peer, (n) => new Uint32Array(n));
    k.kind = grow(k.kind, (n) => new Uint8Array(n));
    this.depth = grow(this.depth, (n) => new Uint16Array(n));
    this.endOf = grow(this.endOf, (n) => new Uint32Array(n), NONE);
    this.recvOf = grow(this.recvOf, (n) => new Uint32Array(n), NONE);
    this.tsMax = grow(this.tsMax, (n) => new Float64Array(n));
  }

  /** Counting sort of the pid column: O(n), a few ms for a million events. */
  private rebuildPidIndex(): void {
    const n = this.count;
    const np = Math.max(this.meta.processes.length, 0);
    const pid = this.cols.pid;
    let maxPid = np - 1;
    for (let i = 0; i < n; i++) if (pid[i]! !== NONE && pid[i]! > maxPid) maxPid = pid[i]!;
    const lanes = maxPid + 1;
    const start = new Uint32Array(lanes + 1);
    for (let i = 0; i < n; i++) {
      const p = pid[i]!;
      if (p !== NONE) start[p + 1]!++;
    }
    for (let p = 0; p < lanes; p++) start[p + 1]! += start[p]!;
    const fill = start.slice(0, lanes);
    const ids = new Uint32Array(start[lanes]!);
    const ts = new Float64Array(start[lanes]!);
    for (let i = 0; i < n; i++) {
      const p = pid[i]!;
      if (p === NONE) continue;
      const at = fill[p]!++;
      ids[at] = i;
      ts[at] = this.cols.ts[i]!;
    }
    // A process's own events arrive in its own time order; keep the lane's ts monotonic anyway so
    // a binary search never misses (clock steps between schedulers are tiny but possible).
    for (let p = 0; p < lanes; p++) {
      for (let j = start[p]! + 1; j < start[p + 1]!; j++) if (ts[j]! < ts[j - 1]!) ts[j] = ts[j - 1]!;
    }
    this.pidIds = ids;
    this.pidStart = start;
    this.pidTs = ts;
  }
}
