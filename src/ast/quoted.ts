/**
 * Elixir's quoted form, as our Term model holds it (src/erlang/terms.ts), and the small vocabulary
 * the transformer needs over it: reading nodes and meta, building injected nodes, the variables a
 * pattern binds, and a compact Elixir rendering of an expression for event labels.
 *
 * Quoted form, as `Code.string_to_quoted/2` gives it:
 *   {name, meta, args}      a call (args a list) or a variable (args an atom: the context, nil for
 *                           variables written by the user); 3-tuples are always nodes
 *   {left, right}           a literal 2-tuple (other tuples are `{:{}, meta, elements}`)
 *   atoms, numbers, binaries (strings), lists (a keyword list is a list of {atom, quoted})
 *   meta                    a keyword list: line, column, end_of_expression, closing, ...
 *
 * Nothing here talks to a node; everything is pure and works on Terms.
 */

import { Atom, ErlFloat, ErlMap, Tuple, atom, type Term } from '../erlang/terms.js';

// ----------------------------------------------------------------------------------------------
// READING
// ----------------------------------------------------------------------------------------------

/** A 3-tuple node `{form, meta, args}`. */
export interface Node3 {
  form: Term;
  meta: Term[];
  args: Term;
}

export function asNode(t: Term): Node3 | undefined {
  if (!(t instanceof Tuple) || t.elements.length !== 3) return undefined;
  const meta = t.elements[1]!;
  if (!Array.isArray(meta)) return undefined;
  return { form: t.elements[0]!, meta, args: t.elements[2]! };
}

/** A call of a local name or special form: `{name, meta, [args]}` with name an atom. */
export function asCall(t: Term, name?: string): { name: string; meta: Term[]; args: Term[] } | undefined {
  const n = asNode(t);
  if (n === undefined || !(n.form instanceof Atom) || !Array.isArray(n.args)) return undefined;
  if (name !== undefined && n.form.name !== name) return undefined;
  return { name: n.form.name, meta: n.meta, args: n.args };
}

/** A variable `{name, meta, context}` (context an atom: nil for the user's own variables). */
export function asVar(t: Term): { name: string; meta: Term[]; context: Atom } | undefined {
  const n = asNode(t);
  if (n === undefined || !(n.form instanceof Atom) || !(n.args instanceof Atom)) return undefined;
  return { name: n.form.name, meta: n.meta, context: n.args };
}

/** A remote call `{{:., _, [target, fun]}, meta, args}`. */
export function asRemoteCall(t: Term): { target: Term; fun: string; dotMeta: Term[]; meta: Term[]; args: Term[] } | undefined {
  const n = asNode(t);
  if (n === undefined || !Array.isArray(n.args)) return undefined;
  const dot = asCall(n.form, '.');
  if (dot === undefined || dot.args.length !== 2) return undefined;
  const fun = dot.args[1]!;
  if (!(fun instanceof Atom)) return undefined;
  return { target: dot.args[0]!, fun: fun.name, dotMeta: dot.meta, meta: n.meta, args: n.args };
}

/** The value under `key` in a keyword list, or undefined. */
export function kwGet(kw: Term, key: string): Term | undefined {
  if (!Array.isArray(kw)) return undefined;
  for (const e of kw) {
    if (e instanceof Tuple && e.elements.length === 2 && e.elements[0] instanceof Atom && e.elements[0].name === key) return e.elements[1];
  }
  return undefined;
}

export function isKeywordList(t: Term): t is Tuple[] {
  return Array.isArray(t) && t.length > 0 && t.every((e) => e instanceof Tuple && e.elements.length === 2 && e.elements[0] instanceof Atom);
}

/** The keys of a keyword list, in order. */
export function kwKeys(kw: Term): string[] {
  return isKeywordList(kw) ? kw.map((e) => (e.elements[0] as Atom).name) : [];
}

/** A keyword list with `key` set to `value` (replaced in place, or appended). */
export function kwPut(kw: Tuple[], key: string, value: Term): Tuple[] {
  const k = atom(key);
  let found = false;
  const out = kw.map((e) => {
    if (e.elements[0] === k) {
      found = true;
      return new Tuple([k, value]);
    }
    return e;
  });
  if (!found) out.push(new Tuple([k, value]));
  return out;
}

