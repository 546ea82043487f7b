/** Trace specs of `elixir-scope record`: modules, functions, call patterns, processes, summaries. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describe,
  describeProcess,
  isFiltered,
  parseFunctionSpec,
  parseModuleSpec,
  parseProcessSpec,
  SpecError,
  type CallTarget,
} from '../src/runtime/traceSpec.js';
import { inspect } from '../src/erlang/inspect.js';
import type { Term } from '../src/erlang/terms.js';

const row = (t: CallTarget): unknown[] => [t.module, t.function, t.arity, inspect(t.matchSpec as Term), describe(t), isFiltered(t)];

test('--module: Elixir aliases and Erlang atoms', () => {
  const golden: Array<[string, unknown[]]> = [
    ['Shop.Cart', ['Elixir.Shop.Cart', '_', '_', '[{:_, [], []}]', 'Shop.Cart (every function)', false]],
    [':lists', ['lists', '_', '_', '[{:_, [], []}]', ':lists (every function)', false]],
    ['lists', ['lists', '_', '_', '[{:_, [], []}]', ':lists (every function)', false]],
    [':"Elixir.Foo"', ['Elixir.Foo', '_', '_', '[{:_, [], []}]', 'Foo (every function)', false]],
    ['Elixir.Shop.Cart', ['Elixir.Shop.Cart', '_', '_', '[{:_, [], []}]', 'Shop.Cart (every function)', false]],
    ["'my mod'", ['my mod', '_', '_', '[{:_, [], []}]', ':"my mod" (every function)', false]],
    ['  Shop.Cart  ', ['Elixir.Shop.Cart', '_', '_', '[{:_, [], []}]', 'Shop.Cart (every function)', false]],
  ];
  for (const [spec, want] of golden) assert.deepEqual(row(parseModuleSpec(spec)), want, spec);
  assert.throws(() => parseModuleSpec('Shop.Cart.add/2'), SpecError);
});

test('--function: name/arity, any arity, Erlang forms, call patterns', () => {
  const golden: Array<[string, unknown[]]> = [
    ['Shop.Cart.add/2', ['Elixir.Shop.Cart', 'add', 2, '[{:_, [], []}]', 'Shop.Cart.add/2', false]],
    ['Shop.Cart.add', ['Elixir.Shop.Cart', 'add', '_', '[{:_, [], []}]', 'Shop.Cart.add/*', false]],
    [':lists.seq/2', ['lists', 'seq', 2, '[{:_, [], []}]', ':lists.seq/2', false]],
    ['lists:seq/2', ['lists', 'seq', 2, '[{:_, [], []}]', ':lists.seq/2', false]],
    ['lists.seq', ['lists', 'seq', '_', '[{:_, [], []}]', ':lists.seq/*', false]],
    ['Shop.Cart.valid?/1', ['Elixir.Shop.Cart', 'valid?', 1, '[{:_, [], []}]', 'Shop.Cart.valid?/1', false]],
    [':"Elixir.Foo".bar/0', ['Elixir.Foo', 'bar', 0, '[{:_, [], []}]', 'Foo.bar/0', false]],
    [
      'Shop.Cart.add(_, %{qty: 0})',
      ['Elixir.Shop.Cart', 'add', 2, '[{[:_, %{{:"$es_atom", "qty"} => 0}], [], []}]', 'Shop.Cart.add(_, %{qty: 0})', true],
    ],
    [
      'Shop.Pricing.quote(sku, qty) when qty > 10 and is_integer(qty)',
      [
        'Elixir.Shop.Pricing',
        'quote',
        2,
        '[{[:"$1", :"$2"], [{:andalso, {:>, :"$2", 10}, {:is_integer, :"$2"}}], []}]',
        'Shop.Pricing.quote(sku, qty) when qty > 10 and is_integer(qty)',
        true,
      ],
    ],
    [':ets.lookup(:my_table, _)', ['ets', 'lookup', 2, '[{[{:"$es_atom", "my_table"}, :_], [], []}]', ':ets.lookup(:my_table, _)', true]],
    ['Shop.Cart.add/2(_, q)', ['Elixir.Shop.Cart', 'add', 2, '[{[:_, :"$1"], [], []}]', 'Shop.Cart.add(_, q)', true]],
    ['Shop.Cart.add(_, _)', ['Elixir.Shop.Cart', 'add', 2, '[{[:_, :_], [], []}]', 'Shop.Cart.add(_, _)', false]],
    ['Shop.Cart.clear()', ['Elixir.Shop.Cart', 'clear', 0, '[{[], [], []}]', 'Shop.Cart.clear()', false]],
  ];
  for (const [spec, want] of golden) assert.deepEqual(row(parseFunctionSpec(spec)), want, spec);
});

test('--function mistakes point at the column', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['Shop.Cart', 10, /expected a function name after the module/],
    ['Shop.Cart.add/x', 15, /expected an arity/],
    ['Shop.Cart.add/300', 15, /expected an arity \(0 to 255\)/],
    ['shop cart', 5, /expected '\.' and a function name/],
    ['Shop.Cart.add/2 (a)', 19, /the pattern has 1 argument but the arity given is 2/],
    [':_.foo', 2, /"_" cannot be traced by name/],
    ['Shop.Cart.add[1]', 14, /expected '\(' with argument patterns/],
    ['Shop.Cart.add(_, %{qty: 0}', 27, /expected '\)'/],
    ['Shop.Pricing.quote(sku, qty) when foo(qty)', 35, /unknown function in guard: foo\/1/],
    ['', 1, /expected a module/],
  ];
  for (const [spec, column, reason] of cases) {
    assert.throws(
      () => parseFunctionSpec(spec),
      (e: unknown) => e instanceof SpecError && reason.test(e.reason) && e.column === column,
      spec,
    );
  }
});

test('describe() works for targets built elsewhere', () => {
  assert.equal(describe({ module: 'Elixir.Shop.Cart', function: 'add', arity: 2, matchSpec: [] }), 'Shop.Cart.add/2 (filtered)');
  assert.equal(describe({ module: 'lists', function: '_', arity: '_', matchSpec: [] }), ':lists (every function)');
  const all = parseModuleSpec('Shop.Cart');
  assert.equal(isFiltered({ ...all }), false);
});

test('--pid and --name', () => {
  for (const s of ['<0.123.0>', '#PID<0.123.0>', '0.123.0', ' <0.123.0> ']) {
    assert.deepEqual(parseProcessSpec('pid', s), { kind: 'pid', parts: [0, 123, 0] }, s);
  }
  assert.equal(describeProcess(parseProcessSpec('pid', '<0.5.0>')), '#PID<0.5.0>');
  assert.throws(() => parseProcessSpec('pid', 'pid'), /expected a pid[\s\S]*<0\.123\.0>/);
  assert.throws(() => parseProcessSpec('pid', '<0.1>'), SpecError);

  assert.deepEqual(parseProcessSpec('name', 'Shop.Inventory'), { kind: 'name', name: 'Elixir.Shop.Inventory' });
  assert.deepEqual(parseProcessSpec('name', ':inventory'), { kind: 'name', name: 'inventory' });
  assert.deepEqual(parseProcessSpec('name', 'inventory'), { kind: 'name', name: 'inventory' });
  assert.equal(describeProcess(parseProcessSpec('name', 'Shop.Inventory')), 'Shop.Inventory');
  assert.equal(describeProcess(parseProcessSpec('name', 'inventory')), ':inventory');
  assert.throws(() => parseProcessSpec('name', '{:global, :x}'), /only locally registered names/);
  assert.throws(() => parseProcessSpec('name', 'Shop.Inventory.x'), /expected the end of the name/);
});
