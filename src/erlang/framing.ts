/**
 * Length-prefixed framing without quadratic buffering.
 *
 * The handshake uses 2-byte lengths, the connected phase 4-byte lengths. Incoming TCP chunks are
 * kept in a list; a frame is copied at most once, when all of its bytes have arrived (and not at
 * all when it lies inside one chunk). A 50 MB message arriving in 64 KB chunks therefore costs one
 * 50 MB copy, not 800 growing concatenations.
 */

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Offset of the first unread byte in chunks[0]. */
  private head = 0;

  constructor(
    private readonly headerBytes: 2 | 4,
    /** Frames announcing more than this are refused (a corrupt or hostile length). */
    private readonly maxFrameBytes: number,
  ) {}

  /** Bytes received and not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame's payload, or undefined until one has fully arrived. A zero-length
   * frame (a tick, in the connected phase) is returned as an empty buffer.
   */
  next(): Buffer | undefined {
    const len = this.completeFrameLength();
    if (len === undefined) return undefined;
    this.skip(this.headerBytes);
    return this.take(len);
  }

  /**
   * Like next(), but the payload comes as the list of chunk slices it lies in, uncopied. Lets the
   * caller append big fragments to a reassembly list without an intermediate copy.
   */
  nextParts(): Buffer[] | undefined {
    const len = this.completeFrameLength();
    if (len === undefined) return undefined;
    this.skip(this.headerBytes);
    this.buffered -= len;
    const parts: Buffer[] = [];
    let left = len;
    while (left > 0) {
      const c = this.chunks[0]!;
      const part = Math.min(c.length - this.head, left);
      parts.push(c.subarray(this.head, this.head + part));
      left -= part;
      this.head += part;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return parts;
  }

  /** Everything buffered and not consumed, for handing over to the next phase's reader. */
  drain(): Buffer[] {
    const out = this.chunks.map((c, i) => (i === 0 ? c.subarray(this.head) : c)).filter((c) => c.length > 0);
    this.chunks = [];
    this.buffered = 0;
    this.head = 0;
    return out;
  }

  /**
   * The payload length of the frame at the head, once all of it has arrived; undefined before.
   * A length over the limit is refused as soon as the header is in, before waiting for the bytes.
   */
  private completeFrameLength(): number | undefined {
    if (this.buffered < this.headerBytes) return undefined;
    const header = this.peek(this.headerBytes);
    const len = this.headerBytes === 2 ? header.readUInt16BE(0) : header.readUInt32BE(0);
    if (len > this.maxFrameBytes) {
      throw new FrameTooLargeError(len, this.maxFrameBytes);
    }
    return this.buffered < this.headerBytes + len ? undefined : len;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let off = this.head;
    for (const c of this.chunks) {
      const part = Math.min(c.length - off, n - filled);
      c.copy(out, filled, off, off + part);
      filled += part;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  private skip(n: number): void {
    this.take(n);
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const part = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + part);
      filled += part;
      this.head += part;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}

export class FrameTooLargeError extends Error {
  constructor(
    readonly length: number,
    readonly max: number,
  ) {
    super(`a frame announces ${length} bytes, more than the limit of ${max}`);
  }
}
