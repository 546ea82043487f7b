/**
 * The pipeline from received batches to the store:
 *
 *   ingest(seq, bin) ─ parse (headers only) ─▶ RingBuffer ─(timer)─▶ Correlator ─▶ RecordingWriter
 *
 *   const ing = new Ingestor({ writer, relay });
 *   link.on('message', (m) => ing.ingest(seq, bin));      // synchronous; never waits on the disk
 *   await ing.flush();                                     // everything so far is on disk
 *   await ing.close('complete', 'stopped');
 *
 * `ingest` parses the batch at once (cheap: headers and byte ranges) and queues it; right after the
 * socket reads of that turn of the event loop, queued batches are correlated and handed to the
 * writer, which writes a block when `flushEvents` are waiting or every `flushMs`, one at a time. When the writer falls behind and the buffer is full,
 * whole batches are dropped and counted as `buffer_full`, so the link's handler never blocks, and
 * the node being debugged never waits for our disk.
 *
 * Counts (meta.counts of the writer): received = events that reached the engine (stored, dropped
 * or malformed); gaps in Seq are counted in `dropped.missing_batches` and logged in errors.
 */

import type { Pid } from '../erlang/terms.js';
import { parseBatch, type ParseContext, type ParsedBatch } from './batchParser.js';
import { Correlator, type CorrelatorOptions, type LinkSink } from './correlator.js';
import type { RecordingCounts } from './event.js';
import { RingBuffer } from './ringBuffer.js';

/**
 * Where the ingestor puts correlated events: the store's RecordingWriter. Declared here so that
 * capture does not depend on the store (the store depends on capture's event model).
 */
export interface IngestSink extends LinkSink {
  readonly ctx: ParseContext;
  readonly meta: { counts: RecordingCounts; errors: string[] };
  /** Events appended so far (the id the next one gets). */
  readonly count: number;
  /** Events appended but not yet written. */
  readonly pendingCount: number;
  append(batch: ParsedBatch, link: Uint32Array, parent: Uint32Array): void;
  flush(): Promise<void>;
  close(status: 'complete' | 'interrupted', stopReason: string | null): Promise<void>;
}

export interface IngestorOptions {
  writer: IngestSink;
  /** The relay's pid (es_limit events are filed under it). */
  relay?: Pid;
  /** Longest time an event waits before it is written; default 100 ms. */
  flushMs?: number;
  /** Write as soon as this many events wait; default 100,000. */
  flushEvents?: number;
  /**
   * Events the ring buffer holds before dropping; default 2,000,000. At most 2 × flushEvents more
   * wait in the writer (appended, not yet on disk).
   */
  bufferEvents?: number;
  correlator?: CorrelatorOptions;
  /** Called once when writing fails (the recording keeps what was flushed before). */
  onWriteError?: (err: Error) => void;
}

/** At most this many error lines go to meta.errors; the rest are counted in the last one. */
const MAX_ERRORS = 100;

export class Ingestor {
  readonly writer: IngestSink;
  readonly correlator: Correlator;
  private readonly ring: RingBuffer<ParsedBatch>;
  private readonly relay: Pid | undefined;
  private readonly flushMs: number;
  private readonly flushEvents: number;
  private readonly maxUnwritten: number;
  private readonly onWriteError: ((err: Error) => void) | undefined;
  private lastSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  private errorsDropped = 0;
  private reportedWriteError = false;

  constructor(opts: IngestorOptions) {
    this.writer = opts.writer;
    this.relay = opts.relay;
    this.flushMs = opts.flushMs ?? 100;
    this.flushEvents = opts.flushEvents ?? 100_000;
    this.maxUnwritten = Math.max(2 * this.flushEvents, 1);
    this.onWriteError = opts.onWriteError;
    this.ring = new RingBuffer<ParsedBatch>(opts.bufferEvents ?? 2_000_000);
    this.correlator = new Correlator(opts.correlator);
    this.timer = setInterval(() => this.tick(), this.flushMs);
    this.timer.unref();
  }

  private get counts(): IngestSink['meta']['counts'] {
    return this.writer.meta.counts;
  }