/** The `line` of a node's meta, or undefined. */
export function metaLine(t: Term): number | undefined {
  const n = asNode(t);
  if (n === undefined) return undefined;
  const l = kwGet(n.meta, 'line');
  return typeof l === 'number' ? l : undefined;
}

/** The first line found in `t` or below it (a literal has none of its own). */
export function firstLine(t: Term): number | undefined {
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    const l = metaLine(x);
    if (l !== undefined) return l;
    if (x instanceof Tuple) for (let i = x.elements.length - 1; i >= 0; i--) stack.push(x.elements[i]!);
    else if (Array.isArray(x)) for (let i = x.length - 1; i >= 0; i--) stack.push(x[i]!);
  }
  return undefined;
}

/** The largest line in `t` (meta `end`/`closing` lines count too): where a multi-line node ends. */
export function lastLine(t: Term): number | undefined {
  let max: number | undefined;
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    const n = asNode(x);
    if (n !== undefined) {
      const l = kwGet(n.meta, 'line');
      if (typeof l === 'number' && (max === undefined || l > max)) max = l;
      stack.push(n.form, n.args);
      continue;
    }
    if (x instanceof Tuple) stack.push(...x.elements);
    else if (Array.isArray(x)) stack.push(...x);
  }
  return max;
}

/** The statements of a body: the arguments of a `__block__`, or the expression alone. */
export function statements(body: Term): Term[] {
  const b = asCall(body, '__block__');
  return b !== undefined ? b.args : [body];
}

/** `{:->, meta, [[patterns], body]}` clauses, or undefined when `t` is not a clause list. */
export function asClauses(t: Term): Array<{ meta: Term[]; left: Term[]; body: Term }> | undefined {
  if (!Array.isArray(t)) return undefined;
  const out: Array<{ meta: Term[]; left: Term[]; body: Term }> = [];
  for (const c of t) {
    const n = asCall(c, '->');
    if (n === undefined || n.args.length !== 2 || !Array.isArray(n.args[0])) return undefined;
    out.push({ meta: n.meta, left: n.args[0] as Term[], body: n.args[1]! });
  }
  return out;
}

/** The module name an `__aliases__` node (or a literal module atom) names, as `Elixir.A.B`. */
export function aliasName(t: Term): string | undefined {
  if (t instanceof Atom) return t.name.startsWith('Elixir.') ? t.name : undefined;
  const a = asCall(t, '__aliases__');
  if (a === undefined || !a.args.every((s) => s instanceof Atom)) return undefined;
  const segs = (a.args as Atom[]).map((s) => s.name);
  if (segs[0] === 'Elixir') segs.shift();
  return `Elixir.${segs.join('.')}`;
}

// ----------------------------------------------------------------------------------------------
// BUILDING
// ----------------------------------------------------------------------------------------------

/** Where everything injected comes from: the user's line (and column), so stacktraces keep them. */
export type Meta = Term[];

export const A_NIL = atom('nil');
/** Context of the transformer's own variables: never equal to a user variable's (nil) context. */
export const HYGIENE = atom('Elixir.ElixirScope');

export function meta(line: number | undefined, extra: Record<string, Term> = {}): Meta {
  const m: Term[] = [];
  if (line !== undefined) m.push(new Tuple([atom('line'), line]));
  for (const [k, v] of Object.entries(extra)) m.push(new Tuple([atom(k), v]));
  return m;
}

/** Meta for injected code: the user's line, and `generated: true` so the compiler does not warn about it. */
export function genMeta(line: number | undefined): Meta {
  return meta(line, { generated: atom('true') });
}

export function call(name: string, m: Meta, args: Term[]): Tuple {
  return new Tuple([atom(name), m, args]);
}

export function remote(mod: Term, fun: string, m: Meta, args: Term[]): Tuple {
  return new Tuple([new Tuple([atom('.'), m, [mod, atom(fun)]]), m, args]);
}

