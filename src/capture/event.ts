/**
 * The event model: one record per thing that happened on a traced node, from either source.
 *
 * Everything here is shared by the pipeline (capture), the store and every face (CLI, Cinema).
 * Payload terms stay as ETF bytes until somebody asks for them; see docs/agent-protocol.md for how
 * each kind arrives from the agent and docs/store.md for how it is kept.
 */

import type { Pid, Term } from '../erlang/terms.js';

/**
 * Bump when the on-disk meaning of a field changes; readers refuse versions they do not know.
 * Version 2 added AST events (kinds 19-23, and the AST_KIND_BIT of the kind byte); version 1
 * recordings still open (every event in them is a runtime one).
 */
export const SCHEMA_VERSION = 2;

/** The oldest recording version this code still reads. */
export const OLDEST_SCHEMA_VERSION = 1;

/**
 * Set in the kind byte (of the parser's batches and of the store's columns) when the event came from
 * instrumented code (`es_ast`); the low 7 bits are the EVENT_KINDS code. One byte keeps both the
 * kind and the source, so no column was added for the source.
 */
export const AST_KIND_BIT = 0x80;
export const KIND_CODE_MASK = 0x7f;

/** Every kind of event, with the code stored on disk. Codes are never reused. */
export const EVENT_KINDS = {
  call: 1,
  return: 2,
  exception: 3,
  send: 4,
  send_to_dead: 5,
  receive: 6,
  spawn: 7,
  spawned: 8,
  exit: 9,
  link: 10,
  unlink: 11,
  getting_linked: 12,
  getting_unlinked: 13,
  register: 14,
  unregister: 15,
  state_init: 16,
  state: 17,
  limit: 18,
  // From instrumented code only (docs/ast.md).
  line: 19,
  locals: 20,
  expr: 21,
  probe: 22,
  tail_call: 23,
} as const;

export type EventKind = keyof typeof EVENT_KINDS;
export type EventSource = 'runtime' | 'ast';

export const KIND_BY_CODE: readonly (EventKind | undefined)[] = (() => {
  const out: (EventKind | undefined)[] = [];
  for (const [name, code] of Object.entries(EVENT_KINDS)) out[code] = name as EventKind;
  return out;
})();

/** The kind in a kind byte (AST_KIND_BIT ignored); undefined for a code nobody defined. */
export const kindOfByte = (b: number): EventKind | undefined => KIND_BY_CODE[b & KIND_CODE_MASK];

/** The source a kind byte says. */
export const sourceOfByte = (b: number): EventSource => ((b & AST_KIND_BIT) !== 0 ? 'ast' : 'runtime');

/** Kinds only instrumented code sends (call, return and exception come from both sources). */
export const AST_ONLY_KINDS: readonly EventKind[] = ['line', 'locals', 'expr', 'probe', 'tail_call'];

export function isEventKind(s: string): s is EventKind {
  return Object.prototype.hasOwnProperty.call(EVENT_KINDS, s);
}

/** A module, function and arity, as names (Elixir modules keep their `Elixir.` prefix here). */
export interface Mfa {
  readonly module: string;
  readonly fun: string;
  readonly arity: number;
}

/**
 * One stored event. What `payload` and `aux` hold depends on the kind:
 *
 * | kind | payload | aux | peer | link |
 * | --- | --- | --- | --- | --- |
 * | call | argument list | — | — | — |
 * | return | result | — | — | the call |
 * | exception | `{class, reason}` | — | — | the call |
 * | send, send_to_dead | message | destination when it is not a pid | receiver | — |
 * | receive | message | — | — | the matching send, when both ends are traced |
 * | spawn | `{m, f, args}` | — | child | — |
 * | spawned | `{m, f, args}` | — | parent | the parent's spawn event |
 * | exit | reason | — | — | — |
 * | link, unlink, getting_* | the other end when it is a port (else —) | — | other pid | — |
 * | register, unregister | name | — | — | — |
 * | state_init | state | — | — | — |
 * | state | state after | `{raw_message, reply}` (`reply` is `{:reply, r}`, `:noreply` or `:statem`) | — | the receive of that message, when traced |
 * | limit | `{name, value, action}` (its `pid` is the agent's relay) | — | — | — |
 *
 * AST events (`source` = 'ast', from instrumented code, docs/ast.md); `aux` is always the source
 * line (an integer) and `mfa` the enclosing function:
 *
 * | kind | payload | aux | peer | link |
 * | --- | --- | --- | --- | --- |
 * | call | argument list | clause head's line | — | — |
 * | return | result | line of the last expression | — | the call |
 * | exception | `{class, reason}` | line | — | the call |
 * | tail_call | `{m2, f2, a2}` the callee | line | — | the call whose frame it ends |
 * | line | nil | the line about to run | — | — |
 * | locals | `[{name, value}]` (names as atoms) | the line after which they were taken | — | — |
 * | expr | `{label, value}` (label a binary: source text, `"case clause 2"`...) | line | — | — |
 * | probe | `{label, value}` (label: the probe's source text) | line | — | — |
 *
 * `parent` is the innermost call that was open on the same pid when the event happened (for a call,
 * its caller among traced calls; for a return, exception or tail_call, the same as its call's
 * parent). Runtime and AST calls share one stack per pid, so an AST `locals` inside a runtime-traced
 * call has that call as parent.
 *
 * `mfa` is set for call, return and exception (the function), for spawn and spawned (the
 * initial call, with the arity of its argument list) and for every AST event; null otherwise.
 */
export interface StoredEvent {
  /** Dense, from 0, in order of arrival. */
  readonly id: number;
  /** Nanoseconds since the recording's `monoStart` (BEAM monotonic clock of the traced node). */
  readonly ts: number;
  readonly kind: EventKind;
  readonly source: EventSource;
  /** The process it happened in, qualified by node. */
  readonly pid: Pid;
  readonly mfa: Mfa | null;
  readonly peer: Pid | null;
  readonly link: number | null;
  readonly parent: number | null;
  /** Decodes the payload term (undefined when the kind has none). */
  payload(): Term | undefined;
  /** Decodes the aux term (undefined when absent). */
  aux(): Term | undefined;
  /** The payload's ETF body bytes, as received (no 131 version byte). */
  payloadBytes(): Uint8Array | undefined;
}

// ----------------------------------------------------------------------------------------------
// Counts: what the pipeline received, stored and lost (kept in every recording's meta)
// ----------------------------------------------------------------------------------------------

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
