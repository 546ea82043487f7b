/**
 * The agent's promise to a production node: when the engine dies (kill -9 of a separate Node
 * process that attached with the built code), the relay removes every trace pattern, trace flag and
 * sys hook it set — and only those: a pattern and a process trace that someone else set before are
 * still there — and the module is unloaded. Also: two engines on one node do not disturb each other.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, unloadAgentIfUnused, AgentError } from '../src/agent/loader.js';
import { Pid, Tuple, atom } from '../src/erlang/terms.js';
import { inspect } from '../src/erlang/inspect.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, compileOnNode, eventually, kind, record, startEngineChild, type Engine } from './support/agentHarness.js';

const VICTIM = `
-module(es_victim).
-behaviour(gen_server).
-export([work/1, other/1, loop/0, start/0, init/1, handle_call/3, handle_cast/2]).
work(X) -> X + 1.
other(X) -> X - 1.
loop() ->
  receive
    {work, X, From} -> From ! {done, work(X)}, loop();
    {other, X, From} -> From ! {done, other(X)}, loop();
    {spawn, From} -> From ! {child, spawn(fun() -> work(1) end)}, loop()
  end.
tracer_loop() -> receive _ -> tracer_loop() end.
start() ->
  register(es_victim_proc, spawn(fun loop/0)),
  {ok, _} = gen_server:start({local, es_victim_gs}, es_victim, [], []),
  %% Someone else's tracing, set before ElixirScope arrives: a pattern and a traced process.
  Tracer = spawn(fun tracer_loop/0), register(es_other_tracer, Tracer),
  Other = spawn(fun loop/0), register(es_other_proc, Other),
  erlang:trace_pattern({es_victim, other, 1}, true, [local]),
  1 = erlang:trace(Other, true, [call, {tracer, Tracer}]),
  ok.
init([]) -> {ok, 0}.
handle_call(inc, _From, S) -> {reply, S + 1, S + 1}.
handle_cast(_, S) -> {noreply, S}.
`;

/** Erlang: the list of things that are NOT as they should be after cleanup ([] when clean). */
const CLEAN_CHECK = `
  Other = whereis(es_other_proc), OtherTracer = whereis(es_other_tracer),
  Foreign = [P || P <- erlang:processes(),
                  case erlang:trace_info(P, tracer) of
                    {tracer, []} -> false;
                    {tracer, OtherTracer} -> false;
                    undefined -> false;
                    _ -> true
                  end],
  {status, _, _, [_, _, _, Dbg | _]} = sys:get_status(es_victim_gs),
  Checks = [
    {pattern_removed, erlang:trace_info({es_victim, work, 1}, traced) =:= {traced, false}},
    {victim_flags_removed, erlang:trace_info(whereis(es_victim_proc), flags) =:= {flags, []}},
    {new_flags_removed, erlang:trace_info(new, flags) =:= {flags, []}},
    {no_process_traced_by_a_relay, Foreign =:= []},
    {sys_hook_removed, Dbg =:= []},
    {genserver_works, gen_server:call(es_victim_gs, inc) > 0 andalso is_integer(sys:get_state(es_victim_gs, 1000))},
    {module_unloaded, code:is_loaded(elixir_scope_agent) =:= false},
    {old_code_purged, erlang:check_old_code(elixir_scope_agent) =:= false},
    {their_pattern_kept, erlang:trace_info({es_victim, other, 1}, traced) =:= {traced, local}},
    {their_tracer_kept, erlang:trace_info(Other, tracer) =:= {tracer, OtherTracer}},
    {their_flags_kept, erlang:trace_info(Other, flags) =:= {flags, [call]}}
  ],
  [Name || {Name, false} <- Checks]`;

