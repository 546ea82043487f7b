/**
 * The connection's frame handling, fed hand-built frames over a local socket: distribution header
 * with atom cache refs (new and cached, short and long), fragments reassembled per sequence id,
 * ticks, unknown control messages (logged once, ignored) and malformed frames (clear error, only
 * that connection closes). Real BEAM traffic over the same code is covered by the other dist tests.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { Connection } from '../src/erlang/connection.js';
import type { Signal } from '../src/erlang/controlMessages.js';
import { encodeBody } from '../src/erlang/etf/index.js';
import { OUR_FLAGS } from '../src/erlang/flags.js';
import { atom, Pid, termEquals, tuple, type Term } from '../src/erlang/terms.js';

interface Pair {
  conn: Connection;
  peer: Socket;
  signals: Signal[];
  warnings: string[];
  down: Promise<string>;
}

async function pair(): Promise<Pair> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const peer = connect({ host: '127.0.0.1', port });
  const ours = await accepted;
  server.close();
  const signals: Signal[] = [];
  const warnings: string[] = [];
  const conn = new Connection(ours, atom('fake@peer'), OUR_FLAGS, 1, [], {
    tickTimeMs: 60_000,
    maxMessageBytes: 1 << 20,
    warn: (m) => warnings.push(m),
  });
  conn.on('signal', (s: Signal) => signals.push(s));
  const down = new Promise<string>((r) => conn.on('down', r));
  return { conn, peer, signals, warnings, down };
}

const frame = (...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
};

/** NEW_PID_EXT whose node is ATOM_CACHE_REF `ref`. */
const pidWithCachedNode = (ref: number, id: number): Buffer => {
  const b = Buffer.alloc(2 + 2 + 12);
  b[0] = 88;
  b[1] = 82;
  b[2] = ref;
  b.writeUInt32BE(id, 3);
  b.writeUInt32BE(0, 7);
  b.writeUInt32BE(1, 11);
  return b.subarray(0, 15);
};

async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
}

