/**
 * External Term Format encoder.
 *
 *   encode(tuple(atom('ok'), 42))                  // <<131,104,2,119,2,111,107,97,42>>
 *   encode(term, { minorVersion: 1 })              // as OTP 25's term_to_binary/1
 *   encode(term, { compressed: true })             // as term_to_binary(T, [compressed])
 *
 * It picks every encoding exactly as the BEAM does, so that encode(decode(bytes)) gives back the
 * bytes the BEAM wrote: SMALL_INTEGER_EXT for 0..255, INTEGER_EXT for other 32-bit integers, then
 * SMALL_BIG_EXT / LARGE_BIG_EXT; STRING_EXT for proper lists of 0..255 integers shorter than 65536;
 * NEW_PID_EXT, NEW_PORT_EXT (V4_PORT_EXT when the id needs more than 28 bits), NEWER_REFERENCE_EXT;
 * map entries in the ErlMap's order; atoms as the chosen minor version writes them. Compression uses
 * pako, a port of the zlib the BEAM links, because Node's zlib (Chromium's fork) deflates differently.
 *
 * One growable buffer per writer, no per-term allocation beyond it, and an explicit work stack, so
 * terms nested a million deep encode without recursion.
 */

import { deflate } from 'pako';
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
  type EncodableTerm,
} from '../terms.js';
import { EtfError } from './errors.js';

// ------------------------------------------------------------------------------------------------
// PUBLIC
// ------------------------------------------------------------------------------------------------

export interface EncodeOptions {
  /**
   * 2 (default; what OTP 26+ term_to_binary and the distribution write): atoms are always UTF-8
   * (SMALL_ATOM_UTF8_EXT, or ATOM_UTF8_EXT past 255 bytes).
   * 1 (OTP 25's term_to_binary default): ATOM_EXT for atoms whose text is Latin-1, UTF-8 tags otherwise.
   */
  minorVersion?: 1 | 2;
  /** As term_to_binary(T, [compressed]) (true = level 6) or [{compressed, Level}] (0..9). */
  compressed?: boolean | number;
}

export interface EtfWriterOptions {
  minorVersion?: 1 | 2;
  /** Initial capacity in bytes (default 256); the buffer doubles as needed. */
  initialSize?: number;
}

/** Encodes a term with the version byte 131, as term_to_binary does. */
export function encode(term: EncodableTerm, opts?: EncodeOptions): Buffer {
  const w = new EtfWriter({ minorVersion: opts?.minorVersion ?? 2 });
  w.writeVersion();
  w.writeTerm(term);
  const level = compressionLevel(opts?.compressed);
  if (level === 0) return w.toBuffer();
  return compress(w.toBuffer(), 1, level);
}

/** Encodes a term without the version byte (for distribution framing). */
export function encodeBody(term: EncodableTerm, opts?: EncodeOptions): Buffer {
  const w = new EtfWriter({ minorVersion: opts?.minorVersion ?? 2 });
  w.writeTerm(term);
  const level = compressionLevel(opts?.compressed);
  if (level === 0) return w.toBuffer();
  return compress(w.toBuffer(), 0, level);
}

/**
 * A growable output buffer for framing several terms without copies, e.g. a distribution message:
 *
 *   const w = new EtfWriter();
 *   const lenAt = w.length; w.writeUInt32BE(0);        // packet length, patched below
 *   w.writeUInt8(112).writeVersion().writeTerm(control).writeVersion().writeTerm(message);
 *   w.patchUInt32BE(lenAt, w.length - lenAt - 4);
 *   socket.write(w.toBuffer());
 */
export class EtfWriter {
  private buf: Buffer;
  private pos = 0;
  private dv: DataView;
  private readonly minor1: boolean;

