/**
 * The shape every `elixir-scope` command shares: its help text, its options, and how a mistake on
 * the command line is reported. Exit codes are the CLI's contract: 0 ok, 1 failure, 2 usage error.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  run(values: ParsedValues, positionals: string[], io: CommandIO): Promise<number>;
}

export type ParsedValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Parses argv for one command; unknown or malformed options become a UsageError. */
export function parseCommandArgs(
  command: Command,
  argv: string[],
): { values: ParsedValues; positionals: string[]; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    const help = values.help === true;
    delete values.help;
    return { values: values as ParsedValues, positionals, help };
  } catch (err) {
    // node:util reports its own codes (ERR_PARSE_ARGS_*) with a readable message; keep the message.
    throw new UsageError((err as Error).message, command.name);
  }
}

export function stringOption(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requiredString(values: ParsedValues, name: string, command: string): string {
  const v = stringOption(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`, command);
  return v;
}

/** Parses a duration like `500ms`, `10s`, `2m`, or a bare number of milliseconds. */
export function durationOption(values: ParsedValues, name: string, command: string, fallbackMs: number): number {
  const v = stringOption(values, name);
  if (v === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (m === null) {
    throw new UsageError(`--${name} must be a duration like 500ms, 10s or 2m (got ${JSON.stringify(v)})`, command);
  }
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
