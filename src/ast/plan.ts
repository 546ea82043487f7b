/**
 * From `--instrument` specs and a module's quoted source to the transformer's ModulePlan: which
 * functions, which levels, checked against what the source really defines, so that a typo gets an
 * error that lists what exists instead of a silently empty instrumentation.
 *
 *   const spec = parseInstrumentSpec('Shop.Cart.total/1:locals=items,sum;lines=42,55');
 *   const codes = probeCodes([spec]);                       // parse these on the target first
 *   const plan = planModule([spec], quoted, { probes });    // → { module, functions: [...] }
 *
 * Levels add up: function_boundaries (call/return), lines (+ a line event on every line), locals
 * (+ every binding after each expression), expressions (+ the value of each expression). Options
 * narrow or add: lines=, locals=, expr=, probe=. A function the runtime side also traces gets no
 * boundaries of its own (hybrid: the runtime call and return frame its AST events).
 */

import { Tuple, type Term } from '../erlang/terms.js';
import { findModule, listModules, moduleFunctions, type FunctionInfo } from './module.js';
import { asNode, asVar, A_NIL } from './quoted.js';
import { LEVELS, type InstrumentSpec, type Level } from './spec.js';
import type { FunctionPlan, Levels, LineSelection, ModulePlan, Probe } from './transform.js';

export interface PlanOptions {
  /** `name/arity` of functions the runtime side traces too: they get no boundaries here. */
  runtimeTraced?: Iterable<string>;
  /** Each probe's code (as written in the spec) parsed on the target with `Code.string_to_quoted`. */
  probes?: ReadonlyMap<string, Term>;
}

