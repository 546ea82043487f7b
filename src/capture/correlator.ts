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
 *   stack is left alone. Every other event's parent is the innermost open call of its pid. A
 *   function called more than NO_RETURN_AFTER times without a single return is taken to be
 *   traced without return_trace: its calls then open no frame (they get a parent, but are nobody's).
 * - AST events (docs/ast.md) share the pid's stack with runtime ones, so that one call can be seen
 *   from both sources: an AST call opens a frame, an AST return/exception closes like a runtime one,
 *   and a `tail_call` closes the innermost frame of its MFA with no result (its link is that call):
 *   a tail-recursive instrumented loop stays one frame deep however long it runs. line, locals,
 *   expr and probe are "every other event": their parent is the innermost open call, runtime or AST.
 * - Messages: a send waits, keyed by receiver and message bytes, for the receive of the same bytes
 *   on that receiver (FIFO among equal messages); the receive's link is the send. The BEAM traces
 *   `receive` when the message is queued, and trace messages from two processes reach the relay in
 *   either order, so a receive may also wait for its send, which then patches the receive's link
 *   through `sink` (possible while the receive is not yet on disk). A send to a registered name (its
 *   destination is not a pid) is matched by bytes alone, after sends addressed to the pid itself.
 * - spawn ↔ spawned: the child's spawned event links to the parent's spawn event, in either order.
 * - GenServer state: an es_state links to the receive of the same raw message bytes on the same pid,
 *   oldest first. Only pids whose state is traced (an es_state_init, which the agent sends when its
 *   hook goes in, or an es_state was seen) keep their receives waiting for a state.
 *
 * Everything waiting is bounded (`maxPending` per kind of wait, `maxStack` frames per pid): past the
 * bound the oldest waits are forgotten (counted in `stats`), so a trace of sends to untraced
 * processes cannot grow memory without end. Messages up to `MAX_COPIED` bytes are compared exactly:
 * a wait points at its bytes in the batch they came in, and after PIN_BATCHES batches copies them
 * (so a wait never pins a batch for long, and the common wait, answered within a batch, copies
 * nothing). Longer messages are compared by length and two independent 32-bit hashes.
 */

import { EVENT_KINDS, KIND_CODE_MASK } from './event.js';
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
  /** Open frames kept per pid; default 1,000 (older frames are forgotten). */
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
/** Calls of an MFA without any return after which its calls no longer open frames. */
const NO_RETURN_AFTER = 64;
/** Batches after which a waiting message's bytes are copied out of its batch. */
const PIN_BATCHES = 8;
const NAMED = 0xfffffffe; // receiver key of sends to a name

const K = EVENT_KINDS;

interface Wait {
  id: number;
  receiver: number;
  key: number;
  len: number;
  h1: number;
  h2: number;
  /** The bytes when len <= MAX_COPIED: first where they arrived (`src` at `off`), later a copy. */
  bytes: Uint8Array | null;
  src: Buffer | null;
  off: number;
  /** Correlator batch number when added: waits older than PIN_BATCHES get their own copy. */
  batchNo: number;
  /** Set when taken: its entry in the eviction order is then stale. */
  taken: boolean;
  /** The next wait with the same key (a FIFO per key, linked through the waits themselves). */
  next: Wait | null;
}

/** FIFO queues of waits by (receiver, hash), with a global bound on how many are kept. */
class Waits {
  /** Head of each key's FIFO (one allocation per wait: the wait itself). */
  private readonly map = new Map<number, Wait>();
  /** Every wait in insertion order (taken ones included until compacted), for eviction. */
  private order: Wait[] = [];
  private orderHead = 0;
  /** Waits before this index in `order` no longer point into a batch. */
  private unpinAt = 0;
  size = 0;
  /** The correlator's current batch number. */
  batchNo = 0;

  constructor(
    private readonly cap: number,
    private readonly stats: CorrelatorStats,
  ) {}

  add(receiver: number, m: MsgKey, id: number, buf: Buffer): void {
    const key = keyOf(receiver, m.h1);
    const w: Wait = {
      id,
      receiver,
      key,
      len: m.len,
      h1: m.h1,
      h2: m.h2,
      bytes: null,
      src: m.len <= MAX_COPIED ? buf : null,
      off: m.off,
      batchNo: this.batchNo,
      taken: false,
      next: null,
    };
    let q = this.map.get(key);
    if (q === undefined) this.map.set(key, w);
    else {
      while (q.next !== null) q = q.next;
      q.next = w;
    }
    this.order.push(w);
    this.size++;
    if (this.size > this.cap) this.evictOldest();
  }

  /** The oldest wait for these bytes on this receiver, removed; -1 if none. */
  take(receiver: number, m: MsgKey, buf: Buffer): number {
    const key = keyOf(receiver, m.h1);
    let prev: Wait | null = null;
    for (let w = this.map.get(key) ?? null; w !== null; prev = w, w = w.next) {
      if (w.receiver !== receiver || w.len !== m.len || w.h1 !== m.h1 || w.h2 !== m.h2) continue;
      if (w.src !== null ? !sameBytes(w.src, w.off, w.len, buf, m.off) : w.bytes !== null && !sameBytes(w.bytes, 0, w.len, buf, m.off)) continue;
      this.unlink(key, prev, w);
      w.taken = true;
      w.src = null;
      return w.id;
    }
    return -1;
  }

  private unlink(key: number, prev: Wait | null, w: Wait): void {
    if (prev !== null) prev.next = w.next;
    else if (w.next !== null) this.map.set(key, w.next);
    else this.map.delete(key);
    w.next = null;
    this.size--;
  }

  private evictOldest(): void {
    while (this.orderHead < this.order.length) {
      const w = this.order[this.orderHead++]!;
      if (w.taken) continue;
      let prev: Wait | null = null;
      for (let x = this.map.get(w.key) ?? null; x !== null && x !== w; x = x.next) prev = x;
      this.unlink(w.key, prev, w);
      w.taken = true;
      w.src = null;
      this.stats.evicted++;
      break;
    }
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) this.tidy();
  }

  /**
   * Copies the bytes of waits older than PIN_BATCHES batches, so that a wait never keeps a whole
   * batch alive for long (most waits end within a batch or two and are never copied), and drops
   * stale entries (taken waits) from the eviction order once they outnumber the live ones.
   */
  tidy(): void {
    const order = this.order;
    let i = Math.max(this.unpinAt, this.orderHead);
    const limit = this.batchNo - PIN_BATCHES;
    for (; i < order.length; i++) {
      const w = order[i]!;
      if (w.batchNo > limit) break;
      if (!w.taken && w.src !== null) {
        w.bytes = copyOf(w.src, w.off, w.len);
        w.src = null;
        w.off = 0;
      }
    }
    this.unpinAt = i;
    if (this.orderHead > 1024 && this.orderHead * 2 > order.length) {
      this.order = order.slice(this.orderHead);
      this.unpinAt -= this.orderHead;
      this.orderHead = 0;
    }
    if (this.order.length - this.orderHead > 2 * this.size + 4096) {
      this.order = this.order.slice(this.orderHead).filter((w) => !w.taken);
      this.orderHead = 0;
      this.unpinAt = 0;
    }
  }
}

