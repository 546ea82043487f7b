/**
 * Opens a recording written by RecordingWriter (format.ts) and serves it through the Recording
 * interface of types.ts.
 *
 *   const rec = openRecording('/path/REC');
 *   rec.count; rec.meta.status;                 // 'interrupted' if the writer never closed it
 *   const e = rec.event(42); e.payload();       // payloads decode on demand
 *   rec.idsOfPid(pid); rec.resolvePid('<0.123.0>'); rec.firstIdAtOrAfter(1e9);
 *   rec.close();
 *
 * Opening reads every block header, dictionary and column section (not the payloads), checking
 * each checksum, and stops at the first block that is torn or damaged: everything before it is
 * served, and meta.errors says what was ignored. Payload checksums are checked for the last two
 * blocks at open (where a torn write lands) and for any other block the first time one of its
 * payloads is read (streamed, once). Payloads are then read by 16 KiB pages through an LRU cache.
 * The per-pid index is built at open (a counting sort of the pid column).
 */

import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  AST_KIND_BIT,
  AST_ONLY_KINDS,
  EVENT_KINDS,
  kindOfByte,
  OLDEST_SCHEMA_VERSION,
  SCHEMA_VERSION,
  sourceOfByte,
  type EventKind,
  type Mfa,
  type StoredEvent,
} from '../capture/event.js';
import { decodeBody } from '../erlang/etf/decode.js';
import { Atom, Pid, type Term } from '../erlang/terms.js';
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE,
  BLOCK_MAGIC,
  colBytes,
  colViews,
  EVENTS_FILE,
  FILE_HEADER_SIZE,
  FILE_MAGIC,
  META_FILE,
  NONE32,
  RecordingFormatError,
  type BlockCols,
  type BlockDict,
} from './format.js';
import { rangeBytes } from '../capture/batchParser.js';
import type { ProcessInfo, Recording, RecordingMeta } from './types.js';

/** Payload page size of the read cache. */
const PAGE = 16 * 1024;

interface Block {
  firstId: number;
  count: number;
  cols: BlockCols;
  /** File position of the payload section. */
  payPos: number;
  payLen: number;
  payCrc: number;
  verified: boolean;
}

export interface OpenOptions {
  /** Bytes of payload pages kept in memory for event(); default 64 MiB. */
  cacheBytes?: number;
}

const knownVersion = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= OLDEST_SCHEMA_VERSION && v <= SCHEMA_VERSION;
const VERSIONS_READ = `versions ${OLDEST_SCHEMA_VERSION} to ${SCHEMA_VERSION}`;

/**
 * The kind bytes a file of this version may hold. Version 1 predates AST events: no AST bit and no
 * AST kind there (such a byte is damage, not an event). From version 2, instrumented code sends
 * call, return, exception and the AST-only kinds, and only it sends the AST-only kinds.
 */
function validKindBytes(version: number): Uint8Array {
  const ok = new Uint8Array(256);
  for (const [name, code] of Object.entries(EVENT_KINDS) as Array<[EventKind, number]>) {
    const astOnly = AST_ONLY_KINDS.includes(name);
    if (version < 2) {
      if (!astOnly) ok[code] = 1;
      continue;
    }
    if (!astOnly) ok[code] = 1;
    if (astOnly || name === 'call' || name === 'return' || name === 'exception') ok[code | AST_KIND_BIT] = 1;
  }
  return ok;
}

/** Opens the recording in `dir`; throws RecordingFormatError if it is not one this code can read. */
export function openRecording(dir: string, opts: OpenOptions = {}): Recording {
  return new FileRecording(dir, opts);
}

class FileRecording implements Recording {
  readonly meta: RecordingMeta;
  readonly count: number;
  private fd: number;
  private readonly blocks: Block[] = [];
  private readonly blockStarts: Uint32Array;
  private readonly pids: Pid[] = [];
  private readonly mfas: Mfa[] = [];
  private readonly pidIndex = new Map<string, number>();
  /** Latest registered name per pid id, and pid id per name. */
  private readonly nameOf = new Map<number, string>();
  private readonly pidOfName = new Map<string, number>();
  /** Per-pid index: ids of pid p are byPid[pidStart[p] .. pidStart[p + 1]). */
  private readonly pidStart: Uint32Array;
  private readonly byPid: Uint32Array;
  /** Running maximum of ts, for firstIdAtOrAfter. */
  private readonly tsMax: Float64Array;
  private readonly cache = new Map<number, Buffer>();
  private cacheUsed = 0;
  private readonly cacheBytes: number;
  /** Kind bytes this file's version may hold (1 = valid), by byte. */
  private validKind = validKindBytes(1);

