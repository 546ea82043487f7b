/**
 * Overhead benchmark: what tracing costs the traced code, on the target, in one run.
 *
 *   npm run bench -- overhead [calls]      (default 400000 calls per run)
 *
 * One call-heavy workload (a loop calling a small function; every call traced with its return
 * value) runs in a fresh process on a real BEAM node, timed there with timer:tc, in four ways:
 *   T0     untraced;
 *   Tnull  traced to a tracer process that discards every message: the BEAM's own floor;
 *   Tscope traced by ElixirScope (agent relay → batches → engine → recording on disk);
 *   Tdbg   traced by :dbg with a process tracer whose handler only counts.
 * All three tracers get the same flags (call, monotonic_timestamp) and the same match spec with
 * return values, so the trace messages the BEAM builds are the same; what differs is what consumes them.
 * The modes alternate for 5 rounds and each figure is the median.
 * Prints RESULT overhead_vs_null (Tscope-T0)/(Tnull-T0) and overhead_vs_dbg (Tscope-T0)/(Tdbg-T0).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentSession, type AgentLimits } from '../src/agent/client.js';
import { loadAgent, unloadAgentIfUnused } from '../src/agent/loader.js';
import { Ingestor } from '../src/capture/ingestor.js';
import { RecordingWriter } from '../src/store/writer.js';
import { LocalNode } from '../src/erlang/node.js';
import { result, median } from './support/report.js';
import { startNode, type BeamNode } from '../test/support/beam.js';
import { compileOnNode } from '../test/support/agentHarness.js';

const ROUNDS = 5;

const WORK = `
-module(es_bench_work).
-export([run/1, step/2]).
run(N) -> loop(N, 0).
loop(0, Acc) -> Acc;
loop(N, Acc) -> loop(N - 1, Acc + step(N, Acc rem 7)).
step(X, Y) -> (X * 2 + Y) rem 1000003.
`;

/** Spawns the runner, which waits for {go, From}; returns nothing (it is registered). */
const SPAWN_RUNNER = `
  catch unregister(es_bench_runner),
  R = spawn(fun() -> receive {go, From, N} -> {T, _} = timer:tc(es_bench_work, run, [N]), From ! {es_bench_done, T} end end),
  register(es_bench_runner, R), R`;

const GO = (n: number): string => `es_bench_runner ! {go, self(), ${n}}, receive {es_bench_done, T} -> T after 600000 -> timeout end`;

export async function run(args: string[]): Promise<void> {
  const calls = Number(args[0] ?? 400_000);
  const node: BeamNode = await startNode({ kind: 'erl' });
  const local = await LocalNode.start({ cookie: node.cookie });
  const dir = mkdtempSync(join(tmpdir(), 'es-bench-overhead-'));
  try {
    await compileOnNode(node, WORK);
    const remote = await local.connect(node.name);
    await loadAgent(remote);
    const limits: AgentLimits = {
      maxRate: 100_000_000,
      maxEvents: 1_000_000_000,
      maxDurationMs: 3_600_000,
      maxMailbox: 10_000_000,
      maxTermBytes: 16384,
      batchEvents: 500,
      flushMs: 20,
    };

    const times: Record<'t0' | 'null' | 'scope' | 'dbg', number[]> = { t0: [], null: [], scope: [], dbg: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // T0
      await node.eval(SPAWN_RUNNER);
      times.t0.push(Number(await node.eval(GO(calls), 600_000)));

      // Null tracer: a process that drops every message.
      await node.eval(SPAWN_RUNNER);
      await node.eval(`
        Null = spawn(fun Drop() -> receive _ -> Drop() end end), put(es_null, Null),
        1 = erlang:trace_pattern({es_bench_work, step, 2}, [{'_', [], [{exception_trace}]}], [local]),
        1 = erlang:trace(whereis(es_bench_runner), true, [call, monotonic_timestamp, {tracer, Null}]), ok`);
      times.null.push(Number(await node.eval(GO(calls), 600_000)));
      await node.eval(`erlang:trace_pattern({es_bench_work, step, 2}, false, [local]), exit(get(es_null), kill), ok`);

      // ElixirScope: the agent's relay, batches over the link, the ingestor writing a recording.
      await node.eval(SPAWN_RUNNER);
      const recDir = join(dir, `rec${round}`);
      let ingestor: Ingestor | undefined;
      const early: Array<{ seq: number; bin: Buffer }> = [];
      const session = await AgentSession.start(local, remote, limits, (m) => {
        if (m.type !== 'batch') return;
        const bin = Buffer.from(m.bin.buffer, m.bin.byteOffset, m.bin.byteLength);
        if (ingestor === undefined) early.push({ seq: m.seq, bin });
        else ingestor.ingest(m.seq, bin);
      });
      const writer = await RecordingWriter.create(recDir, {
        node: remote.name,
        otpRelease: session.info.otpRelease,
        elixirVersion: session.info.elixirVersion,
        agentVersion: session.info.agentVersion,
        monoStart: session.info.monoStart.toString(),
        nativePerSec: session.info.nativePerSec,
        request: { bench: 'overhead' },
      });
      ingestor = new Ingestor({ writer, relay: session.relay });
      for (const b of early) ingestor.ingest(b.seq, b.bin);
      await session.traceCalls([{ module: 'es_bench_work', function: 'step', arity: 2, matchSpec: [] }], { returns: true });
      await session.traceProcesses({ kind: 'name', name: 'es_bench_runner' }, ['call']);
      times.scope.push(Number(await node.eval(GO(calls), 600_000)));
      await session.stop(120_000);
      await ingestor.close('complete', 'bench');
      const counts = writer.meta.counts;
      if (counts.stored < calls * 2) throw new Error(`ElixirScope stored ${counts.stored} events, expected ${calls * 2}`);
      rmSync(recDir, { recursive: true, force: true });

      // dbg with a process tracer that only counts.
      await node.eval(SPAWN_RUNNER);
      await node.eval(`
        {ok, _} = dbg:tracer(process, {fun(_, N) -> N + 1 end, 0}),
        {ok, _} = dbg:p(whereis(es_bench_runner), [c, monotonic_timestamp]),
        {ok, _} = dbg:tpl(es_bench_work, step, 2, [{'_', [], [{exception_trace}]}]), ok`);
      times.dbg.push(Number(await node.eval(GO(calls), 600_000)));
      await node.eval(`dbg:stop_clear(), ok`);
    }
    await unloadAgentIfUnused(remote);

    const t0 = median(times.t0);
    const tn = median(times.null);
    const ts = median(times.scope);
    const td = median(times.dbg);
    process.stdout.write(`calls per run: ${calls}, rounds: ${ROUNDS}, times in µs (medians)\n`);
    result('overhead_t0', t0, 'us');
    result('overhead_null', tn, 'us');
    result('overhead_scope', ts, 'us');
    result('overhead_dbg', td, 'us');
    result('overhead_scope_per_call', ((ts - t0) * 1000) / calls, 'ns');
    result('overhead_vs_null', (ts - t0) / (tn - t0), 'x');
    result('overhead_vs_dbg', (ts - t0) / (td - t0), 'x');
  } finally {
    await local.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