/** A variable of the transformer's (hygienic: context ElixirScope). */
export function hvar(name: string, line: number | undefined): Tuple {
  return new Tuple([atom(name), meta(line), HYGIENE]);
}

/** A tuple of any size as quoted code (`{:{}, meta, elements}` works for 2-tuples too). */
export function tupleOf(m: Meta, elements: Term[]): Tuple {
  return call('{}', m, elements);
}

export function block(m: Meta, stmts: Term[]): Term {
  const flat: Term[] = [];
  for (const s of stmts) {
    const b = asCall(s, '__block__');
    if (b !== undefined && b.args.length > 0) flat.push(...b.args);
    else flat.push(s);
  }
  return flat.length === 1 ? flat[0]! : call('__block__', m, flat);
}

export function clause(m: Meta, left: Term[], body: Term): Tuple {
  return call('->', m, [left, body]);
}

export function kw(entries: Array<[string, Term]>): Tuple[] {
  return entries.map(([k, v]) => new Tuple([atom(k), v]));
}

/** A term as the quoted code that builds it (Macro.escape): atoms, numbers, binaries, lists, tuples, maps. */
export function escape(t: Term): Term {
  if (Array.isArray(t)) return t.map(escape);
  if (t instanceof Tuple) {
    const els = t.elements.map(escape);
    return els.length === 2 ? new Tuple(els) : tupleOf([], els);
  }
  if (t instanceof ErlMap) return call('%{}', [], t.entries.map(([k, v]) => new Tuple([escape(k), escape(v)])));
  return t;
}

// ----------------------------------------------------------------------------------------------
// BINDINGS
// ----------------------------------------------------------------------------------------------

/**
 * The user variables a pattern binds, in source order, without duplicates: `_` and `_x` are left
 * out (reading them would warn), `^x` is a use, not a binding, and so are the sizes and types on
 * the right of `::` in a binary pattern and the keys of a map pattern.
 */
export function patternVars(pattern: Term): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (t: Term, inBinary: boolean): void => {
    const v = asVar(t);
    if (v !== undefined) {
      if (v.context === A_NIL && !v.name.startsWith('_') && !seen.has(v.name)) {
        seen.add(v.name);
        out.push(v.name);
      }
      return;
    }
    const c = asNode(t);
    if (c !== undefined) {
      const name = c.form instanceof Atom ? c.form.name : undefined;
      if (name === '^' || name === '@' || name === '__aliases__') return;
      if (name === '::' && inBinary && Array.isArray(c.args)) {
        walk(c.args[0]!, inBinary);
        return;
      }
      if (name === '%{}' && Array.isArray(c.args)) {
        for (const e of c.args) {
          if (e instanceof Tuple && e.elements.length === 2) walk(e.elements[1]!, inBinary);
          else walk(e, inBinary);
        }
        return;
      }
      if (name === 'when' && Array.isArray(c.args)) {
        // Clause heads `a, b when guard`: only the patterns bind.
        for (const a of c.args.slice(0, -1)) walk(a, inBinary);
        return;
      }
      if (Array.isArray(c.args)) for (const a of c.args) walk(a, inBinary || name === '<<>>');
      if (!(c.form instanceof Atom)) walk(c.form, inBinary);
      return;
    }
    if (t instanceof Tuple) for (const e of t.elements) walk(e, inBinary);
    else if (Array.isArray(t)) for (const e of t) walk(e, inBinary);
  };
  walk(pattern, false);
  return out;
}

/** The variables bound by a statement at block level: the left side of each `=` (`a = b = f()`). */
export function statementBindings(stmt: Term): string[] {
  const m = asCall(stmt, '=');
  if (m === undefined || m.args.length !== 2) return [];
  return [...patternVars(m.args[0]!), ...statementBindings(m.args[1]!)];
}

// ----------------------------------------------------------------------------------------------
// RENDERING (labels: close to Macro.to_string, never needs to round-trip)
// ----------------------------------------------------------------------------------------------

