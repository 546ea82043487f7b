/**
 * `elixir-scope instrument`: a session whose point is AST instrumentation. It loads instrumented
 * code for the SPECs, records what it reports (lines, locals, expression values, probes), and stays
 * until Ctrl-C, --duration, a limit, or `elixir-scope revert` from another terminal.
 *
 * Safe on production: the original code goes back when this process ends in any way (the agent
 * reverts on its own when the engine's link drops, within the net tick time), and nothing is loaded
 * while a process still runs the module's old code.
 */

import { limitOptions, limitsTable } from '../../runtime/limits.js';
import { recordCommand, runRecording } from './record.js';
import type { Command } from '../usage.js';

export const instrumentCommand: Command = {
  name: 'instrument',
  summary: 'load AST instrumentation (lines, locals, expressions, probes) into a live node and record what it reports',
  get help(): string {
    return `Usage: elixir-scope instrument --node NAME --out REC SPEC... [record options] [limits]

Instruments Elixir modules or functions on a live node, without a rebuild: each SPEC names a module or
function and what to capture inside it. The module's source (the file it was compiled from, read on
the node, or --source DIR) is rewritten, compiled on the node and loaded with a soft purge; what the
instrumented code reports is recorded into REC like any recording (history, state-at, ui). When the
session ends, for any reason, the original code is put back exactly (same md5).

SPEC (repeatable; docs/ast.md has the details):
  Module | Module.fun | Module.fun/arity, then optionally :OPTION;OPTION...
    level=function_boundaries|lines|locals|expressions
    locals=a,b | locals=*     these variables (or every binding): after the lines of lines=, else
                              after each expression
    lines=42,55 | lines=*     an event for each of these lines as it runs
    expr=42 | expr=*          the value of each expression on these lines: pipe steps, branches taken
    probe=42:CODE             Elixir CODE run before line 42 (probe_after=: after it), its value recorded
  e.g. 'Shop.Cart.total/1:locals=items,sum;lines=42,55'  'Shop.Pricing:level=expressions'

Everything \`elixir-scope record\` takes works here too (--module, --function, --state, --messages...):
a function both traced at runtime and instrumented is one call, with its arguments and result from
the runtime side and its lines and locals from the AST side.

  --source DIR      the project folder holding the modules' sources
  --force           instrument a source that no longer matches the loaded code (changes behaviour)
  --duration DUR    how long the session may last (default 60s; up to 24h)

Limits:
${limitsTable()}

To take the instrumentation out early from another terminal: elixir-scope revert --node NAME.
Exit codes: 0 recorded, 1 failure, 2 usage error.
`;
  },
  options: { ...recordCommand.options, ...limitOptions() },
  positionals: true,
  async run(values, positionals, io) {
    return runRecording(values, positionals, io, 'instrument');
  },
};