describe('connection frames', () => {
  it('decodes the distribution header: new atom cache entries, then cached ones', async (t) => {
    const p = await pair();
    t.after(() => p.conn.close());
    // Two refs, both new: segment 0 slot 5 ("fake@peer"), segment 1 slot 7 ("hello"); short atoms.
    const hdr1 = Buffer.concat([
      Buffer.from([131, 68, 2, 0x98, 0x00]), // flags: ref0 new seg 0, ref1 new seg 1; then LongAtoms=0
      Buffer.from([5, 9]), Buffer.from('fake@peer'),
      Buffer.from([7, 5]), Buffer.from('hello'),
    ]);
    // {2, '', Pid} then the message: ATOM_CACHE_REF 1
    const ctrl = Buffer.concat([Buffer.from([104, 3, 97, 2, 119, 0]), pidWithCachedNode(0, 42)]);
    p.peer.write(frame(hdr1, ctrl, Buffer.from([82, 1])));
    // Same atoms again, now by slot only (flags: not new, seg 0 and seg 1).
    const hdr2 = Buffer.from([131, 68, 2, 0x10, 0x00, 5, 7]);
    p.peer.write(frame(hdr2, ctrl, Buffer.from([82, 1])));
    await until('two signals', () => p.signals.length === 2);
    for (const s of p.signals) {
      assert.equal(s.kind, 'send');
      if (s.kind !== 'send') continue;
      assert.equal(s.msg, atom('hello'));
      assert.ok(termEquals(s.to, new Pid(atom('fake@peer'), 42, 0, 1)));
    }
    // Long atoms (2-byte lengths): one new ref with a 300-byte atom.
    const longName = 'a'.repeat(300);
    const hdr3 = Buffer.concat([Buffer.from([131, 68, 1, 0x18, 1, 0x01, 0x2c]), Buffer.from(longName)]);
    p.peer.write(frame(hdr3, ctrl.subarray(0, 6), pidWithCachedNode(0, 1), Buffer.from([82, 0])));
    await until('third signal', () => p.signals.length === 3);
    const third = p.signals[2]!;
    assert.ok(third.kind === 'send' && third.msg === atom(longName));
  });

  it('reassembles fragments per sequence id, interleaved with other sequences', async (t) => {
    const p = await pair();
    t.after(() => p.conn.close());
    const body = (msg: Term): Buffer => Buffer.concat([encodeBody(tuple(2, atom(''), new Pid(atom('x@y'), 1, 0, 1))), encodeBody(msg)]);
    const seq = (n: bigint, frag: bigint, first: boolean): Buffer => {
      const b = Buffer.alloc(first ? 19 : 18);
      b[0] = 131;
      b[1] = first ? 69 : 70;
      b.writeBigUInt64BE(n, 2);
      b.writeBigUInt64BE(frag, 10);
      return b; // first fragments end with NumberOfAtomCacheRefs = 0
    };
    const a = body(Buffer.alloc(100_000, 1));
    const b = body(Buffer.alloc(50_000, 2));
    p.peer.write(frame(seq(7n, 3n, true), a.subarray(0, 40_000)));
    p.peer.write(frame(seq(9n, 2n, true), b.subarray(0, 10)));
    p.peer.write(frame(seq(7n, 2n, false), a.subarray(40_000, 80_000)));
    p.peer.write(frame(seq(9n, 1n, false), b.subarray(10)));
    // The last fragment arrives in three socket chunks, split inside its 18-byte header.
    const last = frame(seq(7n, 1n, false), a.subarray(80_000));
    p.peer.write(last.subarray(0, 12));
    await new Promise((r) => setTimeout(r, 30));
    p.peer.write(last.subarray(12, 5000));
    await new Promise((r) => setTimeout(r, 30));
    p.peer.write(last.subarray(5000));
    await until('two messages', () => p.signals.length === 2);
    const [first, second] = p.signals as [Signal, Signal];
    assert.ok(first.kind === 'send' && Buffer.isBuffer(first.msg) && first.msg.length === 50_000 && first.msg[0] === 2);
    assert.ok(second.kind === 'send' && Buffer.isBuffer(second.msg));
    assert.ok(second.msg.equals(Buffer.alloc(100_000, 1)));
  });

  it('answers a tick, logs an unknown control message once and keeps going', async (t) => {
    const p = await pair();
    t.after(() => p.conn.close());
    const got: Buffer[] = [];
    p.peer.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => setTimeout(r, 600)); // past the echo quiet period
    p.peer.write(Buffer.alloc(4));
    await until('tick echoed', () => Buffer.concat(got).equals(Buffer.alloc(4)));
    const unknown = Buffer.concat([Buffer.from([131, 68, 0]), encodeBody(tuple(99, atom('x')))]);
    p.peer.write(frame(unknown));
    p.peer.write(frame(unknown));
    const ok = Buffer.concat([Buffer.from([131, 68, 0]), encodeBody(tuple(2, atom(''), new Pid(atom('x@y'), 1, 0, 1))), encodeBody(atom('after'))]);
    p.peer.write(frame(ok));
    await until('message after the unknown ones', () => p.signals.length === 1);
    assert.equal(p.warnings.length, 1);
    assert.match(p.warnings[0]!, /control message 99/);
    assert.ok(p.conn.isUp);
  });

  it('a malformed frame closes that connection with a clear reason, and only that one', async (t) => {
    const bad = await pair();
    const good = await pair();
    t.after(() => good.conn.close());
    bad.peer.write(frame(Buffer.from([131, 68, 0, 104, 3, 97])));
    const reason = await bad.down;
    assert.match(reason, /malformed data/);
    assert.equal(bad.conn.isUp, false);
    assert.equal(good.conn.isUp, true);
    const wrongStart = await pair();
    wrongStart.peer.write(frame(Buffer.from([7, 7, 7])));
    assert.match(await wrongStart.down, /frame starts with byte 7/);
    const oversize = await pair();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(2 << 20);
    oversize.peer.write(head);
    assert.match(await oversize.down, /more than the limit/);
  });
});
