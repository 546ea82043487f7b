/**
 * `elixir-scope record`: attach to a live node, trace what was asked, and keep it in a recording.
 *
 * Safe on production: every limit below is enforced on the target by the agent, dangerous requests
 * are refused unless --force, and when this process dies the agent removes everything it set.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveCookie } from '../../erlang/cookie.js';
import { withLocalHost } from '../../erlang/nodeName.js';
import { Recorder, totalDropped, type PidText, type ProcessScope, type RecordPlan, type RecordSummary } from '../../runtime/recorder.js';
import { LimitValueError, limitOptions, limitsTable, parseLimits } from '../../runtime/limits.js';
import { parseFunctionSpec, parseModuleSpec, parseProcessSpec, SpecError, type ProcessSpec } from '../../runtime/traceSpec.js';
import { SUPERVISION_DEFAULTS } from '../../runtime/supervision.js';
import { parseInstrumentSpec, SpecError as InstrumentSpecError, type InstrumentSpec } from '../../ast/spec.js';
import { display } from '../../ast/live.js';
import { checkDangers, DangerError, formatRefusals, type ProcessFlag } from '../../runtime/danger.js';
import { checkHost, HostRefusedError } from '../../cinema/access.js';
import { LiveFeed } from '../../cinema/live.js';
import { CinemaServer } from '../../cinema/server.js';
import { keepSources, MAX_SOURCE_BYTES } from '../../cinema/sources.js';
import { listenError, serveOptions, untilSignal } from './ui.js';
import { durationOption, EXIT_OK, requiredString, stringOption, UsageError, type Command, type CommandIO, type ParsedValues } from '../usage.js';

const SCOPES = ['all', 'new', 'existing'] as const;

function strings(values: ParsedValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export const recordCommand: Command = {
  name: 'record',
  summary: 'attach to a live node and record calls, messages, processes and GenServer state',
  get help(): string {
    return `Usage: elixir-scope record --node NAME --out REC [trace specs] [limits] [--json]

Attaches to NAME as a hidden node, loads the ElixirScope agent into it, traces what the specs ask
for and writes every event to the recording folder REC. Stops after --duration, at a limit, on
Ctrl-C, or when the node goes away; what arrived is kept in every case. Then prints a summary.

Trace specs (at least one):
  --module M            every function of module M (Shop.Cart, :ets) with arguments and results
  --function SPEC       one function, repeatable: Shop.Cart.add/3, Shop.Cart.add, or with filters on
                        the arguments: 'Shop.Cart.add(_, "mug", qty) when qty > 5'
  --pid PID             only these processes (<0.123.0>), repeatable; default: every process;
                        'new' for processes spawned from now on, 'existing' for those alive now
  --name NAME           only the process registered as NAME, repeatable
  --messages            messages sent and received by the selected processes
  --processes           spawns, exits (with reasons), links, unlinks and registrations
  --follow              processes spawned by selected processes are traced like them
  --state NAME_OR_PID   a GenServer's state before and after each message (:sys.install), repeatable
  --instrument SPEC     AST instrumentation of an Elixir module or function, repeatable: lines that
                        run, local variables, expression values, probes of your own, e.g.
                        'Shop.Cart.total/1:locals=items,sum;lines=42,55' (syntax: docs/ast.md);
                        loaded live, and the original code is put back when the recording ends
  --source DIR          the project folder holding the instrumented modules' sources (default: the
                        files they were compiled from, read on the node)
  --no-returns          calls only: no return values (return tracing defeats tail calls)
  --force               allow requests refused as dangerous (see below)

Limits (checked on the target; reaching one stops the recording and says so):
${limitsTable()}
Read once at the start and once at the stop, with bounds of their own: the supervision trees (each
supervisor may take ${SUPERVISION_DEFAULTS.timeoutMs} ms to answer, else it is skipped; ${SUPERVISION_DEFAULTS.budgetMs / 1000} s in all; at most
${SUPERVISION_DEFAULTS.maxEntries.toLocaleString('en-US')} entries), and the traced modules' source files (at most ${MAX_SOURCE_BYTES / 1024 / 1024} MiB each).

Dangerous requests are refused unless --force: any-argument traces of every function of :erlang,
:lists, Enum and other modules the tracer itself runs on every event, and --messages on every process.

Options:
  --node NAME       the target, name@host (a bare name means name@<this host>)
  --cookie COOKIE   the distribution cookie; default: $ELIXIR_SCOPE_COOKIE, then ~/.erlang.cookie
  --out REC         the recording folder to create
  --json            print one JSON object at the end: events, dropped, duration_ms, by_kind, ...
  --timeout DUR     how long to wait for the node and for each set-up step (default 5s)
  --ui              serve the recording to a browser while it is written (the Execution Cinema; see
                    elixir-scope ui --help); after it stops, serves until a second Ctrl-C
  --port N, --host ADDR, --allow-remote   where --ui serves, as for elixir-scope ui (default 127.0.0.1:4747)
  -h, --help        show this help

Exit codes: 0 recorded (whatever stopped it), 1 failure, 2 usage error.
`;
  },
  options: {
    node: { type: 'string' },
    cookie: { type: 'string' },
    out: { type: 'string' },
    module: { type: 'string', multiple: true },
    function: { type: 'string', multiple: true },
    pid: { type: 'string', multiple: true },
    name: { type: 'string', multiple: true },
    messages: { type: 'boolean' },
    processes: { type: 'boolean' },
    follow: { type: 'boolean' },
    state: { type: 'string', multiple: true },
    instrument: { type: 'string', multiple: true },
    source: { type: 'string' },
    'no-returns': { type: 'boolean' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    ui: { type: 'boolean' },
    port: { type: 'string' },
    host: { type: 'string' },
    'allow-remote': { type: 'boolean' },
    ...limitOptions(),
  },
  async run(values, _positionals, io) {
    return runRecording(values, [], io, 'record');
  },
};

/** `record`, and `instrument` (the same with its SPECs as arguments; see instrument.ts). */
export async function runRecording(values: ParsedValues, extraSpecs: string[], io: CommandIO, command: 'record' | 'instrument'): Promise<number> {
  {
    const node = withLocalHost(requiredString(values, 'node', command));
    const out = requiredString(values, 'out', command);
    if (existsSync(join(out, 'meta.json'))) {
      throw new UsageError(`${out} already holds a recording; give a new --out folder (recordings are never overwritten)`, command);
    }
    let limits;
    try {
      limits = parseLimits(values);
    } catch (err) {
      if (err instanceof LimitValueError) throw new UsageError(err.message, command);
      throw err;
    }
    const ui = values.ui === true;
    if (!ui && (values.port !== undefined || values.host !== undefined || values['allow-remote'] !== undefined)) {
      throw new UsageError('--port, --host and --allow-remote say where --ui serves; add --ui', command);
    }
    const serve = ui ? serveOptions(values, command) : undefined;
    // Refused before the node is touched: a page that may not be served is no reason to start tracing.
    if (serve !== undefined) {
      try {
        checkHost(serve.host ?? '127.0.0.1', serve.allowRemote === true);
      } catch (err) {
        if (err instanceof HostRefusedError) throw new UsageError(err.message, command);
        throw err;
      }
    }
    const messages = values.messages === true;
    const procs = values.processes === true;
    const follow = values.follow === true;
    let calls, pids: PidText[], names: string[], states: RecordPlan['states'];
    let scopes: ProcessScope[] = [];
    try {
      calls = [...strings(values, 'module').map(parseModuleSpec), ...strings(values, 'function').map(parseFunctionSpec)];
      const pidArgs = strings(values, 'pid');
      scopes = pidArgs.filter((p): p is ProcessScope => (SCOPES as readonly string[]).includes(p));
      pids = pidArgs.filter((p) => !(SCOPES as readonly string[]).includes(p)).map((p) => pidText(parseProcessSpec('pid', p)));
      names = strings(values, 'name').map((n) => nameText(parseProcessSpec('name', n)));
      states = strings(values, 'state').map((s) =>
        /^#?(PID)?<?\d+\.\d+\.\d+>?$/.test(s)
          ? { kind: 'pid' as const, pid: pidText(parseProcessSpec('pid', s)) }
          : { kind: 'name' as const, name: nameText(parseProcessSpec('name', s)) },
      );
    } catch (err) {
      if (err instanceof SpecError) throw new UsageError(err.message, command);
      throw err;
    }
    let instrument: InstrumentSpec[];
    try {
      instrument = [...strings(values, 'instrument'), ...extraSpecs].map(parseInstrumentSpec);
    } catch (err) {
      if (err instanceof InstrumentSpecError) throw new UsageError(err.message, command);
      throw err;
    }
    if (command === 'instrument' && instrument.length === 0) {
      throw new UsageError("nothing to instrument: give at least one SPEC, e.g. 'Shop.Cart.total/1:locals=*'", command);
    }
    const sourceDir = stringOption(values, 'source');
    if (sourceDir !== undefined && instrument.length === 0) throw new UsageError('--source is where the sources of --instrument modules are; add --instrument', command);
    if (calls.length === 0 && !messages && !procs && states.length === 0 && instrument.length === 0) {
      throw new UsageError('nothing to trace: give --module, --function, --messages, --processes, --state or --instrument', command);
    }
    const flags: ProcessFlag[] = [];
    if (calls.length > 0) flags.push('call');
    if (messages) flags.push('send', 'receive');
    if (procs) flags.push('procs');
    const everyProcess = pids.length === 0 && names.length === 0 && scopes.length === 0;
    const wide: ProcessScope[] = everyProcess ? ['all'] : scopes;
    let overridden: ReturnType<typeof checkDangers> = [];
    try {
      const requests = wide.length === 0 ? [{ calls }] : wide.map((which) => ({ calls, processes: flags.length > 0 ? { which, flags } : undefined }));
      // The call refusals repeat for every scope; each is said once.
      const seen = new Set<string>();
      for (const req of requests) {
        for (const r of checkDangers(req, values.force === true)) {
          if (!seen.has(r.subject)) overridden.push(r);
          seen.add(r.subject);
        }
      }
    } catch (err) {
      if (err instanceof DangerError) throw new UsageError(err.message, command);
      throw err;
    }
    if (overridden.length > 0) io.stderr.write(`warning (--force):\n${formatRefusals(overridden)}\n`);
    const { cookie } = await resolveCookie({ flag: stringOption(values, 'cookie'), env: io.env });
    const plan: RecordPlan = {
      node,
      cookie,
      out,
      calls,
      returns: values['no-returns'] !== true,
      pids,
      names,
      scopes,
      messages,
      procs,
      follow,
      states,
      limits,
      request: {
        module: strings(values, 'module'),
        function: strings(values, 'function'),
        pid: strings(values, 'pid'),
        name: names,
        messages,
        processes: procs,
        follow,
        state: strings(values, 'state'),
        returns: values['no-returns'] !== true,
        instrument: instrument.map((i) => i.text),
        ...(sourceDir !== undefined ? { source: sourceDir } : {}),
        limits,
      },
      ...(instrument.length > 0 ? { instrument: { specs: instrument, force: values.force === true, ...(sourceDir !== undefined ? { sourceDir } : {}) } } : {}),
      connectTimeoutMs: durationOption(values, 'timeout', 'record', 5000),
    };
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true && values.json !== true;
    const rec = await Recorder.start(plan, {
      // Sources make the Cinema's source panel work after the node is gone.
      onTraced: async (remote, modules, dir) => void (await keepSources(remote, modules, dir, plan.connectTimeoutMs)),
      onProgress: tty
        ? (p) =>
            io.stderr.write(
              `\r\x1b[2Krecording ${node}  ${p.received.toLocaleString('en-US')} events  ${p.rate.toLocaleString('en-US')}/s  dropped ${p.dropped}  ${(p.elapsedMs / 1000).toFixed(1)}s`,
            )
        : undefined,
    });
    io.stderr.write(
      `recording ${node} into ${out}: ${describeTraced(rec.traced, rec.instrumented.map((i) => display(i.module)))} for up to ${(limits.maxDurationMs / 1000).toFixed(0)} s (Ctrl-C to stop)\n`,
    );
    const onSignal = (): void => void rec.stop('interrupted');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let cinema: { server: CinemaServer; feed: LiveFeed } | undefined;
    if (serve !== undefined) {
      let feed: LiveFeed | undefined;
      try {
        feed = LiveFeed.open(out);
        const server = await CinemaServer.start(feed.view, serve);
        feed.follow(server);
        cinema = { server, feed };
        io.stderr.write(`Execution Cinema (live): ${server.url}\n`);
      } catch (err) {
        // The recording goes on without the page: losing the view must not lose the events.
        feed?.view.close();
        const e = listenError(err, serve);
        io.stderr.write(`elixir-scope record: --ui could not serve (${e instanceof Error ? e.message : String(e)}); recording without it\n`);
      }
    }
    let summary: RecordSummary;
    // With --ui the next Ctrl-C stops the server; it is listened for before the first one's handler goes.
    let serverStopped: Promise<void> | undefined;
    try {
      summary = await rec.done;
      if (cinema !== undefined) serverStopped = untilSignal();
    } catch (err) {
      // No summary to serve the end of: the page is closed with the command.
      if (cinema !== undefined) {
        cinema.feed.stop();
        await cinema.server.close();
      }
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (tty) io.stderr.write('\r\x1b[2K');
    }
    io.stdout.write(values.json === true ? JSON.stringify(summaryJson(summary)) + '\n' : formatSummary(summary));
    if (cinema !== undefined) {
      cinema.feed.finish(cinema.server, { status: summary.status, reason: summary.stopReason });
      io.stderr.write(`The recording has ended; still serving it at ${cinema.server.url} until Ctrl-C.\n`);
      await serverStopped;
      await cinema.server.close();
    }
    return EXIT_OK;
  }
}

