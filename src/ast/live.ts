/**
 * Instrumenting a live node: from `--instrument` specs to instrumented code loaded on the target.
 *
 *   const done = await instrumentLive(session, remote, specs, { runtimeTraced: calls, sourceDir: './' });
 *   // ... events arrive as es_ast batches through the session ...
 *   await session.revert('all');                  // or the agent does it when the session ends
 *
 * For each module named by a spec: its quoted form from the target (the source file the module was
 * compiled from, a local project folder's copy, or its debug_info), the probes' code parsed on the
 * target (atoms that do not exist there are refused, never created), a plan per function, the
 * transformer, and one `instrument` request for every module at once (all or none are loaded).
 *
 * Safe on production: a source that no longer matches the loaded code is refused (instrumenting it
 * would change what the node does), the agent soft-purges and refuses rather than kill, and it puts
 * the original binary back when the session ends for any reason.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { type AgentSession, type AstSource, type CallTarget, type CompileWarning } from '../agent/client.js';
import { ATOM_TRUE, atom, isAtom, isTuple, tuple, type Term } from '../erlang/terms.js';
import type { RemoteNode } from '../erlang/remoteNode.js';
import type { InstrumentSpec } from './spec.js';
import { findModule, moduleFunctions, type FunctionInfo } from './module.js';
import { InstrumentError, instrumentModule, type FunctionPlan, type Levels, type ModulePlan, type Probe } from './transform.js';

export interface LiveInstrumentOptions {
  /** Functions the runtime side traces (hybrid): they keep their runtime call/return, no AST boundaries. */
  runtimeTraced?: readonly CallTarget[];
  /** A local project folder holding the modules' sources (when the node's own copy is gone or elsewhere). */
  sourceDir?: string;
  /** Instrument a source that does not match the loaded code (it would change behaviour). */
  force?: boolean;
}

export interface LiveInstrumented {
  module: string;
  origin: 'source' | 'debug_info';
  file: string | null;
  md5Before: string;
  md5Instrumented: string;
  /** `name/arity` of every function instrumented, `(hybrid)` after those the runtime side traces. */
  functions: string[];
  /** What was asked for and could not be done (a line with nothing on it...). */
  notes: string[];
  warnings: CompileWarning[];
}

/** Thrown for what the user must fix: the message says what is wrong and what to do. */
export class LiveInstrumentError extends Error {
  readonly code = 'INSTRUMENT_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'LiveInstrumentError';
  }
}

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export async function instrumentLive(session: AgentSession, remote: RemoteNode, specs: readonly InstrumentSpec[], opts: LiveInstrumentOptions = {}): Promise<LiveInstrumented[]> {
  const byModule = new Map<string, InstrumentSpec[]>();
  for (const s of specs) byModule.set(s.module, [...(byModule.get(s.module) ?? []), s]);
  const prepared: Array<{ module: string; quoted: Term; src: AstSource; functions: string[]; notes: string[] }> = [];
  for (const [module, mspecs] of byModule) {
    const src = await fetchSource(session, module, opts);
    const quoted = moduleQuoted(src);
    const found = findModule(quoted, module);
    if (found === undefined) throw new LiveInstrumentError(`${display(module)}: its source (${src.file ?? 'debug_info'}) has no defmodule ${display(module)}.`);
    const fns = moduleFunctions(found.body).filter((f) => f.kind === 'def' || f.kind === 'defp');
    const plan = await modulePlan(remote, module, mspecs, fns, opts.runtimeTraced ?? []);
    let result;
    try {
      result = instrumentModule(quoted, plan);
    } catch (err) {
      if (err instanceof InstrumentError) throw new LiveInstrumentError(`${display(module)}: ${err.message}`);
      throw err;
    }
    const hybrid = new Set((plan.functions ?? []).filter((f) => !f.levels.boundaries).map((f) => `${f.name}/${f.arity}`));
    prepared.push({
      module,
      quoted: result.quoted,
      src,
      functions: result.functions.map((f) => `${f.name}/${f.arity}${hybrid.has(`${f.name}/${f.arity}`) ? ' (hybrid)' : ''}`),
      notes: result.report.notes,
    });
  }
  const loaded = await session.instrument(prepared.map((p) => ({ module: p.module, quoted: p.quoted })));
  return prepared.map((p) => {
    const r = loaded.find((l) => l.module === p.module);
    if (r === undefined) throw new LiveInstrumentError(`the agent did not report ${display(p.module)} as instrumented`);
    return {
      module: p.module,
      origin: p.src.origin,
      file: p.src.file,
      md5Before: r.md5Before,
      md5Instrumented: r.md5Instrumented,
      functions: p.functions,
      notes: p.notes,
      warnings: r.warnings,
    };
  });
}

