/**
 * Liveness: ticks keep an idle connection alive past a short net_ticktime; a peer that stops
 * answering is declared down; when our node dies the target sees nodedown.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LocalNode } from '../src/erlang/node.js';
import { startNode } from './support/beam.js';

describe('liveness', () => {
  it('an idle connection survives past the target net_ticktime of 4 s', async (t) => {
    const beam = await startNode({ kind: 'erl', extraArgs: ['-kernel', 'net_ticktime', '4'] });
    t.after(() => beam.stop());
    const local = await LocalNode.start({ cookie: beam.cookie });
    t.after(() => local.close());
    const peer = await local.connect(beam.name);
    assert.equal(await beam.eval(`erlang:monitor_node('${local.name}', true)`), 'true');
    let down: string | undefined;
    peer.on('down', (r: string) => (down = r));
    // Nothing but ticks for well over net_ticktime (the BEAM gives up after 4-5 s of silence).
    await new Promise((r) => setTimeout(r, 8000));
    assert.equal(down, undefined);
    assert.equal(peer.connected, true);
    assert.equal(await beam.eval(`receive {nodedown, _} -> nodedown after 0 -> still_up end`), 'still_up');
    assert.equal(await peer.rpc('erlang', 'node', []).then(String), beam.name);
  });

  it('a peer that stops answering is declared down after tickTimeMs', async (t) => {
    const beam = await startNode({ kind: 'erl' });
    t.after(async () => {
      process.kill(beam.osPid, 'SIGCONT');
      await beam.stop();
    });
    const local = await LocalNode.start({ cookie: beam.cookie, tickTimeMs: 2000 });
    t.after(() => local.close());
    const peer = await local.connect(beam.name);
    const down = new Promise<string>((resolve) => peer.on('down', resolve));
    process.kill(beam.osPid, 'SIGSTOP');
    const reason = await down;
    assert.match(reason, /net_ticktime/);
    assert.equal(peer.connected, false);
    assert.deepEqual(local.connectedNodes(), []);
  });

  it('when our node is killed the target gets nodedown', async (t) => {
    const beam = await startNode({ kind: 'erl' });
    t.after(() => beam.stop());
    const nodeModule = new URL('../src/erlang/node.js', import.meta.url).href;
    const script = `
      const { LocalNode } = await import(${JSON.stringify(nodeModule)});
      const local = await LocalNode.start({ cookie: process.env.ES_COOKIE });
      await local.connect(process.env.ES_TARGET);
      process.stdout.write(local.name + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ES_COOKIE: beam.cookie, ES_TARGET: beam.name },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.on('exit', r));
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    const ourName = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.trim());
      });
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    assert.equal(await beam.eval(`erlang:monitor_node('${ourName}', true)`), 'true');
    child.kill('SIGKILL');
    await exited;
    assert.equal(await beam.eval(`receive {nodedown, '${ourName}'} -> nodedown after 20000 -> no_nodedown end`), 'nodedown');
  });
});
