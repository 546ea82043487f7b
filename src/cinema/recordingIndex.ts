/**
 * What the page needs of a whole recording at once, built in one pass over its events and kept:
 * a process table and an MFA table (the page names both by index), and the columns of every event
 * (ts, pid, mfa, link, parent, peer, kind) as typed arrays, which /api/columns slices.
 *
 * Processes are grouped by the supervision trees the recorder read at the start and the stop
 * (meta.supervision): a process found there belongs to `node / app / top supervisor / ...`, and a
 * child that got a new pid under the same supervisor and child id is a restart of the previous one
 * (`restartOf`). Processes the trees do not hold are grouped by the spawns the recording saw.
 *
 * Indexes are given in order of first appearance in the events and never change, so a growing
 * recording (live) only needs its new events scanned: `extend(rec)` picks up from the last count,
 * even on a freshly reopened Recording whose Pid objects are new (tables are keyed by text).
 */

import { EVENT_KINDS } from '../capture/event.js';
import type { Mfa } from '../capture/event.js';
import { Atom, Pid } from '../erlang/terms.js';
import type { Recording, SupervisionSnapshot } from '../store/types.js';

/** "none" in the u32 columns, as in the store. */
export const NONE = 0xffffffff;

export interface ProcessEntry {
  readonly index: number;
  readonly pid: Pid;
  first: number;
  last: number;
  count: number;
  /** Process index of the spawner, from its `spawned` event (or the parent's `spawn`). */
  parent: number;
  /** Where it sits in a supervision tree, if a snapshot holds it (or it restarted a child that one held). */
  sup: SupPlace | null;
  /** Process index of the earlier pid of the same child (same supervisor and child id), or NONE. */
  restartOf: number;
}

/** A process's place in a supervision tree. */
export interface SupPlace {
  readonly app: string;
  /** Pid key (Pid.key) of its supervisor; null for an application's top supervisor. */
  readonly parentKey: string | null;
  /** The child id as inspect prints it; null for a top supervisor. */
  readonly id: string | null;
  readonly type: 'worker' | 'supervisor';
  /** Registered name as Elixir prints it, when the snapshot saw one. */
  readonly name: string | null;
}

/** A process's group and the processes it descends from, nearest first (process indexes). */
export interface ProcessGroup {
  group: string;
  ancestors: number[];
}

export interface MfaEntry {
  readonly index: number;
  readonly mfa: Mfa;
}

const SPAWNED = EVENT_KINDS.spawned;
const SPAWN = EVENT_KINDS.spawn;
const EXIT = EVENT_KINDS.exit;

export class RecordingIndex {
  readonly processes: ProcessEntry[] = [];
  readonly mfas: MfaEntry[] = [];
  private readonly procByKey = new Map<string, number>();
  private readonly mfaByKey = new Map<string, number>();
  count = 0;
  ts = new Float64Array(0);
  pid = new Uint32Array(0);
  mfa = new Uint32Array(0);
  link = new Uint32Array(0);
  parent = new Uint32Array(0);
  peer = new Uint32Array(0);
  kind = new Uint8Array(0);
  /** Places from the snapshots, by pid key (start first; the stop adds what was not there). */
  private readonly places = new Map<string, SupPlace>();
  /** The latest pid key of each child (`supervisorKey \0 id`), to chain restarts. */
  private readonly currentChild = new Map<string, string>();
  /** Per supervisor index: children whose pid exited, waiting for the spawn that replaces them. */
  private readonly awaitingRestart = new Map<number, Array<{ place: SupPlace; prev: number }>>();
  private startLoaded = false;
  private stopLoaded = false;

  constructor(rec: Recording) {
    this.extend(rec);
  }

