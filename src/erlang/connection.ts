/**
 * One established distribution connection: framing, ticks, the distribution header, fragment
 * reassembly, and encoding of outgoing control messages.
 *
 * Incoming frames (4-byte length):
 *   length 0                 a tick; answered with a tick when we have been quiet
 *   'p' ctrl [msg]           pass-through: 131-prefixed terms
 *   131 68 hdr ctrl [msg]    distribution header with atom cache refs; terms without 131
 *   131 69 seq frag hdr ...  first fragment of a message (frag = number of fragments left)
 *   131 70 seq frag ...      following fragments, reassembled per sequence id
 *
 * Outgoing messages use the distribution header without cache refs (131 68 0) when the header was
 * negotiated, else pass-through. With FRAGMENTS, bodies over 64 KB go out as fragments. Frames wait
 * in one queue per sending process and the queues take turns, so a big message from one process
 * does not hold up the others, while each sender's signals keep their order.
 *
 * Liveness: every tickTime/4 we send a tick if we sent nothing in that interval; when nothing at all
 * arrived for tickTime (net_ticktime) the connection is declared down. Ticks received are echoed
 * so a peer with a shorter net_ticktime than ours still hears from us often enough.
 */

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { AtomCache, AtomCacheError } from './atomCache.js';
import { buildControl, MalformedControlError, parseControl, type Signal } from './controlMessages.js';
import { decodeAt, decodeBody, encode, encodeBody } from './etf/index.js';
import { DFLAG } from './flags.js';
import { FrameReader, FrameTooLargeError } from './framing.js';
import { Pid, type Atom, type Term } from './terms.js';

export interface ConnectionOptions {
  /** net_ticktime in ms: silence for this long means the peer is dead. Default 60 000. */
  tickTimeMs: number;
  /** Largest single frame or reassembled message accepted. Default 1 GiB. */
  maxMessageBytes: number;
  /** Where to report things worth a line (unknown control messages). Never gets the cookie. */
  warn: (message: string) => void;
}

interface PartialMessage {
  refs: Atom[];
  chunks: Buffer[];
  bytes: number;
  nextFragment: bigint;
}

const TICK = Buffer.alloc(4);
const EMPTY = Buffer.alloc(0);
const PASS_THROUGH = Buffer.from([112]);
/** A distribution header without atom cache refs: we never create cache entries. */
const HEADER_NO_REFS = Buffer.from([131, 68, 0]);
/** Messages bigger than this go out as fragments of this size (as the BEAM does). */
const FRAGMENT_BYTES = 64 * 1024;
/** Stop handing frames to the socket while this much is waiting in its buffer. */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;

function* singleFrame(parts: Buffer[]): Iterator<Buffer[]> {
  yield parts;
}

/**
 * The frames of one fragmented message: 131 69 Seq FragId 0 (no atom cache refs) for the first,
 * 131 70 Seq FragId for the others; FragId counts down to 1. The body is sliced, never copied.
 */
function* fragmentFrames(body: Buffer[], size: number, seq: bigint): Iterator<Buffer[]> {
  const count = Math.ceil(size / FRAGMENT_BYTES);
  let part = 0;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const first = i === 0;
    const head = Buffer.alloc(first ? 19 : 18);
    head[0] = 131;
    head[1] = first ? 69 : 70;
    head.writeBigUInt64BE(seq, 2);
    head.writeBigUInt64BE(BigInt(count - i), 10);
    const out: Buffer[] = [head];
    let want = Math.min(FRAGMENT_BYTES, size - i * FRAGMENT_BYTES);
    while (want > 0) {
      const b = body[part]!;
      const n = Math.min(want, b.length - offset);
      out.push(b.subarray(offset, offset + n));
      want -= n;
      offset += n;
      if (offset === b.length) {
        part++;
        offset = 0;
      }
    }
    yield out;
  }
}

