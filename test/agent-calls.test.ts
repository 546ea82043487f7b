/**
 * Call tracing through the agent on real nodes: call / return / exception events with arguments
 * and results (local calls included) for an Erlang module compiled on the node and for an Elixir
 * module, match specs with atom markers, and the refusals (unknown module, function or atom, bad
 * match spec, someone else's pattern) — none of which may create an atom on the target.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgent, AgentError } from '../src/agent/loader.js';
import { inspect } from '../src/erlang/inspect.js';
import { Tuple, atom, tuple, type Term } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, detach, compileOnNode, kind, record, type Engine } from './support/agentHarness.js';

const CALC = `
-module(es_calc).
-export([add/2, fail/1, tag/1]).
add(A, B) -> helper(A) + B.
helper(X) -> X * 10.
fail(X) -> erlang:error({bad, X}).
tag(T) -> {tagged, T}.
`;

/** A call-trace event as text without pid and timestamp: `call es_calc:add [1, 2]`. */
function show(e: Term): string {
  const t = e as Tuple;
  switch (kind(e)) {
    case 'call': {
      const [m, f, args] = (t.elements[3] as Tuple).elements;
      return `call ${inspect(m!)}.${inspect(f!)} ${inspect(args!)}`;
    }
    case 'return_from':
    case 'exception_from':
      return `${kind(e)} ${inspect(t.elements[3]!)} ${inspect(t.elements[4]!)}`;
    default:
      return inspect(e);
  }
}

describe('agent call tracing on an erl node', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'erl' });
    eng = await attach(node);
    await compileOnNode(node, CALC);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('reports calls (local ones too), returns and exceptions with arguments and results', async () => {
    const rec = await record(eng);
    const matched = await rec.session.traceCalls([{ module: 'es_calc', function: '_', arity: '_', matchSpec: [] }], { returns: true });
    assert.deepEqual(matched.map((m) => `${m.module}:${m.function}/${m.arity}`).sort(), ['es_calc:add/2', 'es_calc:fail/1', 'es_calc:helper/1', 'es_calc:tag/1']);
    const pid = await eng.remote.rpc('erlang', 'whereis', [atom('code_server')]); // any process: not traced
    assert.ok(pid);
    assert.equal(await rec.session.traceProcesses({ kind: 'new' }, ['call']), 0);
    await node.eval(`P = spawn(fun() -> es_calc:add(1, 2), catch es_calc:fail(1000) end), Ref = monitor(process, P), receive {'DOWN', Ref, _, _, _} -> ok end`);
    const stats = await rec.session.stop();
    const seen = rec.events.map(show);
    assert.deepEqual(seen, [
      'call :es_calc.:add [1, 2]',
      'call :es_calc.:helper [1]',
      'return_from {:es_calc, :helper, 1} 10',
      'return_from {:es_calc, :add, 2} 12',
      'call :es_calc.:fail [1000]',
      'exception_from {:es_calc, :fail, 1} {:error, {:bad, 1000}}',
    ]);
    assert.equal(stats.sent, 6);
    assert.equal(stats.events, 6);
    assert.ok(rec.done && inspect(rec.done.reason) === ':stopped');
    // Every event carries a native monotonic timestamp, in order.
    const ts = rec.events.map((e) => BigInt((e as Tuple).elements[(e as Tuple).size - 1] as number | bigint));
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! >= ts[i - 1]!);
    assert.ok(ts[0]! >= rec.session.info.monoStart);
    // Patterns and flags are gone.
    assert.equal(await node.eval('erlang:trace_info({es_calc, add, 2}, traced)'), '{traced,false}');
    assert.equal(await node.eval('erlang:trace_info(new, flags)'), '{flags,[]}');
  });

  it('a match spec with an atom marker selects calls; returns can be left out', async () => {
    const rec = await record(eng);
    const ms = [tuple([tuple(atom('$es_atom'), Buffer.from('ok'))], [], [])];
    await rec.session.traceCalls([{ module: 'es_calc', function: 'tag', arity: 1, matchSpec: ms }], { returns: false });
    await rec.session.traceProcesses({ kind: 'new' }, ['call']);
    await node.eval(`P = spawn(fun() -> es_calc:tag(error), es_calc:tag(ok), es_calc:tag(1) end), Ref = monitor(process, P), receive {'DOWN', Ref, _, _, _} -> ok end`);
    await rec.session.stop();
    assert.deepEqual(rec.events.map(show), ['call :es_calc.:tag [:ok]']);
  });

  it('refuses unknown modules, functions and atoms without creating atoms', async () => {
    const rec = await record(eng);
    const refuses = async (p: Promise<unknown>, code: string, text: RegExp): Promise<void> => {
      await assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof AgentError, String(err));
        assert.equal(err.code, code);
        assert.match(err.message, text);
        return true;
      });
    };
    await refuses(rec.session.traceCalls([{ module: 'Elixir.No.Such.Mod', function: 'f', arity: 1, matchSpec: [] }], { returns: true }), 'UNKNOWN_MODULE', /Module No\.Such\.Mod is not available/);
    await refuses(rec.session.traceCalls([{ module: 'es_not_a_mod_zq', function: 'f', arity: 1, matchSpec: [] }], { returns: true }), 'UNKNOWN_MODULE', /:es_not_a_mod_zq/);
    // The atom exists but no such module can be loaded.
    await node.eval(`list_to_atom("es_atom_but_no_module")`);
    await refuses(rec.session.traceCalls([{ module: 'es_atom_but_no_module', function: 'f', arity: 1, matchSpec: [] }], { returns: true }), 'UNKNOWN_MODULE', /es_atom_but_no_module/);
    await refuses(rec.session.traceCalls([{ module: 'es_calc', function: 'es_nope_fun_zq', arity: 2, matchSpec: [] }], { returns: true }), 'UNKNOWN_FUNCTION', /:es_calc\.es_nope_fun_zq\/2 does not exist/);
    await refuses(rec.session.traceCalls([{ module: 'es_calc', function: 'add', arity: 3, matchSpec: [] }], { returns: true }), 'UNKNOWN_FUNCTION', /:es_calc\.add\/3/);
    const ms = [tuple([tuple(atom('$es_atom'), Buffer.from('es_never_an_atom_zq'))], [], [])];
    await refuses(rec.session.traceCalls([{ module: 'es_calc', function: 'tag', arity: 1, matchSpec: ms }], { returns: true }), 'UNKNOWN_ATOM', /:es_never_an_atom_zq/);
    await refuses(rec.session.traceCalls([{ module: 'es_calc', function: 'tag', arity: 1, matchSpec: [tuple(atom('x'))] }], { returns: true }), 'BAD_MATCH_SPEC', /refused/);
    for (const name of ['es_not_a_mod_zq', 'es_nope_fun_zq', 'es_never_an_atom_zq']) {
      assert.equal(await node.eval(`catch list_to_existing_atom("${name}")`).then((s) => /badarg/.test(s)), true, `${name} must not exist`);
    }
    // A refused request set nothing, even for the targets before the bad one.
    await refuses(
      rec.session.traceCalls(
        [
          { module: 'es_calc', function: 'add', arity: 2, matchSpec: [] },
          { module: 'es_calc', function: 'nope', arity: 0, matchSpec: [] },
        ],
        { returns: true },
      ),
      'UNKNOWN_FUNCTION',
      /nope/,
    );
    assert.equal(await node.eval('erlang:trace_info({es_calc, add, 2}, traced)'), '{traced,false}');
    await rec.session.stop();
  });

  it("leaves someone else's trace pattern alone (ALREADY_TRACED)", async () => {
    await node.eval(`erlang:trace_pattern({es_calc, tag, 1}, [{'_', [], [{message, theirs}]}], [local])`);
    const rec = await record(eng);
    await assert.rejects(
      rec.session.traceCalls([{ module: 'es_calc', function: '_', arity: '_', matchSpec: [] }], { returns: true }),
      (err: unknown) => err instanceof AgentError && err.code === 'ALREADY_TRACED' && /:es_calc\.tag\/1/.test(err.message),
    );
    await rec.session.stop();
    assert.equal(await node.eval(`erlang:trace_info({es_calc, tag, 1}, match_spec)`), "{match_spec,[{'_',[],[{message,theirs}]}]}");
    assert.equal(await node.eval(`erlang:trace_info({es_calc, add, 2}, traced)`), '{traced,false}');
    await node.eval(`erlang:trace_pattern({es_calc, tag, 1}, false, [local])`);
  });
});

