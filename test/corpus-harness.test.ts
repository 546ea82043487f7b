/**
 * The corpus harness (test/support/corpus.ts) on a real node: the corpus builds, loads from its
 * .beam files, every ExUnit test passes, two runs are identical observation by observation, and a
 * changed module shows up as exactly the observation it changes.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Atom, ErlMap, Tuple, atom } from '../src/erlang/terms.js';
import {
  CORPUS_DIR,
  diffRuns,
  failures,
  formatDifferences,
  moduleMd5s,
  observation,
  restoreModule,
  runCorpus,
  startCorpusNode,
  type CorpusNode,
  type CorpusRun,
} from './support/corpus.js';

/** The 1-based line of the only line of `file` containing `text`. */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(text) ? [i + 1] : []));
  assert.equal(hits.length, 1, `expected exactly one line with ${JSON.stringify(text)} in ${file}`);
  return hits[0]!;
}

async function md5(cn: CorpusNode, mod: string): Promise<Buffer> {
  const m = await cn.remote.rpc(mod, 'module_info', [atom('md5')]);
  assert.ok(Buffer.isBuffer(m));
  return m;
}

/** Replaces a module on the node with one compiled from `source` (as a debugger's hot load would). */
async function compileOnNode(cn: CorpusNode, source: string, file: string): Promise<void> {
  await cn.remote.rpc('Elixir.Code', 'put_compiler_option', [atom('ignore_module_conflict'), atom('true')]);
  try {
    await cn.remote.rpc('Elixir.Code', 'compile_string', [Buffer.from(source), Buffer.from(file)]);
  } finally {
    await cn.remote.rpc('Elixir.Code', 'put_compiler_option', [atom('ignore_module_conflict'), atom('false')]);
  }
}