  constructor(opts?: EtfWriterOptions) {
    const mv = opts?.minorVersion ?? 2;
    if (mv !== 1 && mv !== 2) throw new RangeError(`EtfWriter: minorVersion must be 1 or 2, not ${String(mv)}`);
    this.minor1 = mv === 1;
    this.buf = Buffer.allocUnsafe(Math.max(16, opts?.initialSize ?? 256));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** The bytes written so far: a view of the writer's buffer, valid until the writer is written to again. */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Starts over with a fresh buffer (views returned earlier stay valid). */
  reset(): this {
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
    return this;
  }

  writeVersion(): this {
    return this.writeUInt8(131);
  }

  writeUInt8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  writeUInt16BE(v: number): this {
    this.ensure(2);
    this.dv.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }

  writeUInt32BE(v: number): this {
    this.ensure(4);
    this.dv.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  writeBigUInt64BE(v: bigint): this {
    this.ensure(8);
    this.dv.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }

  writeBytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Overwrites 4 bytes already written (a length placeholder). */
  patchUInt32BE(at: number, v: number): this {
    if (at < 0 || at + 4 > this.pos) throw new RangeError(`patchUInt32BE: ${at} is not inside the written bytes`);
    this.dv.setUint32(at, v);
    return this;
  }

  /** Writes an atom's encoding alone (as distribution headers and control messages need). */
  writeAtom(a: Atom): this {
    this.atom(a);
    return this;
  }

  /** Writes one term without the version byte. */
  writeTerm(root: EncodableTerm): this {
    if (root instanceof LocalTerm) {
      this.writeUInt8(121);
      return this.writeBytes(root.bytes);
    }
    this.value(root, 0);
    return this;
  }

  // ----------------------------------------------------------------------------------------------
  // PRIVATE
  // ----------------------------------------------------------------------------------------------

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    // Headroom past the write that forced the growth: sizing to fit exactly would make the next
    // byte after a 50 MB binary double the buffer and copy those 50 MB a second time.
    const needed = this.pos + n;
    const size = Math.max(this.buf.length * 2, needed + (needed >>> 2) + 1024);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  private unencodable(message: string): EtfError {
    return new EtfError('UNENCODABLE', message, this.pos);
  }

  private atom(a: Atom): void {
    const name = a.name;
    const n = name.length;
    this.ensure(3 + 3 * n);
    const buf = this.buf;
    const pos = this.pos;
    let i = 0;
    if (this.minor1) {
      // ATOM_EXT when every character is Latin-1, as OTP 25's term_to_binary/1.
      const p = pos + 3;
      for (; i < n; i++) {
        const c = name.charCodeAt(i);
        if (c > 0xff) break;
        buf[p + i] = c;
      }
      if (i === n) {
        if (n > 255) throw this.unencodable(`atom of ${n} characters (at most 255)`);
        buf[pos] = 100;
        buf[pos + 1] = n >> 8;
        buf[pos + 2] = n & 0xff;
        this.pos = p + n;
        return;
      }
    } else {
      const p = pos + 2;
      for (; i < n; i++) {
        const c = name.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p + i] = c;
      }
      if (i === n) {
        if (n > 255) throw this.unencodable(`atom of ${n} characters (at most 255)`);
        buf[pos] = 119;
        buf[pos + 1] = n;
        this.pos = p + n;
        return;
      }
    }
    let chars = 0;
    for (const _ of name) chars++;
    if (chars > 255) throw this.unencodable(`atom of ${chars} characters (at most 255)`);
    const bytes = Buffer.from(name, 'utf8');
    const len = bytes.length;
    if (len <= 255) {
      buf[pos] = 119;
      buf[pos + 1] = len;
      bytes.copy(buf, pos + 2);
      this.pos = pos + 2 + len;
    } else {
      buf[pos] = 118;
      buf[pos + 1] = len >> 8;
      buf[pos + 2] = len & 0xff;
      bytes.copy(buf, pos + 3);
      this.pos = pos + 3 + len;
    }
  }

  private number(v: number): void {
    if (Number.isInteger(v)) {
      this.ensure(5);
      if (v >= 0 && v <= 255) {
        this.buf[this.pos] = 97;
        this.buf[this.pos + 1] = v;
        this.pos += 2;
      } else if (v >= -2147483648 && v <= 2147483647) {
        this.buf[this.pos] = 98;
        this.dv.setInt32(this.pos + 1, v);
        this.pos += 5;
      } else if (v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER) {
        this.ensure(3 + 7);
        const buf = this.buf;
        const start = this.pos;
        let m = v < 0 ? -v : v;
        let k = 0;
        while (m > 0) {
          buf[start + 3 + k] = m % 256;
          m = Math.floor(m / 256);
          k++;
        }
        buf[start] = 110;
        buf[start + 1] = k;
        buf[start + 2] = v < 0 ? 1 : 0;
        this.pos = start + 3 + k;
      } else {
        this.bigint(BigInt(v));
      }
    } else {
      this.float(v);
    }
  }

  private bigint(v: bigint): void {
    if (v >= -MAX_SAFE && v <= MAX_SAFE) {
      this.number(Number(v));
      return;
    }
    const neg = v < 0n;
    let hex = (neg ? -v : v).toString(16);
    if (hex.length & 1) hex = '0' + hex;
    const be = Buffer.from(hex, 'hex');
    const k = be.length;
    this.ensure(6 + k);
    const buf = this.buf;
    let p = this.pos;
    if (k <= 255) {
      buf[p] = 110;
      buf[p + 1] = k;
      buf[p + 2] = neg ? 1 : 0;
      p += 3;
    } else {
      buf[p] = 111;
      this.dv.setUint32(p + 1, k);
      buf[p + 5] = neg ? 1 : 0;
      p += 6;
    }
    for (let i = 0; i < k; i++) buf[p + i] = be[k - 1 - i]!;
    this.pos = p + k;
  }

  private float(v: number): void {
    if (!Number.isFinite(v)) throw this.unencodable(`the float ${v} (the BEAM has no NaN or infinity)`);
    this.ensure(9);
    this.buf[this.pos] = 70;
    this.dv.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  /** An integer field of a fun: SMALL_INTEGER_EXT or INTEGER_EXT only. */
  private int32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw this.unencodable(`${what} ${v} is not a 32-bit integer`);
    }
    this.number(v);
  }

