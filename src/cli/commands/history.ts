/**
 * `elixir-scope history REC`: the events of a recording, one line each, in the format of the original
 * README's `history/1`, or as JSON Lines. Reads only the recording.
 */

import { EVENT_KINDS, isEventKind, type EventKind, type EventSource } from '../../capture/event.js';
import { QueryCoordinator, type TimePoint } from '../../store/query.js';
import type { Recording } from '../../store/types.js';
import { eventJson, eventLine } from '../render/event.js';
import { INSPECT_DEFAULTS, Renderer } from '../render/format.js';
import { EXIT_OK, UsageError, type Command, type CommandIO, type ParsedValues } from '../usage.js';
import { checkEventId, intOption, parseTimePoint, pidOption, withRecording, writeOut } from './queryArgs.js';

const MAX_PID_COLUMN = 36;

const DEFAULT_LIMIT = 1000;

export const historyCommand: Command = {
  name: 'history',
  summary: 'print the events of a recording (one process, a time window, some kinds), as text or JSON Lines',
  help: `Usage: elixir-scope history REC [--pid P | --name N] [--since T] [--until T] [--kind K]...
                            [--source S] [--limit N] [--json] [--full]

Prints the events of the recording in directory REC in id order, one line each:

  [+0.000120s] [RUNTIME] CALL Shop.Cart.add/3 (Args: [#PID<0.150.0>, "sku-1", 2])
  [+0.000131s] [RUNTIME]   SEND from #PID<0.150.0> (Shop.Cart) to #PID<0.151.0> (Shop.Inventory): {:reserve, "sku-1", 2}
  [+0.000150s] [RUNTIME] EXIT Shop.Cart.add/3 (Return: :ok)

Events from instrumented code (record --instrument) are tagged [AST]:

  [+0.000140s] [AST]       LINE 10 Shop.Cart.total/1: items = [1, 2], sum = 3
  [+0.000141s] [AST]       EXPR 12 Shop.Cart.total/1: Enum.sum(items) => 3
  [+0.000142s] [AST]       PROBE 14 Shop.Cart.total/1: length(items) = 2
  [+0.000143s] [AST]     TAIL Shop.Cart.loop/2 → Shop.Cart.loop/2

Times are seconds since the recording started. Lines inside a call are indented by the calls open on
that process. EXIT is a function's return; PROC_EXIT is a process ending. Without --pid every
process is shown, with its pid before the event.

Options:
  --pid P        one process: #PID<0.150.0>, <0.150.0>, 0.150.0, or its registered name
  --name N       one process, by registered name (Shop.Cart)
  --since T      from this moment on (inclusive): a time since the start (1.5s, 250ms, 40us, 12ns, 2m)
                 or an event id (1234, or '#1234' quoted in a shell)
  --until T      up to this moment (inclusive), written as --since
  --kind K       only these kinds; repeat it or give a comma list (call,return,exception,send,
                 send_to_dead,receive,spawn,spawned,exit,link,unlink,getting_linked,getting_unlinked,
                 register,unregister,state_init,state,limit, and from instrumented code line,
                 locals,expr,probe,tail_call)
  --source S     only events from runtime tracing (runtime) or from instrumented code (ast)
  --limit N      at most N events, the first ones (default ${DEFAULT_LIMIT}; 0 for all)
  --json         one JSON object per event per line (JSON Lines): id, ts (ns), pid, node, kind, source,
                 mfa, the terms that apply (args, result, class/reason, message, state, ...) rendered as
                 Elixir's inspect prints them, peer, link, parent; AST events add line, and locals
                 ([{name, value}]), label and value (expr, probe) or callee (tail_call)
  --full         print terms whole (default: cut to 20 items and 200 characters, or Elixir's inspect
                 defaults of 50 and 4096 with --json)
  -h, --help     show this help

Exit codes: 0 ok, 1 failure (unreadable recording, unknown process, event id out of range), 2 usage error.
`,
  options: {
    pid: { type: 'string' },
    name: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    kind: { type: 'string', multiple: true },
    source: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    full: { type: 'boolean' },
  },
  positionals: true,
  run(values, positionals, io) {
    // Mistakes on the command line are reported before the recording is opened.
    parseHistoryArgs(values);
    return withRecording(positionals, 'history', (rec) => executeHistory(rec, values, io));
  },
};

