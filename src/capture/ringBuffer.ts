/**
 * A bounded FIFO between the link's message handler (producer) and the writer (consumer).
 *
 *   const rb = new RingBuffer<ParsedBatch>(1_000_000);      // capacity in units (events)
 *   if (!rb.push(batch, batch.count)) ...                   // full: dropped, and counted
 *   for (let b = rb.shift(); b !== undefined; b = rb.shift()) write(b);
 *
 * The producer never waits: when an item does not fit it is dropped at once and its units are added
 * to `dropped` (the recording's `buffer_full`), because stalling the link would back up the target
 * node, which is the one thing a debugger must not do. Items are kept whole (a batch is dropped or
 * kept entirely) so that what is stored stays a consistent run of each batch.
 */

export class RingBuffer<T> {
  private items: Array<T | undefined>;
  private sizes: Float64Array;
  private head = 0;
  private len = 0;
  private used = 0;
  /** Units refused because they did not fit. */
  dropped = 0;
  /** Items refused. */
  droppedItems = 0;

  constructor(
    /** Most units held at once (e.g. events). */
    readonly capacity: number,
    /** Most items held at once (slots of the ring). */
    readonly maxItems = 65536,
  ) {
    if (!(capacity > 0) || !(maxItems > 0)) throw new RangeError('RingBuffer: capacity and maxItems must be positive');
    this.items = new Array<T | undefined>(Math.min(maxItems, 64)).fill(undefined);
    this.sizes = new Float64Array(this.items.length);
  }

  /** Units held. */
  get size(): number {
    return this.used;
  }

  /** Items held. */
  get length(): number {
    return this.len;
  }

  /** Adds an item of `units`; false (and counted) when it does not fit. Never blocks. */
  push(item: T, units: number): boolean {
    if (this.used + units > this.capacity || this.len >= this.maxItems) {
      this.dropped += units;
      this.droppedItems++;
      return false;
    }
    if (this.len === this.items.length) this.grow();
    const i = (this.head + this.len) % this.items.length;
    this.items[i] = item;
    this.sizes[i] = units;
    this.len++;
    this.used += units;
    return true;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const i = this.head;
    const item = this.items[i];
    this.items[i] = undefined; // let the batch's bytes go
    this.used -= this.sizes[i]!;
    this.head = (i + 1) % this.items.length;
    this.len--;
    return item;
  }

  private grow(): void {
    const n = Math.min(this.items.length * 2, this.maxItems);
    const items = new Array<T | undefined>(n).fill(undefined);
    const sizes = new Float64Array(n);
    for (let k = 0; k < this.len; k++) {
      const j = (this.head + k) % this.items.length;
      items[k] = this.items[j];
      sizes[k] = this.sizes[j]!;
    }
    this.items = items;
    this.sizes = sizes;
    this.head = 0;
  }
}
