/**
 * The Elixir corpus (test/corpus): modules written to trip up an AST instrumenter, their ExUnit
 * tests, and a harness that runs those tests on a live node and collects every result, so that a
 * test can compare runs before, during and after instrumentation, result by result.
 *
 *   const cn = await startCorpusNode();              // elixir node with the corpus .beam files on its path
 *   t.after(() => cn.stop());
 *   const before = await runCorpus(cn);              // every test's result, every observation
 *   // ... instrument modules through cn.engine (the same hidden-node connection) ...
 *   const during = await runCorpus(cn);
 *   assert.deepEqual(diffRuns(before, during), []);  // exact: observations compare as ETF bytes
 *
 * Layout:
 *   test/corpus/lib/*.ex          the corpus modules (`Corpus.*`); what gets instrumented
 *   test/corpus/test/*_test.exs   their ExUnit tests; each records what it saw through
 *                                 `Corpus.Observe.value(name, fun)`
 *   test/corpus/support/*.ex      `Corpus.Observe` and `Corpus.Runner` (never instrumented)
 *
 * The .beam files are built once per test process into a directory under os.tmpdir() named after a
 * hash of the sources, so concurrent test files share one build and an edit makes a new one.
 */

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '../../src/erlang/etf/index.js';
import { inspect } from '../../src/erlang/inspect.js';
import type { RemoteNode } from '../../src/erlang/remoteNode.js';
import { ErlMap, Tuple, atom, type Term } from '../../src/erlang/terms.js';
import { attach, type Engine } from './agentHarness.js';
import { startNode, type BeamNode } from './beam.js';
import { PACKAGE_ROOT } from './cli.js';
import { runElixirScript } from './elixirScript.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** test/corpus in the source tree (the .ex files are read from here, not from dist/). */
export const CORPUS_DIR = join(PACKAGE_ROOT, 'test', 'corpus');

export interface CorpusModule {
  /** As Elixir writes it: `Corpus.Clauses`. */
  name: string;
  /** The atom: `Elixir.Corpus.Clauses`. */
  atom: string;
  /** Absolute path of its source file under test/corpus/lib (= `module_info(:compile)[:source]`). */
  source: string;
  /**
   * The basename of the ExUnit file that exercises it (`errors.ex` → `errors_test.exs`), for
   * `runCorpus(cn, { files: [m.testFile] })`; undefined when none is named after its source
   * (`injector.ex` holds only macros, run at compile time, exercised through generated_test.exs).
   */
  testFile: string | undefined;
}

export interface CorpusBuild {
  /** The corpus modules' .beam files (test/corpus/lib), compiled with debug_info. */
  ebin: string;
  /** Corpus.Observe and Corpus.Runner (test/corpus/support). */
  supportEbin: string;
  /** test/corpus. */
  srcDir: string;
  /** Every module defined in test/corpus/lib, sorted by name. */
  modules: CorpusModule[];
  /** The ExUnit files, absolute paths, sorted. */
  testFiles: string[];
}

export type TestResult = 'passed' | string;

export interface CorpusRun {
  /** `"Corpus.ClausesTest test defaults fill in from the right"` → 'passed' or the failure as ExUnit prints it. */
  tests: Map<string, TestResult>;
  /**
   * Observation name → `:erlang.term_to_binary(observation, [:deterministic])`, where the observation
   * is `{:ok, value}` or `{:raised, class, reason, user_frames}` (see test/corpus/support/observe.ex).
   * Compare with Buffer.equals; render with renderObservation.
   */
  observed: Map<string, Buffer>;
  /** What the tests printed (collected by our group leader, never on the node's stdout). */
  output: string;
}

export interface RunOptions {
  /** ExUnit's per-test timeout on the node; default 120 000 ms. */
  testTimeoutMs?: number;
  /** How long to wait for the whole run; default 600 000 ms. */
  timeoutMs?: number;
  /** Only these test files (basenames like 'clauses_test.exs'); default all. */
  files?: string[];
}

