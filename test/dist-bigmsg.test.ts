/**
 * 50 MB in both directions over a real connection (fragmented by the BEAM on the way to us), with
 * the content checked end to end. No timing is asserted here: bench/dist.ts measures it.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { LocalNode } from '../src/erlang/node.js';
import type { RemoteNode } from '../src/erlang/remoteNode.js';
import { atom, isTuple, tuple, type Term, type Tuple } from '../src/erlang/terms.js';
import { randomName, startAgent, startNode, type BeamNode } from './support/beam.js';

const MB50 = 50 * 1024 * 1024;

describe('50 MB messages', () => {
  let beam: BeamNode;
  let local: LocalNode;
  let peer: RemoteNode;
  before(async () => {
    beam = await startNode({ kind: 'erl' });
    local = await LocalNode.start({ cookie: beam.cookie });
    peer = await local.connect(beam.name);
  });
  after(async () => {
    await local.close();
    await beam.stop();
  });

  it('to the node: the BEAM receives exactly our bytes', async () => {
    const big = randomBytes(MB50);
    const md5 = (await peer.rpc('erlang', 'md5', [big], { timeoutMs: 60_000 })) as Buffer;
    assert.ok(Buffer.isBuffer(md5));
    assert.equal(md5.toString('hex'), createHash('md5').update(big).digest('hex'));
  });

  it('a small message from another process overtakes a 50 MB one being sent in fragments', async () => {
    const name = randomName('agent');
    await startAgent(beam, name);
    const bigSender = local.spawn();
    const smallSender = local.spawn();
    const to: [string, string] = [name, beam.name];
    bigSender.send(to, tuple(atom('big'), randomBytes(MB50)));
    smallSender.send(to, tuple(atom('small'), 1));
    // The agent keeps messages in arrival order.
    let msgs: Term[] = [];
    for (let i = 0; i < 200 && msgs.length < 2; i++) {
      smallSender.send(to, tuple(atom('cmd'), smallSender.pid, atom('take')));
      const reply = (await smallSender.receive((m) => isTuple(m, 2) && m.elements[0] === atom('reply'), 60_000)) as Tuple;
      msgs = msgs.concat(reply.elements[1] as Term[]);
      if (msgs.length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      msgs.map((m) => (m as Tuple).elements[0]),
      [atom('small'), atom('big')],
    );
    assert.equal(((msgs[1] as Tuple).elements[1] as Buffer).length, MB50);
  });

  it('from the node: we reassemble the fragments into exactly its bytes', async () => {
    const got = (await peer.rpc('crypto', 'strong_rand_bytes', [MB50], { timeoutMs: 60_000 })) as Buffer;
    assert.equal(got.length, MB50);
    const theirMd5 = (await peer.rpc('erlang', 'md5', [got], { timeoutMs: 60_000 })) as Buffer;
    assert.equal(createHash('md5').update(got).digest('hex'), theirMd5.toString('hex'));

    // And as a plain message to one of our processes, inside a tuple with atoms (atom cache refs
    // in a fragmented message).
    const inbox = local.spawn();
    inbox.register('es_big_inbox');
    await beam.eval(`B = binary:copy(<<"xyz">>, ${MB50 / 2}), {es_big_inbox, '${local.name}'} ! {big, self(), B}, ok`, 60_000);
    const msg = await inbox.receive(() => true, 60_000);
    assert.ok(isTuple(msg, 3) && msg.elements[0] === atom('big'));
    const b = msg.elements[2] as Buffer;
    assert.equal(b.length, (MB50 / 2) * 3);
    assert.equal(b.subarray(0, 6).toString(), 'xyzxyz');
    assert.equal(b.subarray(b.length - 3).toString(), 'xyz');
  });
});
