import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryCoordinator, type CallNode } from '../src/store/query.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { shopRecording } from './support/shopRecording.js';

const shape = (n: CallNode): unknown => ({ f: n.call.mfa?.fun, s: n.status, d: n.durationNs, c: n.children.map(shape) });

test('callTree nests calls by parent, with durations, exceptions and unfinished calls', () => {
  const { rec } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = q.callTree(rec.resolvePid('Shop.Cart')!);
  assert.equal(cart.calls, 5);
  assert.deepEqual(cart.roots.map(shape), [
    { f: 'handle_call', s: 'returned', d: 25_000, c: [{ f: 'add_item', s: 'returned', d: 19_000, c: [{ f: 'price', s: 'returned', d: 2_100, c: [] }] }] },
    { f: 'handle_call', s: 'raised', d: 2_000, c: [{ f: 'discount', s: 'raised', d: 700, c: [] }] },
  ]);
  const client = q.callTree(rec.resolvePid('<0.160.0>')!);
  assert.deepEqual(client.roots.map(shape), [{ f: 'checkout', s: 'unfinished', d: null, c: [] }]);
});

test('maxDepth leaves deeper calls out and counts them under their parent', () => {
  const b = new RecordingBuilder();
  const p = b.pid(1);
  b.call(p, 0, 'm', 'a', []);
  b.call(p, 1, 'm', 'b', []);
  b.call(p, 2, 'm', 'c', []);
  b.call(p, 3, 'm', 'd', []);
  b.ret(p, 4, 1);
  b.ret(p, 5, 1);
  b.call(p, 6, 'm', 'e', []);
  b.ret(p, 7, 1);
  b.ret(p, 8, 1);
  b.ret(p, 9, 1);
  const tree = new QueryCoordinator(b.build()).callTree(p, { maxDepth: 1 });
  assert.equal(tree.calls, 5);
  const root = tree.roots[0]!;
  assert.equal(root.children.length, 1);
  assert.equal(root.children[0]!.call.mfa?.fun, 'b');
  assert.equal(root.children[0]!.children.length, 0);
  assert.equal(root.children[0]!.omitted, 2);
});