export interface CorpusNode {
  node: BeamNode;
  /** A hidden-node connection to it; use it for the agent too (one connection per node). */
  engine: Engine;
  remote: RemoteNode;
  build: CorpusBuild;
  /** Leaves the node and stops it. Idempotent. */
  stop(): Promise<void>;
}

export interface RunDifference {
  kind: 'test' | 'observation';
  name: string;
  /** Rendered for reading (Elixir syntax for observations); `(absent)` when the run lacks it. */
  before: string;
  after: string;
}

let building: Promise<CorpusBuild> | undefined;

/** Compiles test/corpus/lib and test/corpus/support (once per test process; cached across processes). */
export function buildCorpus(): Promise<CorpusBuild> {
  building ??= build();
  return building;
}

/** Every module of test/corpus/lib with its source file, for the instrumenting test. */
export async function corpusModules(): Promise<CorpusModule[]> {
  return (await buildCorpus()).modules;
}

/**
 * Starts an Elixir node with the corpus on its code path (`-pa`), loads every corpus and support
 * module from its .beam file, and connects to it as a hidden node.
 */
export async function startCorpusNode(): Promise<CorpusNode> {
  const b = await buildCorpus();
  const node = await startNode({ kind: 'elixir', extraArgs: ['-pa', b.ebin, '-pa', b.supportEbin] });
  let engine: Engine | undefined;
  try {
    const names = [...b.modules.map((m) => m.atom), 'Elixir.Corpus.Observe', 'Elixir.Corpus.Runner', 'Elixir.Corpus.Runner.Collector'];
    const loaded = await node.eval(
      `[{M, code:ensure_loaded(M)} || M <- [${names.map((n) => `'${n}'`).join(', ')}], code:ensure_loaded(M) =/= {module, M}]`,
    );
    if (loaded.trim() !== '[]') throw new Error(`corpus modules did not load from ${b.ebin}: ${loaded}`);
    engine = await attach(node);
  } catch (err) {
    await node.stop();
    throw err;
  }
  const eng = engine;
  let stopped = false;
  return {
    node,
    engine: eng,
    remote: eng.remote,
    build: b,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await eng.close();
      await node.stop();
    },
  };
}

/** Runs the corpus's ExUnit tests on the node once and collects every result. */
export async function runCorpus(target: CorpusNode | RemoteNode, opts: RunOptions = {}): Promise<CorpusRun> {
  const remote = 'engine' in target ? target.remote : target;
  const b = await buildCorpus();
  let files = b.testFiles;
  if (opts.files !== undefined) {
    const known = new Set(b.testFiles.map(basename));
    const unknown = opts.files.filter((f) => !known.has(f));
    if (unknown.length > 0) {
      throw new Error(`runCorpus: no test file ${unknown.join(', ')} in ${join(CORPUS_DIR, 'test')}; expected one of ${[...known].join(', ')}`);
    }
    files = b.testFiles.filter((f) => opts.files!.includes(basename(f)));
  }
  const runOpts = new ErlMap([[atom('timeout'), opts.testTimeoutMs ?? 120_000]]);
  const { result, output } = await remote.rpcWithOutput(
    'Elixir.Corpus.Runner',
    'run',
    [files.map((f) => Buffer.from(f, 'utf8')), runOpts],
    { timeoutMs: opts.timeoutMs ?? 600_000 },
  );
  return { ...parseRun(result, remote.name), output };
}

/** `module_info(:md5)` of every corpus module on the node, by atom name (to check an exact revert). */
export async function moduleMd5s(target: CorpusNode | RemoteNode): Promise<Map<string, Buffer>> {
  const remote = 'engine' in target ? target.remote : target;
  const out = new Map<string, Buffer>();
  for (const m of (await buildCorpus()).modules) {
    const md5 = await remote.rpc(m.atom, 'module_info', [atom('md5')]);
    if (!Buffer.isBuffer(md5)) throw new Error(`${m.name}:module_info(:md5) on ${remote.name} gave ${inspect(md5)}; expected a binary`);
    out.set(m.atom, md5);
  }
  return out;
}

/**
 * Loads a corpus module's original .beam file again (soft purge first; refuses, rather than kill a
 * process, when old code is still running). For tests that replaced a module by hand.
 */
