/**
 * The safety limits of a recording, in one table, redbug-style: every limit has a name (its CLI
 * flag), a default, a unit and a reason, and `elixir-scope record --help` prints that same table.
 *
 *   elixir-scope record --node shop@vm --function Shop.Cart.add/2 --max-rate 5000 --duration 10s
 *
 * Why this is safe in production: the agent checks every one of these on the traced node itself
 * (docs/agent-protocol.md), so a lost link or a slow engine cannot leave the target unprotected.
 * A limit can be raised but never switched off: every value must be a finite positive number.
 */

import type { AgentLimits } from '../agent/client.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/**
 * A limit written wrongly on the command line (or wherever limits come from). The CLI reports it as
 * a usage error (exit 2); `option` is the flag without dashes.
 */
export class LimitValueError extends Error {
  override readonly name = 'LimitValueError';
  constructor(
    message: string,
    readonly option: string,
    readonly command: string,
  ) {
    super(message);
  }
}

/** Option values as node:util parseArgs gives them. */
type OptionValues = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>;

/** The limits the engine sends to the agent's `start_session` (every one filled in); declared by the agent's client. */
export type { AgentLimits } from '../agent/client.js';

/** How a limit's value is written on the command line. */
export type LimitKind = 'count' | 'duration' | 'bytes';

export interface LimitDef {
  /** The CLI flag without dashes, e.g. `max-rate`. */
  readonly name: string;
  readonly field: keyof AgentLimits;
  /** The key in the agent's `Opts` map (docs/agent-protocol.md). */
  readonly wire: string;
  readonly kind: LimitKind;
  readonly default: number;
  /** The unit the value is kept in, for the table. */
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  /** One line: why the limit exists. */
  readonly reason: string;
}

export const LIMITS: readonly LimitDef[] = [
  {
    name: 'max-rate',
    field: 'maxRate',
    wire: 'max_rate',
    kind: 'count',
    default: 20_000,
    unit: 'events/s',
    min: 1,
    max: 10_000_000,
    reason: 'a hot function traced by mistake stops tracing instead of eating the schedulers',
  },
  {
    name: 'max-events',
    field: 'maxEvents',
    wire: 'max_events',
    kind: 'count',
    default: 1_000_000,
    unit: 'events',
    min: 1,
    max: 1_000_000_000,
    reason: 'a recording ends before it fills the disk or the engine\'s memory',
  },
  {
    name: 'duration',
    field: 'maxDurationMs',
    wire: 'max_duration_ms',
    kind: 'duration',
    default: 60_000,
    unit: 'ms',
    min: 1,
    max: 24 * 3_600_000,
    reason: 'trace flags never outlive a forgotten terminal',
  },
  {
    name: 'max-mailbox',
    field: 'maxMailbox',
    wire: 'max_mailbox',
    kind: 'count',
    default: 50_000,
    unit: 'messages',
    min: 1,
    max: 10_000_000,
    reason: 'if the relay falls behind, tracing stops before its mailbox grows the node\'s memory',
  },
  {
    name: 'max-term',
    field: 'maxTermBytes',
    wire: 'max_term_bytes',
    kind: 'bytes',
    default: 16 * 1024,
    unit: 'bytes',
    min: 64,
    max: 64 * 1024 * 1024,
    reason: 'one huge argument or state is cut (and marked) instead of copied whole',
  },
  {
    name: 'batch',
    field: 'batchEvents',
    wire: 'batch_events',
    kind: 'count',
    default: 500,
    unit: 'events',
    min: 1,
    max: 100_000,
    reason: 'events travel in batches so the distribution link carries few large messages',
  },
  {
    name: 'flush',
    field: 'flushMs',
    wire: 'flush_ms',
    kind: 'duration',
    default: 20,
    unit: 'ms',
    min: 1,
    max: 10_000,
    reason: 'a partial batch is sent after this long, so a quiet trace still shows up at once',
  },
];

export const DEFAULT_LIMITS: Readonly<AgentLimits> = Object.freeze(
  Object.fromEntries(LIMITS.map((l) => [l.field, l.default])) as unknown as AgentLimits,
);

/** The option declarations for `parseCommandArgs` (every limit is a string option). */
export function limitOptions(): Record<string, { type: 'string' }> {
  return Object.fromEntries(LIMITS.map((l) => [l.name, { type: 'string' as const }]));
}

