/**
 * The External Term Format codec: Erlang terms to bytes and back, losslessly.
 *
 *   import { decode, encode } from './erlang/etf/index.js';
 *   const term = decode(bytes);              // bytes from term_to_binary/1 or the distribution
 *   encode(term).equals(bytes);              // true for everything the BEAM writes
 *
 * See decode.ts and encode.ts for the guarantees on malformed input and on exact re-encoding.
 */

export { EtfError, type EtfErrorCode } from './errors.js';
export {
  decode,
  decodeAt,
  decodeBody,
  DEFAULT_MAX_COMPRESSED_SIZE,
  DEFAULT_MAX_DEPTH,
  type DecodeOptions,
} from './decode.js';
export { encode, encodeBody, EtfWriter, type EncodeOptions, type EtfWriterOptions } from './encode.js';
export * from './tags.js';
export { skipTerm, atomEnd, EtfCursor, type SplitInt } from './skip.js';
