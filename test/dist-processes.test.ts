/**
 * Local processes against real remote processes: messages, links, monitors and exit signals in
 * both directions, UNLINK_ID and its ack, noproc, and noconnection when a connection drops.
 * Remote processes are agents on a real erl node (test/support/beam.ts) that run our commands.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LocalNode } from '../src/erlang/node.js';
import type { LocalProcess } from '../src/erlang/process.js';
import type { RemoteNode } from '../src/erlang/remoteNode.js';
import { ReceiveTimeoutError } from '../src/erlang/errors.js';
import { atom, isTuple, Pid, Reference, Tuple, termEquals, tuple, type Term } from '../src/erlang/terms.js';
import { randomName, startAgent, startNode, type BeamNode } from './support/beam.js';

const A = atom;

describe('local processes and remote processes', () => {
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

  /** Starts an agent on the target; returns its name and pid. */
  async function agent(): Promise<{ name: string; pid: Pid }> {
    const name = randomName('agent');
    await startAgent(beam, name);
    const pid = await peer.rpc('erlang', 'whereis', [A(name)]);
    assert.ok(pid instanceof Pid);
    return { name, pid };
  }

  async function cmd(p: LocalProcess, agentName: string, c: Term): Promise<Term> {
    p.send([A(agentName), A(beam.name)], tuple(A('cmd'), p.pid, c));
    const m = await p.receive((x) => isTuple(x, 2) && x.elements[0] === A('reply'), 5000);
    return (m as Tuple).elements[1]!;
  }

  /** Messages taken from agents but not yet matched by agentGot, per agent. */
  const taken = new Map<string, Term[]>();

  /** Polls the agent's kept messages until one matches (and removes that one). */
  async function agentGot(p: LocalProcess, agentName: string, pred: (m: Term) => boolean): Promise<Term> {
    const kept = taken.get(agentName) ?? [];
    taken.set(agentName, kept);
    for (let i = 0; i < 100; i++) {
      kept.push(...((await cmd(p, agentName, A('take'))) as Term[]));
      const at = kept.findIndex(pred);
      if (at >= 0) return kept.splice(at, 1)[0]!;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`agent ${agentName} never got the expected message`);
  }

  async function alive(pid: Pid): Promise<boolean> {
    return (await peer.rpc('erlang', 'is_process_alive', [pid])) === A('true');
  }

  it('messages both ways, by pid and by registered name, with selective receive', async () => {
    const { name, pid } = await agent();
    const p = local.spawn();
    p.register('ts_named_inbox');
    p.send(pid, tuple(A('hello'), p.pid));
    const got = await agentGot(p, name, (m) => isTuple(m, 2) && m.elements[0] === A('hello'));
    assert.ok(termEquals((got as Tuple).elements[1]!, p.pid));

    await cmd(p, name, tuple(A('send'), p.pid, tuple(A('first'), 1)));
    await cmd(p, name, tuple(A('send'), tuple(A('ts_named_inbox'), A(local.name)), tuple(A('second'), 2)));
    const second = await p.receive((m) => isTuple(m, 2) && m.elements[0] === A('second'), 5000);
    assert.equal((second as Tuple).elements[1], 2);
    const first = await p.receive(() => true, 5000);
    assert.ok(termEquals(first, tuple(A('first'), 1)));
  });

  it('a remote process sends to an alias of ours (ALIAS_SEND); after unalias the message is dropped', async () => {
    const { name } = await agent();
    const p = local.spawn();
    const alias = p.alias();
    await cmd(p, name, tuple(A('send'), alias, tuple(A('via_alias'), 1)));
    const got = await p.receive((m) => isTuple(m, 2) && m.elements[0] === A('via_alias'), 5000);
    assert.ok(termEquals(got, tuple(A('via_alias'), 1)));
    p.unalias(alias);
    await cmd(p, name, tuple(A('send'), alias, tuple(A('via_alias'), 2)));
    await cmd(p, name, tuple(A('send'), p.pid, A('marker')));
    // The marker was sent after the second alias message on the same connection: order is kept,
    // so if the alias message had been delivered it would be in the mailbox before the marker.
    await p.receive((m) => m === A('marker'), 5000);
    assert.equal(p.queueLength, 0);
  });

  it('a remote process links to us and dies: we die with its reason, or get EXIT when trapping', async () => {
    const a1 = await agent();
    const victim = local.spawn();
    await cmd(victim, a1.name, tuple(A('link'), victim.pid));
    assert.ok(victim.isLinkedTo(a1.pid));
    victim.send([A(a1.name), A(beam.name)], tuple(A('cmd'), victim.pid, tuple(A('die'), A('boom'))));
    assert.equal(await victim.exited, A('boom'));

    const a2 = await agent();
    const trapper = local.spawn();
    trapper.trapExits();
    await cmd(trapper, a2.name, tuple(A('link'), trapper.pid));
    trapper.send([A(a2.name), A(beam.name)], tuple(A('cmd'), trapper.pid, tuple(A('die'), A('boom'))));
    const exit = await trapper.receive((m) => isTuple(m, 3) && m.elements[0] === A('EXIT'), 5000);
    assert.ok(termEquals(exit, tuple(A('EXIT'), a2.pid, A('boom'))));
    assert.ok(trapper.alive);
  });

  it('we link to a remote process and exit: it gets the exit signal (EXIT when trapping, dies otherwise)', async () => {
    const trapping = await agent();
    const plain = await agent();
    const p = local.spawn();
    await cmd(p, trapping.name, tuple(A('trap'), A('true')));
    p.link(trapping.pid);
    p.link(plain.pid);
    // The agent lists the link once the LINK signal has arrived.
    for (let i = 0; i < 50 && !((await cmd(p, trapping.name, A('links'))) as Term[]).some((x) => termEquals(x, p.pid)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const watcher = local.spawn();
    p.exit(A('bye'));
    const got = await agentGot(watcher, trapping.name, (m) => isTuple(m, 3) && m.elements[0] === A('EXIT'));
    assert.ok(termEquals(got, tuple(A('EXIT'), p.pid, A('bye'))));
    for (let i = 0; i < 100 && (await alive(plain.pid)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await alive(plain.pid), false);
  });

  it('linking to a pid that does not exist gives noproc both ways', async () => {
    const dead = await peer.rpc('erlang', 'spawn', [A('erlang'), A('is_atom'), [1]]);
    assert.ok(dead instanceof Pid);
    for (let i = 0; i < 50 && (await alive(dead)); i++) await new Promise((r) => setTimeout(r, 20));
    const p = local.spawn();
    p.trapExits();
    p.link(dead);
    const exit = await p.receive((m) => isTuple(m, 3), 5000);
    assert.ok(termEquals(exit, tuple(A('EXIT'), dead, A('noproc'))));

    const gone = local.spawn();
    gone.exit();
    const a = await agent();
    await cmd(p, a.name, tuple(A('trap'), A('true')));
    await cmd(p, a.name, tuple(A('link'), gone.pid));
    const theirs = await agentGot(p, a.name, (m) => isTuple(m, 3) && m.elements[0] === A('EXIT'));
    assert.ok(termEquals(theirs, tuple(A('EXIT'), gone.pid, A('noproc'))));
  });

  it('unlink sends UNLINK_ID and forgets the link only when the ack arrives; remote unlink is acked', async () => {
    const a = await agent();
    const p = local.spawn();
    p.link(a.pid);
    p.unlink(a.pid);
    assert.equal(p.isLinkedTo(a.pid), false);
    // The entry stays (inactive) until UNLINK_ID_ACK arrives from the BEAM.
    for (let i = 0; i < 100 && p.links.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.links.size, 0);
    assert.deepEqual(await cmd(p, a.name, A('links')), []);

    await cmd(p, a.name, tuple(A('link'), p.pid));
    assert.ok(p.isLinkedTo(a.pid));
    await cmd(p, a.name, tuple(A('unlink'), p.pid));
    assert.equal(p.isLinkedTo(a.pid), false);
    // Dying after the unlink must not take us along.
    p.send([A(a.name), A(beam.name)], tuple(A('cmd'), p.pid, tuple(A('die'), A('boom'))));
    for (let i = 0; i < 100 && (await alive(a.pid)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(p.alive);
  });

  it('we monitor remote processes by pid and by name; noproc for a missing name; demonitor', async () => {
    const a = await agent();
    const p = local.spawn();
    const byPid = p.monitor(a.pid);
    const byName = p.monitor([a.name, beam.name]);
    p.send([A(a.name), A(beam.name)], tuple(A('cmd'), p.pid, tuple(A('die'), A('gone'))));
    const d1 = await p.receive((m) => isTuple(m, 5) && termEquals(m.elements[1]!, byPid), 5000);
    assert.ok(termEquals(d1, tuple(A('DOWN'), byPid, A('process'), a.pid, A('gone'))));
    const d2 = await p.receive((m) => isTuple(m, 5) && termEquals(m.elements[1]!, byName), 5000);
    assert.ok(termEquals(d2, tuple(A('DOWN'), byName, A('process'), tuple(A(a.name), A(beam.name)), A('gone'))));

    const missing = p.monitor([randomName('nobody'), beam.name]);
    const d3 = await p.receive((m) => isTuple(m, 5) && termEquals(m.elements[1]!, missing), 5000);
    assert.equal((d3 as Tuple).elements[4], A('noproc'));

    const b = await agent();
    const ref = p.monitor(b.pid);
    p.demonitor(ref);
    await peer.rpc('erlang', 'exit', [b.pid, A('kill')]);
    await assert.rejects(p.receive((m) => isTuple(m, 5) && m.elements[1] instanceof Reference && m.elements[1].key === ref.key, 300), ReceiveTimeoutError);
  });

  it('remote processes monitor us by pid and by name, and get noproc for a dead pid', async () => {
    const a = await agent();
    const p = local.spawn();
    p.register('ts_monitored');
    const helper = local.spawn();
    const ref1 = await cmd(helper, a.name, tuple(A('monitor'), p.pid));
    const ref2 = await cmd(helper, a.name, tuple(A('monitor'), tuple(A('ts_monitored'), A(local.name))));
    assert.ok(ref1 instanceof Reference && ref2 instanceof Reference);
    p.exit(A('done'));
    const d1 = await agentGot(helper, a.name, (m) => isTuple(m, 5) && termEquals(m.elements[1]!, ref1));
    assert.ok(termEquals(d1, tuple(A('DOWN'), ref1, A('process'), p.pid, A('done'))));
    const d2 = await agentGot(helper, a.name, (m) => isTuple(m, 5) && termEquals(m.elements[1]!, ref2));
    assert.ok(termEquals(d2, tuple(A('DOWN'), ref2, A('process'), tuple(A('ts_monitored'), A(local.name)), A('done'))));

    const ref3 = await cmd(helper, a.name, tuple(A('monitor'), p.pid));
    const d3 = await agentGot(helper, a.name, (m) => isTuple(m, 5) && termEquals(m.elements[1]!, ref3));
    assert.equal((d3 as Tuple).elements[4], A('noproc'));
  });

  it('exit/2 signals: kill cannot be trapped, normal is ignored, others kill or arrive as EXIT', async () => {
    const a = await agent();
    const helper = local.spawn();

    const p1 = local.spawn();
    p1.trapExits();
    await cmd(helper, a.name, tuple(A('exit'), p1.pid, A('normal')));
    const p2 = local.spawn();
    await cmd(helper, a.name, tuple(A('exit'), p2.pid, A('normal')));
    await cmd(helper, a.name, tuple(A('exit'), p1.pid, A('custom')));
    const e = await p1.receive((m) => isTuple(m, 3), 5000);
    assert.ok(termEquals(e, tuple(A('EXIT'), a.pid, A('normal'))));
    const e2 = await p1.receive((m) => isTuple(m, 3), 5000);
    assert.ok(termEquals(e2, tuple(A('EXIT'), a.pid, A('custom'))));
    assert.ok(p2.alive, 'normal does not kill a process that does not trap exits');

    await cmd(helper, a.name, tuple(A('exit'), p1.pid, A('kill')));
    assert.equal(await p1.exited, A('killed'));
    await cmd(helper, a.name, tuple(A('exit'), p2.pid, tuple(A('shutdown'), A('reason'))));
    assert.ok(termEquals(await p2.exited, tuple(A('shutdown'), A('reason'))));

    // Our exit/2 towards a trapping remote process arrives as EXIT with our pid.
    await cmd(helper, a.name, tuple(A('trap'), A('true')));
    helper.exitSignal(a.pid, A('stop_please'));
    const got = await agentGot(helper, a.name, (m) => isTuple(m, 3) && m.elements[0] === A('EXIT'));
    assert.ok(termEquals(got, tuple(A('EXIT'), helper.pid, A('stop_please'))));
  });

  it('a dropped connection fires links and monitors with noconnection on both sides', async () => {
    const a = await agent();
    const helper = local.spawn();
    await cmd(helper, a.name, tuple(A('trap'), A('true')));
    const linked = local.spawn();
    linked.trapExits();
    linked.link(a.pid);
    const watcher = local.spawn();
    const ref = watcher.monitor(a.pid);
    for (let i = 0; i < 50 && !((await cmd(helper, a.name, A('links'))) as Term[]).some((x) => termEquals(x, linked.pid)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    peer.disconnect();
    const exit = await linked.receive((m) => isTuple(m, 3), 5000);
    assert.ok(termEquals(exit, tuple(A('EXIT'), a.pid, A('noconnection'))));
    const down = await watcher.receive((m) => isTuple(m, 5), 5000);
    assert.ok(termEquals(down, tuple(A('DOWN'), ref, A('process'), a.pid, A('noconnection'))));
    assert.equal(peer.connected, false);

    // The target saw it too: the agent (trapping) holds {'EXIT', LinkedPid, noconnection}.
    peer = await local.connect(beam.name);
    const helper2 = local.spawn();
    const theirs = await agentGot(helper2, a.name, (m) => isTuple(m, 3) && m.elements[0] === A('EXIT'));
    assert.ok(termEquals(theirs, tuple(A('EXIT'), linked.pid, A('noconnection'))));
  });
});
