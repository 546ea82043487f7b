/**
 * Walking External Term Format bytes without building terms.
 *
 *   const end = skipTerm(buf, at);          // where the term that starts at `at` ends
 *   const r = new EtfCursor(buf);           // small header reads for code that decodes lazily
 *   r.pos = at; const n = r.tupleArity();   // ... r.atomText(), r.pidEnd(), r.integer()
 *
 * The trace pipeline keeps every payload as the bytes it arrived in and only needs to know where
 * each one ends; building the terms just to throw them away was the bottleneck (~2 µs an event).
 * skipTerm is the decoder's loop with the allocation taken out: one counter of element slots still
 * to visit instead of a stack of frames, so it is iterative by construction and never overflows.
 *
 * It validates what it must to find the end safely: every length against the bytes left, element
 * counts against the bytes left (each slot needs at least one byte, as in decode.ts), and tags. It
 * does not check what only matters to a term's value (atom text being UTF-8, float finiteness, bit
 * counts of bitstrings beyond their length byte): where decodeAt succeeds skipTerm returns the same
 * end; where decodeAt fails skipTerm may still succeed, and the payload fails when decoded. Every
 * failure is an EtfError with the offset where it was found.
 *
 * COMPRESSED (80) and LOCAL_EXT (121) are refused: the extent of the first needs inflating and the
 * second runs to the end of the input. They only occur at the top of a term_to_binary result, where
 * a caller handles them (see src/capture/batchParser.ts).
 */

import { Atom } from '../terms.js';
import { EtfError } from './errors.js';
import { tagName } from './tags.js';

