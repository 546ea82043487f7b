/**
 * Parses one batch from the agent (`Bin` of `{es_batch, Relay, Seq, Bin}`, see docs/agent-protocol.md)
 * LAZILY: only each event's header is read (kind, pid, timestamp, MFA, peer pid); payload terms are
 * located by skipping over their bytes and recorded as byte ranges into the batch, to be stored as
 * they arrived and decoded only when somebody looks at them.
 *
 *   const ctx = new ParseContext({ monoStart: '-576460751234567890', nativePerSec: 1e9 });
 *   const batch = parseBatch(ctx, bin);       // never throws on bad events: see batch.malformed
 *   batch.kind[i], batch.ts[i], ctx.pids.pid(batch.pid[i]), batch.payOff[i] ...
 *
 * The result is columnar (one typed array per field) because a batch holds hundreds of events and
 * the store writes columns: no object per event is ever built on this path.
 *
 * A malformed or unknown element is counted in `malformed` (the first error kept as a sample) and
 * skipped; the events around it are kept. Only when an element cannot even be skipped (its length
 * fields lie) are the elements after it lost, and they are counted too.
 */

import { inflateSync } from 'node:zlib';
import { decodeBody } from '../erlang/etf/decode.js';
import { EtfError } from '../erlang/etf/errors.js';
import { EtfCursor, skipTerm, type SplitInt } from '../erlang/etf/skip.js';
import { Pid } from '../erlang/terms.js';
import { ColumnCarver } from './columns.js';
import { AST_KIND_BIT, EVENT_KINDS, type EventKind, type Mfa } from './event.js';

/** Largest inflated size a compressed batch may declare (the agent's batches are far smaller). */
const MAX_INFLATED = 1 << 30;

/** "No value" in the u32 columns (no MFA, no peer, no payload, no link...). */
export const NONE = 0xffffffff;

// ------------------------------------------------------------------------------------------------
// Interning tables
// ------------------------------------------------------------------------------------------------

/**
 * One id per distinct pid, dense from 0. A pid met again costs a compare of its node's atom bytes
 * with the last node seen and a probe of an integer hash table on (node, id, serial, creation):
 * never a Pid object, a string or a hash over bytes. Two encodings of the same pid (PID_EXT vs
 * NEW_PID_EXT, ATOM_EXT vs SMALL_ATOM_UTF8_EXT node) still get one id: nodes are keyed by name.
 */
export class PidTable {
  private readonly list: Pid[] = [];
  private readonly byKey = new Map<string, number>();
  /** Node atom encodings seen (bytes of the whole atom term) and the node index of each. */
  private readonly nodeBytes: Uint8Array[] = [];
  private readonly nodeIndexOf: number[] = [];
  private readonly nodeNames: string[] = [];
  private lastNode = -1;
  // Open addressing on (node, id, serial, creation) → pid id + 1 (0 = empty).
  private slots = new Int32Array(4096);
  private kNode = new Int32Array(4096);
  private kId = new Uint32Array(4096);
  private kSerial = new Uint32Array(4096);
  private kCreation = new Uint32Array(4096);
  private used = 0;

  get size(): number {
    return this.list.length;
  }

  pid(id: number): Pid {
    const p = this.list[id];
    if (p === undefined) throw new RangeError(`no pid with id ${id} (${this.list.length} known)`);
    return p;
  }

