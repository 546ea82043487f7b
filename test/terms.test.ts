import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  atom, BitBinary, ErlFloat, ErlMap, ImproperList, Pid, termEquals, tuple, type Term,
} from '../src/erlang/terms.js';

test('termEquals is =:=: integers and floats differ, bigints equal numbers of the same value', () => {
  assert.equal(termEquals(1, new ErlFloat(1)), false);
  assert.equal(termEquals(5n, 5), true);
  assert.equal(termEquals(2n ** 70n, 2n ** 70n), true);
  assert.equal(termEquals(new ErlFloat(0), new ErlFloat(-0)), false);
  assert.equal(termEquals(atom('a'), atom('a')), true);
  assert.equal(termEquals(atom('a'), atom('b')), false);
});

test('termEquals compares structure: tuples, lists, improper lists, maps in any order, bitstrings, pids', () => {
  const m1 = new ErlMap([[atom('a'), 1], [Buffer.from('k'), [1, 2]]]);
  const m2 = new ErlMap([[Buffer.from('k'), [1, 2]], [atom('a'), 1]]);
  assert.equal(termEquals(m1, m2), true);
  assert.equal(termEquals(m1, new ErlMap([[atom('a'), 1], [Buffer.from('k'), [1, 3]]])), false);
  assert.equal(termEquals(tuple(1, [2, tuple(3)]), tuple(1, [2, tuple(3)])), true);
  assert.equal(termEquals(tuple(1, [2, tuple(3)]), tuple(1, [2, tuple(4)])), false);
  assert.equal(termEquals(new ImproperList([1], 2), new ImproperList([1], 2)), true);
  assert.equal(termEquals(new ImproperList([1], 2), new ImproperList([1], 3)), false);
  assert.equal(termEquals(new BitBinary(Buffer.from([0xe0]), 3), new BitBinary(Buffer.from([0xe0]), 3)), true);
  assert.equal(termEquals(new BitBinary(Buffer.from([0xe0]), 3), new BitBinary(Buffer.from([0xe0]), 4)), false);
  const p = (id: number) => new Pid(atom('n@h'), id, 0, 7);
  assert.equal(termEquals(p(1), p(1)), true);
  assert.equal(termEquals(p(1), p(2)), false);
});

test('termEquals handles terms nested a million deep without overflowing the stack', () => {
  const deep = (leaf: number): Term => {
    let t: Term = [leaf];
    for (let i = 0; i < 1_000_000; i++) t = [t];
    return t;
  };
  assert.equal(termEquals(deep(1), deep(1)), true);
  assert.equal(termEquals(deep(1), deep(2)), false);
});
