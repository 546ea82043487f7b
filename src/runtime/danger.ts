/**
 * Refusing trace requests that would hurt the node, recon-style: tracing every call of `lists`
 * with any arguments is refused outright unless the user says `--force`.
 *
 *   $ elixir-scope record --function :lists.reverse/1
 *   refused: :lists.reverse/1 — every process calls lists, so this would trace the whole node ...
 *     instead: add an argument filter, e.g. ':lists.reverse([:marker | _])', or --force
 *
 * Two kinds of danger:
 *  - a FEEDBACK loop: modules the agent's relay and the distribution layer run for every event it
 *    ships (term_to_binary, send, dist_util, ...). Each traced call makes an event, whose delivery
 *    makes more calls. `send`/`receive` tracing on all processes is the same loop, through the
 *    distribution link.
 *  - a FLOOD: modules that every process calls all the time (lists, maps, Enum, gen_server ...).
 *    The rate limit would stop the trace within a second, but tracing them at all taxes every
 *    process on the node until it does.
 *
 * A specific function of such a module WITH an argument filter is allowed (the filter runs in the
 * VM before an event exists; `Enum.map([:marker | _], _)` is a fine thing to ask). Without a filter
 * it is refused unless forced. The agent module itself cannot be traced, even forced: every event it
 * handles would make another.
 */

import type { CallTarget } from './traceSpec.js';
import { describe, displayModule, isFiltered } from './traceSpec.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export type ProcessFlag = 'call' | 'send' | 'receive' | 'procs' | 'set_on_spawn';

/** Which processes a process trace covers (the agent's `trace_processes` `Which`). */
export type ProcessSelector = 'all' | 'new' | 'existing' | { pid: string } | { name: string };

/** Everything one `record` asks for, as far as safety is concerned. */
export interface TraceRequest {
  calls: CallTarget[];
  processes?: { which: ProcessSelector; flags: ProcessFlag[] };
}

export interface Refusal {
  /** What was asked for, as the user would recognise it. */
  subject: string;
  reason: string;
  /** What to do instead. */
  instead: string;
  /** False when even --force does not allow it. */
  forcible: boolean;
}

export interface DangerousModule {
  module: string;
  kind: 'feedback' | 'flood';
  why: string;
}

/**
 * The documented list. Prefix entries (ending in `*`) cover a family (`prim_inet`, `prim_file` ...).
 * Kept short on purpose: each entry is a module a careful user would still be surprised by.
 */
export const DANGEROUS_MODULES: readonly DangerousModule[] = [
  { module: 'elixir_scope_agent', kind: 'feedback', why: 'it is ElixirScope\'s own agent: each event it handles would make another' },
  { module: 'erlang', kind: 'feedback', why: 'the relay calls it (send, term_to_binary, monotonic_time) for every event' },
  { module: 'erts_internal', kind: 'feedback', why: 'the runtime calls it underneath erlang for every event' },
  { module: 'prim_*', kind: 'feedback', why: 'the primitive drivers (prim_inet, prim_file, ...) carry the distribution traffic and file I/O' },
  { module: 'dist_util', kind: 'feedback', why: 'the distribution layer runs it for the link the events travel on' },
  { module: 'net_kernel', kind: 'feedback', why: 'the distribution layer runs it for the link the events travel on' },
  { module: 'inet_tcp_dist', kind: 'feedback', why: 'the distribution carrier of the link the events travel on' },
  { module: 'inet', kind: 'feedback', why: 'the distribution carrier of the link the events travel on' },
  { module: 'gen_tcp', kind: 'feedback', why: 'the distribution carrier of the link the events travel on' },
  { module: 'erpc', kind: 'feedback', why: 'the engine talks to the agent over rpc' },
  { module: 'rpc', kind: 'feedback', why: 'the engine talks to the agent over rpc' },
  { module: 'lists', kind: 'flood', why: 'every process calls lists all the time' },
  { module: 'maps', kind: 'flood', why: 'every process calls maps all the time' },
  { module: 'proplists', kind: 'flood', why: 'every OTP process reads options with proplists' },
  { module: 'ets', kind: 'flood', why: 'the runtime, the logger and most libraries call ets on every request' },
  { module: 'gen', kind: 'flood', why: 'every GenServer call and every OTP process start goes through gen' },
  { module: 'gen_server', kind: 'flood', why: 'every GenServer of the node runs it; trace your callback module instead' },
  { module: 'gen_statem', kind: 'flood', why: 'every state machine of the node runs it; trace your callback module instead' },
  { module: 'proc_lib', kind: 'flood', why: 'every OTP process runs it' },
  { module: 'sys', kind: 'flood', why: 'every OTP process handles system messages with it' },
  { module: 'io', kind: 'flood', why: 'every log line and print goes through io' },
  { module: 'io_lib', kind: 'flood', why: 'every log line and print goes through io_lib' },
  { module: 'io_lib_format', kind: 'flood', why: 'every log line and print goes through io_lib' },
  { module: 'unicode', kind: 'flood', why: 'every string conversion goes through unicode' },
  { module: 'binary', kind: 'flood', why: 'every process calls binary all the time' },
  { module: 'code', kind: 'flood', why: 'module loading and every apply of an unloaded module go through code' },
  { module: 'code_server', kind: 'flood', why: 'module loading goes through code_server' },
  { module: 'error_handler', kind: 'flood', why: 'every call to a module that is not loaded yet goes through it' },
  { module: 'Elixir.Enum', kind: 'flood', why: 'every Elixir process calls Enum all the time' },
  { module: 'Elixir.Map', kind: 'flood', why: 'every Elixir process calls Map all the time' },
  { module: 'Elixir.List', kind: 'flood', why: 'every Elixir process calls List all the time' },
  { module: 'Elixir.Keyword', kind: 'flood', why: 'every Elixir process reads options with Keyword' },
  { module: 'Elixir.String', kind: 'flood', why: 'every Elixir process calls String all the time' },
  { module: 'Elixir.Kernel', kind: 'flood', why: 'the Kernel functions that are not inlined run everywhere' },
  { module: 'Elixir.Access', kind: 'flood', why: 'every get_in/put_in and struct access goes through Access' },
  { module: 'Elixir.GenServer', kind: 'flood', why: 'every GenServer of the node calls it; trace your callback module instead' },
  { module: 'Elixir.Logger', kind: 'flood', why: 'every log call goes through Logger' },
];