function copyOf(buf: Buffer, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = buf[off + i]!;
  return out;
}

function sameBytes(a: Uint8Array, aOff: number, n: number, buf: Buffer, off: number): boolean {
  for (let i = 0; i < n; i++) if (a[aOff + i] !== buf[off + i]) return false;
  return true;
}

const keyOf = (receiver: number, h1: number): number => (receiver % 2097152) * 4294967296 + h1;

interface MsgKey {
  off: number;
  len: number;
  h1: number;
  /** A second, independent hash; only for messages too long to copy (0 otherwise). */
  h2: number;
}

function msgKey(buf: Buffer, off: number, len: number, out: MsgKey): MsgKey {
  // Four bytes a step (murmur3's mixing), then the tail: this runs for every send and receive.
  let h1 = 0x811c9dc5 ^ len;
  const e = off + len;
  const e4 = off + (len & ~3);
  let i = off;
  for (; i < e4; i += 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h1 ^= Math.imul(k, 0x1b873593);
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  for (; i < e; i++) h1 = Math.imul(h1 ^ buf[i]!, 0x01000193);
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  let h2 = 0;
  if (len > MAX_COPIED) {
    h2 = 0x9747b28c ^ len;
    for (let j = off; j < e; j++) h2 = Math.imul(h2 + buf[j]!, 0x5bd1e995) ^ (h2 >>> 15);
  }
  out.off = off;
  out.len = len;
  out.h1 = h1 >>> 0;
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
  /** Pids whose GenServer state is traced (an es_state_init or es_state was seen): only their receives wait for a state. */
  private stateTraced = new Uint8Array(1024);
  /** Per MFA id: [calls, returns + exceptions] seen. */
  private mfaCounts = new Uint32Array(2048);
  private batches = 0;

  constructor(opts: CorrelatorOptions = {}) {
    this.maxStack = opts.maxStack ?? 1_000;
    this.maxPending = opts.maxPending ?? 50_000;
    this.sends = new Waits(this.maxPending, this.stats);
    this.receives = new Waits(this.maxPending, this.stats);
    this.states = new Waits(this.maxPending, this.stats);
  }

  /** Open frames on this pid (how deep its stack is now). */
  depth(pid: number): number {
    return (this.stacks[pid]?.length ?? 0) / 3;
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
      // Runtime and AST events pair alike: the source bit plays no part in correlation.
      switch (b.kind[i]! & KIND_CODE_MASK) {
        case K.call: {
          const mfa = b.mfa[i]!;
          // A function traced without return_trace never returns in the trace: after
          // NO_RETURN_AFTER calls and not one return, its calls stop opening frames (else every
          // stack would grow to maxStack, and each call would look nested in the one before).
          const calls = this.bump(mfa, 0);
          if (calls > NO_RETURN_AFTER && this.returnsOf(mfa) === 0) break;
          if (st === undefined) this.stacks[pid] = st = [];
          if (st.length >= this.maxStack * 3) {
            st.splice(0, 3);
            this.stats.framesDropped++;
          }
          st.push(id, mfa, par);
          break;
        }
        case K.return:
        case K.exception:
        case K.tail_call: {
          // A tail_call ends its frame like a return, without a result; it counts as a return, or
          // a tail-recursive function (no return at all) would be taken for one traced without
          // return_trace and its calls would stop opening frames.
          const mfa = b.mfa[i]!;
          this.bump(mfa, 1);
          if (st === undefined) break;
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
          if (pid < this.stateTraced.length && this.stateTraced[pid] === 1) this.states.add(pid, key, id, buf);
          break;
        }
        case K.state_init:
          this.markStateTraced(pid);
          break;
        case K.state: {
          this.markStateTraced(pid);
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
    const no = ++this.batches;
    this.sends.batchNo = this.receives.batchNo = this.states.batchNo = no;
    if ((no & 3) === 0) {
      this.sends.tidy();
      this.receives.tidy();
      this.states.tidy();
    }
  }

  /** Counts a call (which 0) or a return/exception (which 1) of this MFA; returns the new count. */
  private bump(mfa: number, which: 0 | 1): number {
    if (mfa === NONE) return 0;
    let a = this.mfaCounts;
    if (2 * mfa + 1 >= a.length) {
      a = new Uint32Array(Math.max(2 * mfa + 2, a.length * 2));
      a.set(this.mfaCounts);
      this.mfaCounts = a;
    }
    const k = 2 * mfa + which;
    if (a[k]! < 0xffffffff) a[k]!++;
    return a[k]!;
  }

  private returnsOf(mfa: number): number {
    return this.mfaCounts[2 * mfa + 1] ?? 0;
  }

  private markStateTraced(pid: number): void {
    if (pid >= this.stateTraced.length) {
      const grown = new Uint8Array(Math.max(pid + 1, this.stateTraced.length * 2));
      grown.set(this.stateTraced);
      this.stateTraced = grown;
    }
    this.stateTraced[pid] = 1;
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
