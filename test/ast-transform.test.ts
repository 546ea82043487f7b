/**
 * The transformer's output shape and the plan, on quoted forms parsed by a real Elixir node: only the
 * target module comes out; heads become `pattern = es_argN` with hygienic variables; everything
 * injected carries the user's line; instrumented code calls nothing but :erlang and
 * :persistent_term; macros, unquote-named defs and default heads are left as they were. The plan
 * maps levels and options, and refuses what the source does not have with the list of what it has.
 * fromDebugInfo rebuilds a module from its debug_info that behaves as the original, instrumented or not.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode } from './support/astNode.js';
import { CALLS, RUNNER, SHAPES } from './support/astShapes.js';
import { instrumentModule, InstrumentError, type Levels } from '../src/ast/transform.js';
import { planModule, probeCodes, PlanError } from '../src/ast/plan.js';
import { parseInstrumentSpec } from '../src/ast/spec.js';
import { fromDebugInfo } from '../src/ast/debugInfo.js';
import { asCall, asNode, asRemoteCall, asVar, kwGet, statements, HYGIENE } from '../src/ast/quoted.js';
import { Atom, ErlMap, Tuple, atom, termEquals, type Term } from '../src/erlang/terms.js';

const TWO = `defmodule Shop.Cart do
  @moduledoc false
  defmacro twice(x), do: quote(do: unquote(x) * 2)

  def total(items, tax \\\\ 0)
  def total([], _tax), do: 0
  def total([item | rest], tax) when is_map(item) do
    subtotal = item.price * item.qty
    subtotal + tax + total(rest, tax)
  end

  defp helper(a), do: a

  def unquote(:dyn)(x), do: helper(x)

  defmodule Line do
    def new(sku), do: %{sku: sku}
  end
end

defmodule Other do
  def f, do: 1
end
`;

const EVERY_LEVEL: Levels = { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' };

/** Every node of a quoted form, depth first. */
function* nodes(t: Term): Generator<Term> {
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    yield x;
    if (x instanceof Tuple) stack.push(...x.elements);
    else if (Array.isArray(x)) stack.push(...x);
  }
}

