/**
 * `--instrument SPEC` parsing: every form of docs/ast.md, and errors that point at the bad part and
 * say what was expected (Erlang modules refused with the reason).
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstrumentSpec, SpecError } from '../src/ast/spec.js';

function failure(text: string): SpecError {
  try {
    parseInstrumentSpec(text);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error(`expected ${text} to be refused`);
}

describe('--instrument spec', () => {
  it('targets: module, function, function/arity (Elixir names)', () => {
    const m = parseInstrumentSpec('Shop.Pricing');
    assert.equal(m.module, 'Elixir.Shop.Pricing');
    assert.equal(m.moduleName, 'Shop.Pricing');
    assert.equal(m.fun, undefined);
    assert.equal(m.arity, undefined);
    const f = parseInstrumentSpec('Shop.Cart.valid?');
    assert.equal(f.module, 'Elixir.Shop.Cart');
    assert.equal(f.fun, 'valid?');
    assert.equal(f.arity, undefined);
    const fa = parseInstrumentSpec('Shop.Cart.add!/3');
    assert.deepEqual([fa.module, fa.fun, fa.arity], ['Elixir.Shop.Cart', 'add!', 3]);
    assert.equal(parseInstrumentSpec('Cart.run/0').arity, 0);
  });

  it('the examples of docs/ast.md', () => {
    const a = parseInstrumentSpec('Shop.Cart.total/1:locals=items,sum;lines=42,55');
    assert.deepEqual(a.locals, ['items', 'sum']);
    assert.deepEqual(a.lines, [42, 55]);
    assert.equal(a.level, undefined);
    const b = parseInstrumentSpec('Shop.Pricing:level=expressions');
    assert.equal(b.level, 'expressions');
    const c = parseInstrumentSpec('Shop.Checkout.run/1:probe=30:length(items)');
    assert.deepEqual(c.probes, [{ line: 30, when: 'before', code: 'length(items)' }]);
  });

  it('every option; * for all; probes keep their ";" and ":" and "="', () => {
    const s = parseInstrumentSpec('A.f/2:level=locals;locals=*;lines=*;expr=3, 4;probe=5:x = Map.get(m, :k); x;probe_after=6:a == b');
    assert.equal(s.level, 'locals');
    assert.equal(s.locals, '*');
    assert.equal(s.lines, '*');
    assert.deepEqual(s.expr, [3, 4]);
    assert.deepEqual(s.probes, [
      { line: 5, when: 'before', code: 'x = Map.get(m, :k); x' },
      { line: 6, when: 'after', code: 'a == b' },
    ]);
  });

  it('Erlang modules are refused: instrumentation needs Elixir source', () => {
    for (const text of [':lists', 'lists', 'lists:reverse/1', ':ets.insert/2', 'my_mod.run']) {
      const e = failure(text);
      assert.match(e.message, /is an Erlang module; AST instrumentation needs Elixir source/, text);
      assert.match(e.message, /--trace/);
    }
  });

  it('errors point at the bad part and say what was expected', () => {
    const cases: Array<[string, RegExp, number]> = [
      ['', /the spec is empty/, 0],
      ['Shop.Cart.total/x', /'x' is not an arity/, 16],
      ['Shop.Cart/1', /an arity without a function name/, 9],
      ['Shop..Cart', /an empty name/, 5],
      ['Shop.Cart.Total-x', /'Total-x' is not a function name/, 10],
      ['Shop.Cart:', /nothing after the ":"/, 10],
      ['Shop.Cart:levle=lines', /unknown option 'levle'/, 10],
      ['Shop.Cart:level=everything', /unknown level 'everything'/, 16],
      ['Shop.Cart:lines=1,,2', /an empty item/, 18],
      ['Shop.Cart:lines=4x', /'4x' is not a line number/, 16],
      ['Shop.Cart:lines=0', /'0' is not a line number/, 16],
      ['Shop.Cart:locals=Items', /'Items' is not a variable name/, 17],
      ['Shop.Cart:locals=_acc', /starts with "_"/, 17],
      ['Shop.Cart:probe=12', /probe= needs LINE:CODE/, 16],
      ['Shop.Cart:probe=12:  ', /the probe has no code/, 19],
      ['Shop.Cart:lines=1;lines=2', /lines= is given twice/, 18],
      ['Shop.Cart:lines=1;', /an empty option/, 18],
      ['Shop.Cart:level', /'level' has no "="/, 10],
    ];
    for (const [text, re, offset] of cases) {
      const e = failure(text);
      assert.match(e.message, re, text);
      assert.equal(e.offset, offset, `${text}: offset`);
      // The caret line sits under the spec line, at the offset.
      const lines = e.message.split('\n');
      assert.equal(lines[1], `  ${text}`);
      assert.equal(lines[2], `  ${' '.repeat(offset)}^`);
      assert.ok(lines.length >= 4 && lines[3]!.length > 0, `${text}: says what was expected`);
      assert.equal(e.code, 'BAD_INSTRUMENT_SPEC');
    }
  });
});
