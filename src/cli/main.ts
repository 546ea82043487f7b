/**
 * The `elixir-scope` command: dispatches to one command module per verb.
 * Exit codes: 0 ok, 1 failure (the node, the network, the recording), 2 usage error.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { infoCommand } from './commands/info.js';
import { recordCommand } from './commands/record.js';
import { historyCommand } from './commands/history.js';
import { stateAtCommand } from './commands/stateAt.js';
import { callsCommand } from './commands/calls.js';
import { flowCommand } from './commands/flow.js';
import { summaryCommand } from './commands/summary.js';
import { uiCommand } from './commands/ui.js';
import { instrumentCommand } from './commands/instrument.js';
import { revertCommand } from './commands/revert.js';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseCommandArgs,
  UsageError,
  type Command,
  type CommandIO,
} from './usage.js';

const COMMANDS: readonly Command[] = [
  infoCommand,
  recordCommand,
  instrumentCommand,
  revertCommand,
  summaryCommand,
  historyCommand,
  stateAtCommand,
  callsCommand,
  flowCommand,
  uiCommand,
];

function version(): string {
  // dist/src/cli/main.js → package.json at the package root, three levels up.
  const pkgPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `elixir-scope — the Execution Cinema debugger for Elixir and Erlang (BEAM) applications

Usage:
  elixir-scope <command> [options]
  elixir-scope <command> --help

Commands:
${lines.join('\n')}

Options:
  -h, --help     show this help
  -v, --version  print the version

Exit codes: 0 ok, 1 failure, 2 usage error.
The cookie is taken from --cookie, then ELIXIR_SCOPE_COOKIE, then ~/.erlang.cookie; it is never printed.
`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const target = first === 'help' ? rest[0] : undefined;
    const cmd = COMMANDS.find((c) => c.name === target);
    io.stdout.write(cmd ? cmd.help : mainHelp());
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`elixir-scope ${version()}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) {
    io.stderr.write(`elixir-scope: unknown command ${JSON.stringify(first)}\n\n${mainHelp()}`);
    return EXIT_USAGE;
  }
  try {
    const { values, positionals, help } = parseCommandArgs(command, rest);
    if (help) {
      io.stdout.write(command.help);
      return EXIT_OK;
    }
    return await command.run(values, positionals, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`elixir-scope ${command.name}: ${err.message}\nRun 'elixir-scope ${command.name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`elixir-scope ${command.name}: ${describeError(err)}\n`);
    return EXIT_FAILURE;
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    // Errors we raise on purpose carry a code and a complete sentence; anything else is a bug worth a stack.
    if ('code' in err && typeof (err as { code: unknown }).code === 'string') return err.message;
    return err.stack ?? err.message;
  }
  return String(err);
}