/** Polls CLEAN_CHECK until it reports nothing wrong. */
async function expectClean(node: BeamNode, timeoutMs: number): Promise<void> {
  let last = '';
  await eventually(async () => {
    last = (await node.eval(CLEAN_CHECK)).trim();
    return last === '[]';
  }, 'the node is clean', timeoutMs).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; still wrong: ${last}`);
  });
}

for (const nodeKind of ['erl', 'elixir'] as const) {
  describe(`agent cleanup on an ${nodeKind} node`, () => {
    let node: BeamNode;

    before(async () => {
      node = await startNode({ kind: nodeKind });
      await compileOnNode(node, VICTIM);
      await node.eval('es_victim:start()');
    });
    after(async () => {
      await node.stop();
    });

    it('kill -9 of the engine process leaves the node clean, and other tracing untouched', async () => {
      const names = await node.eval('lists:sort(registered())');
      const { child } = await startEngineChild(node, 'trace');
      try {
        // The child's tracing is really in place (otherwise the test would prove nothing).
        assert.equal(await node.eval('erlang:trace_info({es_victim, work, 1}, traced)'), '{traced,local}');
        assert.equal(await node.eval('element(2, erlang:trace_info(whereis(es_victim_proc), tracer)) =/= []'), 'true');
        assert.equal(await node.eval('{status, _, _, [_, _, _, Dbg | _]} = sys:get_status(es_victim_gs), length(Dbg)'), '1');
        assert.equal(await node.eval('elixir_scope_agent:relay_count()'), '1');
        // Some traffic, and a child that inherits the flags (set_on_spawn).
        await node.eval(`es_victim_proc ! {work, 1, self()}, es_victim_proc ! {spawn, self()}, gen_server:call(es_victim_gs, inc),
                         receive {done, 2} -> ok end, receive {child, _} -> ok end`);
        assert.notEqual((await node.eval(CLEAN_CHECK)).trim(), '[]');
      } finally {
        child.kill('SIGKILL');
      }
      await new Promise((r) => child.once('exit', r));
      await expectClean(node, 5000);
      assert.equal(await node.eval('lists:sort(registered())'), names);
    });

    it('a relay killed outright is cleaned up after by its guardian', async () => {
      const eng = await attach(node);
      try {
        await loadAgent(eng.remote);
        const rec = await record(eng);
        await rec.session.traceCalls([{ module: 'es_victim', function: 'work', arity: 1, matchSpec: [] }], { returns: true });
        await rec.session.traceProcesses({ kind: 'name', name: 'es_victim_proc' }, ['call', 'send', 'receive', 'procs', 'set_on_spawn']);
        await rec.session.traceProcesses({ kind: 'new' }, ['call', 'procs']);
        await rec.session.traceState({ kind: 'name', name: 'es_victim_gs' });
        await node.eval(`es_victim_proc ! {spawn, self()}, receive {child, _} -> ok end`);
        assert.notEqual((await node.eval(CLEAN_CHECK)).trim(), '[]');
        await eng.remote.rpc('erlang', 'exit', [rec.session.relay, atom('kill')]);
        await rec.finished;
        assert.equal(inspect(rec.done!.reason), '{:relay_down, :killed}');
        await expectClean(node, 5000);
      } finally {
        await eng.close();
      }
    });

    it('two engines on one node each keep their own traces', async () => {
      const a: Engine = await attach(node);
      const b: Engine = await attach(node);
      try {
        await loadAgent(a.remote);
        await loadAgent(b.remote);
        const ra = await record(a);
        const rb = await record(b);
        await node.eval(`register(es_pa, spawn(fun es_victim:loop/0)), register(es_pb, spawn(fun es_victim:loop/0))`);
        await ra.session.traceCalls([{ module: 'es_victim', function: 'work', arity: 1, matchSpec: [] }], { returns: false });
        await ra.session.traceProcesses({ kind: 'name', name: 'es_pa' }, ['call', 'receive']);
        // b cannot take a's pattern or a's process...
        await assert.rejects(rb.session.traceCalls([{ module: 'es_victim', function: 'work', arity: 1, matchSpec: [] }], { returns: false }), (e: unknown) => e instanceof AgentError && e.code === 'ALREADY_TRACED');
        await assert.rejects(rb.session.traceProcesses({ kind: 'name', name: 'es_pa' }, ['receive']), (e: unknown) => e instanceof AgentError && e.code === 'ALREADY_TRACED');
        // ...and b's own tracing lives next to a's.
        await rb.session.traceProcesses({ kind: 'name', name: 'es_pb' }, ['receive']);
        const gs = await a.remote.rpc('erlang', 'whereis', [atom('es_victim_gs')]);
        assert.ok(gs instanceof Pid);
        await rb.session.traceState({ kind: 'pid', pid: gs });
        await assert.rejects(ra.session.traceState({ kind: 'name', name: 'es_victim_gs' }), (e: unknown) => e instanceof AgentError && e.code === 'ALREADY_TRACED');
        await node.eval(`es_pa ! {work, 1, self()}, es_pb ! {work, 2, self()}, receive {done, 2} -> ok end, receive {done, 3} -> ok end`);

        await ra.session.stop();
        // a is gone; b's flags, hook and a's victims are as b / nobody left them.
        assert.equal(await node.eval('erlang:trace_info(whereis(es_pa), flags)'), '{flags,[]}');
        assert.equal(await node.eval("erlang:trace_info(whereis(es_pb), flags)"), "{flags,['receive',monotonic_timestamp]}");
        assert.equal(await node.eval('{status, _, _, [_, _, _, Dbg | _]} = sys:get_status(es_victim_gs), length(Dbg)'), '1');
        assert.equal(await unloadAgentIfUnused(a.remote), false, "b's relay still runs");
        await node.eval(`es_pb ! {work, 5, self()}, receive {done, 6} -> ok end, gen_server:call(es_victim_gs, inc)`);
        await rb.session.stop();
        assert.equal(await unloadAgentIfUnused(b.remote), true);

        const aEvents = ra.events.map((e) => `${kind(e)} ${(e as Tuple).elements[1] instanceof Pid ? '' : '?'}`);
        assert.ok(ra.events.some((e) => kind(e) === 'call'), aEvents.join(','));
        assert.equal(ra.events.filter((e) => kind(e) === 'receive').length, 1);
        // b saw two receives on es_pb (one before a stopped, one after), no calls, and the state changes.
        assert.equal(rb.events.filter((e) => kind(e) === 'receive').length, 2);
        assert.equal(rb.events.filter((e) => kind(e) === 'call').length, 0);
        assert.ok(rb.events.some((e) => kind(e) === 'es_state'));
        await node.eval('exit(whereis(es_pa), kill), exit(whereis(es_pb), kill)');
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

describe('agent cleanup when the engine stops answering (network loss)', () => {
  let node: BeamNode;

  before(async () => {
    // A short net_ticktime, so that a silent peer is declared down within a few seconds.
    node = await startNode({ kind: 'erl', extraArgs: ['-kernel', 'net_ticktime', '4'] });
    await compileOnNode(node, VICTIM);
    await node.eval('es_victim:start()');
  });
  after(async () => {
    await node.stop();
  });

  it('a frozen engine (SIGSTOP: socket open, no ticks) is cleaned up within the net tick time', async () => {
    const { child } = await startEngineChild(node, 'trace');
    try {
      assert.equal(await node.eval('erlang:trace_info({es_victim, work, 1}, traced)'), '{traced,local}');
      assert.notEqual((await node.eval(CLEAN_CHECK)).trim(), '[]');
      child.kill('SIGSTOP');
      // net_ticktime 4 s: the node gives up on a silent peer after 4-5 s; allow a little more.
      await expectClean(node, 9000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
