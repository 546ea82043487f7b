/**
 * rpc through rex against real erl and elixir nodes: results, captured output in its several io
 * forms, badrpc, timeouts (and no leak of a late reply), a target killed mid-call.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LocalNode } from '../src/erlang/node.js';
import type { RemoteNode } from '../src/erlang/remoteNode.js';
import { BadRpcError, NodeDownError, RpcTimeoutError } from '../src/erlang/errors.js';
import { atom, isTuple, termEquals, tuple, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';

const A = atom;
const bin = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('rpc', () => {
  let erl: BeamNode;
  let ex: BeamNode;
  let local: LocalNode;
  let erlPeer: RemoteNode;
  let exPeer: RemoteNode;

  before(async () => {
    [erl, ex] = await Promise.all([startNode({ kind: 'erl' }), startNode({ kind: 'elixir' })]);
    local = await LocalNode.start({ cookie: erl.cookie });
    erlPeer = await local.connect(erl.name);
    // The elixir node has another cookie: one LocalNode, one cookie, so a second LocalNode for it.
    const exLocal = await LocalNode.start({ cookie: ex.cookie });
    exPeer = await exLocal.connect(ex.name);
    closers.push(() => exLocal.close());
  });
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers) await c();
    await local.close();
    await Promise.all([erl.stop(), ex.stop()]);
  });

  it('returns the result term, lossless', async () => {
    assert.deepEqual(await erlPeer.rpc('erlang', 'system_info', [A('otp_release')]), [...bin('25')].map((b) => b));
    const t = await erlPeer.rpc('erlang', 'list_to_tuple', [[1, 2n ** 70n, A('x'), bin('é')]]);
    assert.ok(termEquals(t, tuple(1, 2n ** 70n, A('x'), bin('é'))));
    assert.equal(await exPeer.rpc('Elixir.String', 'upcase', [bin('héllo')]).then((b) => (b as Buffer).toString('utf8')), 'HÉLLO');
  });

  it('captures what the call prints: io:format, put_chars (binary and unicode), IO.puts', async () => {
    const r1 = await erlPeer.rpcWithOutput('io', 'format', [bin('x=~p ~ts~n'), [42, bin('ünï')]]);
    assert.equal(r1.result, A('ok'));
    assert.equal(r1.output, 'x=42 ünï\n');
    const r2 = await erlPeer.rpcWithOutput('io', 'put_chars', [[bin('a'), [0x3bb, [98]], bin('\n')]]);
    assert.equal(r2.output, 'aλb\n');
    const r3 = await exPeer.rpcWithOutput('Elixir.IO', 'puts', [bin('from elixir ✓')]);
    assert.equal(r3.output, 'from elixir ✓\n');
    const r4 = await exPeer.rpcWithOutput('Elixir.IO', 'inspect', [tuple(A('ok'), [1, 2])]);
    assert.equal(r4.output, '{:ok, [1, 2]}\n');
    // Input requests get eof: we have no terminal.
    const r5 = await erlPeer.rpcWithOutput('io', 'get_line', [bin('prompt> ')]);
    assert.equal(r5.result, A('eof'));
    assert.equal(r5.output, 'prompt> ');
  });

  it('badrpc becomes a BadRpcError carrying the reason term', async () => {
    await assert.rejects(erlPeer.rpc('no_such_module', 'f', []), (err: unknown) => {
      assert.ok(err instanceof BadRpcError);
      assert.equal(err.code, 'BADRPC');
      assert.ok(isTuple(err.reason, 2) && err.reason.elements[0] === A('EXIT'));
      assert.match(err.message, /undef/);
      assert.match(err.message, /no_such_module:f\/0/);
      return true;
    });
    await assert.rejects(erlPeer.rpc('erlang', 'error', [A('boom')]), (err: unknown) => err instanceof BadRpcError && /boom/.test(err.message));
  });

  it('times out with RpcTimeoutError and drops the late reply', async () => {
    await assert.rejects(erlPeer.rpc('timer', 'sleep', [1500], { timeoutMs: 100 }), (err: unknown) => {
      assert.ok(err instanceof RpcTimeoutError);
      assert.equal(err.timeoutMs, 100);
      return true;
    });
    // A later call, still running when the late `ok` of the sleep arrives, gets its own answer.
    const r: Term = await erlPeer.rpc('timer', 'sleep', [2000]).then(() => erlPeer.rpc('erlang', 'atom_to_list', [A('mine')]));
    assert.deepEqual(r, [...'mine'].map((c) => c.charCodeAt(0)));
    assert.ok(erlPeer.connected);
  });

  it('a target killed mid-call gives NodeDownError, not a hang', async () => {
    const victim = await startNode({ kind: 'erl' });
    const l = await LocalNode.start({ cookie: victim.cookie });
    try {
      const p = await l.connect(victim.name);
      const call = p.rpc('timer', 'sleep', [60_000], { timeoutMs: 60_000 });
      setTimeout(() => void victim.stop(), 200);
      await assert.rejects(call, (err: unknown) => err instanceof NodeDownError && err.code === 'NODE_DOWN');
      await assert.rejects(p.rpc('erlang', 'node', []), NodeDownError);
    } finally {
      await l.close();
      await victim.stop();
    }
  });
});