/** Offset just after the term body (no version byte) that starts at `offset`. */
export function skipTerm(buf: Uint8Array, offset: number): number {
  const end = buf.length;
  if (!Number.isInteger(offset) || offset < 0 || offset > end) {
    throw new RangeError(`skipTerm: offset ${offset} is outside the input (0..${end})`);
  }
  let pos = offset;
  /** Element slots still to visit, the current one included. */
  let todo = 1;
  while (todo > 0) {
    if (pos >= end) throw truncated(pos, 'a term');
    todo--;
    const at = pos;
    const tag = buf[pos]!;
    let n = 0; // elements of a container opened here
    switch (tag) {
      case 97: // SMALL_INTEGER_EXT
        pos += 2;
        break;
      case 98: // INTEGER_EXT
        pos += 5;
        break;
      case 119: // SMALL_ATOM_UTF8_EXT
      case 115: // SMALL_ATOM_EXT
        if (pos + 2 > end) throw truncated(pos, 'atom');
        pos += 2 + buf[pos + 1]!;
        break;
      case 100: // ATOM_EXT
      case 118: // ATOM_UTF8_EXT
        if (pos + 3 > end) throw truncated(pos, 'atom');
        pos += 3 + ((buf[pos + 1]! << 8) | buf[pos + 2]!);
        break;
      case 82: // ATOM_CACHE_REF
        pos += 2;
        break;
      case 106: // NIL_EXT
        pos += 1;
        break;
      case 104: // SMALL_TUPLE_EXT
        if (pos + 2 > end) throw truncated(pos, 'SMALL_TUPLE_EXT');
        n = buf[pos + 1]!;
        pos += 2;
        break;
      case 105: // LARGE_TUPLE_EXT
        if (pos + 5 > end) throw truncated(pos, 'LARGE_TUPLE_EXT');
        n = u32(buf, pos + 1);
        pos += 5;
        break;
      case 108: // LIST_EXT: n elements and a tail
        if (pos + 5 > end) throw truncated(pos, 'LIST_EXT');
        n = u32(buf, pos + 1) + 1;
        pos += 5;
        break;
      case 116: // MAP_EXT
        if (pos + 5 > end) throw truncated(pos, 'MAP_EXT');
        n = u32(buf, pos + 1) * 2;
        pos += 5;
        break;
      case 107: // STRING_EXT
        if (pos + 3 > end) throw truncated(pos, 'STRING_EXT');
        pos += 3 + ((buf[pos + 1]! << 8) | buf[pos + 2]!);
        break;
      case 109: // BINARY_EXT
        if (pos + 5 > end) throw truncated(pos, 'BINARY_EXT');
        pos += 5 + u32(buf, pos + 1);
        break;
      case 77: // BIT_BINARY_EXT
        if (pos + 6 > end) throw truncated(pos, 'BIT_BINARY_EXT');
        pos += 6 + u32(buf, pos + 1);
        break;
      case 110: // SMALL_BIG_EXT
        if (pos + 3 > end) throw truncated(pos, 'SMALL_BIG_EXT');
        pos += 3 + buf[pos + 1]!;
        break;
      case 111: // LARGE_BIG_EXT
        if (pos + 6 > end) throw truncated(pos, 'LARGE_BIG_EXT');
        pos += 6 + u32(buf, pos + 1);
        break;
      case 70: // NEW_FLOAT_EXT
        pos += 9;
        break;
      case 99: // FLOAT_EXT
        pos += 32;
        break;
      case 88: // NEW_PID_EXT: node atom, id, serial, creation:32
        pos = atomEnd(buf, pos + 1, 'NEW_PID_EXT node') + 12;
        break;
      case 103: // PID_EXT: creation:8
        pos = atomEnd(buf, pos + 1, 'PID_EXT node') + 9;
        break;
      case 89: // NEW_PORT_EXT
        pos = atomEnd(buf, pos + 1, 'NEW_PORT_EXT node') + 8;
        break;
      case 120: // V4_PORT_EXT
        pos = atomEnd(buf, pos + 1, 'V4_PORT_EXT node') + 12;
        break;
      case 102: // PORT_EXT
        pos = atomEnd(buf, pos + 1, 'PORT_EXT node') + 5;
        break;
      case 101: // REFERENCE_EXT
        pos = atomEnd(buf, pos + 1, 'REFERENCE_EXT node') + 5;
        break;
      case 90: // NEWER_REFERENCE_EXT
      case 114: {
        // NEW_REFERENCE_EXT
        if (pos + 3 > end) throw truncated(pos, tagName(tag));
        const len = (buf[pos + 1]! << 8) | buf[pos + 2]!;
        if (len > 5) throw new EtfError('BAD_LENGTH', `${tagName(tag)} with ${len} id words (at most 5)`, pos);
        pos = atomEnd(buf, pos + 3, `${tagName(tag)} node`) + (tag === 90 ? 4 : 1) + 4 * len;
        break;
      }
      case 113: {
        // EXPORT_EXT: module atom, function atom, arity as a small integer
        let p = atomEnd(buf, pos + 1, 'EXPORT_EXT module');
        p = atomEnd(buf, p, 'EXPORT_EXT function');
        if (p >= end) throw truncated(pos, 'EXPORT_EXT');
        if (buf[p] === 97) p += 2;
        else if (buf[p] === 98) p += 5;
        else throw new EtfError('BAD_TAG', `EXPORT_EXT arity: expected an integer, found ${tagName(buf[p]!)}`, p);
        pos = p;
        break;
      }
      case 112: {
        // NEW_FUN_EXT: its Size field covers the whole fun, free variables included
        if (pos + 30 > end) throw truncated(pos, 'NEW_FUN_EXT');
        const size = u32(buf, pos + 1);
        if (size < 29 || size > end - (pos + 1)) {
          throw new EtfError('BAD_LENGTH', `NEW_FUN_EXT claims ${size} bytes but ${end - pos - 1} remain`, pos);
        }
        pos += 1 + size;
        break;
      }
      case 80:
        throw new EtfError('BAD_TAG', 'COMPRESSED is only allowed at the start of a term (skipTerm does not inflate)', pos);
      case 121:
        throw new EtfError('BAD_TAG', 'LOCAL_EXT is only allowed at the start of a term (skipTerm cannot size it)', pos);
      default:
        throw new EtfError('BAD_TAG', `${tagName(tag)} cannot start a term`, pos);
    }
    if (pos > end) throw truncated(at, tagName(tag));
    if (n > 0) {
      // As in decode.ts: every open slot needs at least one byte, so the counts cannot lie.
      if (todo + n > end - pos) {
        throw new EtfError('BAD_LENGTH', `${tagName(tag)} claims more elements than the ${end - pos} byte(s) left can hold`, pos);
      }
      todo += n;
    }
  }
  return pos;
}

/** Offset just after the atom term at `at` (any atom tag); throws if there is no whole atom there. */
export function atomEnd(buf: Uint8Array, at: number, what = 'atom'): number {
  const end = buf.length;
  if (at >= end) throw truncated(at, what);
  const tag = buf[at]!;
  let p: number;
  if (tag === 119 || tag === 115) {
    if (at + 2 > end) throw truncated(at, what);
    p = at + 2 + buf[at + 1]!;
  } else if (tag === 118 || tag === 100) {
    if (at + 3 > end) throw truncated(at, what);
    p = at + 3 + ((buf[at + 1]! << 8) | buf[at + 2]!);
  } else if (tag === 82) {
    p = at + 2;
  } else {
    throw new EtfError('BAD_TAG', `${what}: expected an atom, found ${tagName(tag)}`, at);
  }
  if (p > end) throw truncated(at, what);
  return p;
}

