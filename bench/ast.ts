/**
 * AST instrumentation benchmark: what an instrumented call costs, and how long instrumenting and
 * reverting a big module takes, on a real Elixir node, in one run.
 *
 *   npm run bench -- ast [calls]      (default 200000 calls per run)
 *
 * Workload: a loop (not instrumented) calling `EsBenchAst.step/2`, a three-line function, timed on
 * the node with timer:tc in a fresh process. step/2 runs:
 *   untraced    the original module;
 *   runtime     runtime-traced by the agent (trace_calls with return values), events to the engine;
 *   AST, listening      instrumented by the agent at each level (function_boundaries, lines, locals,
 *                       expressions), every event sent to the relay and batched to the engine;
 *   AST, nobody listening  the same code with the persistent term removed: each probe point is one
 *                       persistent_term:get/2.
 * The modes alternate for 5 rounds; each figure is the median. The engine side only counts the
 * batches (no recording is written): what is measured is the cost to the instrumented code.
 *
 * Then a generated 1,000-line module (100 functions) is fetched (astSource: the source parsed on the
 * node and checked against the loaded md5), transformed here (at function_boundaries, and at
 * expressions: every level), compiled and loaded by the agent, and reverted (md5 checked), 3 times
 * each; medians in ms, beside the time to compile the module as it is.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentSession, astSource, type AgentLimits } from '../src/agent/client.js';
import { loadAgent, unloadAgentIfUnused } from '../src/agent/loader.js';
import { LocalNode } from '../src/erlang/node.js';
import type { RemoteNode } from '../src/erlang/remoteNode.js';
import { Tuple, atom, type Term } from '../src/erlang/terms.js';
import { instrumentModule, type Levels } from '../src/ast/transform.js';
import { result, median } from './support/report.js';
import { startNode, type BeamNode } from '../test/support/beam.js';

const ROUNDS = 5;

const WORK = `defmodule EsBenchAst do
  def run(n), do: loop(n, 0)

  defp loop(0, acc), do: acc
  defp loop(n, acc), do: loop(n - 1, acc + step(n, rem(acc, 7)))

  def step(x, y) do
    z = x * 2 + y
    w = z + 1
    rem(w, 1_000_003)
  end
end
`;

const LEVELS: Array<[string, Levels]> = [
  ['boundaries', { boundaries: true }],
  ['lines', { boundaries: true, lines: '*' }],
  ['locals', { boundaries: true, lines: '*', locals: { names: '*', at: '*' } }],
  ['expressions', { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' }],
];

/** 100 functions of 10 lines each: branches, pipes, bindings, a tail call. */
function bigModule(): string {
  const out = ['defmodule EsBenchBig do'];
  for (let i = 0; i < 100; i++) {
    out.push(
      `  def f${i}(x, acc) when is_integer(x) do`,
      `    a = x * ${i + 1}`,
      `    b = a |> Integer.to_string() |> String.length()`,
      `    c = case rem(a, 3) do`,
      `      0 -> :zero`,
      `      n -> {:n, n + b}`,
      `    end`,
      `    if x > 0, do: f${(i + 1) % 100}(x - 1, [c | acc]), else: acc`,
      `  end`,
      ``,
    );
  }
  out.push('end', '');
  return out.join('\n');
}

const SPAWN_RUNNER = `
  catch unregister(es_bench_runner),
  R = spawn(fun() -> receive {go, From, N} -> {T, _} = timer:tc('Elixir.EsBenchAst', run, [N]), From ! {es_bench_done, T} end end),
  register(es_bench_runner, R), R`;
const GO = (n: number): string => `es_bench_runner ! {go, self(), ${n}}, receive {es_bench_done, T} -> T after 600000 -> timeout end`;

