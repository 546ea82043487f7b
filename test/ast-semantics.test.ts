/**
 * Instrumentation changes nothing but the events: a module full of Elixir's constructs (multiple
 * clauses and guards, default arguments, defp, receive/after, try/rescue/catch/else/after, implicit
 * try, with/else, comprehensions, binary matching, pinned and shadowed variables, attributes, `use`,
 * defmacro, an unquote fragment) gives the same results, the same exceptions (class, reason and
 * stacktrace) and the same exports instrumented at every level as before, and compiles with no
 * warning.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode } from './support/astNode.js';
import { CALLS, RUNNER, SHAPES } from './support/astShapes.js';
import { instrumentModule, type Levels } from '../src/ast/transform.js';
import { type Term } from '../src/erlang/terms.js';

const EVERY_LEVEL: Levels = { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' };

describe('instrumented code behaves as the original', () => {
  let n: AstNode;
  let quoted: Term;
  const run = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [f, args] of CALLS) out.push(await n.evalElixir(`Runner.capture(Shapes, :${f}, ${args})`));
    return out;
  };
  before(async () => {
    n = await AstNode.start();
    // Whole stacktraces: the default depth (8) would cut the frames being compared.
    await n.evalElixir(':erlang.system_flag(:backtrace_depth, 64)');
    await n.compile(await n.quote(RUNNER, 'runner.ex'), 'runner.ex');
    quoted = await n.quote(SHAPES, 'shapes.ex');
  });
  after(() => n.stop());

  const CONFIGS: Array<[string, Levels]> = [
    ['every level', EVERY_LEVEL],
    ['function boundaries only', { boundaries: true }],
    ['every level inside, no boundaries (hybrid)', { ...EVERY_LEVEL, boundaries: false }],
  ];
  for (const [what, levels] of CONFIGS) {
    it(`${what}: same results, exceptions, stacktraces and exports; no compiler warning`, async () => {
      await n.compile(quoted, 'shapes.ex');
      const before = await run();
      const exportsBefore = await n.evalElixir('Shapes.module_info(:exports) |> Enum.sort()');
      const warningsBefore = n.output();
      assert.doesNotMatch(warningsBefore, /warning/, 'the original compiles cleanly');

      const r = instrumentModule(quoted, { module: 'Elixir.Shapes', all: levels });
      await n.compile(r.quoted, 'shapes.ex');
      assert.doesNotMatch(n.output().slice(warningsBefore.length), /warning/, `instrumented code compiles without warnings:\n${n.output()}`);
      const instrumented = r.functions.map((f) => `${f.name}/${f.arity}`).sort();
      // Generated functions (child_spec from `use Agent`, scale/1 and greet/1 from defaults, the
      // unquote-named one) and the macro are left alone; every def/defp of the source is instrumented.
      assert.ok(!instrumented.includes('child_spec/1') && !instrumented.includes('double/1') && !instrumented.includes('scale/1'));
      for (const f of ['area/1', 'scale/2', 'greet/2', 'secret/1', 'helper_crash/1', 'chain/1', 'bits/1', 'attr/0']) assert.ok(instrumented.includes(f), f);
      assert.ok(!instrumented.some((f) => f.startsWith('dyn_name')));
      const after = await run();
      for (let i = 0; i < CALLS.length; i++) {
        const [f, args] = CALLS[i]!;
        if (f === 'crash_remote') continue;
        assert.equal(after[i], before[i], `Shapes.${f}(${args.slice(1, -1)})`);
      }
      assert.equal(await n.evalElixir('Shapes.module_info(:exports) |> Enum.sort()'), exportsBefore);
    });
  }

  it('the warning check sees warnings (control)', async () => {
    const seen = n.output().length;
    await n.compile(await n.quote('defmodule Warns do\n  def f(x), do: 1\nend\n', 'warns.ex'), 'warns.ex');
    assert.match(n.output().slice(seen), /warning: variable "x" is unused/);
  });

  it('a tail call to another module stays a last call: its exception shows the same frames', async () => {
    // Frames as {module, function, arity}: the BEAM gives the raising frame a line or not depending on its caller.
    const frames = "{:error, _, st, _} = Runner.capture(Shapes, :crash_remote, [1]); Enum.map(st, fn {m, f, a, _} -> {m, f, if(is_list(a), do: length(a), else: a)} end)";
    await n.compile(quoted, 'shapes.ex');
    const before = await n.evalElixir(frames);
    const r = instrumentModule(quoted, { module: 'Elixir.Shapes', all: EVERY_LEVEL });
    await n.compile(r.quoted, 'shapes.ex');
    const after = await n.evalElixir(frames);
    assert.equal(after, before);
  });
});

