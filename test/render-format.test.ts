import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatMfa, formatTs, Renderer } from '../src/cli/render/format.js';
import { atom, ErlMap, Tuple, type Term } from '../src/erlang/terms.js';
import { RecordingBuilder } from './support/memoryRecording.js';

const t = (...els: Term[]): Tuple => new Tuple(els);
const cut = (bytes: number, kept: Term): Tuple => t(atom('$es_truncated'), bytes, kept);

test('formatTs: seconds since the start with microseconds, truncated', () => {
  assert.equal(formatTs(0), '+0.000000s');
  assert.equal(formatTs(1_234_567_890), '+1.234567s');
  assert.equal(formatTs(999), '+0.000000s');
  assert.equal(formatTs(3_600_000_000_000), '+3600.000000s');
  assert.equal(formatTs(-1_500_000), '-0.001500s');
});

test('formatDuration: three significant digits in the nearest unit', () => {
  assert.equal(formatDuration(850), '850ns');
  assert.equal(formatDuration(12_345), '12.3µs');
  assert.equal(formatDuration(4_560_000), '4.56ms');
  assert.equal(formatDuration(120_000), '120µs');
  assert.equal(formatDuration(1_230_000_000), '1.23s');
});

test('formatMfa: modules and functions as Elixir prints them', () => {
  assert.equal(formatMfa({ module: 'Elixir.Shop.Cart', fun: 'add', arity: 3 }), 'Shop.Cart.add/3');
  assert.equal(formatMfa({ module: 'lists', fun: 'reverse', arity: 1 }), ':lists.reverse/1');
  assert.equal(formatMfa({ module: 'Elixir.Shop.Cart', fun: '-add/3-fun-0-', arity: 1 }), 'Shop.Cart."-add/3-fun-0-"/1');
  assert.equal(formatMfa({ module: 'Elixir.Kernel', fun: '+', arity: 2 }), 'Kernel.+/2');
  assert.equal(formatMfa({ module: 'my mod', fun: 'valid?', arity: 0 }), ':"my mod".valid?/0');
});

test('truncation markers print what was kept and how big the term was', () => {
  const b = new RecordingBuilder();
  const r = new Renderer(b.build());
  assert.equal(r.term(t(atom('ok'), cut(48_213, atom('$es_cut')))), '{:ok, …(cut: 48,213 bytes)}');
  assert.equal(r.term(cut(1000, Buffer.from('abc'))), '"abc" …(cut: 1,000 bytes)');
  assert.equal(r.term(new ErlMap([[atom('big'), cut(70_000, [1, 2])]])), '%{big: [1, 2] …(cut: 70,000 bytes)}');
  // Nested markers, and more than ten of them (placeholder 1 must not match inside placeholder 10).
  assert.equal(r.term(cut(9000, [cut(5000, [1]), 2])), '[[1] …(cut: 5,000 bytes), 2] …(cut: 9,000 bytes)');
  const many = Array.from({ length: 12 }, (_, i) => cut(i + 1, i));
  assert.equal(r.term(many), '[' + many.map((_, i) => `${i} …(cut: ${i + 1} bytes)`).join(', ') + ']');
  // A cut map key (keys all atoms once the placeholder is in) still reads as key => value.
  assert.equal(r.term(new ErlMap([[cut(600, atom('$es_cut')), 1], [atom('b'), 2]])), '%{…(cut: 600 bytes) => 1, b: 2}');
  // A term without markers prints exactly as inspect does.
  assert.equal(r.term(t(atom('$es_truncated'), atom('x'), 1)), '{:"$es_truncated", :x, 1}');
});

test('terms are cut to a line by default and printed whole with full', () => {
  const b = new RecordingBuilder();
  const rec = b.build();
  const list = Array.from({ length: 30 }, (_, i) => i);
  assert.match(new Renderer(rec).term(list), /, 19, \.\.\.\]$/);
  assert.match(new Renderer(rec, { full: true }).term(list), /, 29\]$/);
});

test('pids print with the recorded node as 0, others with their node, and names beside them', () => {
  const b = new RecordingBuilder('shop@vm');
  const p = b.pid(150);
  b.add({ ts: 0, kind: 'register', pid: p, payload: atom('Elixir.Shop.Cart') });
  const q = b.pid(151);
  b.add({ ts: 0, kind: 'register', pid: q, payload: atom('logger') });
  const r = new Renderer(b.build());
  assert.equal(r.pid(p), '#PID<0.150.0> (Shop.Cart)');
  assert.equal(r.pid(q), '#PID<0.151.0> (:logger)');
  const remote = new (p.constructor as typeof import('../src/erlang/terms.js').Pid)(atom('other@vm'), 5, 0, 1);
  assert.equal(r.pid(remote), '#PID<other@vm.5.0>');
});
