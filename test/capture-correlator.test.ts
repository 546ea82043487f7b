/**
 * The correlator's rules (src/capture/correlator.ts), case by case: nested and recursive calls,
 * returns that skip frames (tail calls, untraced returns), returns with no call (tracing started
 * mid-call), exceptions unwinding, sends and receives in either order and FIFO among equal messages,
 * sends to registered names, spawn/spawned in either order, GenServer state to its receive, and the
 * bounds on what waits. Also the ring buffer's drop accounting, and the parser's malformed counting.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { NONE, ParseContext, parseBatch } from '../src/capture/batchParser.js';
import { Correlator, type LinkSink } from '../src/capture/correlator.js';
import { RingBuffer } from '../src/capture/ringBuffer.js';

const a = Atom.of;
const pid = (n: number): Pid => new Pid(a('n@h'), n, 0, 1);
const P = pid(1);
const Q = pid(2);
const R = pid(3);
const T = (...xs: Term[]): Tuple => new Tuple(xs);
const ts = 0;
const call = (p: Pid, f: string, args: Term[] = []): Term => T(a('trace_ts'), p, a('call'), T(a('m'), a(f), args), ts);
const ret = (p: Pid, f: string, arity = 0): Term => T(a('trace_ts'), p, a('return_from'), T(a('m'), a(f), arity), a('ok'), ts);
const exc = (p: Pid, f: string, arity = 0): Term => T(a('trace_ts'), p, a('exception_from'), T(a('m'), a(f), arity), T(a('error'), a('x')), ts);
const send = (p: Pid, msg: Term, to: Term): Term => T(a('trace_ts'), p, a('send'), msg, to, ts);
const recv = (p: Pid, msg: Term): Term => T(a('trace_ts'), p, a('receive'), msg, ts);
const state = (p: Pid, raw: Term): Term => T(a('es_state'), p, ts, raw, a('noreply'), T(a('s')));
const spawn = (p: Pid, child: Pid): Term => T(a('trace_ts'), p, a('spawn'), child, T(a('m'), a('init'), []), ts);
const spawned = (p: Pid, parent: Pid): Term => T(a('trace_ts'), p, a('spawned'), parent, T(a('m'), a('init'), []), ts);
const other = (p: Pid): Term => T(a('trace_ts'), p, a('exit'), a('normal'), ts);

const nul = (v: number): number | null => (v === NONE ? null : v);

/** Runs events through one correlator, in batches of `per`; returns [link, parent] per event. */
function run(events: Term[], opts: { per?: number; sink?: (links: Array<number | null>) => LinkSink; maxPending?: number } = {}): Array<[number | null, number | null]> {
  const ctx = new ParseContext({ monoStart: '0', nativePerSec: 1e9 });
  const cor = new Correlator({ maxPending: opts.maxPending ?? 1000 });
  const links: Array<number | null> = [];
  const parents: Array<number | null> = [];
  const sink: LinkSink = opts.sink?.(links) ?? {
    patchLink(id, link) {
      links[id] = link;
      return true;
    },
  };
  const per = opts.per ?? events.length;
  for (let s = 0; s < events.length; s += per) {
    const b = parseBatch(ctx, encode(events.slice(s, s + per)));
    assert.equal(b.malformed, 0, b.firstError ?? '');
    const link = new Uint32Array(b.count);
    const parent = new Uint32Array(b.count);
    cor.process(b, s, link, parent, sink);
    for (let i = 0; i < b.count; i++) {
      links[s + i] = nul(link[i]!);
      parents[s + i] = nul(parent[i]!);
    }
  }
  return links.map((l, i) => [l, parents[i]!]);
}

test('calls nest; returns close their call; recursion closes the innermost frame', () => {
  const r = run([call(P, 'f'), call(P, 'g'), call(P, 'f'), ret(P, 'f'), other(P), ret(P, 'g'), ret(P, 'f'), other(P)]);
  assert.deepEqual(r, [
    [null, null],
    [null, 0],
    [null, 1],
    [2, 1],
    [null, 1],
    [1, 0],
    [0, null],
    [null, null],
  ]);
});

