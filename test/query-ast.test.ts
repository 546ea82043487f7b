/**
 * Queries over AST events (src/store/query.ts), on the recording of support/memoryRecording.ts's
 * astRecording() written through the real pipeline (parser, correlator, store), so the parents the
 * queries follow are the correlator's: stateAt's locals are the innermost frame's latest values,
 * never from a call that had finished inside it nor from an earlier tail-call iteration; the line is
 * the frame's last AST event; callTree puts AST events under their call and marks tail calls;
 * history filters by source and by the new kinds.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspect } from '../src/erlang/inspect.js';
import { QueryCoordinator, type StateAt } from '../src/store/query.js';
import { openRecording } from '../src/store/reader.js';
import type { Recording } from '../src/store/types.js';
import { astRecording, RecordingBuilder } from './support/memoryRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { makeTempDir, removeDir } from './support/erlScript.js';
import type { Pid } from '../src/erlang/terms.js';

let dir = '';
let rec: Recording;
let main: Pid;
let worker: Pid;

before(async () => {
  dir = await makeTempDir('query-ast');
  const s = astRecording();
  main = s.main;
  worker = s.worker;
  await writeThroughStore(s.b.build(), join(dir, 'rec'), main);
  rec = openRecording(join(dir, 'rec'));
});

after(async () => {
  rec.close();
  await removeDir(dir);
});

const locals = (s: StateAt): Array<[string, string, number, number | null]> => s.locals.map((b) => [b.name, inspect(b.value), b.event.id, b.line]);
const frame = (s: StateAt): string | null => {
  const top = s.stack[s.stack.length - 1];
  return top === undefined ? null : `${top.call.mfa!.fun}#${top.call.id}`;
};

test('locals in a runtime-traced call come from its own AST locals events, latest value per name', () => {
  const q = new QueryCoordinator(rec);
  const s5 = q.stateAt(main, 5);
  assert.equal(frame(s5), 'foo#0');
  assert.deepEqual(locals(s5), [
    ['local_var_x', '456', 1, 10],
    ['another_var', '789', 4, 15],
  ]);
  assert.deepEqual([s5.line?.line, s5.line?.event.id], [16, 5], 'the expr on line 16 is the latest AST event');
  const s11 = q.stateAt(main, 11);
  assert.deepEqual(locals(s11), [
    ['local_var_x', '457', 11, 18],
    ['another_var', '789', 4, 15],
  ]);
});

test('a nested instrumented call has its own locals; once it returned they are out of scope', () => {
  const q = new QueryCoordinator(rec);
  const inHelper = q.stateAt(main, 7);
  assert.equal(frame(inHelper), 'helper#6');
  assert.deepEqual(locals(inHelper), [
    ['acc', '3', 7, 31],
    ['local_var_x', '0', 7, 31],
  ]);
  assert.equal(inHelper.line?.line, 31);
  assert.equal(inHelper.stack.length, 2, 'helper is inside foo');
  const atStart = q.stateAt(main, 6);
  assert.deepEqual(locals(atStart), [], 'at its call, helper has captured nothing yet');
  assert.equal(atStart.line?.line, 30, "the AST call's head line");
  // After helper returned (#8) and at the probe (#9): foo's locals, not helper's local_var_x = 0.
  for (const at of [8, 9, 10]) {
    const s = q.stateAt(main, at);
    assert.equal(frame(s), 'foo#0', `at #${at}`);
    assert.deepEqual(locals(s), [
      ['local_var_x', '456', 1, 10],
      ['another_var', '789', 4, 15],
    ]);
  }
  assert.equal(q.stateAt(main, 9).line?.line, 17);
  assert.equal(q.stateAt(main, 10).line?.line, 18);
});

test('a tail call ends its iteration: the next one starts with no locals of the previous', () => {
  const q = new QueryCoordinator(rec);
  assert.deepEqual(locals(q.stateAt(main, 14)), [
    ['n', '3', 14, 41],
    ['acc', '0', 14, 41],
    ['first', 'true', 14, 41],
  ]);
  const second = q.stateAt(main, 17);
  assert.equal(frame(second), 'loop#16');
  assert.equal(second.stack.length, 1, 'the first iteration is not on the stack');
  assert.deepEqual(locals(second), [
    ['n', '2', 17, 41],
    ['acc', '3', 17, 41],
  ]);
  const raised = q.stateAt(main, 18);
  assert.deepEqual(raised.stack, []);
  assert.deepEqual(locals(raised), []);
  assert.equal(raised.line, null);
  // Another process at a moment of main: its own (empty) AST picture.
  const w = q.stateAt(worker, 11);
  assert.deepEqual(w.locals, []);
  assert.equal(w.last?.id, 3);
});

test('callTree: AST events under their call, tail calls with their own status', () => {
  const t = new QueryCoordinator(rec).callTree(main);
  assert.equal(t.calls, 4);
  assert.deepEqual(
    t.roots.map((n) => [n.call.mfa!.fun, n.call.source, n.status, n.end?.id ?? null]),
    [
      ['foo', 'runtime', 'returned', 12],
      ['loop', 'ast', 'tail_call', 15],
      ['loop', 'ast', 'raised', 18],
    ],
  );
  const foo = t.roots[0]!;
  assert.deepEqual(
    foo.inner.map((e) => [e.id, e.kind]),
    [
      [1, 'locals'],
      [4, 'locals'],
      [5, 'expr'],
      [9, 'probe'],
      [10, 'line'],
      [11, 'locals'],
    ],
  );
  assert.deepEqual(
    foo.children.map((c) => [c.call.mfa!.fun, c.status, c.inner.map((e) => e.id)]),
    [['helper', 'returned', [7]]],
  );
  assert.deepEqual(t.inner, []);
  assert.deepEqual(t.roots[1]!.inner.map((e) => e.id), [14]);
});

test('history filters by source and by the AST kinds', () => {
  const q = new QueryCoordinator(rec);
  const ids = (xs: Array<{ id: number }>): number[] => xs.map((e) => e.id);
  assert.deepEqual(ids(q.history({ source: 'ast' })), [1, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual(ids(q.history({ source: 'runtime' })), [0, 2, 3, 12]);
  assert.deepEqual(ids(q.history({ pid: main, kinds: ['locals'] })), [1, 4, 7, 11, 14, 17]);
  assert.deepEqual(ids(q.history({ kinds: ['call'], source: 'ast' })), [6, 13, 16]);
  assert.deepEqual(ids(q.history({ kinds: ['tail_call', 'expr', 'probe', 'line'] })), [5, 9, 10, 15]);
});

test('locals of an iteration deep in a long loop read only that iteration, not the history', async () => {
  const b = new RecordingBuilder('app@vm');
  const p = b.pid(200);
  b.call(p, 0, 'Elixir.MyModule', 'run', []);
  let ts = 1;
  for (let k = 0; k < 5_000; k++) {
    b.astCall(p, ts++, 'Elixir.MyModule', 'loop', [k], 40);
    b.locals(p, ts++, 41, [['k', k]]);
    b.tailCall(p, ts++, 42, 'Elixir.MyModule', 'loop', 1);
  }
  // A state and a message just before: the rest of stateAt (states, last message) stops there too.
  b.add({ ts: ts++, kind: 'state_init', pid: p, payload: 0 });
  b.receive(p, ts++, 'go', null);
  b.astCall(p, ts++, 'Elixir.MyModule', 'loop', [5_000], 40);
  b.line(p, ts++, 41);
  const last = b.locals(p, ts++, 41, [['k', 5_000]]);
  const mem = b.build();
  mem.reads = 0;
  const s = new QueryCoordinator(mem).stateAt(p, last);
  assert.deepEqual(locals(s), [['k', '5000', last, 41]]);
  assert.equal(s.stack.length, 2, 'run and the current iteration: the loop stayed flat');
  assert.ok(mem.reads < 30, `read ${mem.reads} events`);
});
