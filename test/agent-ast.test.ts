/**
 * AST instrumentation, the agent's side (docs/ast.md), on a real Elixir node with a module compiled
 * by elixirc (a .beam and its source file): the quoted form from the source, from text the engine
 * sends, from debug_info when the source is gone, and the error when neither is there; a probe
 * built here in quoted form, compiled and loaded on the node, producing es_ast events through the
 * session; an exact revert (md5 and code:which as before) on request, on stop, when the relay is
 * killed and when the engine process is killed; refusals that name the processes in the way.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadAgent, AgentError } from '../src/agent/loader.js';
import { instrumentedModules, revertInstrumented, type AgentSession, type InstrumentResult } from '../src/agent/client.js';
import { inspect } from '../src/erlang/inspect.js';
import { Pid, Tuple, atom, isAtom, isTuple, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, compileOnNode, detach, eventually, kind, record, startEngineChild, type Engine } from './support/agentHarness.js';
import { BARE, DEMO, DEMO_SOURCE, GONE, INNER, OUTER, compileDemo, insertProbe, variable } from './support/astNodeProbe.js';

const DEMO_ATOM = "'Elixir.EsAst.Demo'";

const md5Of = async (node: BeamNode): Promise<string> =>
  (await node.eval(`binary:encode_hex(erlang:get_module_info(${DEMO_ATOM}, md5))`)).replace(/[<>"\s]/g, '').toLowerCase();

function isAgentError(code: string, re?: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    if (!(e instanceof AgentError)) throw e;
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}

describe('agent AST instrumentation on an elixir node', () => {
  let dir: string;
  let node: BeamNode;
  let eng: Engine;
  let originalMd5: string;
  let originalWhich: string;

  const md5 = (): Promise<string> => md5Of(node);
  const which = (): Promise<string> => node.eval(`code:which(${DEMO_ATOM})`);
  const probeTerm = (): Promise<string> => node.eval(`persistent_term:get({elixir_scope_ast, ${DEMO_ATOM}}, none)`);
  /** With no relay left, the guardian's unloader removes the agent: wait for that, then load it again. */
  const reloadAfterUnload = async (): Promise<void> => {
    await eventually(async () => (await node.eval(`code:is_loaded(elixir_scope_agent)`)) === 'false', 'the agent unloaded itself', 15_000);
    await loadAgent(eng.remote);
  };
  const ourTerms = (): Promise<string> => node.eval(`[K || {{elixir_scope_ast, _} = K, _} <- persistent_term:get()]`);
  /** A process blocked in a receive inside EsAst.Demo.wait/0; returns its pid as <0.N.0>. */
  const spawnWaiter = async (): Promise<string> =>
    (await node.eval(`P = spawn(fun() -> ${DEMO_ATOM}:wait() end), register(es_ast_waiter, P), timer:sleep(50), pid_to_list(P)`)).replace(/"/g, '').trim();

  const instrumentAdd = async (session: AgentSession): Promise<InstrumentResult[]> => {
    const src = await session.astSource(DEMO);
    assert.equal(src.origin, 'source');
    if (src.origin !== 'source') throw new Error('unreachable');
    return session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3) }]);
  };

  before(async () => {
    dir = compileDemo();
    node = await startNode({ kind: 'elixir' });
    await node.eval(`true = code:add_patha("${dir}"), [{module, _} = code:ensure_loaded(M) || M <- [${DEMO_ATOM}, 'Elixir.EsAst.Gone', 'Elixir.EsAst.Bare']], ok`);
    eng = await attach(node);
    await loadAgent(eng.remote);
    originalMd5 = await md5();
    originalWhich = await which();
    assert.match(originalWhich, /Elixir\.EsAst\.Demo\.beam/);
  });
  after(async () => {
    await detach(eng, node);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets the quoted module from its source file, and checks the source is what was loaded', async () => {
    const rec = await record(eng);
    const src = await rec.session.astSource(DEMO);
    assert.equal(src.origin, 'source');
    if (src.origin !== 'source') return;
    assert.equal(src.module, DEMO);
    assert.equal(src.file, `${dir}/demo.ex`);
    assert.equal(src.beam, `${dir}/Elixir.EsAst.Demo.beam`);
    assert.equal(src.md5, originalMd5);
    assert.equal(src.sourceMatches, true);
    // The quoted form as Code.string_to_quoted/2 gives it, with columns and token metadata.
    assert.ok(isTuple(src.quoted, 3) && isAtom(src.quoted.elements[0], 'defmodule'));
    assert.match(inspect(src.quoted), /\{:def, \[end_of_expression: .*, line: 2, column: 3\], \[\{:add, \[closing: \[line: 2, column: 15\], line: 2, column: 7\], \[\{:a, \[line: 2, column: 11\], nil\}/);
    // Lossless both ways: sent back to the node, it is the very term the node's parser makes there.
    const onNode = await node.eval(
      `{ok, Q} = 'Elixir.Code':string_to_quoted(element(2, file:read_file("${dir}/demo.ex")), [{columns, true}, {token_metadata, true}, {file, <<"${dir}/demo.ex">>}]), binary:encode_hex(erlang:md5(term_to_binary(Q)))`,
    );
    const ours = await eng.remote.rpc('erlang', 'md5', [await eng.remote.rpc('erlang', 'term_to_binary', [src.quoted])]);
    assert.ok(Buffer.isBuffer(ours));
    assert.equal(ours.toString('hex'), onNode.replace(/[<>"\s]/g, '').toLowerCase());
    await rec.session.stop();
  });

  it('parses text the engine sends instead, and tells when it is not the loaded code', async () => {
    const rec = await record(eng);
    const same = await rec.session.astSource(DEMO, { sourceText: DEMO_SOURCE });
    assert.equal(same.origin, 'source');
    if (same.origin === 'source') assert.equal(same.sourceMatches, true);
    const edited = await rec.session.astSource(DEMO, { sourceText: DEMO_SOURCE.replace('c * 2', 'c * 3'), file: '/elsewhere/demo.ex' });
    assert.equal(edited.origin, 'source');
    if (edited.origin === 'source') {
      assert.equal(edited.sourceMatches, false);
      assert.equal(edited.file, '/elsewhere/demo.ex');
    }
    // Lines moved down by one: the same md5 (it does not cover line numbers), but probes would be
    // placed on the wrong lines.
    const moved = await rec.session.astSource(DEMO, { sourceText: `\n${DEMO_SOURCE}` });
    assert.equal(moved.origin === 'source' && moved.sourceMatches, false);
    await assert.rejects(rec.session.astSource(DEMO, { sourceText: 'defmodule Other do\nend\n' }), isAgentError('MODULE_NOT_IN_SOURCE', /no defmodule EsAst\.Demo/));
    await assert.rejects(rec.session.astSource(DEMO, { sourceText: 'defmodule EsAst.Demo do\n  def f(, do: 1\nend\n' }), isAgentError('PARSE_FAILED', /does not parse/));
    await rec.session.stop();
  });

  it('a module nested in another: each comes alone; instrumenting the outer one leaves the inner one alone', async () => {
    await node.eval(`[{module, _} = code:ensure_loaded(M) || M <- ['Elixir.EsAst.Outer', 'Elixir.EsAst.Outer.Inner']], ok`);
    const rec = await record(eng);
    const inner = await rec.session.astSource(INNER);
    assert.ok(inner.origin === 'source');
    assert.equal(inner.sourceMatches, true);
    // Its full name as the alias (the parser wrote `Inner`, which means EsAst.Outer.Inner only inside EsAst.Outer).
    assert.match(inspect(inner.quoted), /^\{:defmodule, \[.*\], \[EsAst\.Outer\.Inner, \[do: \{:def, /);
    const outer = await rec.session.astSource(OUTER);
    assert.ok(outer.origin === 'source');
    assert.equal(outer.sourceMatches, true);
    assert.match(inspect(outer.quoted), /\{:alias, \[.*\], \[\{:__aliases__, \[\], \[:EsAst, :Outer, :Inner\]\}, \[warn: false\]\]\}/);
    assert.doesNotMatch(inspect(outer.quoted), /def f\b|:f, \[/);
    const innerMd5 = await node.eval(`erlang:get_module_info('Elixir.EsAst.Outer.Inner', md5)`);
    await rec.session.instrument([{ module: OUTER, quoted: insertProbe(outer.quoted, 'g', 1, 0, 'x', variable('x'), 6) }]);
    assert.equal(await node.eval(`'Elixir.EsAst.Outer':g(1)`), '202');
    assert.equal(await node.eval(`erlang:get_module_info('Elixir.EsAst.Outer.Inner', md5)`), innerMd5);
    // A quoted module that would define another one is refused.
    await rec.session.revert('all');
    const sneaky = new Tuple([atom('defmodule'), [], [atom(OUTER), [new Tuple([atom('do'), new Tuple([atom('defmodule'), [], [atom('Elixir.EsAst.Sneaky'), [new Tuple([atom('do'), atom('nil')])]]])])]]]);
    await assert.rejects(rec.session.instrument([{ module: OUTER, quoted: sneaky }]), isAgentError('BAD_QUOTED', /defines another module/));
    await rec.session.stop();
    const probes = rec.events.filter((e) => kind(e) === 'es_ast') as Tuple[];
    assert.deepEqual(probes.map((e) => inspect(e.elements[6]!)), ['{"x", 1}']);
  });

  it('falls back to the debug_info chunk when the source file is gone', async () => {
    const rec = await record(eng);
    const src = await rec.session.astSource(GONE);
    assert.equal(src.origin, 'debug_info');
    if (src.origin !== 'debug_info') return;
    assert.equal(src.file, `${dir}/gone.ex`);
    assert.ok(Array.isArray(src.definitions));
    const names = (src.definitions as Term[]).map((d) => (isTuple(d, 4) ? inspect(d.elements[0]!) : '?'));
    assert.deepEqual(names, ['{:twice, 1}']);
    await rec.session.stop();
  });

  it('says what is missing when there is neither source nor debug_info, and refuses other modules', async () => {
    const rec = await record(eng);
    await assert.rejects(rec.session.astSource(BARE), isAgentError('NO_SOURCE', /EsAst\.Bare: its source file .*bare\.ex is not on .*debug_info chunk \(stripped\)/));
    await assert.rejects(rec.session.astSource('lists'), isAgentError('NOT_ELIXIR', /:lists .* is not an Elixir module/));
    await assert.rejects(rec.session.astSource('Elixir.EsAst.NoSuchModule'), isAgentError('UNKNOWN_MODULE'));
    // ...and asking did not create the atom.
    assert.match(await node.eval(`catch binary_to_existing_atom(<<"Elixir.EsAst.NoSuchModule">>, utf8)`), /badarg/);
    await rec.session.stop();
  });

  it('instruments: calls produce es_ast events through the session; revert puts back the exact original', async () => {
    const rec = await record(eng);
    const [r] = await instrumentAdd(rec.session);
    assert.equal(r!.module, DEMO);
    assert.equal(r!.md5Before, originalMd5);
    assert.deepEqual(r!.warnings, []);
    assert.notEqual(await md5(), originalMd5);
    assert.equal(r!.md5Instrumented, await md5());
    assert.equal(await which(), originalWhich, 'loaded under the same file name');
    assert.match(await probeTerm(), /^<\d+\.\d+\.\d+>$/);
    const caller = (await node.eval(`pid_to_list(self())`)).replace(/"/g, '');
    assert.equal(await node.eval(`{${DEMO_ATOM}:add(1, 2), ${DEMO_ATOM}:add(5, 5)}`), '{6,20}');

    // Another session cannot take it; a second engine sees who has it.
    const other = await record(eng);
    await assert.rejects(instrumentAdd(other.session), isAgentError('ALREADY_INSTRUMENTED', /EsAst\.Demo .* already instrumented/));
    await other.session.stop();
    const listed = await instrumentedModules(eng.remote);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.module, DEMO);
    assert.equal(listed[0]!.md5Before, originalMd5);
    assert.equal(listed[0]!.relay.key, rec.session.relay.key);

    const reverted = await rec.session.revert('all');
    assert.deepEqual(reverted, [{ module: DEMO, md5: originalMd5 }]);
    assert.equal(await md5(), originalMd5);
    assert.equal(await which(), originalWhich);
    assert.equal(await probeTerm(), 'none');
    assert.equal(await node.eval(`erlang:check_old_code(${DEMO_ATOM})`), 'false', 'the instrumented code was purged');
    assert.equal(await node.eval(`${DEMO_ATOM}:add(2, 2)`), '8');
    await assert.rejects(rec.session.revert([DEMO]), isAgentError('NOT_INSTRUMENTED'));
    await rec.session.stop();

    const probes = rec.events.filter((e) => kind(e) === 'es_ast') as Tuple[];
    assert.deepEqual(
      probes.map((e) => inspect(new Tuple([e.elements[3]!, e.elements[4]!, e.elements[5]!, e.elements[6]!]))),
      ['{:probe, {EsAst.Demo, :add, 2}, 3, {"c", 3}}', '{:probe, {EsAst.Demo, :add, 2}, 3, {"c", 10}}'],
    );
    assert.ok(probes.every((e) => e.elements[1] instanceof Pid && inspect(e.elements[1], { localNode: eng.remote.nodeAtom }) === `#PID${caller}`));
    assert.ok(probes.every((e) => typeof e.elements[2] === 'number' || typeof e.elements[2] === 'bigint'));
    assert.equal(rec.done!.stats.events, 2);
    // Compiling (the check of the source and the instrumented module) printed no warning on the node.
    assert.doesNotMatch(node.output(), /warning/i);
  });

  it('es_ast events obey the session limits: payloads truncated, a limit ends the session and reverts', async () => {
    const rec = await record(eng, { maxTermBytes: 64, maxEvents: 3 });
    const src = await rec.session.astSource(DEMO);
    if (src.origin !== 'source') throw new Error('expected the source');
    // A probe whose value is a 1000-byte binary: {:"Elixir.String".duplicate("x", 1000), ...}
    const big = new Tuple([new Tuple([atom('.'), [], [atom('Elixir.String'), atom('duplicate')]]), [], [Buffer.from('x'), 1000]]);
    await rec.session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'big', big, 3) }]);
    // A process that also has its sends traced: its probe's send to the relay is the relay's own doing.
    await node.eval(`register(es_ast_caller, spawn(fun Loop() -> receive {add, A, B, From} -> From ! {sum, ${DEMO_ATOM}:add(A, B)}, Loop() end end)), ok`);
    const caller = await eng.remote.rpc('erlang', 'whereis', [atom('es_ast_caller')]);
    assert.ok(caller instanceof Pid);
    await rec.session.traceProcesses({ kind: 'pid', pid: caller }, ['send']);
    assert.equal(await node.eval(`es_ast_caller ! {add, 1, 2, self()}, receive {sum, S} -> S end`), '6');
    await node.eval(`[${DEMO_ATOM}:add(N, N) || N <- lists:seq(1, 5)]`);
    await rec.finished;
    assert.match(rec.done!.reasonText, /max_events limit \(3\)/);
    const probes = rec.events.filter((e) => kind(e) === 'es_ast') as Tuple[];
    assert.equal(inspect(probes[0]!.elements[6]!), '{:"$es_truncated", 1016, {"big"}}');
    assert.equal(rec.done!.stats.truncated, 2);
    assert.equal(rec.done!.stats.dropped['own'], 1);
    assert.deepEqual(rec.events.map(kind), ['es_ast', 'send', 'es_ast', 'es_limit']);
    await eventually(async () => (await md5()) === originalMd5, 'the limit reverted the module');
    assert.equal(await probeTerm(), 'none');
    await node.eval(`exit(whereis(es_ast_caller), kill)`);
    await loadAgent(eng.remote);
  });

  it('instrumenting again in the same session swaps the instrumentation and keeps the original', async () => {
    const rec = await record(eng);
    const src = await rec.session.astSource(DEMO);
    if (src.origin !== 'source') throw new Error('expected the source');
    const [first] = await rec.session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3) }]);
    const [second] = await rec.session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'inc', 1, 0, 'x', variable('x'), 7) }]);
    assert.equal(second!.md5Before, originalMd5);
    assert.notEqual(second!.md5Instrumented, first!.md5Instrumented);
    assert.equal(await md5(), second!.md5Instrumented);
    assert.equal(await node.eval(`{${DEMO_ATOM}:add(1, 1), ${DEMO_ATOM}:inc(41)}`), '{4,42}');
    assert.deepEqual(await rec.session.revert([DEMO]), [{ module: DEMO, md5: originalMd5 }]);
    assert.equal(await which(), originalWhich);
    await rec.session.stop();
    const probes = rec.events.filter((e) => kind(e) === 'es_ast') as Tuple[];
    assert.deepEqual(probes.map((e) => inspect(new Tuple(e.elements.slice(4)))), ['{{EsAst.Demo, :inc, 1}, 7, {"x", 41}}']);
  });

  it('a second engine reverts modules of another session (revert_all)', async () => {
    const rec = await record(eng);
    await instrumentAdd(rec.session);
    const eng2 = await attach(node);
    try {
      assert.deepEqual(await revertInstrumented(eng2.remote, 'all'), [{ module: DEMO, md5: originalMd5 }]);
    } finally {
      await eng2.close();
    }
    assert.equal(await md5(), originalMd5);
    assert.equal(await probeTerm(), 'none');
    await rec.session.stop();
  });

  it('refuses while a process runs the module, naming it; nothing changes', async () => {
    const pid = await spawnWaiter();
    const rec = await record(eng);
    try {
      await assert.rejects(instrumentAdd(rec.session), isAgentError('MODULE_IN_USE', new RegExp(`#PID${pid.replace(/[<>.]/g, '\\$&')} \\(EsAst\\.Demo\\.wait/0\\)`)));
      assert.equal(await md5(), originalMd5);
      assert.equal(await probeTerm(), 'none');
    } finally {
      await node.eval(`es_ast_waiter ! go`);
      await rec.session.stop();
    }
  });

  it('refuses while a process runs old code of the module (a soft purge would fail), naming it', async () => {
    const pid = await spawnWaiter();
    // Reloading the same .beam turns the waiter's code into old code.
    await node.eval(`{M, B, F} = code:get_object_code(${DEMO_ATOM}), {module, M} = code:load_binary(M, F, B), ok`);
    const rec = await record(eng);
    try {
      assert.equal(await node.eval(`erlang:check_process_code(whereis(es_ast_waiter), ${DEMO_ATOM})`), 'true');
      await assert.rejects(instrumentAdd(rec.session), isAgentError('OLD_CODE_IN_USE', new RegExp(`Processes #PID${pid.replace(/[<>.]/g, '\\$&')} \\(EsAst\\.Demo\\.wait/0\\) still run the old code of EsAst\\.Demo`)));
      assert.equal(await md5(), originalMd5);
    } finally {
      await node.eval(`es_ast_waiter ! go, timer:sleep(50), code:soft_purge(${DEMO_ATOM})`);
      await rec.session.stop();
    }
  });

  it('a revert blocked by a process in the original code is refused, then done in the background', async () => {
    // A process holds a fun made by the original code and runs it only once the module is instrumented.
    await node.eval(`F = ${DEMO_ATOM}:make_waiter(), register(es_ast_holder, spawn(fun() -> receive run -> F() end end)), ok`);
    const rec = await record(eng);
    await instrumentAdd(rec.session);
    const pid = (await node.eval(`P = whereis(es_ast_holder), P ! run, timer:sleep(50), pid_to_list(P)`)).replace(/"/g, '');
    await assert.rejects(rec.session.revert([DEMO]), isAgentError('REVERT_BLOCKED', new RegExp(`#PID${pid.replace(/[<>.]/g, '\\$&')}.*keeps trying in the background`)));
    assert.equal(await probeTerm(), 'none', 'the probes are silenced at once');
    assert.notEqual(await md5(), originalMd5);
    await node.eval(`es_ast_holder ! go`);
    await eventually(async () => (await md5()) === originalMd5, 'the original is back once the process left the old code');
    assert.equal(await which(), originalWhich);
    assert.deepEqual(await instrumentedModules(eng.remote), []);
    await rec.session.stop();
  });

  it('stop reverts everything the session instrumented', async () => {
    const rec = await record(eng);
    await instrumentAdd(rec.session);
    assert.notEqual(await md5(), originalMd5);
    await rec.session.stop();
    assert.equal(await md5(), originalMd5);
    assert.equal(await probeTerm(), 'none');
  });

  it('a relay killed outright: its guardian puts the original back', async () => {
    const rec = await record(eng);
    await instrumentAdd(rec.session);
    await eng.remote.rpc('erlang', 'exit', [rec.session.relay, atom('kill')]);
    await rec.finished;
    await eventually(async () => (await md5()) === originalMd5 && (await probeTerm()) === 'none', 'the guardian reverted the module');
    assert.equal(await which(), originalWhich);
    await reloadAfterUnload();
  });

  it('kill -9 of the engine process: the original is back and the persistent term gone', async () => {
    const { child, ready: [, before, instrumented] } = await startEngineChild(node, 'instrument');
    try {
      assert.equal(before, originalMd5);
      assert.equal(await md5(), instrumented);
      assert.match(await probeTerm(), /^<\d+\.\d+\.\d+>$/);
      assert.equal(await node.eval(`${DEMO_ATOM}:add(1, 1)`), '4');
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    await eventually(async () => (await md5()) === originalMd5 && (await probeTerm()) === 'none', 'the module is back to its original', 5000);
    assert.equal(await which(), originalWhich);
    await reloadAfterUnload();
  });

  it('measures a probe with nobody listening against an uninstrumented call (printed, not asserted)', async (t) => {
    await compileOnNode(
      node,
      `
-module(es_ast_bench).
-export([run/1]).
run(N) -> T0 = erlang:monotonic_time(nanosecond), loop(N), (erlang:monotonic_time(nanosecond) - T0) / N.
loop(0) -> ok;
loop(N) -> 'Elixir.EsAst.Demo':inc(N), loop(N - 1).
`,
    );
    const best = async (n: number, runs: number): Promise<number> => {
      let b = Infinity;
      for (let i = 0; i < runs; i++) b = Math.min(b, Number(await node.eval(`es_ast_bench:run(${n})`)));
      return b;
    };
    const N = 2_000_000;
    const plain = await best(N, 5);
    const rec = await record(eng, { maxRate: 1_000_000_000, batchEvents: 1000 });
    const src = await rec.session.astSource(DEMO);
    if (src.origin !== 'source') throw new Error('expected the source');
    await rec.session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'inc', 1, 0, 'x', variable('x'), 7) }]);
    // Listening: every call sends an event to the relay (the caller's side of the cost).
    const listened = await best(100_000, 3);
    // Nobody listening: the probe finds no relay in the persistent term.
    await node.eval(`persistent_term:erase({elixir_scope_ast, ${DEMO_ATOM}})`);
    const quiet = await best(N, 5);
    const stats = await rec.session.stop();
    assert.equal(stats.events, 300_000, 'every probe of the listened runs reached the relay');
    assert.equal(await md5(), originalMd5);
    const line =
      `probe cost: uninstrumented ${plain.toFixed(1)} ns/call; with a probe and nobody listening ${quiet.toFixed(1)} ns/call ` +
      `(+${(quiet - plain).toFixed(1)} ns); with the relay listening ${listened.toFixed(1)} ns/call`;
    t.diagnostic(line);
  });

  it('leaves no persistent term behind once nothing is instrumented', async () => {
    assert.equal(await ourTerms(), '[]');
    assert.deepEqual(await instrumentedModules(eng.remote), []);
  });
});

