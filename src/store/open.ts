/**
 * How the query commands open a recording: the store's `openRecording`, with its failures turned into
 * one sentence that names the directory (the CLI prints errors that carry a code without a stack).
 */

import { openRecording } from './recording.js';
import type { Recording } from './types.js';

/** An unreadable recording: missing, not a recording, from a newer version, damaged. */
export class RecordingOpenError extends Error {
  readonly code = 'ES_RECORDING_OPEN';
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'RecordingOpenError';
  }
}

/** Opens the recording in `dir` for reading. */
export function openForQuery(dir: string): Recording {
  try {
    return openRecording(dir);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // The store's messages usually name the directory already; say it once.
    const text = why.includes(dir) ? `cannot open the recording: ${why}` : `cannot open the recording ${dir}: ${why}`;
    throw new RecordingOpenError(text, { cause: err });
  }
}
