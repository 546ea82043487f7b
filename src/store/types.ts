/**
 * What a recording is, to its readers. The store's on-disk format is described in docs/store.md;
 * everything above the store (queries, CLI, Cinema) sees only this.
 */

import type { Pid } from '../erlang/terms.js';
import type { EventKind, StoredEvent } from '../capture/event.js';

/** Why events were lost, with how many. Every recording carries all of these, zero or not. */
export interface DropCounts {
  /** The engine's ring buffer was full (the writer fell behind). */
  buffer_full: number;
  /** Dropped on the target by the agent (reported in its stats), by reason. */
  agent: Record<string, number>;
  /** Events that arrived after a limit stopped the recording. */
  after_stop: number;
  /** Malformed events the engine could not parse (each also logged in `errors`). */
  malformed: number;
  /** Events that reached the engine after writing the recording failed (disk full...). */
  write_failed?: number;
  /** Batches that never arrived (gaps in the agent's Seq); their event count is unknown. */
  missing_batches?: number;
}

export interface RecordingCounts {
  /** Events that reached the engine. */
  received: number;
  /** Events in the store. */
  stored: number;
  dropped: DropCounts;
  /** Captured terms the agent truncated to `max_term_bytes`. */
  truncated: number;
  byKind: Partial<Record<EventKind, number>>;
}

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
