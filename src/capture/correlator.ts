/**
 * The one home of the pairing logic: fills `link` and `parent` of each event as it gets its id.
 *
 *   const cor = new Correlator();
 *   cor.process(batch, firstId, link, parent, sink);   // link/parent: Uint32Array(batch.count), NONE = absent
 *
 * - Calls: a stack per pid. A call's parent is the innermost open call; it then opens a frame.
 *   return_from / exception_from close the innermost open frame of the same MFA, and every frame
 *   above it (calls whose return was never traced: tail calls, functions traced without
 *   return_trace). A return with no such frame (tracing started mid-call) has no link, and the
 *   stack is left alone. Every other event's parent is the innermost open call of its pid.
 * - Messages: a send waits, keyed by receiver and message bytes, for the receive of the same bytes
 *   on that receiver (FIFO among equal messages); the receive's link is the send. The BEAM traces
 *   `receive` when the message is queued, and trace messages from two processes reach the relay in
 *   either order, so a receive may also wait for its send, which then patches the receive's link
 *   through `sink` (possible while the receive is not yet on disk). A send to a registered name (its
 *   destination is not a pid) is matched by bytes alone, after sends addressed to the pid itself.
 * - spawn ↔ spawned: the child's spawned event links to the parent's spawn event, in either order.
 * - GenServer state: an es_state links to the receive of the same raw message bytes on the same pid,
 *   oldest first.
 *
 * Everything waiting is bounded (`maxPending` per kind of wait, `maxStack` frames per pid): past the
 * bound the oldest waits are forgotten (counted in `stats`), so a trace of sends to untraced
 * processes cannot grow memory without end. Messages up to `MAX_COPIED` bytes are copied and
 * compared exactly; longer ones are compared by length and two independent 32-bit hashes.
 */

import { EVENT_KINDS } from './event.js';
import { NONE, type ParsedBatch } from './batchParser.js';
import { skipTerm } from '../erlang/etf/skip.js';

/** Where late links go: a receive (or spawned) that got its id before its send (or spawn). */
export interface LinkSink {
  /** Sets event `id`'s link if it can still be changed; false when it is already on disk. */
  patchLink(id: number, link: number): boolean;
}

export interface CorrelatorOptions {
  /** Waits kept per kind (sends, receives, state, spawns); default 50,000. */
  maxPending?: number;
  /** Open frames kept per pid; default 10,000 (older frames are forgotten). */
  maxStack?: number;
}

export interface CorrelatorStats {
  /** Links set on an earlier event through the sink. */
  latePatched: number;
  /** Links found too late: the earlier event was already on disk. */
  lateLost: number;
  /** Waits forgotten because a bound was reached. */
  evicted: number;
  /** Frames forgotten because a stack was too deep. */
  framesDropped: number;
  /** Events whose bytes could not be read for matching (a bug if ever non-zero). */
  unlinkable: number;
  lastError: string | null;
}

const MAX_COPIED = 512;
const NAMED = 0xfffffffe; // receiver key of sends to a name

const K = EVENT_KINDS;

interface Wait {
  id: number;
  receiver: number;
  len: number;
  h1: number;
  h2: number;
  /** The bytes when len <= MAX_COPIED. */
  bytes: Buffer | null;
  /** Insertion number, for eviction. */
  seq: number;
}

/** FIFO queues of waits by (receiver, hash), with a global bound on how many are kept. */
class Waits {
  private readonly map = new Map<number, Wait[]>();
  private order: Array<{ key: number; w: Wait }> = [];
  private orderHead = 0;
  private seq = 0;
  size = 0;

  constructor(
    private readonly cap: number,
    private readonly stats: CorrelatorStats,
  ) {}

  add(receiver: number, m: MsgKey, id: number, buf: Buffer): void {
    const key = keyOf(receiver, m.h1);
    const w: Wait = {
      id,
      receiver,
      len: m.len,
      h1: m.h1,
      h2: m.h2,
      bytes: m.len <= MAX_COPIED ? Buffer.from(buf.subarray(m.off, m.off + m.len)) : null,
      seq: this.seq++,
    };
    let q = this.map.get(key);
    if (q === undefined) this.map.set(key, (q = []));
    q.push(w);
    this.order.push({ key, w });
    this.size++;
    if (this.size > this.cap) this.evictOldest();
  }

