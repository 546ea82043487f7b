/**
 * The event store: RecordingWriter writes a recording folder, openRecording reads it. The format is
 * in format.ts and docs/store.md; readers above the store see only the Recording interface.
 */

export type { DropCounts, ProcessInfo, Recording, RecordingCounts, RecordingMeta, RecordingStatus } from './types.js';
export { RecordingWriter, nodeFs, type RecordingMetaInit, type StoreFile, type StoreFs, type WriterOptions } from './writer.js';
export { openRecording, formatMfa, type OpenOptions } from './reader.js';
export { RecordingFormatError, RecordingWriteError } from './format.js';
export { crc32 } from './crc32.js';
