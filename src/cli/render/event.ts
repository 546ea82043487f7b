/**
 * One event as a history line, in the format of the original README's `history/1`:
 *
 *   [+0.000120s] [RUNTIME] CALL Shop.Cart.add/3 (Args: [#PID<0.150.0>, "sku-1", 2])
 *   [+0.000131s] [RUNTIME]   SEND from #PID<0.150.0> (Shop.Cart) to #PID<0.151.0> (Shop.Inventory): {:reserve, "sku-1", 2}
 *   [+0.000150s] [RUNTIME] EXIT Shop.Cart.add/3 (Return: :ok)
 *
 * Events from instrumented code (docs/ast.md) are tagged `[AST]` and name their line:
 *
 *   [+0.000140s] [AST]       LINE 10 Shop.Cart.total/1: items = [1, 2], sum = 3
 *   [+0.000141s] [AST]       EXPR 12 Shop.Cart.total/1: Enum.sum(xs) => 6
 *   [+0.000142s] [AST]     TAIL Shop.Cart.loop/2 → Shop.Cart.loop/2
 *
 * and as one JSON object (for `history --json`, JSON Lines). Lines inside a call are indented two
 * spaces per open call on that pid. `EXIT` is a function's return, as in the README; a process's own
 * end is `PROC_EXIT`. Every label is listed in docs/cli.md.
 */

import type { StoredEvent } from '../../capture/event.js';
import { Atom, Tuple, type Term } from '../../erlang/terms.js';
import { formatMfa, type Renderer } from './format.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** The label of each kind on a history line. */
export const KIND_LABELS = {
  call: 'CALL',
  return: 'EXIT',
  exception: 'EXCEPTION',
  send: 'SEND',
  send_to_dead: 'SEND_TO_DEAD',
  receive: 'RECEIVE',
  spawn: 'SPAWN',
  spawned: 'SPAWNED',
  exit: 'PROC_EXIT',
  link: 'LINK',
  unlink: 'UNLINK',
  getting_linked: 'LINKED_BY',
  getting_unlinked: 'UNLINKED_BY',
  register: 'REGISTER',
  unregister: 'UNREGISTER',
  state_init: 'STATE_INIT',
  state: 'STATE',
  limit: 'LIMIT',
  line: 'LINE',
  // Locals are shown as the line they were taken after, with the bindings (the README's format).
  locals: 'LINE',
  expr: 'EXPR',
  probe: 'PROBE',
  tail_call: 'TAIL',
} as const;

export interface LineOptions {
  /** Put the pid (and name) before the label, for histories of more than one process. */
  pidColumn?: number | false;
}

/** `[+ts] [SOURCE] <indent>LABEL details`. */
export function eventLine(e: StoredEvent, r: Renderer, opts: LineOptions = {}): string {
  const source = e.source === 'runtime' ? '[RUNTIME]' : '[AST]';
  const who = opts.pidColumn === undefined || opts.pidColumn === false ? '' : r.pid(e.pid).padEnd(opts.pidColumn) + '  ';
  const indent = '  '.repeat(r.depth(e));
  return `[${r.ts(e.ts)}] ${source.padEnd(9)} ${who}${indent}${eventText(e, r)}`;
}

