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

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { AgentError, type AgentSession, type AstSource, type CallTarget, type CompileWarning } from '../agent/client.js';
import { ATOM_TRUE, ErlMap, Tuple, atom, isAtom, isTuple, tuple, type Term } from '../erlang/terms.js';
import type { RemoteNode } from '../erlang/remoteNode.js';
import type { InstrumentSpec } from './spec.js';
import { findModule, moduleFunctions, type FunctionInfo } from './module.js';
import { InstrumentError, instrumentModule } from './transform.js';
import { planModule, PlanError, probeCodes } from './plan.js';
import { DebugInfoError, fromDebugInfo } from './debugInfo.js';

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
    const probes = await parseProbes(remote, mspecs);
    let result;
    let hybrid: Set<string>;
    try {
      const found = findModule(quoted, module);
      const fns = found === undefined ? [] : moduleFunctions(found.body);
      hybrid = new Set(fns.filter((f) => isRuntimeTraced(module, f, opts.runtimeTraced ?? [])).map((f) => `${f.name}/${f.arity}`));
      result = instrumentModule(quoted, planModule(mspecs, quoted, { runtimeTraced: hybrid, probes }));
    } catch (err) {
      if (err instanceof InstrumentError || err instanceof PlanError) throw new LiveInstrumentError(`${display(module)}: ${err.message}`);
      throw err;
    }
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
  let src: AstSource | undefined;
  let compiledFrom: string | null;
  try {
    // With a local folder this first answer only says where the module was compiled from: the
    // check that the node's copy compiles to the loaded code (a compilation on the node) is skipped.
    src = await session.astSource(module, opts.sourceDir !== undefined ? { verify: false } : {});
    compiledFrom = src.file;
  } catch (err) {
    // Neither the source nor debug_info on the node (a release): a local folder can still give it.
    if (!(err instanceof AgentError && err.code === 'NO_SOURCE')) throw err;
    if (opts.sourceDir === undefined) throw new LiveInstrumentError(`${err.message} With elixir-scope: --source DIR.`);
    compiledFrom = fileIn(err.reason);
  }
  if (opts.sourceDir !== undefined) {
    const local = findLocalSource(opts.sourceDir, compiledFrom) ?? findDefiningFile(opts.sourceDir, display(module));
    if (local === undefined) {
      throw new LiveInstrumentError(
        `${display(module)} was compiled from ${compiledFrom ?? '(a file its compile info does not name)'}, and no file in ${opts.sourceDir} has that path's tail or a defmodule ${display(module)}. ` +
          `Give --source the project folder the module was built from.`,
      );
    }
    src = await session.astSource(module, { sourceText: readFileSync(local, 'utf8'), ...(compiledFrom !== null ? { file: compiledFrom } : {}) });
  }
  if (src === undefined) throw new LiveInstrumentError(`no source for ${display(module)}`);
  if (src.origin === 'source' && src.sourceMatches === false && opts.force !== true) {
    throw new LiveInstrumentError(
      `the source of ${display(module)} (${src.file}) does not compile to the code loaded on the node (md5 ${src.md5}): it was edited since. ` +
        `Instrumenting it would change what the node does. Give --source the folder of the version that is running, or --force to instrument the file as it is.`,
    );
  }
  return src;
}

/**
 * A stripped .beam (a release) names no source file: the .ex file under `dir` that says
 * `defmodule Name` (lib/ first, then the rest; deps and build output skipped; bounded).
 */
function findDefiningFile(dir: string, name: string): string | undefined {
  const re = new RegExp(`^\\s*defmodule\\s+${name.replace(/\./g, '\\.')}\\s+do\\b`, 'm');
  const skip = new Set(['_build', 'deps', 'node_modules', '.git', '.elixir_ls']);
  const queue = [join(dir, 'lib'), dir];
  const seen = new Set<string>();
  let files = 0;
  while (queue.length > 0 && files < 20_000) {
    const d = queue.shift()!;
    if (seen.has(d) || !existsSync(d)) continue;
    seen.add(d);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) {
        if (!skip.has(e.name)) queue.push(path);
      } else if (e.isFile() && e.name.endsWith('.ex')) {
        files++;
        if (re.test(readFileSync(path, 'utf8'))) return path;
      }
    }
  }
  return undefined;
}

/** The `file` the agent's no_source error names (`{error, {no_source, #{file => Bin, ...}}}`). */
function fileIn(reason: Term | undefined): string | null {
  const stack: Term[] = reason === undefined ? [] : [reason];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t instanceof ErlMap) {
      const f = t.getAtom('file');
      if (Buffer.isBuffer(f)) return f.toString('utf8');
    } else if (t instanceof Tuple) stack.push(...t.elements);
  }
  return null;
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
  try {
    return fromDebugInfo(src.definitions, src.attributes, src.module);
  } catch (err) {
    if (err instanceof DebugInfoError) {
      throw new LiveInstrumentError(`${display(src.module)}: its source file ${src.file ?? ''} is not on the node and its debug_info cannot be rebuilt (${err.message}). Give --source the project folder the module was built from.`);
    }
    throw err;
  }
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: plans
// ----------------------------------------------------------------------------------------------

function isRuntimeTraced(module: string, f: FunctionInfo, traced: readonly CallTarget[]): boolean {
  return traced.some(
    (t) => t.module === module && (t.function === '_' || t.function === f.name) && (t.arity === '_' || t.arity === f.arity),
  );
}

/**
 * Probes are parsed by the target's own Elixir, with `existing_atoms_only`: a probe can only name
 * variables, functions and atoms the node already knows, and never adds atoms to it.
 */
async function parseProbes(remote: RemoteNode, specs: readonly InstrumentSpec[]): Promise<Map<string, Term>> {
  const out = new Map<string, Term>();
  for (const code of probeCodes(specs)) {
    const r = await remote.rpc('Elixir.Code', 'string_to_quoted', [Buffer.from(code, 'utf8'), [tuple(atom('existing_atoms_only'), ATOM_TRUE)]], { timeoutMs: 10_000 });
    if (isTuple(r, 2) && isAtom(r.elements[0], 'ok')) {
      out.set(code, r.elements[1]!);
      continue;
    }
    throw new LiveInstrumentError(`the probe ${code} does not parse on the node: ${describeParseError(r)}`);
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