  /** Scans the events of `rec` from the last count on. */
  extend(rec: Recording): void {
    const n = rec.count;
    const from = this.count;
    if (n <= from) {
      this.supervision(rec, from, from);
      return;
    }
    this.grow(n);
    // Identity maps first: the reader hands out the same Pid and Mfa objects for every event, so most
    // lookups never hash a string.
    const pidIx = new Map<Pid, number>();
    const mfaIx = new Map<Mfa, number>();
    const procOf = (p: Pid): number => {
      let i = pidIx.get(p);
      if (i !== undefined) return i;
      i = this.procByKey.get(p.key);
      if (i === undefined) {
        i = this.processes.length;
        this.processes.push({ index: i, pid: p, first: -1, last: -1, count: 0, parent: NONE, sup: this.places.get(p.key) ?? null, restartOf: NONE });
        this.procByKey.set(p.key, i);
      }
      pidIx.set(p, i);
      return i;
    };
    const mfaOf = (m: Mfa): number => {
      let i = mfaIx.get(m);
      if (i !== undefined) return i;
      const key = `${m.module}\u0000${m.fun}\u0000${m.arity}`;
      i = this.mfaByKey.get(key);
      if (i === undefined) {
        i = this.mfas.length;
        this.mfas.push({ index: i, mfa: m });
        this.mfaByKey.set(key, i);
      }
      mfaIx.set(m, i);
      return i;
    };
    for (let id = this.count; id < n; id++) {
      const e = rec.event(id);
      const p = procOf(e.pid);
      const entry = this.processes[p]!;
      if (entry.first < 0) entry.first = id;
      entry.last = id;
      entry.count++;
      this.ts[id] = e.ts;
      this.pid[id] = p;
      this.mfa[id] = e.mfa === null ? NONE : mfaOf(e.mfa);
      this.link[id] = e.link ?? NONE;
      this.parent[id] = e.parent ?? NONE;
      const peer = e.peer === null ? NONE : procOf(e.peer);
      this.peer[id] = peer;
      const code = EVENT_KINDS[e.kind];
      this.kind[id] = e.source === 'ast' ? code | 0x80 : code;
      if (peer !== NONE) {
        if (code === SPAWNED && entry.parent === NONE) entry.parent = peer;
        else if (code === SPAWN) {
          const child = this.processes[peer]!;
          if (child.parent === NONE) child.parent = p;
        }
      }
    }
    this.count = n;
    this.supervision(rec, from, n);
  }

  processIndex(p: Pid): number | undefined {
    return this.procByKey.get(p.key);
  }

  /**
   * The group of process `p`: `node / app / supervisor / ...` (registered names, else child ids, else
   * pids; a supervisor heads its own group) when a supervision tree holds it, with its supervisors as
   * ancestors. Otherwise the group of its nearest spawner a tree holds, or else `node label` of its
   * oldest known spawner (or itself), with the spawners as ancestors.
   */
  groupOf(p: number, label: (index: number) => string): ProcessGroup {
    const entry = this.processes[p]!;
    if (entry.sup !== null) return this.treeGroup(entry);
    const ancestors: number[] = [];
    const seen = new Set<number>([p]);
    let cur = entry.parent;
    while (cur !== NONE && !seen.has(cur)) {
      const up = this.processes[cur]!;
      ancestors.push(cur);
      seen.add(cur);
      if (up.sup !== null) {
        const g = this.treeGroup(up);
        // A supervisor's own group names it last; a worker's ends with its supervisor.
        return { group: g.group, ancestors: [...ancestors, ...g.ancestors] };
      }
      cur = up.parent;
    }
    const root = ancestors.length === 0 ? p : ancestors[ancestors.length - 1]!;
    return { group: `${entry.pid.node.name} ${label(root)}`, ancestors };
  }

  // --------------------------------------------------------------------------------------------
  // Supervision
  // --------------------------------------------------------------------------------------------