  /** The oldest wait for these bytes on this receiver, removed; -1 if none. */
  take(receiver: number, m: MsgKey, buf: Buffer): number {
    const key = keyOf(receiver, m.h1);
    const q = this.map.get(key);
    if (q === undefined) return -1;
    for (let k = 0; k < q.length; k++) {
      const w = q[k]!;
      if (w.receiver !== receiver || w.len !== m.len || w.h1 !== m.h1 || w.h2 !== m.h2) continue;
      if (w.bytes !== null && !w.bytes.equals(buf.subarray(m.off, m.off + m.len))) continue;
      if (k === 0) q.shift();
      else q.splice(k, 1);
      if (q.length === 0) this.map.delete(key);
      this.size--;
      w.seq = -1; // taken: its entry in `order` is stale
      return w.id;
    }
    return -1;
  }

  private evictOldest(): void {
    while (this.orderHead < this.order.length) {
      const { key, w } = this.order[this.orderHead++]!;
      if (w.seq < 0) continue;
      const q = this.map.get(key)!;
      const k = q.indexOf(w);
      q.splice(k, 1);
      if (q.length === 0) this.map.delete(key);
      this.size--;
      this.stats.evicted++;
      break;
    }
    this.compact();
  }

  private compact(): void {
    // Stale entries (taken waits) pile up in `order`; drop them once they outnumber the live ones.
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.order.length - this.orderHead > 4 * this.cap + 1024) {
      this.order = this.order.slice(this.orderHead).filter((e) => e.w.seq >= 0);
      this.orderHead = 0;
    }
  }

  /** Forget stale order entries now and then, even without eviction. */
  tidy(): void {
    this.compact();
  }
}

const keyOf = (receiver: number, h1: number): number => (receiver % 2097152) * 4294967296 + h1;

interface MsgKey {
  off: number;
  len: number;
  h1: number;
  h2: number;
}

function msgKey(buf: Buffer, off: number, len: number, out: MsgKey): MsgKey {
  let h1 = 0x811c9dc5 ^ len;
  let h2 = 0x9747b28c ^ len;
  const e = off + len;
  for (let i = off; i < e; i++) {
    const b = buf[i]!;
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 + b, 0x5bd1e995) ^ (h2 >>> 15);
  }
  out.off = off;
  out.len = len;
  out.h1 = (h1 ^ (h1 >>> 16)) >>> 0;
  out.h2 = h2 >>> 0;
  return out;
}

export class Correlator {
  readonly stats: CorrelatorStats = { latePatched: 0, lateLost: 0, evicted: 0, framesDropped: 0, unlinkable: 0, lastError: null };
  private readonly maxStack: number;
  private readonly maxPending: number;
  /** Per pid id: open frames as triples [callId, mfaId, parentId, ...]. */
  private readonly stacks: Array<number[] | undefined> = [];
  private readonly sends: Waits;
  private readonly receives: Waits;
  private readonly states: Waits;
  private readonly spawns = new Map<number, number>();
  private readonly spawneds = new Map<number, number>();
  private readonly key: MsgKey = { off: 0, len: 0, h1: 0, h2: 0 };
  private batches = 0;

  constructor(opts: CorrelatorOptions = {}) {
    this.maxStack = opts.maxStack ?? 10_000;
    this.maxPending = opts.maxPending ?? 50_000;
    this.sends = new Waits(this.maxPending, this.stats);
    this.receives = new Waits(this.maxPending, this.stats);
    this.states = new Waits(this.maxPending, this.stats);
  }

  /** The innermost open call on this pid, or NONE. */
  openCall(pid: number): number {
    const st = this.stacks[pid];
    return st === undefined || st.length === 0 ? NONE : st[st.length - 3]!;
  }

