/**
 * The match-spec compiler proven against the real language: for every (pattern, arguments) case,
 * Elixir's own `match?([patterns] when guard, args)` on an elixir node must agree with
 * `erlang:match_spec_test(Args, MS, trace)` on a plain erl node, where MS is our compiled spec with
 * the `{'$es_atom', Bin}` markers resolved to atoms (as the agent does).
 *
 * The arguments are written once, in Elixir; the elixir node evaluates them and hands them over as
 * term_to_binary, so both sides see the very same terms.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type BeamNode } from './support/beam.js';
import { encode } from '../src/erlang/etf/index.js';
import { compileCall } from '../src/runtime/matchSpec.js';

interface Case {
  /** The argument patterns, as inside `Mod.fun(...)`. */
  pats: string;
  guard?: string;
  /** Each entry is one call's argument list, in Elixir. */
  calls: string[];
}

const STRUCT = '%Shop.Line{sku: "a", qty: 2}';

const CASES: Case[] = [
  { pats: '_, %{qty: 0}', calls: ['[1, %{qty: 0}]', '[1, %{qty: 0, sku: "a"}]', '[1, %{qty: 1}]', '[1, %{}]', '[1, [qty: 0]]'] },
  { pats: 'sku, qty', guard: 'qty > 10 and is_integer(qty)', calls: ['["a", 11]', '["a", 10]', '["a", 11.5]', '["a", :x]'] },
  { pats: ':my_table, _', calls: ['[:my_table, 1]', '[:other, 1]', '["my_table", 1]'] },
  { pats: '{x, x}', calls: ['[{1, 1}]', '[{1, 2}]', '[{1, 1.0}]'] },
  { pats: '[h | t]', guard: 'is_list(t) and h > 0', calls: ['[[1]]', '[[]]', '[[1, 2]]', '[[0]]'] },
  { pats: '[1, 2 | rest]', guard: 'rest == []', calls: ['[[1, 2]]', '[[1, 2, 3]]', '[[1]]'] },
  { pats: '%Shop.Line{qty: q}', guard: 'q >= 1', calls: [`[${STRUCT}]`, '[%Shop.Line{qty: 0}]', '[%{qty: 5}]', '[%{__struct__: Shop.Other, qty: 5}]'] },
  { pats: '%_{}', calls: [`[${STRUCT}]`, '[%{qty: 5}]', '[5]'] },
  { pats: '%mod{}', guard: 'mod == Shop.Line', calls: [`[${STRUCT}]`, '[%{__struct__: Foo}]'] },
  { pats: '%{"k" => v, :a => 1}', guard: 'is_binary(v)', calls: ['[%{"k" => "x", a: 1}]', '[%{"k" => 1, a: 1}]', '[%{"k" => "x"}]'] },
  { pats: 'x', guard: 'x in [:a, :b, 3]', calls: ['[:a]', '[:c]', '[3]', '[3.0]'] },
  { pats: 'x', guard: 'x not in [1, 2]', calls: ['[1]', '[5]'] },
  { pats: 'x, y, z', guard: 'x in [y, z, :c]', calls: ['[1, 2, 1]', '[1, 2, 3]', '[:c, 1, 2]'] },
  { pats: 'x', guard: 'x in 1..10', calls: ['[1]', '[10]', '[11]', '[5.0]'] },
  { pats: 'x', guard: 'x in 10..1', calls: ['[1]', '[0]'] },
  { pats: 'x', guard: 'x == 1', calls: ['[1]', '[1.0]', '[2]'] },
  { pats: 'x', guard: 'x === 1', calls: ['[1]', '[1.0]'] },
  { pats: 'x', guard: 'x != 1', calls: ['[1.0]', '[2]'] },
  { pats: 'x', guard: 'x !== 1', calls: ['[1.0]', '[1]'] },
  { pats: '"abc"', calls: ['["abc"]', '["abd"]', "['abc']"] },
  { pats: "'abc'", calls: ["['abc']", '["abc"]'] },
  { pats: '-5, 1_000, 123456789012345678901234567890', calls: ['[-5, 1000, 123456789012345678901234567890]', '[5, 1000, 123456789012345678901234567890]'] },
  { pats: '1.5', calls: ['[1.5]', '[1]'] },
  { pats: '{:ok, {a, [b | _]}}', guard: 'a < b', calls: ['[{:ok, {1, [2, 3]}}]', '[{:ok, {3, [2]}}]', '[{:ok, {1, []}}]'] },
  { pats: 'x', guard: 'is_nil(x) or is_boolean(x)', calls: ['[nil]', '[true]', '[0]'] },
  { pats: 't', guard: 'elem(t, 0) == :ok', calls: ['[{:ok, 1}]', '[{:error}]', '[:ok]'] },
  { pats: 't, i', guard: 'elem(t, i) == 2', calls: ['[{1, 2}, 1]', '[{1, 2}, 0]', '[{1, 2}, 5]'] },
  { pats: 't', guard: 'tuple_size(t) == 2', calls: ['[{1, 2}]', '[{1}]', '["ab"]'] },
  { pats: 't', guard: 'not (tuple_size(t) == 2)', calls: ['["ab"]', '[{1}]', '[{}]'] },
  { pats: 'l', guard: 'length(l) > 2 and hd(l) == 1', calls: ['[[1, 2, 3]]', '[[1, 2]]', '[[2, 3, 4]]', '[:x]'] },
  { pats: 'l', guard: 'tl(l) == [2]', calls: ['[[1, 2]]', '[[1]]'] },
  { pats: 'm', guard: 'map_size(m) == 1 and is_map_key(m, :a)', calls: ['[%{a: 1}]', '[%{b: 1}]', '[%{a: 1, b: 2}]'] },
  { pats: 'm', guard: ':erlang.map_get(:a, m) > 1', calls: ['[%{a: 2}]', '[%{a: 0}]', '[%{}]'] },
  { pats: 'b', guard: 'byte_size(b) > 3 and binary_part(b, 0, 2) == "ab"', calls: ['["abcd"]', '["abc"]', '["xbcd"]'] },
  { pats: 'x, y', guard: 'x + y * 2 == 7', calls: ['[1, 3]', '[3, 2]'] },
  { pats: 'x, y', guard: 'x / y == 2.0', calls: ['[4, 2]', '[4, 0]', '[5, 2]'] },
  { pats: 'x, y', guard: 'div(x, y) == 2 and rem(x, y) == 1', calls: ['[5, 2]', '[4, 2]'] },
  { pats: 'x', guard: 'abs(x) > 3 and -x < 0', calls: ['[5]', '[-5]', '[2]'] },
  { pats: 'x', guard: 'not is_atom(x)', calls: ['[1]', '[:a]'] },
  { pats: 'x', guard: 'x > 1 and x < 5 or x == 10', calls: ['[3]', '[10]', '[7]'] },
  { pats: 'x', guard: '(x > 1 or x == 0) and is_integer(x)', calls: ['[0]', '[2]', '[2.0]', '[-1]'] },
  { pats: 'x', guard: 'not x == true', calls: ['[false]', '[true]', '[1]'] },
  { pats: '[a: x]', guard: 'x > 0', calls: ['[[a: 1]]', '[[b: 1]]', '[[a: 1, b: 2]]', '[[a: 0]]'] },
  { pats: '[{:a, _}, b: 2]', calls: ['[[a: 1, b: 2]]', '[[a: 1, b: 3]]'] },
  { pats: '%{a: %{b: [c | _]}}', guard: 'is_tuple(c)', calls: ['[%{a: %{b: [{1}]}}]', '[%{a: %{b: [1]}}]', '[%{a: %{b: []}}]'] },
  { pats: '<<"ab">>', calls: ['["ab"]', '["abc"]'] },
  { pats: '<<1, 2, "c">>', calls: ['[<<1, 2, 99>>]', '[<<1, 2>>]'] },
  { pats: 'x', guard: 'x == {:ok, 1}', calls: ['[{:ok, 1}]', '[{:ok, 2}]'] },
  { pats: 'x, y', guard: '{x, y} == {1, :a}', calls: ['[1, :a]', '[1, :b]'] },
  { pats: 'x, y', guard: '[x, y] == [1, 2]', calls: ['[1, 2]', '[2, 1]'] },
  { pats: 'x, y', guard: '[x | y] == [1, 2]', calls: ['[1, [2]]', '[1, 2]'] },
  { pats: 'x, y', guard: '%{a: x} == y', calls: ['[1, %{a: 1}]', '[1, %{a: 2}]'] },
  { pats: 'x', guard: 'is_struct(x)', calls: [`[${STRUCT}]`, '[%{a: 1}]', '[%{__struct__: "no"}]'] },
  { pats: '_a, _a', calls: ['[1, 1]', '[1, 2]'] },
  { pats: 'Shop.Cart', calls: ['[Shop.Cart]', '[:"Elixir.Shop.Cart"]', '[:shop]'] },
  { pats: ':"quoted atom", :ok', calls: ['[:"quoted atom", :ok]', '[:quoted, :ok]'] },
  { pats: '?a, nil, true', calls: ['[97, nil, true]', '[98, nil, true]'] },
  { pats: 'x', guard: 'is_float(x) and trunc(x) == 2 and round(x) == 3', calls: ['[2.5]', '[2.4]', '[2]'] },
  { pats: 'x, x', guard: 'is_list(x)', calls: ['[[1], [1]]', '[[1], [2]]', '[1, 1]'] },
  { pats: 'x', guard: 'x', calls: ['[true]', '[1]'] },
  { pats: 'x', guard: '-x == -3 and +x == 3', calls: ['[3]', '[4]'] },
  { pats: 'x', guard: 'is_number(x) and x >= 0x10 and x <= 0b10001', calls: ['[16]', '[17.0]', '[18]'] },
  { pats: 'x', guard: 'x == "é\\n"', calls: ['["é\\n"]', '["e\\n"]'] },
  { pats: '[]', calls: ['[[]]', '[[1]]'] },
  { pats: '{}', calls: ['[{}]', '[{1}]'] },
  { pats: '%{}', calls: ['[%{}]', '[%{a: 1}]', '[[]]'] },
  { pats: '', calls: ['[]'] },
  { pats: 'x, y', guard: 'x < y and y < :atom', calls: ['[1, 2]', '[1, :b]', '[1, "s"]'] },
  // Precedence, as Elixir parses it.
  { pats: 'x', guard: 'x in [1, 2] == true', calls: ['[1]', '[3]'] },
  { pats: 'x', guard: 'x + 1 in [2, 3]', calls: ['[1]', '[3]'] },
  { pats: 'x', guard: 'x * 2 - 1 > 2 * x - 2', calls: ['[1]', '[2.5]'] },
  { pats: '%{a: a, b: b}', guard: 'a == b or a > b and b > 0', calls: ['[%{a: 1, b: 1}]', '[%{a: 2, b: 1}]', '[%{a: 2, b: 0}]', '[%{a: 0, b: 1}]'] },
  { pats: '{a, b}', guard: 'is_map(a) and map_size(a) > 0 or b == :x', calls: ['[{%{k: 1}, 1}]', '[{%{}, :x}]', '[{%{}, :y}]', '[{1, :x}]'] },
  { pats: '[h | _]', guard: 'h in [?a, ?b]', calls: ["['abc']", "['xyz']"] },
  { pats: 'x', guard: 'is_integer(x) and x > 1_000_000_000_000_000_000', calls: ['[1_000_000_000_000_000_001]', '[5]'] },
];

