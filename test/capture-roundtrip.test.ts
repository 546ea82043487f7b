/**
 * Every event kind through the whole pipeline: a real BEAM builds a batch of synthetic trace
 * messages (the shapes of docs/agent-protocol.md, with pids, refs, funs, big integers, 1.0,
 * charlists, improper lists and maps in them) and term_to_binary's it; we ingest it, close the
 * recording, reopen it, and check every field of every event against an independent reading of the
 * same batch with the full decoder. Payloads must come back termEquals; links and parents as the
 * correlator's rules say.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decode } from '../src/erlang/etf/index.js';
import { Atom, ErlFloat, Pid, Tuple, termEquals, type Term } from '../src/erlang/terms.js';
import { EVENT_KINDS, type EventKind } from '../src/capture/event.js';
import { Ingestor } from '../src/capture/ingestor.js';
import { RecordingWriter } from '../src/store/writer.js';
import { openRecording } from '../src/store/reader.js';
import { startNode, type BeamNode } from './support/beam.js';
import { haveErlang, makeTempDir, removeDir } from './support/erlScript.js';

const BATCH = `
P = self(), Q = spawn(fun() -> receive _ -> ok end end), R = make_ref(), F = fun(X) -> X + 1 end,
M0 = erlang:monotonic_time(), NPS = erlang:convert_time_unit(1, second, native),
T = fun(K) -> M0 + K * 1000 end,
Big = 123456789012345678901234567890,
Msg = {'$gen_call', {P, R}, {add, [1.0, "chars", [a | b], #{k => Big, <<"bin">> => -Big}]}},
Evs = [
 {es_state_init, Q, T(0), {state, 0.5, <<>>}},
 {trace_ts, P, call, {shop_cart, add, [1.0, "chars"]}, T(1)},
 {trace_ts, P, call, {shop_cart, inner, [[a | b]]}, T(2)},
 {trace_ts, P, return_from, {shop_cart, inner, 1}, #{k => Big}, T(3)},
 {trace_ts, P, exception_from, {shop_cart, add, 2}, {error, {badarg, F}}, T(4)},
 {trace_ts, P, send, Msg, Q, T(5)},
 {trace_ts, Q, 'receive', Msg, T(6)},
 {es_state, Q, T(7), Msg, {reply, ok}, #{items => [R], total => 1.0}},
 {trace_ts, P, send, hello, some_name, T(8)},
 {trace_ts, P, send_to_non_existing_process, bye, Q, T(9)},
 {trace_ts, P, spawn, Q, {erlang, apply, [F, []]}, T(10)},
 {trace_ts, Q, spawned, P, {erlang, apply, [F, []]}, T(11)},
 {trace_ts, Q, exit, {shutdown, Big}, T(12)},
 {trace_ts, P, link, Q, T(13)},
 {trace_ts, P, unlink, Q, T(14)},
 {trace_ts, Q, getting_linked, P, T(15)},
 {trace_ts, Q, getting_unlinked, P, T(16)},
 {trace_ts, Q, register, cart_server, T(17)},
 {trace_ts, Q, unregister, cart_server, T(18)},
 {es_state_init, Q, T(19), {state, 1.0, "x", [1 | 2]}},
 {es_limit, T(20), max_events, 1000, stopped},
 {not_an_event, 1},
 {trace_ts, P, gc_start, [], T(21)},
 {trace_ts, P, call, {shop_cart, add, [2.0, "more"]}, -T(22) * 0 + M0 - 5}
],
{M0, NPS, base64:encode(term_to_binary(Evs))}.
`;

let node: BeamNode | undefined;
let monoStart = '';
let nativePerSec = 0;
let bin = Buffer.alloc(0);

before(async () => {
  if (!haveErlang()) return;
  node = await startNode({ kind: 'erl' });
  const out = await node.eval(BATCH.trim().replace(/\.$/, ''));
  const m = /^\{(-?\d+),(\d+),\s*<<"([A-Za-z0-9+/=\s]+)">>\}$/s.exec(out.trim());
  assert.ok(m, `unexpected eval output: ${out.slice(0, 200)}`);
  monoStart = m[1]!;
  nativePerSec = Number(m[2]);
  bin = Buffer.from(m[3]!.replace(/\s/g, ''), 'base64');
});

after(async () => {
  await node?.stop();
});

interface Expected {
  kind: EventKind;
  pid: Pid;
  mfa: [string, string, number] | null;
  peer: Pid | null;
  payload: Term | undefined;
  aux: Term | undefined;
  tsNative: bigint;
}

/** The table of src/capture/event.ts, applied to fully decoded terms. */
function expectedOf(t: Term, relay: Pid): Expected | null {
  if (!(t instanceof Tuple)) return null;
  const e = t.elements;
  const tag = (e[0] as Atom).name;
  const int = (x: Term): bigint => BigInt(x as number | bigint);
  const mfaOf = (x: Term): [string, string, number] => {
    const [m, f, a] = (x as Tuple).elements as [Atom, Atom, Term];
    return [m.name, f.name, Array.isArray(a) ? a.length : (a as number)];
  };
  if (tag === 'es_state') return { kind: 'state', pid: e[1] as Pid, mfa: null, peer: null, payload: e[5], aux: new Tuple([e[3]!, e[4]!]), tsNative: int(e[2]!) };
  if (tag === 'es_state_init') return { kind: 'state_init', pid: e[1] as Pid, mfa: null, peer: null, payload: e[3], aux: undefined, tsNative: int(e[2]!) };
  if (tag === 'es_limit') return { kind: 'limit', pid: relay, mfa: null, peer: null, payload: new Tuple([e[2]!, e[3]!, e[4]!]), aux: undefined, tsNative: int(e[1]!) };
  if (tag !== 'trace_ts') return null;
  const pid = e[1] as Pid;
  const what = (e[2] as Atom).name;
  const ts = int(e[e.length - 1]!);
  const base = { pid, mfa: null, peer: null, aux: undefined, tsNative: ts };
  switch (what) {
    case 'call':
      return { ...base, kind: 'call', mfa: mfaOf(e[3]!), payload: (e[3] as Tuple).elements[2] };
    case 'return_from':
      return { ...base, kind: 'return', mfa: mfaOf(e[3]!), payload: e[4] };
    case 'exception_from':
      return { ...base, kind: 'exception', mfa: mfaOf(e[3]!), payload: e[4] };
    case 'send':
    case 'send_to_non_existing_process': {
      const to = e[4]!;
      const kind = what === 'send' ? 'send' : 'send_to_dead';
      return to instanceof Pid ? { ...base, kind, peer: to, payload: e[3] } : { ...base, kind, payload: e[3], aux: to };
    }
    case 'receive':
      return { ...base, kind: 'receive', payload: e[3] };
    case 'spawn':
    case 'spawned':
      return { ...base, kind: what, peer: e[3] as Pid, mfa: mfaOf(e[4]!), payload: e[4] };
    case 'exit':
      return { ...base, kind: 'exit', payload: e[3] };
    case 'link':
    case 'unlink':
    case 'getting_linked':
    case 'getting_unlinked':
      return { ...base, kind: what, peer: e[3] as Pid, payload: undefined };
    case 'register':
    case 'unregister':
      return { ...base, kind: what, payload: e[3] };
    default:
      return null;
  }
}