  constructor(
    readonly dir: string,
    opts: OpenOptions,
  ) {
    this.cacheBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
    let metaText: string;
    try {
      metaText = readFileSync(join(dir, META_FILE), 'utf8');
    } catch (e) {
      throw new RecordingFormatError(`${dir} is not a recording: cannot read ${META_FILE} (${(e as Error).message})`);
    }
    let meta: RecordingMeta;
    try {
      meta = JSON.parse(metaText) as RecordingMeta;
    } catch (e) {
      throw new RecordingFormatError(`${join(dir, META_FILE)} is not valid JSON (${(e as Error).message})`);
    }
    if (!knownVersion(meta.schema)) {
      throw new RecordingFormatError(
        `${dir} was written with recording schema version ${String(meta.schema)}; this ElixirScope reads ${VERSIONS_READ} only ` +
          `(a newer ElixirScope wrote it: open it with that one)`,
      );
    }
    meta.errors ??= [];
    meta.counts.dropped.malformed ??= 0;
    this.meta = meta;

    const path = join(dir, EVENTS_FILE);
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new RecordingFormatError(`${dir} is not a recording: cannot open ${EVENTS_FILE} (${(e as Error).message})`);
    }
    const wasRecording = meta.status === 'recording';
    try {
      this.count = this.readBlocks(path);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
    if (wasRecording) {
      meta.status = 'interrupted';
      meta.stopReason ??= 'interrupted';
      meta.errors.push('the recording was not closed (the engine stopped without closing it): events up to its last flush are kept');
    }
    if (meta.counts.stored > this.count) {
      meta.errors.push(`meta.json counted ${meta.counts.stored} stored events but only ${this.count} are readable`);
    }
    meta.counts.stored = this.count;

    // Block starts, per-pid index and running max of ts: one pass over the columns.
    const n = this.count;
    this.blockStarts = Uint32Array.from(this.blocks.map((b) => b.firstId));
    const np = this.pids.length;
    const counts = new Uint32Array(np + 1);
    const byKindByte = new Float64Array(256);
    for (const b of this.blocks) {
      const { pid, kind } = b.cols;
      for (let i = 0; i < b.count; i++) {
        counts[pid[i]!]!++;
        byKindByte[kind[i]!]!++;
      }
    }
    // Counted from what is readable: meta.json may have been written before a block that was then
    // torn, or not rewritten after the last one. Queries rely on these (are there AST locals at all?).
    const byKind: Partial<Record<EventKind, number>> = {};
    for (let k = 0; k < 256; k++) {
      const name = kindOfByte(k);
      if (name !== undefined && byKindByte[k]! > 0) byKind[name] = (byKind[name] ?? 0) + byKindByte[k]!;
    }
    meta.counts.byKind = byKind;
    this.pidStart = new Uint32Array(np + 1);
    for (let p = 0, acc = 0; p < np; p++) {
      this.pidStart[p] = acc;
      acc += counts[p]!;
      this.pidStart[p + 1] = acc;
    }
    const fill = this.pidStart.slice(0, np);
    this.byPid = new Uint32Array(n);
    this.tsMax = new Float64Array(n);
    let max = -Infinity;
    for (const b of this.blocks) {
      const { pid, ts } = b.cols;
      for (let i = 0; i < b.count; i++) {
        const id = b.firstId + i;
        this.byPid[fill[pid[i]!]!++] = id;
        const t = ts[i]!;
        if (t > max) max = t;
        this.tsMax[id] = max;
      }
    }
  }