describe('transformer output and plan', () => {
  let n: AstNode;
  let quoted: Term;
  before(async () => {
    n = await AstNode.start();
    quoted = await n.quote(TWO, 'cart.ex');
  });
  after(() => n.stop());

  it('only the target module comes out, and it compiles', async () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart', all: EVERY_LEVEL });
    const d = asCall(r.quoted, 'defmodule')!;
    assert.ok(d !== undefined);
    assert.deepEqual((asCall(d.args[0]!, '__aliases__')!.args as Atom[]).map((a) => a.name), ['Shop', 'Cart']);
    assert.deepEqual(await n.compile(r.quoted, 'cart.ex'), ['Elixir.Shop.Cart.Line', 'Elixir.Shop.Cart']);
    assert.deepEqual(
      r.functions.map((f) => `${f.kind} ${f.name}/${f.arity} x${f.clauses}`),
      ['def total/2 x2', 'defp helper/1 x1'],
    );
  });

  it('a nested module is compiled alone under its full name, and says so', async () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart.Line', all: { boundaries: true } });
    assert.equal(asCall(r.quoted, 'defmodule')!.args[0], atom('Elixir.Shop.Cart.Line'));
    assert.match(r.report.notes.join('\n'), /nested in another module/);
    assert.deepEqual(await n.compile(r.quoted, 'cart.ex'), ['Elixir.Shop.Cart.Line']);
  });

  it('heads become pattern = es_argN; injected variables are hygienic; injected code carries lines', () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart', all: EVERY_LEVEL });
    const body = kwGet(asCall(r.quoted, 'defmodule')!.args[1]!, 'do')!;
    const clause = statements(body).find((s) => asCall(s, 'def') !== undefined && asCall(s)!.args.length === 2 && JSON.stringify(asCall(asCall(asCall(s)!.args[0]!, 'when')?.args[0] ?? atom('x'))?.name) === '"total"')!;
    const head = asCall(asCall(clause)!.args[0]!, 'when')!.args[0]!;
    const args = asCall(head)!.args;
    assert.equal(args.length, 2);
    for (const [i, a] of args.entries()) {
      const m = asCall(a, '=')!;
      assert.ok(m !== undefined, `argument ${i} is a match`);
      const v = asVar(m.args[1]!)!;
      assert.match(v.name, /^es_arg\d+$/);
      assert.equal(v.context, HYGIENE);
    }
    // Every variable of ours is hygienic; no user variable is named es_*.
    for (const x of nodes(r.quoted)) {
      const v = asVar(x);
      if (v !== undefined && v.name.startsWith('es_')) assert.equal(v.context, HYGIENE, v.name);
    }
    // Every probe point has the user's line: calls of the module's emit function (a line, a result),
    // and the lookups kept inline for payloads that would allocate (locals, values). The one lookup
    // on the module's own line is the emit function's.
    let calls = 0;
    let inline = 0;
    let inEmitter = 0;
    const userLine = (m: Term[]): boolean => {
      const line = kwGet(m, 'line');
      return typeof line === 'number' && line >= 5 && line <= 12;
    };
    for (const x of nodes(r.quoted)) {
      const c = asCall(x, '__elixir_scope_emit__');
      // A call (its kind is an atom), not the function's own head (variables).
      if (c !== undefined && c.args.length === 4 && c.args[0] instanceof Atom) {
        calls++;
        assert.ok(userLine(c.meta), `probe point line ${String(kwGet(c.meta, 'line'))}`);
      }
      const k = asCall(x, 'case');
      const subj = k === undefined ? undefined : asRemoteCall(k.args[0]!);
      if (k === undefined || subj === undefined || subj.target !== atom('persistent_term')) continue;
      if (userLine(k.meta)) inline++;
      else inEmitter++;
    }
    assert.ok(calls > 5 && inline > 5, `${calls} calls, ${inline} inline`);
    assert.equal(inEmitter, 1, 'one lookup in __elixir_scope_emit__/4');
  });

  it('instrumented code calls only :erlang and :persistent_term, never ElixirScope', () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart', all: EVERY_LEVEL });
    const before = new Set<string>();
    for (const x of nodes(quoted)) {
      const rc = asRemoteCall(x);
      if (rc !== undefined && rc.target instanceof Atom) before.add(rc.target.name);
    }
    for (const x of nodes(r.quoted)) {
      const rc = asRemoteCall(x);
      if (rc !== undefined && rc.target instanceof Atom) assert.ok(['erlang', 'persistent_term'].includes(rc.target.name) || before.has(rc.target.name), rc.target.name);
      if (x instanceof Atom && x.name.startsWith('Elixir.ElixirScope')) {
        // Only as a variable's context.
        assert.equal(x, HYGIENE);
      }
    }
    for (const x of nodes(r.quoted)) {
      const nd = asNode(x);
      if (nd !== undefined && nd.args === HYGIENE) assert.ok(nd.form instanceof Atom);
    }
  });

  it('macros, unquote-named defs and default heads are left exactly as they were', () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart', all: EVERY_LEVEL });
    const inStmts = statements(kwGet(asCall(statements(quoted)[0]!)!.args[1]!, 'do')!);
    const outStmts = statements(kwGet(asCall(r.quoted, 'defmodule')!.args[1]!, 'do')!);
    // Two statements more at the end: the probe points' shared functions.
    assert.equal(outStmts.length, inStmts.length + 2);
    assert.deepEqual(outStmts.slice(-2).map((x) => asCall(asCall(x, 'defp')?.args[0] ?? atom('x'))?.name), ['__elixir_scope_emit__', '__elixir_scope_send__']);
    const same = (i: number): boolean => termEquals(inStmts[i]!, outStmts[i]!);
    assert.ok(same(0), '@moduledoc');
    assert.ok(same(1), 'defmacro');
    assert.ok(same(2), 'the bodyless head with the default');
    assert.ok(!same(3) && !same(4), 'total/2 clauses are instrumented');
    assert.ok(!same(5), 'defp helper/1 is instrumented');
    assert.ok(same(6), 'def unquote(:dyn)');
    assert.ok(same(7), 'nested defmodule');
  });

  it('the plan: levels add up; options narrow them; hybrid functions get no boundaries', () => {
    const p1 = planModule([parseInstrumentSpec('Shop.Cart.total/2:level=expressions')], quoted);
    assert.deepEqual(p1.functions, [{ name: 'total', arity: 2, levels: { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' } }]);
    const p2 = planModule([parseInstrumentSpec('Shop.Cart.total/2:locals=subtotal;lines=8,9')], quoted, { runtimeTraced: ['total/2'] });
    assert.deepEqual(p2.functions, [{ name: 'total', arity: 2, levels: { boundaries: false, lines: [8, 9], locals: { names: ['subtotal'], at: [8, 9] } } }]);
    // The generated arity (a default) names the real function.
    const p3 = planModule([parseInstrumentSpec('Shop.Cart.total/1')], quoted);
    assert.deepEqual(p3.functions, [{ name: 'total', arity: 2, levels: { boundaries: true } }]);
    const p4 = planModule([parseInstrumentSpec('Shop.Cart:level=lines')], quoted);
    assert.deepEqual(p4, { module: 'Elixir.Shop.Cart', all: { boundaries: true, lines: '*' } });
  });

  it('the plan carries probes parsed on the target', async () => {
    const spec = parseInstrumentSpec('Shop.Cart.total/2:probe=9:subtotal * 2');
    const codes = probeCodes([spec]);
    assert.deepEqual(codes, ['subtotal * 2']);
    const probes = new Map([[codes[0]!, await n.quote(codes[0]!, 'probe')]]);
    const plan = planModule([spec], quoted, { probes });
    const p = plan.functions![0]!.levels.probes![0]!;
    assert.equal(p.label, 'subtotal * 2');
    assert.equal(asCall(p.quoted, '*')?.args[1], 2);
    assert.throws(() => planModule([spec], quoted), /was not parsed/);
  });

  it('the plan refuses what the source lacks, listing what it has', () => {
    const refuse = (text: string, re: RegExp): void => {
      assert.throws(() => planModule([parseInstrumentSpec(text)], quoted), (e: unknown) => e instanceof PlanError && re.test(e.message), text);
    };
    refuse('Shop.Cart.totl/1', /defines no function totl in its source; it defines: total\/2 \(also \/1 through defaults\), helper\/1/);
    refuse('Shop.Cart.total/3', /has no total\/3; total is defined as total\/2/);
    refuse('Shop.Cart.twice/1', /is a macro: it runs at compile time/);
    refuse('Shop.Cart.total/2:lines=20', /lines=20: line 20 is not inside Shop.Cart.total\/2 \(lines: total\/2 6, 7-10\)/);
    refuse('Shop.Cart.total/2:probe=3:x', /probe=3: line 3 is not inside/);
    refuse('Shop.Cart.total/2:locals=subtotl', /has no variable named subtotl; its variables are item, rest, subtotal, tax/);
    refuse('Shop.Basket', /the source has no defmodule Shop.Basket \(it defines Shop.Cart, Shop.Cart.Line, Other\)/);
    assert.throws(() => planModule([parseInstrumentSpec('Shop.Cart'), parseInstrumentSpec('Other')], quoted), /one plan covers one module/);
    assert.throws(() => instrumentModule(quoted, { module: 'Elixir.Nope', all: { boundaries: true } }), InstrumentError);
    assert.throws(() => instrumentModule(quoted, { module: 'Elixir.Shop.Cart', functions: [{ name: 'nope', arity: 1, levels: { boundaries: true } }] }), /has no function nope\/1/);
  });

  it('notes name chosen lines where nothing starts', () => {
    const r = instrumentModule(quoted, { module: 'Elixir.Shop.Cart', functions: [{ name: 'total', arity: 2, levels: { boundaries: true, lines: [8, 10] } }] });
    assert.deepEqual(r.report.notes, ['total/2: no expression starts on line 10, so nothing is recorded there']);
  });
});

describe('fromDebugInfo', () => {
  let n: AstNode;
  before(async () => {
    n = await AstNode.start();
    await n.evalElixir(':erlang.system_flag(:backtrace_depth, 64)');
    await n.compile(await n.quote(RUNNER, 'runner.ex'), 'runner.ex');
  });
  after(() => n.stop());

  const run = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [f, args] of CALLS) out.push(await n.evalElixir(`Runner.capture(Shapes, :${f}, ${args})`));
    return out;
  };

  it('rebuilds a module that behaves as the original, before and after instrumentation', async () => {
    const [[mod, bin]] = (await n.compileBinaries(await n.quote(SHAPES, 'shapes.ex'), 'shapes.ex')) as [[string, Buffer]];
    assert.equal(mod, 'Elixir.Shapes');
    const original = await run();
    const exportsBefore = await n.evalElixir('Shapes.module_info(:exports) |> Enum.sort()');
    const chunks = (await n.remote.rpc('beam_lib', 'chunks', [bin, [atom('debug_info')]])) as Tuple;
    const entry = (((chunks.elements[1] as Tuple).elements[1] as Term[])[0] as Tuple).elements[1] as Tuple;
    const [, backend, data] = entry.elements;
    const info = (await n.remote.rpc(backend as Atom, 'debug_info', [atom('elixir_v1'), atom(mod), data!, []])) as Tuple;
    const map = info.elements[1] as ErlMap;
    const rebuilt = fromDebugInfo(map.getAtom('definitions')!, map.getAtom('attributes')!, mod);

    await n.compile(rebuilt, 'shapes.ex');
    assert.equal(await n.evalElixir('Shapes.module_info(:exports) |> Enum.sort()'), exportsBefore);
    assert.equal(await n.evalElixir('Shapes.module_info(:attributes)[:behaviour]'), 'nil');
    const plain = await run();
    const inst = instrumentModule(rebuilt, { module: 'Elixir.Shapes', all: EVERY_LEVEL });
    await n.compile(inst.quoted, 'shapes.ex');
    const instrumented = await run();
    for (let i = 0; i < CALLS.length; i++) {
      const [f, args] = CALLS[i]!;
      if (f === 'crash_remote') continue;
      assert.equal(plain[i], original[i], `rebuilt: Shapes.${f}(${args.slice(1, -1)})`);
      assert.equal(instrumented[i], original[i], `rebuilt and instrumented: Shapes.${f}(${args.slice(1, -1)})`);
    }
    assert.ok(inst.functions.length >= 30);
  });
});
