/**
 * Finding a module in a quoted source file, and the functions its source defines.
 *
 *   const found = findModule(quoted, 'Elixir.Shop.Cart');   // the defmodule node, and its path
 *   const fns = moduleFunctions(found.body);                 // total/1, add/2, add/3 (a default), ...
 *
 * Only what is written as `def`/`defp` directly in the module body counts: functions that `use`
 * or other macros generate are not in the source, and a def whose name is an `unquote` fragment is
 * not known until compile time; both are reported as not instrumentable, never guessed.
 */

import { Atom, Tuple, type Term } from '../erlang/terms.js';
import { aliasName, asCall, asNode, kwGet, lastLine, metaLine, statements } from './quoted.js';

export type DefKind = 'def' | 'defp' | 'defmacro' | 'defmacrop';
const DEF_KINDS = new Set<string>(['def', 'defp', 'defmacro', 'defmacrop']);

/** One `def`/`defp` form in the module body (a clause, or a bodyless head declaring defaults). */
export interface DefForm {
  kind: DefKind;
  name: string;
  /** Arity of the clause as written (default arguments included). */
  arity: number;
  /** How many arguments have a default (`\\`). */
  defaults: number;
  hasBody: boolean;
  /** First and last line of the form (the `end` included). */
  line: number;
  endLine: number;
  /** Index in the module body's statements. */
  index: number;
  /** The form itself. */
  node: Term;
}

export interface FunctionInfo {
  kind: DefKind;
  name: string;
  /** The real arity: the one with every argument. */
  arity: number;
  /** Arities the defaults generate (they delegate to `arity`), lowest first; empty without defaults. */
  generatedArities: number[];
  /** Clauses with a body, in source order. */
  clauses: DefForm[];
}

export interface FoundModule {
  /** The `defmodule` node. */
  node: Tuple;
  /** `Elixir.Shop.Cart`. */
  name: string;
  body: Term;
  /** The module's alias as written was relative to an enclosing module (a nested defmodule). */
  nested: boolean;
  /** How the source defines it: `defimpl Proto, for: X` defines `Proto.X`; a `defprotocol` the protocol. */
  form: 'defmodule' | 'defimpl' | 'defprotocol';
}

/** Every defmodule in `quoted`, nested ones with their full name. */
export function listModules(quoted: Term): FoundModule[] {
  const out: FoundModule[] = [];
  const walk = (t: Term, prefix: string | undefined): void => {
    for (const stmt of statements(t)) {
      const impl = asCall(stmt, 'defimpl');
      if (impl !== undefined) {
        const found = implModule(impl.args, prefix);
        if (found !== undefined) {
          out.push({ node: stmt as Tuple, name: found.name, body: found.body, nested: false, form: 'defimpl' });
          walk(found.body, found.name);
        }
        continue;
      }
      const d = asCall(stmt, 'defmodule') ?? asCall(stmt, 'defprotocol');
      if (d === undefined || d.args.length !== 2) continue;
      const own = aliasName(d.args[0]!);
      const body = kwGet(d.args[1]!, 'do');
      if (own === undefined || body === undefined) continue;
      const full = prefix === undefined || (d.args[0] instanceof Atom) ? own : `${prefix}.${own.slice('Elixir.'.length)}`;
      out.push({ node: stmt as Tuple, name: full, body, nested: prefix !== undefined, form: d.name === 'defprotocol' ? 'defprotocol' : 'defmodule' });
      walk(body, full);
    }
  };
  walk(quoted, undefined);
  return out;
}

/**
 * The module `defimpl Proto, for: X do ... end` defines (`Proto.X`, as Module.concat makes it; `for:`
 * defaults to the enclosing module) and its body. `for: [A, B]` defines several: undefined.
 */
function implModule(args: Term[], prefix: string | undefined): { name: string; body: Term } | undefined {
  const opts = args.length === 3 ? args[1]! : args[1];
  const doKw = args.length === 3 ? args[2]! : args[1];
  if (opts === undefined || doKw === undefined) return undefined;
  const proto = aliasName(args[0]!);
  const forTerm = kwGet(opts, 'for');
  const target = forTerm === undefined ? prefix : aliasName(forTerm);
  const body = kwGet(doKw, 'do');
  if (proto === undefined || target === undefined || body === undefined) return undefined;
  return { name: `${proto}.${target.replace(/^Elixir\./, '')}`, body };
}

export function findModule(quoted: Term, module: string): FoundModule | undefined {
  return listModules(quoted).find((m) => m.name === module);
}

/** The def form of a module-body statement, or undefined (attributes, macros calls, unquote names...). */
export function defForm(stmt: Term, index: number): DefForm | undefined {
  const d = asCall(stmt);
  if (d === undefined || !DEF_KINDS.has(d.name) || d.args.length < 1 || d.args.length > 2) return undefined;
  const head = headOf(d.args[0]!);
  if (head === undefined) return undefined;
  const defaults = head.args.filter((a) => asCall(a, '\\\\') !== undefined).length;
  const line = metaLine(stmt) ?? 0;
  const end = kwGet(d.meta, 'end');
  const endLine = Math.max(lastLine(stmt) ?? line, typeof kwGet(end ?? [], 'line') === 'number' ? (kwGet(end!, 'line') as number) : 0);
  return {
    kind: d.name as DefKind,
    name: head.name,
    arity: head.args.length,
    defaults,
    hasBody: d.args.length === 2,
    line,
    endLine,
    index,
    node: stmt,
  };
}

/** `name(args)` or `name(args) when guard`: the name, its meta and the arguments. */
export function headOf(head: Term): { name: string; meta: Term[]; args: Term[]; guard: Term | undefined } | undefined {
  const w = asCall(head, 'when');
  const call = w !== undefined && w.args.length === 2 ? w.args[0]! : head;
  const n = asNode(call);
  if (n === undefined || !(n.form instanceof Atom)) return undefined;
  const args = Array.isArray(n.args) ? n.args : [];
  return { name: n.form.name, meta: n.meta, args, guard: w !== undefined && w.args.length === 2 ? w.args[1] : undefined };
}

/** The functions the module body defines (def and defp; macros listed with their kind). */
export function moduleFunctions(body: Term): FunctionInfo[] {
  const byKey = new Map<string, FunctionInfo>();
  const stmts = statements(body);
  for (let i = 0; i < stmts.length; i++) {
    const f = defForm(stmts[i]!, i);
    if (f === undefined) continue;
    const key = `${f.name}/${f.arity}`;
    let info = byKey.get(key);
    if (info === undefined) {
      info = { kind: f.kind, name: f.name, arity: f.arity, generatedArities: [], clauses: [] };
      byKey.set(key, info);
    }
    if (f.defaults > 0) {
      const gen = new Set(info.generatedArities);
      for (let a = f.arity - f.defaults; a < f.arity; a++) gen.add(a);
      info.generatedArities = [...gen].sort((x, y) => x - y);
    }
    if (f.hasBody) info.clauses.push(f);
  }
  return [...byKey.values()];
}

/** Every `name/arity` the module defines as a function (generated default arities included). */
export function functionKeys(fns: FunctionInfo[]): Set<string> {
  const keys = new Set<string>();
  for (const f of fns) {
    if (f.kind !== 'def' && f.kind !== 'defp') continue;
    keys.add(`${f.name}/${f.arity}`);
    for (const a of f.generatedArities) keys.add(`${f.name}/${a}`);
  }
  return keys;
}