/** Signals from one process stay in order; signals without a sender share one queue. */
function senderOf(sig: Signal): string {
  switch (sig.kind) {
    case 'send':
      return sig.from?.key ?? '';
    case 'monitor_exit':
      return sig.sender?.key ?? (sig.target instanceof Pid ? sig.target.key : sig.target.name);
    case 'ignored':
    case 'unknown':
      return '';
    default:
      return sig.from.key;
  }
}

/** Does a frame given as slices start with 131 70 and hold at least its 18-byte header? */
function isContinuation(parts: Buffer[]): boolean {
  let total = 0;
  for (const p of parts) total += p.length;
  if (total < 18) return false;
  const b0 = parts[0]![0];
  const b1 = parts[0]!.length > 1 ? parts[0]![1] : parts[1]![0];
  return b0 === 131 && b1 === 70;
}
/** A received tick is echoed only if we wrote nothing for this long. */
const ECHO_QUIET_MS = 500;
/** Below this, frames may be slices of a shared 64 KB socket chunk: copy binaries out of them. */
const ZERO_COPY_MIN = 256 * 1024;

/**
 * Events: 'signal' (sig: Signal), 'down' (reason: string, error?: Error). After 'down' the
 * connection is finished; nothing is emitted again.
 */
export class Connection extends EventEmitter {
  private readonly reader: FrameReader;
  private readonly atomCache = new AtomCache();
  private readonly partial = new Map<bigint, PartialMessage>();
  private readonly tickTimer: NodeJS.Timeout;
  private lastReceived = Date.now();
  private sentSinceTick = false;
  /** When we last wrote anything (decides whether a received tick is echoed). */
  private lastSent = Date.now();
  private downReason: string | undefined;
  private readonly warnedOps = new Set<number>();
  private readonly useHeader: boolean;
  private readonly useFragments: boolean;
  private readonly outQueues = new Map<string, Array<Iterator<Buffer[]>>>();
  private waitingDrain = false;
  private nextSequence = 1n;

