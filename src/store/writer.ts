/**
 * Writes a recording: parsed batches in, checksummed append-only blocks out (format.ts).
 *
 *   const w = await RecordingWriter.create(dir, { node: 'shop@vm', monoStart, nativePerSec, ... });
 *   const batch = parseBatch(w.ctx, bin);                  // ids in the batch are w.ctx's pids/MFAs
 *   const link = new Uint32Array(batch.count), parent = new Uint32Array(batch.count);
 *   correlator.process(batch, w.count, link, parent, w);  // w.patchLink fixes late links
 *   w.append(batch, link, parent);                         // in memory; never touches the disk
 *   await w.flush();                                       // one block per flush; meta.json rewritten
 *   await w.close('complete', null);
 *
 * Durability: every flush writes its block with positional writes, then rewrites meta.json through a
 * temp file and a rename. After a flush resolves, its events survive kill -9 of this process (they
 * are in the kernel's page cache). `fsync` decides about power loss: 'close' (default) syncs only at
 * close, because an fsync per flush would cap ingest at the disk's sync rate; 'always' syncs every
 * flush (block, then meta) for when the machine itself may die; 'never' is for benchmarks.
 *
 * A write error (disk full, I/O error) fails the writer: flush() and close() reject with a
 * RecordingWriteError that says what is kept, the file is cut back to its last whole block when
 * possible, and later appends are counted in `counts.dropped.write_failed` instead of stored.
 */

import { mkdir, open, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SCHEMA_VERSION, kindOfByte } from '../capture/event.js';
import { ParseContext, type ParsedBatch } from '../capture/batchParser.js';
import type { Pid } from '../erlang/terms.js';
import type { RecordingMeta, RecordingStatus, SupervisionSnapshot } from './types.js';
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE,
  BLOCK_MAGIC,
  colBytes,
  colViews,
  EVENTS_FILE,
  fileHeader,
  FILE_HEADER_SIZE,
  META_FILE,
  pad8,
  NONE32,
  RecordingWriteError,
  type BlockDict,
} from './format.js';

/** What the caller knows when a recording starts (the rest of RecordingMeta is the writer's). */
export interface RecordingMetaInit {
  node: string;
  otpRelease: string;
  elixirVersion: string | null;
  agentVersion: number;
  /** Default: now. */
  startedAt?: number;
  monoStart: string;
  nativePerSec: number;
  request: unknown;
  /** The supervision trees read at the start (src/runtime/supervision.ts), if they could be. */
  supervision?: SupervisionSnapshot;
}

/** The file operations the writer uses; tests swap them to simulate a full disk. */
export interface StoreFs {
  open(path: string): Promise<StoreFile>;
  writeFile(path: string, data: Buffer, sync: boolean): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

export interface StoreFile {
  /** Writes every byte of `bufs` at `position` (short writes are the implementation's to finish). */
  writev(bufs: Buffer[], position: number): Promise<void>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  close(): Promise<void>;
}

export interface WriterOptions {
  fsync?: 'never' | 'close' | 'always';
  /** Most events in one block; a flush with more writes several blocks. Default 262,144. */
  blockEvents?: number;
  /** Most payload bytes in one block (a single larger batch still gets a block). Default 64 MiB. */
  blockBytes?: number;
  /** The interning tables the batches' pid and MFA ids come from. Default: a new one. */
  ctx?: ParseContext;
  fs?: StoreFs;
}

interface Segment {
  batch: ParsedBatch;
  link: Uint32Array;
  parent: Uint32Array;
  firstId: number;
}

export class RecordingWriter {
  readonly meta: RecordingMeta;
  readonly ctx: ParseContext;
  /** Set once a write failed; every later flush/close rejects with it. */
  failed: RecordingWriteError | null = null;
  private readonly fsyncMode: 'never' | 'close' | 'always';
  private readonly blockEvents: number;
  private readonly blockBytes: number;
  private pending: Segment[] = [];
  private nextId = 0;
  /** Events sealed into blocks (handed to the disk; late links to them are lost). */
  private sealed = 0;
  /** Events whose block is written. */
  private flushed = 0;
  private fileEnd = FILE_HEADER_SIZE;
  private pidsDone = 0;
  private mfasDone = 0;
  private names: Array<[number, string]> = [];
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly file: StoreFile,
    private readonly fs: StoreFs,
    meta: RecordingMeta,
    opts: WriterOptions,
  ) {
    this.meta = meta;
    this.ctx = opts.ctx ?? new ParseContext({ monoStart: meta.monoStart, nativePerSec: meta.nativePerSec });
    this.fsyncMode = opts.fsync ?? 'close';
    this.blockEvents = opts.blockEvents ?? 262_144;
    this.blockBytes = opts.blockBytes ?? 64 * 1024 * 1024;
  }

