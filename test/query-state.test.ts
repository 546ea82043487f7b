import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryCoordinator, QueryError } from '../src/store/query.js';
import { atom, ErlMap, Tuple } from '../src/erlang/terms.js';
import { inspect } from '../src/erlang/inspect.js';
import { MemoryRecording, RecordingBuilder } from './support/memoryRecording.js';
import { shopRecording } from './support/shopRecording.js';

test('stateAt inside nested calls: the state, the previous one, the open calls outermost first, the last message', () => {
  const { rec, ids } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const s = q.stateAt(cart, ids.price!);
  assert.equal(s.at.id, ids.price);
  assert.equal(s.state?.event.id, ids.cartInit);
  assert.equal(s.previousState, null);
  assert.deepEqual(
    s.stack.map((f) => f.call.id),
    [ids.handleAdd, ids.addItem, ids.price],
  );
  assert.equal(inspect(s.stack[2]!.args), '["sku-1"]');
  assert.equal(s.lastMessage?.id, ids.addRecv);
  assert.deepEqual(s.locals, []);
});

test('stateAt after a return or exception: the closed call is no longer on the stack', () => {
  const { rec, ids } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const s = q.stateAt(cart, ids.discountRaise!);
  assert.deepEqual(
    s.stack.map((f) => f.call.id),
    [ids.handleDiscount],
  );
  assert.equal(s.state?.event.id, ids.cartState);
  assert.equal(s.previousState?.event.id, ids.cartInit);
  const v = s.state!.value as ErlMap;
  assert.equal(inspect(v), '%{items: %{"sku-1" => 2}, owner: "ann", total: 2500}');
  assert.equal(s.lastMessage?.id, ids.discountRecv);
});

test('stateAt at another process\'s event uses the pid\'s last event before it', () => {
  const { rec, ids } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  // reserveRecv is the inventory's; the cart is then inside add_item, waiting for the reply.
  const s = q.stateAt(cart, ids.reserveRecv!);
  assert.equal(s.at.id, ids.reserveRecv);
  assert.equal(s.last?.id, ids.reserveSend);
  assert.deepEqual(
    s.stack.map((f) => f.call.mfa?.fun),
    ['handle_call', 'add_item'],
  );
});

test('stateAt before the process did anything, and ids out of range', () => {
  const { rec } = shopRecording();
  const q = new QueryCoordinator(rec);
  const notifier = rec.resolvePid('<0.170.0>')!;
  const s = q.stateAt(notifier, 3);
  assert.equal(s.last, null);
  assert.equal(s.state, null);
  assert.deepEqual(s.stack, []);
  assert.throws(() => q.stateAt(notifier, rec.count), (e: unknown) => e instanceof QueryError && e.code === 'ES_QUERY_RANGE' && /out of range/.test(e.message));
  assert.throws(() => q.stateAt(notifier, -1), QueryError);
});

test('stateAt deep in a long GenServer life reads a handful of events, not the history', () => {
  const b = new RecordingBuilder();
  const p = b.pid(1);
  const gc = atom('$gen_call');
  b.add({ ts: 0, kind: 'state_init', pid: p, payload: 0 });
  let last = 0;
  for (let i = 1; i <= 20_000; i++) {
    const msg = new Tuple([gc, atom('from'), i]);
    const r = b.receive(p, i * 10, msg, null);
    b.call(p, i * 10 + 1, 'Elixir.Counter', 'handle_call', [i]);
    b.call(p, i * 10 + 2, 'Elixir.Counter', 'bump', [i]);
    last = b.add({ ts: i * 10 + 3, kind: 'receive', pid: p, payload: i });
    b.ret(p, i * 10 + 4, i);
    b.ret(p, i * 10 + 5, i);
    b.add({ ts: i * 10 + 6, kind: 'state', pid: p, payload: i, aux: new Tuple([msg, atom('noreply')]), link: r });
  }
  const rec = b.build() as MemoryRecording;
  const q = new QueryCoordinator(rec);
  rec.reads = 0;
  const s = q.stateAt(p, last);
  assert.equal(s.state?.value, 19_999);
  assert.equal(s.previousState?.value, 19_998);
  assert.equal(s.stack.length, 2);
  assert.ok(rec.reads < 30, `read ${rec.reads} events`);
});
