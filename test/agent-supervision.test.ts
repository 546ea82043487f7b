/**
 * elixir_scope_agent:supervision_tree/1 on a real Elixir node running a small application: the tree
 * it returns is what supervisor:which_children says, supervisor by supervisor; a suspended
 * supervisor is skipped (timeout) while the rest is still read; a worker that a spec calls a
 * supervisor is never asked anything; max_entries cuts the answer, and a supervisor with more
 * children than the entries left is not listed (too_many); bad options are refused.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent } from '../src/agent/loader.js';
import { ErlMap, Pid, Tuple, atom, isAtom, isTuple, type Term } from '../src/erlang/terms.js';
import { inspect } from '../src/erlang/inspect.js';
import { readSupervision, pidText } from '../src/runtime/supervision.js';
import type { SupervisionEntry, SupervisionSnapshot } from '../src/store/types.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, detach, type Engine } from './support/agentHarness.js';

const APP = `
defmodule EsDemo.Echo do
  use GenServer
  def start_link(name), do: GenServer.start_link(__MODULE__, name, name: name)
  def init(name), do: {:ok, name}
  # Only :ping: any other call (a supervisor's which_children) would crash it.
  def handle_call(:ping, _from, s), do: {:reply, :pong, s}
end

defmodule EsDemo.Sub do
  use Supervisor
  def start_link(_), do: Supervisor.start_link(__MODULE__, [], name: __MODULE__)
  def init([]) do
    Supervisor.init([
      Supervisor.child_spec({EsDemo.Echo, EsDemo.W1}, id: {:w, 1}),
      Supervisor.child_spec({EsDemo.Echo, EsDemo.W2}, id: {:w, 2})
    ], strategy: :one_for_one)
  end
end

defmodule EsDemo.App do
  use Application
  def start(_type, _args) do
    Supervisor.start_link([
      Supervisor.child_spec({EsDemo.Echo, EsDemo.Top}, id: EsDemo.Top),
      EsDemo.Sub,
      {DynamicSupervisor, name: EsDemo.Dyn, strategy: :one_for_one},
      Supervisor.child_spec({EsDemo.Echo, EsDemo.Fake}, id: :fake_sup, type: :supervisor)
    ], strategy: :one_for_one, name: EsDemo.Sup)
  end
end

:ok = :application.load({:application, :es_demo, [description: 'demo', vsn: '1', modules: [], registered: [],
  applications: [:kernel, :stdlib, :elixir], mod: {EsDemo.App, []}]})
:ok = :application.start(:es_demo)
{:ok, _} = DynamicSupervisor.start_child(EsDemo.Dyn, {EsDemo.Echo, EsDemo.D1})
{:ok, _} = DynamicSupervisor.start_child(EsDemo.Dyn, {EsDemo.Echo, EsDemo.D2})
:ok
`;

/** `[{id, pid, type}]` of a supervisor as the node itself says (supervisor:which_children/1). */
async function whichChildren(eng: Engine, sup: string): Promise<Array<{ id: string; pid: string | null; type: string }>> {
  const r = await eng.remote.rpc('supervisor', 'which_children', [atom(sup)]);
  assert.ok(Array.isArray(r), inspect(r));
  return r.map((c) => {
    const t = c as Tuple;
    const pid = t.elements[1];
    return { id: inspect(t.elements[0]!), pid: pid instanceof Pid ? pidText(pid) : null, type: inspect(t.elements[2]!).replace(/^:/, '') };
  });
}

async function pidOfName(eng: Engine, name: string): Promise<string> {
  const p = await eng.remote.rpc('erlang', 'whereis', [atom(name)]);
  assert.ok(p instanceof Pid, `${name} is not running: ${inspect(p)}`);
  return pidText(p);
}

function childrenOf(snap: SupervisionSnapshot, parent: string): Array<{ id: string; pid: string | null; type: string }> {
  return snap.entries.filter((e) => e.parent === parent).map((e) => ({ id: e.id!, pid: e.pid, type: e.type }));
}

function byId<T extends { id: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => a.id.localeCompare(b.id));
}