  /**
   * Fills link[i] and parent[i] for event i of the batch, whose id is firstId + i. Late links to
   * earlier events go through `sink` (none: they are counted as lost).
   */
  process(b: ParsedBatch, firstId: number, link: Uint32Array, parent: Uint32Array, sink?: LinkSink): void {
    const n = b.count;
    const buf = b.bin;
    const key = this.key;
    for (let i = 0; i < n; i++) {
      const id = firstId + i;
      const pid = b.pid[i]!;
      let st = this.stacks[pid];
      let lk = NONE;
      let par = st === undefined || st.length === 0 ? NONE : st[st.length - 3]!;
      switch (b.kind[i]) {
        case K.call: {
          if (st === undefined) this.stacks[pid] = st = [];
          if (st.length >= this.maxStack * 3) {
            st.splice(0, 3);
            this.stats.framesDropped++;
          }
          st.push(id, b.mfa[i]!, par);
          break;
        }
        case K.return:
        case K.exception: {
          if (st === undefined) break;
          const mfa = b.mfa[i]!;
          for (let k = st.length - 3; k >= 0; k -= 3) {
            if (st[k + 1] === mfa) {
              lk = st[k]!;
              par = st[k + 2]!;
              st.length = k;
              break;
            }
          }
          break;
        }
        case K.send: {
          msgKey(buf, b.payOff[i]!, b.payLen[i]!, key);
          const to = b.peer[i]!;
          const recv = to === NONE ? NONE : this.receives.take(to, key, buf);
          if (recv >= 0 && recv !== NONE) this.patch(sink, recv, id, firstId, link);
          else this.sends.add(to === NONE ? NAMED : to, key, id, buf);
          break;
        }
        case K.receive: {
          msgKey(buf, b.payOff[i]!, b.payLen[i]!, key);
          let s = this.sends.take(pid, key, buf);
          if (s < 0) s = this.sends.take(NAMED, key, buf);
          if (s >= 0) lk = s;
          else this.receives.add(pid, key, id, buf);
          this.states.add(pid, key, id, buf);
          break;
        }
        case K.state: {
          // aux holds RawMsg then Reply: the raw message is the first term.
          const off = b.auxOff[i]!;
          let end: number;
          try {
            end = skipTerm(buf, off);
          } catch (e) {
            // The parser skipped these very bytes already, so this is a parser bug: the event is
            // still stored, only unlinked, and the bug is counted where it shows.
            this.stats.unlinkable++;
            this.stats.lastError = (e as Error).message;
            break;
          }
          msgKey(buf, off, end - off, key);
          const r = this.states.take(pid, key, buf);
          if (r >= 0) lk = r;
          break;
        }
        case K.spawn: {
          const child = b.peer[i]!;
          if (child === NONE) break;
          const sp = this.spawneds.get(child);
          if (sp !== undefined) {
            this.spawneds.delete(child);
            this.patch(sink, sp, id, firstId, link);
          } else this.bounded(this.spawns).set(child, id);
          break;
        }
        case K.spawned: {
          const sp = this.spawns.get(pid);
          if (sp !== undefined) {
            this.spawns.delete(pid);
            lk = sp;
          } else this.bounded(this.spawneds).set(pid, id);
          break;
        }
        default:
          break;
      }
      link[i] = lk;
      parent[i] = par;
    }
    if ((++this.batches & 255) === 0) {
      this.sends.tidy();
      this.receives.tidy();
      this.states.tidy();
    }
  }

  private patch(sink: LinkSink | undefined, id: number, link: number, firstId: number, links: Uint32Array): void {
    // An earlier event of this same batch is not in the sink yet: set it here.
    if (id >= firstId) {
      links[id - firstId] = link;
      this.stats.latePatched++;
    } else if (sink !== undefined && sink.patchLink(id, link)) this.stats.latePatched++;
    else this.stats.lateLost++;
  }

  private bounded(m: Map<number, number>): Map<number, number> {
    if (m.size >= this.maxPending) {
      // Maps iterate in insertion order: the first key is the oldest wait.
      const first = m.keys().next();
      if (first.done !== true) m.delete(first.value);
      this.stats.evicted++;
    }
    return m;
  }
}
