/** EPMD client against the real epmd: PORT_PLEASE2, NAMES, ALIVE2, IPv4 and IPv6, unreachable. */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { epmdNames, epmdPortPlease, epmdRegister } from '../src/erlang/epmd.js';
import { EpmdUnreachableError } from '../src/erlang/errors.js';
import { freePort, startNode, randomName, type BeamNode } from './support/beam.js';

describe('epmd client', () => {
  let node: BeamNode;
  before(async () => {
    node = await startNode({ kind: 'erl' });
  });
  after(() => node.stop());

  it('PORT_PLEASE2 returns the port the node itself reports, and version 6', async () => {
    const info = await epmdPortPlease(node.host, node.shortName);
    assert.ok(info);
    const own = await node.eval(`{port, P, _} = erl_epmd:port_please("${node.shortName}", "localhost"), P`);
    assert.equal(info.port, Number(own));
    assert.equal(info.name, node.shortName);
    assert.equal(info.highestVersion, 6);
    assert.equal(info.nodeType, 77);
  });

  it('PORT_PLEASE2 answers null for an unknown name', async () => {
    assert.equal(await epmdPortPlease(node.host, randomName('nobody')), null);
  });

  it('NAMES lists the node with its port, over IPv4 and IPv6', async () => {
    const info = await epmdPortPlease(node.host, node.shortName);
    for (const host of ['127.0.0.1', '::1']) {
      const names = await epmdNames(host);
      assert.deepEqual(names.find((n) => n.name === node.shortName), { name: node.shortName, port: info!.port });
    }
  });

  it('ALIVE2 registers a name until the registration is closed', async () => {
    const name = randomName('es_alive');
    const reg = await epmdRegister(name, 40999);
    try {
      assert.ok(reg.creation > 0);
      const info = await epmdPortPlease('localhost', name);
      assert.equal(info?.port, 40999);
      assert.equal(info?.nodeType, 72); // hidden
      const seen = await node.eval(`erl_epmd:port_please("${name}", "localhost")`);
      assert.match(seen, /\{port,40999,6\}/);
    } finally {
      reg.close();
    }
    // EPMD notices the closed socket asynchronously.
    for (let i = 0; i < 100 && (await epmdPortPlease('localhost', name)) !== null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await epmdPortPlease('localhost', name), null);
  });

  it('a port with nothing listening gives EpmdUnreachableError naming host and port', async () => {
    const port = await freePort();
    await assert.rejects(epmdNames('127.0.0.1', { port }), (err: unknown) => {
      assert.ok(err instanceof EpmdUnreachableError);
      assert.equal(err.code, 'EPMD_UNREACHABLE');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /epmd/);
      return true;
    });
  });

  it('ERL_EPMD_PORT overrides the default port', async () => {
    const port = await freePort();
    const saved = process.env['ERL_EPMD_PORT'];
    process.env['ERL_EPMD_PORT'] = String(port);
    try {
      await assert.rejects(epmdPortPlease('127.0.0.1', 'x'), EpmdUnreachableError);
    } finally {
      if (saved === undefined) delete process.env['ERL_EPMD_PORT'];
      else process.env['ERL_EPMD_PORT'] = saved;
    }
  });
});
