/**
 * The on-disk format of a recording (docs/store.md has the prose). A recording is a folder:
 *
 *   REC/meta.json     RecordingMeta, rewritten whole (temp file + rename) at each flush and at close
 *   REC/events.esr    file header, then append-only blocks
 *
 * File header (16 bytes): the magic `ESREC\r\n\x1a` (8 bytes: text-mode mangling and truncation
 * show), SCHEMA_VERSION (u32 LE), 0 (u32).
 *
 * Block: a 40-byte header, then `dict` (JSON, padded with spaces to a multiple of 8), `cols`, and
 * `payload`. Every number is little-endian.
 *
 *   0  magic 'ESB1'    4  firstId    8  count    12 dictLen   16 colLen   20 payLen
 *   24 crc32(dict+cols)               28 crc32(payload)        32 0         36 crc32(header[0..36])
 *
 * `dict` holds what the block's events refer to that earlier blocks did not define: new pids
 * (`[node, id, serial, creation]`, ids continuing from the previous blocks), new MFAs
 * (`[module, function, arity]`) and registered names (`[pidId, name]`). A block is therefore
 * self-sufficient on top of its predecessors, and a torn last block takes its dictionary entries with
 * it, never leaving an event that names an unknown pid.
 *
 * `cols`, for n = count: ts f64[n], then u32[n] each: pid, mfa, peer, link, parent, payOff, payLen,
 * auxOff, auxLen, then u8[n] each: kind, payWrap, auxWrap, padded to a multiple of 8. 0xFFFFFFFF is
 * "none". Offsets are into the block's payload. `payWrap`/`auxWrap` > 0 mean the bytes are the
 * elements of a tuple of that arity (its 2-byte header is not stored).
 *
 * `payload` is every event's payload and aux bytes, packed: each is stored as the exact ETF bytes the
 * target wrote (term_to_binary of the batch, without the version byte); the event headers, already
 * in the columns, are not kept twice.
 */

import { ColumnCarver } from '../capture/columns.js';
import { SCHEMA_VERSION } from '../capture/event.js';

export const FILE_MAGIC = Buffer.from('ESREC\r\n\x1a', 'latin1');
export const FILE_HEADER_SIZE = 16;
export const BLOCK_MAGIC = 0x31425345; // 'ESB1' read as a little-endian u32
export const BLOCK_HEADER_SIZE = 40;
export const EVENTS_FILE = 'events.esr';
export const META_FILE = 'meta.json';
export const NONE32 = 0xffffffff;

/** Bytes of the column section for n events. */
export function colBytes(n: number): number {
  return pad8(8 * n + 4 * 9 * n + 3 * n);
}

export const pad8 = (n: number): number => (n + 7) & ~7;

export function fileHeader(): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  FILE_MAGIC.copy(b, 0);
  b.writeUInt32LE(SCHEMA_VERSION, 8);
  return b;
}

/** Views of the columns of n events in `buf` (which must start 8-aligned in its ArrayBuffer). */
export interface BlockCols {
  ts: Float64Array;
  pid: Uint32Array;
  mfa: Uint32Array;
  peer: Uint32Array;
  link: Uint32Array;
  parent: Uint32Array;
  payOff: Uint32Array;
  payLen: Uint32Array;
  auxOff: Uint32Array;
  auxLen: Uint32Array;
  kind: Uint8Array;
  payWrap: Uint8Array;
  auxWrap: Uint8Array;
}

export function colViews(ab: ArrayBuffer, byteOffset: number, n: number): BlockCols {
  const c = new ColumnCarver(ab, byteOffset, n);
  return {
    ts: c.f64(),
    pid: c.u32(),
    mfa: c.u32(),
    peer: c.u32(),
    link: c.u32(),
    parent: c.u32(),
    payOff: c.u32(),
    payLen: c.u32(),
    auxOff: c.u32(),
    auxLen: c.u32(),
    kind: c.u8(),
    payWrap: c.u8(),
    auxWrap: c.u8(),
  };
}

/** The dictionary delta a block carries (see the file comment). */
export interface BlockDict {
  pids?: Array<[string, number, number, number]>;
  mfas?: Array<[string, string, number]>;
  names?: Array<[number, string]>;
}

/** Thrown for a recording this code cannot read (unknown version, not a recording). */
export class RecordingFormatError extends Error {
  override readonly name = 'RecordingFormatError';
}

/** Thrown when writing a recording fails (disk full, I/O error); what was flushed before is kept. */
export class RecordingWriteError extends Error {
  override readonly name = 'RecordingWriteError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // The columns are written and read as native typed arrays; the format says little-endian.
  throw new Error('elixir-scope store: this machine is big-endian, which the recording format does not support yet');
}