  /** Creates `dir` (which must not hold a recording yet) with meta.json and an empty events file. */
  static async create(dir: string, init: RecordingMetaInit, opts: WriterOptions = {}): Promise<RecordingWriter> {
    const fs = opts.fs ?? nodeFs;
    await mkdir(dir, { recursive: true });
    const meta: RecordingMeta = {
      schema: SCHEMA_VERSION,
      node: init.node,
      otpRelease: init.otpRelease,
      elixirVersion: init.elixirVersion,
      agentVersion: init.agentVersion,
      startedAt: init.startedAt ?? Date.now(),
      monoStart: init.monoStart,
      nativePerSec: init.nativePerSec,
      request: init.request,
      status: 'recording',
      stopReason: null,
      endedAt: null,
      counts: {
        received: 0,
        stored: 0,
        dropped: { buffer_full: 0, agent: {}, after_stop: 0, malformed: 0 },
        truncated: 0,
        byKind: {},
      },
      errors: [],
      ...(init.supervision !== undefined ? { supervision: { start: init.supervision, stop: null } } : {}),
    };
    const file = await fs.open(join(dir, EVENTS_FILE));
    await file.writev([fileHeader()], 0);
    const w = new RecordingWriter(dir, file, fs, meta, opts);
    await w.writeMeta();
    return w;
  }

  /** Ids given so far: the next appended event gets this id. */
  get count(): number {
    return this.nextId;
  }

  /** Events durably written (readable after a crash of this process). */
  get flushedCount(): number {
    return this.flushed;
  }

  /** Events appended but not yet written. */
  get pendingCount(): number {
    return this.nextId - this.sealed;
  }

  /** Appends a batch whose events get ids count .. count + batch.count - 1. Never waits, never throws. */
  append(batch: ParsedBatch, link: Uint32Array, parent: Uint32Array): void {
    if (batch.count === 0 && batch.names.length === 0) return;
    if (this.failed !== null || this.closed) {
      const d = this.meta.counts.dropped;
      d.write_failed = (d.write_failed ?? 0) + batch.count;
      return;
    }
    if (link.length < batch.count || parent.length < batch.count) throw new RangeError('append: link/parent shorter than the batch');
    for (const n of batch.names) this.names.push([n[0], n[1]]);
    this.pending.push({ batch, link, parent, firstId: this.nextId });
    this.nextId += batch.count;
  }

  /** Gives a process a name (from the request, or found by other means) stored with the next block. */
  nameProcess(pid: Pid, name: string): void {
    this.names.push([this.ctx.pids.add(pid), name]);
  }

  /**
   * Keeps the supervision trees read at the stop; meta.json gets them at the next flush or at close.
   * Restarts during the recording show as a child id with another pid than at the start.
   */
  setStopSupervision(snapshot: SupervisionSnapshot): void {
    this.meta.supervision = { start: this.meta.supervision?.start ?? null, stop: snapshot };
  }

  /** Sets the link of an event not yet handed to the disk (LinkSink for the correlator). */
  patchLink(id: number, link: number): boolean {
    if (id < this.sealed || id >= this.nextId) return false;
    const p = this.pending;
    for (let k = p.length - 1; k >= 0; k--) {
      const s = p[k]!;
      if (id >= s.firstId) {
        s.link[id - s.firstId] = link;
        return true;
      }
    }
    return false;
  }

