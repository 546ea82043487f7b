/**
 * The pattern/guard → match spec compiler, against golden match specs (printed with inspect, so a
 * change shows as a readable diff) and golden errors. runtime-matchspec-beam.test.ts proves the
 * same compiler against Elixir's own match?/2 on real nodes.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCall, SpecError, userAtom, matchAll } from '../src/runtime/matchSpec.js';
import { inspect } from '../src/erlang/inspect.js';
import { atom, ErlMap, isTuple, type Term } from '../src/erlang/terms.js';

const show = (t: Term): string => inspect(t, { limit: Infinity });

// [spec, the compiled match spec as inspect prints it]
const GOLDEN: Array<[string, string]> = [
  ["()", "[{[], [], []}]"],
  ["(_, _)", "[{[:_, :_], [], []}]"],
  ["(_, %{qty: 0})", "[{[:_, %{{:\"$es_atom\", \"qty\"} => 0}], [], []}]"],
  ["(sku, qty) when qty > 10 and is_integer(qty)", "[{[:\"$1\", :\"$2\"], [{:andalso, {:>, :\"$2\", 10}, {:is_integer, :\"$2\"}}], []}]"],
  ["({x, x}, [h | t])", "[{[{:\"$1\", :\"$1\"}, [:\"$2\" | :\"$3\"]], [], []}]"],
  ["([1, 2 | rest])", "[{[[1, 2 | :\"$1\"]], [], []}]"],
  ["([a | [b]])", "[{[[:\"$1\", :\"$2\"]], [], []}]"],
  ["(%Shop.Line{qty: q})", "[{[%{:__struct__ => {:\"$es_atom\", \"Elixir.Shop.Line\"}, {:\"$es_atom\", \"qty\"} => :\"$1\"}], [], []}]"],
  ["(%_{})", "[{[%:_{}], [], []}]"],
  ["(%{\"k\" => v, :a => 1})", "[{[%{\"k\" => :\"$1\", {:\"$es_atom\", \"a\"} => 1}], [], []}]"],
  ["(x) when x in [:a, 3]", "[{[:\"$1\"], [{:orelse, {:\"=:=\", :\"$1\", {:const, {:\"$es_atom\", \"a\"}}}, {:\"=:=\", :\"$1\", 3}}], []}]"],
  ["(x) when x not in [1]", "[{[:\"$1\"], [not: {:\"=:=\", :\"$1\", 1}], []}]"],
  ["(x) when x in []", "[{[:\"$1\"], [false], []}]"],
  ["(x) when x in -1..10", "[{[:\"$1\"], [{:andalso, {:is_integer, :\"$1\"}, {:>=, :\"$1\", -1}, {:\"=<\", :\"$1\", 10}}], []}]"],
  ["(x) when x == 1 or x != 2 or x === 3 or x !== 4 or x <= 5 or x >= 6", "[{[:\"$1\"], [{:orelse, {:orelse, {:orelse, {:orelse, {:orelse, {:==, :\"$1\", 1}, {:\"/=\", :\"$1\", 2}}, {:\"=:=\", :\"$1\", 3}}, {:\"=/=\", :\"$1\", 4}}, {:\"=<\", :\"$1\", 5}}, {:>=, :\"$1\", 6}}], []}]"],
  ["(t) when elem(t, 0) == :ok", "[{[:\"$1\"], [{:==, {:element, 1, :\"$1\"}, {:const, {:\"$es_atom\", \"ok\"}}}], []}]"],
  ["(t, i) when elem(t, i) == 1", "[{[:\"$1\", :\"$2\"], [{:==, {:element, {:+, :\"$2\", 1}, :\"$1\"}, 1}], []}]"],
  ["(m) when is_map_key(m, :a) and map_get(m, :a) == 1", "[{[:\"$1\"], [{:andalso, {:is_map_key, {:const, {:\"$es_atom\", \"a\"}}, :\"$1\"}, {:==, {:map_get, {:const, {:\"$es_atom\", \"a\"}}, :\"$1\"}, 1}}], []}]"],
  ["(x) when is_nil(x)", "[{[:\"$1\"], [{:\"=:=\", :\"$1\", nil}], []}]"],
  ["(x) when is_boolean(x)", "[{[:\"$1\"], [{:orelse, {:\"=:=\", :\"$1\", true}, {:\"=:=\", :\"$1\", false}}], []}]"],
  ["(t) when tuple_size(t) == 2", "[{[:\"$1\"], [{:==, {:+, {:andalso, {:is_tuple, :\"$1\"}, {:size, :\"$1\"}}, 0}, 2}], []}]"],
  ["(x) when is_struct(x)", "[{[:\"$1\"], [{:andalso, {:is_map, :\"$1\"}, {:is_map_key, :__struct__, :\"$1\"}, {:is_atom, {:map_get, :__struct__, :\"$1\"}}}], []}]"],
  ["(-5, 1_000, 123456789012345678901234567890, 1.5, -2.0e-3, 0xFF, ?a)", "[{[-5, 1000, 123456789012345678901234567890, 1.5, -0.002, 255, 97], [], []}]"],
  ["(\"abc\", 'ab', :ok, :\"quoted atom\", Shop.Cart, true, false, nil)", "[{[\"abc\", 'ab', {:\"$es_atom\", \"ok\"}, {:\"$es_atom\", \"quoted atom\"}, {:\"$es_atom\", \"Elixir.Shop.Cart\"}, true, false, nil], [], []}]"],
  ["(<<\"ab\", 1>>)", "[{[<<97, 98, 1>>], [], []}]"],
  ["([a: x])", "[{[[{{:\"$es_atom\", \"a\"}, :\"$1\"}]], [], []}]"],
  ["(x) when x == {:ok, \"s\"}", "[{[:\"$1\"], [{:==, :\"$1\", {:const, {{:\"$es_atom\", \"ok\"}, \"s\"}}}], []}]"],
  ["(x, y) when {x, y} == [x | y]", "[{[:\"$1\", :\"$2\"], [{:==, {{:\"$1\", :\"$2\"}}, [:\"$1\" | :\"$2\"]}], []}]"],
  ["(x) when -x == +x", "[{[:\"$1\"], [{:==, {:-, :\"$1\"}, :\"$1\"}], []}]"],
  ["(x, y) when div(x, y) * 2 / 1 - rem(x, y) + abs(x) > 0", "[{[:\"$1\", :\"$2\"], [{:>, {:+, {:-, {:/, {:*, {:div, :\"$1\", :\"$2\"}, 2}, 1}, {:rem, :\"$1\", :\"$2\"}}, {:abs, :\"$1\"}}, 0}], []}]"],
  ["(x) when not x == true", "[{[:\"$1\"], [{:==, {:not, :\"$1\"}, true}], []}]"],
  ["(_x, _x)", "[{[:\"$1\", :\"$1\"], [], []}]"],
];

test('patterns and guards compile to the golden match specs', () => {
  for (const [spec, gold] of GOLDEN) assert.equal(show(compileCall(spec).matchSpec), gold, spec);
});

test('every atom from user text is a marker; generated atoms are real', () => {
  const ms = compileCall('(%Shop.Line{qty: q}, :ok) when q in [:a] and is_integer(q)').matchSpec;
  const markers: string[] = [];
  const realAtoms = new Set<string>();
  const walk = (t: Term): void => {
    if (isTuple(t, 2) && t.elements[0] === atom('$es_atom')) {
      markers.push((t.elements[1] as Buffer).toString('utf8'));
      return;
    }
    if (Array.isArray(t)) t.forEach(walk);
    else if (isTuple(t)) t.elements.forEach(walk);
    else if (t instanceof ErlMap) t.entries.forEach(([k, v]) => (walk(k), walk(v)));
    else if (typeof t === 'object' && t !== null && 'name' in t) realAtoms.add(t.name);
  };
  walk(ms);
  assert.deepEqual(markers.sort(), ['Elixir.Shop.Line', 'a', 'ok', 'qty']);
  assert.deepEqual([...realAtoms].sort(), ['$1', '__struct__', 'andalso', 'const', 'is_integer', '=:='].sort());
});

test('arity and filter are reported', () => {
  assert.deepEqual(
    { arity: compileCall('(a, b, c)').arity, filtered: compileCall('(a, b, c)').filtered },
    { arity: 3, filtered: true },
  );
  assert.equal(compileCall('(_, _)').filtered, false);
  assert.equal(compileCall('(_, _) when true').filtered, true);
  assert.equal(compileCall('()').arity, 0);
  assert.equal(show(matchAll()), '[{:_, [], []}]');
  assert.equal(show(userAtom('ok')), '{:"$es_atom", "ok"}');
});

test('an arity that disagrees with the pattern is an error', () => {
  assert.throws(() => compileCall('M.f(a, b, c)', 3, 2), (e: unknown) => {
    assert.ok(e instanceof SpecError);
    assert.equal(e.reason, 'the pattern has 3 arguments but the arity given is 2');
    assert.equal(e.column, 12);
    return true;
  });
  assert.equal(compileCall('M.f(a, b)', 3, 2).arity, 2);
});

test('an error shows the spec, a caret under the column, what was expected and an example', () => {
  assert.throws(
    () => compileCall('Shop.Cart.add(_, %{qty: 0}', 13),
    (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.equal(
        e.message,
        [
          "expected ')' but found the end of the spec at column 27",
          '  Shop.Cart.add(_, %{qty: 0}',
          '                            ^',
          "  expected ',' or ')' after an argument pattern, e.g. Shop.Cart.add(_, %{qty: 0})",
        ].join('\n'),
      );
      return true;
    },
  );
});

// [spec, column, what the reason says]
const ERRORS: Array<[string, number, RegExp]> = [
  ['(x) when foo(x)', 10, /^unknown function in guard: foo\/1$/],
  ['(x) when x && y', 12, /`&&` is not allowed in a guard.*`and`/],
  ['(x) when x || y', 12, /`\|\|` is not allowed in a guard.*`or`/],
  ['(x) when !x', 10, /`!` is not allowed in a guard.*`not`/],
  ['(^x)', 2, /pin operator/],
  ['(x = %{})', 4, /`=` inside a pattern/],
  ['(<<x::binary>>)', 4, /binary patterns with variables/],
  ['("a" <> rest)', 6, /`<>` patterns/],
  ['(x) when y > 1', 10, /undefined variable y/],
  ['(%{k => 1})', 4, /map key in a pattern must be a literal/],
  ['(f(x))', 2, /function call \(f\(\.\.\.\)\) cannot appear in a pattern/],
  ['(x) when x in y', 15, /`in` needs a literal list or range/],
  ['(:_)', 2, /cannot be used in a trace spec/],
  ['(:"$1")', 2, /cannot be used in a trace spec/],
  ['(x) when is_bitstring(x)', 10, /is_bitstring\/1 is not supported/],
  ['(x) when is_function(x, 2)', 10, /is_function\/2 is not supported/],
  ['(x) when String.length(x) > 1', 10, /remote calls/],
  ['(x) when :erlang.send(x, 1)', 10, /:erlang.send\/2 cannot be called/],
  ['(x) when x =~ "a"', 12, /`=~` is not allowed/],
  ['(1..2)', 3, /ranges are not patterns/],
  ['("abc#{x}")', 6, /interpolation/],
  ['(x) when', 9, /expected an expression but found the end/],
  ['(a b)', 4, /expected '\)' but found "b"/],
  ['(qty: 1)', 2, /keyword \(qty:\) must be inside/],
  ['(x) when x.qty > 1', 11, /x\.qty is not allowed in a guard/],
  ['(x) when _ > 1', 10, /_ cannot be read in a guard/],
  ['(x) when x in 1..y', 16, /range in a guard needs integer literals/],
  ['(x) when x > 1 when x < 2', 16, /expected an operator or the end/],
  ['("abc)', 2, /unterminated string/],
  ['(x) when x == 1e3', 16, /malformed number/],
  ['(%{a | b: 1})', 6, /map update syntax/],
  ['(-x)', 3, /expected a number after -/],
  ['(x) when x in 1..2//1', 19, /expected an operator or the end|not allowed/],
  ['(x) $', 5, /unexpected character "\$"/],
];

test('mistakes are SpecErrors at the right column', () => {
  for (const [spec, column, reason] of ERRORS) {
    assert.throws(
      () => compileCall(spec),
      (e: unknown) => {
        assert.ok(e instanceof SpecError, `${spec}: ${String(e)}`);
        assert.match(e.reason, reason, spec);
        assert.equal(e.column, column, `${spec}: ${e.message}`);
        assert.ok(e.message.includes(`\n  ${spec}\n  ${' '.repeat(column - 1)}^`), e.message);
        return true;
      },
    );
  }
});