test('a return that skips frames (tail call, untraced return) closes them all', () => {
  const r = run([call(P, 'f'), call(P, 'g'), call(P, 'h'), ret(P, 'f'), other(P)]);
  assert.deepEqual(r[3], [0, null]);
  assert.deepEqual(r[4], [null, null], 'the stack is empty after f returned');
});

test('a return with no call (tracing started mid-call) links nothing and leaves the stack', () => {
  const r = run([call(P, 'f'), ret(P, 'mid'), other(P), ret(P, 'f')]);
  assert.deepEqual(r[1], [null, 0]);
  assert.deepEqual(r[2], [null, 0]);
  assert.deepEqual(r[3], [0, null]);
});

test('exceptions unwind frame by frame; stacks are per pid', () => {
  const r = run([call(P, 'a'), call(Q, 'a'), call(P, 'b'), call(P, 'c'), exc(P, 'c'), exc(P, 'b'), exc(P, 'a'), ret(Q, 'a')]);
  assert.deepEqual(r.slice(4), [
    [3, 2],
    [2, 0],
    [0, null],
    [1, null],
  ]);
  assert.deepEqual(r[2], [null, 0]);
});

test('sends and receives pair by receiver and bytes, FIFO among equal messages', () => {
  const m = T(a('msg'), 1);
  const r = run([send(P, m, Q), send(R, m, Q), send(P, m, R), recv(R, m), recv(Q, m), recv(Q, m), recv(Q, T(a('msg'), 2))]);
  assert.equal(r[3]![0], 2, 'R gets the send addressed to R');
  assert.equal(r[4]![0], 0, 'first receive on Q ← first send to Q');
  assert.equal(r[5]![0], 1);
  assert.equal(r[6]![0], null, 'different bytes: no send');
});

test('a receive traced before its send is linked when the send comes (late patch), across batches', () => {
  const m: Term = [a('late'), Buffer.from('text'), 1];
  const r = run([other(P), recv(Q, m), other(R), send(P, m, Q)], { per: 2 });
  assert.equal(r[1]![0], 3);
});

test('a late link to an event already on disk is counted, not applied', () => {
  const m = a('late');
  const ctx = new ParseContext({ monoStart: '0', nativePerSec: 1e9 });
  const cor = new Correlator();
  const sink = { patchLink: (): boolean => false };
  const b1 = parseBatch(ctx, encode([recv(Q, m)]));
  cor.process(b1, 0, new Uint32Array(1), new Uint32Array(1), sink);
  const b2 = parseBatch(ctx, encode([send(P, m, Q)]));
  cor.process(b2, 1, new Uint32Array(1), new Uint32Array(1), sink);
  assert.equal(cor.stats.lateLost, 1);
  // Within one batch, the earlier event is set directly.
  const b3 = parseBatch(ctx, encode([recv(R, m), send(P, m, R)]));
  const link = new Uint32Array(2);
  cor.process(b3, 2, link, new Uint32Array(2), sink);
  assert.equal(link[0], 3);
});

test('a send to a registered name pairs with the receive of the same bytes', () => {
  const m = T(a('$gen_cast'), a('ping'));
  const r = run([send(P, m, a('cart')), send(P, m, T(a('cart'), a('n@h'))), recv(Q, m), recv(Q, m)]);
  assert.equal(r[2]![0], 0);
  assert.equal(r[3]![0], 1);
});

test('spawn and spawned link in either order', () => {
  const r = run([spawn(P, Q), spawned(Q, P), spawned(R, Q), spawn(Q, R)]);
  assert.equal(r[1]![0], 0);
  assert.equal(r[2]![0], 3, 'spawned first: patched when the spawn arrives');
});

