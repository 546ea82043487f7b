/**
 * `elixir-scope calls REC --pid P`: the traced calls of one process as a tree, with how long each took
 * and whether it returned, raised, or was still running when the recording stopped.
 */

import { QueryCoordinator } from '../../store/query.js';
import type { Recording } from '../../store/types.js';
import { callTreeJson, callTreeText } from '../render/callTree.js';
import { INSPECT_DEFAULTS, Renderer } from '../render/format.js';
import { EXIT_OK, type Command, type CommandIO, type ParsedValues } from '../usage.js';
import { intOption, pidOption, requireProcess, withRecording, writeOut } from './queryArgs.js';

export const callsCommand: Command = {
  name: 'calls',
  summary: 'print the call tree of one process, with durations',
  help: `Usage: elixir-scope calls REC (--pid P | --name N) [--max-depth D] [--json] [--full]

Prints the traced calls of process P in the recording in directory REC, nested by caller:

  Shop.Cart.handle_call/3  120µs  #38
  ├─ Shop.Cart.add/3  12.3µs  #39
  │  └─ Shop.Pricing.price/1  2.1µs  #40
  └─ Shop.Cart.total/1  raised error: :badarith after 3µs  #45

Each line ends with the call's event id (for state-at --at). "unfinished" marks a call that had not
returned when the recording stopped. Events of instrumented code (record --instrument) are listed
under their call, marked "·" (· LINE 12 Shop.Cart.total/1: sum = 3  #52), and a call that ended in
a tail call says so: "tail call → Shop.Cart.loop/2 after 2µs".

Options:
  --pid P          the process: #PID<0.150.0>, <0.150.0>, 0.150.0, or its registered name
  --name N         the process, by registered name (Shop.Cart)
  --max-depth D    show calls down to depth D (roots are 0) and count the ones below
  --json           print one JSON object: pid, name, calls, roots (each {id, ts, mfa, args, status
                   (returned, raised, tail_call, unfinished), end, durationNs, omitted, children,
                   inner: the AST events inside it}), inner (AST events outside any call)
  --full           print terms whole
  -h, --help       show this help

Exit codes: 0 ok, 1 failure (unreadable recording, unknown process), 2 usage error.
`,
  options: {
    pid: { type: 'string' },
    name: { type: 'string' },
    'max-depth': { type: 'string' },
    json: { type: 'boolean' },
    full: { type: 'boolean' },
  },
  positionals: true,
  run(values, positionals, io) {
    // Mistakes on the command line are reported before the recording is opened.
    requireProcess(values, 'calls');
    intOption(values, 'max-depth', 'calls', Infinity);
    return withRecording(positionals, 'calls', (rec) => executeCalls(rec, values, io));
  },
};

export async function executeCalls(rec: Recording, values: ParsedValues, io: CommandIO): Promise<number> {
  const pid = pidOption(rec, values, 'calls', true)!;
  const maxDepth = intOption(values, 'max-depth', 'calls', Infinity);
  const tree = new QueryCoordinator(rec).callTree(pid, { maxDepth });
  const json = values.json === true;
  const r = new Renderer(rec, json ? { ...INSPECT_DEFAULTS, full: values.full === true } : { full: values.full === true });
  await writeOut(io.stdout, json ? JSON.stringify(callTreeJson(tree, r)) + '\n' : callTreeText(tree, r));
  return EXIT_OK;
}
