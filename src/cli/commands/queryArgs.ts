/**
 * What the query commands (history, state-at, calls, flow) share: the recording argument, how a
 * process is named on the command line, and how a moment in a recording is written.
 *
 *   elixir-scope history ./rec --pid '<0.150.0>' --since 1.5s --until '#5000'
 *
 * Pids: `#PID<0.150.0>`, `<0.150.0>` or `0.150.0` (node index 0 is the recorded node), or a registered
 * name (`Shop.Cart`, `Elixir.Shop.Cart`, `logger`). Moments: a number with a unit (`ns`, `us`/`µs`,
 * `ms`, `s`, `m`) is a time since the recording's start; a bare integer or `#1234` is an event id
 * (quote `#1234` in a shell, where an unquoted `#` starts a comment).
 */

import type { Pid } from '../../erlang/terms.js';
import { openForQuery } from '../../store/open.js';
import { QueryError, type TimePoint } from '../../store/query.js';
import type { Recording } from '../../store/types.js';
import { formatModule } from '../render/format.js';
import { stringOption, UsageError, type ParsedValues } from '../usage.js';

/** Opens the one positional argument as a recording, runs `body`, and closes it whatever happens. */
export async function withRecording(
  positionals: string[],
  command: string,
  body: (rec: Recording) => Promise<number> | number,
): Promise<number> {
  if (positionals.length === 0) throw new UsageError('the recording directory is required (elixir-scope record writes one)', command);
  if (positionals.length > 1) throw new UsageError(`expected one recording directory, got ${positionals.length} arguments`, command);
  const rec = openForQuery(positionals[0]!);
  try {
    return await body(rec);
  } finally {
    rec.close();
  }
}

/** `--pid` or `--name` (exactly one, when `required`), resolved in the recording. */
export function pidOption(rec: Recording, values: ParsedValues, command: string, required: boolean): Pid | undefined {
  const pidText = stringOption(values, 'pid');
  const name = stringOption(values, 'name');
  if (pidText !== undefined && name !== undefined) throw new UsageError('give --pid or --name, not both', command);
  const text = pidText ?? name;
  if (text === undefined || text === '') {
    if (required) throw new UsageError('--pid (or --name) is required', command);
    return undefined;
  }
  return resolveProcess(rec, text);
}

/** Checks, before the recording is open, that exactly one of --pid and --name is given. */
export function requireProcess(values: ParsedValues, command: string): void {
  const pid = stringOption(values, 'pid');
  const name = stringOption(values, 'name');
  if (pid !== undefined && name !== undefined) throw new UsageError('give --pid or --name, not both', command);
  if ((pid ?? name ?? '') === '') throw new UsageError('--pid (or --name) is required', command);
}

/** A pid or name as written on the command line; unknown ones fail with the names the recording knows. */
export function resolveProcess(rec: Recording, text: string): Pid {
  const t = text.trim();
  // `0.150.0` is how people copy a pid out of `<0.150.0>`; the recording parses the bracketed forms.
  const normalized = /^\d+\.\d+\.\d+$/.test(t) ? `<${t}>` : t;
  const pid = rec.resolvePid(normalized);
  if (pid !== undefined) return pid;
  const names = rec
    .processes()
    .map((p) => p.name)
    .filter((n): n is string => n !== null)
    .map(formatModule);
  const known = names.length === 0 ? 'it has no registered names' : `its registered names: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}`;
  throw new QueryError(
    `no process ${JSON.stringify(text)} in the recording ${rec.dir} (${rec.processes().length} processes; ${known}). ` +
      'Give a pid as #PID<0.150.0>, <0.150.0> or 0.150.0, or a registered name.',
    'ES_QUERY_PID',
  );
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9 };

/** A moment: `1.5s`, `250ms`, `40us`, `12ns`, `2m` since the start, or an event id `1234` / `#1234`. */
export function parseTimePoint(text: string, option: string, command: string): TimePoint {
  const t = text.trim();
  const id = /^#?(\d+)$/.exec(t);
  if (id !== null) return { id: Number(id[1]) };
  const time = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m)$/.exec(t);
  if (time !== null) return { ns: Math.round(Number(time[1]) * UNIT_NS[time[2]!]!) };
  throw new UsageError(
    `--${option} must be a time since the start of the recording (1.5s, 250ms, 40us, 12ns, 2m) ` +
      `or an event id (1234 or '#1234'), got ${JSON.stringify(text)}`,
    command,
  );
}

/** Fails when an id bound names no event of the recording. */
export function checkEventId(rec: Recording, p: TimePoint, option: string): void {
  if (!('id' in p) || p.id < rec.count) return;
  throw new QueryError(
    `--${option} #${p.id} is out of range: the recording ${rec.dir} has ${rec.count === 0 ? 'no events' : `events #0 to #${rec.count - 1}`}`,
    'ES_QUERY_RANGE',
  );
}

/** A non-negative integer option. */
export function intOption(values: ParsedValues, name: string, command: string, fallback: number): number {
  const v = stringOption(values, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`, command);
  return Number(v.trim());
}

/** Streams that already have our error listener. */
const watched = new WeakSet<NodeJS.WritableStream>();

/**
 * Writes everything and resolves when the stream has taken it (large outputs to a pipe). When the
 * reader has gone away (`history REC | head`), the rest is not wanted: it resolves false, and the
 * caller stops writing, as `cat` does.
 */
export function writeOut(stream: NodeJS.WritableStream, text: string): Promise<boolean> {
  if (!watched.has(stream)) {
    watched.add(stream);
    // A failed write is reported to its callback below; the stream then also emits 'error', which
    // would crash the process if nobody listened.
    stream.on('error', () => undefined);
  }
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => {
      if (err === null || err === undefined) resolve(true);
      else if ((err as NodeJS.ErrnoException).code === 'EPIPE') resolve(false);
      else reject(err);
    });
  });
}