test('state links to the receive of the same raw message on the same pid, oldest first', () => {
  const m1 = T(a('$gen_call'), T(P, a('ref')), a('get'));
  const init = (p: Pid): Term => T(a('es_state_init'), p, ts, T(a('s')));
  const r = run([init(Q), init(R), recv(Q, m1), recv(R, m1), recv(Q, m1), state(Q, m1), state(Q, m1), state(R, m1), state(Q, m1), recv(P, m1)]);
  assert.deepEqual(
    r.slice(5, 9).map((x) => x[0]),
    [2, 4, 3, null],
  );
});

test('a function that never returns in the trace (no return_trace) stops opening frames', () => {
  const evs: Term[] = [];
  for (let i = 0; i < 100; i++) evs.push(call(P, 'loop'));
  evs.push(call(P, 'f'), other(P), ret(P, 'f'), other(P));
  const r = run(evs);
  // The first 64 calls nest (nothing says yet that loop never returns), then they stop.
  assert.deepEqual(r[1], [null, 0]);
  assert.deepEqual(r[70], [null, 63]);
  assert.deepEqual(r[99], [null, 63]);
  assert.deepEqual(r[101], [null, 100], 'f opened a frame');
  assert.deepEqual(r[102], [100, 63]);
});

test('waits are bounded: the oldest are forgotten and counted', () => {
  const ctx = new ParseContext({ monoStart: '0', nativePerSec: 1e9 });
  const cor = new Correlator({ maxPending: 10 });
  const evs: Term[] = [];
  for (let i = 0; i < 50; i++) evs.push(send(P, i, Q));
  evs.push(recv(Q, 0), recv(Q, 49));
  const b = parseBatch(ctx, encode(evs));
  const link = new Uint32Array(b.count);
  cor.process(b, 0, link, new Uint32Array(b.count));
  assert.equal(link[50], NONE, 'the send of 0 was forgotten');
  assert.equal(link[51], 49);
  assert.ok(cor.stats.evicted >= 40);
});

test('the ring buffer never blocks: what does not fit is dropped and counted', () => {
  const rb = new RingBuffer<string>(1000);
  assert.ok(rb.push('a', 600));
  assert.ok(!rb.push('b', 500));
  assert.ok(rb.push('c', 400));
  assert.equal(rb.dropped, 500);
  assert.equal(rb.droppedItems, 1);
  assert.equal(rb.shift(), 'a');
  assert.equal(rb.size, 400);
  for (let i = 0; i < 200; i++) assert.ok(rb.push(`x${i}`, 1));
  assert.equal(rb.length, 201);
  assert.equal(rb.shift(), 'c');
  assert.equal(rb.shift(), 'x0');
});

test('the parser counts malformed elements and keeps the rest of the batch', () => {
  const ctx = new ParseContext({ monoStart: '0', nativePerSec: 1e9 });
  const evs: Term[] = [call(P, 'f'), T(a('trace_ts'), P, a('call')), a('junk'), T(a('trace_ts'), P, a('in'), T(a('m'), a('f'), 0), ts), call(P, 'g')];
  const b = parseBatch(ctx, encode(evs));
  assert.equal(b.count, 2);
  assert.equal(b.malformed, 3);
  assert.match(b.firstError ?? '', /event 1/);
  const bad = parseBatch(ctx, Buffer.from([131, 100]));
  assert.equal(bad.count, 0);
  assert.equal(bad.malformed, 1);
  // A lying length inside an element: that element and the ones after it are lost, and counted.
  const bin = encode([call(P, 'f'), T(a('trace_ts'), P, a('receive'), Buffer.from('abc'), ts), call(P, 'g')]);
  const at = bin.indexOf(Buffer.from([109, 0, 0, 0, 3]));
  bin.writeUInt32BE(0xffffff, at + 1);
  const torn = parseBatch(ctx, bin);
  assert.equal(torn.count, 1);
  assert.equal(torn.malformed, 2);
  assert.equal(ctx.pids.size, 1, 'one pid, interned once');
  assert.equal(ctx.mfas.size, 2);
});
