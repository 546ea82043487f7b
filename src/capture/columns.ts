/**
 * Typed-array columns carved out of one ArrayBuffer, one after the other: the parser's batches and
 * the store's blocks both lay their columns out this way (one allocation, or one read, for all).
 */

export class ColumnCarver {
  private p: number;

  /** `byteOffset` must be 8-aligned, so that the Float64 columns that come first are aligned. */
  constructor(
    private readonly ab: ArrayBuffer,
    byteOffset: number,
    private readonly n: number,
  ) {
    if (byteOffset % 8 !== 0) throw new Error('ColumnCarver: columns must start 8-aligned');
    this.p = byteOffset;
  }

  f64(): Float64Array {
    const a = new Float64Array(this.ab, this.p, this.n);
    this.p += 8 * this.n;
    return a;
  }

  u32(): Uint32Array {
    const a = new Uint32Array(this.ab, this.p, this.n);
    this.p += 4 * this.n;
    return a;
  }

  u8(): Uint8Array {
    const a = new Uint8Array(this.ab, this.p, this.n);
    this.p += this.n;
    return a;
  }
}
