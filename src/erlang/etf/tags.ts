/**
 * Tag bytes of the External Term Format (erts/doc erl_ext_dist), as OTP 25–27 write and read them.
 * Deprecated tags are kept because older nodes and hand-built terms still use them: the decoder reads
 * every tag listed here, the encoder writes only what a current BEAM writes.
 */

/** First byte of every term written by term_to_binary (and of a distribution header). */
export const VERSION_MAGIC = 131;

/** `131, 80, UncompressedSize:32, ZlibData`: a term_to_binary(T, [compressed]) result. */
export const COMPRESSED = 80;
/** Distribution header tags (after 131); they never appear inside a term. */
export const DIST_HEADER = 68;
export const DIST_FRAG_HEADER = 69;
export const DIST_FRAG_CONT = 70;

export const ATOM_CACHE_REF = 82;
export const NEW_FLOAT_EXT = 70;
export const BIT_BINARY_EXT = 77;
export const NEW_PID_EXT = 88;
export const NEW_PORT_EXT = 89;
export const NEWER_REFERENCE_EXT = 90;
export const SMALL_INTEGER_EXT = 97;
export const INTEGER_EXT = 98;
/** 31-byte "%.20e" string float: minor version 0 only; decoded, never written. */
export const FLOAT_EXT = 99;
/** Latin-1 atom with a 2-byte length: what OTP 25's term_to_binary writes for latin-1 atoms. */
export const ATOM_EXT = 100;
/** Deprecated: decoded, never written. */
export const REFERENCE_EXT = 101;
/** Deprecated (1-byte creation): decoded, never written. */
export const PORT_EXT = 102;
/** Deprecated (1-byte creation): decoded, never written. */
export const PID_EXT = 103;
export const SMALL_TUPLE_EXT = 104;
export const LARGE_TUPLE_EXT = 105;
export const NIL_EXT = 106;
export const STRING_EXT = 107;
export const LIST_EXT = 108;
export const BINARY_EXT = 109;
export const SMALL_BIG_EXT = 110;
export const LARGE_BIG_EXT = 111;
export const NEW_FUN_EXT = 112;
export const EXPORT_EXT = 113;
/** Deprecated (1-byte creation): decoded, never written. */
export const NEW_REFERENCE_EXT = 114;
/** Latin-1 atom with a 1-byte length (needs DFLAG_SMALL_ATOM_TAGS): decoded, never written. */
export const SMALL_ATOM_EXT = 115;
export const MAP_EXT = 116;
/** Removed in OTP 23 (not emitted since R8): recognised only to give a clear error. */
export const FUN_EXT = 117;
export const ATOM_UTF8_EXT = 118;
export const SMALL_ATOM_UTF8_EXT = 119;
export const V4_PORT_EXT = 120;
/** OTP 26+: the rest of the input is a node-local encoding (term_to_binary(T, [local])). */
export const LOCAL_EXT = 121;

/** Human-readable names, for error messages. */
export const TAG_NAMES: Readonly<Record<number, string>> = {
  [COMPRESSED]: 'COMPRESSED',
  [DIST_HEADER]: 'DIST_HEADER',
  [DIST_FRAG_HEADER]: 'DIST_FRAG_HEADER',
  [ATOM_CACHE_REF]: 'ATOM_CACHE_REF',
  [NEW_FLOAT_EXT]: 'NEW_FLOAT_EXT',
  [BIT_BINARY_EXT]: 'BIT_BINARY_EXT',
  [NEW_PID_EXT]: 'NEW_PID_EXT',
  [NEW_PORT_EXT]: 'NEW_PORT_EXT',
  [NEWER_REFERENCE_EXT]: 'NEWER_REFERENCE_EXT',
  [SMALL_INTEGER_EXT]: 'SMALL_INTEGER_EXT',
  [INTEGER_EXT]: 'INTEGER_EXT',
  [FLOAT_EXT]: 'FLOAT_EXT',
  [ATOM_EXT]: 'ATOM_EXT',
  [REFERENCE_EXT]: 'REFERENCE_EXT',
  [PORT_EXT]: 'PORT_EXT',
  [PID_EXT]: 'PID_EXT',
  [SMALL_TUPLE_EXT]: 'SMALL_TUPLE_EXT',
  [LARGE_TUPLE_EXT]: 'LARGE_TUPLE_EXT',
  [NIL_EXT]: 'NIL_EXT',
  [STRING_EXT]: 'STRING_EXT',
  [LIST_EXT]: 'LIST_EXT',
  [BINARY_EXT]: 'BINARY_EXT',
  [SMALL_BIG_EXT]: 'SMALL_BIG_EXT',
  [LARGE_BIG_EXT]: 'LARGE_BIG_EXT',
  [NEW_FUN_EXT]: 'NEW_FUN_EXT',
  [EXPORT_EXT]: 'EXPORT_EXT',
  [NEW_REFERENCE_EXT]: 'NEW_REFERENCE_EXT',
  [SMALL_ATOM_EXT]: 'SMALL_ATOM_EXT',
  [MAP_EXT]: 'MAP_EXT',
  [FUN_EXT]: 'FUN_EXT',
  [ATOM_UTF8_EXT]: 'ATOM_UTF8_EXT',
  [SMALL_ATOM_UTF8_EXT]: 'SMALL_ATOM_UTF8_EXT',
  [V4_PORT_EXT]: 'V4_PORT_EXT',
  [LOCAL_EXT]: 'LOCAL_EXT',
};

export const tagName = (tag: number): string => TAG_NAMES[tag] ?? `unknown tag ${tag}`;
