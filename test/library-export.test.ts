// The Erlang library is usable on its own, through the package's "./erlang" export: this runs the
// README's example as a user of the package would write it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode } from './support/beam.js';

test("the README's library example works through the elixir-scope/erlang export", async (t) => {
  const target = await startNode({ kind: 'elixir' });
  t.after(() => target.stop());
  const { LocalNode, atom, tuple, float, inspect, encode, decode } = await import('elixir-scope/erlang');

  const local = await LocalNode.start({ cookie: target.cookie });
  try {
    const peer = await local.connect(target.name, { timeoutMs: 5000 });
    const release = await peer.rpc('erlang', 'system_info', [atom('otp_release')]);
    assert.equal(inspect(release), `'${JSON.parse(await target.eval('erlang:system_info(otp_release)'))}'`);
    const state = await peer.rpc('Elixir.Map', 'new', [[tuple(atom('count'), 2n ** 60n), tuple(atom('ratio'), float(1.5))]]);
    assert.equal(inspect(state), '%{count: 1152921504606846976, ratio: 1.5}');
    assert.deepEqual(decode(encode(state)), state);
  } finally {
    await local.close();
  }
});
