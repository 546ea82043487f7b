/**
 * Distribution benchmark: 50 MB each way between our node and a real BEAM node, and a burst of
 * small messages, each next to the same transfer between two BEAM nodes measured in the same run.
 *
 *   npm run bench -- dist      (bench/run.ts dispatches here)
 *
 * Prints RESULT lines (see docs/performance.md, "Distribution"). Times are medians of 3 runs.
 * The "to node" time is an rpc erlang:byte_size(Bin) with a 50 MB argument (our encode, the wire,
 * the BEAM's decode, a tiny reply); "from node" is an rpc returning a 50 MB binary kept in a
 * persistent_term (the BEAM's encode and fragmenting, the wire, our reassembly and decode).
 */

import { LocalNode } from '../src/erlang/node.js';
import { atom, isTuple } from '../src/erlang/terms.js';
import { result, median } from './support/report.js';
import { startNode, type BeamNode } from '../test/support/beam.js';

const MB50 = 50 * 1024 * 1024;
const SMALL = 100_000;

export async function run(): Promise<void> {
  const a: BeamNode = await startNode({ kind: 'erl' });
  const b: BeamNode = await startNode({ kind: 'erl', cookie: a.cookie });
  const local = await LocalNode.start({ cookie: a.cookie });
  try {
    const peer = await local.connect(a.name);
    await a.eval(`persistent_term:put(es_bench_bin, binary:copy(<<7>>, ${MB50}))`);
    await b.eval(`persistent_term:put(es_bench_bin, binary:copy(<<7>>, ${MB50}))`);
    const big = Buffer.alloc(MB50, 7);

    const toNode: number[] = [];
    const fromNode: number[] = [];
    for (let i = 0; i < 3; i++) {
      let t0 = performance.now();
      const n = await peer.rpc('erlang', 'byte_size', [big], { timeoutMs: 120_000 });
      toNode.push(performance.now() - t0);
      if (n !== MB50) throw new Error(`byte_size answered ${String(n)}`);
      t0 = performance.now();
      const got = await peer.rpc('persistent_term', 'get', [atom('es_bench_bin')], { timeoutMs: 120_000 });
      fromNode.push(performance.now() - t0);
      if (!Buffer.isBuffer(got) || got.length !== MB50) throw new Error('wrong binary from the node');
    }

    // The same two transfers between two BEAM nodes, timed on node a (microseconds → ms).
    const beam = await a.eval(
      `N = '${b.name}', true = net_kernel:connect_node(N), Bin = persistent_term:get(es_bench_bin),
       Runs = [begin
         {T1, ${MB50}} = timer:tc(fun() -> rpc:call(N, erlang, byte_size, [Bin], 120000) end),
         {T2, B2} = timer:tc(fun() -> rpc:call(N, persistent_term, get, [es_bench_bin], 120000) end),
         ${MB50} = byte_size(B2),
         {T1, T2}
       end || _ <- [1, 2, 3]],
       {lists:sort([X || {X, _} <- Runs]), lists:sort([Y || {_, Y} <- Runs])}`,
      300_000,
    );
    const m = /^\{\[(\d+),(\d+),(\d+)\],\s*\[(\d+),(\d+),(\d+)\]\}$/.exec(beam.replace(/\s+/g, ''));
    if (!m) throw new Error(`unexpected reference answer: ${beam}`);
    const beamTo = Number(m[2]) / 1000;
    const beamFrom = Number(m[5]) / 1000;

    // A burst of small messages from a process on the node to one of ours, and the same burst to
    // a process on the other BEAM node.
    const inbox = local.spawn();
    inbox.register('es_bench_inbox');
    let t0 = performance.now();
    const sent = a.eval(`[{es_bench_inbox, '${local.name}'} ! {n, I, <<"payload">>} || I <- lists:seq(1, ${SMALL})], ok`);
    for (let i = 0; i < SMALL; i++) {
      const msg = await inbox.receive(() => true, 60_000);
      if (i === SMALL - 1 && !(isTuple(msg, 3) && msg.elements[1] === SMALL)) throw new Error('messages out of order');
    }
    const ourSmallMs = performance.now() - t0;
    await sent;
    const beamSmall = await a.eval(
      `N = '${b.name}', Self = self(),
       P = spawn(N, fun() -> F = fun F(0) -> Self ! done; F(K) -> receive {n, _, _} -> F(K - 1) end end, F(${SMALL}) end),
       {T, done} = timer:tc(fun() -> [P ! {n, I, <<"payload">>} || I <- lists:seq(1, ${SMALL})], receive done -> done end end),
       T`,
      120_000,
    );
    const beamSmallMs = Number(beamSmall) / 1000;

    result('dist_50mb_to_node_ms', median(toNode), 'ms');
    result('dist_50mb_from_node_ms', median(fromNode), 'ms');
    result('dist_50mb_beam_to_beam_ms', beamTo, 'ms');
    result('dist_50mb_beam_from_beam_ms', beamFrom, 'ms');
    result('dist_50mb_to_node_ratio', median(toNode) / beamTo, 'x');
    result('dist_50mb_from_node_ratio', median(fromNode) / beamFrom, 'x');
    result('dist_small_msgs_per_s', Math.round(SMALL / (ourSmallMs / 1000)), 'msg/s');
    result('dist_small_msgs_beam_per_s', Math.round(SMALL / (beamSmallMs / 1000)), 'msg/s');
    result('dist_small_msgs_ratio', beamSmallMs / ourSmallMs, 'x');
  } finally {
    await local.close();
    await Promise.all([a.stop(), b.stop()]);
  }
}