  /** Writes everything appended so far, then meta.json. Flushes run one after another. */
  flush(): Promise<void> {
    const p = this.chain.then(() => this.doFlush());
    // The chain itself must not stay rejected, or every later flush would fail for an old reason;
    // the failure is kept in `failed` and given to every caller.
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Flushes, records the end in meta.json, syncs (unless fsync is 'never') and closes the file. */
  async close(status: RecordingStatus = 'complete', stopReason: string | null = null): Promise<void> {
    if (this.closed) return;
    let err: unknown = null;
    try {
      await this.flush();
    } catch (e) {
      err = e;
    }
    this.closed = true;
    // A recording whose writing failed is not complete, whatever the caller thought.
    this.meta.status = this.failed !== null ? 'interrupted' : status;
    this.meta.stopReason = this.failed !== null && stopReason === null ? 'write_failed' : stopReason;
    this.meta.endedAt = Date.now();
    try {
      if (this.fsyncMode !== 'never' && this.failed === null) await this.file.sync();
      await this.writeMeta();
    } catch (e) {
      err ??= this.fail(e, 'closing');
    } finally {
      await this.file.close().catch((e: unknown) => {
        err ??= this.fail(e, 'closing the events file');
      });
    }
    if (err !== null) throw err;
  }

  private async doFlush(): Promise<void> {
    if (this.failed !== null) throw this.failed;
    const segs = this.pending;
    this.pending = [];
    this.sealed = this.nextId;
    const dictPending = this.ctx.pids.size > this.pidsDone || this.ctx.mfas.size > this.mfasDone || this.names.length > 0;
    if (segs.length === 0 && !dictPending) {
      await this.writeMeta();
      return;
    }
    // Group segments into blocks within the size limits.
    let start = 0;
    while (start < segs.length || (segs.length === 0 && start === 0)) {
      let end = start;
      let events = 0;
      let bytes = 0;
      while (end < segs.length) {
        const b = segs[end]!.batch;
        if (end > start && (events + b.count > this.blockEvents || bytes + b.bin.length > this.blockBytes)) break;
        events += b.count;
        bytes += b.bin.length;
        end++;
      }
      await this.writeBlock(segs.slice(start, end), events);
      if (segs.length === 0) break;
      start = end;
    }
    await this.writeMeta();
  }

  private async writeBlock(segs: Segment[], n: number): Promise<void> {
    const firstId = segs.length > 0 ? segs[0]!.firstId : this.flushed;
    // Dictionary delta: everything the tables learned since the last block.
    const dict: BlockDict = {};
    const pids = this.ctx.pids.since(this.pidsDone);
    if (pids.length > 0) dict.pids = pids.map((p) => [p.node.name, p.id, p.serial, p.creation]);
    const mfas = this.ctx.mfas.since(this.mfasDone);
    if (mfas.length > 0) dict.mfas = mfas.map((m) => [m.module, m.fun, m.arity]);
    const names = this.names;
    this.names = [];
    if (names.length > 0) dict.names = names;
    const dictText = Buffer.from(JSON.stringify(dict), 'utf8');
    const dictLen = pad8(dictText.length);
    const colLen = colBytes(n);
    const meta = new Uint8Array(dictLen + colLen);
    meta.fill(0x20, dictText.length, dictLen);
    meta.set(dictText, 0);
    const cols = colViews(meta.buffer, dictLen, n);
    // Indexed by the kind byte: AST events (AST_KIND_BIT set) count under the same kind names.
    const byKind = new Float64Array(256);
    let at = 0;
    // Only the payload and aux bytes are kept, packed: the event headers (trace_ts, pids, MFAs,
    // timestamps) are already in the columns, and are about half of a batch's bytes.
    let payBytes = 0;
    for (const s of segs) {
      const b = s.batch;
      for (let i = 0; i < b.count; i++) {
        const pl = b.payLen[i]!;
        const al = b.auxLen[i]!;
        if (pl !== NONE32) payBytes += pl;
        if (al !== NONE32) payBytes += al;
      }
    }
    const pay = Buffer.allocUnsafeSlow(payBytes);
    let w = 0;
    for (const s of segs) {
      const b = s.batch;
      const c = b.count;
      const bin = b.bin;
      cols.ts.set(b.ts, at);
      cols.pid.set(b.pid, at);
      cols.mfa.set(b.mfa, at);
      cols.peer.set(b.peer, at);
      cols.link.set(s.link.subarray(0, c), at);
      cols.parent.set(s.parent.subarray(0, c), at);
      cols.payLen.set(b.payLen, at);
      cols.auxLen.set(b.auxLen, at);
      cols.kind.set(b.kind, at);
      cols.payWrap.set(b.payWrap, at);
      cols.auxWrap.set(b.auxWrap, at);
      for (let i = 0; i < c; i++) {
        byKind[b.kind[i]!]++;
        const pl = b.payLen[i]!;
        if (pl === NONE32) cols.payOff[at + i] = 0;
        else {
          cols.payOff[at + i] = w;
          w = copyInto(pay, w, bin, b.payOff[i]!, pl);
        }
        const al = b.auxLen[i]!;
        if (al === NONE32) cols.auxOff[at + i] = 0;
        else {
          cols.auxOff[at + i] = w;
          w = copyInto(pay, w, bin, b.auxOff[i]!, al);
        }
      }
      at += c;
    }
    const payCrc = crc32(pay);
    const payBase = payBytes;
    const header = Buffer.alloc(BLOCK_HEADER_SIZE);
    header.writeUInt32LE(BLOCK_MAGIC, 0);
    header.writeUInt32LE(firstId, 4);
    header.writeUInt32LE(n, 8);
    header.writeUInt32LE(dictLen, 12);
    header.writeUInt32LE(colLen, 16);
    header.writeUInt32LE(payBase, 20);
    header.writeUInt32LE(crc32(meta), 24);
    header.writeUInt32LE(payCrc, 28);
    header.writeUInt32LE(crc32(header, 0, 36), 36);
    const pos = this.fileEnd;
    const total = BLOCK_HEADER_SIZE + meta.length + payBase;
    try {
      await this.file.writev([header, Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength), pay], pos);
      if (this.fsyncMode === 'always') await this.file.sync();
    } catch (e) {
      const err = this.fail(e, `writing ${n} events (ids ${firstId}..${firstId + n - 1}, ${total} bytes at byte ${pos} of ${EVENTS_FILE})`);
      // Cut the torn block off so the file ends on a whole block; the reader would skip it anyway.
      await this.file.truncate(pos).catch((e2: unknown) => {
        this.meta.errors.push(`could not cut the torn block off ${EVENTS_FILE} (${(e2 as Error).message}); readers ignore it`);
      });
      await this.writeMeta().catch((e3: unknown) => {
        err.message += ` (meta.json could not be updated either: ${(e3 as Error).message})`;
      });
      throw err;
    }
    this.fileEnd = pos + total;
    this.flushed = firstId + n;
    this.pidsDone += pids.length;
    this.mfasDone += mfas.length;
    const counts = this.meta.counts;
    counts.stored = this.flushed;
    for (let k = 0; k < byKind.length; k++) {
      if (byKind[k]! > 0) {
        const name = kindOfByte(k);
        if (name === undefined) continue;
        counts.byKind[name] = (counts.byKind[name] ?? 0) + byKind[k]!;
      }
    }
  }

