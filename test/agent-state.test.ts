/**
 * GenServer and gen_statem state through the agent's sys hook: the initial snapshot, then one
 * event per handled message with the raw message, the reply and the state after it; refusal of
 * processes that are not OTP (sys) processes; the hook gone after stop and the server unharmed.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, AgentError } from '../src/agent/loader.js';
import { inspect } from '../src/erlang/inspect.js';
import { Pid, Tuple, atom, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, detach, compileOnNode, kind, record, type Engine } from './support/agentHarness.js';

/** An es_state / es_state_init event as text, without pid and timestamp. */
function show(e: Term, node: Engine): string {
  const t = e as Tuple;
  const i = (x: Term): string => inspect(x, { localNode: node.remote.nodeAtom }).replace(/#PID<[^>]+>/g, 'P').replace(/#Reference<[^>]+>/g, 'R');
  if (kind(e) === 'es_state_init') return `init ${i(t.elements[3]!)}`;
  return `state ${i(t.elements[3]!)} ${i(t.elements[4]!)} ${i(t.elements[5]!)}`;
}

describe('agent state hooks on an elixir node (GenServer)', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'elixir' });
    eng = await attach(node);
    await node.evalElixir(`
      defmodule Shop.Counter do
        use GenServer
        def init(s), do: {:ok, s}
        def handle_call(:inc, _from, s), do: {:reply, s.count + 1, %{s | count: s.count + 1}}
        def handle_cast({:add, n}, s), do: {:noreply, %{s | count: s.count + n}}
        def handle_info(:tick, s), do: {:noreply, Map.put(s, :ticked, true)}
      end
      {:ok, _} = GenServer.start(Shop.Counter, %{count: 0}, name: Shop.Counter)
      :ok`);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('emits the initial state, then each message with its reply and the state after it', async () => {
    const rec = await record(eng);
    const r = await rec.session.traceState({ kind: 'name', name: 'Elixir.Shop.Counter' });
    assert.equal(r.behaviour, 'gen_server');
    assert.ok(r.pid instanceof Pid);
    await node.evalElixir(`
      1 = GenServer.call(Shop.Counter, :inc)
      GenServer.cast(Shop.Counter, {:add, 5})
      send(Shop.Counter, :tick)
      :sys.get_state(Shop.Counter)`);
    await rec.session.stop();
    assert.deepEqual(
      rec.events.map((e) => show(e, eng)),
      [
        'init %{count: 0}',
        'state {:"$gen_call", {P, [:alias | R]}, :inc} {:reply, 1} %{count: 1}',
        'state {:"$gen_cast", {:add, 5}} :noreply %{count: 6}',
        'state :tick :noreply %{count: 6, ticked: true}',
      ],
    );
    // The hook is gone and the server is fine.
    assert.equal(await node.evalElixir(`{:status, _, _, [_, _, _, dbg | _]} = :sys.get_status(Shop.Counter); dbg`), '[]');
    assert.equal(await node.evalElixir(`GenServer.call(Shop.Counter, :inc)`), '7');
  });

  it('a server too busy for the snapshot is still hooked; the snapshot says it timed out', async () => {
    // format_status runs inside sys:get_status: it queues a 1.5 s nap right behind it, so the
    // agent's sys:get_state (1 s timeout) times out, and its sys:install (1 s) waits until the nap ends.
    await node.evalElixir(`
      defmodule Shop.Sleepy do
        use GenServer
        def init(s), do: {:ok, s}
        def format_status(_opt, [_pdict, state]) do
          if state == :fresh, do: GenServer.cast(self(), :nap)
          [data: [{~c"State", state}]]
        end
        def handle_cast(:nap, _s), do: (Process.sleep(1500); {:noreply, :rested})
        def handle_call(:get, _from, s), do: {:reply, s, s}
      end
      {:ok, _} = GenServer.start(Shop.Sleepy, :fresh, name: Shop.Sleepy)
      :ok`);
    const rec = await record(eng);
    assert.equal((await rec.session.traceState({ kind: 'name', name: 'Elixir.Shop.Sleepy' })).behaviour, 'gen_server');
    assert.equal(await node.evalElixir('GenServer.call(Shop.Sleepy, :get)'), ':rested');
    await rec.session.stop();
    assert.deepEqual(
      rec.events.map((e) => show(e, eng)),
      ['init :"$es_snapshot_timeout"', 'state {:"$gen_call", {P, [:alias | R]}, :get} {:reply, :rested} :rested'],
    );
  });

  it('refuses a process that is not a sys process, a dead one, and hooking twice', async () => {
    const rec = await record(eng);
    const plain = await eng.remote.rpc('erlang', 'whereis', [atom('erl_prim_loader')]);
    assert.ok(plain instanceof Pid);
    await assert.rejects(rec.session.traceState({ kind: 'pid', pid: plain }), (e: unknown) => e instanceof AgentError && e.code === 'NOT_A_SYS_PROCESS' && /not a GenServer/.test(e.message));
    await assert.rejects(rec.session.traceState({ kind: 'name', name: 'es_nobody_zq' }), (e: unknown) => e instanceof AgentError && e.code === 'UNKNOWN_NAME');
    await rec.session.traceState({ kind: 'name', name: 'Elixir.Shop.Counter' });
    await assert.rejects(rec.session.traceState({ kind: 'name', name: 'Elixir.Shop.Counter' }), (e: unknown) => e instanceof AgentError && e.code === 'ALREADY_TRACED');
    // erl_prim_loader never got a system message it would keep.
    assert.equal(await node.eval(`element(2, process_info(whereis(erl_prim_loader), message_queue_len))`), '0');
    await rec.session.stop();
  });
});

describe('agent state hooks on an erl node (gen_statem)', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'erl' });
    eng = await attach(node);
    await compileOnNode(
      node,
      `
-module(es_door).
-behaviour(gen_statem).
-export([init/1, callback_mode/0, handle_event/4]).
init(_) -> {ok, locked, 0}.
callback_mode() -> handle_event_function.
handle_event({call, From}, {unlock, 42}, locked, D) -> {next_state, open, D + 1, [{reply, From, ok}]};
handle_event({call, From}, {unlock, _}, locked, D) -> {keep_state, D, [{reply, From, wrong}]};
handle_event(cast, close, open, D) -> {next_state, locked, D}.
`,
    );
    await node.eval(`{ok, _} = gen_statem:start({local, es_door}, es_door, [], []), ok`);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('emits the snapshot {State, Data} and the state after each consumed event', async () => {
    const rec = await record(eng);
    assert.equal((await rec.session.traceState({ kind: 'name', name: 'es_door' })).behaviour, 'gen_statem');
    await node.eval(`wrong = gen_statem:call(es_door, {unlock, 1}), ok = gen_statem:call(es_door, {unlock, 42}), gen_statem:cast(es_door, close), sys:get_state(es_door)`);
    await rec.session.stop();
    assert.deepEqual(
      rec.events.map((e) => show(e, eng)),
      [
        'init {:locked, 0}',
        'state {{:call, {P, R}}, {:unlock, 1}} :statem :locked',
        'state {{:call, {P, R}}, {:unlock, 42}} :statem :open',
        'state {:cast, :close} :statem :locked',
      ],
    );
    assert.equal(await node.eval(`sys:get_state(es_door)`), '{locked,1}');
  });
});