  /** Reads and checks blocks until the end or the first bad one; returns the event count. */
  private readBlocks(path: string): number {
    const fd = this.fd;
    const size = fstatSync(fd).size;
    const fh = Buffer.alloc(FILE_HEADER_SIZE);
    if (size < FILE_HEADER_SIZE || readSync(fd, fh, 0, FILE_HEADER_SIZE, 0) !== FILE_HEADER_SIZE || !fh.subarray(0, 8).equals(FILE_MAGIC)) {
      throw new RecordingFormatError(`${path} is not an ElixirScope events file (bad magic or too short: ${size} bytes)`);
    }
    const version = fh.readUInt32LE(8);
    if (!knownVersion(version)) {
      throw new RecordingFormatError(`${path} has format version ${version}; this ElixirScope reads ${VERSIONS_READ} only`);
    }
    this.validKind = validKindBytes(version);
    let pos = FILE_HEADER_SIZE;
    let count = 0;
    const hdr = Buffer.alloc(BLOCK_HEADER_SIZE);
    const bad = (why: string): void => {
      this.meta.errors.push(
        `${EVENTS_FILE}: the block at byte ${pos} is ${why}; it and the ${size - pos} byte(s) from there on are ignored ` +
          `(${count} events before it are kept)`,
      );
      this.meta.status = 'interrupted';
    };
    while (pos < size) {
      if (size - pos < BLOCK_HEADER_SIZE) {
        bad('torn (the file ends inside its header)');
        break;
      }
      readSync(fd, hdr, 0, BLOCK_HEADER_SIZE, pos);
      if (hdr.readUInt32LE(0) !== BLOCK_MAGIC || crc32(hdr, 0, 36) !== hdr.readUInt32LE(36)) {
        bad('damaged (bad header magic or checksum)');
        break;
      }
      const firstId = hdr.readUInt32LE(4);
      const n = hdr.readUInt32LE(8);
      const dictLen = hdr.readUInt32LE(12);
      const colLen = hdr.readUInt32LE(16);
      const payLen = hdr.readUInt32LE(20);
      if (firstId !== count || colLen !== colBytes(n) || dictLen % 8 !== 0) {
        bad(`inconsistent (first id ${firstId}, expected ${count}; ${n} events in ${colLen} column bytes)`);
        break;
      }
      const total = BLOCK_HEADER_SIZE + dictLen + colLen + payLen;
      if (total > size - pos) {
        bad(`torn (it needs ${total} bytes, the file has ${size - pos} left)`);
        break;
      }
      const metaBuf = new Uint8Array(dictLen + colLen);
      readSync(fd, metaBuf, 0, metaBuf.length, pos + BLOCK_HEADER_SIZE);
      if (crc32(metaBuf) !== hdr.readUInt32LE(24)) {
        bad('damaged (its dictionary and columns fail their checksum)');
        break;
      }
      let dict: BlockDict;
      try {
        dict = JSON.parse(Buffer.from(metaBuf.buffer, 0, dictLen).toString('utf8')) as BlockDict;
      } catch (e) {
        bad(`damaged (its dictionary is not JSON: ${(e as Error).message})`);
        break;
      }
      const block: Block = {
        firstId,
        count: n,
        cols: colViews(metaBuf.buffer, dictLen, n),
        payPos: pos + BLOCK_HEADER_SIZE + dictLen + colLen,
        payLen,
        payCrc: hdr.readUInt32LE(28),
        verified: false,
      };
      this.applyDict(dict);
      if (!this.checkRefs(block)) {
        bad('inconsistent (an event names a pid or MFA its dictionary does not define)');
        break;
      }
      this.blocks.push(block);
      count += n;
      pos += total;
    }
    // A torn write lands at the end: check the last blocks' payloads now, dropping bad ones.
    for (let k = this.blocks.length - 1; k >= Math.max(0, this.blocks.length - 2); k--) {
      const b = this.blocks[k]!;
      if (this.verify(b, false)) continue;
      const dropped = this.blocks.splice(k);
      const lost = dropped.reduce((s, x) => s + x.count, 0);
      count -= lost;
      this.meta.errors.push(`${EVENTS_FILE}: the payload of the block of events ${b.firstId}.. fails its checksum; ${lost} event(s) from there on are ignored`);
      this.meta.status = 'interrupted';
    }
    return count;
  }

