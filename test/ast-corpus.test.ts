/**
 * The corpus proof (docs/ast.md, Corpus): instrumentation changes nothing a program does. On a real
 * node with the corpus loaded from its .beam files, every `Corpus.*` module goes through the real
 * pipeline (AgentSession.astSource → instrumentModule → AgentSession.instrument) at each level, the
 * corpus's ExUnit tests run before, during and after, and every test result and observation
 * (values, exceptions, the corpus frames of their stacktraces) must be identical, byte for byte.
 * The revert must give back every module's md5, the events that arrived must be the ones the level
 * promises, and the node must print no compiler warning.
 *
 * The 10,000,000-iteration loop (Corpus.Recursion.count_loop/3) with someone listening costs two
 * events per iteration at function boundaries (a minute of sends), so it runs instrumented in a
 * session of its own whose max_events stops it: the relay then ends the session, erases the
 * persistent term (the loop goes quiet while still in the instrumented code) and reverts the
 * module, and the loop's result must still be the same. In the run of every other module,
 * count_loop/3 is left as it is. That the loop's stack and heap stay flat at every level is
 * test/ast-tail.test.ts's to show.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from '../src/agent/loader.js';
import { AgentSession, type AgentMessage, type AstFromSource } from '../src/agent/client.js';
import { decode } from '../src/erlang/etf/index.js';
import { inspect } from '../src/erlang/inspect.js';
import { Atom, Tuple, atom, isTuple, type Term } from '../src/erlang/terms.js';
import { findModule } from '../src/ast/module.js';
import { firstLine, kwGet, statements } from '../src/ast/quoted.js';
import { InstrumentError, instrumentModule, type Levels, type ModulePlan, type Probe } from '../src/ast/transform.js';
import { DEFAULT_TEST_LIMITS, eventually } from './support/agentHarness.js';
import {
  diffRuns,
  failures,
  formatDifferences,
  moduleMd5s,
  runCorpus,
  startCorpusNode,
  type CorpusModule,
  type CorpusNode,
  type CorpusRun,
} from './support/corpus.js';

const LOOP_MODULE = 'Elixir.Corpus.Recursion';
const LOOP_FUN = { name: 'count_loop', arity: 3 };
/** The protocol module itself: consolidated protocols are not instrumented (the refusal is checked). */
const PROTOCOL_MODULE = 'Elixir.Corpus.Describe';

interface LevelCase {
  name: string;
  /** The levels for every function of a module (probes are added per module). */
  levels: Levels;
  probes?: boolean;
  /** What the events of the run must show; `seen` counts events by kind and module. */
  check(seen: Seen): void;
}

/** Events of a session, counted: kind → module → count; and a few labels of probe events. */
class Seen {
  readonly byKind = new Map<string, Map<string, number>>();
  readonly probeLabels = new Set<string>();
  /** `tail_call` callees as `Module.fun/arity` (the module as an atom's text). */
  readonly callees = new Set<string>();
  readonly foreign: string[] = [];
  total = 0;

  add(e: Term): void {
    if (!isTuple(e, 7) || e.elements[0] !== atom('es_ast')) return;
    const [, , , kind, mfa, , payload] = e.elements;
    const k = (kind as Atom).name;
    const mod = ((mfa as Tuple).elements[0] as Atom).name;
    if (!mod.startsWith('Elixir.Corpus.')) this.foreign.push(inspect(e));
    let m = this.byKind.get(k);
    if (m === undefined) this.byKind.set(k, (m = new Map()));
    m.set(mod, (m.get(mod) ?? 0) + 1);
    this.total++;
    if (k === 'probe' && isTuple(payload, 2) && Buffer.isBuffer(payload.elements[0])) this.probeLabels.add(payload.elements[0].toString('utf8'));
    if (k === 'tail_call' && isTuple(payload, 3)) {
      const [m, f, a] = payload.elements;
      this.callees.add(`${m instanceof Atom ? m.name : inspect(m!)}.${f instanceof Atom ? f.name : inspect(f!)}/${String(a)}`);
    }
  }

  count(kind: string): number {
    let n = 0;
    for (const c of this.byKind.get(kind)?.values() ?? []) n += c;
    return n;
  }

  modules(kind: string): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  summary(): string {
    return [...this.byKind].map(([k, m]) => `${k}: ${[...m.values()].reduce((a, b) => a + b, 0)} in ${m.size} modules`).join('; ');
  }
}

