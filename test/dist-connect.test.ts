/**
 * Connecting to real BEAM nodes: hidden membership, several nodes at once, reuse, close, the
 * server side (register: true), IPv6, and each connection error a user can meet.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { LocalNode } from '../src/erlang/node.js';
import { epmdRegister } from '../src/erlang/epmd.js';
import {
  ConnectionRefusedError,
  ConnectTimeoutError,
  EpmdUnreachableError,
  HandshakeRejectedError,
  NodeNotFoundError,
  WrongCookieError,
} from '../src/erlang/errors.js';
import { clientHandshake } from '../src/erlang/handshake.js';
import { DFLAG, OUR_FLAGS } from '../src/erlang/flags.js';
import { atom, isTuple, termEquals, Tuple, tuple, type Term } from '../src/erlang/terms.js';
import { freePort, randomCookie, randomName, shortHost, startNode, type BeamNode } from './support/beam.js';

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('connecting to BEAM nodes', () => {
  let erl: BeamNode;
  let ex: BeamNode;
  let local: LocalNode;
  const cookie = randomCookie();

  before(async () => {
    [erl, ex] = await Promise.all([startNode({ kind: 'erl', cookie }), startNode({ kind: 'elixir', cookie })]);
    local = await LocalNode.start({ cookie });
  });
  after(async () => {
    await local.close();
    await Promise.all([erl.stop(), ex.stop()]);
  });

  it('joins an erl node and an elixir node as a hidden node, both at once', async () => {
    const [a, b] = await Promise.all([local.connect(erl.name), local.connect(ex.name)]);
    assert.equal(a.name, erl.name);
    assert.equal(b.name, ex.name);
    assert.deepEqual(local.connectedNodes().sort(), [erl.name, ex.name].sort());
    for (const n of [erl, ex]) {
      assert.equal(await n.eval(`lists:member('${local.name}', nodes(hidden))`), 'true');
      assert.equal(await n.eval(`lists:member('${local.name}', nodes())`), 'false');
    }
    assert.equal(await ex.evalElixir(`Node.list(:hidden) |> Enum.map(&to_string/1) |> Enum.member?("${local.name}")`), 'true');
    assert.equal(await ex.evalElixir(`Node.list() |> Enum.map(&to_string/1) |> Enum.member?("${local.name}")`), 'false');
    // Both connections work at the same time.
    const [ra, rb] = await Promise.all([a.rpc('erlang', 'node', []), b.rpc('erlang', 'node', [])]);
    assert.equal(ra, atom(erl.name));
    assert.equal(rb, atom(ex.name));
  });

  it('connect() to a connected node returns the same connection', async () => {
    const a = await local.connect(erl.name);
    const again = await local.connect(erl.name);
    assert.equal(again, a);
    assert.ok(a.flagNames.includes('UNLINK_ID') && !a.flagNames.includes('PUBLISHED'));
  });

  it('a second local node sees its own connection closed by close(): the target loses it', async () => {
    const other = await LocalNode.start({ cookie });
    await other.connect(erl.name);
    assert.equal(await erl.eval(`lists:member('${other.name}', nodes(hidden))`), 'true');
    await other.close();
    await until('nodedown on the target', async () => (await erl.eval(`lists:member('${other.name}', nodes(hidden))`)) === 'false');
    await assert.rejects(other.connect(erl.name), { code: 'NODE_CLOSED' });
  });

  it('a send to a node we are not connected to connects first; an unreachable node gives noconnection', async () => {
    const fresh = await LocalNode.start({ cookie });
    try {
      await erl.eval(`catch unregister(es_auto), register(es_auto, self())`);
      const p = fresh.spawn();
      p.send(['es_auto', erl.name], tuple(atom('auto'), p.pid));
      const got = await erl.eval(`receive {auto, _} = M -> element(1, M) after 10000 -> nothing end`);
      assert.equal(got, 'auto');
      assert.deepEqual(fresh.connectedNodes(), [erl.name]);

      const ref = p.monitor(['whatever', `${randomName('absent')}@${shortHost()}`]);
      const down = await p.receive((m) => isTuple(m, 5), 10_000);
      assert.ok(isTuple(down, 5));
      assert.ok(termEquals(down.elements[1]!, ref));
      assert.equal(down.elements[4], atom('noconnection'));
    } finally {
      await fresh.close();
    }
  });

  it('wrong cookie: WrongCookieError, and neither cookie appears in the message', async () => {
    const wrong = randomCookie();
    const bad = await LocalNode.start({ cookie: wrong });
    try {
      await assert.rejects(bad.connect(erl.name), (err: unknown) => {
        assert.ok(err instanceof WrongCookieError);
        assert.equal(err.code, 'WRONG_COOKIE');
        assert.match(err.message, /cookie/);
        assert.ok(!err.message.includes(wrong) && !err.message.includes(cookie));
        return true;
      });
      // Logging the node object must not reveal the cookie either.
      assert.ok(!inspect(bad, { depth: 10, showHidden: true }).includes(wrong));
    } finally {
      await bad.close();
    }
  });

  it('unknown node: NodeNotFoundError listing the names EPMD knows', async () => {
    const missing = `${randomName('missing')}@${shortHost()}`;
    await assert.rejects(local.connect(missing), (err: unknown) => {
      assert.ok(err instanceof NodeNotFoundError);
      assert.ok(err.known.some((n) => `${n.name}@${shortHost()}` === erl.name));
      assert.ok(err.message.includes(erl.name), err.message);
      return true;
    });
  });

  it('no EPMD on the host: EpmdUnreachableError', async () => {
    const port = await freePort();
    const lonely = await LocalNode.start({ cookie, epmdPort: port });
    try {
      await assert.rejects(lonely.connect(erl.name), (err: unknown) => err instanceof EpmdUnreachableError && err.port === port);
    } finally {
      await lonely.close();
    }
  });

  it('EPMD lists the node but nothing listens: ConnectionRefusedError', async () => {
    const name = randomName('ghost');
    const reg = await epmdRegister(name, await freePort());
    try {
      await assert.rejects(local.connect(`${name}@${shortHost()}`), (err: unknown) => {
        assert.ok(err instanceof ConnectionRefusedError);
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      });
    } finally {
      reg.close();
    }
  });

  it('a peer that never answers the handshake: HANDSHAKE_TIMEOUT', async () => {
    const sockets: Socket[] = [];
    const mute: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const port = (mute.address() as { port: number }).port;
    const name = randomName('mute');
    const reg = await epmdRegister(name, port);
    try {
      await assert.rejects(local.connect(`${name}@${shortHost()}`, { timeoutMs: 500 }), (err: unknown) => {
        assert.ok(err instanceof ConnectTimeoutError);
        assert.equal(err.code, 'HANDSHAKE_TIMEOUT');
        return true;
      });
    } finally {
      reg.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it('a BEAM node refuses a peer lacking a mandatory flag: HandshakeRejectedError', async () => {
    const port = Number(await erl.eval(`{port, P, _} = erl_epmd:port_please("${erl.shortName}", "localhost"), P`));
    const sock = await openTcp(port);
    await assert.rejects(
      clientHandshake(sock, erl.name, {
        ourName: `${randomName('old')}@${shortHost()}`,
        // Without the digest flag, which stands for the whole OTP 25 set.
        ourFlags: OUR_FLAGS & ~DFLAG.MAP_TAG & ~DFLAG.MANDATORY_25_DIGEST,
        creation: 7,
        cookie,
        timeoutMs: 5000,
      }),
      (err: unknown) => {
        assert.ok(err instanceof HandshakeRejectedError);
        assert.equal(err.reason, 'not_allowed');
        assert.match(err.message, /not_allowed/);
        return true;
      },
    );
  });

  it('register: true accepts BEAM connections; our server names the flags a client lacks', async () => {
    const warnings: string[] = [];
    const server = await LocalNode.start({ cookie, register: true, warn: (m) => warnings.push(m) });
    try {
      const inbox = server.spawn();
      inbox.register('ts_inbox');
      assert.equal(await erl.eval(`net_kernel:connect_node('${server.name}')`), 'true');
      assert.equal(await erl.eval(`lists:member('${server.name}', nodes(hidden))`), 'true');
      await erl.eval(`{ts_inbox, '${server.name}'} ! {hello, node()}`);
      const msg = await inbox.receive(() => true, 5000);
      assert.ok(isTuple(msg, 2));
      assert.equal(msg.elements[0], atom('hello'));
      assert.equal(msg.elements[1], atom(erl.name));

      // A client without UTF8_ATOMS is told not_allowed, and we log which flag it lacked.
      const sock = await openTcp(server.listenPort!);
      await assert.rejects(
        clientHandshake(sock, server.name, {
          ourName: `${randomName('old')}@${shortHost()}`,
          ourFlags: OUR_FLAGS & ~DFLAG.UTF8_ATOMS & ~DFLAG.MANDATORY_25_DIGEST,
          creation: 7,
          cookie,
          timeoutMs: 5000,
        }),
        (err: unknown) => err instanceof HandshakeRejectedError && err.reason === 'not_allowed',
      );
      await until('the warning', async () => warnings.some((w) => w.includes('UTF8_ATOMS')));
    } finally {
      await server.close();
    }
  });
});

describe('long names over IPv4 and IPv6', () => {
  let v6: BeamNode;
  let v4: BeamNode;
  before(async () => {
    [v6, v4] = await Promise.all([
      startNode({ kind: 'erl', longHost: '::1', extraArgs: ['-proto_dist', 'inet6_tcp'] }),
      startNode({ kind: 'elixir', longHost: '127.0.0.1' }),
    ]);
  });
  after(() => Promise.all([v6.stop(), v4.stop()]));

  it('connects to name@127.0.0.1 (an elixir node started with --name)', async () => {
    const local = await LocalNode.start({ cookie: v4.cookie, name: `${randomName('ts')}@127.0.0.1` });
    try {
      const peer = await local.connect(v4.name);
      assert.equal(await peer.rpc('erlang', 'node', []), atom(v4.name));
      assert.equal(await v4.eval(`lists:member('${local.name}', nodes(hidden))`), 'true');
    } finally {
      await local.close();
    }
  });

  it('connects to name@::1 and runs an rpc', async () => {
    const local = await LocalNode.start({ cookie: v6.cookie, name: `${randomName('ts')}@::1` });
    try {
      const peer = await local.connect(v6.name);
      const r: Term = await peer.rpc('erlang', 'node', []);
      assert.equal(r, atom(v6.name));
      assert.ok(r instanceof Object && !(r instanceof Tuple));
    } finally {
      await local.close();
    }
  });
});

function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: 'localhost', port }, () => resolve(s));
    s.once('error', reject);
  });
}