  private uint32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw this.unencodable(`${what} ${v} is not a 32-bit unsigned integer`);
    this.ensure(4);
    this.dv.setUint32(this.pos, v);
    this.pos += 4;
  }

  /**
   * Writes a term. Containers recurse for their children up to RECURSION_LIMIT levels; a container
   * deeper than that is written by `iterative`, with an explicit stack, so that no nesting depth can
   * overflow the JavaScript stack.
   */
  private value(t: unknown, depth: number): void {
    if (typeof t === 'object' && t !== null) {
      // instanceof walks one prototype link for these classes: cheaper than a megamorphic
      // `t.constructor` load on values of many shapes.
      if (t instanceof Atom) return this.atom(t);
      if (depth >= RECURSION_LIMIT && isContainer(t)) return this.iterative(t);
      const d = depth + 1;
      if (t instanceof Tuple) {
        const e = t.elements;
        this.tupleHeader(e.length);
        for (let i = 0; i < e.length; i++) this.value(e[i], d);
        return;
      }
      if (Array.isArray(t)) {
        if (this.listHead(t)) {
          for (let i = 0; i < t.length; i++) this.value(t[i], d);
          this.nil();
        }
        return;
      }
      if (t instanceof Pid) return this.pid(t);
      if (t instanceof ErlMap) {
        const entries = t.entries;
        this.mapHeader(entries.length);
        for (let i = 0; i < entries.length; i++) {
          const kv = entries[i]!;
          this.value(kv[0], d);
          this.value(kv[1], d);
        }
        return;
      }
      if (t instanceof ImproperList) {
        const [elements, tail] = flattenImproper(t);
        if (tail === undefined || elements.length === 0) return this.value(tail === undefined ? elements : tail, d);
        this.listHeader(elements.length);
        for (let i = 0; i < elements.length; i++) this.value(elements[i], d);
        return this.value(tail, d);
      }
      if (t instanceof Fun) {
        const sizeAt = this.funHeader(t);
        const fv = t.freeVars;
        for (let i = 0; i < fv.length; i++) this.value(fv[i], d);
        this.dv.setUint32(sizeAt, this.pos - sizeAt);
        return;
      }
      return this.other(t);
    }
    if (typeof t === 'number') return this.number(t);
    if (typeof t === 'string') return this.string(t);
    if (typeof t === 'bigint') return this.bigint(t);
    if (typeof t === 'boolean') return this.atom(t ? ATOM_TRUE : ATOM_FALSE);
    throw this.unencodable(`cannot encode ${describe(t)}`);
  }

  /** The same as `value` for a deep container, with a work stack instead of recursion. */
  private iterative(root: object): void {
    const stack: unknown[] = [root];
    while (stack.length > 0) {
      const t = stack.pop();
      if (t instanceof FunEnd) {
        this.dv.setUint32(t.sizeAt, this.pos - t.sizeAt);
      } else if (t instanceof Tuple) {
        const e = t.elements;
        this.tupleHeader(e.length);
        for (let i = e.length - 1; i >= 0; i--) stack.push(e[i]);
      } else if (Array.isArray(t)) {
        if (this.listHead(t)) {
          stack.push(NIL);
          for (let i = t.length - 1; i >= 0; i--) stack.push(t[i]);
        }
      } else if (t instanceof ErlMap) {
        const entries = t.entries;
        this.mapHeader(entries.length);
        for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]![1], entries[i]![0]);
      } else if (t instanceof ImproperList) {
        const [elements, tail] = flattenImproper(t);
        if (tail === undefined || elements.length === 0) {
          stack.push(tail === undefined ? elements : tail);
        } else {
          this.listHeader(elements.length);
          stack.push(tail);
          for (let i = elements.length - 1; i >= 0; i--) stack.push(elements[i]);
        }
      } else if (t instanceof Fun) {
        stack.push(new FunEnd(this.funHeader(t)));
        for (let i = t.freeVars.length - 1; i >= 0; i--) stack.push(t.freeVars[i]);
      } else {
        this.value(t, 0); // not a container: no recursion
      }
    }
  }

  /** Terms that are neither containers nor the common scalars handled in `value`. */
  private other(t: object): void {
    if (t instanceof Uint8Array) return this.binary(t);
    if (t instanceof ErlFloat) return this.float(t.value);
    if (t instanceof Atom) return this.atom(t);
    if (t instanceof Pid) return this.pid(t);
    if (t instanceof BitBinary) return this.bitBinary(t);
    if (t instanceof Reference) return this.reference(t);
    if (t instanceof Port) return this.port(t);
    if (t instanceof ExportFun) return this.exportFun(t);
    if (t instanceof LocalTerm) throw this.unencodable('a LocalTerm can only be encoded as a whole term, not inside another');
    throw this.unencodable(`cannot encode ${describe(t)}`);
  }

  private tupleHeader(n: number): void {
    this.ensure(5);
    if (n <= 255) {
      this.buf[this.pos] = 104;
      this.buf[this.pos + 1] = n;
      this.pos += 2;
    } else {
      this.buf[this.pos] = 105;
      this.dv.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  private mapHeader(n: number): void {
    this.ensure(5);
    this.buf[this.pos] = 116;
    this.dv.setUint32(this.pos + 1, n);
    this.pos += 5;
  }

  private listHeader(n: number): void {
    this.ensure(5);
    this.buf[this.pos] = 108;
    this.dv.setUint32(this.pos + 1, n);
    this.pos += 5;
  }

  private nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 106;
  }

  /**
   * Writes a proper list that needs no elements written after it ([] as NIL_EXT, a byte list as
   * STRING_EXT) and returns false; otherwise writes the LIST_EXT header and returns true: the caller
   * writes the elements and NIL_EXT.
   */
  private listHead(t: unknown[]): boolean {
    const n = t.length;
    if (n === 0) {
      this.nil();
      return false;
    }
    if (n <= 65535) {
      let i = 0;
      for (; i < n; i++) {
        const x = t[i];
        if (typeof x !== 'number' || (x & 255) !== x) break;
      }
      if (i === n) {
        // STRING_EXT, as the BEAM writes every proper list of bytes shorter than 65536.
        this.ensure(3 + n);
        const buf = this.buf;
        const p = this.pos;
        buf[p] = 107;
        buf[p + 1] = n >> 8;
        buf[p + 2] = n & 0xff;
        for (let j = 0; j < n; j++) buf[p + 3 + j] = t[j] as number;
        this.pos = p + 3 + n;
        return false;
      }
    }
    this.listHeader(n);
    return true;
  }

  private binary(b: Uint8Array): void {
    const n = b.length;
    this.ensure(5 + n);
    this.buf[this.pos] = 109;
    this.dv.setUint32(this.pos + 1, n);
    this.buf.set(b, this.pos + 5);
    this.pos += 5 + n;
  }

  private string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(5 + n);
    this.buf[this.pos] = 109;
    this.dv.setUint32(this.pos + 1, n);
    this.buf.write(s, this.pos + 5, n, 'utf8');
    this.pos += 5 + n;
  }

  private bitBinary(b: BitBinary): void {
    const n = b.bytes.length;
    if (n === 0 || !Number.isInteger(b.bits) || b.bits < 1 || b.bits > 8) {
      throw this.unencodable(`a BitBinary of ${n} byte(s) with ${b.bits} bit(s) in the last byte`);
    }
    this.ensure(6 + n);
    this.buf[this.pos] = 77;
    this.dv.setUint32(this.pos + 1, n);
    this.buf[this.pos + 5] = b.bits;
    this.buf.set(b.bytes, this.pos + 6);
    this.pos += 6 + n;
  }

  private pid(p: Pid): void {
    this.ensure(1);
    this.buf[this.pos++] = 88;
    this.atom(p.node);
    this.uint32(p.id, 'pid id');
    this.uint32(p.serial, 'pid serial');
    this.uint32(p.creation, 'pid creation');
  }

  private port(p: Port): void {
    const id = p.id;
    if (typeof id !== 'bigint' || id < 0n || id > 0xffffffffffffffffn) throw this.unencodable(`port id ${String(id)} is not 0..2^64-1`);
    this.ensure(1);
    // As erts: NEW_PORT_EXT while the id fits its 28 significant bits, V4_PORT_EXT beyond.
    const small = id <= 0xfffffffn;
    this.buf[this.pos++] = small ? 89 : 120;
    this.atom(p.node);
    if (small) this.uint32(Number(id), 'port id');
    else this.writeBigUInt64BE(id);
    this.uint32(p.creation, 'port creation');
  }

  private reference(r: Reference): void {
    const ids = r.ids;
    if (ids.length > 5) throw this.unencodable(`a reference with ${ids.length} id words (at most 5)`);
    this.ensure(3);
    this.buf[this.pos] = 90;
    this.buf[this.pos + 1] = 0;
    this.buf[this.pos + 2] = ids.length;
    this.pos += 3;
    this.atom(r.node);
    this.uint32(r.creation, 'reference creation');
    for (const id of ids) this.uint32(id, 'reference id');
  }

  /** Writes a fun up to its free variables; returns the offset of its Size field. */
  private funHeader(f: Fun): number {
    if (f.uniq.length !== 16) throw this.unencodable(`a Fun whose uniq has ${f.uniq.length} bytes (16 expected)`);
    if (!Number.isInteger(f.arity) || f.arity < 0 || f.arity > 255) throw this.unencodable(`fun arity ${f.arity}`);
    this.ensure(30);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = 112;
    // p+1..p+4: Size, patched by FunEnd once the free variables are written.
    buf[p + 5] = f.arity;
    buf.set(f.uniq, p + 6);
    this.pos = p + 22;
    this.uint32(f.index, 'fun index');
    this.uint32(f.freeVars.length, 'fun free variable count');
    this.atom(f.module);
    this.int32(f.oldIndex, 'fun OldIndex');
    this.int32(f.oldUniq, 'fun OldUniq');
    if (!(f.pid instanceof Pid)) throw this.unencodable('a Fun whose pid is not a Pid');
    this.pid(f.pid);
    return p + 1;
  }

  private exportFun(e: ExportFun): void {
    if (!Number.isInteger(e.arity) || e.arity < 0 || e.arity > 255) throw this.unencodable(`export arity ${e.arity}`);
    this.ensure(1);
    this.buf[this.pos++] = 113;
    this.atom(e.module);
    this.atom(e.fun);
    this.ensure(2);
    this.buf[this.pos] = 97;
    this.buf[this.pos + 1] = e.arity;
    this.pos += 2;
  }
}