/** The entry that covers `module`, if any. */
export function dangerousModule(module: string): DangerousModule | undefined {
  return DANGEROUS_MODULES.find((d) => (d.module.endsWith('*') ? module.startsWith(d.module.slice(0, -1)) : d.module === module));
}

/** Every reason to refuse `req`; empty when it is safe. */
export function findDangers(req: TraceRequest): Refusal[] {
  const out: Refusal[] = [];
  for (const t of req.calls) {
    const r = callDanger(t);
    if (r !== undefined) out.push(r);
  }
  if (req.processes !== undefined) out.push(...processDangers(req.processes.which, req.processes.flags));
  return out;
}

/** A refused request, as the CLI reports it: every refusal with its way out. */
export class DangerError extends Error {
  constructor(readonly refusals: Refusal[]) {
    super(formatRefusals(refusals));
    this.name = 'DangerError';
  }
}

/**
 * Throws a DangerError unless the request is safe or forced; with `force`, returns the refusals it
 * overrode (to print as warnings). Refusals that cannot be forced always throw.
 */
export function checkDangers(req: TraceRequest, force: boolean): Refusal[] {
  const all = findDangers(req);
  const blocking = all.filter((r) => !force || !r.forcible);
  if (blocking.length > 0) throw new DangerError(blocking);
  return all;
}

export function formatRefusals(refusals: Refusal[]): string {
  return refusals.map((r) => `refused: ${r.subject}: ${r.reason}\n  instead: ${r.instead}`).join('\n');
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function callDanger(t: CallTarget): Refusal | undefined {
  const subject = describe(t);
  if (t.module === '_' || t.module === '') {
    return { subject, reason: 'every module of the node', instead: 'name a module with --module or --function', forcible: false };
  }
  const d = dangerousModule(t.module);
  if (d === undefined) return undefined;
  if (d.module === 'elixir_scope_agent') {
    return { subject, reason: d.why, instead: 'trace your own code; ElixirScope\'s agent cannot be traced, even with --force', forcible: false };
  }
  const loop = d.kind === 'feedback' ? ' (a feedback loop: each event would make more)' : ' (it would trace the whole node)';
  if (t.function === '_') {
    return {
      subject,
      reason: `${d.why}${loop}`,
      instead: `trace one function with an argument filter, e.g. --function '${displayModule(t.module)}.fun(:marker, _)', or --force`,
      forcible: true,
    };
  }
  if (isFiltered(t)) return undefined;
  const fn = `${displayModule(t.module)}.${t.function}`;
  const args = t.arity === '_' ? ':marker, _' : Array.from({ length: t.arity }, (_, i) => (i === 0 ? ':marker' : '_')).join(', ');
  return {
    subject,
    reason: `${d.why}${loop}, and no argument filter narrows it`,
    instead: `add an argument filter, e.g. --function '${fn}(${args})' or a guard with when, or --force`,
    forcible: true,
  };
}

function processDangers(which: ProcessSelector, flags: ProcessFlag[]): Refusal[] {
  const broad = which === 'all' || which === 'new' || which === 'existing';
  if (!broad) return [];
  const out: Refusal[] = [];
  for (const f of flags) {
    if (f !== 'send' && f !== 'receive') continue;
    out.push({
      subject: `${f} on ${which} processes`,
      reason: `the relay and the distribution link are processes too: every ${f} event they ship makes another (a feedback loop)`,
      instead: `trace messages of chosen processes with --pid or --name, or --force`,
      forcible: true,
    });
  }
  return out;
}