  /** The id of this pid, adding it if new. */
  add(pid: Pid): number {
    const key = pid.key;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(pid);
      this.byKey.set(key, id);
    }
    return id;
  }

  /** The id of this pid if known. */
  idOf(pid: Pid): number | undefined {
    return this.byKey.get(pid.key);
  }

  /** Pids from id `from` on (for the store's dictionary deltas). */
  since(from: number): readonly Pid[] {
    return this.list.slice(from);
  }

  /**
   * The id of the pid whose encoding is buf[start, end) (NEW_PID_EXT or PID_EXT, bounds already
   * checked by the caller, e.g. EtfCursor.pidEnd).
   */
  internBytes(buf: Buffer, start: number, end: number): number {
    const tag = buf[start];
    const tail = tag === 88 ? 12 : 9;
    const ns = start + 1;
    const ne = end - tail;
    const node = this.nodeAt(buf, ns, ne);
    const id = u32be(buf, ne);
    const serial = u32be(buf, ne + 4);
    const creation = tag === 88 ? u32be(buf, ne + 8) : buf[ne + 8]!;
    const mask = this.slots.length - 1;
    let i = pidHash(node, id, serial, creation) & mask;
    for (;;) {
      const v = this.slots[i]!;
      if (v === 0) break;
      if (this.kId[i] === id && this.kSerial[i] === serial && this.kNode[i] === node && this.kCreation[i] === creation) return v - 1;
      i = (i + 1) & mask;
    }
    const pid = decodeBody(buf, start).term;
    if (!(pid instanceof Pid)) throw new EtfError('BAD_TAG', 'expected a pid', start);
    const pidId = this.add(pid);
    this.slots[i] = pidId + 1;
    this.kNode[i] = node;
    this.kId[i] = id;
    this.kSerial[i] = serial;
    this.kCreation[i] = creation;
    if (++this.used * 2 > this.slots.length) this.grow();
    return pidId;
  }

  /** Index of the node whose atom term is buf[s, e), by name. */
  private nodeAt(buf: Buffer, s: number, e: number): number {
    const n = e - s;
    const last = this.lastNode;
    if (last >= 0 && sameRange(this.nodeBytes[last]!, buf, s, n)) return this.nodeIndexOf[last]!;
    for (let k = 0; k < this.nodeBytes.length; k++) {
      if (sameRange(this.nodeBytes[k]!, buf, s, n)) {
        this.lastNode = k;
        return this.nodeIndexOf[k]!;
      }
    }
    const c = new EtfCursor(buf);
    c.pos = s;
    const name = c.atomText();
    let idx = this.nodeNames.indexOf(name);
    if (idx < 0) idx = this.nodeNames.push(name) - 1;
    this.nodeBytes.push(Uint8Array.prototype.slice.call(buf, s, e));
    this.nodeIndexOf.push(idx);
    this.lastNode = this.nodeBytes.length - 1;
    return idx;
  }

  private grow(): void {
    const old = { slots: this.slots, kNode: this.kNode, kId: this.kId, kSerial: this.kSerial, kCreation: this.kCreation };
    const size = old.slots.length * 2;
    this.slots = new Int32Array(size);
    this.kNode = new Int32Array(size);
    this.kId = new Uint32Array(size);
    this.kSerial = new Uint32Array(size);
    this.kCreation = new Uint32Array(size);
    const mask = size - 1;
    for (let j = 0; j < old.slots.length; j++) {
      const v = old.slots[j]!;
      if (v === 0) continue;
      let i = pidHash(old.kNode[j]!, old.kId[j]!, old.kSerial[j]!, old.kCreation[j]!) & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = v;
      this.kNode[i] = old.kNode[j]!;
      this.kId[i] = old.kId[j]!;
      this.kSerial[i] = old.kSerial[j]!;
      this.kCreation[i] = old.kCreation[j]!;
    }
  }
}

const u32be = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;