/** The label and details of an event, without timestamp, source or indentation. */
export function eventText(e: StoredEvent, r: Renderer): string {
  const label = KIND_LABELS[e.kind];
  const mfa = e.mfa === null ? '?' : formatMfa(e.mfa);
  switch (e.kind) {
    case 'call':
      return `${label} ${mfa} (Args: ${r.args(e.payload())})`;
    case 'return':
      return `${label} ${mfa} (Return: ${r.term(e.payload())})`;
    case 'exception': {
      const { cls, reason } = classAndReason(e.payload());
      return `${label} ${mfa} (${cls}: ${r.term(reason)})`;
    }
    case 'send':
    case 'send_to_dead':
      return `${label} from ${r.pid(e.pid)} to ${destination(e, r)}: ${r.term(e.payload())}`;
    case 'receive': {
      const from = senderOf(e, r);
      return from === null ? `${label} ${r.term(e.payload())}` : `${label} from ${from}: ${r.term(e.payload())}`;
    }
    case 'spawn':
      return `${label} ${e.peer === null ? '?' : r.pid(e.peer)} running ${spawnedMfa(e.payload(), r)}`;
    case 'spawned':
      return `${label} by ${e.peer === null ? '?' : r.pid(e.peer)} running ${spawnedMfa(e.payload(), r)}`;
    case 'exit':
      return `${label} (Reason: ${r.term(e.payload())})`;
    case 'link':
    case 'unlink':
    case 'getting_linked':
    case 'getting_unlinked':
      return `${label} ${e.peer === null ? '?' : r.pid(e.peer)}`;
    case 'register':
    case 'unregister':
      return `${label} ${r.term(e.payload())}`;
    case 'state_init':
      return `${label} ${r.term(e.payload())}`;
    case 'state': {
      const cause = stateCause(e.aux(), r);
      return cause === '' ? `${label} ${r.term(e.payload())}` : `${label} ${r.term(e.payload())} (${cause})`;
    }
    case 'limit':
      return `${label} ${limitText(e.payload(), r)}`;
    case 'line':
      return `${label} ${lineOf(e) ?? '?'} ${mfa}`;
    case 'locals': {
      const b = bindings(e.payload());
      const text = b === null ? r.term(e.payload()) : b.map(([n, v]) => `${n} = ${r.term(v)}`).join(', ');
      return `${label} ${lineOf(e) ?? '?'} ${mfa}: ${text}`;
    }
    case 'expr':
    case 'probe': {
      const lv = labelled(e.payload());
      // An expression's value reads as a result (`=>`); a probe's as a measurement (`=`).
      const sep = e.kind === 'expr' ? '=>' : '=';
      const text = lv === null ? r.term(e.payload()) : `${lv.label} ${sep} ${r.term(lv.value)}`;
      return `${label} ${lineOf(e) ?? '?'} ${mfa}: ${text}`;
    }
    case 'tail_call':
      return `${label} ${mfa} → ${calleeText(e.payload(), r)}`;
  }
}

/** The source line of an AST event (its aux), or null for runtime events and odd values. */
export function lineOf(e: StoredEvent): number | null {
  if (e.source !== 'ast') return null;
  const a = e.aux();
  return typeof a === 'number' ? a : typeof a === 'bigint' ? Number(a) : null;
}

/** `Shop.Cart.loop/2` from a tail call's `{M, F, A}`. */
export function calleeText(p: Term | undefined, r: Renderer): string {
  if (p instanceof Tuple && p.elements.length === 3) {
    const [m, f, a] = p.elements as [Term, Term, Term];
    if (m instanceof Atom && f instanceof Atom && typeof a === 'number') return formatMfa({ module: m.name, fun: f.name, arity: a });
  }
  return r.term(p);
}

/** A `locals` payload `[{name, value}]` as pairs, or null when it is not of that shape (truncated...). */
export function bindings(p: Term | undefined): Array<[string, Term]> | null {
  if (!Array.isArray(p)) return null;
  const out: Array<[string, Term]> = [];
  for (const x of p) {
    if (!(x instanceof Tuple && x.elements.length === 2 && x.elements[0] instanceof Atom)) return null;
    out.push([x.elements[0].name, x.elements[1]!]);
  }
  return out;
}

/** Where a send went: the receiver pid (and name), or the name it was sent to (`Shop.Mailer`, `{:logger, :n@h}`). */
export function destination(e: StoredEvent, r: Renderer): string {
  if (e.peer !== null) return r.pid(e.peer);
  const aux = e.aux();
  return aux === undefined ? '?' : r.term(aux);
}

/** What a GenServer handled before it reached this state: `after call {:add, 1}, reply :ok`. */
export function stateCause(aux: Term | undefined, r: Renderer): string {
  if (!(aux instanceof Tuple) || aux.elements.length !== 2) return '';
  const [raw, reply] = aux.elements as [Term, Term];
  let what: string;
  if (raw instanceof Tuple && raw.elements[0] === GEN_CALL && raw.elements.length === 3) {
    what = `after call ${r.term(raw.elements[2])}`;
  } else if (raw instanceof Tuple && raw.elements[0] === GEN_CAST && raw.elements.length === 2) {
    what = `after cast ${r.term(raw.elements[1])}`;
  } else {
    what = `after ${r.term(raw)}`;
  }
  if (reply instanceof Tuple && reply.elements[0] === REPLY && reply.elements.length === 2) {
    what += `, reply ${r.term(reply.elements[1])}`;
  }
  return what;
}