  private fail(e: unknown, what: string): RecordingWriteError {
    if (this.failed !== null) return this.failed;
    const code = (e as { code?: string }).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : `${code ?? 'error'}: ${(e as Error).message}`;
    const err = new RecordingWriteError(
      `recording ${this.dir}: ${what} failed: ${why}. The ${this.flushed} event(s) flushed before are kept and readable; ` +
        `events after them are lost.`,
      e,
    );
    this.failed = err;
    this.meta.errors.push(err.message);
    this.meta.counts.dropped.write_failed = (this.meta.counts.dropped.write_failed ?? 0) + (this.nextId - this.flushed);
    return err;
  }

  private async writeMeta(): Promise<void> {
    const path = join(this.dir, META_FILE);
    const tmp = `${path}.tmp`;
    await this.fs.writeFile(tmp, Buffer.from(JSON.stringify(this.meta, null, 2) + '\n', 'utf8'), this.fsyncMode === 'always');
    await this.fs.rename(tmp, path);
  }
}

/** Copies src[from, from + n) to dst at `at`; returns the end. Small copies stay in JavaScript. */
function copyInto(dst: Buffer, at: number, src: Buffer, from: number, n: number): number {
  if (n <= 48) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else {
    src.copy(dst, at, from, from + n);
  }
  return at + n;
}

/** The real file system. */
export const nodeFs: StoreFs = {
  async open(path: string): Promise<StoreFile> {
    const fh: FileHandle = await open(path, 'wx');
    return {
      async writev(bufs: Buffer[], position: number): Promise<void> {
        let pos = position;
        let rest = bufs;
        for (;;) {
          const { bytesWritten } = await fh.writev(rest, pos);
          pos += bytesWritten;
          let left = bytesWritten;
          let k = 0;
          while (k < rest.length && left >= rest[k]!.length) left -= rest[k++]!.length;
          if (k === rest.length) return;
          // A short write: go on from where it stopped.
          rest = [rest[k]!.subarray(left), ...rest.slice(k + 1)];
        }
      },
      sync: () => fh.sync(),
      truncate: (len: number) => fh.truncate(len),
      close: () => fh.close(),
    };
  },
  async writeFile(path: string, data: Buffer, sync: boolean): Promise<void> {
    if (!sync) return writeFile(path, data);
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename: (from: string, to: string) => rename(from, to),
};