/** The command on an open recording (the tests give it an in-memory one). */
export async function executeHistory(rec: Recording, values: ParsedValues, io: CommandIO): Promise<number> {
  const { since, until, kinds, source, limit, json, full } = parseHistoryArgs(values);
  const pid = pidOption(rec, values, 'history', false);
  if (since !== undefined) checkEventId(rec, since, 'since');
  if (until !== undefined) checkEventId(rec, until, 'until');

  const q = new QueryCoordinator(rec);
  const r = new Renderer(rec, json ? { ...INSPECT_DEFAULTS, full } : { full });
  // The pid column is as wide as the widest process label, so that columns line up from the first
  // line on although the events are streamed.
  // The widest pid (with its name) sets the column, up to a cap: one long registered name should not
  // push every line to the right. A loop, not Math.max(...spread): a recording may hold 1e6 processes.
  let pidColumn: number | false = false;
  if (pid === undefined && !json) {
    let w = 0;
    for (const p of rec.processes()) w = Math.max(w, r.pid(p.pid).length);
    pidColumn = Math.min(w, MAX_PID_COLUMN);
  }
  // One more than asked tells whether there is more, to say so.
  const wanted = limit === 0 ? Infinity : limit + 1;
  let shown = 0;
  let lastId = -1;
  let more = false;
  let chunk = '';
  for (const e of q.historyEvents({ pid, since, until, kinds, source, limit: wanted })) {
    if (shown === limit && limit !== 0) {
      more = true;
      break;
    }
    chunk += (json ? JSON.stringify(eventJson(e, r)) : eventLine(e, r, { pidColumn })) + '\n';
    shown++;
    lastId = e.id;
    // Written in pieces, waiting for each, so a whole recording streams through in bounded memory.
    if (chunk.length > 1 << 16) {
      if (!(await writeOut(io.stdout, chunk))) return EXIT_OK;
      chunk = '';
    }
  }
  await writeOut(io.stdout, chunk);
  if (more) {
    io.stderr.write(`(showing the first ${limit} events; more follow: --since '#${lastId + 1}' continues, --limit 0 shows all)\n`);
  } else if (shown === 0 && !json) {
    io.stderr.write('(no events match)\n');
  }
  return EXIT_OK;
}

/** The options that need no recording to check. */
function parseHistoryArgs(values: ParsedValues): {
  since: TimePoint | undefined;
  until: TimePoint | undefined;
  kinds: EventKind[] | undefined;
  source: EventSource | undefined;
  limit: number;
  json: boolean;
  full: boolean;
} {
  if (values.pid !== undefined && values.name !== undefined) throw new UsageError('give --pid or --name, not both', 'history');
  return {
    since: typeof values.since === 'string' ? parseTimePoint(values.since, 'since', 'history') : undefined,
    until: typeof values.until === 'string' ? parseTimePoint(values.until, 'until', 'history') : undefined,
    kinds: kindsOption(values.kind),
    source: sourceOption(values.source),
    limit: intOption(values, 'limit', 'history', DEFAULT_LIMIT),
    json: values.json === true,
    full: values.full === true,
  };
}

/** `--kind call --kind send,receive` → the kinds, checked. */
export function kindsOption(v: ParsedValues[string]): EventKind[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(','));
  const out: EventKind[] = [];
  for (const raw of list) {
    const k = raw.trim();
    if (k === '') continue;
    if (!isEventKind(k)) {
      throw new UsageError(`unknown event kind ${JSON.stringify(k)}; the kinds are ${Object.keys(EVENT_KINDS).join(', ')}`, 'history');
    }
    out.push(k);
  }
  return out.length === 0 ? undefined : out;
}

/** `--source runtime|ast`, checked. */
export function sourceOption(v: ParsedValues[string]): EventSource | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  if (s === 'runtime' || s === 'ast') return s;
  throw new UsageError(
    `unknown event source ${JSON.stringify(s)}; give runtime (traced calls, messages, processes, state) or ast (events of instrumented code)`,
    'history',
  );
}
