/**
 * Process tracing through the agent: send / receive / spawn / link / unlink / register /
 * unregister / exit events of a traced process, children followed with set_on_spawn, and the
 * selectors' refusals (no such process, unknown name).
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, AgentError } from '../src/agent/loader.js';
import { inspect } from '../src/erlang/inspect.js';
import { Pid, Tuple, atom, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, detach, compileOnNode, kind, record, type Engine } from './support/agentHarness.js';

const PROCS = `
-module(es_procs).
-export([start/0, run/0, child/1]).
start() -> register(es_procs_w, spawn(fun run/0)), ok.
run() ->
  receive {go, Parent} -> ok end,
  unregister(es_procs_w),
  register(es_procs_worker, self()),
  C = spawn_link(es_procs, child, [self()]),
  C ! {hello, 1},
  receive {ack, C} -> ok end,
  unlink(C),
  unregister(es_procs_worker),
  C ! bye,
  Parent ! finished.
child(P) ->
  receive {hello, N} -> P ! {ack, self()}, N end,
  receive bye -> exit(done_here) end.
`;

function pidOf(e: Term): Pid {
  return (e as Tuple).elements[1] as Pid;
}

describe('agent process tracing', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'erl' });
    eng = await attach(node);
    await compileOnNode(node, PROCS);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('reports messages, spawns, links, names and exits, and follows children (set_on_spawn)', async () => {
    await node.eval('es_procs:start()');
    const w = await eng.remote.rpc('erlang', 'whereis', [atom('es_procs_w')]);
    assert.ok(w instanceof Pid);
    const rec = await record(eng);
    assert.equal(await rec.session.traceProcesses({ kind: 'pid', pid: w }, ['send', 'receive', 'procs', 'set_on_spawn']), 1);
    await node.eval(`es_procs_w ! {go, self()}, receive finished -> ok end, timer:sleep(20)`);
    await rec.session.stop();

    const mine = rec.events.filter((e) => pidOf(e).key === w.key);
    const line = (e: Term): string => {
      const t = e as Tuple;
      const wText = inspect(w, { localNode: eng.remote.nodeAtom });
      const rest = t.elements
        .slice(3, t.size - 1)
        .map((x) => inspect(x, { localNode: eng.remote.nodeAtom }).split(wText).join('W').replace(/#PID<[^>]+>/g, 'P'));
      return [kind(e), ...rest].join(' ');
    };
    const child = mine.find((e) => kind(e) === 'spawn');
    assert.ok(child, 'a spawn event');
    const c = (child as Tuple).elements[3] as Pid;
    const wLines = mine.map(line);
    assert.deepEqual(
      wLines.filter((l) => !l.startsWith('send') || l.includes('hello') || l.includes('bye') || l.includes('finished')),
      [
        "receive {:go, P}",
        'unregister :es_procs_w',
        'register :es_procs_worker',
        'spawn P {:es_procs, :child, [W]}',
        'link P',
        'send {:hello, 1} P',
        `receive {:ack, P}`,
        'unlink P',
        'unregister :es_procs_worker',
        'send :bye P',
        'send :finished P',
        'exit :normal',
      ],
    );
    // The child was traced from its first moment on, by inheritance.
    const cLines = rec.events.filter((e) => pidOf(e).key === c.key).map((e) => kind(e));
    assert.deepEqual(cLines.filter((k) => k !== 'getting_unlinked' && k !== 'unlink'), ['spawned', 'getting_linked', 'receive', 'send', 'receive', 'exit']);
    const cExit = rec.events.find((e) => pidOf(e).key === c.key && kind(e) === 'exit') as Tuple;
    assert.equal(inspect(cExit.elements[3]!), ':done_here');
  });

  it('refuses a dead pid and an unknown name', async () => {
    const rec = await record(eng);
    const dead = await eng.remote.rpc('erlang', 'spawn', [atom('erlang'), atom('is_atom'), [atom('x')]]);
    assert.ok(dead instanceof Pid);
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(rec.session.traceProcesses({ kind: 'pid', pid: dead }, ['send']), (e: unknown) => e instanceof AgentError && e.code === 'NO_SUCH_PROCESS');
    await assert.rejects(rec.session.traceProcesses({ kind: 'name', name: 'es_no_such_name_zq' }, ['send']), (e: unknown) => e instanceof AgentError && e.code === 'UNKNOWN_NAME' && /es_no_such_name_zq/.test(e.message));
    assert.match(await node.eval('catch list_to_existing_atom("es_no_such_name_zq")'), /badarg/);
    await rec.session.stop();
  });

  it('traces existing processes except relays, and removes every flag afterwards', async () => {
    const rec = await record(eng);
    const n = await rec.session.traceProcesses({ kind: 'existing' }, ['receive']);
    assert.ok(n > 10, `${n} processes`);
    assert.equal(await node.eval(`erlang:trace_info(${'list_to_pid("' + inspectPid(rec.session.relay) + '")'}, flags)`), '{flags,[]}');
    await rec.session.stop();
    assert.equal(await node.eval(`[P || P <- erlang:processes(), element(2, erlang:trace_info(P, flags)) =/= []]`), '[]');
    assert.ok(rec.events.some((e) => kind(e) === 'receive'));
  });
});

function inspectPid(p: Pid): string {
  return `<0.${p.id}.${p.serial}>`;
}