// ------------------------------------------------------------------------------------------------
// PRIVATE: helpers
// ------------------------------------------------------------------------------------------------

const ATOM_TRUE = Atom.of('true');
const ATOM_FALSE = Atom.of('false');
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NIL: readonly unknown[] = Object.freeze([]);
/** Levels written by recursion before the explicit stack takes over (far below V8's stack size). */
const RECURSION_LIMIT = 400;

function isContainer(t: object): boolean {
  return t instanceof Tuple || Array.isArray(t) || t instanceof ErlMap || t instanceof ImproperList || t instanceof Fun;
}

/**
 * An improper list as [elements, tail], with list tails flattened ([a | [b | c]] is [a, b | c]);
 * tail undefined when the list turns out proper (elements is then the whole list).
 */
function flattenImproper(t: ImproperList): [readonly unknown[], unknown] {
  let tail: unknown = t.tail;
  if (!Array.isArray(tail) && !(tail instanceof ImproperList)) return [t.elements, tail];
  const all: unknown[] = t.elements.slice();
  while (tail instanceof ImproperList) {
    for (const x of tail.elements) all.push(x);
    tail = tail.tail;
  }
  if (Array.isArray(tail)) {
    for (const x of tail) all.push(x);
    return [all, undefined];
  }
  return [all, tail];
}

