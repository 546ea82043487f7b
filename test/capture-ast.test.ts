/**
 * AST events (`es_ast`, docs/ast.md) through the parser and the correlator: every kind parses with
 * its MFA, line (aux) and payload, and the source bit in the kind byte; malformed es_ast tuples are
 * counted and skipped without losing their neighbours; runtime and AST events share one stack per
 * pid (hybrid calls), tail calls keep a 10M-iteration loop flat, and exceptions unwind.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBody, encode } from '../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { NONE, ParseContext, parseBatch, rangeBytes, type ParsedBatch } from '../src/capture/batchParser.js';
import { Correlator } from '../src/capture/correlator.js';
import { AST_KIND_BIT, EVENT_KINDS, kindOfByte, sourceOfByte } from '../src/capture/event.js';

const a = Atom.of;
const P = new Pid(a('n@h'), 1, 0, 1);
const Q = new Pid(a('n@h'), 2, 0, 1);
const T = (...xs: Term[]): Tuple => new Tuple(xs);
const bin = (s: string): Buffer => Buffer.from(s, 'utf8');

/** `{es_ast, Pid, Ts, Kind, {M, F, A}, Line, Payload}` as instrumented code sends it. */
const ast = (p: Pid, kind: string, f: string, arity: number, line: number, payload: Term, ts = 0): Term =>
  T(a('es_ast'), p, ts, a(kind), T(a('Elixir.M'), a(f), arity), line, payload);
const rtCall = (p: Pid, f: string, args: Term[]): Term => T(a('trace_ts'), p, a('call'), T(a('Elixir.M'), a(f), args), 0);
const rtRet = (p: Pid, f: string, arity: number, v: Term): Term => T(a('trace_ts'), p, a('return_from'), T(a('Elixir.M'), a(f), arity), v, 0);

const ctx = (): ParseContext => new ParseContext({ monoStart: '0', nativePerSec: 1e9 });
const term = (b: ParsedBatch, off: number, len: number): Term => decodeBody(rangeBytes(b.bin, off, len, 0), 0).term;
const nul = (v: number): number | null => (v === NONE ? null : v);

/** Links and parents of events run through one correlator, one batch. */
function correlate(events: Term[]): Array<[number | null, number | null]> {
  const b = parseBatch(ctx(), encode(events));
  assert.equal(b.malformed, 0, b.firstError ?? '');
  const link = new Uint32Array(b.count);
  const parent = new Uint32Array(b.count);
  new Correlator().process(b, 0, link, parent);
  return Array.from(link, (l, i) => [nul(l), nul(parent[i]!)]);
}

test('every es_ast kind parses: kind with the AST bit, pid, ts, MFA, line as aux, payload as sent', () => {
  const c = ctx();
  const cases: Array<[string, Term]> = [
    ['call', [1, bin('x')]],
    ['line', a('nil')],
    ['locals', [T(a('a'), 1), T(a('b'), [2])]],
    ['expr', T(bin('Enum.sum(xs)'), 6)],
    ['probe', T(bin('length(items)'), 3)],
    ['tail_call', T(a('Elixir.M'), a('g'), 2)],
    ['exception', T(a('error'), a('badarith'))],
    ['return', a('ok')],
  ];
  const b = parseBatch(c, encode(cases.map(([k, p], i) => ast(P, k, 'f', 2, 10 + i, p, 1000 + i))));
  assert.equal(b.malformed, 0, b.firstError ?? '');
  assert.equal(b.count, cases.length);
  cases.forEach(([k, p], i) => {
    const kb = b.kind[i]!;
    assert.equal(kb & AST_KIND_BIT, AST_KIND_BIT, `${k}: AST bit`);
    assert.equal(kindOfByte(kb), k);
    assert.equal(sourceOfByte(kb), 'ast');
    assert.equal(b.ts[i], 1000 + i);
    assert.equal(c.pids.pid(b.pid[i]!).key, P.key);
    assert.deepEqual(c.mfas.mfa(b.mfa[i]!), { module: 'Elixir.M', fun: 'f', arity: 2 });
    assert.equal(term(b, b.auxOff[i]!, b.auxLen[i]!), 10 + i, `${k}: line`);
    assert.deepEqual(term(b, b.payOff[i]!, b.payLen[i]!), p, `${k}: payload`);
    assert.equal(b.peer[i], NONE);
  });
  // A runtime call of the same function keeps the plain code and shares the MFA id.
  const r = parseBatch(c, encode([rtCall(P, 'f', [1, 2])]));
  assert.equal(r.kind[0], EVENT_KINDS.call);
  assert.equal(sourceOfByte(r.kind[0]!), 'runtime');
  assert.equal(r.mfa[0], b.mfa[0]);
});

