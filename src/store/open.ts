/**
 * How the query commands open a recording. The store (src/store/recording.ts) is being written in
 * parallel; this one indirection keeps the commands building until it lands, and is the only line
 * to change when it does.
 */

import type { Recording } from './types.js';

/** Opens the recording in `dir` for reading. */
export function openForQuery(dir: string): Recording {
  const err = new Error(`cannot open ${dir}: the recording store is not built yet (store not built yet)`);
  // The CLI prints errors that carry a code as their message alone (exit 1), without a stack.
  (err as Error & { code: string }).code = 'ES_STORE_MISSING';
  throw err;
}