  private applyDict(d: BlockDict): void {
    for (const [node, id, serial, creation] of d.pids ?? []) {
      const p = new Pid(Atom.of(node), id, serial, creation);
      this.pidIndex.set(p.key, this.pids.length);
      this.pids.push(p);
    }
    for (const [module, fun, arity] of d.mfas ?? []) this.mfas.push({ module, fun, arity });
    for (const [pid, name] of d.names ?? []) {
      const old = this.nameOf.get(pid);
      if (old !== undefined && this.pidOfName.get(old) === pid) this.pidOfName.delete(old);
      this.nameOf.set(pid, name);
      this.pidOfName.set(name, pid);
    }
  }

  private checkRefs(b: Block): boolean {
    const np = this.pids.length;
    const nm = this.mfas.length;
    const { pid, peer, mfa, kind } = b.cols;
    for (let i = 0; i < b.count; i++) {
      if (pid[i]! >= np || (peer[i] !== NONE32 && peer[i]! >= np) || (mfa[i] !== NONE32 && mfa[i]! >= nm)) return false;
      const k = kind[i]!;
      if (this.validKind[k] !== 1) return false;
    }
    return true;
  }

  /**
   * Checks the block's payload checksum once, streaming it through a 1 MiB buffer (blocks can be
   * tens of MB: they are never held whole). Returns false, or throws when `mustThrow`, if it fails.
   */
  private verify(b: Block, mustThrow: boolean): boolean {
    if (b.verified) return true;
    const chunk = Buffer.allocUnsafe(Math.min(b.payLen, 1 << 20));
    let crc = 0;
    let got = 0;
    while (got < b.payLen) {
      const r = readSync(this.fd, chunk, 0, Math.min(chunk.length, b.payLen - got), b.payPos + got);
      if (r === 0) break;
      crc = crc32(chunk, 0, r, crc);
      got += r;
    }
    if (got !== b.payLen || crc !== b.payCrc) {
      if (!mustThrow) return false;
      throw new RecordingFormatError(
        `${join(this.dir, EVENTS_FILE)}: the payloads of events ${b.firstId}..${b.firstId + b.count - 1} are damaged (checksum mismatch); their headers are still readable`,
      );
    }
    b.verified = true;
    return true;
  }

  /**
   * Bytes [off, off + len) of the block's payload. Reads go through a cache of PAGE-sized pages
   * (neighbouring events share pages); a range that crosses a page boundary is read on its own.
   */
  private payloadRange(b: Block, off: number, len: number): Buffer {
    this.verify(b, true);
    const page = Math.floor(off / PAGE);
    const inPage = off - page * PAGE;
    if (inPage + len > PAGE) return this.readAt(b.payPos + off, len);
    const key = b.payPos + page * PAGE;
    let buf = this.cache.get(key);
    if (buf === undefined) {
      buf = this.readAt(key, Math.min(PAGE, b.payLen - page * PAGE));
      this.cache.set(key, buf);
      this.cacheUsed += buf.length;
      while (this.cacheUsed > this.cacheBytes && this.cache.size > 1) {
        const [oldKey, old] = this.cache.entries().next().value as [number, Buffer];
        this.cache.delete(oldKey);
        this.cacheUsed -= old.length;
      }
    } else {
      // Move to the back: the Map's order is the LRU order.
      this.cache.delete(key);
      this.cache.set(key, buf);
    }
    return buf.subarray(inPage, inPage + len);
  }