  private treeGroup(entry: ProcessEntry): ProcessGroup {
    const place = entry.sup!;
    const names: string[] = [];
    const ancestors: number[] = [];
    if (place.type === 'supervisor') names.push(placeLabel(place, entry.pid));
    const seen = new Set<string>([entry.pid.key]);
    let key = place.parentKey;
    while (key !== null && !seen.has(key)) {
      seen.add(key);
      const up = this.places.get(key);
      const index = this.procByKey.get(key);
      if (index !== undefined) ancestors.push(index);
      const pid = index !== undefined ? this.processes[index]!.pid : undefined;
      names.push(up === undefined ? `#PID<0.${key.split('|').slice(1, 3).join('.')}>` : placeLabel(up, pid));
      key = up?.parentKey ?? null;
    }
    return { group: [entry.pid.node.name, place.app, ...names.reverse()].join(' / '), ancestors };
  }

  /** Takes the places of a snapshot; the first one's children are where restarts start from. */
  private loadSnapshot(snap: SupervisionSnapshot, first: boolean): void {
    // meta.json is read as written; a snapshot not of this shape is left out rather than guessed at.
    if (!Array.isArray(snap.entries) || typeof snap.node !== 'string' || typeof snap.creation !== 'number') return;
    const node = Atom.of(snap.node);
    const keyOf = (text: string | null): string | null => {
      const m = text === null ? null : /^<0\.(\d+)\.(\d+)>$/.exec(text);
      return m === null ? null : new Pid(node, Number(m[1]), Number(m[2]), snap.creation).key;
    };
    const indexOf = (key: string): number => {
      const known = this.procByKey.get(key);
      if (known !== undefined) return known;
      const [, id, serial] = key.split('|');
      const i = this.addProcess(new Pid(node, Number(id), Number(serial), snap.creation));
      this.processes[i]!.sup = this.places.get(key) ?? null;
      return i;
    };
    for (const e of snap.entries) {
      const key = keyOf(e.pid);
      if (key === null) continue;
      const place: SupPlace = { app: e.app, parentKey: keyOf(e.parent), id: e.id, type: e.type === 'supervisor' ? 'supervisor' : 'worker', name: e.name };
      if (!this.places.has(key)) this.places.set(key, place);
      // Every supervisor gets a process index (count 0 if it has no events), so that `ancestors`
      // can name it; a process indexed before this snapshot came gets its place now.
      const index = place.type === 'supervisor' ? indexOf(key) : this.procByKey.get(key);
      if (index !== undefined && this.processes[index]!.sup === null) this.processes[index]!.sup = place;
      const ck = childKey(place);
      if (ck === null) continue;
      const before = this.currentChild.get(ck);
      if (first || before === undefined || before === key) {
        this.currentChild.set(ck, key);
        continue;
      }
      // At the stop: a child whose pid is not the latest one seen restarted since.
      const now = this.processes[indexOf(key)]!;
      if (now.restartOf === NONE) now.restartOf = indexOf(before);
      this.currentChild.set(ck, key);
    }
  }

  /**
   * After the events [from, to) are indexed: the start snapshot once (after the first events, so
   * that processes keep their numbers in order of first appearance), restarts in the new events,
   * then the stop snapshot once it is there.
   */
  private supervision(rec: Recording, from: number, to: number): void {
    const snaps = rec.meta.supervision;
    if (!this.startLoaded && snaps?.start != null) {
      this.startLoaded = true;
      this.loadSnapshot(snaps.start, true);
    }
    this.followRestarts(from, to);
    if (!this.stopLoaded && snaps?.stop != null) {
      this.stopLoaded = true;
      this.loadSnapshot(snaps.stop, false);
    }
  }

