/**
 * What `elixir-scope record` may be asked to trace, as the agent's `trace_calls` targets.
 *
 *   --module Shop.Cart                      every function of Elixir.Shop.Cart
 *   --function Shop.Cart.add/2              one function, any arguments
 *   --function :lists.seq                   every arity of lists:seq
 *   --function 'Shop.Cart.add(_, %{qty: 0})'
 *   --function 'Shop.Pricing.quote(sku, qty) when qty > 10 and is_integer(qty)'
 *   --pid '<0.123.0>'   --name Shop.Inventory
 *
 * Module and function names leave here as text (the agent sends binaries and resolves them with
 * `binary_to_existing_atom`); atoms inside patterns become `{'$es_atom', Binary}` markers (see
 * matchSpec.ts). Nothing here talks to a node: it is pure and tested without one.
 */

import { compileCall, matchAll, aliasAtom, SpecError } from './matchSpec.js';
import type { EncodableTerm } from '../erlang/terms.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** One `trace_calls` target of docs/agent-protocol.md. */
export interface CallTarget {
  /** The module's atom text, e.g. `Elixir.Shop.Cart` or `lists`. */
  module: string;
  function: string | '_';
  arity: number | '_';
  /** `[{Head, Guards, []}]`. */
  matchSpec: EncodableTerm;
}

export type ProcessSpec =
  | { kind: 'pid'; /** The three numbers of `<0.123.0>`. */ parts: [number, number, number] }
  | { kind: 'name'; /** The registered name's atom text, e.g. `Elixir.Shop.Inventory`. */ name: string };

export { SpecError } from './matchSpec.js';

/** `--module M`: every function of M, any arguments. */
export function parseModuleSpec(text: string): CallTarget {
  const src = text.trim();
  const r = readModule(src, 0);
  if (r.end !== src.length) {
    throw new SpecError('expected the end of the module name', src, r.end, 'modules are written Shop.Cart, :lists or lists; functions go in --function');
  }
  return remember({ module: r.module, function: '_', arity: '_', matchSpec: matchAll() }, `${displayModule(r.module)} (every function)`, false);
}

/** `--function SPEC`: `Mod.fun/2`, `Mod.fun`, `:mod.fun/2`, `mod:fun/2`, or `Mod.fun(patterns) when guard`. */
export function parseFunctionSpec(text: string): CallTarget {
  const src = text.trim();
  const m = readModule(src, 0);
  let i = m.end;
  if (src[i] !== '.' && !(m.erlangStyle && src[i] === ':')) {
    throw new SpecError(
      i >= src.length ? 'expected a function name after the module' : `expected '.' and a function name`,
      src,
      i,
      'e.g. Shop.Cart.add/2, :lists.seq/2 or Shop.Cart.add(_, %{qty: 0}); a whole module is --module Shop.Cart',
    );
  }
  i++;
  const f = readFunctionName(src, i);
  i = f.end;
  let arity: number | '_' = '_';
  if (src[i] === '/') {
    const a = /^\d+/.exec(src.slice(i + 1));
    if (a === null || Number(a[0]) > 255) throw new SpecError('expected an arity (0 to 255) after /', src, i + 1, 'e.g. Shop.Cart.add/2');
    arity = Number(a[0]);
    i += 1 + a[0].length;
  }
  const rest = src.slice(i);
  const name = `${displayModule(m.module)}.${displayFunction(f.name)}`;
  if (rest.trim() === '') {
    return remember(
      { module: m.module, function: f.name, arity, matchSpec: matchAll() },
      `${name}/${arity === '_' ? '*' : arity}`,
      false,
    );
  }
  if (!rest.trimStart().startsWith('(')) {
    throw new SpecError(
      arity === '_' ? "expected '(' with argument patterns, '/' and an arity, or the end of the spec" : "expected '(' or the end of the spec",
      src,
      i + (rest.length - rest.trimStart().length),
      'e.g. Shop.Cart.add/2 or Shop.Cart.add(_, %{qty: 0})',
    );
  }
  const c = compileCall(src, i, arity === '_' ? undefined : arity);
  return remember(
    { module: m.module, function: f.name, arity: c.arity, matchSpec: c.matchSpec },
    `${name}${src.slice(i).trim().startsWith('(') ? src.slice(i).trim() : ''}`,
    c.filtered,
  );
}

