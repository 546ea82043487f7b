/**
 * The parts of inspect() that have no Elixir 1.14 counterpart to compare with: the stand-ins for state
 * the BEAM keeps (other nodes' indexes, fun names, struct field order), the 1.15 charlist sigil, and how
 * bad input is refused. Everything else is compared with the real inspect/2 in inspect.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from '../src/erlang/inspect.js';
import {
  Atom,
  ErlFloat,
  ErlMap,
  Fun,
  LocalTerm,
  Pid,
  Port,
  Reference,
  atom,
  type Term,
} from '../src/erlang/terms.js';

const here = atom('app@vm');
const there = atom('db@vm');

test('identifiers of localNode print with index 0 and those of other nodes with the node name', () => {
  const pids = [new Pid(here, 120, 0, 1), new Pid(there, 7, 1, 2)];
  assert.equal(inspect(pids, { localNode: here }), '[#PID<0.120.0>, #PID<db@vm.7.1>]');
  assert.equal(inspect(new Reference(there, 1, [10, 20, 30]), { localNode: here }), '#Reference<db@vm.30.20.10>');
  assert.equal(inspect(new Port(there, 5_000_000_000n, 1), { localNode: here }), '#Port<db@vm.5000000000>');
  // Without localNode every identifier is taken as local, which is what a single node prints.
  assert.equal(inspect(pids), '[#PID<0.120.0>, #PID<0.7.1>]');
});

const fun = new Fun(1, Buffer.alloc(16), 3, atom('Elixir.MyApp.Worker'), 3, 12345, new Pid(here, 1, 0, 1), []);

test('a local fun without a name resolver prints the form Elixir uses for a nameless fun', () => {
  assert.equal(inspect(fun), '#Function<3.12345/1 in MyApp.Worker>');
});

test('a local fun with a resolved name prints its parent function as Elixir does', () => {
  const named = (name: string) => inspect(fun, { funName: () => atom(name) });
  assert.equal(named('-handle_call/3-fun-0-'), '#Function<3.12345/1 in MyApp.Worker.handle_call/3>');
  assert.equal(named('-a/b/2-fun-1-'), '#Function<3.12345/1 in MyApp.Worker."a/b"/2>');
  assert.equal(named('init'), '#Function<3.12345/1 in MyApp.Worker.init>');
});

const struct = (entries: Array<[string, Term]>): ErlMap =>
  new ErlMap([[atom('__struct__'), atom('Elixir.MyApp.User')], ...entries.map(([k, v]): [Term, Term] => [atom(k), v])]);

test('struct fields follow the map without structFields, and the definition order with it', () => {
  const user = struct([['name', Buffer.from('x')], ['age', 3]]);
  assert.equal(inspect(user), '%MyApp.User{name: "x", age: 3}');
  const fields = (f: Atom) => (f.name === 'Elixir.MyApp.User' ? [atom('age'), atom('name')] : undefined);
  assert.equal(inspect(user, { structFields: fields }), '%MyApp.User{age: 3, name: "x"}');
});

test('a map whose keys do not match the struct, or whose module has none, prints as a plain map', () => {
  const user = struct([['name', Buffer.from('x')]]);
  assert.equal(
    inspect(user, { structFields: () => [atom('age'), atom('name')] }),
    '%{__struct__: MyApp.User, name: "x"}',
  );
  assert.equal(inspect(user, { structFields: () => null }), '%{__struct__: MyApp.User, name: "x"}');
});

test('maps built here print in insertion order', () => {
  assert.equal(inspect(new ErlMap([[atom('b'), 1], [atom('a'), 2]])), '%{b: 1, a: 2}');
});

test('charlistSigil writes charlists as Elixir 1.15 does', () => {
  const cl = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0)!);
  assert.equal(inspect(cl('abc'), { charlistSigil: true }), '~c"abc"');
  assert.equal(inspect(cl(`it's "x"`), { charlistSigil: true }), '~c"it\'s \\"x\\""');
  assert.equal(inspect(cl('abcdefg'), { charlistSigil: true, printableLimit: 3 }), '~c"abc" ++ ...');
  assert.equal(inspect(cl("it's")), "'it\\'s'");
});

test('the default limit shows 50 items of a long list', () => {
  const list = Array.from({ length: 60 }, (_, i) => i + 1000);
  const out = inspect(list);
  assert.ok(out.endsWith(', 1049, ...]'), out);
  assert.equal(inspect(list, { limit: Infinity }).split(', ').length, 60);
});

test('a LOCAL_EXT term, which only its node can read, prints as an opaque marker', () => {
  assert.equal(inspect(new LocalTerm(Buffer.from([1, 2, 3]))), '#LocalTerm<3 bytes>');
});

test('bad options and values that are not terms are refused with a message that says why', () => {
  assert.throws(() => inspect(1, { limit: -1 }), /limit must be a non-negative integer or Infinity, got -1/);
  assert.throws(() => inspect(1, { printableLimit: 2.5 }), /printableLimit must be a non-negative integer/);
  assert.throws(() => inspect(new ErlFloat(NaN)), /NaN is not an Erlang float/);
  assert.throws(() => inspect({ x: 1 } as unknown as Term), /not an Erlang term: an object of class Object/);
  assert.throws(() => inspect(null as unknown as Term), /not an Erlang term: null/);
});

test('a very deep term prints with the default limit, and without a limit fails with a clear error', () => {
  let deep: Term = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(inspect(deep), '['.repeat(51) + '...' + ']'.repeat(51));
  assert.throws(() => inspect(deep, { limit: Infinity }), /nested too deeply to print with limit Infinity/);
});