/**
 * The limits from CLI option values (`values['max-rate'] === '5000'`); absent ones take their
 * default. A bad value is a LimitValueError naming the flag, what was given and an example.
 */
export function parseLimits(values: OptionValues, command = 'record'): AgentLimits {
  const out: AgentLimits = { ...DEFAULT_LIMITS };
  for (const def of LIMITS) {
    let raw = values[def.name];
    // An option given twice arrives as an array when declared `multiple`; the last one wins, as usual.
    if (Array.isArray(raw)) raw = raw[raw.length - 1];
    if (raw === undefined) continue;
    if (typeof raw !== 'string') throw new LimitValueError(`--${def.name} needs a value, e.g. ${example(def)}`, def.name, command);
    out[def.field] = parseLimitValue(def, raw, command);
  }
  return out;
}

/** One limit's value from its text; exported for callers that read limits from elsewhere. */
export function parseLimitValue(def: LimitDef, raw: string, command = 'record'): number {
  const text = raw.trim();
  const n =
    def.kind === 'count' ? parseCount(text) : def.kind === 'duration' ? parseDurationMs(text) : parseBytes(text);
  if (typeof n === 'string') {
    throw new LimitValueError(`--${def.name} ${JSON.stringify(raw)}: ${n}; e.g. --${def.name} ${example(def)}`, def.name, command);
  }
  if (n < def.min || n > def.max) {
    throw new LimitValueError(
      `--${def.name} ${JSON.stringify(raw)} is out of range: it must be between ${formatValue(def, def.min)} and ${formatValue(def, def.max)} (limits cannot be switched off, only raised)`,
      def.name,
      command,
    );
  }
  return n;
}

/** The aligned table printed by `elixir-scope record --help`. */
export function limitsTable(): string {
  const rows = LIMITS.map((l) => [`--${l.name}`, formatValue(l, l.default), l.reason]);
  const header = ['limit', 'default', 'why'];
  const w0 = Math.max(header[0]!.length, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(header[1]!.length, ...rows.map((r) => r[1]!.length));
  const line = (r: string[]): string => `  ${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`.trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A value as the table shows it: `20000 events/s`, `60s`, `16KiB`. */
export function formatValue(def: LimitDef, n: number): string {
  if (def.kind === 'duration') return formatDuration(n);
  if (def.kind === 'bytes') return formatBytes(n);
  return `${n} ${def.unit}`;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: value syntax
// ----------------------------------------------------------------------------------------------

const COUNT_SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/** `5000`, `1_000_000`, `10k`, `1m` (a million), `1e6`; a string is the reason it is not one. */
function parseCount(text: string): number | string {
  const m = /^(\d[\d_]*(?:\.\d+)?(?:e\d+)?)([kmg]?)$/i.exec(text);
  if (m === null) return 'expected a whole number such as 5000, 10k or 1m';
  const n = Number(m[1]!.replace(/_/g, '')) * COUNT_SUFFIX[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) return 'expected a whole number';
  return n;
}

const DURATION_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `2m`, `1.5h`. A bare number is refused: 60 could mean 60 ms or 60 s. */
function parseDurationMs(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text);
  if (m === null) return 'expected a duration such as 500ms, 10s or 2m';
  if (m[2] === undefined) return `a duration needs a unit (${m[1]}ms or ${m[1]}s?)`;
  const n = Math.round(Number(m[1]) * DURATION_UNIT[m[2]]!);
  return n;
}

const BYTE_UNIT: Record<string, number> = { b: 1, '': 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024 };

/** `16384`, `64KiB`, `1MiB`, `100kB` (KB and MB are decimal, KiB and MiB binary). */
function parseBytes(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
  if (m === null) return 'expected a size such as 16384, 64KiB or 1MiB';
  const factor = BYTE_UNIT[m[2]!.toLowerCase()];
  if (factor === undefined) return `unknown size unit ${JSON.stringify(m[2])} (use B, KB, KiB, MB or MiB)`;
  const n = Math.round(Number(m[1]) * factor);
  return n;
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return ms === 60_000 ? '60s' : `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)}MiB`;
  if (n % 1024 === 0) return `${n / 1024}KiB`;
  return `${n} bytes`;
}

function example(def: LimitDef): string {
  return def.kind === 'duration' ? '10s' : def.kind === 'bytes' ? '64KiB' : '5000';
}