  private readAt(pos: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, buf, got, len - got, pos + got);
      if (r === 0) throw new RecordingFormatError(`${join(this.dir, EVENTS_FILE)} ends at byte ${pos + got}, inside a block that was whole when opened`);
      got += r;
    }
    return buf;
  }

  private blockOf(id: number): Block {
    if (!(Number.isInteger(id) && id >= 0 && id < this.count)) {
      throw new RangeError(`no event ${id} in this recording (ids 0..${this.count - 1})`);
    }
    const s = this.blockStarts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    return this.blocks[lo]!;
  }

  event(id: number): StoredEvent {
    const b = this.blockOf(id);
    const i = id - b.firstId;
    const c = b.cols;
    const opt = (v: number): number | null => (v === NONE32 ? null : v);
    const bytes = (off: number, len: number, wrap: number): Buffer | undefined => {
      if (len === NONE32) return undefined;
      return rangeBytes(this.payloadRange(b, off, len), 0, len, wrap);
    };
    const payOff = c.payOff[i]!;
    const payLen = c.payLen[i]!;
    const payWrap = c.payWrap[i]!;
    const auxOff = c.auxOff[i]!;
    const auxLen = c.auxLen[i]!;
    const auxWrap = c.auxWrap[i]!;
    const decodeRange = (buf: Buffer | undefined): Term | undefined => (buf === undefined ? undefined : decodeBody(buf, 0).term);
    const mfa = c.mfa[i]!;
    const peer = c.peer[i]!;
    const kb = c.kind[i]!;
    return {
      id,
      ts: c.ts[i]!,
      // checkRefs let no block in with an unknown kind byte.
      kind: kindOfByte(kb) as EventKind,
      source: sourceOfByte(kb),
      pid: this.pids[c.pid[i]!]!,
      mfa: mfa === NONE32 ? null : this.mfas[mfa]!,
      peer: peer === NONE32 ? null : this.pids[peer]!,
      link: opt(c.link[i]!),
      parent: opt(c.parent[i]!),
      payload: () => decodeRange(bytes(payOff, payLen, payWrap)),
      aux: () => decodeRange(bytes(auxOff, auxLen, auxWrap)),
      payloadBytes: () => bytes(payOff, payLen, payWrap),
    };
  }

  idsOfPid(pid: Pid): Uint32Array {
    const p = this.pidIndex.get(pid.key);
    if (p === undefined) return new Uint32Array(0);
    return this.byPid.subarray(this.pidStart[p]!, this.pidStart[p + 1]!);
  }

  processes(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (let p = 0; p < this.pids.length; p++) {
      const ids = this.byPid.subarray(this.pidStart[p]!, this.pidStart[p + 1]!);
      if (ids.length === 0) continue;
      out.push({
        pid: this.pids[p]!,
        name: this.nameOf.get(p) ?? null,
        initialCall: this.initialCall(ids),
        firstId: ids[0]!,
        lastId: ids[ids.length - 1]!,
        count: ids.length,
      });
    }
    return out;
  }

  /** The MFA of the process's `spawned` event (its first events are looked at only). */
  private initialCall(ids: Uint32Array): string | null {
    // Only the runtime tracer sends spawned events: the AST bit is never set on them.
    const spawned: number = EVENT_KINDS.spawned;
    for (let k = 0; k < Math.min(ids.length, 8); k++) {
      const id = ids[k]!;
      const b = this.blockOf(id);
      const i = id - b.firstId;
      if (b.cols.kind[i] === spawned && b.cols.mfa[i] !== NONE32) return formatMfa(this.mfas[b.cols.mfa[i]!]!);
    }
    return null;
  }

  resolvePid(text: string): Pid | undefined {
    const t = text.trim();
    const m = /^(?:#PID)?<(\d+)\.(\d+)\.(\d+)>$/.exec(t);
    if (m !== null) {
      const nodeIx = Number(m[1]);
      const id = Number(m[2]);
      const serial = Number(m[3]);
      // `<0.x.y>` is a process of the traced node; another first number means some other node.
      return this.pids.find((p) => p.id === id && p.serial === serial && (nodeIx === 0) === (p.node.name === this.meta.node));
    }
    const bare = t.startsWith(':') ? t.slice(1) : t;
    for (const name of [t, bare, `Elixir.${bare}`]) {
      const p = this.pidOfName.get(name);
      if (p !== undefined) return this.pids[p];
    }
    return undefined;
  }

  firstIdAtOrAfter(tsNs: number): number {
    // tsMax is non-decreasing and first reaches tsNs exactly at the first event with ts >= tsNs.
    const a = this.tsMax;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! >= tsNs) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
      this.cache.clear();
      this.cacheUsed = 0;
    }
  }
}

/** `Elixir.Shop.Cart` fun/2 → `Shop.Cart.fun/2`; `gen_server` → `:gen_server.fun/2`. */
export function formatMfa(m: Mfa): string {
  const mod = m.module.startsWith('Elixir.') ? m.module.slice(7) : `:${m.module}`;
  return `${mod}.${m.fun}/${m.arity}`;
}
