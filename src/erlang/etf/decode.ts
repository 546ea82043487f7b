/**
 * External Term Format decoder.
 *
 *   decode(Buffer.from([131, 104, 2, 119, 2, 111, 107, 97, 42]))   // => Tuple [Atom ok, 42]
 *
 * Decoding is the engine's hottest path (every traced event arrives as ETF), so this file is written
 * for speed first, and for hostile input always:
 *
 * - One loop with an explicit stack instead of recursion: a term nested a million deep decodes like a
 *   flat one and can never overflow the JavaScript stack; `maxDepth` bounds the stack instead.
 * - Every length is checked against the bytes that are left BEFORE anything is allocated. Counts of
 *   elements are checked against a running total of the element slots that open containers still
 *   have to fill (each needs at least one byte), so nested containers cannot claim the same bytes
 *   twice: what is allocated is bounded by a small multiple of the input size.
 * - Compressed terms inflate with a limit equal to their declared size (itself capped by
 *   `maxCompressedSize`), and the inflated size must equal the declared one.
 * - Atoms are looked up by their bytes in a small direct-mapped cache, without building a string.
 *
 * Every failure is an EtfError with the byte offset where it was found; nothing else is thrown.
 */

import { inflateSync, type Inflate } from 'node:zlib';
import {
  Atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  Fun,
  ImproperList,
  LocalTerm,
  Pid,
  Port,
  Reference,
  Tuple,
  type Term,
} from '../terms.js';
import { EtfError, type EtfErrorCode } from './errors.js';
import { tagName } from './tags.js';

// ------------------------------------------------------------------------------------------------
// PUBLIC
// ------------------------------------------------------------------------------------------------

export interface DecodeOptions {
  /**
   * Resolves ATOM_CACHE_REF (tag 82) in distribution messages: index i is the atom of the i-th atom
   * cache reference of the message's distribution header. Without it, tag 82 is an error.
   */
  atomCache?: ReadonlyArray<Atom | undefined>;
  /** Most containers (tuples, lists, maps, funs) open at once. Default 1,000,000. */
  maxDepth?: number;
  /** Largest inflated size a compressed term may declare. Default 1 GiB. */
  maxCompressedSize?: number;
  /**
   * Binaries (and LocalTerm bytes) share the input's memory instead of being copied. Faster, but the
   * terms then keep the whole input alive and change if the input is overwritten. Default false.
   */
  zeroCopy?: boolean;
}

export const DEFAULT_MAX_DEPTH = 1_000_000;
export const DEFAULT_MAX_COMPRESSED_SIZE = 1024 * 1024 * 1024;

/** Decodes one whole term that starts with the version byte 131; trailing bytes are an error. */
export function decode(buf: Uint8Array, opts?: DecodeOptions): Term {
  const b = asBuffer(buf);
  const { term, end } = decodeAt(b, 0, opts);
  if (end !== b.length) {
    throw new EtfError('TRAILING_BYTES', `${b.length - end} byte(s) after the end of the term`, end);
  }
  return term;
}

/** Decodes the 131-prefixed term that starts at `offset`; `end` is the offset just after it. */
export function decodeAt(buf: Uint8Array, offset: number, opts?: DecodeOptions): { term: Term; end: number } {
  const b = asBuffer(buf);
  checkOffset(b, offset);
  if (offset >= b.length) throw new EtfError('TRUNCATED', 'empty input: expected the version byte 131', offset);
  if (b[offset] !== 131) {
    throw new EtfError('BAD_VERSION', `expected the version byte 131, found ${b[offset]}`, offset);
  }
  return decodeBody(b, offset + 1, opts);
}

/** Decodes a term without the version byte (as in distribution messages), starting at `offset`. */
export function decodeBody(buf: Uint8Array, offset: number, opts?: DecodeOptions): { term: Term; end: number } {
  const b = asBuffer(buf);
  checkOffset(b, offset);
  const r = new Reader(b, opts);
  const term = readTop(r, offset);
  return { term, end: r.pos };
}

// ------------------------------------------------------------------------------------------------
// PRIVATE: reader state and small helpers
// ------------------------------------------------------------------------------------------------

