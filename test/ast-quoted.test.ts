/**
 * quoted.ts without a node: the variables a pattern binds (pins, underscores, binary sizes, map
 * keys, guards) and labels rendered close to Macro.to_string, with `line N` for what has no
 * one-line form.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErlFloat, Tuple, atom, type Term } from '../src/erlang/terms.js';
import { call, patternVars, remote, renderLabel, statementBindings } from '../src/ast/quoted.js';

const NIL = atom('nil');
const v = (name: string): Tuple => new Tuple([atom(name), [new Tuple([atom('line'), 3])], NIL]);
const c = (name: string, ...args: Term[]): Tuple => call(name, [new Tuple([atom('line'), 3])], args);
const alias = (...segs: string[]): Tuple => call('__aliases__', [], segs.map(atom));
const pair = (a: Term, b: Term): Tuple => new Tuple([a, b]);

describe('quoted helpers', () => {
  it('patternVars: bindings in source order, without _ names, pins, sizes, map keys or guards', () => {
    // {:ok, [h | t], _ignored, _} = ...
    assert.deepEqual(patternVars(pair(atom('ok'), c('{}', [c('|', v('h'), v('t'))], v('_ignored'), v('_')))), ['h', 't']);
    // %{^key => value, "k" => x} and a struct %Mod{a: a}
    assert.deepEqual(patternVars(c('%{}', pair(c('^', v('key')), v('value')), pair(Buffer.from('k'), v('x')))), ['value', 'x']);
    assert.deepEqual(patternVars(c('%', alias('Shop', 'Cart'), c('%{}', pair(atom('a'), v('a'))))), ['a']);
    // <<len::8, payload::binary-size(len)>>: len is bound once, used as a size
    const bin = c('<<>>', c('::', v('len'), 8), c('::', v('payload'), c('-', v('binary'), c('size', v('len')))));
    assert.deepEqual(patternVars(bin), ['len', 'payload']);
    // x, y when x > y
    assert.deepEqual(patternVars(c('when', v('x'), v('y'), c('>', v('x'), v('z')))), ['x', 'y']);
    // a hygienic variable (a macro's) is not the user's
    assert.deepEqual(patternVars(new Tuple([atom('tmp'), [], atom('Elixir.SomeMacro')])), []);
    // @attr in a pattern reads an attribute
    assert.deepEqual(patternVars(c('@', c('limit'))), []);
  });

  it('statementBindings: the left side of each = of a statement', () => {
    assert.deepEqual(statementBindings(c('=', v('a'), c('=', pair(v('b'), v('_c')), c('f')))), ['a', 'b']);
    assert.deepEqual(statementBindings(c('f', v('x'))), []);
  });

  it('labels read as the source does', () => {
    const items = v('items');
    const pipe = c('|>', c('|>', items, remote(alias('Enum'), 'map', [], [c('&', remote(c('&', 1), 'price', [pair(atom('no_parens'), atom('true'))], []))])), remote(alias('Enum'), 'sum', [], []));
    assert.equal(renderLabel(c('=', v('sum'), pipe)), 'sum = items |> Enum.map(&(&1.price)) |> Enum.sum()');
    assert.equal(renderLabel(c('&', c('/', remote(alias('String'), 'upcase', [], []), 1))), '&String.upcase/1');
    assert.equal(renderLabel(c('if', c('>', v('x'), 0), [pair(atom('do'), 1), pair(atom('else'), atom('no'))])), 'if x > 0, do: 1, else: :no');
    assert.equal(renderLabel(c('{}', atom('ok'), Buffer.from('a"b'), new ErlFloat(2.5))), '{:ok, "a\\"b", 2.5}');
    assert.equal(renderLabel(c('%{}', pair(atom('a'), 1), pair(Buffer.from('k'), v('v')))), '%{a: 1, "k" => v}');
    assert.equal(renderLabel(remote(remote(alias('Access'), 'x', [], []), 'y', [], [])), 'Access.x().y()');
    assert.equal(renderLabel(c('not', c('in', v('x'), [1, 2]))), 'not x in [1, 2]');
    assert.equal(renderLabel(atom('Elixir.Shop.Cart')), 'Shop.Cart');
    assert.equal(renderLabel(atom('a b')), ':"a b"');
    // Forms with no one-line text fall back to their line.
    assert.equal(renderLabel(c('case', v('x'), [pair(atom('do'), [])])), 'line 3');
    assert.equal(renderLabel(c('__block__', c('a'), c('b'))), 'line 3');
    assert.ok(renderLabel(c('f', Buffer.from('x'.repeat(500)))).endsWith('…'));
  });
});
