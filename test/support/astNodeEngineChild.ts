/**
 * A throwaway engine process for the kill -9 test of AST instrumentation: attaches to a node with
 * the built dist/ code, loads the agent, instruments EsAst.Demo.add/2 with a probe, prints READY and
 * waits to be killed.
 *
 *   node dist/test/support/astNodeEngineChild.js <node> <cookie>
 */

import { LocalNode } from '../../src/erlang/node.js';
import { loadAgent } from '../../src/agent/loader.js';
import { AgentSession } from '../../src/agent/client.js';
import { DEFAULT_TEST_LIMITS } from './agentHarness.js';
import { DEMO, insertProbe, variable } from './astNodeProbe.js';

async function main(): Promise<void> {
  const [nodeName, cookie] = process.argv.slice(2);
  if (!nodeName || !cookie) throw new Error('usage: astNodeEngineChild <node> <cookie>');
  const local = await LocalNode.start({ cookie });
  const remote = await local.connect(nodeName);
  await loadAgent(remote);
  let batches = 0;
  const session = await AgentSession.start(local, remote, DEFAULT_TEST_LIMITS, (m) => {
    if (m.type === 'batch') batches++;
  });
  const src = await session.astSource(DEMO);
  if (src.origin !== 'source') throw new Error(`expected the source of ${DEMO}, got ${src.origin}`);
  const [r] = await session.instrument([{ module: DEMO, quoted: insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3) }]);
  process.stdout.write(`READY ${r!.md5Before} ${r!.md5Instrumented}\n`);
  setInterval(() => process.stdout.write(`batches ${batches}\n`), 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`astNodeEngineChild: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
