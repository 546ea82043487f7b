/**
 * The one error type of the codec. Every malformed input, and every value the encoder cannot write,
 * ends in an EtfError: callers catch one class and can tell the cases apart by `code`.
 */

export type EtfErrorCode =
  /** The input ended inside a term. */
  | 'TRUNCATED'
  /** The first byte is not 131 (decode, decodeAt). */
  | 'BAD_VERSION'
  /** A byte that is not a known tag, or a tag where it is not allowed. */
  | 'BAD_TAG'
  /** A length or count that the remaining bytes cannot hold, or that the format forbids. */
  | 'BAD_LENGTH'
  /** A field with a value the BEAM would refuse (atom text, float, bit count, fun size...). */
  | 'BAD_VALUE'
  /** decode() found bytes after the term. */
  | 'TRAILING_BYTES'
  /** Nesting deeper than `maxDepth`. */
  | 'TOO_DEEP'
  /** A compressed term whose declared size exceeds `maxCompressedSize`. */
  | 'TOO_LARGE'
  /** Corrupt zlib data, or inflated data whose size differs from the declared size. */
  | 'BAD_ZLIB'
  /** ATOM_CACHE_REF without an atom cache, or to an empty entry. */
  | 'ATOM_CACHE'
  /** encode(): a value that has no External Term Format representation. */
  | 'UNENCODABLE';

export class EtfError extends Error {
  override readonly name = 'EtfError';

  constructor(
    readonly code: EtfErrorCode,
    message: string,
    /** Byte offset in the input where the problem was found (for encode errors: in the output). */
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}