test('malformed es_ast tuples are counted and skipped; the events around them are kept', () => {
  const good = ast(P, 'line', 'f', 1, 3, a('nil'));
  const bad: Array<[Term, RegExp]> = [
    [ast(P, 'bogus', 'f', 1, 3, a('nil')), /unknown kind bogus/],
    [ast(P, 'constructor', 'f', 1, 3, a('nil')), /unknown kind constructor/],
    [T(a('es_ast'), P, 0, a('line'), T(a('Elixir.M'), a('f'), 1), 3), /es_ast tuple of 6 elements/],
    [T(a('es_ast'), a('notapid'), 0, a('line'), T(a('Elixir.M'), a('f'), 1), 3, a('nil')), /expected a pid/],
    [T(a('es_ast'), P, 0, a('line'), T(a('Elixir.M'), a('f')), 3, a('nil')), /expected a \{Module, Function, /],
    [T(a('es_ast'), P, 0, a('line'), T(a('Elixir.M'), a('f'), [1]), 3, a('nil')), /arity .* not an integer/],
    [T(a('es_ast'), P, 0, a('line'), T(a('Elixir.M'), a('f'), 1), a('three'), a('nil')), /Line is not an integer/],
    [T(a('es_ast'), P, 0, bin('line'), T(a('Elixir.M'), a('f'), 1), 3, a('nil')), /atom/i],
  ];
  for (const [b, why] of bad) {
    const out = parseBatch(ctx(), encode([good, b, good]));
    assert.equal(out.count, 2, `${why}: both good events kept`);
    assert.equal(out.malformed, 1);
    assert.match(out.firstError ?? '', why);
    assert.match(out.firstError ?? '', /event 1 of the batch/);
  }
});

test('hybrid: a runtime call with AST line/locals inside and a runtime return is one call with AST children', () => {
  const r = correlate([
    rtCall(P, 'foo', [123]),
    ast(P, 'line', 'foo', 1, 10, a('nil')),
    ast(P, 'locals', 'foo', 1, 10, [T(a('x'), 456)]),
    ast(P, 'expr', 'foo', 1, 11, T(bin('x + 1'), 457)),
    rtRet(P, 'foo', 1, a('ok')),
    ast(Q, 'line', 'foo', 1, 10, a('nil')),
  ]);
  assert.deepEqual(r, [
    [null, null],
    [null, 0],
    [null, 0],
    [null, 0],
    [0, null],
    [null, null],
  ]);
});

test('AST calls nest inside runtime calls and the other way round, on one stack per pid', () => {
  const r = correlate([
    rtCall(P, 'outer', []),
    ast(P, 'call', 'inner', 1, 5, [1]),
    ast(P, 'locals', 'inner', 1, 6, [T(a('y'), 2)]),
    rtCall(P, 'leaf', []),
    rtRet(P, 'leaf', 0, 1),
    ast(P, 'return', 'inner', 1, 7, 3),
    ast(P, 'probe', 'outer', 0, 20, T(bin('n'), 1)),
    rtRet(P, 'outer', 0, a('ok')),
  ]);
  assert.deepEqual(r, [
    [null, null],
    [null, 0],
    [null, 1],
    [null, 1],
    [3, 1],
    [1, 0],
    [null, 0],
    [0, null],
  ]);
});

test('tail_call closes the innermost frame of its MFA (link = that call), the callee opens the next', () => {
  const r = correlate([
    ast(P, 'call', 'run', 0, 1, []),
    ast(P, 'call', 'loop', 1, 2, [3]),
    ast(P, 'tail_call', 'loop', 1, 4, T(a('Elixir.M'), a('loop'), 1)),
    ast(P, 'call', 'loop', 1, 2, [2]),
    ast(P, 'line', 'loop', 1, 3, a('nil')),
    ast(P, 'tail_call', 'loop', 1, 4, T(a('Elixir.M'), a('done'), 0)),
    ast(P, 'call', 'done', 0, 9, []),
    ast(P, 'return', 'done', 0, 9, a('ok')),
    ast(P, 'return', 'run', 0, 1, a('ok')),
  ]);
  assert.deepEqual(r, [
    [null, null],
    [null, 0],
    [1, 0],
    [null, 0],
    [null, 3],
    [3, 0],
    [null, 0],
    [6, 0],
    [0, null],
  ]);
});

test('a 10M-iteration tail-recursive instrumented loop leaves the stack flat', () => {
  // One batch of 1,000 iterations (call, tail_call), correlated 10,000 times with increasing ids:
  // the correlator sees 20M events, as from one long loop.
  const c = ctx();
  const PER = 1000;
  const evs: Term[] = [];
  for (let k = 0; k < PER; k++) {
    evs.push(ast(P, 'call', 'loop', 1, 2, [k]));
    evs.push(ast(P, 'tail_call', 'loop', 1, 4, T(a('Elixir.M'), a('loop'), 1)));
  }
  const b = parseBatch(c, encode(evs));
  assert.equal(b.malformed, 0);
  const cor = new Correlator();
  const outer = parseBatch(c, encode([rtCall(P, 'start', [])]));
  cor.process(outer, 0, new Uint32Array(1), new Uint32Array(1));
  const link = new Uint32Array(b.count);
  const parent = new Uint32Array(b.count);
  let id = 1;
  let maxDepth = 0;
  for (let round = 0; round < 10_000; round++) {
    cor.process(b, id, link, parent);
    maxDepth = Math.max(maxDepth, cor.depth(0));
    // Every call's parent is the runtime `start`; every tail_call ends the call just before it.
    if (round % 997 === 0 || round === 9_999) {
      for (let i = 0; i < b.count; i += 2) {
        assert.equal(parent[i], 0, `call ${id + i}`);
        assert.equal(link[i + 1], id + i, `tail_call ${id + i + 1}`);
        assert.equal(parent[i + 1], 0);
      }
    }
    id += b.count;
  }
  assert.equal(id - 1, 20_000_000);
  assert.equal(maxDepth, 1, 'only start is open between iterations');
  assert.equal(cor.depth(0), 1);
  assert.equal(cor.stats.framesDropped, 0);
  const end = parseBatch(c, encode([rtRet(P, 'start', 0, a('ok'))]));
  const l = new Uint32Array(1);
  cor.process(end, id, l, new Uint32Array(1));
  assert.equal(l[0], 0, 'the return closes start, not a leftover loop frame');
  assert.equal(cor.depth(0), 0);
});

test('an AST exception unwinds the frames above its call; a tail_call with no open frame links nothing', () => {
  const r = correlate([
    ast(P, 'call', 'a', 0, 1, []),
    rtCall(P, 'b', []),
    ast(P, 'call', 'c', 0, 3, []),
    ast(P, 'exception', 'a', 0, 2, T(a('error'), a('boom'))),
    ast(P, 'line', 'z', 0, 1, a('nil')),
    ast(P, 'tail_call', 'z', 0, 2, T(a('Elixir.M'), a('y'), 0)),
  ]);
  assert.deepEqual(r[3], [0, null], 'closes a, and b and c above it');
  assert.deepEqual(r[4], [null, null], 'nothing is open any more');
  assert.deepEqual(r[5], [null, null]);
});

test('a call trace message that arrives after its own AST events is put back before them (per process, by timestamp)', () => {
  // Seen on a real node: the BEAM delivered the runtime call after the locals the same process sent later.
  const call = T(a('trace_ts'), P, a('call'), T(a('Elixir.M'), a('foo'), [1]), 10);
  const ret = T(a('trace_ts'), P, a('return_from'), T(a('Elixir.M'), a('foo'), 1), a('ok'), 30);
  const b = parseBatch(ctx(), encode([ast(P, 'locals', 'foo', 1, 4, [T(a('x'), 1)], 20), call, ast(Q, 'line', 'bar', 0, 9, a('nil'), 5), ret]));
  // P's slots (0, 1, 3) hold P's events in timestamp order; Q's event keeps its slot.
  assert.deepEqual(Array.from(b.ts), [10, 20, 5, 30]);
  assert.deepEqual(Array.from(b.kind, (k) => `${sourceOfByte(k)} ${kindOfByte(k)}`), ['runtime call', 'ast locals', 'ast line', 'runtime return']);
  assert.deepEqual(term(b, b.payOff[1]!, b.payLen[1]!), [T(a('x'), 1)], 'payloads move with their events');
  const link = new Uint32Array(b.count);
  const parent = new Uint32Array(b.count);
  new Correlator().process(b, 0, link, parent);
  assert.equal(parent[1], 0, 'the locals belong to the call');
  assert.equal(link[3], 0, 'the return closes it');
  // In order already (the usual case): nothing moves.
  const inOrder = parseBatch(ctx(), encode([call, ast(P, 'locals', 'foo', 1, 4, a('nil'), 20), ret]));
  assert.deepEqual(Array.from(inOrder.ts), [10, 20, 30]);
});