test('every kind, made by a real BEAM, survives parse → correlate → write → reopen', { skip: !haveErlang() }, async () => {
  const dir = await makeTempDir('capture-rt');
  try {
    const terms = decode(bin) as Term[];
    const relay = terms[0] instanceof Tuple ? ((terms[0].elements[1] as Pid)) : (undefined as never);
    const writer = await RecordingWriter.create(dir, {
      node: relay.node.name,
      otpRelease: '25',
      elixirVersion: null,
      agentVersion: 1,
      monoStart,
      nativePerSec,
      request: { test: true },
    });
    const ing = new Ingestor({ writer, relay });
    ing.ingest(1, bin);
    // A second copy of the batch after a gap: counted as missing, stored again.
    ing.ingest(3, bin);
    await ing.close('complete', 'stopped');

    const rec = openRecording(dir);
    try {
      const expected = terms.map((t) => expectedOf(t, relay)).filter((x): x is Expected => x !== null);
      assert.equal(expected.length, terms.length - 2, 'two elements of the batch are not events');
      assert.equal(rec.count, expected.length * 2);
      assert.equal(rec.meta.status, 'complete');
      assert.equal(rec.meta.counts.received, terms.length * 2);
      assert.equal(rec.meta.counts.stored, expected.length * 2);
      assert.equal(rec.meta.counts.dropped.malformed, 4);
      assert.equal(rec.meta.counts.dropped.missing_batches, 1);
      assert.ok(rec.meta.errors.some((e) => e.includes('2 malformed event(s) skipped')), rec.meta.errors.join('\n'));
      assert.equal(rec.meta.counts.byKind.call, 6);
      assert.equal(rec.meta.counts.byKind.state_init, 4);
      const nps = BigInt(nativePerSec);
      for (let copy = 0; copy < 2; copy++) {
        for (let i = 0; i < expected.length; i++) {
          const x = expected[i]!;
          const ev = rec.event(copy * expected.length + i);
          const what = `event ${ev.id} (${x.kind})`;
          assert.equal(ev.kind, x.kind, what);
          assert.equal(ev.source, 'runtime');
          assert.ok(termEquals(ev.pid, x.pid), what);
          assert.deepEqual(ev.mfa === null ? null : [ev.mfa.module, ev.mfa.fun, ev.mfa.arity], x.mfa, what);
          assert.ok(ev.peer === null ? x.peer === null : x.peer !== null && termEquals(ev.peer, x.peer), `${what}: peer`);
          const p = ev.payload();
          assert.ok(x.payload === undefined ? p === undefined : p !== undefined && termEquals(p, x.payload), `${what}: payload`);
          const a = ev.aux();
          assert.ok(x.aux === undefined ? a === undefined : a !== undefined && termEquals(a, x.aux), `${what}: aux`);
          const wantTs = Number(((x.tsNative - BigInt(monoStart)) * 1_000_000_000n) / nps);
          assert.equal(ev.ts, wantTs, `${what}: ts`);
          if (x.payload !== undefined) assert.ok(termEquals(decode(Buffer.concat([Buffer.from([131]), ev.payloadBytes()!])), x.payload));
        }
      }
      // Correlation, per the rules in src/capture/correlator.ts (first copy; ids 0.., 0 is state_init).
      const L = (id: number): [number | null, number | null] => [rec.event(id).link, rec.event(id).parent];
      assert.deepEqual(L(1), [null, null], 'call add: no caller');
      assert.deepEqual(L(2), [null, 1], 'call inner: inside add');
      assert.deepEqual(L(3), [2, 1], 'return inner → its call, parent add');
      assert.deepEqual(L(4), [1, null], 'exception add → its call');
      assert.deepEqual(L(6), [5, null], 'receive → send');
      assert.deepEqual(L(7), [6, null], 'state → receive of the same raw message');
      assert.deepEqual(L(11), [10, null], 'spawned → spawn');
      assert.equal(rec.event(8).link, null, 'send to a name: no receive traced');
      // The last call (ts before monoStart) has a negative ts, exactly.
      assert.ok(rec.event(expected.length - 1).ts < 0);
      // Second copy: the stack of the first copy's last call is still open on P.
      assert.equal(rec.event(expected.length + 1).parent, expected.length - 1);

      const P = expected[1]!.pid;
      const Q = expected[6]!.pid;
      assert.deepEqual([...rec.idsOfPid(Q)].slice(0, 4), [0, 6, 7, 11]);
      assert.equal(rec.resolvePid(`<0.${Q.id}.${Q.serial}>`)?.key, Q.key);
      assert.equal(rec.resolvePid(`#PID<0.${P.id}.${P.serial}>`)?.key, P.key);
      assert.equal(rec.resolvePid('cart_server')?.key, Q.key);
      assert.equal(rec.resolvePid(':cart_server')?.key, Q.key);
      const procs = rec.processes();
      const q = procs.find((p) => p.pid.key === Q.key)!;
      assert.equal(q.name, 'cart_server');
      assert.equal(q.initialCall, ':erlang.apply/2');
      assert.equal(rec.firstIdAtOrAfter(0), 0);
      assert.equal(rec.firstIdAtOrAfter(rec.event(11).ts), 11);
      assert.equal(rec.firstIdAtOrAfter(1), 1);
      assert.equal(rec.firstIdAtOrAfter(Number.MAX_SAFE_INTEGER), rec.count);
      assert.ok(rec.event(1).payload() instanceof Array);
      assert.ok(((rec.event(1).payload() as Term[])[0]) instanceof ErlFloat);
      assert.equal(EVENT_KINDS[rec.event(20).kind], EVENT_KINDS.limit);
    } finally {
      rec.close();
    }
  } finally {
    await removeDir(dir);
  }
});