/** Work-stack marker: the free variables of the fun whose Size field is at `sizeAt` are written. */
class FunEnd {
  constructor(readonly sizeAt: number) {}
}

function describe(t: unknown): string {
  if (t === null) return 'null';
  if (t === undefined) return 'undefined';
  if (typeof t === 'object') return `an object of class ${(t as object).constructor?.name ?? 'Object'}`;
  return `a value of type ${typeof t}`;
}

function compressionLevel(c: boolean | number | undefined): number {
  if (c === undefined || c === false) return 0;
  if (c === true) return 6;
  if (!Number.isInteger(c) || c < 0 || c > 9) throw new RangeError(`compressed must be a boolean or a level 0..9, not ${c}`);
  return c;
}

/**
 * As erts' term_to_binary: the body (the bytes after 131) is deflated into at most its own size
 * minus 5 bytes; if zlib needs more, the term stays uncompressed.
 */
function compress(out: Buffer, prefix: 0 | 1, level: number): Buffer {
  const body = out.subarray(prefix);
  if (body.length < 5) return out;
  const z = deflate(body, { level: level as 1 });
  if (z.length > body.length - 5) return out;
  const res = Buffer.allocUnsafe(prefix + 5 + z.length);
  if (prefix === 1) res[0] = 131;
  res[prefix] = 80;
  res.writeUInt32BE(body.length, prefix + 1);
  res.set(z, prefix + 5);
  return res;
}