/** One event as a JSON object: the fields that apply to its kind, terms rendered with `inspect`. */
export function eventJson(e: StoredEvent, r: Renderer): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: e.id,
    ts: e.ts,
    pid: r.pidText(e.pid),
    node: e.pid.node.name,
    kind: e.kind,
    source: e.source,
    mfa: e.mfa === null ? null : formatMfa(e.mfa),
  };
  const name = r.nameOf(e.pid);
  if (name !== null) o.name = name;
  switch (e.kind) {
    case 'call':
      o.args = r.args(e.payload());
      break;
    case 'return':
      o.result = r.term(e.payload());
      break;
    case 'exception': {
      const { cls, reason } = classAndReason(e.payload());
      o.class = cls;
      o.reason = r.term(reason);
      o.stack = tracedStack(e, r);
      break;
    }
    case 'send':
    case 'send_to_dead':
    case 'receive':
      o.message = r.term(e.payload());
      if (e.kind !== 'receive' && e.aux() !== undefined) o.to = r.term(e.aux());
      break;
    case 'spawn':
    case 'spawned':
      o.args = r.term(e.payload());
      break;
    case 'exit':
      o.reason = r.term(e.payload());
      break;
    case 'register':
    case 'unregister':
      o.registered = r.term(e.payload());
      break;
    case 'state_init':
      o.state = r.term(e.payload());
      break;
    case 'state': {
      o.state = r.term(e.payload());
      const aux = e.aux();
      if (aux instanceof Tuple && aux.elements.length === 2) {
        o.message = r.term(aux.elements[0]);
        o.reply = r.term(aux.elements[1]);
      }
      break;
    }
    case 'limit':
      o.limit = r.term(e.payload());
      break;
    case 'locals': {
      const b = bindings(e.payload());
      o.locals = b === null ? r.term(e.payload()) : b.map(([name, v]) => ({ name, value: r.term(v) }));
      break;
    }
    case 'expr':
    case 'probe': {
      const lv = labelled(e.payload());
      o.label = lv === null ? null : lv.label;
      o.value = r.term(lv === null ? e.payload() : lv.value);
      break;
    }
    case 'tail_call':
      o.callee = calleeText(e.payload(), r);
      break;
    default:
      break;
  }
  if (e.source === 'ast') o.line = lineOf(e);
  o.peer = e.peer === null ? null : r.pidText(e.peer);
  o.link = e.link;
  o.parent = e.parent;
  return o;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

const GEN_CALL = Atom.of('$gen_call');
const GEN_CAST = Atom.of('$gen_cast');
const REPLY = Atom.of('reply');

function classAndReason(p: Term | undefined): { cls: string; reason: Term | undefined } {
  if (p instanceof Tuple && p.elements.length === 2 && p.elements[0] instanceof Atom) {
    return { cls: p.elements[0].name, reason: p.elements[1] };
  }
  return { cls: 'error', reason: p };
}

/** `{Label, Value}` of expr and probe events (Label a binary of source text). */
function labelled(p: Term | undefined): { label: string; value: Term } | null {
  if (p instanceof Tuple && p.elements.length === 2 && Buffer.isBuffer(p.elements[0])) {
    return { label: p.elements[0].toString('utf8'), value: p.elements[1]! };
  }
  return null;
}

function senderOf(e: StoredEvent, r: Renderer): string | null {
  if (e.link === null) return null;
  return r.pid(r.recording.event(e.link).pid);
}

/** `Shop.Worker.run/1 (Args: [1])` from a spawn's `{M, F, Args}`. */
function spawnedMfa(p: Term | undefined, r: Renderer): string {
  if (p instanceof Tuple && p.elements.length === 3) {
    const [m, f, args] = p.elements as [Term, Term, Term];
    if (m instanceof Atom && f instanceof Atom && Array.isArray(args)) {
      return `${formatMfa({ module: m.name, fun: f.name, arity: args.length })} (Args: ${r.args(args)})`;
    }
  }
  return r.term(p);
}

/** `max_events = 1000000, stopped` from `{Name, Value, Action}`. */
function limitText(p: Term | undefined, r: Renderer): string {
  if (p instanceof Tuple && p.elements.length === 3 && p.elements[0] instanceof Atom) {
    const action = p.elements[2];
    return `${p.elements[0].name} = ${r.term(p.elements[1])}${action instanceof Atom ? `, ${action.name}` : ` ${r.term(action)}`}`;
  }
  return r.term(p);
}

/**
 * The traced frames an exception went through, innermost first: its own call, then the calls open
 * around it on that process (the BEAM's exception_from carries no stacktrace; the process's exit
 * reason does, when it dies of it).
 */
function tracedStack(e: StoredEvent, r: Renderer): string[] {
  const out: string[] = [];
  let id: number | null = e.link;
  for (let guard = 0; id !== null && guard < 10_000; guard++) {
    const call = r.recording.event(id);
    if (call.mfa !== null) out.push(formatMfa(call.mfa));
    // Parent ids point backwards; anything else is a damaged recording, not a reason to loop.
    if (call.parent !== null && call.parent >= call.id) break;
    id = call.parent;
  }
  return out;
}
