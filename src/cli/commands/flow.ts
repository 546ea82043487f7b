/**
 * `elixir-scope flow REC --pids P1,P2`: the messages among some processes, in time order, each with
 * the receive that took it in and how long it waited.
 */

import { QueryCoordinator } from '../../store/query.js';
import type { Recording } from '../../store/types.js';
import { flowJson, flowText } from '../render/flow.js';
import { INSPECT_DEFAULTS, Renderer } from '../render/format.js';
import { EXIT_OK, requiredString, UsageError, type Command, type CommandIO, type ParsedValues } from '../usage.js';
import { resolveProcess, withRecording, writeOut } from './queryArgs.js';

export const flowCommand: Command = {
  name: 'flow',
  summary: 'print the messages among some processes, with when each was received',
  help: `Usage: elixir-scope flow REC --pids P1,P2,... [--outside] [--json] [--full]

Prints every message one of the processes sent to another of them, in time order:

  #12  +0.100000s  #PID<0.150.0> (Shop.Cart) → #PID<0.151.0> (Shop.Inventory)  {:reserve, "sku-1", 2}  received #14 after 31µs

"received #N after D" names the receive event and the time the message waited; "no receive
recorded" means the receiver did not take it while its receives were traced. →✗ marks a send to a
process that no longer existed.

Options:
  --pids LIST   the processes, comma-separated: #PID<0.150.0>, <0.150.0>, 0.150.0 or registered names
  --outside     also list messages they sent to processes outside the list
  --json        print one JSON object: pids, messages (each {send, receive, latencyNs, inside}, the
                events as history --json prints them)
  --full        print terms whole (default: cut to 20 items and 200 characters)
  -h, --help    show this help

Exit codes: 0 ok, 1 failure (unreadable recording, unknown process), 2 usage error.
`,
  options: {
    pids: { type: 'string' },
    outside: { type: 'boolean' },
    json: { type: 'boolean' },
    full: { type: 'boolean' },
  },
  positionals: true,
  run(values, positionals, io) {
    // Mistakes on the command line are reported before the recording is opened.
    pidTexts(values);
    return withRecording(positionals, 'flow', (rec) => executeFlow(rec, values, io));
  },
};

export async function executeFlow(rec: Recording, values: ParsedValues, io: CommandIO): Promise<number> {
  const pids = pidTexts(values).map((t) => resolveProcess(rec, t));
  const messages = new QueryCoordinator(rec).flow(pids, { outside: values.outside === true });
  const json = values.json === true;
  const r = new Renderer(rec, json ? { ...INSPECT_DEFAULTS, full: values.full === true } : { full: values.full === true });
  await writeOut(io.stdout, json ? JSON.stringify(flowJson(pids, messages, r)) + '\n' : flowText(pids, messages, r));
  return EXIT_OK;
}

function pidTexts(values: ParsedValues): string[] {
  const texts = requiredString(values, 'pids', 'flow')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (texts.length === 0) throw new UsageError('--pids needs at least one pid or name', 'flow');
  return texts;
}
