/**
 * The limits, checked on the target by the agent: max_events, max_rate, max_duration_ms and
 * max_mailbox each switch tracing off, end with an es_limit event and a done message naming the
 * limit, and leave no trace behind; max_term_bytes cuts big terms to a marker with their true size.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, AgentError } from '../src/agent/loader.js';
import { inspect } from '../src/erlang/inspect.js';
import { Tuple, isAtom, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, callLoopModule, detach, compileOnNode, eventually, kind, record, type Engine, type Recording } from './support/agentHarness.js';

const LIM = callLoopModule('es_lim');

describe('agent limits', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'erl' });
    eng = await attach(node);
    await compileOnNode(node, LIM);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  async function traceF(rec: Recording, returns = false): Promise<void> {
    await rec.session.traceCalls([{ module: 'es_lim', function: 'f', arity: 1, matchSpec: [] }], { returns });
    await rec.session.traceProcesses({ kind: 'new' }, ['call']);
  }

  /** The session ended on `name` = `value`: last event es_limit, done reason, nothing left traced. */
  async function endedOn(rec: Recording, name: string, value: number): Promise<void> {
    await rec.finished;
    assert.equal(inspect(rec.done!.reason), `{:limit, :${name}, ${value}}`);
    assert.match(rec.done!.reasonText, new RegExp(`${name} limit \\(${value}\\) was reached`));
    const last = rec.events[rec.events.length - 1] as Tuple;
    assert.equal(kind(last), 'es_limit');
    assert.equal(inspect(last.elements[2]!), `:${name}`);
    assert.equal(last.elements[3], value);
    assert.ok(isAtom(last.elements[4], 'stopped'));
    assert.deepEqual(rec.seqs, rec.seqs.map((_, i) => i + 1), 'batches numbered 1, 2, 3, ...');
    assert.equal(await node.eval('erlang:trace_info({es_lim, f, 1}, traced)'), '{traced,false}');
    assert.equal(await node.eval('erlang:trace_info(new, flags)'), '{flags,[]}');
    await eventually(async () => (await node.eval('elixir_scope_agent:relay_count()')) === '0', 'the relay exits');
    // The session is over for the client too.
    await assert.rejects(rec.session.traceProcesses({ kind: 'new' }, ['call']), (e: unknown) => e instanceof AgentError && e.code === 'SESSION_ENDED');
    assert.deepEqual(await rec.session.stop(), rec.done!.stats);
  }

  const calls = (events: Term[]): number => events.filter((e) => kind(e) === 'call').length;

  it('max_events: stops after exactly that many events', async () => {
    const rec = await record(eng, { maxEvents: 10, batchEvents: 4 });
    await traceF(rec);
    await node.eval('es_lim:run(1000)');
    await endedOn(rec, 'max_events', 10);
    assert.equal(calls(rec.events), 10);
    assert.equal(rec.done!.stats.events, 10);
    assert.equal(rec.done!.stats.sent, 10);
  });

  it('max_rate: more events than that within a second stops tracing', async () => {
    const rec = await record(eng, { maxRate: 50 });
    await traceF(rec);
    await node.eval('es_lim:run(5000)');
    await endedOn(rec, 'max_rate', 50);
    // The event that went over the rate is the last one kept.
    assert.equal(calls(rec.events), 51);
  });

  it('max_duration_ms: the session ends on its own', async () => {
    const rec = await record(eng, { maxDurationMs: 300 });
    await traceF(rec);
    await endedOn(rec, 'max_duration_ms', 300);
  });

  it('max_mailbox: a backlog in the relay switches tracing off and is dropped, counted', async () => {
    const rec = await record(eng, { maxMailbox: 20, batchEvents: 10 });
    await traceF(rec);
    const relay = `list_to_pid("<0.${rec.session.relay.id}.${rec.session.relay.serial}>")`;
    // The relay cannot keep up: it is suspended while 500 events queue up in its mailbox.
    await node.eval(`erlang:suspend_process(${relay}), es_lim:run(500), erlang:resume_process(${relay})`);
    await endedOn(rec, 'max_mailbox', 20);
    const st = rec.done!.stats;
    assert.ok((st.dropped['max_mailbox'] ?? 0) > 400, JSON.stringify(st));
    // Nothing is lost without being counted.
    assert.equal(st.events + (st.dropped['max_mailbox'] ?? 0), 500);
    assert.equal(calls(rec.events), st.sent);
  });

  it('max_term_bytes: big arguments and results become {:"$es_truncated", original_bytes, kept}', async () => {
    const rec = await record(eng, { maxTermBytes: 100 });
    await traceF(rec, true);
    await node.eval(`P = spawn(fun() -> es_lim:f(binary:copy(<<"x">>, 1000)), es_lim:f(lists:seq(1, 200)), es_lim:f({small, 1}) end),
                     R = monitor(process, P), receive {'DOWN', R, _, _, _} -> ok end`);
    const stats = await rec.session.stop();
    const binSize = Number(await node.eval('erlang:external_size(binary:copy(<<"x">>, 1000))'));
    const listSize = Number(await node.eval('erlang:external_size(lists:seq(1, 200))'));
    const payloads = rec.events.map((e) => {
      const t = e as Tuple;
      return kind(e) === 'call' ? ((t.elements[3] as Tuple).elements[2] as Term[])[0]! : t.elements[4]!;
    });
    assert.equal(payloads.length, 6);
    const [binArg, binRes, listArg, listRes, smallArg, smallRes] = payloads as Tuple[];
    for (const cut of [binArg!, binRes!]) {
      assert.ok(isAtom(cut.elements[0], '$es_truncated'));
      assert.equal(cut.elements[1], binSize);
      const kept = cut.elements[2] as Buffer;
      assert.ok(Buffer.isBuffer(kept) && kept.length > 0 && kept.length <= 100 && /^x+$/.test(kept.toString()));
    }
    for (const cut of [listArg!, listRes!]) {
      assert.ok(isAtom(cut.elements[0], '$es_truncated'));
      assert.equal(cut.elements[1], listSize);
      const kept = cut.elements[2] as number[];
      assert.ok(Array.isArray(kept) && kept.length > 0 && kept.length < 200);
      assert.deepEqual(kept, kept.map((_, i) => i + 1), 'a prefix of the list');
    }
    assert.equal(inspect(smallArg!), '{:small, 1}');
    assert.equal(inspect(smallRes!), '{:small, 1}');
    assert.equal(stats.truncated, 4);
  });
});
