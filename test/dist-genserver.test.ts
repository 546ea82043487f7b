/**
 * GenServer.call/cast to a real Elixir GenServer, and target processes calling names we serve
 * (the OTP 24+ alias reply path), plus the fast failures: unknown name, dead server, timeout.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LocalNode } from '../src/erlang/node.js';
import { CallExitError, CallTimeoutError } from '../src/erlang/errors.js';
import { atom, Pid, termEquals, tuple, type Term } from '../src/erlang/terms.js';
import { randomName, startNode, type BeamNode } from './support/beam.js';

const A = atom;

const COUNTER = `
defmodule EsTestCounter do
  use GenServer
  def init(n), do: {:ok, n}
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_call({:add, k}, _from, n), do: {:reply, {:ok, n + k}, n + k}
  def handle_call(:slow, _from, n), do: (Process.sleep(2_000); {:reply, :late, n})
  def handle_call(:crash, _from, _n), do: raise("crash requested")
  def handle_cast({:set, k}, _n), do: {:noreply, k}
end
{:ok, pid} = GenServer.start(EsTestCounter, 10, name: :es_counter)
pid
`;

describe('gen_server', () => {
  let ex: BeamNode;
  let local: LocalNode;
  const warnings: string[] = [];

  before(async () => {
    ex = await startNode({ kind: 'elixir' });
    await ex.evalElixir(COUNTER);
    local = await LocalNode.start({ cookie: ex.cookie, warn: (m) => warnings.push(m) });
    await local.connect(ex.name);
  });
  after(async () => {
    await local.close();
    await ex.stop();
  });

  const counter = (): [string, string] => ['es_counter', ex.name];

  it('calls and casts a real GenServer by name and by pid', async () => {
    assert.equal(await local.genServerCall(counter(), A('get')), 10);
    assert.ok(termEquals(await local.genServerCall(counter(), tuple(A('add'), 5)), tuple(A('ok'), 15)));
    local.genServerCast(counter(), tuple(A('set'), 100));
    assert.equal(await local.genServerCall(counter(), A('get')), 100);
    const pid = await (await local.connect(ex.name)).rpc('erlang', 'whereis', [A('es_counter')]);
    assert.ok(pid instanceof Pid);
    assert.equal(await local.genServerCall(pid, A('get')), 100);
  });

  it('an unknown name fails fast with noproc; a timeout gives CallTimeoutError', async () => {
    await assert.rejects(local.genServerCall([randomName('nobody'), ex.name], A('get'), 30_000), (err: unknown) => {
      assert.ok(err instanceof CallExitError);
      assert.equal(err.reason, A('noproc'));
      assert.match(err.message, /noproc/);
      return true;
    });
    await assert.rejects(local.genServerCall(counter(), A('slow'), 100), CallTimeoutError);
    // The late reply of the slow call does not disturb the next one.
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await local.genServerCall(counter(), A('get')), 100);
  });

  it('a server that dies during the call gives its exit reason', async () => {
    await assert.rejects(local.genServerCall(counter(), A('crash'), 30_000), (err: unknown) => {
      assert.ok(err instanceof CallExitError);
      assert.match(err.message, /crash requested/);
      return true;
    });
  });

  it('target processes GenServer.call a name we serve; replies go to their alias', async () => {
    const seen: Array<{ request: Term; from: Pid }> = [];
    const casts: Term[] = [];
    const served = local.serve(
      'es_engine',
      async (request, from) => {
        seen.push({ request, from: from.pid });
        return tuple(A('echo'), request);
      },
      { onCast: (r) => casts.push(r) },
    );
    const reply = await ex.evalElixir(`GenServer.call({:es_engine, :"${local.name}"}, {:ping, 1})`);
    assert.equal(reply, '{:echo, {:ping, 1}}');
    assert.equal(seen.length, 1);
    assert.ok(termEquals(seen[0]!.request, tuple(A('ping'), 1)));
    // OTP 24+ tags the call [alias | Ref]: the reply above went through ALIAS_SEND.
    const tagIsAlias = await ex.evalElixir(`
      parent = self()
      spawn(fn -> send(parent, {:tag, :gen.call({:es_engine, :"${local.name}"}, :"$gen_call", :x)}) end)
      receive do {:tag, {:ok, r}} -> r end`);
    assert.equal(tagIsAlias, '{:echo, :x}');
    await ex.evalElixir(`GenServer.cast({:es_engine, :"${local.name}"}, :hello)`);
    for (let i = 0; i < 100 && casts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(casts, [A('hello')]);

    // A handler that throws: the caller gets an exit at once, and the name is served again.
    const crashing = local.serve('es_crashy', async (request) => {
      if (request === A('bad')) throw new Error('handler failed');
      return A('fine');
    }, {});
    const out = await ex.evalElixir(`try do GenServer.call({:es_crashy, :"${local.name}"}, :bad, 10_000) catch :exit, r -> {:exited, elem(r, 0)} end`);
    assert.match(out, /^\{:exited, \{:handler_error, "handler failed"\}\}$/);
    assert.equal(await ex.evalElixir(`GenServer.call({:es_crashy, :"${local.name}"}, :good)`), ':fine');
    served.stop();
    crashing.stop();
    const gone = await ex.evalElixir(`try do GenServer.call({:es_engine, :"${local.name}"}, :x, 5_000) catch :exit, r -> elem(r, 0) end`);
    assert.equal(gone, ':noproc');
    assert.ok(warnings.some((w) => w.includes('es_crashy') && w.includes('handler failed')));
  });
});