/** `--pid <0.123.0>`, `#PID<0.123.0>` or `0.123.0`; `--name Shop.Inventory`, `:inventory` or `inventory`. */
export function parseProcessSpec(kind: 'pid' | 'name', text: string): ProcessSpec {
  const src = text.trim();
  if (kind === 'pid') {
    const m = /^(?:#PID)?<(\d+)\.(\d+)\.(\d+)>$|^(\d+)\.(\d+)\.(\d+)$/.exec(src);
    if (m === null) {
      throw new SpecError('expected a pid', src, 0, 'pids are written <0.123.0>, #PID<0.123.0> or 0.123.0');
    }
    const nums = (m[1] !== undefined ? [m[1], m[2], m[3]] : [m[4], m[5], m[6]]).map(Number) as [number, number, number];
    if (nums[1] > 0x7fff_ffff || nums[2] > 0x7fff_ffff) throw new SpecError('pid number out of range', src, 0);
    return { kind: 'pid', parts: nums };
  }
  if (src.startsWith('{')) {
    throw new SpecError(
      'only locally registered names can be traced',
      src,
      0,
      'give the name registered with Process.register/2 or name: in start_link, e.g. Shop.Inventory or :inventory; or use --pid',
    );
  }
  const r = readModule(src, 0);
  if (r.end !== src.length) throw new SpecError('expected the end of the name', src, r.end, 'names are written Shop.Inventory, :inventory or inventory');
  return { kind: 'name', name: r.module };
}

/** A one-line description of a target for the recording's summary, e.g. `Shop.Cart.add(_, %{qty: 0})`. */
export function describe(target: CallTarget): string {
  const known = described.get(target);
  if (known !== undefined) return known.text;
  const mod = displayModule(target.module);
  if (target.function === '_') return `${mod} (every function)`;
  const arity = target.arity === '_' ? '*' : String(target.arity);
  return `${mod}.${displayFunction(target.function)}/${arity}${isMatchAll(target.matchSpec) ? '' : ' (filtered)'}`;
}

/** A process spec as the summary shows it. */
export function describeProcess(p: ProcessSpec): string {
  return p.kind === 'pid' ? `#PID<${p.parts.join('.')}>` : displayModule(p.name);
}

/**
 * Whether a target's match spec restricts the arguments (a pattern other than `_`, or a guard).
 * Targets built here know; for others the match spec is inspected.
 */
export function isFiltered(target: CallTarget): boolean {
  const known = described.get(target);
  if (known !== undefined) return known.filtered;
  return !isMatchAll(target.matchSpec);
}

/** `Elixir.Shop.Cart` → `Shop.Cart`; `lists` → `:lists`; odd atoms quoted. */
export function displayModule(atomText: string): string {
  if (atomText.startsWith('Elixir.') && /^Elixir(\.[A-Z][A-Za-z0-9_]*)+$/.test(atomText)) return atomText.slice(7);
  return /^[a-z_][A-Za-z0-9_@]*$/.test(atomText) ? `:${atomText}` : `:${JSON.stringify(atomText)}`;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

// The text each target was built from, for describe(): the target itself stays exactly the wire shape.
const described = new WeakMap<CallTarget, { text: string; filtered: boolean }>();

function remember(t: CallTarget, text: string, filtered: boolean): CallTarget {
  described.set(t, { text, filtered });
  return t;
}

function isMatchAll(ms: EncodableTerm): boolean {
  if (!Array.isArray(ms) || ms.length !== 1) return false;
  const clause = ms[0];
  if (clause === undefined || typeof clause !== 'object' || !('elements' in clause)) return false;
  const [head, guards] = clause.elements;
  const wild = (t: unknown): boolean => typeof t === 'object' && t !== null && 'name' in t && (t as { name: unknown }).name === '_';
  const headWild = wild(head) || (Array.isArray(head) && head.every(wild));
  return headWild && Array.isArray(guards) && guards.length === 0;
}

function displayFunction(name: string): string {
  return /^[a-z_][A-Za-z0-9_]*[?!]?$/.test(name) ? name : JSON.stringify(name);
}

/** Reads a module (or registered name) at `i`: an alias, `:atom`, `:"quoted"`, `'quoted'` or a bare Erlang atom. */
function readModule(src: string, i: number): { module: string; end: number; erlangStyle: boolean } {
  const hint = 'modules are written Shop.Cart, :lists, lists or :"Elixir.Shop.Cart"';
  if (i >= src.length) throw new SpecError('expected a module', src, i, hint);
  const c = src[i]!;
  if (/[A-Z]/.test(c)) {
    const m = /^[A-Z][A-Za-z0-9_]*(?:\.[A-Z][A-Za-z0-9_]*)*/.exec(src.slice(i))!;
    return { module: checkAtom(aliasAtom(m[0]), src, i), end: i + m[0].length, erlangStyle: false };
  }
  if (c === ':' || c === "'") {
    const q = c === ':' ? i + 1 : i;
    if (src[q] === '"' || src[q] === "'") {
      const close = src.indexOf(src[q]!, q + 1);
      if (close < 0) throw new SpecError('unterminated quoted atom', src, q, hint);
      const text = src.slice(q + 1, close);
      if (text.includes('\\')) throw new SpecError('escapes are not supported in a quoted module name', src, q);
      return { module: checkAtom(text, src, q), end: close + 1, erlangStyle: c === "'" };
    }
    if (c === "'") throw new SpecError('unterminated quoted atom', src, i, hint);
    const m = /^[A-Za-z_][A-Za-z0-9_@]*/.exec(src.slice(q));
    if (m === null) throw new SpecError('expected a module name after ":"', src, q, hint);
    return { module: checkAtom(m[0], src, q), end: q + m[0].length, erlangStyle: false };
  }
  const m = /^[a-z][A-Za-z0-9_@]*/.exec(src.slice(i));
  if (m === null) throw new SpecError('expected a module', src, i, hint);
  return { module: checkAtom(m[0], src, i), end: i + m[0].length, erlangStyle: true };
}

function readFunctionName(src: string, i: number): { name: string; end: number } {
  const hint = 'e.g. Shop.Cart.add/2, Shop.Cart.valid?/1 or :lists.seq/2';
  if (src[i] === '"' || src[i] === "'") {
    const close = src.indexOf(src[i]!, i + 1);
    if (close < 0) throw new SpecError('unterminated quoted function name', src, i, hint);
    return { name: checkAtom(src.slice(i + 1, close), src, i), end: close + 1 };
  }
  const m = /^[a-z_][A-Za-z0-9_@]*[?!]?/.exec(src.slice(i));
  if (m === null) throw new SpecError('expected a function name', src, i, hint);
  return { name: m[0], end: i + m[0].length };
}

function checkAtom(text: string, src: string, at: number): string {
  if (text === '' || [...text].length > 255) throw new SpecError('an atom must have 1 to 255 characters', src, at);
  if (text === '_' || text.startsWith('$')) throw new SpecError(`${JSON.stringify(text)} cannot be traced by name`, src, at);
  return text;
}