export function summaryJson(s: RecordSummary): Record<string, unknown> {
  return {
    out: s.out,
    node: s.node,
    status: s.status,
    stop_reason: s.stopReason,
    stop_detail: s.stopDetail,
    events: s.counts.stored,
    received: s.counts.received,
    dropped: totalDropped(s.counts),
    dropped_by_reason: {
      buffer_full: s.counts.dropped.buffer_full,
      after_stop: s.counts.dropped.after_stop,
      malformed: s.counts.dropped.malformed,
      ...Object.fromEntries(Object.entries(s.counts.dropped.agent).map(([k, v]) => [`agent_${k}`, v])),
    },
    truncated: s.counts.truncated,
    duration_ms: s.durationMs,
    by_kind: s.counts.byKind,
    traced: s.traced,
    instrumented: s.instrumented.map((i) => ({
      module: display(i.module),
      origin: i.origin,
      file: i.file,
      functions: i.functions,
      md5_before: i.md5Before,
      md5_instrumented: i.md5Instrumented,
      md5_reverted: i.revertedMd5,
      reverted_exactly: i.revertedMd5 === i.md5Before,
      notes: i.notes,
    })),
    warnings: s.warnings,
  };
}

export function formatSummary(s: RecordSummary): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const kinds = Object.entries(s.counts.byKind)
    .filter(([, v]) => (v ?? 0) > 0)
    .map(([k, v]) => `${k} ${n(v ?? 0)}`)
    .join(', ');
  const dropped = totalDropped(s.counts);
  const lines = [
    `Recorded ${s.node} for ${(s.durationMs / 1000).toFixed(1)} s into ${s.out} (stopped: ${s.stopDetail}).`,
    `  events   ${n(s.counts.stored)} stored of ${n(s.counts.received)} received${kinds ? ` (${kinds})` : ''}`,
    `  dropped  ${n(dropped)}${dropped > 0 ? ` (${describeDrops(s)})` : ''}`,
  ];
  if (s.counts.truncated > 0) lines.push(`  truncated terms  ${n(s.counts.truncated)} (cut to --max-term; the history says how much)`);
  if (s.traced.functions.length > 0) lines.push(`  functions  ${s.traced.functions.length} traced`);
  if (s.traced.processes > 0) lines.push(`  processes  ${n(s.traced.processes)} traced`);
  if (s.traced.states.length > 0) lines.push(`  state of  ${s.traced.states.join(', ')}`);
  for (const i of s.instrumented) {
    const back = i.revertedMd5 === null ? 'put back by the agent' : i.revertedMd5 === i.md5Before ? `put back exactly (md5 ${i.md5Before})` : `put back with md5 ${i.revertedMd5}, not ${i.md5Before}`;
    lines.push(`  instrumented  ${display(i.module)} (${i.functions.join(', ')}), from ${i.origin === 'source' ? i.file ?? 'its source' : 'debug_info'}; ${back}`);
    for (const note of i.notes) lines.push(`    note: ${note}`);
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  lines.push(`Next: elixir-scope history ${s.out}`);
  return lines.join('\n') + '\n';
}