const u32 = (buf: Uint8Array, p: number): number =>
  ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;

function truncated(at: number, what: string): EtfError {
  return new EtfError('TRUNCATED', `input ends inside ${what}`, at);
}

// ------------------------------------------------------------------------------------------------
// EtfCursor: header reads for lazy decoding
// ------------------------------------------------------------------------------------------------

/** A 64-bit integer split so that it stays exact without a bigint: value = hi * 2^32 + lo. */
export interface SplitInt {
  /** Signed, |hi| < 2^31 for every int64. */
  hi: number;
  /** 0 .. 2^32 - 1. */
  lo: number;
}

/**
 * A position in a buffer and reads that advance it. Each read checks its bounds and throws an
 * EtfError with the offset on malformed input. Atom text is cached by bytes, so reading the same
 * few atoms (module and function names, trace tags) a million times builds no strings.
 */
export class EtfCursor {
  pos = 0;
  readonly end: number;

  constructor(readonly buf: Buffer) {
    this.end = buf.length;
  }

  /** Arity of the tuple here (SMALL_ or LARGE_TUPLE_EXT); moves to its first element. */
  tupleArity(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 2 > this.end) throw truncated(p, 'a tuple');
    const tag = b[p];
    if (tag === 104) {
      this.pos = p + 2;
      return b[p + 1]!;
    }
    if (tag === 105) {
      if (p + 5 > this.end) throw truncated(p, 'LARGE_TUPLE_EXT');
      this.pos = p + 5;
      return u32(b, p + 1);
    }
    throw new EtfError('BAD_TAG', `expected a tuple, found ${tagName(tag!)}`, p);
  }

  /** Tag byte here, or -1 at the end. */
  peek(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  /** The atom here as text; moves past it. ATOM_CACHE_REF is refused (batches are self-contained). */
  atomText(): string {
    const b = this.buf;
    const at = this.pos;
    const e = atomEnd(b, at);
    const tag = b[at]!;
    if (tag === 82) throw new EtfError('ATOM_CACHE', 'ATOM_CACHE_REF in a self-contained term', at);
    const s = tag === 119 || tag === 115 ? at + 2 : at + 3;
    this.pos = e;
    return atomTextOf(b, s, e - s, tag === 118 || tag === 119);
  }

  /** Like atomText, but an Atom. */
  atom(): Atom {
    return Atom.of(this.atomText());
  }

  /** Moves past the atom here. */
  skipAtom(): void {
    this.pos = atomEnd(this.buf, this.pos);
  }

  /** True if the atom here has exactly these ASCII bytes (does not move). */
  atomIs(bytes: Uint8Array): boolean {
    const b = this.buf;
    const p = this.pos;
    if (p + 2 > this.end) return false;
    const tag = b[p];
    let s: number;
    let n: number;
    if (tag === 119 || tag === 115) {
      n = b[p + 1]!;
      s = p + 2;
    } else if (tag === 118 || tag === 100) {
      if (p + 3 > this.end) return false;
      n = (b[p + 1]! << 8) | b[p + 2]!;
      s = p + 3;
    } else return false;
    if (n !== bytes.length || s + n > this.end) return false;
    for (let i = 0; i < n; i++) if (b[s + i] !== bytes[i]) return false;
    return true;
  }

  /** True if a pid (NEW_PID_EXT or PID_EXT) starts here. */
  atPid(): boolean {
    const t = this.peek();
    return t === 88 || t === 103;
  }

  /** Offset just after the pid here (does not move); throws if there is none. */
  pidEnd(): number {
    const b = this.buf;
    const p = this.pos;
    const tag = this.peek();
    if (tag === 88) return checkEnd(atomEnd(b, p + 1, 'NEW_PID_EXT node') + 12, this.end, p, 'NEW_PID_EXT');
    if (tag === 103) return checkEnd(atomEnd(b, p + 1, 'PID_EXT node') + 9, this.end, p, 'PID_EXT');
    throw new EtfError('BAD_TAG', `expected a pid, found ${tag < 0 ? 'the end' : tagName(tag)}`, p);
  }

  /** Moves past the term here; returns its end. */
  skip(): number {
    this.pos = skipTerm(this.buf, this.pos);
    return this.pos;
  }

  /**
   * The integer here (SMALL_INTEGER, INTEGER, or a SMALL_BIG of at most 8 bytes: any int64),
   * split exactly into `out`; moves past it.
   */
  int64(out: SplitInt): void {
    const b = this.buf;
    const p = this.pos;
    const tag = this.peek();
    if (tag === 97) {
      if (p + 2 > this.end) throw truncated(p, 'SMALL_INTEGER_EXT');
      out.hi = 0;
      out.lo = b[p + 1]!;
      this.pos = p + 2;
      return;
    }
    if (tag === 98) {
      if (p + 5 > this.end) throw truncated(p, 'INTEGER_EXT');
      const v = b.readInt32BE(p + 1);
      out.hi = v < 0 ? -1 : 0;
      out.lo = v >>> 0;
      this.pos = p + 5;
      return;
    }
    if (tag === 110) {
      if (p + 3 > this.end) throw truncated(p, 'SMALL_BIG_EXT');
      const n = b[p + 1]!;
      const s = p + 3;
      if (n > 8) throw new EtfError('BAD_VALUE', `an integer of ${n} bytes where an int64 was expected`, p);
      if (s + n > this.end) throw truncated(p, 'SMALL_BIG_EXT');
      let lo = 0;
      let hi = 0;
      for (let i = Math.min(n, 4) - 1; i >= 0; i--) lo = lo * 256 + b[s + i]!;
      for (let i = n - 1; i >= 4; i--) hi = hi * 256 + b[s + i]!;
      if (b[p + 2] !== 0) {
        // Two's complement of the magnitude, in two halves.
        if (lo === 0) hi = -hi;
        else {
          hi = -hi - 1;
          lo = 4294967296 - lo;
        }
      }
      if (hi >= 2147483648 || hi < -2147483648) {
        throw new EtfError('BAD_VALUE', 'integer does not fit in an int64', p);
      }
      out.hi = hi;
      out.lo = lo;
      this.pos = s + n;
      return;
    }
    throw new EtfError('BAD_TAG', `expected an integer, found ${tag < 0 ? 'the end' : tagName(tag)}`, p);
  }

  /**
   * Length of the proper list here without moving (NIL 0, STRING_EXT its length, LIST_EXT its
   * count when its tail is NIL is not checked: an improper list's count is returned too).
   */
  listLength(): number {
    const b = this.buf;
    const p = this.pos;
    const tag = this.peek();
    if (tag === 106) return 0;
    if (tag === 107) {
      if (p + 3 > this.end) throw truncated(p, 'STRING_EXT');
      return (b[p + 1]! << 8) | b[p + 2]!;
    }
    if (tag === 108) {
      if (p + 5 > this.end) throw truncated(p, 'LIST_EXT');
      return u32(b, p + 1);
    }
    throw new EtfError('BAD_TAG', `expected a list, found ${tag < 0 ? 'the end' : tagName(tag)}`, p);
  }
}