const BINARY_OPS = new Set([
  '+', '-', '*', '/', '==', '!=', '===', '!==', '<', '>', '<=', '>=', '&&', '||', 'and', 'or', '<>', '++', '--', '|>',
  '=', '..', 'in', 'not in', 'when', '::', '\\\\', '<-', '|', '=~', '**', '<<<', '>>>', '&&&', '|||', '^^^', '~>>', '<<~', '~>', '<~', '<~>', '<|>', '//',
]);
const UNARY_OPS = new Set(['-', '+', '!', 'not', '^', '&', '@', '~~~']);

const LABEL_MAX = 200;

/** Source text for a label; long text is cut with "…". `fallbackLine` names the line when the form is unknown. */
export function renderLabel(t: Term, fallbackLine?: number): string {
  let s: string;
  try {
    s = render(t, 0);
  } catch (e) {
    if (!(e instanceof Unrenderable)) throw e;
    const l = firstLine(t) ?? fallbackLine;
    return l === undefined ? 'expression' : `line ${l}`;
  }
  return s.length > LABEL_MAX ? `${s.slice(0, LABEL_MAX - 1)}…` : s;
}

class Unrenderable extends Error {}

function renderAtomLiteral(a: Atom): string {
  if (a.name === 'nil' || a.name === 'true' || a.name === 'false') return a.name;
  if (a.name.startsWith('Elixir.') && /^Elixir(\.[A-Z][A-Za-z0-9_]*)+$/.test(a.name)) return a.name.slice(7);
  return /^[a-z_][A-Za-z0-9_@]*[?!]?$/.test(a.name) ? `:${a.name}` : `:${JSON.stringify(a.name)}`;
}

function renderKey(a: Atom): string {
  return /^[a-z_][A-Za-z0-9_@]*[?!]?$/.test(a.name) ? `${a.name}:` : `${JSON.stringify(a.name)}:`;
}

function renderString(b: Buffer): string {
  const s = b.toString('utf8');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/#\{/g, '\\#{')}"`;
}

function renderArgs(args: Term[], depth: number): string {
  if (args.length > 0 && isKeywordList(args[args.length - 1]!)) {
    const last = args[args.length - 1] as Tuple[];
    const head = args.slice(0, -1).map((a) => render(a, depth + 1));
    return [...head, last.map((e) => `${renderKey(e.elements[0] as Atom)} ${render(e.elements[1]!, depth + 1)}`).join(', ')].join(', ');
  }
  return args.map((a) => render(a, depth + 1)).join(', ');
}

