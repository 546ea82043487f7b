import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryCoordinator } from '../src/store/query.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { shopRecording } from './support/shopRecording.js';

test('flow lists the sends among the pids with their receives and latency, by ts', () => {
  const { rec, ids } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const inv = rec.resolvePid('Shop.Inventory')!;
  const flow = q.flow([cart, inv]);
  assert.deepEqual(
    flow.map((m) => [m.send.id, m.receive?.id ?? null, m.latencyNs]),
    [
      [ids.reserveSend, ids.reserveRecv, 1_500],
      [ids.reserveReply, ids.replyRecv, 1_500],
    ],
  );
  assert.ok(flow.every((m) => m.inside));
});

test('flow with outside also lists sends to other processes, paired with their receives', () => {
  const { rec, ids } = shopRecording();
  const q = new QueryCoordinator(rec);
  const cart = rec.resolvePid('Shop.Cart')!;
  const flow = q.flow([cart], { outside: true });
  assert.deepEqual(
    flow.map((m) => [m.send.id, m.receive?.id ?? null, m.inside]),
    [
      [ids.reserveSend, ids.reserveRecv, false],
      [ids.okSend, ids.okRecv, false],
      [ids.deadSend, null, false],
    ],
  );
  assert.equal(q.flow([cart]).length, 0);
});

test('flow orders by ts even when ids are not in ts order across pids', () => {
  const b = new RecordingBuilder();
  const p1 = b.pid(1);
  const p2 = b.pid(2);
  const late = b.send(p1, 500, p2, 'late');
  const early = b.send(p2, 100, p1, 'early');
  b.receive(p1, 200, 'early', early);
  const q = new QueryCoordinator(b.build());
  const flow = q.flow([p1, p2]);
  assert.deepEqual(flow.map((m) => m.send.id), [early, late]);
  assert.equal(flow[1]!.receive, null);
});