describe('agent supervision_tree on an elixir node', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'elixir' });
    eng = await attach(node);
    await node.evalElixir(APP);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('returns each supervisor with exactly the children supervisor:which_children gives, parents first', async () => {
    const snap = await readSupervision(eng.remote);
    assert.equal(snap.truncated, false);
    assert.equal(snap.node, eng.remote.name);
    const top = snap.entries.filter((e) => e.app === 'es_demo' && e.parent === null);
    const supPid = await pidOfName(eng, 'Elixir.EsDemo.Sup');
    assert.deepEqual(top, [{ app: 'es_demo', pid: supPid, parent: null, id: null, type: 'supervisor', name: 'EsDemo.Sup' }]);
    for (const sup of ['Elixir.EsDemo.Sup', 'Elixir.EsDemo.Sub', 'Elixir.EsDemo.Dyn']) {
      const pid = await pidOfName(eng, sup);
      assert.deepEqual(byId(childrenOf(snap, pid)), byId(await whichChildren(eng, sup)), sup);
    }
    // The real pids and names, as the node has them.
    const w1 = snap.entries.find((e) => e.name === 'EsDemo.W1')!;
    assert.deepEqual(w1, { app: 'es_demo', pid: await pidOfName(eng, 'Elixir.EsDemo.W1'), parent: await pidOfName(eng, 'Elixir.EsDemo.Sub'), id: '{:w, 1}', type: 'worker', name: 'EsDemo.W1' });
    // DynamicSupervisor children have no id of their own.
    const dyn = childrenOf(snap, await pidOfName(eng, 'Elixir.EsDemo.Dyn'));
    assert.equal(dyn.length, 2);
    assert.ok(dyn.every((c) => c.id === ':undefined' && c.type === 'worker'));
    // Parents come before their children, so a reader can build chains in one pass.
    const seen = new Set<string>();
    for (const e of snap.entries) {
      if (e.parent !== null) assert.ok(seen.has(e.parent), `${e.pid} listed before its supervisor ${e.parent}`);
      if (e.pid !== null) seen.add(e.pid);
    }
    // Other applications are there too (kernel's own tree).
    assert.ok(snap.entries.some((e: SupervisionEntry) => e.app === 'kernel' && e.name === ':kernel_sup' && e.parent === null));
  });

  it('never asks a worker its spec calls a supervisor, and it keeps running', async () => {
    const before = await pidOfName(eng, 'Elixir.EsDemo.Fake');
    const snap = await readSupervision(eng.remote);
    const fake = snap.entries.find((e) => e.id === ':fake_sup')!;
    assert.equal(fake.pid, before);
    assert.equal(fake.type, 'supervisor');
    assert.equal(fake.skipped, 'not_a_supervisor');
    assert.equal(await pidOfName(eng, 'Elixir.EsDemo.Fake'), before);
    assert.ok(isAtom(await eng.remote.rpc('gen_server', 'call', [atom('Elixir.EsDemo.Fake'), atom('ping')]), 'pong'));
  });

  it('skips a suspended supervisor (timeout) and still reads everything else; the supervisor is unharmed', async () => {
    const subPid = await pidOfName(eng, 'Elixir.EsDemo.Sub');
    const expected = byId(await whichChildren(eng, 'Elixir.EsDemo.Sub'));
    await eng.remote.rpc('sys', 'suspend', [atom('Elixir.EsDemo.Sub')]);
    let snap: SupervisionSnapshot;
    try {
      snap = await readSupervision(eng.remote, { timeoutMs: 300 });
    } finally {
      await eng.remote.rpc('sys', 'resume', [atom('Elixir.EsDemo.Sub')]);
    }
    const sub = snap.entries.find((e) => e.pid === subPid)!;
    assert.equal(sub.skipped, 'timeout');
    assert.deepEqual(childrenOf(snap, subPid), []);
    // The rest of the tree is all there: the other children of EsDemo.Sup, the dynamic ones, kernel.
    const supPid = await pidOfName(eng, 'Elixir.EsDemo.Sup');
    assert.deepEqual(byId(childrenOf(snap, supPid)), byId(await whichChildren(eng, 'Elixir.EsDemo.Sup')));
    assert.equal(childrenOf(snap, await pidOfName(eng, 'Elixir.EsDemo.Dyn')).length, 2);
    assert.ok(snap.entries.some((e) => e.name === ':kernel_sup'));
    // Resumed, it answered our late request to no one and is the same supervisor with the same children.
    assert.equal(await pidOfName(eng, 'Elixir.EsDemo.Sub'), subPid);
    assert.deepEqual(byId(await whichChildren(eng, 'Elixir.EsDemo.Sub')), expected);
    const again = await readSupervision(eng.remote);
    assert.deepEqual(byId(childrenOf(again, subPid)), expected);
    assert.equal(again.entries.find((e) => e.pid === subPid)!.skipped, undefined);
  });

  it('stops at max_entries and says the answer is truncated', async () => {
    const snap = await readSupervision(eng.remote, { maxEntries: 3 });
    assert.equal(snap.truncated, true);
    assert.equal(snap.entries.length, 3);
  });

  it('counts a supervisor\'s children before listing them: more than the entries left is too_many, not listed', async () => {
    const supPid = await pidOfName(eng, 'Elixir.EsDemo.Sup');
    assert.equal((await whichChildren(eng, 'Elixir.EsDemo.Sup')).length, 4);
    // es_demo started last, so it is walked first: room for EsDemo.Sup and three more, for four children.
    const snap = await readSupervision(eng.remote, { maxEntries: 4 });
    const sup = snap.entries.find((e) => e.pid === supPid);
    assert.equal(sup?.skipped, 'too_many', JSON.stringify(snap.entries));
    assert.deepEqual(childrenOf(snap, supPid), []);
    assert.equal(snap.truncated, true);
    assert.ok(snap.entries.length <= 4);
  });

  it('refuses options that are not positive integers, naming them', async () => {
    const r = await eng.remote.rpc('elixir_scope_agent', 'supervision_tree', [new ErlMap([[atom('timeout'), 0], [atom('max_entries'), atom('lots')]])]);
    assert.ok(isTuple(r, 2) && isAtom(r.elements[0], 'error'), inspect(r));
    assert.equal(inspect(r as Term), '{:error, {:bad_opts, [:timeout, :max_entries]}}');
    await assert.rejects(readSupervision(eng.remote, { timeoutMs: -1 }), /supervision_tree\/1 .* answered \{:error, \{:bad_opts, \[:timeout\]\}\}/);
  });
});