  constructor(
    private readonly sock: Socket,
    readonly peerName: Atom,
    readonly flags: bigint,
    readonly peerCreation: number,
    rest: Buffer[],
    private readonly opts: ConnectionOptions,
  ) {
    super();
    this.useHeader = (flags & DFLAG.DIST_HDR_ATOM_CACHE) !== 0n;
    this.useFragments = (flags & DFLAG.FRAGMENTS) !== 0n;
    this.reader = new FrameReader(4, opts.maxMessageBytes);
    sock.setNoDelay(true);
    sock.on('data', (c: Buffer) => this.onData(c));
    sock.on('error', (err) => this.shutdown(`socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    sock.on('close', () => this.shutdown('connection closed by peer'));
    this.tickTimer = setInterval(() => this.onTickInterval(), Math.max(10, Math.floor(opts.tickTimeMs / 4)));
    this.tickTimer.unref();
    for (const c of rest) this.reader.push(c);
    if (rest.length > 0) queueMicrotask(() => this.processFrames());
  }

  get isUp(): boolean {
    return this.downReason === undefined;
  }

  get reason(): string | undefined {
    return this.downReason;
  }

  /** Sends one signal. Silently does nothing once the connection is down (as on the BEAM). */
  send(sig: Signal): void {
    if (this.downReason !== undefined) return;
    const { ctrl, payload } = buildControl(sig, this.flags);
    let item: Iterator<Buffer[]>;
    if (this.useHeader || this.useFragments) {
      const body = [encodeBody(ctrl)];
      if (payload !== undefined) body.push(encodeBody(payload));
      const size = body.reduce((n, b) => n + b.length, 0);
      item =
        this.useFragments && size > FRAGMENT_BYTES
          ? fragmentFrames(body, size, this.nextSequence++)
          : singleFrame([this.useHeader ? HEADER_NO_REFS : PASS_THROUGH, ...body]);
    } else {
      const parts = [PASS_THROUGH, encode(ctrl)];
      if (payload !== undefined) parts.push(encode(payload));
      item = singleFrame(parts);
    }
    // One FIFO per sender keeps each sender's signals in order; taking turns between senders lets
    // small messages pass between the fragments of a big one.
    const key = senderOf(sig);
    const q = this.outQueues.get(key);
    if (q) q.push(item);
    else this.outQueues.set(key, [item]);
    this.pump();
  }

  /** Messages accepted by send() and not completely handed to the socket yet. */
  get queuedMessages(): number {
    let n = 0;
    for (const q of this.outQueues.values()) n += q.length;
    return n;
  }

  private pump(): void {
    while (this.outQueues.size > 0 && this.downReason === undefined) {
      if (this.sock.writableLength >= WRITE_BUFFER_BYTES) {
        if (!this.waitingDrain) {
          this.waitingDrain = true;
          this.sock.once('drain', () => {
            this.waitingDrain = false;
            this.pump();
          });
        }
        return;
      }
      // Round robin: the first queue gives one frame, then goes to the back.
      const [key, q] = this.outQueues.entries().next().value as [string, Array<Iterator<Buffer[]>>];
      this.outQueues.delete(key);
      const r = q[0]!.next();
      if (r.done) q.shift();
      else this.writeFrame(r.value);
      if (q.length > 0) this.outQueues.set(key, q);
    }
  }

  private writeFrame(parts: Buffer[]): void {
    let len = 0;
    for (const p of parts) len += p.length;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(len, 0);
    // cork/uncork makes one writev of the pieces: a big payload is never copied again.
    this.sock.cork();
    this.sock.write(head);
    for (const p of parts) this.sock.write(p);
    this.sock.uncork();
    this.sentSinceTick = true;
    this.lastSent = Date.now();
  }

  /** Closes the connection; 'down' is emitted with `reason`. */
  close(reason = 'closed by us'): void {
    this.shutdown(reason);
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    this.reader.push(chunk);
    this.processFrames();
  }

  private processFrames(): void {
    try {
      for (;;) {
        if (this.downReason !== undefined) return;
        const parts = this.reader.nextParts();
        if (parts === undefined) return;
        if (parts.length > 1 && isContinuation(parts)) {
          this.onContinuation(parts);
          continue;
        }
        const f = parts.length === 1 ? parts[0]! : parts.length === 0 ? EMPTY : Buffer.concat(parts);
        if (f.length === 0) {
          // A tick. Echo it unless we wrote something lately: the peer then hears from us at its
          // own tick rate, whatever our tickTimeMs. The quiet period bounds the exchange between
          // two echoing peers to one tick each way per ECHO_QUIET_MS.
          if (Date.now() - this.lastSent >= ECHO_QUIET_MS) this.writeTick();
          continue;
        }
        this.onFrame(f);
      }
    } catch (err) {
      const detail =
        err instanceof FrameTooLargeError || err instanceof AtomCacheError || err instanceof MalformedControlError
          ? err.message
          : err instanceof Error
            ? `${err.name}: ${err.message}`
            : String(err);
      this.shutdown(`malformed data: ${detail}`, err instanceof Error ? err : undefined);
    }
  }

  private onFrame(f: Buffer): void {
    if (f[0] === 112) {
      const opts = { zeroCopy: f.length > ZERO_COPY_MIN };
      const ctrl = decodeAt(f, 1, opts);
      const payload = ctrl.end < f.length ? decodeAt(f, ctrl.end, opts).term : undefined;
      this.dispatch(ctrl.term, payload);
      return;
    }
    if (f[0] !== 131 || f.length < 2) throw new MalformedControlError(`frame starts with byte ${f[0]}, expected 112 or 131`);
    const kind = f[1];
    if (kind === 68) {
      const { refs, end } = this.atomCache.readHeader(f, 2);
      this.decodeMessage(f, end, refs);
      return;
    }
    if (kind === 69 || kind === 70) {
      if (f.length < 18) throw new MalformedControlError('fragment header truncated');
      const seq = f.readBigUInt64BE(2);
      const frag = f.readBigUInt64BE(10);
      if (kind === 69) {
        const { refs, end } = this.atomCache.readHeader(f, 18);
        if (frag === 1n) {
          this.decodeMessage(f, end, refs);
          return;
        }
        if (frag === 0n) throw new MalformedControlError('fragment id 0');
        const body = f.subarray(end);
        this.partial.set(seq, { refs, chunks: [body], bytes: body.length, nextFragment: frag - 1n });
        return;
      }
      this.addFragment(seq, frag, [f.subarray(18)]);
      return;
    }
    throw new MalformedControlError(`unknown distribution header kind 131,${kind}`);
  }

  /** A continuation fragment that arrived split over socket chunks: keep its slices, uncopied. */
  private onContinuation(parts: Buffer[]): void {
    const head = Buffer.allocUnsafe(18);
    let filled = 0;
    const rest: Buffer[] = [];
    for (const p of parts) {
      if (filled < 18) {
        const n = Math.min(18 - filled, p.length);
        p.copy(head, filled, 0, n);
        filled += n;
        if (n < p.length) rest.push(p.subarray(n));
      } else {
        rest.push(p);
      }
    }
    this.addFragment(head.readBigUInt64BE(2), head.readBigUInt64BE(10), rest);
  }

  private addFragment(seq: bigint, frag: bigint, body: Buffer[]): void {
    const p = this.partial.get(seq);
    if (p === undefined) throw new MalformedControlError(`continuation fragment for unknown sequence ${seq}`);
    if (frag !== p.nextFragment) {
      throw new MalformedControlError(`fragment ${frag} of sequence ${seq} arrived, expected ${p.nextFragment}`);
    }
    for (const b of body) {
      p.chunks.push(b);
      p.bytes += b.length;
    }
    if (p.bytes > this.opts.maxMessageBytes) {
      throw new FrameTooLargeError(p.bytes, this.opts.maxMessageBytes);
    }
    if (frag === 1n) {
      this.partial.delete(seq);
      // The one copy of a fragmented message: all its slices into one buffer for the decoder.
      this.decodeMessage(Buffer.concat(p.chunks, p.bytes), 0, p.refs);
    } else {
      p.nextFragment = frag - 1n;
    }
  }

  private decodeMessage(buf: Buffer, offset: number, refs: Atom[]): void {
    // Large frames are buffers of their own (copied once on arrival): binaries may share them.
    const opts = { atomCache: refs, zeroCopy: buf.length > ZERO_COPY_MIN };
    const ctrl = decodeBody(buf, offset, opts);
    const payload = ctrl.end < buf.length ? decodeBody(buf, ctrl.end, opts).term : undefined;
    this.dispatch(ctrl.term, payload);
  }

  private dispatch(ctrl: Term, payload: Term | undefined): void {
    const sig = parseControl(ctrl, payload);
    if (sig.kind === 'unknown') {
      if (!this.warnedOps.has(sig.op)) {
        this.warnedOps.add(sig.op);
        this.opts.warn(`ignoring distribution control message ${sig.op} from ${this.peerName.name} (not supported; further ones are ignored silently)`);
      }
      return;
    }
    if (sig.kind === 'ignored') return;
    this.emit('signal', sig);
  }

  private onTickInterval(): void {
    if (this.downReason !== undefined) return;
    if (Date.now() - this.lastReceived > this.opts.tickTimeMs) {
      this.shutdown(`no data or tick for more than ${this.opts.tickTimeMs} ms (net_ticktime)`);
      return;
    }
    if (!this.sentSinceTick) this.writeTick();
    this.sentSinceTick = false;
  }

  private writeTick(): void {
    this.sock.write(TICK);
    this.sentSinceTick = true;
    this.lastSent = Date.now();
  }

  private shutdown(reason: string, error?: Error): void {
    if (this.downReason !== undefined) return;
    this.downReason = reason;
    clearInterval(this.tickTimer);
    this.partial.clear();
    this.sock.destroy();
    this.emit('down', reason, error);
  }
}