function asBuffer(buf: Uint8Array): Buffer {
  if (Buffer.isBuffer(buf)) return buf;
  if (buf instanceof Uint8Array) return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new TypeError('decode: expected a Buffer or Uint8Array');
}

function checkOffset(b: Buffer, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > b.length) {
    throw new RangeError(`decode: offset ${offset} is outside the input (0..${b.length})`);
  }
}

class Reader {
  readonly end: number;
  readonly maxDepth: number;
  readonly maxCompressedSize: number;
  readonly atomCache: ReadonlyArray<Atom | undefined> | undefined;
  readonly zeroCopy: boolean;
  private dv: DataView | undefined;
  /** Position after the last thing read by a helper (helpers return one value; this is the second). */
  pos = 0;

  constructor(
    readonly buf: Buffer,
    opts: DecodeOptions | undefined,
  ) {
    this.end = buf.length;
    this.maxDepth = opts?.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxCompressedSize = opts?.maxCompressedSize ?? DEFAULT_MAX_COMPRESSED_SIZE;
    this.atomCache = opts?.atomCache;
    this.zeroCopy = opts?.zeroCopy === true;
  }

  float64(at: number): number {
    let dv = this.dv;
    if (dv === undefined) dv = this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return dv.getFloat64(at);
  }

  bytes(start: number, n: number): Buffer {
    if (this.zeroCopy) return this.buf.subarray(start, start + n);
    return copyBytes(this.buf, start, n);
  }

  /** Reads an atom term (any atom tag) at `at` where the format requires one; sets `pos` after it. */
  atomField(at: number, what: string): Atom {
    const buf = this.buf;
    const end = this.end;
    if (at >= end) throw truncated(at, what);
    const tag = buf[at]!;
    let n: number;
    let s: number;
    switch (tag) {
      case 119: // SMALL_ATOM_UTF8_EXT
      case 115: // SMALL_ATOM_EXT
        if (at + 2 > end) throw truncated(at, what);
        n = buf[at + 1]!;
        s = at + 2;
        break;
      case 118: // ATOM_UTF8_EXT
      case 100: // ATOM_EXT
        if (at + 3 > end) throw truncated(at, what);
        n = (buf[at + 1]! << 8) | buf[at + 2]!;
        s = at + 3;
        break;
      case 82: // ATOM_CACHE_REF
        if (at + 2 > end) throw truncated(at, what);
        this.pos = at + 2;
        return this.cachedAtom(buf[at + 1]!, at);
      default:
        throw new EtfError('BAD_TAG', `${what}: expected an atom, found ${tagName(tag)}`, at);
    }
    if (n > end - s) throw truncated(at, what);
    this.pos = s + n;
    return atomFrom(buf, s, n, tag >= 118, at);
  }

  cachedAtom(index: number, at: number): Atom {
    const cache = this.atomCache;
    if (cache === undefined) {
      throw new EtfError('ATOM_CACHE', `ATOM_CACHE_REF ${index} but no atom cache was given (pass opts.atomCache)`, at);
    }
    const a = cache[index];
    if (!(a instanceof Atom)) throw new EtfError('ATOM_CACHE', `ATOM_CACHE_REF ${index} refers to no cached atom`, at);
    return a;
  }

  /** SMALL_INTEGER_EXT or INTEGER_EXT at `at` (fun fields OldIndex, OldUniq); sets `pos`. */
  smallIntField(at: number, what: string): number {
    const buf = this.buf;
    if (at >= this.end) throw truncated(at, what);
    const tag = buf[at];
    if (tag === 97) {
      if (at + 2 > this.end) throw truncated(at, what);
      this.pos = at + 2;
      return buf[at + 1]!;
    }
    if (tag === 98) {
      if (at + 5 > this.end) throw truncated(at, what);
      this.pos = at + 5;
      return buf.readInt32BE(at + 1);
    }
    throw new EtfError('BAD_TAG', `${what}: expected SMALL_INTEGER_EXT or INTEGER_EXT, found ${tagName(tag!)}`, at);
  }

