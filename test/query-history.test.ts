import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryCoordinator } from '../src/store/query.js';
import { atom } from '../src/erlang/terms.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { shopRecording } from './support/shopRecording.js';

const ids = (events: { id: number }[]): number[] => events.map((e) => e.id);

test('history of one pid: its events only, in id order', () => {
  const { rec } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const events = q.history({ pid: cart });
  assert.deepEqual(ids(events), Array.from(rec.idsOfPid(cart)));
  assert.ok(events.every((e) => e.pid.key === cart.key));
});

test('history of every pid is the whole recording in id order', () => {
  const { rec } = shopRecording();
  const all = new QueryCoordinator(rec).history();
  assert.equal(all.length, rec.count);
  assert.deepEqual(ids(all), [...Array(rec.count).keys()]);
});

test('since and until bound by time (inclusive) or by event id (inclusive), per pid and overall', () => {
  const b = new RecordingBuilder();
  const p = b.pid(1);
  const other = b.pid(2);
  for (let i = 0; i < 20; i++) b.add({ ts: i * 1000, kind: 'receive', pid: i % 2 === 0 ? p : other, payload: i });
  const q = new QueryCoordinator(b.build());
  assert.deepEqual(ids(q.history({ pid: p, since: { ns: 4000 }, until: { ns: 10_000 } })), [4, 6, 8, 10]);
  assert.deepEqual(ids(q.history({ pid: p, since: { ns: 4001 }, until: { ns: 9_999 } })), [6, 8]);
  assert.deepEqual(ids(q.history({ pid: p, since: { id: 5 }, until: { id: 9 } })), [6, 8]);
  assert.deepEqual(ids(q.history({ since: { ns: 4000 }, until: { ns: 7000 } })), [4, 5, 6, 7]);
  assert.deepEqual(ids(q.history({ since: { id: 17 } })), [17, 18, 19]);
  assert.deepEqual(ids(q.history({ until: { id: 2 } })), [0, 1, 2]);
  assert.deepEqual(ids(q.history({ since: { ns: 1e9 } })), []);
});

test('kinds filter and limit keep the first matching events', () => {
  const { rec } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const calls = q.history({ pid: cart, kinds: ['call', 'return'], limit: 3 });
  assert.deepEqual(
    calls.map((e) => `${e.kind} ${e.mfa?.fun}`),
    ['call handle_call', 'call add_item', 'call price'],
  );
  assert.equal(q.history({ limit: 0 }).length, 0);
  assert.equal(q.history({ kinds: ['limit'] }).length, 1);
  assert.deepEqual(
    q.history({ kinds: ['state', 'state_init'], pid: cart }).map((e) => e.kind),
    ['state_init', 'state', 'state'],
  );
});

test('one pid within a time window reads only that window (binary search, not a scan)', () => {
  const b = new RecordingBuilder();
  const p = b.pid(1);
  for (let i = 0; i < 50_000; i++) b.add({ ts: i, kind: 'register', pid: p, payload: atom('x') });
  const rec = b.build();
  const q = new QueryCoordinator(rec);
  const before = (rec as unknown as { reads: number }).reads;
  const events = q.history({ pid: p, since: { ns: 40_000 }, until: { ns: 40_009 } });
  assert.equal(events.length, 10);
  const reads = (rec as unknown as { reads: number }).reads - before;
  assert.ok(reads < 60, `expected a binary search, read ${reads} events`);
});