function checkEnd(e: number, end: number, at: number, what: string): number {
  if (e > end) throw truncated(at, what);
  return e;
}

// Direct-mapped cache from atom bytes to text (ASCII only, so Latin-1 and UTF-8 agree).
const CACHE_SIZE = 2048;
const cacheKeys: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(CACHE_SIZE).fill(undefined);
const cacheText: string[] = new Array<string>(CACHE_SIZE).fill('');
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function atomTextOf(b: Buffer, s: number, n: number, utf8: boolean): string {
  let h = n;
  if (n > 0) {
    h = Math.imul(h ^ b[s]!, 0x01000193);
    h = Math.imul(h ^ b[s + n - 1]!, 0x01000193);
    h = Math.imul(h ^ b[s + (n >> 1)]!, 0x01000193);
    h = Math.imul(h ^ b[s + n - 1 - (n >> 2)]!, 0x01000193);
  }
  const slot = (h ^ (h >>> 13)) & (CACHE_SIZE - 1);
  const key = cacheKeys[slot];
  if (key !== undefined && key.length === n) {
    let i = 0;
    while (i < n && key[i] === b[s + i]) i++;
    if (i === n) return cacheText[slot]!;
  }
  let hi = 0;
  for (let i = 0; i < n; i++) hi |= b[s + i]!;
  if (hi < 0x80) {
    const text = b.toString('latin1', s, s + n);
    cacheKeys[slot] = Uint8Array.prototype.slice.call(b, s, s + n);
    cacheText[slot] = text;
    return text;
  }
  if (!utf8) return b.toString('latin1', s, s + n);
  try {
    return utf8Strict.decode(b.subarray(s, s + n));
  } catch (e) {
    throw new EtfError('BAD_VALUE', `atom text is not valid UTF-8 (${(e as Error).message})`, s);
  }
}
