/**
 * Where readers open a recording: `openRecording(dir)` (see reader.ts for what opening checks).
 * Kept as its own module so that code above the store has one stable import.
 */

export { openRecording, formatMfa, type OpenOptions } from './reader.js';
export { RecordingFormatError } from './format.js';