  /** A pid term (NEW_PID_EXT or PID_EXT) at `at`; sets `pos`. */
  pidField(at: number, what: string): Pid {
    if (at >= this.end) throw truncated(at, what);
    const tag = this.buf[at];
    if (tag === 88) return this.newPid(at);
    if (tag === 103) return this.oldPid(at);
    throw new EtfError('BAD_TAG', `${what}: expected a pid, found ${tagName(tag!)}`, at);
  }

  newPid(at: number): Pid {
    const node = this.atomField(at + 1, 'NEW_PID_EXT node');
    const p = this.pos;
    if (p + 12 > this.end) throw truncated(at, 'NEW_PID_EXT');
    const buf = this.buf;
    this.pos = p + 12;
    return new Pid(node, u32(buf, p), u32(buf, p + 4), u32(buf, p + 8));
  }

  oldPid(at: number): Pid {
    const node = this.atomField(at + 1, 'PID_EXT node');
    const p = this.pos;
    if (p + 9 > this.end) throw truncated(at, 'PID_EXT');
    const buf = this.buf;
    this.pos = p + 9;
    return new Pid(node, u32(buf, p), u32(buf, p + 4), buf[p + 8]!);
  }

  port(at: number, tag: number): Port {
    const buf = this.buf;
    const node = this.atomField(at + 1, `${tagName(tag)} node`);
    const p = this.pos;
    if (tag === 89) {
      if (p + 8 > this.end) throw truncated(at, 'NEW_PORT_EXT');
      this.pos = p + 8;
      return new Port(node, BigInt(u32(buf, p)), u32(buf, p + 4));
    }
    if (tag === 120) {
      if (p + 12 > this.end) throw truncated(at, 'V4_PORT_EXT');
      this.pos = p + 12;
      return new Port(node, buf.readBigUInt64BE(p), u32(buf, p + 8));
    }
    if (p + 5 > this.end) throw truncated(at, 'PORT_EXT');
    this.pos = p + 5;
    return new Port(node, BigInt(u32(buf, p)), buf[p + 4]!);
  }

  reference(at: number, tag: number): Reference {
    const buf = this.buf;
    const end = this.end;
    if (tag === 101) {
      // REFERENCE_EXT: Node, ID:32, Creation:8
      const node = this.atomField(at + 1, 'REFERENCE_EXT node');
      const p = this.pos;
      if (p + 5 > end) throw truncated(at, 'REFERENCE_EXT');
      this.pos = p + 5;
      return new Reference(node, buf[p + 4]!, [u32(buf, p)]);
    }
    // NEWER_REFERENCE_EXT (Creation:32) and NEW_REFERENCE_EXT (Creation:8): Len:16, Node, Creation, ID*Len
    if (at + 3 > end) throw truncated(at, tagName(tag));
    const len = (buf[at + 1]! << 8) | buf[at + 2]!;
    if (len > 5) throw new EtfError('BAD_LENGTH', `${tagName(tag)} with ${len} id words (at most 5)`, at);
    const node = this.atomField(at + 3, `${tagName(tag)} node`);
    let p = this.pos;
    const csize = tag === 90 ? 4 : 1;
    if (p + csize + 4 * len > end) throw truncated(at, tagName(tag));
    const creation = tag === 90 ? u32(buf, p) : buf[p]!;
    p += csize;
    const ids = new Array<number>(len);
    for (let i = 0; i < len; i++, p += 4) ids[i] = u32(buf, p);
    this.pos = p;
    return new Reference(node, creation, ids);
  }

  exportFun(at: number): ExportFun {
    const module = this.atomField(at + 1, 'EXPORT_EXT module');
    const fun = this.atomField(this.pos, 'EXPORT_EXT function');
    const p = this.pos;
    const arity = this.smallIntField(p, 'EXPORT_EXT arity');
    if (arity < 0 || arity > 255) throw new EtfError('BAD_VALUE', `EXPORT_EXT arity ${arity} is not 0..255`, p);
    return new ExportFun(module, fun, arity);
  }

