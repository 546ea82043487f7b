/**
 * What each level reports, received from real instrumented code on a real node: function boundaries
 * (arguments as received, the result and the line it came from, exceptions as {class, reason}),
 * line events (all or chosen lines), locals (named or all, after chosen lines or each expression),
 * expression values (pipe steps, the branch taken), and probes (before and after a line, run only
 * when someone listens, a raising probe never harming the function).
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode, type AstEvent } from './support/astNode.js';
import { instrumentModule, type Levels, type Probe } from '../src/ast/transform.js';
import { type Term } from '../src/erlang/terms.js';

const CART = `defmodule Cart do
  def total(items) do
    sum = items |> Enum.map(& &1.price) |> Enum.sum()
    discount = if sum > 100, do: 10, else: 0
    sum - discount
  end

  def classify(x) do
    case x do
      n when n < 0 -> :neg
      0 -> :zero
      _ -> :pos
    end
  end

  def risky(x) do
    y = x * 2
    1 / (y - 2)
  end

  def tosses(x), do: throw({:tossed, x})
end
`;

const ITEMS = '[%{price: 160}, %{price: 50}]';

describe('what each level reports', () => {
  let n: AstNode;
  let quoted: Term;
  const show = (es: AstEvent[]): string[] => es.map((e) => `${e.kind} ${e.mfa} ${n.local.render(e.line)} ${n.local.render(e.payload)}`);
  /** Instruments Cart with `levels` on every function, runs `code` on the node, returns its value and the events. */
  const runWith = async (levels: Levels, code: string): Promise<{ value: string; events: string[] }> => {
    await n.compile(instrumentModule(quoted, { module: 'Elixir.Cart', all: levels }).quoted, 'cart.ex');
    await n.listen('Elixir.Cart');
    try {
      const value = await n.evalElixir(code);
      return { value, events: show(await n.drain()) };
    } finally {
      await n.unlisten('Elixir.Cart');
    }
  };
  const probe = async (line: number, when: 'before' | 'after', code: string): Promise<Probe> => ({ line, when, label: code, quoted: await n.quote(code, 'probe') });

  before(async () => {
    n = await AstNode.start();
    quoted = await n.quote(CART, 'cart.ex');
  });
  after(() => n.stop());

  it('function boundaries: call with the arguments, return with the result and its line', async () => {
    const r = await runWith({ boundaries: true }, `Cart.total(${ITEMS})`);
    assert.equal(r.value, '200');
    assert.deepEqual(r.events, ['call Cart.total/1 2 [[%{price: 160}, %{price: 50}]]', 'return Cart.total/1 5 200']);
    // Several exits on different lines: the return names the one taken.
    const c = await runWith({ boundaries: true }, '{Cart.classify(-1), Cart.classify(5)}');
    assert.deepEqual(c.events, ['call Cart.classify/1 8 [-1]', 'return Cart.classify/1 10 :neg', 'call Cart.classify/1 8 [5]', 'return Cart.classify/1 12 :pos']);
  });

  it('exceptions: {class, reason}, re-raised unchanged', async () => {
    const r = await runWith({ boundaries: true }, 'try do Cart.risky(1) rescue e -> {:rescued, e} end');
    assert.equal(r.value, '{:rescued, %ArithmeticError{message: "bad argument in arithmetic expression"}}');
    assert.deepEqual(r.events, ['call Cart.risky/1 16 [1]', 'exception Cart.risky/1 16 {:error, :badarith}']);
    const t = await runWith({ boundaries: true }, 'try do Cart.tosses(1000) catch :throw, v -> v end');
    assert.equal(t.value, '{:tossed, 1000}');
    assert.deepEqual(t.events, ['call Cart.tosses/1 21 [1000]', 'exception Cart.tosses/1 21 {:throw, {:tossed, 1000}}']);
  });

  it('lines: every line that runs, or only the chosen ones', async () => {
    const all = await runWith({ boundaries: false, lines: '*' }, `Cart.total(${ITEMS})`);
    assert.deepEqual(all.events, ['line Cart.total/1 3 nil', 'line Cart.total/1 4 nil', 'line Cart.total/1 5 nil']);
    const some = await runWith({ boundaries: false, lines: [3, 5, 11] }, `{Cart.total(${ITEMS}), Cart.classify(0), Cart.classify(1)}`);
    assert.deepEqual(some.events, ['line Cart.total/1 3 nil', 'line Cart.total/1 5 nil', 'line Cart.classify/1 11 nil']);
  });

  it('locals: every binding after each expression, or the named ones after chosen lines', async () => {
    const all = await runWith({ boundaries: false, locals: { names: '*', at: '*' } }, `Cart.total(${ITEMS})`);
    assert.deepEqual(all.events, [
      'locals Cart.total/1 3 [items: [%{price: 160}, %{price: 50}], sum: 210]',
      'locals Cart.total/1 4 [items: [%{price: 160}, %{price: 50}], sum: 210, discount: 10]',
      'locals Cart.total/1 5 [items: [%{price: 160}, %{price: 50}], sum: 210, discount: 10]',
    ]);
    const named = await runWith({ boundaries: false, locals: { names: ['discount', 'sum'], at: [4] } }, `Cart.total(${ITEMS})`);
    assert.deepEqual(named.events, ['locals Cart.total/1 4 [sum: 210, discount: 10]']);
    // Clause patterns bind inside their clause.
    const clause = await runWith({ boundaries: false, locals: { names: '*', at: [10] } }, 'Cart.classify(-3)');
    assert.deepEqual(clause.events, ['locals Cart.classify/1 10 [x: -3, n: -3]']);
  });

  it('expressions: each pipe step, the whole value, and the branch taken', async () => {
    const r = await runWith({ boundaries: false, expr: '*' }, `Cart.total(${ITEMS})`);
    assert.deepEqual(r.events, [
      'expr Cart.total/1 3 {"items", [%{price: 160}, %{price: 50}]}',
      'expr Cart.total/1 3 {"|> Enum.map(&(&1.price))", [160, 50]}',
      'expr Cart.total/1 3 {"sum = items |> Enum.map(&(&1.price)) |> Enum.sum()", 210}',
      'expr Cart.total/1 4 {"if sum > 100: do", true}',
      'expr Cart.total/1 4 {"discount = if sum > 100, do: 10, else: 0", 10}',
      'expr Cart.total/1 5 {"sum - discount", 200}',
    ]);
    const c = await runWith({ boundaries: false, expr: [9] }, '{Cart.classify(0), Cart.classify(-2)}');
    assert.deepEqual(c.events, ['expr Cart.classify/1 9 {"case clause 2: 0", 0}', 'expr Cart.classify/1 9 {"case clause 1: n when n < 0", -2}']);
  });

  it('probes: before and after a line, with the values in scope there', async () => {
    const probes = [await probe(5, 'before', 'length(items) + discount'), await probe(3, 'after', 'sum * 2')];
    const r = await runWith({ boundaries: false, probes }, `Cart.total(${ITEMS})`);
    assert.equal(r.value, '200');
    assert.deepEqual(r.events, ['probe Cart.total/1 3 {"sum * 2", 420}', 'probe Cart.total/1 5 {"length(items) + discount", 12}']);
  });

  it('a probe that raises is recorded as an error and the function goes on', async () => {
    const r = await runWith({ boundaries: true, probes: [await probe(4, 'before', 'hd([]) + sum')] }, `Cart.total(${ITEMS})`);
    assert.equal(r.value, '200');
    assert.deepEqual(r.events, [
      'call Cart.total/1 2 [[%{price: 160}, %{price: 50}]]',
      'probe Cart.total/1 4 {"hd([]) + sum", {:es_probe_error, :error, :badarg}}',
      'return Cart.total/1 5 200',
    ]);
  });

  it('a probe runs only when someone listens', async () => {
    const code = `Cart.total(${ITEMS}); receive do :probed -> :ran after 0 -> :did_not_run end`;
    const levels: Levels = { boundaries: false, probes: [await probe(4, 'before', 'send(self(), :probed)')] };
    assert.equal((await runWith(levels, code)).value, ':ran');
    // Compiled the same way, nobody listening now.
    assert.equal(await n.evalElixir(code), ':did_not_run');
  });
});
