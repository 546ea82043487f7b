/**
 * What a recording is, to its readers. The store's on-disk format is described in docs/store.md;
 * everything above the store (queries, CLI, Cinema) sees only this.
 */

import type { Pid } from '../erlang/terms.js';
import type { RecordingCounts, StoredEvent } from '../capture/event.js';

// The counts are the pipeline's (src/capture/event.ts); a recording carries them in its meta.
export type { DropCounts, RecordingCounts } from '../capture/event.js';

export type RecordingStatus = 'recording' | 'complete' | 'interrupted';

export interface RecordingMeta {
  readonly schema: number;
  /** The traced node, e.g. `shop@vm`. */
  readonly node: string;
  readonly otpRelease: string;
  readonly elixirVersion: string | null;
  readonly agentVersion: number;
  /** Wall clock (ms since the epoch) when recording started. */
  readonly startedAt: number;
  /** The traced node's native monotonic time at the start, as a decimal string (it is an int64). */
  readonly monoStart: string;
  /** Native time units per second on the traced node. */
  readonly nativePerSec: number;
  /** What was asked for: the command line's trace specs and limits, as given. */
  readonly request: unknown;
  status: RecordingStatus;
  /** Why it stopped: `duration`, `max_events`, `interrupted`, `{limit ...}` rendered, `node_down`... */
  stopReason: string | null;
  endedAt: number | null;
  counts: RecordingCounts;
  /** Problems met while recording, for the summary (never the cookie). */
  errors: string[];
}

/** A process as the recording knows it. */
export interface ProcessInfo {
  readonly pid: Pid;
  /** Registered name if one was seen (register event or the request), else null. */
  readonly name: string | null;
  /** The MFA it was spawned with, if its spawn was traced. */
  readonly initialCall: string | null;
  readonly firstId: number;
  readonly lastId: number;
  readonly count: number;
}

/** An opened recording. Ids are dense from 0 to count - 1. */
export interface Recording {
  readonly dir: string;
  readonly meta: RecordingMeta;
  readonly count: number;
  event(id: number): StoredEvent;
  /** Ids of every event of this pid, ascending. */
  idsOfPid(pid: Pid): Uint32Array;
  processes(): ProcessInfo[];
  /** The pid with this registered name (or `#PID<0.1.2>` / `<0.1.2>` text), if the recording has one. */
  resolvePid(text: string): Pid | undefined;
  /** The first id whose ts >= tsNs (ts is non-decreasing per pid, and nearly so overall). */
  firstIdAtOrAfter(tsNs: number): number;
  close(): void;
}