  /** NEW_FUN_EXT up to its free variables; sets `pos` at the first free variable. */
  funHeader(at: number): FunHeader {
    const buf = this.buf;
    if (at + 30 > this.end) throw truncated(at, 'NEW_FUN_EXT');
    const size = u32(buf, at + 1);
    if (size > this.end - (at + 1)) {
      throw new EtfError('BAD_LENGTH', `NEW_FUN_EXT claims ${size} bytes but only ${this.end - at - 1} remain`, at);
    }
    const arity = buf[at + 5]!;
    const uniq = copyBytes(buf, at + 6, 16);
    const index = u32(buf, at + 22);
    const numFree = u32(buf, at + 26);
    const module = this.atomField(at + 30, 'NEW_FUN_EXT module');
    const oldIndex = this.smallIntField(this.pos, 'NEW_FUN_EXT OldIndex');
    const oldUniq = this.smallIntField(this.pos, 'NEW_FUN_EXT OldUniq');
    const pid = this.pidField(this.pos, 'NEW_FUN_EXT Pid');
    return { at, end: at + 1 + size, arity, uniq, index, numFree, module, oldIndex, oldUniq, pid };
  }
}

interface FunHeader {
  at: number;
  /** Where the fun must end according to its Size field. */
  end: number;
  arity: number;
  uniq: Buffer;
  index: number;
  numFree: number;
  module: Atom;
  oldIndex: number;
  oldUniq: number;
  pid: Pid;
}

function makeFun(h: FunHeader, freeVars: Term[], pos: number): Fun {
  if (pos !== h.end) {
    throw new EtfError('BAD_LENGTH', `NEW_FUN_EXT Size says it ends at byte ${h.end} but it ends at byte ${pos}`, h.at);
  }
  return new Fun(h.arity, h.uniq, h.index, h.module, h.oldIndex, h.oldUniq, h.pid, freeVars);
}

const u32 = (buf: Buffer, p: number): number =>
  ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;

function copyBytes(buf: Buffer, start: number, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(n);
  if (n <= 32) {
    for (let i = 0; i < n; i++) out[i] = buf[start + i]!;
  } else {
    buf.copy(out, 0, start, start + n);
  }
  return out;
}

function truncated(at: number, what: string): EtfError {
  return new EtfError('TRUNCATED', `input ends inside ${what}`, at);
}

function fail(code: EtfErrorCode, message: string, at: number): EtfError {
  return new EtfError(code, message, at);
}

// ------------------------------------------------------------------------------------------------
// PRIVATE: atoms
// ------------------------------------------------------------------------------------------------

/**
 * Direct-mapped cache from an atom's bytes to the interned Atom. Only ASCII names are cached, so the
 * same bytes mean the same atom whatever the tag (Latin-1 or UTF-8). A miss costs one string.
 */
const ATOM_CACHE_SIZE = 4096;
const ATOM_CACHE_MASK = ATOM_CACHE_SIZE - 1;
const atomCacheKeys: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(ATOM_CACHE_SIZE).fill(undefined);
const atomCacheAtoms: Array<Atom | undefined> = new Array<Atom | undefined>(ATOM_CACHE_SIZE).fill(undefined);
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function atomFrom(buf: Buffer, s: number, n: number, utf8: boolean, at: number): Atom {
  // The slot comes from the length and a few bytes; the comparison with the cached bytes is exact.
  let h = n;
  if (n > 0) {
    const e = s + n - 1;
    h = Math.imul(h ^ buf[s]!, 0x01000193);
    h = Math.imul(h ^ buf[e]!, 0x01000193);
    h = Math.imul(h ^ buf[s + (n >> 1)]!, 0x01000193);
    h = Math.imul(h ^ buf[e - (n >> 2)]!, 0x01000193);
  }
  const slot = (h ^ (h >>> 15)) & ATOM_CACHE_MASK;
  const key = atomCacheKeys[slot];
  if (key !== undefined && key.length === n) {
    let i = 0;
    while (i < n && key[i] === buf[s + i]) i++;
    if (i === n) return atomCacheAtoms[slot]!;
  }
  let hi = 0;
  for (let i = 0; i < n; i++) hi |= buf[s + i]!;
  if (hi < 0x80) {
    if (n > 255) throw fail('BAD_VALUE', `atom of ${n} characters (at most 255)`, at);
    const a = Atom.of(buf.toString('latin1', s, s + n));
    const copy = new Uint8Array(n);
    for (let i = 0; i < n; i++) copy[i] = buf[s + i]!;
    atomCacheKeys[slot] = copy;
    atomCacheAtoms[slot] = a;
    return a;
  }
  let name: string;
  if (utf8) {
    try {
      name = utf8Strict.decode(buf.subarray(s, s + n));
    } catch {
      throw fail('BAD_VALUE', 'atom text is not valid UTF-8', at);
    }
    let chars = 0;
    for (const _ of name) chars++;
    if (chars > 255) throw fail('BAD_VALUE', `atom of ${chars} characters (at most 255)`, at);
  } else {
    if (n > 255) throw fail('BAD_VALUE', `atom of ${n} characters (at most 255)`, at);
    name = buf.toString('latin1', s, s + n);
  }
  return Atom.of(name);
}