/** Corpus modules whose tests call their functions (the injector's macros run at compile time only). */
const EXERCISED = ['Elixir.Corpus.Clauses', 'Elixir.Corpus.Errors', 'Elixir.Corpus.Flows', 'Elixir.Corpus.Bindings', 'Elixir.Corpus.Comprehensions', 'Elixir.Corpus.Binaries', 'Elixir.Corpus.Funs', 'Elixir.Corpus.Crashes', 'Elixir.Corpus.CounterServer', 'Elixir.Corpus.Mailbox', 'Elixir.Corpus.Text', 'Elixir.Corpus.Shape'];

function hasAll(have: string[], want: string[], what: string): void {
  const missing = want.filter((m) => !have.includes(m));
  assert.deepEqual(missing, [], `no ${what} event from these modules; got them from ${have.join(', ')}`);
}

const BOUNDARIES: Levels = { boundaries: true };
const LEVEL_CASES: LevelCase[] = [
  {
    name: 'function_boundaries',
    levels: BOUNDARIES,
    check: (s) => {
      hasAll(s.modules('call'), EXERCISED, 'call');
      for (const k of ['return', 'exception', 'tail_call']) assert.ok(s.count(k) > 0, `no ${k} event: ${s.summary()}`);
      // Every kind of real call in tail position stayed a last call, named as its callee: this module's,
      // another module's, a Kernel function, a fun, and a call the compiler makes last because the
      // callee can only raise (1 + deep(n - 1)).
      const callees = [...s.callees];
      for (const c of ['Elixir.Corpus.Recursion.even?/1', 'Elixir.GenServer.call/2', 'Elixir.Kernel.struct!/2', '$dynamic.fun/1', 'Elixir.Corpus.Crashes.deep/1']) {
        assert.ok(callees.includes(c), `no tail_call to ${c}; tail calls to ${callees.sort().join(' ')}`);
      }
      // Operators and guard BIFs are not calls: their value is the return.
      assert.deepEqual(callees.filter((c) => /^(erlang|Elixir\.Kernel)\.([-+*\/<>=!]|elem|hd|tl|length|map_size|is_)/.test(c)), []);
      for (const k of ['line', 'locals', 'expr', 'probe']) assert.equal(s.count(k), 0, `${k} events at function boundaries: ${s.summary()}`);
    },
  },
  {
    name: 'lines=*',
    levels: { boundaries: true, lines: '*' },
    check: (s) => {
      hasAll(s.modules('line'), EXERCISED, 'line');
      for (const k of ['locals', 'expr', 'probe']) assert.equal(s.count(k), 0, `${k} events at lines=*: ${s.summary()}`);
    },
  },
  {
    name: 'locals=*',
    levels: { boundaries: true, lines: '*', locals: { names: '*', at: '*' } },
    check: (s) => {
      hasAll(s.modules('locals'), EXERCISED, 'locals');
      assert.equal(s.count('expr'), 0, s.summary());
    },
  },
  {
    name: 'expressions=*',
    levels: { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' },
    check: (s) => {
      hasAll(s.modules('expr'), EXERCISED, 'expr');
      hasAll(s.modules('locals'), EXERCISED, 'locals');
    },
  },
  {
    // Probes alone (boundaries off, as when the runtime side traces the functions): before and
    // after the first line of every clause.
    name: 'probes before/after first lines',
    levels: { boundaries: false },
    probes: true,
    check: (s) => {
      hasAll(s.modules('probe'), EXERCISED, 'probe');
      assert.deepEqual([...s.probeLabels].sort(), [PROBE_AFTER, PROBE_BEFORE].sort());
      for (const k of ['call', 'return', 'line', 'locals', 'expr']) assert.equal(s.count(k), 0, `${k} events with probes only: ${s.summary()}`);
    },
  },
];

const PROBE_BEFORE = 'length(binding())';
const PROBE_AFTER = '{__MODULE__, __ENV__.function}';

/** A session counting its events as they come (the events themselves are not kept). */
async function countingSession(cn: CorpusNode, limits: Partial<typeof DEFAULT_TEST_LIMITS>) {
  const seen = new Seen();
  let done: { reasonText: string } | undefined;
  const onMessage = (m: AgentMessage): void => {
    if (m.type === 'batch') {
      const list = decode(Buffer.from(m.bin));
      if (!Array.isArray(list)) throw new Error('a batch is not a list');
      for (const e of list) seen.add(e);
    } else done = { reasonText: m.reasonText };
  };
  const session = await AgentSession.start(cn.engine.local, cn.remote, { ...DEFAULT_TEST_LIMITS, ...limits }, onMessage);
  return { session, seen, done: () => done };
}

/** Probes before and after the first line of every def/defp clause of the module. */
function probesFor(quoted: Term, module: string, parsed: { before: Term; after: Term }): Probe[] {
  const found = findModule(quoted, module);
  if (found === undefined) return [];
  const lines = new Set<number>();
  for (const stmt of statements(found.body)) {
    const d = stmt instanceof Tuple && stmt.elements[0] instanceof Atom ? stmt.elements[0].name : undefined;
    if (d !== 'def' && d !== 'defp') continue;
    const args = (stmt as Tuple).elements[2];
    if (!Array.isArray(args) || args.length !== 2) continue;
    const body = kwGet(args[1]!, 'do');
    const l = body === undefined ? undefined : firstLine(body);
    if (l !== undefined) lines.add(l);
  }
  return [...lines].flatMap((line) => [
    { line, when: 'before' as const, label: PROBE_BEFORE, quoted: parsed.before },
    { line, when: 'after' as const, label: PROBE_AFTER, quoted: parsed.after },
  ]);
}

async function parseOnNode(cn: CorpusNode, code: string): Promise<Term> {
  const r = await cn.remote.rpc('Elixir.Code', 'string_to_quoted', [Buffer.from(code)]);
  if (!isTuple(r, 2) || r.elements[0] !== atom('ok')) throw new Error(`${code} did not parse on the node: ${inspect(r)}`);
  return r.elements[1]!;
}

test('the corpus runs identically before, during and after instrumentation, at every level', { timeout: 900_000 }, async (t) => {
  const cn = await startCorpusNode();
  t.after(() => cn.stop());
  await loadAgent(cn.remote);
  const mods = cn.build.modules;
  const md5sBefore = await moduleMd5s(cn);
  const before = await runCorpus(cn);
  assert.deepEqual(failures(before), []);

  // The sources, once: every corpus module's defmodule from its file, checked against the loaded code.
  const sources = new Map<string, AstFromSource>();
  const sourceProblems: string[] = [];
  const notMatching: string[] = [];
  {
    const { session } = await countingSession(cn, {});
    try {
      for (const m of mods) {
        let src;
        try {
          src = await session.astSource(m.atom);
        } catch (err) {
          sourceProblems.push(`${m.name}: ${(err as Error).message}`);
          continue;
        }
        assert.equal(src.origin, 'source', `${m.name}: ${src.origin}`);
        if (src.origin !== 'source') continue;
        // Built by Elixir's own compiler from these files: the check must never say they differ.
        if (src.sourceMatches !== true) notMatching.push(`${m.name}: ${String(src.sourceMatches)}`);
        sources.set(m.atom, src);
      }
    } finally {
      await session.stop();
    }
  }
  // A protocol's own module compiles to other literals when recompiled (its implementations list);
  // it is never instrumented (its implementations are). Every other module matches exactly.
  assert.deepEqual(notMatching, ['Corpus.Describe: unknown']);
  const parsedProbes = { before: await parseOnNode(cn, PROBE_BEFORE), after: await parseOnNode(cn, PROBE_AFTER) };

  const planFor = (m: CorpusModule, lc: LevelCase, opts: { loop: 'leave' | 'only' }): ModulePlan => {
    const levels: Levels = { ...lc.levels };
    if (lc.probes) levels.probes = probesFor(sources.get(m.atom)!.quoted, m.atom, parsedProbes);
    const plan: ModulePlan = { module: m.atom, all: levels };
    // Leaving count_loop/3 as it is: no boundaries, nothing inside.
    if (m.atom === LOOP_MODULE && opts.loop === 'leave') plan.functions = [{ ...LOOP_FUN, levels: { boundaries: false } }];
    return plan;
  };

  const transform = (m: CorpusModule, plan: ModulePlan): Term => instrumentModule(sources.get(m.atom)!.quoted, plan).quoted;

  await t.test('the protocol module itself is refused with a reason', () => {
    const m = mods.find((x) => x.atom === PROTOCOL_MODULE);
    assert.ok(m !== undefined, `${PROTOCOL_MODULE} is not in the corpus any more; update this test`);
    assert.throws(() => transform(m, { module: m.atom, all: BOUNDARIES }), (e: unknown) => e instanceof InstrumentError && /protocol/.test(e.message));
  });

  await t.test('every module has its source found, protocol implementations included', () => {
    assert.deepEqual(sourceProblems, []);
    assert.equal(sources.size, mods.length);
  });

  const targets = mods.filter((m) => m.atom !== PROTOCOL_MODULE && sources.has(m.atom));

  for (const lc of LEVEL_CASES) {
    await t.test(`${lc.name}: every module instrumented, the same results, events as promised, an exact revert`, async () => {
      const outputBefore = cn.node.output();
      const main = await countingSession(cn, { maxEvents: 20_000_000, maxRate: 10_000_000, maxMailbox: 5_000_000 });
      let during: CorpusRun;
      const problems: string[] = [];
      let loaded = 0;
      try {
        // One module at a time, so that one refusal names its module and the others still run.
        for (const m of targets) {
          try {
            const [r] = await main.session.instrument([{ module: m.atom, quoted: transform(m, planFor(m, lc, { loop: 'leave' })) }]);
            problems.push(...r!.warnings.map((w) => `${m.name}: warning ${w.message}`));
            loaded++;
          } catch (err) {
            problems.push(`${m.name}: ${(err as Error).message}`);
          }
        }
        during = await runCorpus(cn);
        const reverted = await main.session.revert('all');
        assert.equal(reverted.length, loaded);
        for (const r of reverted) assert.equal(r.md5, md5sBefore.get(r.module)!.toString('hex'), `${r.module} reverted to another md5`);
      } finally {
        await main.session.stop();
      }
      const diffs = diffRuns(before, during);
      assert.deepEqual(diffs, [], `during, at ${lc.name}:\n${formatDifferences(diffs)}${problems.length > 0 ? `\n(and not instrumented: ${problems.join('; ')})` : ''}`);
      assert.deepEqual(problems, []);
      assert.deepEqual(main.seen.foreign, []);
      lc.check(main.seen);
      t.diagnostic(`${lc.name}: ${main.seen.total} events (${main.seen.summary()}); tail calls to ${[...main.seen.callees].sort().join(' ')}`);

      assert.deepEqual(await moduleMd5s(cn), md5sBefore);
      const after = await runCorpus(cn);
      const afterDiffs = diffRuns(before, after);
      assert.deepEqual(afterDiffs, [], `after, at ${lc.name}:\n${formatDifferences(afterDiffs)}`);

      const added = cn.node.output().slice(outputBefore.length);
      assert.doesNotMatch(added, /warning/i, `the node printed at ${lc.name}:\n${added}`);
    });

    await t.test(`${lc.name}: the 10,000,000-iteration loop gives the same result while the session's max_events stops its events`, async () => {
      const outputBefore = cn.node.output();
      const loopMod = targets.find((m) => m.atom === LOOP_MODULE)!;
      const loop = await countingSession(cn, { maxEvents: 5_000 });
      try {
        await loop.session.instrument([{ module: LOOP_MODULE, quoted: transform(loopMod, planFor(loopMod, lc, { loop: 'only' })) }]);
        const loopRun = await runCorpus(cn, { files: ['recursion_test.exs'] });
        await eventually(async () => loop.done() !== undefined, 'the loop session ended on its limit', 10_000);
        assert.match(loop.done()!.reasonText, /max_events/);
        const loopDiffs = diffRuns(subset(before, 'Corpus.RecursionTest ', 'rec.'), loopRun);
        assert.deepEqual(loopDiffs, [], `the loop at ${lc.name}:\n${formatDifferences(loopDiffs)}`);
        // Events stopped at the limit (the relay counts the last one it kept and drops the rest).
        assert.ok(loop.seen.total <= 5_000, `${loop.seen.total} events after a limit of 5,000`);
        // The limit erased the persistent term (the loop went quiet in the instrumented code) and put the original back.
        assert.equal(await cn.node.eval(`persistent_term:get({elixir_scope_ast, '${LOOP_MODULE}'}, none)`), 'none');
        assert.deepEqual(await moduleMd5s(cn), md5sBefore);
      } finally {
        if (!loop.session.isEnded) await loop.session.stop();
      }
      const added = cn.node.output().slice(outputBefore.length);
      assert.doesNotMatch(added, /warning/i, `the node printed at ${lc.name}:\n${added}`);
    });
  }
});

/** The tests and observations of one test file. */
function subset(run: CorpusRun, testPrefix: string, obsPrefix: string): CorpusRun {
  return {
    tests: new Map([...run.tests].filter(([n]) => n.startsWith(testPrefix))),
    observed: new Map([...run.observed].filter(([n]) => n.startsWith(obsPrefix))),
    output: '',
  };
}