describe('agent AST instrumentation when the engine stops answering (network loss)', () => {
  let dir: string;
  let node: BeamNode;

  before(async () => {
    dir = compileDemo();
    // A short net_ticktime, so that a silent peer is declared down within a few seconds.
    node = await startNode({ kind: 'elixir', extraArgs: ['-kernel', 'net_ticktime', '4'] });
    await node.eval(`true = code:add_patha("${dir}"), {module, _} = code:ensure_loaded(${DEMO_ATOM}), ok`);
  });
  after(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a frozen engine (SIGSTOP: socket open, no ticks): the original is back within the net tick time', async () => {
    const original = await md5Of(node);
    const { child, ready: [, before, instrumented] } = await startEngineChild(node, 'instrument');
    try {
      assert.equal(before, original);
      assert.equal(await md5Of(node), instrumented);
      child.kill('SIGSTOP');
      // net_ticktime 4 s: the node gives up on a silent peer after 4-5 s; allow a little more.
      await eventually(
        async () => (await md5Of(node)) === original && (await node.eval(`persistent_term:get({elixir_scope_ast, ${DEMO_ATOM}}, none)`)) === 'none',
        'the module is back to its original',
        9000,
      );
      assert.match(await node.eval(`code:which(${DEMO_ATOM})`), /Elixir\.EsAst\.Demo\.beam/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