// ------------------------------------------------------------------------------------------------
// PRIVATE: numbers
// ------------------------------------------------------------------------------------------------

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Little-endian magnitude of n bytes at s: a number when it is a safe integer, a bigint beyond. */
function readBig(buf: Buffer, s: number, n: number, neg: boolean): number | bigint {
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[s + i]!;
    return neg && v !== 0 ? -v : v;
  }
  if (n <= 8) {
    const lo = (buf[s]! | (buf[s + 1]! << 8) | (buf[s + 2]! << 16) | (buf[s + 3]! << 24)) >>> 0;
    let hi = 0;
    for (let i = n - 1; i >= 4; i--) hi = hi * 256 + buf[s + i]!;
    if (hi < 0x200000) {
      const v = hi * 4294967296 + lo;
      return neg && v !== 0 ? -v : v;
    }
    const b = (BigInt(hi) << 32n) | BigInt(lo);
    return neg ? -b : b;
  }
  let top = n;
  while (top > 8 && buf[s + top - 1] === 0) top--;
  if (top <= 8) return readBig(buf, s, top, neg);
  const parts = new Array<string>(top);
  for (let i = 0; i < top; i++) parts[i] = HEX[buf[s + top - 1 - i]!]!;
  const b = BigInt('0x' + parts.join(''));
  return neg ? -b : b;
}

const FLOAT_TEXT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

function oldFloat(buf: Buffer, s: number, at: number): number {
  let e = s;
  while (e < s + 31 && buf[e] !== 0) e++;
  const text = buf.toString('latin1', s, e);
  const v = FLOAT_TEXT.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(v)) throw fail('BAD_VALUE', `FLOAT_EXT text ${JSON.stringify(text)} is not a finite float`, at);
  return v;
}

// ------------------------------------------------------------------------------------------------
// PRIVATE: the term loop
// ------------------------------------------------------------------------------------------------

function readTop(r: Reader, pos: number): Term {
  if (pos >= r.end) throw truncated(pos, 'a term');
  const tag = r.buf[pos];
  if (tag === 80) return readCompressed(r, pos);
  if (tag === 121) {
    // LOCAL_EXT: "the bytes following from here on may contain any unspecified type of encoding",
    // so its extent is the rest of the input.
    r.pos = r.end;
    return new LocalTerm(r.bytes(pos + 1, r.end - pos - 1));
  }
  return readTerm(r, pos);
}

function readCompressed(r: Reader, pos: number): Term {
  const buf = r.buf;
  if (pos + 5 > r.end) throw truncated(pos, 'COMPRESSED header');
  const size = u32(buf, pos + 1);
  if (size > r.maxCompressedSize) {
    throw fail('TOO_LARGE', `compressed term declares ${size} bytes, over maxCompressedSize ${r.maxCompressedSize}`, pos);
  }
  if (size === 0) throw fail('BAD_LENGTH', 'compressed term declares 0 bytes', pos);
  let inflated: Buffer;
  let consumed: number;
  try {
    const res = inflateSync(buf.subarray(pos + 5, r.end), { maxOutputLength: size, info: true }) as unknown as {
      buffer: Buffer;
      engine: Inflate;
    };
    inflated = res.buffer;
    consumed = res.engine.bytesWritten;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw fail('BAD_ZLIB', `compressed data inflates to more than the declared ${size} bytes`, pos);
    }
    throw fail('BAD_ZLIB', `corrupt zlib data: ${(e as Error).message}`, pos + 5);
  }
  if (inflated.length !== size) {
    throw fail('BAD_ZLIB', `compressed term declares ${size} bytes but inflates to ${inflated.length}`, pos);
  }
  // The inflated buffer is ours alone, so its binaries can be views of it without copying.
  const inner = new Reader(inflated, { maxDepth: r.maxDepth, atomCache: r.atomCache, zeroCopy: true });
  let term: Term;
  try {
    term = readTop(inner, 0);
    if (inner.pos !== size) {
      throw fail('TRAILING_BYTES', `${size - inner.pos} byte(s) after the term`, inner.pos);
    }
  } catch (e) {
    if (e instanceof EtfError) {
      const detail = e.message.replace(/ \(at byte \d+\)$/, '');
      throw fail(e.code, `in compressed data at inflated byte ${e.offset}: ${detail}`, pos);
    }
    throw e;
  }
  r.pos = pos + 5 + consumed;
  return term;
}