function pidHash(node: number, id: number, serial: number, creation: number): number {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ serial, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ creation ^ (node << 24), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

function sameRange(key: Uint8Array, buf: Uint8Array, s: number, n: number): boolean {
  if (key.length !== n) return false;
  for (let j = 0; j < n; j++) if (key[j] !== buf[s + j]) return false;
  return true;
}

/** One id per distinct {module, function, arity}, dense from 0. */
export class MfaTable {
  private readonly list: Mfa[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly cache = new ByteCache();

  get size(): number {
    return this.list.length;
  }

  mfa(id: number): Mfa {
    const m = this.list[id];
    if (m === undefined) throw new RangeError(`no MFA with id ${id} (${this.list.length} known)`);
    return m;
  }

  add(module: string, fun: string, arity: number): number {
    const key = `${module}\u0000${fun}\u0000${arity}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push({ module, fun, arity });
      this.byKey.set(key, id);
    }
    return id;
  }

  since(from: number): readonly Mfa[] {
    return this.list.slice(from);
  }

  /** Id of the MFA whose module and function atoms are buf[start, end) (two atoms in a row). */
  internBytes(buf: Buffer, start: number, end: number, arity: number, c: EtfCursor): number {
    const hit = this.cache.get(buf, start, end, arity);
    if (hit >= 0) return hit;
    const save = c.pos;
    c.pos = start;
    const m = c.atomText();
    const f = c.atomText();
    c.pos = save;
    const id = this.add(m, f, arity);
    this.cache.put(buf, start, end, arity, id);
    return id;
  }
}

/**
 * Open-addressing map from (bytes, extra int) to an id. Keys are copied in; it only grows. The hash
 * samples long keys (see keyHash) and every hit is confirmed by comparing all the bytes.
 */
class ByteCache {
  private slots = new Int32Array(1024).fill(-1);
  private hashes = new Int32Array(1024);
  private keys: Uint8Array[] = [];
  private extras: number[] = [];
  private ids: number[] = [];
  /** The last key found, tried first: consecutive events are often about the same pid or MFA. */
  private last = -1;

  get(buf: Buffer, s: number, e: number, extra: number): number {
    const n = e - s;
    const l = this.last;
    if (l >= 0 && this.extras[l] === extra && equalAt(this.keys[l]!, buf, s, n)) return this.ids[l]!;
    const h = keyHash(buf, s, e, extra);
    const mask = this.slots.length - 1;
    let i = h & mask;
    for (;;) {
      const k = this.slots[i]!;
      if (k < 0) return -1;
      if (this.hashes[i] === h && this.extras[k] === extra && equalAt(this.keys[k]!, buf, s, n)) {
        this.last = k;
        return this.ids[k]!;
      }
      i = (i + 1) & mask;
    }
  }

  put(buf: Buffer, s: number, e: number, extra: number, id: number): void {
    const k = this.keys.length;
    this.keys.push(Uint8Array.prototype.slice.call(buf, s, e));
    this.extras.push(extra);
    this.ids.push(id);
    if ((k + 1) * 2 > this.slots.length) this.rehash();
    else this.place(k);
  }

  private place(k: number): void {
    const mask = this.slots.length - 1;
    const key = this.keys[k]!;
    const h = keyHash(key, 0, key.length, this.extras[k]!);
    let i = h & mask;
    while (this.slots[i]! >= 0) i = (i + 1) & mask;
    this.slots[i] = k;
    this.hashes[i] = h;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    this.hashes = new Int32Array(this.slots.length);
    for (let k = 0; k < this.keys.length; k++) this.place(k);
  }
}

function equalAt(key: Uint8Array, buf: Uint8Array, s: number, n: number): boolean {
  if (key.length !== n) return false;
  for (let j = n - 1; j >= 0; j--) if (key[j] !== buf[s + j]) return false;
  return true;
}

/**
 * Hash of a small key: all of it up to 24 bytes, else six 4-byte words (its first 8 and last 16
 * bytes) and its length. For a pid that is the tag, the node's length and the id/serial/creation
 * words; for module and function atoms, their lengths, the module's start and the function's end.
 */
function keyHash(buf: Uint8Array, s: number, e: number, extra: number): number {
  let h = (0x811c9dc5 ^ extra ^ ((e - s) << 8)) | 0;
  if (e - s <= 24) {
    for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  } else {
    h = mixWord(h, buf, s);
    h = mixWord(h, buf, s + 4);
    h = mixWord(h, buf, e - 16);
    h = mixWord(h, buf, e - 12);
    h = mixWord(h, buf, e - 8);
    h = mixWord(h, buf, e - 4);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

function mixWord(h: number, b: Uint8Array, i: number): number {
  let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

// ------------------------------------------------------------------------------------------------
// Context and result
// ------------------------------------------------------------------------------------------------

export interface ParseContextOptions {
  /** The session's native monotonic start, a decimal int64 (RecordingMeta.monoStart). */
  monoStart: string | bigint;
  /** Native units per second on the traced node. */
  nativePerSec: number;
}

/** What parsing needs to keep across batches of one session: clocks and interning tables. */
export class ParseContext {
  readonly pids = new PidTable();
  readonly mfas = new MfaTable();
  readonly monoStart: bigint;
  readonly nativePerSec: number;
  private readonly msHi: number;
  private readonly msLo: number;
  /** ns per native unit when that is an integer (1 for ns clocks), else 0: the bigint path. */
  private readonly nsPerUnit: number;

  constructor(opts: ParseContextOptions) {
    this.monoStart = BigInt(opts.monoStart);
    if (!(Number.isInteger(opts.nativePerSec) && opts.nativePerSec > 0)) {
      throw new RangeError(`nativePerSec must be a positive integer, got ${opts.nativePerSec}`);
    }
    this.nativePerSec = opts.nativePerSec;
    const ms = BigInt.asIntN(64, this.monoStart);
    if (ms !== this.monoStart) throw new RangeError(`monoStart ${opts.monoStart} is not an int64`);
    this.msHi = Number(ms >> 32n);
    this.msLo = Number(ms & 0xffffffffn);
    this.nsPerUnit = 1e9 % opts.nativePerSec === 0 ? 1e9 / opts.nativePerSec : 0;
  }

  /** Nanoseconds since monoStart of a native monotonic time split as hi * 2^32 + lo. Exact. */
  tsNs(t: SplitInt): number {
    // Both halves differ by small amounts, so each product and sum below is an exact double.
    const diff = (t.hi - this.msHi) * 4294967296 + (t.lo - this.msLo);
    if (this.nsPerUnit !== 0 && Number.isSafeInteger(diff * this.nsPerUnit)) return diff * this.nsPerUnit;
    const big = ((BigInt(t.hi) << 32n) + BigInt(t.lo) - this.monoStart) * 1_000_000_000n;
    return Number(big / BigInt(this.nativePerSec));
  }
}

/** A parsed batch, by columns. Ranges point into `bin`; `NONE` marks an absent value. */
export interface ParsedBatch {
  /** The bytes the ranges point into (the batch as received, or inflated when it came compressed). */
  readonly bin: Buffer;
  readonly count: number;
  readonly kind: Uint8Array;
  readonly ts: Float64Array;
  readonly pid: Uint32Array;
  readonly mfa: Uint32Array;
  readonly peer: Uint32Array;
  readonly payOff: Uint32Array;
  readonly payLen: Uint32Array;
  /** 0, or the arity of a tuple the payload bytes are the elements of (es_limit's three fields). */
  readonly payWrap: Uint8Array;
  readonly auxOff: Uint32Array;
  readonly auxLen: Uint32Array;
  /** As payWrap, for aux (es_state's `{RawMsg, Reply}` is 2). */
  readonly auxWrap: Uint8Array;
  /** Elements that were not events we know, or were malformed. */
  readonly malformed: number;
  /** The first such problem, for the recording's errors. */
  readonly firstError: string | null;
  /** Registered names seen in `register` events: [pid id, name]. */
  readonly names: ReadonlyArray<readonly [number, string]>;
  /** Agent truncation markers are not counted here (the agent reports them in its stats). */
}

// Atom bytes compared without building strings.
const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const A_TRACE_TS = ascii('trace_ts');
const A_STATE_INIT = ascii('es_state_init');
const A_STATE = ascii('es_state');
const A_LIMIT = ascii('es_limit');
const A_AST = ascii('es_ast');

/** The Kind atoms of es_ast tuples (docs/ast.md) and the kind each becomes. */
const AST_KINDS: Readonly<Record<string, EventKind>> = {
  call: 'call',
  return: 'return',
  exception: 'exception',
  tail_call: 'tail_call',
  line: 'line',
  locals: 'locals',
  expr: 'expr',
  probe: 'probe',
};

const K = EVENT_KINDS;

/** The trace tag atoms of trace_ts messages and the kind each becomes. */
const TRACE_TAGS: Readonly<Record<string, EventKind>> = {
  call: 'call',
  return_from: 'return',
  exception_from: 'exception',
  send: 'send',
  send_to_non_existing_process: 'send_to_dead',
  receive: 'receive',
  spawn: 'spawn',
  spawned: 'spawned',
  exit: 'exit',
  link: 'link',
  unlink: 'unlink',
  getting_linked: 'getting_linked',
  getting_unlinked: 'getting_unlinked',
  register: 'register',
  unregister: 'unregister',
};

type TagTable = Array<Array<[Uint8Array, EventKind]>>;

/** Atoms by length, for a dispatch on bytes (no string per event). */
function tagTable(tags: Readonly<Record<string, EventKind>>): TagTable {
  const out: TagTable = [];
  for (const [name, kind] of Object.entries(tags)) (out[name.length] ??= []).push([ascii(name), kind]);
  return out;
}

const TAGS_BY_LEN = tagTable(TRACE_TAGS);
const AST_KINDS_BY_LEN = tagTable(AST_KINDS);

/** The kind of the atom at c.pos in `table` (moving past it), or undefined if it is not one. */
function traceTag(c: EtfCursor, table: TagTable): EventKind | undefined {
  const b = c.buf;
  const p = c.pos;
  const t = b[p];
  let n: number;
  let s: number;
  // OTP 25 writes ATOM_EXT (2-byte length) for Latin-1 atoms, later releases SMALL_ATOM_UTF8_EXT.
  if ((t === 100 || t === 118) && p + 3 <= c.end) {
    n = (b[p + 1]! << 8) | b[p + 2]!;
    s = p + 3;
  } else if ((t === 119 || t === 115) && p + 2 <= c.end) {
    n = b[p + 1]!;
    s = p + 2;
  } else return undefined;
  const cands = table[n];
  if (cands === undefined || s + n > c.end) return undefined;
  for (let k = 0; k < cands.length; k++) {
    const [bytes, kind] = cands[k]!;
    let j = 0;
    while (j < n && bytes[j] === b[s + j]) j++;
    if (j === n) {
      c.pos = s + n;
      return kind;
    }
  }
  return undefined;
}

/** Own properties only: an atom named `constructor` is not a trace tag. */
const tagByText = (t: string): EventKind | undefined => (Object.prototype.hasOwnProperty.call(TRACE_TAGS, t) ? TRACE_TAGS[t] : undefined);

class Malformed extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

export interface ParseOptions {
  /** The relay's pid: es_limit events, which name no process, are filed under it. */
  relay?: Pid;
}

/**
 * Parses a batch binary (starting with 131). Never throws for bad content: a batch that is not a
 * list at all gives zero events and one malformed count with the reason.
 */
export function parseBatch(ctx: ParseContext, bin: Buffer, opts: ParseOptions = {}): ParsedBatch {
  let buf = bin;
  let pos = 1;
  let problem: string | null = null;
  if (bin.length < 2 || bin[0] !== 131) {
    problem = `batch does not start with the version byte 131 (${bin.length} bytes)`;
  } else if (bin[1] === 80) {
    // term_to_binary(.., [compressed]): inflate once, then ranges point into the inflated bytes.
    try {
      const size = bin.readUInt32BE(2);
      if (size > MAX_INFLATED) throw new RangeError(`it declares ${size} bytes, over the ${MAX_INFLATED} accepted`);
      buf = inflateSync(bin.subarray(6), { maxOutputLength: size });
      if (buf.length !== size) problem = `compressed batch declares ${size} bytes but inflates to ${buf.length}`;
      pos = 0;
    } catch (e) {
      problem = `compressed batch does not inflate: ${(e as Error).message}`;
    }
  }
  let n = 0;
  const c = new EtfCursor(buf);
  if (problem === null) {
    c.pos = pos;
    const tag = c.peek();
    if (tag === 106) n = 0;
    else if (tag === 108 && pos + 5 <= buf.length) {
      n = buf.readUInt32BE(pos + 1);
      pos += 5;
      if (n > buf.length - pos) {
        problem = `batch list claims ${n} elements in ${buf.length - pos} bytes`;
        n = 0;
      }
    } else problem = `batch is not a list (tag ${tag} at byte ${pos})`;
  }
  const out = new Builder(buf, n);
  if (problem !== null) {
    out.malformed = 1;
    out.firstError = problem;
    return out.finish();
  }
  const relayId = opts.relay === undefined ? NONE : ctx.pids.add(opts.relay);
  c.pos = pos;
  for (let i = 0; i < n; i++) {
    const start = c.pos;
    try {
      parseEvent(ctx, c, out, relayId);
    } catch (e) {
      if (!(e instanceof EtfError || e instanceof Malformed)) throw e;
      out.malformed++;
      if (out.firstError === null) out.firstError = `event ${i} of the batch: ${e.message}`;
      out.rollback();
      try {
        c.pos = skipTerm(buf, start);
      } catch (e2) {
        // Its own length fields lie: where the next element starts is unknowable.
        const lost = n - i - 1;
        out.malformed += lost;
        if (lost > 0) out.firstError += `; the ${lost} element(s) after it could not be located: ${(e2 as Error).message}`;
        break;
      }
    }
  }
  return out.finish();
}

/** The columns being filled; one slot per element, the last one undone when it turns out bad. */
class Builder {
  count = 0;
  malformed = 0;
  firstError: string | null = null;
  readonly kind: Uint8Array;
  readonly ts: Float64Array;
  readonly pid: Uint32Array;
  readonly mfa: Uint32Array;
  readonly peer: Uint32Array;
  readonly payOff: Uint32Array;
  readonly payLen: Uint32Array;
  readonly payWrap: Uint8Array;
  readonly auxOff: Uint32Array;
  readonly auxLen: Uint32Array;
  readonly auxWrap: Uint8Array;
  readonly names: Array<readonly [number, string]> = [];
  private namesAtStart = 0;

  constructor(
    readonly bin: Buffer,
    n: number,
  ) {
    // One allocation for all the columns (typed array allocation dominates small batches).
    const c = new ColumnCarver(new ArrayBuffer(n * (8 + 8 * 4 + 3)), 0, n);
    this.ts = c.f64();
    this.pid = c.u32();
    this.mfa = c.u32();
    this.peer = c.u32();
    this.payOff = c.u32();
    this.payLen = c.u32();
    this.auxOff = c.u32();
    this.auxLen = c.u32();
    this.kind = c.u8();
    this.payWrap = c.u8();
    this.auxWrap = c.u8();
  }

  /** Starts event slot `count` with everything absent. */
  begin(): number {
    const i = this.count;
    this.namesAtStart = this.names.length;
    this.mfa[i] = NONE;
    this.peer[i] = NONE;
    this.payOff[i] = 0;
    this.payLen[i] = NONE;
    this.payWrap[i] = 0;
    this.auxOff[i] = 0;
    this.auxLen[i] = NONE;
    this.auxWrap[i] = 0;
    return i;
  }

  commit(): void {
    this.count++;
  }

  rollback(): void {
    this.names.length = this.namesAtStart;
  }

  /** Applies processOrder to every column, when it finds something out of order. */
  private inProcessOrder(n: number): void {
    const order = processOrder(n, this.ts, this.pid, this.kind);
    if (order === null) return;
    const apply = <T extends Uint8Array | Uint32Array | Float64Array>(col: T): void => {
      const copy = col.slice(0, n);
      for (let i = 0; i < n; i++) col[i] = copy[order[i]!]!;
    };
    for (const col of [this.kind, this.ts, this.pid, this.mfa, this.peer, this.payOff, this.payLen, this.payWrap, this.auxOff, this.auxLen, this.auxWrap]) apply(col);
  }

  finish(): ParsedBatch {
    const n = this.count;
    this.inProcessOrder(n);
    const cut = <T extends Uint8Array | Uint32Array | Float64Array>(a: T): T => (a.length === n ? a : (a.subarray(0, n) as T));
    return {
      bin: this.bin,
      count: n,
      kind: cut(this.kind),
      ts: cut(this.ts),
      pid: cut(this.pid),
      mfa: cut(this.mfa),
      peer: cut(this.peer),
      payOff: cut(this.payOff),
      payLen: cut(this.payLen),
      payWrap: cut(this.payWrap),
      auxOff: cut(this.auxOff),
      auxLen: cut(this.auxLen),
      auxWrap: cut(this.auxWrap),
      malformed: this.malformed,
      firstError: this.firstError,
      names: this.names,
    };
  }
}

/**
 * Each process's runtime and AST events in the order of their own timestamps. The BEAM does not
 * keep a traced process's trace messages in order with the messages the same process sends the
 * relay itself: a runtime `call` has been seen arriving after an AST `locals` event it came before
 * (and a `return` after the next call's AST event), which would give those AST events the wrong
 * parent. So, within a batch, a process whose timestamps go backwards from one source to the other
 * gets its slots filled again with its events sorted by timestamp (stable); other processes, and
 * the interleaving of processes, stay as they arrived (the trace stream alone is in order). One
 * comparison per event when nothing is out of order (the usual case).
 */
function processOrder(n: number, ts: Float64Array, pid: Uint32Array, kind: Uint8Array): Uint32Array | null {
  let backwards = false;
  for (let i = 1; i < n && !backwards; i++) backwards = ts[i]! < ts[i - 1]!;
  if (!backwards) return null;
  const slots = new Map<number, number[]>();
  const disordered = new Set<number>();
  for (let i = 0; i < n; i++) {
    const p = pid[i]!;
    const own = slots.get(p);
    if (own === undefined) slots.set(p, [i]);
    else {
      const prev = own[own.length - 1]!;
      if (ts[i]! < ts[prev]! && (kind[i]! & AST_KIND_BIT) !== (kind[prev]! & AST_KIND_BIT)) disordered.add(p);
      own.push(i);
    }
  }
  if (disordered.size === 0) return null;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (const p of disordered) {
    const own = slots.get(p)!;
    const sorted = [...own].sort((x, y) => ts[x]! - ts[y]! || x - y);
    own.forEach((slot, k) => (order[slot] = sorted[k]!));
  }
  return order;
}

const split: SplitInt = { hi: 0, lo: 0 };

function readTs(ctx: ParseContext, c: EtfCursor): number {
  c.int64(split);
  return ctx.tsNs(split);
}

function pidAt(ctx: ParseContext, c: EtfCursor): number {
  const s = c.pos;
  const e = c.pidEnd();
  c.pos = e;
  return ctx.pids.internBytes(c.buf, s, e);
}

/** Records the term here as a range (payload when `aux` is false) and moves past it. */
function range(out: Builder, i: number, c: EtfCursor, aux: boolean): void {
  const s = c.pos;
  const e = c.skip();
  if (aux) {
    out.auxOff[i] = s;
    out.auxLen[i] = e - s;
  } else {
    out.payOff[i] = s;
    out.payLen[i] = e - s;
  }
}

/** Reads `{M, F, Args | Arity}` here (only `Arity` when `arityOnly`); sets mfa. Moves past the tuple. */
function mfaTuple(ctx: ParseContext, c: EtfCursor, out: Builder, i: number, argsAsPayload: boolean, arityOnly = false): void {
  const at = c.pos;
  if (c.tupleArity() !== 3) throw new Malformed('expected a {Module, Function, Args} tuple', at);
  const ms = c.pos;
  c.skipAtom();
  c.skipAtom();
  const fe = c.pos;
  const t = c.peek();
  let arity: number;
  if (t === 97 || t === 98) {
    c.int64(split);
    arity = split.lo;
    if (split.hi !== 0 || arity > 255) throw new Malformed(`arity ${arity} out of range`, fe);
  } else {
    if (arityOnly) throw new Malformed('the arity in {Module, Function, Arity} is not an integer', fe);
    arity = c.listLength();
    if (argsAsPayload) range(out, i, c, false);
    else c.skip();
  }
  out.mfa[i] = ctx.mfas.internBytes(c.buf, ms, fe, arity, c);
}

function parseEvent(ctx: ParseContext, c: EtfCursor, out: Builder, relayId: number): void {
  const at = c.pos;
  const arity = c.tupleArity();
  const i = out.begin();
  if (c.atomIs(A_TRACE_TS)) {
    c.skipAtom();
    if (arity !== 5 && arity !== 6) throw new Malformed(`trace_ts tuple of ${arity} elements`, at);
    if (!c.atPid()) throw new Malformed('trace_ts of something that is not a pid (port tracing is not supported)', c.pos);
    out.pid[i] = pidAt(ctx, c);
    const tagAt = c.pos;
    // Fast path on the bytes of the usual tags; anything else (or another atom encoding) by text.
    const kind = traceTag(c, TAGS_BY_LEN) ?? tagByText(c.atomText());
    if (kind === undefined) {
      c.pos = tagAt;
      throw new Malformed(`unknown trace tag ${c.atomText()}`, tagAt);
    }
    const tag = kind;
    const want = kind === 'return' || kind === 'exception' || kind === 'send' || kind === 'send_to_dead' || kind === 'spawn' || kind === 'spawned' ? 6 : 5;
    // A call traced with a match-spec `message` action carries one more element; it is ignored.
    if (arity !== want && !(kind === 'call' && arity === 6)) throw new Malformed(`trace_ts ${tag} with ${arity} elements`, at);
    out.kind[i] = K[kind];
    switch (kind) {
      case 'call':
        mfaTuple(ctx, c, out, i, true);
        if (arity === 6) c.skip();
        break;
      case 'return':
      case 'exception':
        mfaTuple(ctx, c, out, i, false);
        range(out, i, c, false);
        break;
      case 'send':
      case 'send_to_dead':
        range(out, i, c, false);
        if (c.atPid()) out.peer[i] = pidAt(ctx, c);
        else range(out, i, c, true); // a registered name, {Name, Node}, an alias: kept as aux
        break;
      case 'spawn':
      case 'spawned': {
        if (!c.atPid()) throw new Malformed(`${tag}: expected a pid`, c.pos);
        out.peer[i] = pidAt(ctx, c);
        const s = c.pos;
        mfaTuple(ctx, c, out, i, false);
        out.payOff[i] = s;
        out.payLen[i] = c.pos - s;
        break;
      }
      case 'link':
      case 'unlink':
      case 'getting_linked':
      case 'getting_unlinked':
        // Usually a pid; a port is kept as the payload instead, so nothing is lost.
        if (c.atPid()) out.peer[i] = pidAt(ctx, c);
        else range(out, i, c, false);
        break;
      case 'register': {
        const s = c.pos;
        const name = c.atomText();
        out.payOff[i] = s;
        out.payLen[i] = c.pos - s;
        out.names.push([out.pid[i]!, name]);
        break;
      }
      default: // receive, exit, unregister: one term
        range(out, i, c, false);
        break;
    }
    out.ts[i] = readTs(ctx, c);
  } else if (c.atomIs(A_STATE)) {
    c.skipAtom();
    if (arity !== 6) throw new Malformed(`es_state tuple of ${arity} elements`, at);
    out.kind[i] = K.state;
    if (!c.atPid()) throw new Malformed('es_state: expected a pid', c.pos);
    out.pid[i] = pidAt(ctx, c);
    out.ts[i] = readTs(ctx, c);
    // RawMsg and Reply are adjacent: together they are the elements of the aux tuple {RawMsg, Reply}.
    const s = c.pos;
    c.skip();
    c.skip();
    out.auxOff[i] = s;
    out.auxLen[i] = c.pos - s;
    out.auxWrap[i] = 2;
    range(out, i, c, false);
  } else if (c.atomIs(A_STATE_INIT)) {
    c.skipAtom();
    if (arity !== 4) throw new Malformed(`es_state_init tuple of ${arity} elements`, at);
    out.kind[i] = K.state_init;
    if (!c.atPid()) throw new Malformed('es_state_init: expected a pid', c.pos);
    out.pid[i] = pidAt(ctx, c);
    out.ts[i] = readTs(ctx, c);
    range(out, i, c, false);
  } else if (c.atomIs(A_LIMIT)) {
    c.skipAtom();
    if (arity !== 5) throw new Malformed(`es_limit tuple of ${arity} elements`, at);
    if (relayId === NONE) throw new Malformed('es_limit but the relay pid is unknown (pass opts.relay)', at);
    out.kind[i] = K.limit;
    out.pid[i] = relayId;
    out.ts[i] = readTs(ctx, c);
    const s = c.pos;
    c.skip();
    c.skip();
    c.skip();
    out.payOff[i] = s;
    out.payLen[i] = c.pos - s;
    out.payWrap[i] = 3;
  } else if (c.atomIs(A_AST)) {
    c.skipAtom();
    parseAst(ctx, c, out, i, arity, at);
  } else {
    throw new Malformed('not an event the agent sends (trace_ts, es_state, es_state_init, es_limit, es_ast)', at);
  }
  out.commit();
}

/**
 * `{es_ast, Pid, Ts, Kind, {M, F, A}, Line, Payload}` from instrumented code (docs/ast.md), the tag
 * already read. The Kind atom is read as text: AST events are far rarer than trace messages, and
 * their kinds are checked against an own-property table (an atom `constructor` is not a kind).
 */
function parseAst(ctx: ParseContext, c: EtfCursor, out: Builder, i: number, arity: number, at: number): void {
  if (arity !== 7) throw new Malformed(`es_ast tuple of ${arity} elements (expected {es_ast, Pid, Ts, Kind, {M, F, A}, Line, Payload})`, at);
  if (!c.atPid()) throw new Malformed('es_ast: expected a pid', c.pos);
  out.pid[i] = pidAt(ctx, c);
  out.ts[i] = readTs(ctx, c);
  const kindAt = c.pos;
  // Bytes first (no string per event); another encoding of the same atom, by text.
  let kind = traceTag(c, AST_KINDS_BY_LEN);
  if (kind === undefined) {
    const name = c.atomText();
    kind = Object.prototype.hasOwnProperty.call(AST_KINDS, name) ? AST_KINDS[name] : undefined;
    if (kind === undefined) {
      throw new Malformed(`es_ast of unknown kind ${name} (expected one of ${Object.keys(AST_KINDS).join(', ')})`, kindAt);
    }
  }
  out.kind[i] = K[kind] | AST_KIND_BIT;
  mfaTuple(ctx, c, out, i, false, true);
  const lt = c.peek();
  if (lt !== 97 && lt !== 98) throw new Malformed('es_ast: Line is not an integer', c.pos);
  range(out, i, c, true);
  range(out, i, c, false);
}

/** The bytes of a range, wrapped in a tuple header when `wrap` > 0 (ETF body, no 131). */
export function rangeBytes(bin: Buffer, off: number, len: number, wrap: number): Buffer {
  const s = bin.subarray(off, off + len);
  if (wrap === 0) return s;
  const out = Buffer.allocUnsafe(len + 2);
  out[0] = 104;
  out[1] = wrap;
  s.copy(out, 2);
  return out;
}