/** `Elixir.Shop.Cart` → `Shop.Cart`. */
export function display(module: string): string {
  return module.startsWith('Elixir.') ? module.slice('Elixir.'.length) : module;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: sources
// ----------------------------------------------------------------------------------------------

async function fetchSource(session: AgentSession, module: string, opts: LiveInstrumentOptions): Promise<AstSource> {
  let src = await session.astSource(module);
  if (opts.sourceDir !== undefined) {
    const local = findLocalSource(opts.sourceDir, src.file);
    if (local === undefined) {
      throw new LiveInstrumentError(
        `${display(module)} was compiled from ${src.file ?? '(unknown file)'}, and no file with that path's tail is in ${opts.sourceDir}. ` +
          `Give --source the project folder the module was built from.`,
      );
    }
    src = await session.astSource(module, { sourceText: readFileSync(local, 'utf8'), ...(src.file !== null ? { file: src.file } : {}) });
  }
  if (src.origin === 'source' && src.sourceMatches === false && opts.force !== true) {
    throw new LiveInstrumentError(
      `the source of ${display(module)} (${src.file}) does not compile to the code loaded on the node (md5 ${src.md5}): it was edited since. ` +
        `Instrumenting it would change what the node does. Give --source the folder of the version that is running, or --force to instrument the file as it is.`,
    );
  }
  return src;
}

/**
 * Mix records absolute paths (`/build/app/lib/shop/cart.ex`); a local checkout has the same tail
 * under another root. Longest tail first, so `lib/shop/cart.ex` wins over another `cart.ex`.
 */
function findLocalSource(dir: string, compiledFrom: string | null): string | undefined {
  if (compiledFrom === null) return undefined;
  const parts = compiledFrom.split(/[\\/]/).filter((p) => p !== '');
  for (let i = 0; i < parts.length; i++) {
    const candidate = join(dir, parts.slice(i).join(sep));
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

function moduleQuoted(src: AstSource): Term {
  if (src.origin === 'source') return src.quoted;
  throw new LiveInstrumentError(
    `${display(src.module)}: its source file ${src.file ?? ''} is not on the node, and rebuilding a module from its debug_info is not supported yet. ` +
      `Give --source the project folder the module was built from.`,
  );
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: plans
// ----------------------------------------------------------------------------------------------

async function modulePlan(
  remote: RemoteNode,
  module: string,
  specs: readonly InstrumentSpec[],
  fns: readonly FunctionInfo[],
  runtimeTraced: readonly CallTarget[],
): Promise<ModulePlan> {
  const plans = new Map<string, FunctionPlan>();
  for (const spec of specs) {
    const chosen = fns.filter((f) => (spec.fun === undefined || f.name === spec.fun) && (spec.arity === undefined || f.arity === spec.arity || f.generatedArities.includes(spec.arity)));
    if (chosen.length === 0) {
      const have = fns.map((f) => `${f.name}/${f.arity}`).join(', ') || 'none';
      const what = spec.fun === undefined ? 'any def or defp' : `${spec.fun}${spec.arity === undefined ? '' : `/${spec.arity}`}`;
      throw new LiveInstrumentError(`${spec.moduleName} has no ${what} in its source (functions: ${have}). Functions generated by macros (use, unquote) cannot be instrumented.`);
    }
    const probes = await parseProbes(remote, spec);
    for (const f of chosen) {
      const key = `${f.name}/${f.arity}`;
      const prev = plans.get(key);
      const levels = levelsOf(spec, probes, !isRuntimeTraced(module, f, runtimeTraced));
      plans.set(key, { name: f.name, arity: f.arity, levels: prev === undefined ? levels : merge(prev.levels, levels) });
    }
  }
  return { module, functions: [...plans.values()] };
}

function levelsOf(spec: InstrumentSpec, probes: Probe[], boundaries: boolean): Levels {
  const l: Levels = { boundaries };
  const level = spec.level;
  if (spec.locals !== undefined) l.locals = { names: spec.locals, at: spec.lines ?? '*' };
  else if (level === 'locals') l.locals = { names: '*', at: spec.lines ?? '*' };
  // With locals, `lines=` says where they are captured (each capture is shown as its line).
  if (l.locals === undefined && (spec.lines !== undefined || level === 'lines')) l.lines = spec.lines ?? '*';
  if (spec.expr !== undefined || level === 'expressions') l.expr = spec.expr ?? '*';
  if (probes.length > 0) l.probes = probes;
  return l;
}

function merge(a: Levels, b: Levels): Levels {
  const lines = (x: Levels['lines'], y: Levels['lines']): Levels['lines'] =>
    x === undefined ? y : y === undefined ? x : x === '*' || y === '*' ? '*' : [...new Set([...x, ...y])].sort((p, q) => p - q);
  const out: Levels = { boundaries: a.boundaries && b.boundaries };
  const ln = lines(a.lines, b.lines);
  if (ln !== undefined) out.lines = ln;
  const ex = lines(a.expr, b.expr);
  if (ex !== undefined) out.expr = ex;
  if (a.locals !== undefined || b.locals !== undefined) {
    const x = a.locals, y = b.locals;
    out.locals =
      x === undefined ? y! : y === undefined ? x : {
        names: x.names === '*' || y.names === '*' ? '*' : [...new Set([...x.names, ...y.names])],
        at: lines(x.at, y.at)!,
      };
  }
  const probes = [...(a.probes ?? []), ...(b.probes ?? [])];
  if (probes.length > 0) out.probes = probes;
  return out;
}

function isRuntimeTraced(module: string, f: FunctionInfo, traced: readonly CallTarget[]): boolean {
  return traced.some(
    (t) => t.module === module && (t.function === '_' || t.function === f.name) && (t.arity === '_' || t.arity === f.arity),
  );
}

/**
 * A probe is parsed by the target's own Elixir, with `existing_atoms_only`: a probe can only name
 * variables, functions and atoms the node already knows, and never adds atoms to it.
 */
async function parseProbes(remote: RemoteNode, spec: InstrumentSpec): Promise<Probe[]> {
  const out: Probe[] = [];
  for (const p of spec.probes) {
    const r = await remote.rpc('Elixir.Code', 'string_to_quoted', [Buffer.from(p.code, 'utf8'), [tuple(atom('existing_atoms_only'), ATOM_TRUE)]], { timeoutMs: 10_000 });
    if (isTuple(r, 2) && isAtom(r.elements[0], 'ok')) {
      out.push({ line: p.line, when: p.when, label: p.code, quoted: r.elements[1]! });
      continue;
    }
    throw new LiveInstrumentError(`the probe at line ${p.line} of ${spec.moduleName} (${p.code}) does not parse on the node: ${describeParseError(r)}`);
  }
  return out;
}

function describeParseError(r: Term): string {
  // {:error, {meta, message, token}}: message may be a binary or a {prefix, suffix} pair.
  if (isTuple(r, 2) && isTuple(r.elements[1], 3)) {
    const [, msg, token] = r.elements[1].elements;
    const text = (t: Term | undefined): string => (Buffer.isBuffer(t) ? t.toString('utf8') : isTuple(t) ? t.elements.map(text).join('') : '');
    const m = text(msg) + text(token);
    if (/unsafe atom|non-existing atom|existing_atoms_only/i.test(m)) return `${m} (a probe may only use atoms and names that already exist on the node)`;
    return m;
  }
  return String(r);
}