test('corpus harness', { timeout: 600_000 }, async (t) => {
  const cn = await startCorpusNode();
  t.after(() => cn.stop());
  const mods = cn.build.modules;

  await t.test('the corpus modules load from .beam files whose source is test/corpus/lib', async () => {
    const names = mods.map((m) => m.name);
    for (const expected of ['Corpus.Clauses', 'Corpus.Generated', 'Corpus.CounterServer', 'Corpus.Errors.Boom', 'Corpus.Describe.Corpus.Shape', 'Corpus.Recursion']) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
    for (const m of mods) {
      assert.ok(m.source.startsWith(join(CORPUS_DIR, 'lib') + '/'), `${m.name}: ${m.source}`);
      const which = await cn.remote.rpc('code', 'which', [atom(m.atom)]);
      assert.deepEqual(which, [...Buffer.from(join(cn.build.ebin, `${m.atom}.beam`))].map(Number), `${m.name} loaded from elsewhere`);
      const compile = await cn.remote.rpc(m.atom, 'module_info', [atom('compile')]);
      assert.ok(Array.isArray(compile));
      const source = compile.find((e) => e instanceof Tuple && e.elements[0] === atom('source'));
      assert.ok(source instanceof Tuple);
      assert.equal(String.fromCodePoint(...(source.elements[1] as number[])), m.source);
      // debug_info is in the .beam: the AST can be read back from it.
      const chunk = await cn.node.eval(`{ok, {_, [{debug_info, {debug_info_v1, _, _}}]}} = beam_lib:chunks(code:which('${m.atom}'), [debug_info]), ok`);
      assert.equal(chunk, 'ok');
    }
  });

  let first!: CorpusRun;

  await t.test('every test passes, twice, with identical results', async () => {
    const outputBefore = cn.node.output();
    first = await runCorpus(cn);
    const second = await runCorpus(cn);
    assert.deepEqual(failures(first), []);
    assert.ok(first.tests.size >= 60, `only ${first.tests.size} tests ran`);
    assert.ok(first.observed.size >= 150, `only ${first.observed.size} observations`);
    // One test per test file at least, named by its module.
    for (const f of cn.build.testFiles) {
      const mod = readFileSync(f, 'utf8').match(/defmodule (\S+) do/)?.[1];
      assert.ok(mod !== undefined && [...first.tests.keys()].some((n) => n.startsWith(`${mod} test `)), `no test of ${f} ran`);
    }
    // exports_test.exs lists every corpus module by hand: a module added to lib/ without it fails here.
    const missing = mods.filter((m) => !first.observed.has(`exports.${m.name}`)).map((m) => m.name);
    assert.deepEqual(missing, [], 'add these modules to test/corpus/test/exports_test.exs');
    const diffs = diffRuns(first, second);
    assert.deepEqual(diffs, [], formatDifferences(diffs));
    // ExUnit reported only to our collector: nothing about the run reached the node's stdout.
    const added = cn.node.output().slice(outputBefore.length);
    assert.doesNotMatch(added, /tests?,|failures?|Finished in/, added);
  });

  await t.test('observations hold values, and exceptions with the corpus lines they came from', () => {
    assert.deepEqual(observation(first, 'rec.count_loop'), new Tuple([atom('ok'), new Tuple([29_999_997, 10])]));
    // A fun inside an observed value is kept as {:fun, module, arity}, never as a fun with an identity.
    assert.deepEqual(observation(first, 'funs.value_is_fun'), new Tuple([atom('ok'), new Tuple([atom('fun'), atom('Elixir.Corpus.Funs'), 1])]));
    // A pid inside an exit reason is kept as :pid.
    const noproc = observation(first, 'counter.noproc');
    assert.ok(noproc instanceof Tuple);
    assert.deepEqual(noproc.elements.slice(0, 2), [atom('raised'), atom('exit')]);
    const args = ((noproc.elements[2] as Tuple).elements[1] as Tuple).elements[2];
    assert.deepEqual(args, [atom('pid'), atom('get'), 5000]);

    const divide = observation(first, 'crash.divide');
    assert.ok(divide instanceof Tuple);
    const [tag, kind, reason, frames] = divide.elements;
    assert.equal(tag, atom('raised'));
    assert.equal(kind, atom('error'));
    assert.ok(reason instanceof ErlMap);
    assert.equal(reason.getAtom('__struct__'), atom('Elixir.ArithmeticError'));
    const line = lineOf(join(CORPUS_DIR, 'lib', 'crashes.ex'), 'div(scaled, b)');
    assert.deepEqual(frames, [new Tuple([atom('Elixir.Corpus.Crashes'), atom('divide'), 2, Buffer.from('crashes.ex'), line])]);

    // reraise keeps the frames of the original raise.
    const rewrap = observation(first, 'errors.rewrap');
    assert.ok(rewrap instanceof Tuple && Array.isArray(rewrap.elements[3]));
    const fns = (rewrap.elements[3] as Tuple[]).map((f) => (f.elements[1] as Atom).name);
    assert.deepEqual(fns, ['raise_boom', 'rewrap']);
  });

  await t.test('a changed module shows up as exactly the observation and test it changes', async () => {
    const mod = 'Elixir.Corpus.Generated';
    const source = join(CORPUS_DIR, 'lib', 'generated.ex');
    const original = readFileSync(source, 'utf8');
    const changed = original.replace('Corpus.Injector.defconst(:answer, 42)', 'Corpus.Injector.defconst(:answer, 43)');
    assert.notEqual(changed, original, 'generated.ex no longer defines answer/0 as 42; update this test');
    const md5Before = await md5(cn, mod);
    await compileOnNode(cn, changed, source);
    assert.notDeepEqual(await md5(cn, mod), md5Before);

    const changedRun = await runCorpus(cn);
    const diffs = diffRuns(first, changedRun);
    assert.deepEqual(
      diffs.map((d) => `${d.kind} ${d.name}`),
      ['test Corpus.GeneratedTest test a def from a macro call', 'observation generated.answer'],
      formatDifferences(diffs),
    );
    const obs = diffs.find((d) => d.kind === 'observation')!;
    assert.equal(obs.before, '{:ok, 42}');
    assert.equal(obs.after, '{:ok, 43}');
    assert.match(diffs[0]!.after, /Assertion with == failed/);

    // Back to the .beam file: the same md5 as before, and a run identical to the first.
    await restoreModule(cn, mod);
    assert.deepEqual(await md5(cn, mod), md5Before);
    const restored = await runCorpus(cn);
    const after = diffRuns(first, restored);
    assert.deepEqual(after, [], formatDifferences(after));
  });

  await t.test('a test file that no longer compiles is a failed entry, and its tests show as absent', async () => {
    const md5sBefore = await moduleMd5s(cn);
    // text_test.exs builds %Profile{} at compile time; a Profile without a struct breaks it.
    const mod = 'Elixir.Corpus.Text.Profile';
    await compileOnNode(cn, 'defmodule Corpus.Text.Profile do\n  def no_struct, do: true\nend\n', join(CORPUS_DIR, 'lib', 'text.ex'));
    const broken = await runCorpus(cn);
    assert.match(broken.tests.get('text_test.exs (compile)') ?? '', /Corpus\.Text\.Profile/);
    const diffs = diffRuns(first, broken);
    const unexpected = diffs.filter(
      (d) =>
        !(d.kind === 'test' && (d.name === 'text_test.exs (compile)' || (d.name.startsWith('Corpus.TextTest ') && d.after === '(absent)'))) &&
        !(d.kind === 'observation' && d.name.startsWith('text.') && d.after === '(absent)') &&
        // exports_test.exs sees the replaced module itself.
        !(d.kind === 'observation' && d.name === 'exports.Corpus.Text.Profile'),
    );
    assert.deepEqual(unexpected, [], formatDifferences(unexpected));
    const exportsDiff = diffs.find((d) => d.name === 'exports.Corpus.Text.Profile');
    assert.equal(exportsDiff?.after, '{:ok, {[no_struct: 0], [], false}}');
    assert.equal(diffs.filter((d) => d.kind === 'test' && d.after === '(absent)').length, [...first.tests.keys()].filter((n) => n.startsWith('Corpus.TextTest ')).length);
    assert.equal(diffs.filter((d) => d.kind === 'observation' && d.after === '(absent)').length, [...first.observed.keys()].filter((n) => n.startsWith('text.')).length);

    await restoreModule(cn, mod);
    assert.deepEqual(await moduleMd5s(cn), md5sBefore);
    const after = diffRuns(first, await runCorpus(cn));
    assert.deepEqual(after, [], formatDifferences(after));
  });

  await t.test('recompiled from its source on the node (the identity transform), the corpus runs identically', async () => {
    const md5sBefore = await moduleMd5s(cn);
    // As the AST pipeline does, minus the transform: parse each source on the node, compile the quoted
    // form, load it. Without `columns` (with it, `quote` in a body returns column metadata; see docs/ast.md).
    const files = [...new Set(mods.map((m) => m.source))];
    const out = await cn.node.evalElixir(`
      previous = Code.get_compiler_option(:ignore_module_conflict)
      Code.put_compiler_option(:ignore_module_conflict, true)
      try do
        for src <- ${JSON.stringify(files)} do
          {:ok, ast} = Code.string_to_quoted(File.read!(src), token_metadata: true, file: src)
          Code.compile_quoted(ast, src) |> Enum.map(&elem(&1, 0))
        end |> List.flatten() |> length()
      after
        Code.put_compiler_option(:ignore_module_conflict, previous)
      end`);
    assert.equal(Number(out), mods.length);
    const recompiled = await moduleMd5s(cn);
    assert.ok(mods.some((m) => !recompiled.get(m.atom)!.equals(md5sBefore.get(m.atom)!)), 'nothing was reloaded');
    const run = await runCorpus(cn);
    const diffs = diffRuns(first, run);
    assert.deepEqual(diffs, [], formatDifferences(diffs));

    for (const m of mods) await restoreModule(cn, m.atom);
    assert.deepEqual(await moduleMd5s(cn), md5sBefore);
  });

  await t.test('runCorpus refuses an unknown test file by name', async () => {
    await assert.rejects(runCorpus(cn, { files: ['nope_test.exs'] }), /no test file nope_test\.exs.*expected one of .*clauses_test\.exs/);
    const one = await runCorpus(cn, { files: ['clauses_test.exs'] });
    assert.ok(one.tests.size > 0);
    assert.ok([...one.tests.keys()].every((n) => n.startsWith('Corpus.ClausesTest ')));
    assert.deepEqual(failures(one), []);
  });
});