function render(t: Term, depth: number): string {
  if (depth > 40) throw new Unrenderable();
  if (typeof t === 'number' || typeof t === 'bigint') return t.toString();
  if (t instanceof ErlFloat) return Number.isInteger(t.value) ? t.value.toFixed(1) : String(t.value);
  if (t instanceof Atom) return renderAtomLiteral(t);
  if (Buffer.isBuffer(t)) return renderString(t);
  if (Array.isArray(t)) {
    if (isKeywordList(t)) return `[${t.map((e) => `${renderKey(e.elements[0] as Atom)} ${render(e.elements[1]!, depth + 1)}`).join(', ')}]`;
    return `[${t.map((e) => render(e, depth + 1)).join(', ')}]`;
  }
  if (!(t instanceof Tuple)) throw new Unrenderable();
  if (t.elements.length === 2) return `{${render(t.elements[0]!, depth + 1)}, ${render(t.elements[1]!, depth + 1)}}`;
  const n = asNode(t);
  if (n === undefined) throw new Unrenderable();
  const v = asVar(t);
  if (v !== undefined) return v.name;
  if (n.form instanceof Atom && Array.isArray(n.args)) {
    const name = n.form.name;
    const args = n.args;
    switch (name) {
      case '__aliases__':
        return args.map((s) => (s instanceof Atom ? s.name : render(s, depth + 1))).join('.');
      case '__block__':
        if (args.length === 1) return render(args[0]!, depth + 1);
        throw new Unrenderable();
      case '{}':
        return `{${args.map((a) => render(a, depth + 1)).join(', ')}}`;
      case '%{}':
        return `%{${renderMapEntries(args, depth)}}`;
      case '%': {
        const body = asCall(args[1]!, '%{}');
        return `%${render(args[0]!, depth + 1)}{${body === undefined ? '' : renderMapEntries(body.args, depth)}}`;
      }
      case '<<>>':
        return `<<${args.map((a) => render(a, depth + 1)).join(', ')}>>`;
      case '@':
        if (args.length === 1) return `@${render(args[0]!, depth + 1)}`;
        break;
      case '&': {
        if (args.length !== 1) break;
        const inner = args[0]!;
        if (typeof inner === 'number') return `&${inner}`;
        // `&Mod.fun/2`, `&fun/2`: a name and an arity, no parentheses.
        const slash = asCall(inner, '/');
        if (slash !== undefined && slash.args.length === 2 && typeof slash.args[1] === 'number') {
          const target = slash.args[0]!;
          const r = asRemoteCall(target);
          const name = r !== undefined ? `${render(r.target, depth + 1)}.${r.fun}` : asCall(target)?.name ?? render(target, depth + 1);
          return `&${name}/${slash.args[1]}`;
        }
        return `&(${render(inner, depth + 1)})`;
      }
      case 'fn':
        return 'fn ... end';
      case 'case':
      case 'cond':
      case 'with':
      case 'receive':
      case 'try':
      case 'for':
        throw new Unrenderable();
      default:
        break;
    }
    if (args.length === 2 && BINARY_OPS.has(name)) {
      if (name === '|' || name === '::' || name === '..' || name === '**') return `${render(args[0]!, depth + 1)}${name === '|' ? ' | ' : name}${render(args[1]!, depth + 1)}`;
      return `${render(args[0]!, depth + 1)} ${name} ${render(args[1]!, depth + 1)}`;
    }
    if (args.length === 1 && UNARY_OPS.has(name)) return name === 'not' ? `not ${render(args[0]!, depth + 1)}` : `${name}${render(args[0]!, depth + 1)}`;
    // `if c, do: a, else: b` is written without parentheses.
    if (kwGet(args.at(-1) ?? [], 'do') !== undefined) return `${name} ${renderArgs(args, depth)}`;
    return `${name}(${renderArgs(args, depth)})`;
  }
  const r = asRemoteCall(t);
  if (r !== undefined) {
    const noParens = kwGet(r.meta, 'no_parens') instanceof Atom && r.args.length === 0;
    const target = render(r.target, depth + 1);
    if (target === 'Access' && r.fun === 'get' && r.args.length === 2) return `${render(r.args[0]!, depth + 1)}[${render(r.args[1]!, depth + 1)}]`;
    const fun = /^[a-z_][A-Za-z0-9_]*[?!]?$/.test(r.fun) ? r.fun : JSON.stringify(r.fun);
    return noParens ? `${target}.${fun}` : `${target}.${fun}(${renderArgs(r.args, depth)})`;
  }
  // An anonymous function call `f.(x)`: `{{:., _, [f]}, _, args}`.
  const dot = asCall(n.form, '.');
  if (dot !== undefined && dot.args.length === 1 && Array.isArray(n.args)) return `${render(dot.args[0]!, depth + 1)}.(${renderArgs(n.args, depth)})`;
  throw new Unrenderable();
}

function renderMapEntries(args: Term[], depth: number): string {
  const parts: string[] = [];
  for (const e of args) {
    if (e instanceof Tuple && e.elements.length === 2) {
      const k = e.elements[0]!;
      if (k instanceof Atom && !(k.name === 'nil' || k.name === 'true' || k.name === 'false')) parts.push(`${renderKey(k)} ${render(e.elements[1]!, depth + 1)}`);
      else parts.push(`${render(k, depth + 1)} => ${render(e.elements[1]!, depth + 1)}`);
    } else {
      const upd = asCall(e, '|');
      if (upd !== undefined && upd.args.length === 2 && Array.isArray(upd.args[1])) {
        parts.push(`${render(upd.args[0]!, depth + 1)} | ${renderMapEntries(upd.args[1], depth + 1)}`);
      } else parts.push(render(e, depth + 1));
    }
  }
  return parts.join(', ');
}