export async function restoreModule(target: CorpusNode | RemoteNode, moduleAtom: string): Promise<void> {
  const remote = 'engine' in target ? target.remote : target;
  const b = await buildCorpus();
  if (!b.modules.some((m) => m.atom === moduleAtom)) {
    throw new Error(`${moduleAtom} is not a corpus module; expected one of ${b.modules.map((m) => m.atom).join(', ')}`);
  }
  if ((await remote.rpc('code', 'soft_purge', [atom(moduleAtom)])) !== atom('true')) {
    throw new Error(`old code of ${moduleAtom} is still running on ${remote.name}; not restoring, to kill nothing. Let those processes finish first.`);
  }
  const path = join(b.ebin, moduleAtom);
  const loaded = await remote.rpc('code', 'load_abs', [[...path].map((c) => c.codePointAt(0)!)]);
  if (!(loaded instanceof Tuple && loaded.elements[0] === atom('module'))) {
    throw new Error(`loading ${path}.beam on ${remote.name} gave ${inspect(loaded)}; expected {:module, ${moduleAtom}}`);
  }
}

/** Every test and observation that differs between two runs (empty when they are identical). */
export function diffRuns(before: CorpusRun, after: CorpusRun): RunDifference[] {
  const diffs: RunDifference[] = [];
  for (const name of unionSorted(before.tests.keys(), after.tests.keys())) {
    const a = before.tests.get(name);
    const b = after.tests.get(name);
    if (a !== b) diffs.push({ kind: 'test', name, before: a ?? '(absent)', after: b ?? '(absent)' });
  }
  for (const name of unionSorted(before.observed.keys(), after.observed.keys())) {
    const a = before.observed.get(name);
    const b = after.observed.get(name);
    if (a === undefined || b === undefined || !a.equals(b)) {
      diffs.push({
        kind: 'observation',
        name,
        before: a === undefined ? '(absent)' : renderObservation(a),
        after: b === undefined ? '(absent)' : renderObservation(b),
      });
    }
  }
  return diffs;
}

/** A readable report of diffRuns' result, for assertion messages. */
export function formatDifferences(diffs: RunDifference[]): string {
  return diffs.map((d) => `${d.kind} ${d.name}\n  before: ${indent(d.before)}\n  after:  ${indent(d.after)}`).join('\n');
}

/** The tests of a run that did not pass, as `name: failure` lines. */
export function failures(run: CorpusRun): string[] {
  return [...run.tests].filter(([, r]) => r !== 'passed').map(([n, r]) => `${n}: ${r}`);
}

/** An observation's ETF bytes → the term as Elixir's inspect/2 prints it. */
export function renderObservation(bytes: Buffer): string {
  return inspect(decode(bytes), { limit: Infinity, printableLimit: Infinity });
}