  /**
   * Restarts seen in the events: a child a tree holds exits, and the next spawn of its supervisor is
   * its replacement (same child id), as a supervisor restarts one child at a time.
   */
  private followRestarts(from: number, to: number): void {
    if (this.places.size === 0) return;
    for (let id = from; id < to; id++) {
      const code = this.kind[id]! & 0x7f;
      if (code !== EXIT && code !== SPAWN) continue;
      const p = this.pid[id]!;
      const entry = this.processes[p]!;
      if (code === EXIT) {
        const place = entry.sup;
        if (place === null || place.parentKey === null || childKey(place) === null) continue;
        const supIndex = this.procByKey.get(place.parentKey);
        if (supIndex === undefined) continue;
        const q = this.awaitingRestart.get(supIndex) ?? [];
        q.push({ place, prev: p });
        this.awaitingRestart.set(supIndex, q);
        continue;
      }
      const q = this.awaitingRestart.get(p);
      const child = this.peer[id]!;
      if (q === undefined || q.length === 0 || child === NONE) continue;
      const { place, prev } = q.shift()!;
      const c = this.processes[child]!;
      if (c.sup === null) c.sup = place;
      if (c.restartOf === NONE) c.restartOf = prev;
      this.currentChild.set(childKey(place)!, c.pid.key);
    }
  }

  private addProcess(pid: Pid): number {
    const i = this.processes.length;
    this.processes.push({ index: i, pid, first: -1, last: -1, count: 0, parent: NONE, sup: null, restartOf: NONE });
    this.procByKey.set(pid.key, i);
    return i;
  }

  private grow(n: number): void {
    if (n <= this.ts.length) return;
    // Doubling keeps a live recording's repeated growth linear.
    const cap = Math.max(n, this.count === 0 ? n : this.ts.length * 2);
    const g = <T extends Float64Array | Uint32Array | Uint8Array>(old: T, make: (len: number) => T): T => {
      const a = make(cap);
      a.set(old.subarray(0, this.count) as never);
      return a;
    };
    this.ts = g(this.ts, (l) => new Float64Array(l));
    this.pid = g(this.pid, (l) => new Uint32Array(l));
    this.mfa = g(this.mfa, (l) => new Uint32Array(l));
    this.link = g(this.link, (l) => new Uint32Array(l));
    this.parent = g(this.parent, (l) => new Uint32Array(l));
    this.peer = g(this.peer, (l) => new Uint32Array(l));
    this.kind = g(this.kind, (l) => new Uint8Array(l));
  }
}

/**
 * The identity of a child across restarts: its supervisor and child id. DynamicSupervisor children
 * all have the id `:undefined`, so they have none.
 */
function childKey(place: SupPlace): string | null {
  if (place.parentKey === null || place.id === null || place.id === ':undefined') return null;
  return `${place.parentKey}\u0000${place.id}`;
}

/** Registered name, else child id, else the pid. */
function placeLabel(place: SupPlace, pid: Pid | undefined): string {
  return place.name ?? place.id ?? (pid === undefined ? '?' : `#PID<0.${pid.id}.${pid.serial}>`);
}

/** `/api/columns` body for ids [from, to): see docs/cinema.md for the layout. */
export function encodeColumns(ix: RecordingIndex, from: number, to: number): Buffer {
  const n = Math.max(0, to - from);
  // 16 bytes of header keep the f64 column 8-aligned, so the page can view it without copying.
  const header = 16;
  const size = header + n * 8 + n * 4 * 5 + n;
  const padded = (size + 3) & ~3;
  const buf = Buffer.alloc(padded);
  buf.writeUInt32LE(0x45534331, 0);
  buf.writeUInt32LE(n, 4);
  buf.writeUInt32LE(from, 8);
  let off = header;
  // Byte copies of the typed arrays' ranges: the host is little-endian like the format (checked at start).
  const put = (a: Float64Array | Uint32Array | Uint8Array, width: number): void => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset + from * width, n * width);
    buf.set(bytes, off);
    off += n * width;
  };
  put(ix.ts, 8);
  put(ix.pid, 4);
  put(ix.mfa, 4);
  put(ix.link, 4);
  put(ix.parent, 4);
  put(ix.peer, 4);
  put(ix.kind, 1);
  return buf;
}