const K_TUPLE = 0;
const K_LIST = 1;
const K_MAP = 2;
const K_FUN = 3;

/**
 * The loop. Scalars are read inline; a container pushes a frame (kind, array to fill, next index,
 * length) and the loop goes on with its first element. Each finished value is stored into the top
 * frame; a frame that is full becomes a value itself and is stored into the frame below.
 */
function readTerm(r: Reader, start: number): Term {
  const buf = r.buf;
  const end = r.end;
  const maxDepth = r.maxDepth;
  const kinds: number[] = [];
  const arrs: Term[][] = [];
  const idxs: number[] = [];
  const lens: number[] = [];
  const funs: Array<FunHeader | undefined> = [];
  let sp = 0;
  /** Element slots of open containers not started yet; each needs at least one more byte. */
  let pending = 0;
  let pos = start;
  let value: Term;
  let n = 0;
  let kind = 0;
  let fh: FunHeader | undefined;

  for (;;) {
    if (pos >= end) throw truncated(pos, 'a term');
    if (sp > 0) pending--; // this slot has started: its bytes are the ones read now
    const at = pos;
    const tag = buf[pos]!;
    // Scalars `break` to the store step below; containers set n/kind and fall to `open`.
    open: {
      switch (tag) {
        case 97: // SMALL_INTEGER_EXT
          if (pos + 2 > end) throw truncated(pos, 'SMALL_INTEGER_EXT');
          value = buf[pos + 1]!;
          pos += 2;
          break open;
        case 98: // INTEGER_EXT
          if (pos + 5 > end) throw truncated(pos, 'INTEGER_EXT');
          value = (buf[pos + 1]! << 24) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!;
          pos += 5;
          break open;
        case 119: // SMALL_ATOM_UTF8_EXT
        case 115: {
          // SMALL_ATOM_EXT
          if (pos + 2 > end) throw truncated(pos, 'atom');
          const len = buf[pos + 1]!;
          const s = pos + 2;
          if (len > end - s) throw truncated(pos, 'atom');
          value = atomFrom(buf, s, len, tag === 119, pos);
          pos = s + len;
          break open;
        }
        case 100: // ATOM_EXT
        case 118: {
          // ATOM_UTF8_EXT
          if (pos + 3 > end) throw truncated(pos, 'atom');
          const len = (buf[pos + 1]! << 8) | buf[pos + 2]!;
          const s = pos + 3;
          if (len > end - s) throw truncated(pos, 'atom');
          value = atomFrom(buf, s, len, tag === 118, pos);
          pos = s + len;
          break open;
        }
        case 82: // ATOM_CACHE_REF
          if (pos + 2 > end) throw truncated(pos, 'ATOM_CACHE_REF');
          value = r.cachedAtom(buf[pos + 1]!, pos);
          pos += 2;
          break open;
        case 104: // SMALL_TUPLE_EXT
          if (pos + 2 > end) throw truncated(pos, 'SMALL_TUPLE_EXT');
          n = buf[pos + 1]!;
          pos += 2;
          if (n === 0) {
            value = new Tuple([]);
            break open;
          }
          kind = K_TUPLE;
          break;
        case 105: // LARGE_TUPLE_EXT
          if (pos + 5 > end) throw truncated(pos, 'LARGE_TUPLE_EXT');
          n = u32(buf, pos + 1);
          pos += 5;
          if (n === 0) {
            value = new Tuple([]);
            break open;
          }
          kind = K_TUPLE;
          break;
        case 106: // NIL_EXT
          value = [];
          pos += 1;
          break open;
        case 107: {
          // STRING_EXT
          if (pos + 3 > end) throw truncated(pos, 'STRING_EXT');
          const len = (buf[pos + 1]! << 8) | buf[pos + 2]!;
          const s = pos + 3;
          if (len > end - s) throw truncated(pos, 'STRING_EXT');
          const chars = new Array<number>(len);
          for (let i = 0; i < len; i++) chars[i] = buf[s + i]!;
          value = chars;
          pos = s + len;
          break open;
        }
        case 108: // LIST_EXT
          if (pos + 5 > end) throw truncated(pos, 'LIST_EXT');
          n = u32(buf, pos + 1);
          pos += 5;
          // [] ++ Tail is Tail: a zero-length LIST_EXT is just its tail, which fills the same slot.
          if (n === 0) {
            if (sp > 0) pending++;
            continue;
          }
          n += 1; // the tail is the last slot
          kind = K_LIST;
          break;
        case 109: {
          // BINARY_EXT
          if (pos + 5 > end) throw truncated(pos, 'BINARY_EXT');
          const len = u32(buf, pos + 1);
          const s = pos + 5;
          if (len > end - s) throw truncated(pos, 'BINARY_EXT');
          value = r.bytes(s, len);
          pos = s + len;
          break open;
        }
        case 116: // MAP_EXT
          if (pos + 5 > end) throw truncated(pos, 'MAP_EXT');
          n = u32(buf, pos + 1) * 2;
          pos += 5;
          if (n === 0) {
            value = new ErlMap([]);
            break open;
          }
          kind = K_MAP;
          break;
        case 70: // NEW_FLOAT_EXT
          if (pos + 9 > end) throw truncated(pos, 'NEW_FLOAT_EXT');
          {
            const f = r.float64(pos + 1);
            if (!Number.isFinite(f)) throw fail('BAD_VALUE', 'NEW_FLOAT_EXT is not a finite float', pos);
            value = new ErlFloat(f);
          }
          pos += 9;
          break open;
        case 88: // NEW_PID_EXT
          value = r.newPid(pos);
          pos = r.pos;
          break open;
        case 90: // NEWER_REFERENCE_EXT
        case 114: // NEW_REFERENCE_EXT
        case 101: // REFERENCE_EXT
          value = r.reference(pos, tag);
          pos = r.pos;
          break open;
        case 110: {
          // SMALL_BIG_EXT
          if (pos + 3 > end) throw truncated(pos, 'SMALL_BIG_EXT');
          const len = buf[pos + 1]!;
          const s = pos + 3;
          if (len > end - s) throw truncated(pos, 'SMALL_BIG_EXT');
          value = readBig(buf, s, len, buf[pos + 2] !== 0);
          pos = s + len;
          break open;
        }
        case 111: {
          // LARGE_BIG_EXT
          if (pos + 6 > end) throw truncated(pos, 'LARGE_BIG_EXT');
          const len = u32(buf, pos + 1);
          const s = pos + 6;
          if (len > end - s) throw truncated(pos, 'LARGE_BIG_EXT');
          value = readBig(buf, s, len, buf[pos + 5] !== 0);
          pos = s + len;
          break open;
        }
        case 77: {
          // BIT_BINARY_EXT
          if (pos + 6 > end) throw truncated(pos, 'BIT_BINARY_EXT');
          const len = u32(buf, pos + 1);
          const bits = buf[pos + 5]!;
          const s = pos + 6;
          if (len > end - s) throw truncated(pos, 'BIT_BINARY_EXT');
          if (len === 0 && bits === 0) {
            value = Buffer.alloc(0);
          } else if (len === 0 || bits === 0 || bits > 8) {
            throw fail('BAD_VALUE', `BIT_BINARY_EXT with ${len} byte(s) and ${bits} bit(s) in the last byte`, pos);
          } else if (bits === 8) {
            value = r.bytes(s, len);
          } else {
            // The unused low bits are not part of the term: clear them, as the BEAM does.
            const bytes = copyBytes(buf, s, len);
            bytes[len - 1] = bytes[len - 1]! & (0xff00 >> bits);
            value = new BitBinary(bytes, bits);
          }
          pos = s + len;
          break open;
        }
        case 112: // NEW_FUN_EXT
          fh = r.funHeader(pos);
          pos = r.pos;
          n = fh.numFree;
          if (n === 0) {
            value = makeFun(fh, [], pos);
            break open;
          }
          kind = K_FUN;
          break;
        case 113: // EXPORT_EXT
          value = r.exportFun(pos);
          pos = r.pos;
          break open;
        case 89: // NEW_PORT_EXT
        case 120: // V4_PORT_EXT
        case 102: // PORT_EXT
          value = r.port(pos, tag);
          pos = r.pos;
          break open;
        case 103: // PID_EXT
          value = r.oldPid(pos);
          pos = r.pos;
          break open;
        case 99: // FLOAT_EXT
          if (pos + 32 > end) throw truncated(pos, 'FLOAT_EXT');
          value = new ErlFloat(oldFloat(buf, pos + 1, pos));
          pos += 32;
          break open;
        case 80:
          throw fail('BAD_TAG', 'COMPRESSED is only allowed at the start of a term', pos);
        case 121:
          throw fail('BAD_TAG', 'LOCAL_EXT is only allowed at the start of a term', pos);
        case 117:
          throw fail('BAD_TAG', 'FUN_EXT (removed in OTP 23) is not supported', pos);
        case 68:
        case 69:
          throw fail('BAD_TAG', `${tagName(tag)} inside a term: distribution headers are read by the distribution layer`, pos);
        default:
          throw fail('BAD_TAG', `unknown tag ${tag}`, pos);
      }

      // open: a container of n (> 0) slots of the given kind.
      if (pending + n > end - pos) {
        const count = tag === 116 ? n / 2 : tag === 108 ? n - 1 : n;
        throw fail('BAD_LENGTH', `${tagName(tag)} claims ${count} element(s) but only ${end - pos} byte(s) remain`, at);
      }
      if (sp >= maxDepth) throw fail('TOO_DEEP', `nesting deeper than maxDepth ${maxDepth}`, at);
      kinds[sp] = kind;
      // A map's array holds its entries: a key waits in its entry's slot until its value arrives.
      arrs[sp] = new Array<Term>(kind === K_MAP ? n >> 1 : n);
      idxs[sp] = 0;
      lens[sp] = n;
      if (kind === K_FUN) funs[sp] = fh;
      sp++;
      pending += n;
      continue;
    }

    // store: put `value` into the top frame; every frame it fills becomes the next value.
    for (;;) {
      if (sp === 0) {
        r.pos = pos;
        return value;
      }
      const top = sp - 1;
      const arr = arrs[top]!;
      const i = idxs[top]!;
      if (kinds[top] !== K_MAP) arr[i] = value;
      else if ((i & 1) === 0) arr[i >> 1] = value;
      else arr[i >> 1] = [arr[i >> 1]!, value] as unknown as Term;
      if (i + 1 < lens[top]!) {
        idxs[top] = i + 1;
        break;
      }
      sp = top;
      switch (kinds[top]) {
        case K_TUPLE:
          value = new Tuple(arr);
          break;
        case K_LIST:
          value = finishList(arr);
          break;
        case K_MAP:
          value = new ErlMap(arr as unknown as Array<[Term, Term]>);
          break;
        default:
          value = makeFun(funs[top]!, arr, pos);
          break;
      }
    }
  }
}

function finishList(arr: Term[]): Term {
  const tail = arr.pop()!;
  if (Array.isArray(tail)) {
    // [a | []] is [a]; [a | "bc"] (not written by the BEAM) is the proper list [a, $b, $c].
    for (let i = 0; i < tail.length; i++) arr.push(tail[i]!);
    return arr;
  }
  if (tail instanceof ImproperList) {
    for (let i = 0; i < tail.elements.length; i++) arr.push(tail.elements[i]!);
    return new ImproperList(arr, tail.tail);
  }
  return new ImproperList(arr, tail);
}

