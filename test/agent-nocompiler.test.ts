/**
 * A node without the compiler application (common in releases): the loader says so clearly, and
 * once this engine has compiled the agent on another node of the same OTP release, the cached
 * binary loads there without any compiler. (Own file: the cache lives in the test's process.)
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, unloadAgentIfUnused, AgentError } from '../src/agent/loader.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, record, type Engine } from './support/agentHarness.js';

describe('agent loader without a compiler on the target', () => {
  let bare: BeamNode;
  let full: BeamNode;
  let onBare: Engine;
  let onFull: Engine;

  before(async () => {
    [bare, full] = await Promise.all([startNode({ kind: 'erl' }), startNode({ kind: 'erl' })]);
    // Like a release built without :compiler: the module is neither loaded nor loadable.
    assert.equal(await bare.eval('code:is_loaded(compile)'), 'false');
    await bare.eval('true = code:del_path(filename:join(code:lib_dir(compiler), "ebin")), ok');
    assert.equal(await bare.eval('code:ensure_loaded(compile)'), '{error,nofile}');
    onBare = await attach(bare);
    onFull = await attach(full);
  });
  after(async () => {
    await onBare.close();
    await onFull.close();
    await Promise.all([bare.stop(), full.stop()]);
  });

  it('refuses with NO_COMPILER and a way out, then loads the binary compiled elsewhere', async () => {
    await assert.rejects(loadAgent(onBare.remote), (err: unknown) => {
      assert.ok(err instanceof AgentError);
      assert.equal(err.code, 'NO_COMPILER');
      assert.match(err.message, /no compiler application/);
      assert.match(err.message, /extra_applications/);
      return true;
    });
    assert.equal(await bare.eval('code:is_loaded(elixir_scope_agent)'), 'false');

    assert.equal((await loadAgent(onFull.remote)).action, 'loaded');
    assert.equal((await loadAgent(onBare.remote)).action, 'loaded');
    const rec = await record(onBare);
    await rec.session.traceProcesses({ kind: 'existing' }, ['receive']);
    await rec.session.stop();
    assert.ok(rec.events.length > 0);
    assert.equal(await unloadAgentIfUnused(onBare.remote), true);
    assert.equal(await unloadAgentIfUnused(onFull.remote), true);
  });
});
