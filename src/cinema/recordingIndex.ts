/**
 * What the page needs of a whole recording at once, built in one pass over its events and kept:
 * a process table and an MFA table (the page names both by index), and the columns of every event
 * (ts, pid, mfa, link, parent, peer, kind) as typed arrays, which /api/columns slices.
 *
 * Indexes are given in order of first appearance in the events and never change, so a growing
 * recording (live) only needs its new events scanned: `extend(rec)` picks up from the last count,
 * even on a freshly reopened Recording whose Pid objects are new (tables are keyed by text).
 */

import { EVENT_KINDS } from '../capture/event.js';
import type { Mfa } from '../capture/event.js';
import type { Pid } from '../erlang/terms.js';
import type { Recording } from '../store/types.js';

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
}

export interface MfaEntry {
  readonly index: number;
  readonly mfa: Mfa;
}

const SPAWNED = EVENT_KINDS.spawned;
const SPAWN = EVENT_KINDS.spawn;

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

  constructor(rec: Recording) {
    this.extend(rec);
  }

  /** Scans the events of `rec` from the last count on. */
  extend(rec: Recording): void {
    const n = rec.count;
    if (n <= this.count) return;
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
        this.processes.push({ index: i, pid: p, first: -1, last: -1, count: 0, parent: NONE });
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
  }

  processIndex(p: Pid): number | undefined {
    return this.procByKey.get(p.key);
  }

  /** Spawners of process `p`, nearest first (as far as the recording saw them spawn). */
  ancestors(p: number): number[] {
    const out: number[] = [];
    const seen = new Set<number>([p]);
    let cur = this.processes[p]!.parent;
    while (cur !== NONE && !seen.has(cur)) {
      out.push(cur);
      seen.add(cur);
      cur = this.processes[cur]!.parent;
    }
    return out;
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