export async function run(args: string[]): Promise<void> {
  const calls = Number(args[0] ?? 200_000);
  const dir = mkdtempSync(join(tmpdir(), 'es-bench-ast-'));
  writeFileSync(join(dir, 'es_bench_ast.ex'), WORK);
  writeFileSync(join(dir, 'es_bench_big.ex'), bigModule());
  // Real .beam files on the code path: the agent reverts to them exactly.
  const c = spawnSync('elixirc', ['-o', dir, join(dir, 'es_bench_ast.ex'), join(dir, 'es_bench_big.ex')], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`elixirc failed: ${c.stderr}`);
  const node: BeamNode = await startNode({ kind: 'elixir', extraArgs: ['-pa', dir] });
  const local = await LocalNode.start({ cookie: node.cookie });
  try {
    const remote = await local.connect(node.name);
    await loadAgent(remote);
    await remote.rpc('code', 'ensure_loaded', [atom('Elixir.EsBenchAst')]);
    await remote.rpc('code', 'ensure_loaded', [atom('Elixir.EsBenchBig')]);
    const limits: AgentLimits = {
      maxRate: 100_000_000,
      maxEvents: 2_000_000_000,
      maxDurationMs: 3_600_000,
      maxMailbox: 10_000_000,
      maxTermBytes: 16384,
      batchEvents: 500,
      flushMs: 20,
    };
    let batches = 0;
    const start = (): Promise<AgentSession> =>
      AgentSession.start(local, remote, limits, (m) => {
        if (m.type === 'batch') batches++;
      });
    const timed = async (): Promise<number> => {
      await node.eval(SPAWN_RUNNER);
      const t = Number(await node.eval(GO(calls), 600_000));
      if (!Number.isFinite(t)) throw new Error('the workload did not finish');
      return t;
    };

    const src = await astSource(remote, 'Elixir.EsBenchAst');
    if (src.origin !== 'source') throw new Error('EsBenchAst: the agent found no source');
    const times = new Map<string, number[]>();
    const push = (k: string, v: number): void => void (times.get(k) ?? times.set(k, []).get(k)!).push(v);
    for (let round = 0; round < ROUNDS; round++) {
      push('untraced', await timed());

      const rt = await start();
      await rt.traceCalls([{ module: 'Elixir.EsBenchAst', function: 'step', arity: 2, matchSpec: [] }], { returns: true });
      await node.eval(SPAWN_RUNNER);
      await rt.traceProcesses({ kind: 'name', name: 'es_bench_runner' }, ['call']);
      push('runtime', Number(await node.eval(GO(calls), 600_000)));
      await rt.stop(120_000);

      for (const [name, levels] of LEVELS) {
        const { quoted } = instrumentModule(src.quoted, { module: 'Elixir.EsBenchAst', functions: [{ name: 'step', arity: 2, levels }] });
        const s = await start();
        await s.instrument([{ module: 'Elixir.EsBenchAst', quoted }]);
        const before = batches;
        push(`${name}_listening`, await timed());
        if (batches === before) throw new Error(`${name}: no event reached the engine`);
        // Nobody listening: the same code with the persistent term gone, then put back for the revert.
        const key = new Tuple([atom('elixir_scope_ast'), atom('Elixir.EsBenchAst')]);
        const relay = await remote.rpc('persistent_term', 'get', [key]);
        await remote.rpc('persistent_term', 'erase', [key]);
        push(`${name}_quiet`, await timed());
        await remote.rpc('persistent_term', 'put', [key, relay]);
        const [r] = await s.revert('all');
        if (r === undefined || r.md5 !== src.md5) throw new Error(`${name}: the revert did not give the original md5 back`);
        await s.stop(120_000);
      }
    }

    const t0 = median(times.get('untraced')!);
    const trt = median(times.get('runtime')!);
    process.stdout.write(`calls per run: ${calls}, rounds: ${ROUNDS}, whole-loop times in µs (medians)\n`);
    result('ast_untraced', t0, 'us');
    result('ast_runtime', trt, 'us');
    result('ast_runtime_per_call', ((trt - t0) * 1000) / calls, 'ns');
    for (const [name] of LEVELS) {
      for (const mode of ['listening', 'quiet']) {
        const t = median(times.get(`${name}_${mode}`)!);
        result(`ast_${name}_${mode}`, t, 'us');
        result(`ast_${name}_${mode}_per_call`, ((t - t0) * 1000) / calls, 'ns');
        result(`ast_${name}_${mode}_vs_untraced`, t / t0, 'x');
        result(`ast_${name}_${mode}_vs_runtime`, (t - t0) / (trt - t0), 'x');
      }
    }

    await bigModuleTimes(remote, start);
    await remote.rpc('code', 'purge', [atom('Elixir.EsBenchBigRef')]);
    await unloadAgentIfUnused(remote);
  } finally {
    await local.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bigModuleTimes(remote: RemoteNode, start: () => Promise<AgentSession>): Promise<void> {
  const lines = bigModule().split('\n').length - 1;
  process.stdout.write(`big module: ${lines} lines, 100 functions; medians of 3, ms\n`);
  // Reference: compiling the module as it is (under another name, so nothing is replaced).
  const src0 = await astSource(remote, 'Elixir.EsBenchBig', { verify: false });
  if (src0.origin !== 'source') throw new Error('EsBenchBig: the agent found no source');
  const d = src0.quoted as Tuple;
  const renamed = new Tuple([d.elements[0]!, d.elements[1]!, [atom('Elixir.EsBenchBigRef'), (d.elements[2] as Term[])[1]!]]);
  const refMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await remote.rpc('Elixir.Code', 'compile_quoted', [renamed, Buffer.from('es_bench_big.ex')], { timeoutMs: 600_000 });
    refMs.push(performance.now() - t);
  }
  result('ast_big_compile_original_ms', median(refMs), 'ms');
  for (const [name, levels] of [LEVELS[0]!, LEVELS[3]!]) {
    const fetchMs: number[] = [];
    const transformMs: number[] = [];
    const loadMs: number[] = [];
    const revertMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await start();
      let t = performance.now();
      // As the engine does it: the source parsed on the node, and checked to compile to the loaded md5.
      const src = await s.astSource('Elixir.EsBenchBig');
      fetchMs.push(performance.now() - t);
      if (src.origin !== 'source') throw new Error('EsBenchBig: the agent found no source');
      t = performance.now();
      const out = instrumentModule(src.quoted, { module: 'Elixir.EsBenchBig', all: levels });
      transformMs.push(performance.now() - t);
      t = performance.now();
      const [r] = await s.instrument([{ module: 'Elixir.EsBenchBig', quoted: out.quoted }]);
      loadMs.push(performance.now() - t);
      if (r === undefined || r.warnings.length > 0) throw new Error(`EsBenchBig: instrumenting gave warnings: ${JSON.stringify(r?.warnings)}`);
      t = performance.now();
      const [rv] = await s.revert('all');
      revertMs.push(performance.now() - t);
      if (rv === undefined || rv.md5 !== src.md5) throw new Error('EsBenchBig: the revert did not give the original md5 back');
      await s.stop(120_000);
    }
    result(`ast_big_${name}_fetch_ms`, median(fetchMs), 'ms');
    result(`ast_big_${name}_transform_ms`, median(transformMs), 'ms');
    result(`ast_big_${name}_compile_load_ms`, median(loadMs), 'ms');
    result(`ast_big_${name}_revert_ms`, median(revertMs), 'ms');
    result(`ast_big_${name}_total_ms`, median(fetchMs) + median(transformMs) + median(loadMs), 'ms');
  }
}