/** A spec the source cannot satisfy: says what is wrong, what exists, and what to do. */
export class PlanError extends Error {
  readonly code = 'INSTRUMENT_PLAN_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** The probe codes of the specs, to be parsed on the target before planning. */
export function probeCodes(specs: readonly InstrumentSpec[]): string[] {
  return [...new Set(specs.flatMap((s) => s.probes.map((p) => p.code)))];
}

export function planModule(specs: readonly InstrumentSpec[], quoted: Term, opts: PlanOptions = {}): ModulePlan {
  if (specs.length === 0) throw new PlanError('nothing to instrument: no --instrument spec was given');
  const module = specs[0]!.module;
  const pretty = specs[0]!.moduleName;
  const other = specs.find((s) => s.module !== module);
  if (other !== undefined) throw new PlanError(`one plan covers one module: got ${pretty} and ${other.moduleName}; plan each module on its own`);
  const found = findModule(quoted, module);
  if (found === undefined) {
    const names = listModules(quoted).map((m) => m.name.replace(/^Elixir\./, ''));
    throw new PlanError(
      `the source has no defmodule ${pretty}${names.length > 0 ? ` (it defines ${names.join(', ')})` : ''}; give the source file that defines ${pretty}`,
    );
  }
  const fns = moduleFunctions(found.body).filter((f) => f.clauses.length > 0);
  const traced = new Set(opts.runtimeTraced ?? []);
  const plan: ModulePlan = { module };
  const byKey = new Map<string, FunctionPlan>();
  for (const spec of specs) {
    const targets = spec.fun === undefined ? undefined : resolveFunctions(spec, fns, pretty);
    const scope = targets ?? fns.filter((f) => f.kind === 'def' || f.kind === 'defp');
    checkLines(spec, scope, pretty, targets === undefined);
    checkLocals(spec, scope, pretty);
    const probes = spec.probes.map((p): Probe => {
      const q = opts.probes?.get(p.code);
      if (q === undefined) throw new PlanError(`the probe "${p.code}" was not parsed: parse every code of probeCodes() on the target and pass them as probes`);
      return { line: p.line, when: p.when, label: p.code, quoted: q };
    });
    if (targets === undefined) {
      // Module-wide: one set of levels for every function; hybrid functions listed apart.
      plan.all = merge(plan.all, levelsFor(spec, probes, true));
      for (const f of scope) {
        if (traced.has(`${f.name}/${f.arity}`)) addFunction(byKey, f, { ...levelsFor(spec, probes, false) });
      }
      continue;
    }
    for (const f of targets) addFunction(byKey, f, levelsFor(spec, probes, !traced.has(`${f.name}/${f.arity}`)));
  }
  if (byKey.size > 0) plan.functions = [...byKey.values()];
  return plan;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function listFunctions(fns: FunctionInfo[]): string {
  const names = fns
    .filter((f) => f.kind === 'def' || f.kind === 'defp')
    .map((f) => `${f.name}/${f.arity}${f.generatedArities.length > 0 ? ` (also /${f.generatedArities.join(', /')} through defaults)` : ''}`);
  return names.length > 0 ? names.join(', ') : 'none';
}

function resolveFunctions(spec: InstrumentSpec, fns: FunctionInfo[], pretty: string): FunctionInfo[] {
  const named = fns.filter((f) => f.name === spec.fun);
  if (named.length === 0) {
    throw new PlanError(`${pretty} defines no function ${spec.fun} in its source; it defines: ${listFunctions(fns)}`);
  }
  const real = named.filter((f) => f.kind === 'def' || f.kind === 'defp');
  if (real.length === 0) {
    throw new PlanError(`${pretty}.${spec.fun} is a macro: it runs at compile time, so there is nothing to record at run time; instrument the functions that use it`);
  }
  if (spec.arity === undefined) return real;
  const exact = real.filter((f) => f.arity === spec.arity || f.generatedArities.includes(spec.arity!));
  if (exact.length === 0) {
    throw new PlanError(`${pretty} has no ${spec.fun}/${spec.arity}; ${spec.fun} is defined as ${real.map((f) => `${f.name}/${f.arity}`).join(', ')}`);
  }
  return exact;
}

function span(f: FunctionInfo): Array<[number, number]> {
  return f.clauses.map((c) => [c.line, c.endLine]);
}

function checkLines(spec: InstrumentSpec, scope: FunctionInfo[], pretty: string, moduleWide: boolean): void {
  const asked: Array<[number, string]> = [];
  for (const [sel, what] of [
    [spec.lines, 'lines='],
    [spec.expr, 'expr='],
  ] as const) {
    if (Array.isArray(sel)) for (const l of sel) asked.push([l, what]);
  }
  for (const p of spec.probes) asked.push([p.line, p.when === 'before' ? 'probe=' : 'probe_after=']);
  for (const [line, what] of asked) {
    const inside = scope.some((f) => span(f).some(([a, b]) => line >= a && line <= b));
    if (inside) continue;
    const where = scope
      .map((f) => `${f.name}/${f.arity} ${span(f).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')}`)
      .join('; ');
    const target = moduleWide ? `any function of ${pretty}` : scope.map((f) => `${pretty}.${f.name}/${f.arity}`).join(', ');
    throw new PlanError(`${what}${line}: line ${line} is not inside ${target} (lines: ${where}); pick a line of the function's body`);
  }
}

/** Every user variable name written in the functions' clauses (heads and bodies). */
function variablesOf(scope: FunctionInfo[]): Set<string> {
  const names = new Set<string>();
  const stack: Term[] = scope.flatMap((f) => f.clauses.map((c) => c.node));
  while (stack.length > 0) {
    const t = stack.pop()!;
    const v = asVar(t);
    if (v !== undefined) {
      if (v.context === A_NIL && !v.name.startsWith('_')) names.add(v.name);
      continue;
    }
    const n = asNode(t);
    if (n !== undefined) {
      stack.push(n.form);
      if (Array.isArray(n.args)) stack.push(...n.args);
      continue;
    }
    if (Array.isArray(t)) stack.push(...t);
    else if (t instanceof Tuple) stack.push(...t.elements);
  }
  return names;
}

function checkLocals(spec: InstrumentSpec, scope: FunctionInfo[], pretty: string): void {
  if (!Array.isArray(spec.locals)) return;
  const known = variablesOf(scope);
  const missing = spec.locals.filter((n) => !known.has(n));
  if (missing.length === 0) return;
  const where = spec.fun === undefined ? pretty : `${pretty}.${spec.fun}${spec.arity === undefined ? '' : `/${spec.arity}`}`;
  throw new PlanError(
    `locals=${missing.join(',')}: ${where} has no variable named ${missing.join(', ')}; its variables are ${[...known].sort().join(', ') || 'none'}`,
  );
}

function levelIndex(l: Level | undefined): number {
  return l === undefined ? 0 : LEVELS.indexOf(l);
}

function levelsFor(spec: InstrumentSpec, probes: Probe[], boundaries: boolean): Levels {
  const lv = levelIndex(spec.level);
  const out: Levels = { boundaries };
  if (lv >= 1) out.lines = '*';
  if (lv >= 2) out.locals = { names: '*', at: '*' };
  if (lv >= 3) out.expr = '*';
  if (spec.lines !== undefined) out.lines = spec.lines;
  if (spec.locals !== undefined || spec.lines !== undefined) {
    if (spec.locals !== undefined || out.locals !== undefined) {
      out.locals = { names: spec.locals ?? out.locals?.names ?? '*', at: spec.lines ?? out.locals?.at ?? '*' };
    }
  }
  if (spec.expr !== undefined) out.expr = spec.expr;
  if (probes.length > 0) out.probes = probes;
  return out;
}

function mergeSel(a: LineSelection | undefined, b: LineSelection | undefined): LineSelection | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a === '*' || b === '*') return '*';
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

function merge(a: Levels | undefined, b: Levels): Levels {
  if (a === undefined) return b;
  const out: Levels = { boundaries: a.boundaries || b.boundaries };
  const lines = mergeSel(a.lines, b.lines);
  if (lines !== undefined) out.lines = lines;
  const expr = mergeSel(a.expr, b.expr);
  if (expr !== undefined) out.expr = expr;
  if (a.locals !== undefined || b.locals !== undefined) {
    const na = a.locals?.names;
    const nb = b.locals?.names;
    const names = na === '*' || nb === '*' ? '*' : [...new Set([...(na ?? []), ...(nb ?? [])])];
    out.locals = { names, at: mergeSel(a.locals?.at, b.locals?.at) ?? '*' };
  }
  const probes = [...(a.probes ?? []), ...(b.probes ?? [])];
  if (probes.length > 0) out.probes = probes;
  return out;
}

function addFunction(byKey: Map<string, FunctionPlan>, f: FunctionInfo, levels: Levels): void {
  const key = `${f.name}/${f.arity}`;
  const prev = byKey.get(key);
  byKey.set(key, { name: f.name, arity: f.arity, levels: prev === undefined ? levels : { ...merge(prev.levels, levels), boundaries: prev.levels.boundaries && levels.boundaries } });
}