// Substitutes the markers as the agent does (here with binary_to_atom: the test may create atoms).
const SUBST = `Subst = fun S({'$es_atom', B}) when is_binary(B) -> binary_to_atom(B, utf8);
  S(T) when is_tuple(T) -> list_to_tuple(S(tuple_to_list(T)));
  S([H | T]) -> [S(H) | S(T)];
  S(M) when is_map(M) -> maps:from_list([{S(K), S(V)} || {K, V} <- maps:to_list(M)]);
  S(X) -> X end`;

describe('compiled match specs agree with Elixir match?/2 on real nodes', () => {
  let erl: BeamNode;
  let ex: BeamNode;

  before(async () => {
    [erl, ex] = await Promise.all([startNode({ kind: 'erl' }), startNode({ kind: 'elixir' })]);
    await ex.evalElixir('defmodule Shop.Line do\n defstruct [:sku, qty: 0]\nend; :ok');
  });

  after(async () => {
    await Promise.all([erl?.stop(), ex?.stop()]);
  });

  it(`${CASES.reduce((n, c) => n + c.calls.length, 0)} calls against ${CASES.length} patterns`, async () => {
    const flat = CASES.flatMap((c) => c.calls.map((args) => ({ c, args })));

    // Elixir's verdicts, and the arguments as ETF.
    const exprs = flat.map(({ c, args }) => {
      const guard = c.guard ?? 'true';
      return `(fn a -> {match?([${c.pats}] when ${guard}, a), Base.encode64(:erlang.term_to_binary(a))} end).(${args})`;
    });
    const exOut = await ex.evalElixir(`[${exprs.join(',\n')}] |> Enum.map(fn {b, s} -> "#{b}:#{s}" end) |> Enum.join(";")`);
    const verdicts = JSON.parse(exOut) as string;
    const rows = verdicts.split(';').map((r) => {
      const [b, s] = r.split(':');
      return { elixir: b === 'true', argsB64: s! };
    });
    assert.equal(rows.length, flat.length);

    // Our match specs, judged by the plain Erlang node.
    const items = flat.map(({ c }, i) => {
      const spec = `M.f(${c.pats})${c.guard !== undefined ? ` when ${c.guard}` : ''}`;
      const ms = compileCall(spec, 3).matchSpec;
      return `{<<"${encode(ms).toString('base64')}">>, <<"${rows[i]!.argsB64}">>}`;
    });
    const erlOut = await erl.eval(`${SUBST},
      [case erlang:match_spec_test(binary_to_term(base64:decode(A)), Subst(binary_to_term(base64:decode(M))), trace) of
         {ok, R, _, _} -> R;
         Other -> Other
       end || {M, A} <- [${items.join(',\n')}]]`);
    const ours = erlOut.replace(/\s+/g, '').replace(/^\[|\]$/g, '').split(',');
    assert.equal(ours.length, flat.length, `unexpected answer from match_spec_test: ${erlOut}`);

    const disagreements = flat
      .map(({ c, args }, i) => ({ c, args, elixir: rows[i]!.elixir, ours: ours[i] }))
      .filter((r) => String(r.elixir) !== r.ours)
      .map((r) => `M.f(${r.c.pats})${r.c.guard !== undefined ? ` when ${r.c.guard}` : ''} with ${r.args}: Elixir ${r.elixir}, match spec ${r.ours}`);
    assert.deepEqual(disagreements, []);
    // Both answers occur, so the table really tests something in each direction.
    assert.ok(rows.some((r) => r.elixir) && rows.some((r) => !r.elixir));
  });
});