  /** Takes one batch `{es_batch, Relay, Seq, Bin}`. Synchronous, never throws for bad input. */
  ingest(seq: number, bin: Buffer): void {
    const counts = this.counts;
    if (this.closed) {
      // Nothing is parsed after the end; the events are unknown, so count the batch's list length.
      counts.dropped.after_stop += bin.length > 6 && bin[1] === 108 ? bin.readUInt32BE(2) : 0;
      return;
    }
    if (seq !== this.lastSeq + 1) {
      if (seq > this.lastSeq + 1) {
        const missing = seq - this.lastSeq - 1;
        counts.dropped.missing_batches = (counts.dropped.missing_batches ?? 0) + missing;
        this.error(`batches ${this.lastSeq + 1}..${seq - 1} from the agent never arrived (${missing} batch(es) of events lost)`);
      } else {
        this.error(`batch ${seq} arrived after batch ${this.lastSeq} (out of order or repeated); kept`);
      }
    }
    if (seq > this.lastSeq) this.lastSeq = seq;
    const batch = parseBatch(this.writer.ctx, bin, this.relay === undefined ? {} : { relay: this.relay });
    counts.received += batch.count + batch.malformed;
    if (batch.malformed > 0) {
      counts.dropped.malformed += batch.malformed;
      this.error(`batch ${seq}: ${batch.malformed} malformed event(s) skipped; first: ${batch.firstError ?? '?'}`);
    }
    if (batch.count === 0 && batch.names.length === 0) return;
    if (!this.ring.push(batch, batch.count)) {
      counts.dropped.buffer_full += batch.count;
      return;
    }
    // Correlate and append soon, after the socket reads of this turn of the event loop: small
    // steps keep the link read while the writer works.
    if (this.soon === null) {
      this.soon = setImmediate(() => {
        this.soon = null;
        this.step(false);
      });
    }
  }

  /** Records what the agent reported in its stats (drops on the target, truncated terms). */
  agentStats(dropped: Record<string, number>, truncated: number): void {
    this.counts.dropped.agent = { ...dropped };
    this.counts.truncated = truncated;
  }

  /** Notes a problem in meta.errors (bounded). */
  error(message: string): void {
    const errs = this.writer.meta.errors;
    if (errs.length < MAX_ERRORS) errs.push(message);
    else {
      this.errorsDropped++;
      errs[MAX_ERRORS - 1] = `... and ${this.errorsDropped + 1} more problems (the last: ${message})`;
    }
  }

  /** Moves everything buffered into the writer and writes it; resolves when it is on disk. */
  async flush(): Promise<void> {
    this.drain(true);
    while (this.flushing !== null) await this.flushing;
    await this.startFlush();
  }

  /** Flushes, closes the recording with this status and stops the timer. */
  async close(status: 'complete' | 'interrupted' = 'complete', stopReason: string | null = null): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.soon !== null) clearImmediate(this.soon);
    this.soon = null;
    this.drain(true);
    this.closed = true;
    while (this.flushing !== null) await this.flushing.catch(() => undefined);
    const cs = this.correlator.stats;
    if (cs.lateLost > 0 || cs.evicted > 0 || cs.unlinkable > 0) {
      this.writer.meta.errors.push(
        `correlation: ${cs.lateLost} link(s) found after their event was written, ${cs.evicted} wait(s) forgotten at the bound` +
          (cs.unlinkable > 0 ? `, ${cs.unlinkable} unreadable (${cs.lastError ?? '?'})` : ''),
      );
    }
    await this.writer.close(status, stopReason);
  }

  /**
   * Correlates and appends buffered batches (synchronous, in memory) while the writer holds fewer
   * than `maxUnwritten` events: when the disk falls behind, batches stay in the ring buffer, which
   * then fills and drops, so memory stays bounded by bufferEvents + maxUnwritten.
   */
  private drain(all = false): void {
    const w = this.writer;
    while (all || w.pendingCount < this.maxUnwritten) {
      const b = this.ring.shift();
      if (b === undefined) break;
      const link = new Uint32Array(b.count);
      const parent = new Uint32Array(b.count);
      this.correlator.process(b, w.count, link, parent, w);
      w.append(b, link, parent);
    }
  }

  /** Drains, and starts a flush when enough is waiting (or always, on the timer). */
  private step(timer: boolean): void {
    this.drain();
    const pending = this.writer.pendingCount;
    if (this.flushing === null && pending > 0 && (timer || pending >= this.flushEvents)) {
      // A failure is reported through onWriteError and kept in writer.failed / meta.errors; the
      // timer has nobody to throw it to.
      this.startFlush().catch(() => undefined);
    }
  }

  private tick(): void {
    this.step(true);
  }

  private startFlush(): Promise<void> {
    const p = this.writer.flush().then(
      () => {
        this.flushing = null;
        // More may have piled up while writing.
        this.step(false);
      },
      (e: unknown) => {
        this.flushing = null;
        if (!this.reportedWriteError) {
          this.reportedWriteError = true;
          this.onWriteError?.(e as Error);
        }
        throw e;
      },
    );
    this.flushing = p.catch(() => undefined);
    return p;
  }
}