function describeDrops(s: RecordSummary): string {
  const parts: string[] = [];
  const d = s.counts.dropped;
  if (d.buffer_full > 0) parts.push(`${d.buffer_full} engine buffer full`);
  if (d.after_stop > 0) parts.push(`${d.after_stop} after the stop`);
  if (d.malformed > 0) parts.push(`${d.malformed} malformed`);
  for (const [k, v] of Object.entries(d.agent)) if (v > 0) parts.push(`${v} on the target: ${k}`);
  return parts.join(', ');
}

function describeTraced(t: RecordSummary['traced'], instrumented: string[]): string {
  const parts: string[] = [];
  if (instrumented.length > 0) parts.push(`instrumented ${instrumented.join(', ')}`);
  if (t.functions.length > 0) parts.push(`${t.functions.length} function${t.functions.length === 1 ? '' : 's'}`);
  if (t.processes > 0) parts.push(`${t.processes.toLocaleString('en-US')} process${t.processes === 1 ? '' : 'es'}`);
  if (t.states.length > 0) parts.push(`state of ${t.states.join(', ')}`);
  return parts.join(', ') || 'nothing yet';
}

function pidText(p: ProcessSpec): PidText {
  if (p.kind !== 'pid') throw new UsageError(`not a pid: ${p.name}`, 'record');
  if (p.parts[0] !== 0) {
    throw new UsageError(
      `<${p.parts.join('.')}> is a process of another node as seen from somewhere else; give the pid as the traced node prints it itself, <0.${p.parts[1]}.${p.parts[2]}>`,
      'record',
    );
  }
  return { id: p.parts[1], serial: p.parts[2] };
}

function nameText(p: ProcessSpec): string {
  if (p.kind !== 'name') throw new UsageError('expected a registered name', 'record');
  return p.name;
}
