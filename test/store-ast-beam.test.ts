/**
 * One pipeline, for real: an Elixir node runs EsAst.Demo.add/2 with a probe inserted by AST
 * instrumentation (the es_ast tuple of docs/ast.md, sent by the instrumented code itself) while
 * the same function is runtime-traced with return_trace. The agent's batches go through the
 * Ingestor (parser, correlator) into a RecordingWriter; the recording read back holds the runtime
 * call, the AST probe with the runtime call as its parent, and the runtime return, and history and
 * state-at show them as the README does.
 */

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAgent } from '../src/agent/loader.js';
import { AgentSession, type AgentMessage } from '../src/agent/client.js';
import { Ingestor } from '../src/capture/ingestor.js';
import { RecordingWriter } from '../src/store/writer.js';
import { openRecording } from '../src/store/reader.js';
import { QueryCoordinator } from '../src/store/query.js';
import { Renderer } from '../src/cli/render/format.js';
import { eventLine } from '../src/cli/render/event.js';
import { stateAtText } from '../src/cli/render/stateAt.js';
import { Pid, Tuple, atom } from '../src/erlang/terms.js';
import { startNode, type BeamNode } from './support/beam.js';
import { attach, DEFAULT_TEST_LIMITS, detach, eventually, type Engine } from './support/agentHarness.js';
import { DEMO, compileDemo, insertProbe, variable } from './support/astNodeProbe.js';
import { makeTempDir, removeDir } from './support/erlScript.js';

const DEMO_ATOM = "'Elixir.EsAst.Demo'";

let demoDir = '';
let tmp = '';
let node: BeamNode;
let eng: Engine;

before(async () => {
  demoDir = compileDemo();
  tmp = await makeTempDir('store-ast-beam');
  node = await startNode({ kind: 'elixir' });
  await node.eval(`true = code:add_patha("${demoDir}"), {module, _} = code:ensure_loaded(${DEMO_ATOM}), ok`);
  eng = await attach(node);
  await loadAgent(eng.remote);
});

after(async () => {
  await detach(eng, node);
  rmSync(demoDir, { recursive: true, force: true });
  await removeDir(tmp);
});

test('a runtime-traced call with an AST probe inside is one call in the store, rendered as in the README', async () => {
  const dir = join(tmp, 'rec');
  let ing: Ingestor | undefined;
  const early: AgentMessage[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const onMessage = (m: AgentMessage): void => {
    if (m.type !== 'batch') done();
    else if (ing === undefined) early.push(m);
    else ing.ingest(m.seq, Buffer.from(m.bin));
  };
  const session = await AgentSession.start(eng.local, eng.remote, DEFAULT_TEST_LIMITS, onMessage);
  const writer = await RecordingWriter.create(
    dir,
    {
      node: eng.remote.name,
      otpRelease: session.info.otpRelease,
      elixirVersion: session.info.elixirVersion,
      agentVersion: session.info.agentVersion,
      monoStart: session.info.monoStart.toString(),
      nativePerSec: session.info.nativePerSec,
      request: { test: 'store-ast-beam' },
    },
    { fsync: 'never' },
  );
  ing = new Ingestor({ writer, relay: session.relay });
  for (const m of early) if (m.type === 'batch') ing.ingest(m.seq, Buffer.from(m.bin));

  // Instrument first: loading new code would leave the trace pattern on the old one.
  const src = await session.astSource(DEMO);
  if (src.origin !== 'source') throw new Error(`expected the quoted form from the source file, got ${src.origin}`);
  await session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3) }]);
  await session.traceCalls([{ module: DEMO, function: 'add', arity: 2, matchSpec: [] }], { returns: true });
  await node.eval(`register(es_ast_caller, spawn(fun Loop() -> receive {add, A, B, From} -> From ! {sum, ${DEMO_ATOM}:add(A, B)}, Loop() end end)), ok`);
  const caller = await eng.remote.rpc('erlang', 'whereis', [atom('es_ast_caller')]);
  assert.ok(caller instanceof Pid);
  await session.traceProcesses({ kind: 'pid', pid: caller }, ['call']);
  assert.equal(await node.eval(`es_ast_caller ! {add, 2, 3, self()}, receive {sum, S} -> S end`), '10');
  await eventually(async () => {
    await ing!.flush();
    return writer.count >= 3;
  }, 'the call, the probe and the return reach the store');
  await session.stop();
  await finished;
  await ing.close('complete', 'stopped');
  await node.eval(`exit(whereis(es_ast_caller), kill), ok`);

  const rec = openRecording(dir);
  try {
    assert.equal(rec.meta.counts.dropped.malformed, 0, rec.meta.errors.join('\n'));
    const evs = Array.from({ length: rec.count }, (_, id) => rec.event(id)).filter((e) => e.pid.key === caller.key);
    assert.deepEqual(
      evs.map((e) => [e.kind, e.source]),
      [
        ['call', 'runtime'],
        ['probe', 'ast'],
        ['return', 'runtime'],
      ],
    );
    const [call, probe, ret] = evs as [(typeof evs)[0], (typeof evs)[0], (typeof evs)[0]];
    assert.deepEqual(probe.mfa, { module: DEMO, fun: 'add', arity: 2 });
    assert.equal(probe.aux(), 3, 'the line the probe was placed on');
    assert.deepEqual(probe.payload(), new Tuple([Buffer.from('c'), 5]));
    assert.equal(probe.parent, call.id, "the runtime call is the AST probe's parent");
    assert.equal(ret.link, call.id);
    assert.ok(call.ts <= probe.ts && probe.ts <= ret.ts, 'one clock for both sources');

    const r = new Renderer(rec);
    const lines = evs.map((e) => eventLine(e, r).replace(/^\[\+\d+\.\d+s\] /, ''));
    assert.deepEqual(lines, ['[RUNTIME] CALL EsAst.Demo.add/2 (Args: [2, 3])', '[AST]       PROBE 3 EsAst.Demo.add/2: c = 5', '[RUNTIME] EXIT EsAst.Demo.add/2 (Return: 10)']);
    const text = stateAtText(caller, new QueryCoordinator(rec).stateAt(caller, probe.id), r);
    assert.match(text, /Active Call: EsAst\.Demo\.add\/2 .*\n {4}At line 3 .*\n {4}Arguments \(from Runtime\/AST\): \[2, 3\]\n/);
  } finally {
    rec.close();
  }
});
