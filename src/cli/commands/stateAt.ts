/**
 * `elixir-scope state-at REC --pid P --at EVENT`: a process as it was at one moment of a recording —
 * its GenServer state and what set it, the calls open on it, the last message it took, and, where
 * instrumented code ran in the active call, its line and local variables.
 */

import { QueryCoordinator, QueryError, type TimePoint } from '../../store/query.js';
import type { Recording } from '../../store/types.js';
import { INSPECT_DEFAULTS, Renderer } from '../render/format.js';
import { stateAtJson, stateAtText } from '../render/stateAt.js';
import { EXIT_OK, requiredString, type Command, type CommandIO, type ParsedValues } from '../usage.js';
import { checkEventId, parseTimePoint, pidOption, requireProcess, withRecording, writeOut } from './queryArgs.js';

export const stateAtCommand: Command = {
  name: 'state-at',
  summary: 'show a process at one event: its GenServer state, open calls and last message',
  help: `Usage: elixir-scope state-at REC (--pid P | --name N) --at EVENT [--json] [--full]

Shows the process P of the recording in directory REC as it was at event EVENT (of any process): its
last recorded GenServer state and the message that set it, the state before, the calls open on it
(innermost first, with their arguments) and the last message it received. Where instrumented code
(record --instrument) ran in the active call, also the line it was at and its local variables: the
latest value of each name captured in that call (not in calls that had already returned).

Options:
  --pid P       the process: #PID<0.150.0>, <0.150.0>, 0.150.0, or its registered name
  --name N      the process, by registered name (Shop.Cart)
  --at EVENT    an event id (1234, or '#1234' quoted in a shell), or a time since the start (1.5s,
                250ms, 40us): then the last event at or before that time
  --json        print one JSON object: pid, name, at (the event), last, state, previous_state (each
                {event, ts, value, cause}), stack (outermost first: {event, ts, mfa, args, source}),
                last_message, locals ([{name, value, event, line}]), line ({line, event, ts} or null)
  --full        print terms whole (default: Elixir's inspect limits, 50 items and 4096 characters)
  -h, --help    show this help

Exit codes: 0 ok, 1 failure (unreadable recording, unknown process, event id out of range), 2 usage error.
`,
  options: {
    pid: { type: 'string' },
    name: { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
    full: { type: 'boolean' },
  },
  positionals: true,
  run(values, positionals, io) {
    // Mistakes on the command line are reported before the recording is opened.
    parseStateAtArgs(values);
    return withRecording(positionals, 'state-at', (rec) => executeStateAt(rec, values, io));
  },
};

export async function executeStateAt(rec: Recording, values: ParsedValues, io: CommandIO): Promise<number> {
  const at = parseStateAtArgs(values);
  const pid = pidOption(rec, values, 'state-at', true)!;
  checkEventId(rec, at, 'at');
  const q = new QueryCoordinator(rec);
  let id: number;
  if ('id' in at) id = at.id;
  else {
    id = q.lastIdAtOrBefore(at.ns);
    if (id < 0) throw new QueryError(`no event of ${rec.dir} is as early as ${values.at}`, 'ES_QUERY_RANGE');
  }
  const s = q.stateAt(pid, id);
  const r = new Renderer(rec, { ...INSPECT_DEFAULTS, full: values.full === true });
  await writeOut(io.stdout, values.json === true ? JSON.stringify(stateAtJson(pid, s, r)) + '\n' : stateAtText(pid, s, r));
  return EXIT_OK;
}

function parseStateAtArgs(values: ParsedValues): TimePoint {
  requireProcess(values, 'state-at');
  return parseTimePoint(requiredString(values, 'at', 'state-at'), 'at', 'state-at');
}
