/**
 * A module whose source file is gone can still be instrumented when its .beam kept `debug_info`:
 * Elixir stores there every definition, already expanded (`{{name, arity}, kind, meta, clauses}`,
 * each clause `{meta, args, guards, body}`), and the persisted attributes. `fromDebugInfo` turns
 * them back into one compilable `defmodule`, which the transformer then treats as any source.
 *
 *   const quoted = fromDebugInfo(info.definitions, info.attributes, 'Elixir.Shop.Cart');
 *   instrumentModule(quoted, plan);
 *
 * What is lost: everything the expansion already consumed (aliases, imports, macros calls are
 * expanded; `use` is gone and what it generated is an ordinary def). A default argument's generated
 * arity (`f/1` for `f(a, b \\ 2)`) is an ordinary delegating def here, so it can be instrumented too.
 */

import { Atom, Tuple, atom, termEquals, type Term } from '../erlang/terms.js';
import { call, escape, kw, meta, remote } from './quoted.js';

const DEF_KINDS = new Set(['def', 'defp', 'defmacro', 'defmacrop']);

/** Definitions or attributes that are not what Elixir's debug_info holds. */
export class DebugInfoError extends Error {
  readonly code = 'BAD_DEBUG_INFO';
  constructor(message: string) {
    super(message);
    this.name = 'DebugInfoError';
  }
}

export function fromDebugInfo(definitions: Term, attributes: Term, module: string): Term {
  if (!Array.isArray(definitions)) throw new DebugInfoError(`the debug_info definitions of ${module} are not a list; expected [{{name, arity}, kind, meta, clauses}]`);
  const stmts: Term[] = [...attributeForms(attributes, module)];
  const defs: Array<{ line: number; forms: Term[] }> = [];
  const heads = defaultHeads(definitions);
  for (const d of definitions) {
    if (heads.delegators.has(d)) continue;
    if (!(d instanceof Tuple) || d.elements.length !== 4) throw new DebugInfoError(`a debug_info definition of ${module} is not {{name, arity}, kind, meta, clauses}`);
    const [na, kind, dmeta, clauses] = d.elements;
    if (!(na instanceof Tuple) || !(na.elements[0] instanceof Atom) || !(kind instanceof Atom) || !DEF_KINDS.has(kind.name) || !Array.isArray(clauses)) {
      throw new DebugInfoError(`a debug_info definition of ${module} has an unexpected shape (kind ${kind instanceof Atom ? kind.name : '?'})`);
    }
    const name = na.elements[0];
    const forms: Term[] = [];
    const head = heads.byFunction.get(`${name.name}/${String(na.elements[1])}`);
    if (head !== undefined) forms.push(new Tuple([kind, [], [head]]));
    for (const c of clauses) {
      if (!(c instanceof Tuple) || c.elements.length !== 4) throw new DebugInfoError(`a clause of ${module}.${name.name} is not {meta, args, guards, body}`);
      const [cmeta, args, guards, body] = c.elements;
      const cm = Array.isArray(cmeta) ? cmeta : [];
      let head: Term = new Tuple([name, cm, Array.isArray(args) ? args : []]);
      if (Array.isArray(guards) && guards.length > 0) head = call('when', cm, [head, orGuards(guards, cm)]);
      forms.push(new Tuple([kind, cm, [head, kw([['do', defaultsCall(body!, name, Array.isArray(args) ? args.length : 0)]])]]));
    }
    defs.push({ line: lineOf(dmeta), forms });
  }
  // Source order reads best and keeps clause order within each function.
  defs.sort((a, b) => a.line - b.line);
  for (const d of defs) stmts.push(...d.forms);
  return call('defmodule', meta(1), [atom(module), kw([['do', call('__block__', [], stmts)]])]);
}

/**
 * Default arguments go back into the head as `\\` (a bodyless `def f(a, b \\ 2)` before the clauses),
 * and the clauses Elixir generated for them (`f/1` calling `super(x0, 2)`) are left out: written as
 * local calls they would not compile when the function is named like a special form (`def quote(a,
 * b \\ 2)` makes `quote(x0, 2)`, which is read as the `quote` special form), and the compiler
 * generates them again from the head exactly as it did the first time.
 */
