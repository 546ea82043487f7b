/**
 * Loading the agent on real erl and elixir nodes: loaded / joined / replaced, the compiled binary
 * reused from the engine's cache, unloading only when no relay runs, refusing when old code is in
 * use, and the node left as it was (module gone, no stray processes or names).
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { agentSource, loadAgent, unloadAgentIfUnused, AgentError } from '../src/agent/loader.js';
import { AgentSession } from '../src/agent/client.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, compileOnNode, eventually, record, DEFAULT_TEST_LIMITS, type Engine } from './support/agentHarness.js';

for (const kind of ['erl', 'elixir'] as const) {
  describe(`agent loader on an ${kind} node`, () => {
    let node: BeamNode;
    let a: Engine;
    let b: Engine;

    before(async () => {
      node = await startNode({ kind });
      a = await attach(node);
      b = await attach(node);
    });
    after(async () => {
      await a.close();
      await b.close();
      await node.stop();
    });

    const snapshot = async (): Promise<string> =>
      node.eval(`{length(erlang:processes()), lists:sort(registered())}`);

    it('loads, joins, and unloads only when no relay is left; the node is as it was', async () => {
      const before = await snapshot();
      const first = await loadAgent(a.remote);
      assert.equal(first.action, 'loaded');
      assert.equal(first.md5, agentSource().md5);
      assert.equal(await node.eval('element(2, elixir_scope_agent:version())'), `<<"${agentSource().md5}">>`);

      const second = await loadAgent(b.remote);
      assert.equal(second.action, 'joined');

      const sa = await record(a);
      const sb = await record(b);
      assert.equal(await node.eval('elixir_scope_agent:relay_count()'), '2');
      assert.notEqual(sa.session.relay.key, sb.session.relay.key, 'each engine has its own relay');
      assert.equal(sa.session.info.otpRelease, '25');
      if (kind === 'elixir') assert.match(sa.session.info.elixirVersion ?? '', /^1\./);
      else assert.equal(sa.session.info.elixirVersion, null);

      // A relay is running: the module must stay.
      assert.equal(await unloadAgentIfUnused(a.remote), false);
      assert.equal(await node.eval('code:is_loaded(elixir_scope_agent) =/= false'), 'true');

      await sa.session.stop();
      assert.equal(await unloadAgentIfUnused(a.remote), false, 'b still has a relay');
      await sb.session.stop();
      assert.equal(await unloadAgentIfUnused(b.remote), true);
      assert.equal(await node.eval('code:is_loaded(elixir_scope_agent)'), 'false');
      assert.equal(await node.eval('erlang:check_old_code(elixir_scope_agent)'), 'false');
      await eventually(async () => (await snapshot()) === before, `processes and names back to ${before}`);
    });

    it('a second load reuses the compiled binary: the compiler is not run again', async () => {
      await node.eval(`{module, compile} = code:ensure_loaded(compile), erlang:trace_pattern({compile, forms, 2}, true, [call_count])`);
      try {
        const r = await loadAgent(a.remote);
        assert.equal(r.action, 'loaded');
        assert.equal(await node.eval(`erlang:trace_info({compile, forms, 2}, call_count)`), '{call_count,0}');
        const s = await record(a);
        await s.session.stop();
        assert.equal(await unloadAgentIfUnused(a.remote), true);
      } finally {
        await node.eval(`erlang:trace_pattern({compile, forms, 2}, false, [call_count])`);
      }
    });

    it('replaces a different version, leaving its relays running, and refuses when old code is in use', async () => {
      const src = readFileSync(new URL('../../src/agent/elixir_scope_agent.erl', import.meta.url), 'utf8');
      const fake = (tag: string): string => src.replace("'$es_source_md5'", `<<"${tag}">>`);
      const limits = `#{max_rate => 1000, max_events => 1000, max_duration_ms => 60000, max_mailbox => 1000,
                        max_term_bytes => 1000, batch_events => 10, flush_ms => 50}`;
      // An "older ElixirScope" on the node, with a session of its own (its engine is a plain process).
      await compileOnNode(node, fake('older'));
      await node.eval(`E = spawn(fun() -> receive stop -> ok end end), register(es_fake_engine, E),
                       {ok, R, _} = elixir_scope_agent:start_session(E, ${limits}), register(es_fake_relay, R), ok`);
      const r = await loadAgent(a.remote);
      assert.equal(r.action, 'replaced');
      assert.equal(await node.eval('element(2, elixir_scope_agent:version())'), `<<"${agentSource().md5}">>`);
      assert.equal(await node.eval('is_process_alive(whereis(es_fake_relay))'), 'true', 'the old relay keeps running');
      assert.equal(await node.eval('erlang:check_process_code(whereis(es_fake_relay), elixir_scope_agent)'), 'true');

      // Now an even newer one replaces ours while the "older" relay still runs the old code:
      // loading ours again would have to kill it, so the loader refuses and changes nothing.
      await node.eval(`
        Src = unicode:characters_to_list(base64:decode(<<"${Buffer.from(fake('newer')).toString('base64')}">>)),
        {ok, Toks, _} = erl_scan:string(Src),
        Split = fun Split([], _C, Acc) -> lists:reverse(Acc);
                    Split([{dot, _} = D | T], C, Acc) -> Split(T, [], [lists:reverse([D | C]) | Acc]);
                    Split([X | T], C, Acc) -> Split(T, [X | C], Acc) end,
        Forms = [begin {ok, F} = erl_parse:parse_form(Ts), F end || Ts <- Split(Toks, [], [])],
        {ok, M, B} = compile:forms(Forms, [binary]),
        %% erlang:load_module refuses (not_purged) instead of killing: old code is in use.
        erlang:load_module(M, B)`).then((res) => assert.match(res, /not_purged/));
      // The node still has ours as current and the older relay on old code: ours is joined.
      assert.equal((await loadAgent(b.remote)).action, 'joined');
      // Stop the older session; then a replacement by a different version works again.
      await node.eval(`es_fake_engine ! stop, ok`);
      await eventually(async () => (await node.eval('whereis(es_fake_relay)')) === 'undefined', 'the older relay exits');
      // Its engine went away, so that last relay had the module deleted and soft-purged.
      await eventually(async () => (await node.eval('code:is_loaded(elixir_scope_agent)')) === 'false', 'the module unloaded');
      assert.equal(await unloadAgentIfUnused(a.remote), true);
      assert.equal(await node.eval('code:is_loaded(elixir_scope_agent)'), 'false');
    });

    it('refuses with OLD_CODE_IN_USE rather than kill a relay running old code', async () => {
      const src = readFileSync(new URL('../../src/agent/elixir_scope_agent.erl', import.meta.url), 'utf8');
      const limits = `#{max_rate => 1000, max_events => 1000, max_duration_ms => 60000, max_mailbox => 1000,
                        max_term_bytes => 1000, batch_events => 10, flush_ms => 50}`;
      await compileOnNode(node, src.replace("'$es_source_md5'", '<<"v1">>'));
      await node.eval(`E = spawn(fun() -> receive stop -> ok end end), register(es_fake_engine2, E),
                       {ok, R, _} = elixir_scope_agent:start_session(E, ${limits}), register(es_fake_relay2, R), ok`);
      // v2 replaces v1 the careful way (v1's relay keeps the old code)...
      await node.eval(`code:soft_purge(elixir_scope_agent)`);
      await compileOnNode(node, src.replace("'$es_source_md5'", '<<"v2">>'));
      assert.equal(await node.eval('erlang:check_process_code(whereis(es_fake_relay2), elixir_scope_agent)'), 'true');
      // ...and now ours cannot go in without purging v1, which is in use.
      await assert.rejects(loadAgent(a.remote), (err: unknown) => {
        assert.ok(err instanceof AgentError);
        assert.equal(err.code, 'OLD_CODE_IN_USE');
        assert.match(err.message, /Nothing was changed/);
        return true;
      });
      assert.equal(await node.eval('is_process_alive(whereis(es_fake_relay2))'), 'true');
      assert.equal(await node.eval('element(2, elixir_scope_agent:version())'), '<<"v2">>');
      await node.eval(`es_fake_engine2 ! stop, ok`);
      await eventually(async () => (await node.eval('whereis(es_fake_relay2)')) === 'undefined', 'the v1 relay exits');
      await eventually(async () => (await node.eval('code:is_loaded(elixir_scope_agent)')) === 'false', 'the last relay unloads');
      await compileOnNode(node, src.replace("'$es_source_md5'", '<<"v3">>'));
      assert.equal((await loadAgent(a.remote)).action, 'replaced');
      assert.equal(await unloadAgentIfUnused(a.remote), true);
    });

    it('a session before the agent is loaded is NOT_LOADED', async () => {
      assert.equal(await node.eval('code:is_loaded(elixir_scope_agent)'), 'false');
      await assert.rejects(
        AgentSession.start(a.local, a.remote, DEFAULT_TEST_LIMITS, () => undefined),
        (err: unknown) => err instanceof AgentError && err.code === 'NOT_LOADED' && /loadAgent/.test(err.message),
      );
    });

    it('start_session refuses bad limits', async () => {
      await loadAgent(a.remote);
      await assert.rejects(
        AgentSession.start(a.local, a.remote, { ...DEFAULT_TEST_LIMITS, maxRate: 0 }, () => undefined),
        (err: unknown) => err instanceof AgentError && err.code === 'BAD_REQUEST' && /max_rate/.test(err.message),
      );
      assert.equal(await unloadAgentIfUnused(a.remote), true);
    });
  });
}
