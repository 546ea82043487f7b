/**
 * The receive side of the distribution header's atom cache (DFLAG_DIST_HDR_ATOM_CACHE).
 *
 * A peer that negotiated the cache sends each atom's text once, into one of 2048 slots (8 segments
 * of 256); later messages name the slot. The header of every message lists the slots it uses, and
 * ATOM_CACHE_REF (tag 82) inside the terms indexes that list, not the slot table. The table is per
 * connection and per direction; we only keep the incoming one because we never send cache entries.
 */

import { Atom } from './terms.js';

export class AtomCacheError extends Error {}

export class AtomCache {
  private readonly slots: Array<Atom | undefined> = new Array(2048);

  /**
   * Parses the atom-cache part of a distribution header starting at `offset` (the byte holding
   * NumberOfAtomCacheRefs). Returns the atoms this message refers to, in header order, and the
   * offset after the header.
   */
  readHeader(buf: Buffer, offset: number): { refs: Atom[]; end: number } {
    let p = offset;
    const need = (n: number): void => {
      if (p + n > buf.length) throw new AtomCacheError(`distribution header truncated at byte ${p}`);
    };
    need(1);
    const n = buf[p++]!;
    if (n === 0) return { refs: [], end: p };
    const flagBytes = (n >> 1) + 1;
    need(flagBytes);
    const flagsAt = p;
    p += flagBytes;
    const nibble = (i: number): number => {
      const b = buf[flagsAt + (i >> 1)]!;
      return i & 1 ? b >> 4 : b & 0x0f;
    };
    const longAtoms = (nibble(n) & 0x1) !== 0;
    const refs: Atom[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const f = nibble(i);
      const isNew = (f & 0x8) !== 0;
      const segment = f & 0x7;
      need(1);
      const slot = segment * 256 + buf[p++]!;
      if (isNew) {
        need(longAtoms ? 2 : 1);
        const len = longAtoms ? buf.readUInt16BE(p) : buf[p]!;
        p += longAtoms ? 2 : 1;
        need(len);
        const a = Atom.of(buf.toString('utf8', p, p + len));
        p += len;
        this.slots[slot] = a;
        refs[i] = a;
      } else {
        const a = this.slots[slot];
        if (a === undefined) throw new AtomCacheError(`distribution header refers to empty atom cache slot ${slot}`);
        refs[i] = a;
      }
    }
    return { refs, end: p };
  }
}
