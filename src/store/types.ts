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
  /**
   * The traced node's supervision trees as read at the start and again at the stop (while the node
   * was alive). Absent in recordings made before it existed, or when the agent could not read it.
   */
  supervision?: RecordingSupervision;
}

// ----------------------------------------------------------------------------------------------
// Supervision (elixir_scope_agent:supervision_tree/1, docs/agent-protocol.md)
// ----------------------------------------------------------------------------------------------

export interface RecordingSupervision {
  start: SupervisionSnapshot | null;
  stop: SupervisionSnapshot | null;
}

/** Why a supervisor's children were not listed (it is still an entry). */
export type SupervisionSkip = 'timeout' | 'busy' | 'suspended' | 'noproc' | 'not_a_supervisor' | 'too_many' | 'budget' | 'error';

export interface SupervisionSnapshot {
  /** Wall clock (ms since the epoch) when it was read. */
  readonly takenAt: number;
  /** The node the pids below belong to, and its creation (pids are `<0.ID.SERIAL>` of that node). */
  readonly node: string;
  readonly creation: number;
  /** More entries existed than the agent was allowed to return. */
  readonly truncated: boolean;
  /** Parents before their children, in the order the agent walked them. */
  readonly entries: SupervisionEntry[];
}

export interface SupervisionEntry {
  /** The application, e.g. `shop`. */
  readonly app: string;
  /** `<0.150.0>`, or null while the child is not running (restarting, or stopped). */
  readonly pid: string | null;
  /** The supervisor's pid; null for an application's top supervisor. */
  readonly parent: string | null;
  /** The child id as `inspect` prints it (`Shop.Inventory`, `{:worker, 1}`); null for a top supervisor. */
  readonly id: string | null;
  readonly type: 'worker' | 'supervisor';
  /** The registered name as Elixir prints it (`Shop.PaymentSup`, `:kernel_sup`), or null. */
  readonly name: string | null;
  /** Set when this supervisor's children were not listed, and why. */
  readonly skipped?: SupervisionSkip;
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