function defaultHeads(definitions: Term[]): { byFunction: Map<string, Term>; delegators: Set<Term> } {
  const byFunction = new Map<string, Term>();
  const delegators = new Set<Term>();
  const full = new Map<string, number>(); // name → arity of the definition that has defaults
  for (const d of definitions) {
    if (!(d instanceof Tuple) || d.elements.length !== 4) continue;
    const [na, , dmeta] = d.elements;
    if (na instanceof Tuple && na.elements[0] instanceof Atom && typeof na.elements[1] === 'number' && kwNumber(dmeta, 'defaults') > 0) full.set(na.elements[0].name, na.elements[1]);
  }
  // The delegator with the fewest arguments names every default: its super call passes its own
  // variables where the head has no default, and the default's expression elsewhere.
  const lowest = new Map<string, { arity: number; args: Term[]; own: Term[] }>();
  for (const d of definitions) {
    if (!(d instanceof Tuple) || d.elements.length !== 4) continue;
    const [na, , , clauses] = d.elements;
    if (!(na instanceof Tuple) || !(na.elements[0] instanceof Atom) || typeof na.elements[1] !== 'number') continue;
    const fullArity = full.get(na.elements[0].name);
    if (fullArity === undefined || na.elements[1] >= fullArity || !Array.isArray(clauses) || clauses.length !== 1) continue;
    const c = clauses[0];
    if (!(c instanceof Tuple) || c.elements.length !== 4 || !Array.isArray(c.elements[1])) continue;
    const body = c.elements[3];
    if (!(body instanceof Tuple) || body.elements[0] !== atom('super') || !Array.isArray(body.elements[2]) || body.elements[2].length !== fullArity) continue;
    delegators.add(d);
    const prev = lowest.get(na.elements[0].name);
    if (prev === undefined || na.elements[1] < prev.arity) lowest.set(na.elements[0].name, { arity: na.elements[1], args: body.elements[2], own: c.elements[1] });
  }
  for (const [name, l] of lowest) {
    const params = l.args.map((a, i) => {
      const v = new Tuple([atom(`arg${i + 1}`), [], atom('nil')]);
      return l.own.some((o) => termEquals(o, a)) ? v : call('\\\\', [], [v, a]);
    });
    byFunction.set(`${name}/${l.args.length}`, new Tuple([atom(name), [], params]));
  }
  return { byFunction, delegators };
}

function kwNumber(m: Term | undefined, key: string): number {
  if (!Array.isArray(m)) return 0;
  for (const e of m) if (e instanceof Tuple && e.elements[0] === atom(key) && typeof e.elements[1] === 'number') return e.elements[1];
  return 0;
}

/**
 * The clause a default argument generates (`f(a)` for `f(a, b \\ 2)`) is stored as `super(a, 2)`:
 * written back, that is the local call `f(a, 2)`. A `super` with the clause's own arity is a real
 * one (an overridden function) and stays.
 */
function defaultsCall(body: Term, name: Atom, arity: number): Term {
  if (!(body instanceof Tuple) || body.elements.length !== 3) return body;
  const [form, m, args] = body.elements;
  if (form === atom('super') && Array.isArray(args) && args.length !== arity) return new Tuple([name, m!, args]);
  return body;
}

/** `[g1, g2, g3]` (any may hold) → `g1 when g2 when g3`, as def reads several guards. */
function orGuards(guards: Term[], m: Term[]): Term {
  let g = guards[guards.length - 1]!;
  for (let i = guards.length - 2; i >= 0; i--) g = call('when', m, [guards[i]!, g]);
  return g;
}

function lineOf(m: Term | undefined): number {
  if (!Array.isArray(m)) return 0;
  for (const e of m) if (e instanceof Tuple && e.elements[0] === atom('line') && typeof e.elements[1] === 'number') return e.elements[1];
  return 0;
}

/** Persisted attributes (`@behaviour`, and those registered with `persist: true`) back as attributes. */
function attributeForms(attributes: Term, module: string): Term[] {
  if (!Array.isArray(attributes)) throw new DebugInfoError(`the debug_info attributes of ${module} are not a keyword list`);
  const counts = new Map<string, number>();
  for (const a of attributes) {
    if (!(a instanceof Tuple) || a.elements.length !== 2 || !(a.elements[0] instanceof Atom)) throw new DebugInfoError(`a debug_info attribute of ${module} is not {key, value}`);
    const k = a.elements[0].name;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const out: Term[] = [];
  for (const [k, n] of counts) {
    if (k === 'behaviour') continue;
    const opts: Array<[string, Term]> = [['persist', atom('true')]];
    if (n > 1) opts.push(['accumulate', atom('true')]);
    out.push(remote(atom('Elixir.Module'), 'register_attribute', [], [new Tuple([atom('__MODULE__'), [], atom('nil')]), atom(k), kw(opts)]));
  }
  for (const a of attributes as Tuple[]) {
    const k = (a.elements[0] as Atom).name;
    out.push(call('@', [], [new Tuple([atom(k), [], [escape(a.elements[1]!)]])]));
  }
  return out;
}
