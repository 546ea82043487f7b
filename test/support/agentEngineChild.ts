/**
 * A throwaway engine process for the kill -9 test: attaches to a node with the built dist/ code,
 * loads the agent, sets call tracing, process flags and a sys hook, prints READY and waits to be
 * killed.
 *
 *   node dist/test/support/agentEngineChild.js <node> <cookie>
 */

import { LocalNode } from '../../src/erlang/node.js';
import { loadAgent } from '../../src/agent/loader.js';
import { AgentSession } from '../../src/agent/client.js';
import { DEFAULT_TEST_LIMITS } from './agentHarness.js';

async function main(): Promise<void> {
  const [nodeName, cookie] = process.argv.slice(2);
  if (!nodeName || !cookie) throw new Error('usage: agentEngineChild <node> <cookie>');
  const local = await LocalNode.start({ cookie });
  const remote = await local.connect(nodeName);
  await loadAgent(remote);
  let batches = 0;
  const session = await AgentSession.start(local, remote, DEFAULT_TEST_LIMITS, (m) => {
    if (m.type === 'batch') batches++;
  });
  await session.traceCalls([{ module: 'es_victim', function: 'work', arity: 1, matchSpec: [] }], { returns: true });
  await session.traceProcesses({ kind: 'name', name: 'es_victim_proc' }, ['call', 'send', 'receive', 'procs', 'set_on_spawn']);
  await session.traceProcesses({ kind: 'new' }, ['call', 'procs']);
  await session.traceState({ kind: 'name', name: 'es_victim_gs' });
  process.stdout.write(`READY ${session.relay.id}.${session.relay.serial}\n`);
  // Stay alive (and keep receiving batches) until killed.
  setInterval(() => process.stdout.write(`batches ${batches}\n`), 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`agentEngineChild: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
