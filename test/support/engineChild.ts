/**
 * A throwaway engine in its own OS process, for the tests that kill an engine with -9: attaches to
 * a node with the built dist/ code, loads the agent, sets something up, prints a READY line and
 * waits to be killed.
 *
 *   node dist/test/support/engineChild.js trace <node> <cookie>        call tracing, process flags and a sys hook on es_victim*
 *   node dist/test/support/engineChild.js instrument <node> <cookie>   a probe in EsAst.Demo.add/2
 *
 * READY lines: `READY <relay id>.<serial>` (trace), `READY <md5 before> <md5 instrumented>` (instrument).
 */

import { LocalNode } from '../../src/erlang/node.js';
import { loadAgent } from '../../src/agent/loader.js';
import { AgentSession } from '../../src/agent/client.js';
import { DEFAULT_TEST_LIMITS } from './agentHarness.js';
import { DEMO, insertProbe, variable } from './astNodeProbe.js';

async function main(): Promise<void> {
  const [mode, nodeName, cookie] = process.argv.slice(2);
  if ((mode !== 'trace' && mode !== 'instrument') || !nodeName || !cookie) throw new Error('usage: engineChild trace|instrument <node> <cookie>');
  const local = await LocalNode.start({ cookie });
  const remote = await local.connect(nodeName);
  await loadAgent(remote);
  let batches = 0;
  const session = await AgentSession.start(local, remote, DEFAULT_TEST_LIMITS, (m) => {
    if (m.type === 'batch') batches++;
  });
  if (mode === 'trace') {
    await session.traceCalls([{ module: 'es_victim', function: 'work', arity: 1, matchSpec: [] }], { returns: true });
    await session.traceProcesses({ kind: 'name', name: 'es_victim_proc' }, ['call', 'send', 'receive', 'procs', 'set_on_spawn']);
    await session.traceProcesses({ kind: 'new' }, ['call', 'procs']);
    await session.traceState({ kind: 'name', name: 'es_victim_gs' });
    process.stdout.write(`READY ${session.relay.id}.${session.relay.serial}\n`);
  } else {
    const src = await session.astSource(DEMO);
    if (src.origin !== 'source') throw new Error(`expected the source of ${DEMO}, got ${src.origin}`);
    const [r] = await session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3) }]);
    process.stdout.write(`READY ${r!.md5Before} ${r!.md5Instrumented}\n`);
  }
  // Stay alive (and keep receiving batches) until killed.
  setInterval(() => process.stdout.write(`batches ${batches}\n`), 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`engineChild: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