/** An observation decoded to our term model. */
export function observation(run: CorpusRun, name: string): Term {
  const bytes = run.observed.get(name);
  if (bytes === undefined) throw new Error(`the run has no observation named ${JSON.stringify(name)}`);
  return decode(bytes);
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function indent(s: string): string {
  return s.replace(/\n/g, '\n          ');
}

function unionSorted(a: Iterable<string>, b: Iterable<string>): string[] {
  return [...new Set([...a, ...b])].sort();
}

function listSorted(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function parseRun(result: Term, nodeName: string): Omit<CorpusRun, 'output'> {
  if (result instanceof Tuple && result.size === 2 && result.elements[1] === atom('already_running')) {
    throw new Error(`a corpus run is already in progress on ${nodeName}; runs on one node must not overlap: await each runCorpus before the next`);
  }
  const [tag, tests, observed] = result instanceof Tuple ? result.elements : [];
  if (tag !== atom('ok') || !Array.isArray(tests) || !Array.isArray(observed)) {
    throw new Error(`Corpus.Runner.run on ${nodeName} returned ${inspect(result)}; expected {:ok, tests, observations}`);
  }
  const run: Omit<CorpusRun, 'output'> = { tests: new Map(), observed: new Map() };
  for (const t of tests) {
    const [name, res] = t instanceof Tuple ? t.elements : [];
    if (!Buffer.isBuffer(name)) throw new Error(`unexpected test entry ${inspect(t)}`);
    if (res === atom('passed')) run.tests.set(name.toString('utf8'), 'passed');
    else if (res instanceof Tuple && Buffer.isBuffer(res.elements[1])) run.tests.set(name.toString('utf8'), res.elements[1].toString('utf8'));
    else throw new Error(`unexpected test result ${inspect(t)}`);
  }
  for (const o of observed) {
    const [name, bytes] = o instanceof Tuple ? o.elements : [];
    if (!Buffer.isBuffer(name) || !Buffer.isBuffer(bytes)) throw new Error(`unexpected observation entry ${inspect(o)}`);
    run.observed.set(name.toString('utf8'), bytes);
  }
  return run;
}

// Compiles with the same compiler elixirc uses (Kernel.ParallelCompiler.compile_to_path), and also
// lists each module's source, which elixirc does not print. Warnings fail the build: a corpus that
// compiles with warnings would print them on every run and hide real ones.
const BUILD_SCRIPT = String.raw`[src, out] = System.argv()
Code.compiler_options(debug_info: true, ignore_module_conflict: false, warnings_as_errors: false)
compile = fn dir, dest ->
  files = Path.wildcard(Path.join([src, dir, "*.ex"])) |> Enum.sort()
  File.mkdir_p!(dest)
  case Kernel.ParallelCompiler.compile_to_path(files, dest) do
    {:ok, modules, []} -> modules
    {:ok, _, warnings} -> raise "the corpus compiled with warnings: #{inspect(warnings)}"
    {:error, errors, _} -> raise "the corpus did not compile: #{inspect(errors)}"
  end
end
lib = compile.("lib", Path.join(out, "ebin"))
_support = compile.("support", Path.join(out, "support"))
for m <- Enum.sort(lib) do
  IO.puts("M\t#{inspect(m)}\t#{m}\t#{m.module_info(:compile)[:source]}")
end
`;

async function build(): Promise<CorpusBuild> {
  const lib = listSorted(join(CORPUS_DIR, 'lib'), '.ex');
  const support = listSorted(join(CORPUS_DIR, 'support'), '.ex');
  const testFiles = listSorted(join(CORPUS_DIR, 'test'), '_test.exs');
  if (lib.length === 0) throw new Error(`no corpus modules in ${join(CORPUS_DIR, 'lib')}; the corpus is part of the source tree, not of dist/`);
  const hash = createHash('sha256').update(BUILD_SCRIPT);
  for (const f of [...lib, ...support]) hash.update(f).update('\0').update(readFileSync(f)).update('\0');
  const dir = join(tmpdir(), `elixir-scope-corpus-${hash.digest('hex').slice(0, 16)}`);
  const manifest = join(dir, 'modules.tsv');
  if (!existsSync(manifest)) {
    // Built beside the final place and renamed, so a concurrent test process never sees half a build.
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      const { stdout } = await runElixirScript(BUILD_SCRIPT, [CORPUS_DIR, tmp]);
      await writeFile(join(tmp, 'modules.tsv'), stdout);
      await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
        // Another process finished the same build first; theirs is as good as ours.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const modules: CorpusModule[] = [];
  for (const line of (await readFile(manifest, 'utf8')).split('\n')) {
    const [tag, name, atomName, source] = line.split('\t');
    if (tag !== 'M' || name === undefined || atomName === undefined || source === undefined) continue;
    const testFile = `${basename(source).replace(/\.ex$/, '')}_test.exs`;
    modules.push({ name, atom: atomName, source, testFile: testFiles.some((f) => basename(f) === testFile) ? testFile : undefined });
  }
  if (modules.length === 0) throw new Error(`the corpus build in ${dir} lists no modules; remove the directory and run again`);
  return { ebin: join(dir, 'ebin'), supportEbin: join(dir, 'support'), srcDir: CORPUS_DIR, modules, testFiles };
}