describe('agent call tracing on an elixir node', () => {
  let node: BeamNode;
  let eng: Engine;

  before(async () => {
    node = await startNode({ kind: 'elixir' });
    eng = await attach(node);
    await node.evalElixir(`
      defmodule Shop.Calc do
        def total(items), do: items |> Enum.sum() |> double()
        defp double(x), do: x * 2
        def boom(x), do: raise ArgumentError, "bad #{x}"
      end`);
    await loadAgent(eng.remote);
  });
  after(() => detach(eng, node));

  it('reports an Elixir module’s calls, private ones included, and raised exceptions', async () => {
    const rec = await record(eng);
    const matched = await rec.session.traceCalls([{ module: 'Elixir.Shop.Calc', function: '_', arity: '_', matchSpec: [] }], { returns: true });
    const names = matched.map((m) => `${m.function}/${m.arity}`);
    assert.ok(names.includes('total/1') && names.includes('double/1') && names.includes('boom/1'), names.join(' '));
    await rec.session.traceProcesses({ kind: 'new' }, ['call']);
    await node.evalElixir(`
      t = Task.async(fn -> {Shop.Calc.total([1, 2, 3]), (try do Shop.Calc.boom(1) rescue e -> e end)} end)
      Task.await(t)`);
    await rec.session.stop();
    const seen = rec.events.map(show);
    assert.deepEqual(seen.slice(0, 4), [
      'call Shop.Calc.:total [[1, 2, 3]]',
      'call Shop.Calc.:double [6]',
      'return_from {Shop.Calc, :double, 1} 12',
      'return_from {Shop.Calc, :total, 1} 12',
    ]);
    assert.equal(seen[4], 'call Shop.Calc.:boom [1]');
    assert.match(seen[5]!, /^exception_from \{Shop\.Calc, :boom, 1\} \{:error, %ArgumentError\{message: "bad 1"\}\}$/);
  });

  it('names modules Elixir-style in refusals', async () => {
    const rec = await record(eng);
    await assert.rejects(
      rec.session.traceCalls([{ module: 'Elixir.Shop.Calc', function: 'totl', arity: 1, matchSpec: [] }], { returns: true }),
      (err: unknown) => err instanceof AgentError && err.code === 'UNKNOWN_FUNCTION' && /Shop\.Calc\.totl\/1 does not exist/.test(err.message),
    );
    await rec.session.stop();
  });
});
