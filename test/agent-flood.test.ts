/**
 * The relay under a flood: every event arrives (batched, numbered without gaps) while requests are
 * still answered mid-flood; and with an engine that stops reading for a while, nothing blocks and
 * every event is either delivered or counted as dropped, with the gap visible in the batch numbers.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../src/erlang/etf/index.js';
import { loadAgent } from '../src/agent/loader.js';
import { AgentSession, type AgentMessage } from '../src/agent/client.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, callLoopModule, detach, compileOnNode, record, DEFAULT_TEST_LIMITS, type Engine } from './support/agentHarness.js';

const FLOOD = callLoopModule('es_flood');

describe('agent under a flood of events', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'erl' });
    eng = await attach(node);
    await compileOnNode(node, FLOOD);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('delivers every event of 100 000 calls (200 000 events) and answers requests meanwhile', async () => {
    const rec = await record(eng, { batchEvents: 500, flushMs: 50 });
    await rec.session.traceCalls([{ module: 'es_flood', function: 'f', arity: 1, matchSpec: [] }], { returns: true });
    await rec.session.traceProcesses({ kind: 'new' }, ['call']);
    const run = node.eval('es_flood:run(100000)', 60_000);
    const mid = await rec.session.stats();
    assert.ok(mid.events >= 0);
    await run;
    const stats = await rec.session.stop(60_000);
    assert.equal(stats.events, 200_000);
    assert.equal(stats.sent, 200_000);
    assert.deepEqual(stats.dropped, {});
    assert.equal(rec.events.length, 200_000);
    assert.deepEqual(rec.seqs, rec.seqs.map((_, i) => i + 1));
    assert.equal(stats.batches, rec.seqs.length);
  });

  it('an engine that stops reading for a while loses nothing: batches wait on the target, in order', async () => {
    let seen = 0;
    const seqs: number[] = [];
    let stalled = false;
    const session = await AgentSession.start(eng.local, eng.remote, { ...DEFAULT_TEST_LIMITS, batchEvents: 500 }, (m: AgentMessage) => {
      if (m.type !== 'batch') return;
      seqs.push(m.seq);
      seen += (decode(Buffer.from(m.bin)) as unknown[]).length;
      if (!stalled) {
        // Block the event loop: our socket is not read and the target's distribution buffer fills,
        // so the relay's nosuspend sends fail and its batches wait (bounded by max_mailbox events).
        stalled = true;
        const until = Date.now() + 700;
        while (Date.now() < until);
      }
    });
    await session.traceCalls([{ module: 'es_flood', function: 'f', arity: 1, matchSpec: [] }], { returns: true });
    await session.traceProcesses({ kind: 'new' }, ['call']);
    await node.eval('es_flood:run(150000)', 60_000);
    const stats = await session.stop(60_000);
    assert.equal(stats.events, 300_000, JSON.stringify(stats));
    assert.equal(stats.sent, 300_000, JSON.stringify(stats));
    assert.deepEqual(stats.dropped, {});
    assert.equal(seen, 300_000);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'every batch, in order');
  });
});
