/**
 * AST events in the store (schema version 2): they go through the real pipeline (es_ast messages,
 * parser, correlator, writer) and read back with source 'ast', their kind, MFA, line and payload,
 * and the correlator's links and parents; a version-1 recording written before AST events existed
 * (test/fixtures/recording-v1) still opens, every event runtime; a version-3 one is refused; a kind
 * byte its version cannot hold (the AST bit in version 1, an AST send, a runtime line) is damage.
 */

import assert from 'node:assert/strict';
import { cp, open as openFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { openRecording } from '../src/store/reader.js';
import { RecordingFormatError } from '../src/store/format.js';
import { crc32 } from '../src/store/crc32.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { makeTempDir, removeDir } from './support/erlScript.js';

const a = Atom.of;
const V1 = fileURLToPath(new URL('../../test/fixtures/recording-v1', import.meta.url));

/** A hybrid call with every AST kind inside it, and a tail-recursive loop. */
function sample(): { b: RecordingBuilder; cart: Pid } {
  const b = new RecordingBuilder('shop@vm');
  const cart = b.pid(150);
  b.call(cart, 1_000, 'Elixir.Shop.Cart', 'total', [[1, 2]]);
  b.line(cart, 1_100, 10);
  b.locals(cart, 1_200, 10, [['items', [1, 2]], ['sum', 3]]);
  b.labelled(cart, 1_300, 'expr', 12, 'Enum.sum(xs)', 3);
  b.labelled(cart, 1_400, 'probe', 14, 'length(items)', 2);
  b.astCall(cart, 1_500, 'Elixir.Shop.Cart', 'loop', [2], 20);
  b.tailCall(cart, 1_600, 21, 'Elixir.Shop.Cart', 'loop', 1);
  b.astCall(cart, 1_700, 'Elixir.Shop.Cart', 'loop', [1], 20);
  b.astRaise(cart, 1_800, 'error', a('badarith'), 22);
  b.ret(cart, 1_900, 3);
  return { b, cart };
}

test('AST events round-trip through parser, correlator, writer and reader', async () => {
  const dir = await makeTempDir('store-ast');
  try {
    const { b, cart } = sample();
    const mem = b.build();
    await writeThroughStore(mem, join(dir, 'rec'), cart);
    const rec = openRecording(join(dir, 'rec'));
    try {
      assert.equal(rec.meta.schema, 2);
      assert.equal(rec.count, mem.count);
      for (let id = 0; id < mem.count; id++) {
        const want = mem.event(id);
        const got = rec.event(id);
        const what = `event #${id} (${want.kind})`;
        assert.equal(got.kind, want.kind, what);
        assert.equal(got.source, want.source, what);
        assert.deepEqual(got.mfa, want.mfa, what);
        assert.equal(got.ts, want.ts, what);
        assert.deepEqual(got.payload(), want.payload(), what);
        assert.deepEqual(got.aux(), want.aux(), what);
        // The builder's stack and the correlator agree on every link and parent.
        assert.equal(got.link, want.link, `${what} link`);
        assert.equal(got.parent, want.parent, `${what} parent`);
      }
      assert.equal(rec.event(0).source, 'runtime');
      assert.equal(rec.event(2).source, 'ast');
      assert.equal(rec.event(2).aux(), 10);
      assert.equal(rec.event(6).kind, 'tail_call');
      assert.equal(rec.event(6).link, 5);
      assert.equal(rec.event(6).parent, 0);
      assert.deepEqual(rec.event(6).payload(), new Tuple([a('Elixir.Shop.Cart'), a('loop'), 1]));
      assert.equal(rec.event(7).parent, 0, 'the callee of a tail call is not nested in its caller');
      assert.equal(rec.event(9).link, 0, 'the runtime return closes the runtime call');
      assert.deepEqual(rec.meta.counts.byKind, { call: 3, line: 1, locals: 1, expr: 1, probe: 1, tail_call: 1, exception: 1, return: 1 });
    } finally {
      rec.close();
    }
  } finally {
    await removeDir(dir);
  }
});

test('a version-1 recording (written before AST events) opens, every event runtime', () => {
  const rec = openRecording(V1);
  try {
    assert.equal(rec.meta.schema, 1);
    assert.equal(rec.count, 4);
    assert.deepEqual(
      Array.from({ length: rec.count }, (_, id) => [rec.event(id).kind, rec.event(id).source]),
      [
        ['call', 'runtime'],
        ['send', 'runtime'],
        ['receive', 'runtime'],
        ['return', 'runtime'],
      ],
    );
    assert.deepEqual(rec.event(0).payload(), [1, 2]);
    assert.equal(rec.event(3).link, 0);
    assert.equal(rec.event(2).link, 1);
    assert.equal(rec.event(1).parent, 0);
    assert.deepEqual(rec.event(3).payload() as Term, 3);
  } finally {
    rec.close();
  }
});

/**
 * A copy of the v1 fixture as `version` (file header and meta) with some kind bytes replaced
 * (event index → byte) and the block's checksums fixed, so only the kind rules can object.
 */
async function withKindBytes(dir: string, name: string, version: number, kinds: Record<number, number>): Promise<string> {
  const out = join(dir, name);
  await cp(V1, out, { recursive: true });
  const meta = JSON.parse(await readFile(join(out, 'meta.json'), 'utf8')) as { schema: number };
  await writeFile(join(out, 'meta.json'), JSON.stringify({ ...meta, schema: version }));
  const file = join(out, 'events.esr');
  const bytes = await readFile(file);
  bytes.writeUInt32LE(version, 8);
  const hdr = 16;
  const n = bytes.readUInt32LE(hdr + 8);
  const dictLen = bytes.readUInt32LE(hdr + 12);
  const colLen = bytes.readUInt32LE(hdr + 16);
  const kindAt = hdr + 40 + dictLen + 8 * n + 4 * 9 * n;
  assert.deepEqual([...bytes.subarray(kindAt, kindAt + n)], [1, 4, 6, 2], 'the fixture: call, send, receive, return');
  for (const [i, k] of Object.entries(kinds)) bytes[kindAt + Number(i)] = k;
  bytes.writeUInt32LE(crc32(bytes, hdr + 40, hdr + 40 + dictLen + colLen), hdr + 24);
  bytes.writeUInt32LE(crc32(bytes, hdr, hdr + 36), hdr + 36);
  await writeFile(file, bytes);
  return out;
}

function opened(dir: string): { count: number; interrupted: boolean } {
  const rec = openRecording(dir);
  try {
    if (rec.meta.status === 'interrupted') assert.match(rec.meta.errors.join('\n'), /inconsistent/);
    return { count: rec.count, interrupted: rec.meta.status === 'interrupted' };
  } finally {
    rec.close();
  }
}

test('a version-3 recording is refused; kind bytes a version cannot hold are damage', async () => {
  const dir = await makeTempDir('store-ast-versions');
  try {
    const v3 = join(dir, 'v3');
    await cp(V1, v3, { recursive: true });
    const meta = JSON.parse(await readFile(join(v3, 'meta.json'), 'utf8')) as { schema: number };
    await writeFile(join(v3, 'meta.json'), JSON.stringify({ ...meta, schema: 3 }));
    assert.throws(
      () => openRecording(v3),
      (e: unknown) => e instanceof RecordingFormatError && /schema version 3; this ElixirScope reads versions 1 to 2 only/.test(e.message),
    );
    await writeFile(join(v3, 'meta.json'), JSON.stringify(meta));
    const fh = await openFile(join(v3, 'events.esr'), 'r+');
    await fh.write(Buffer.from([3, 0, 0, 0]), 0, 4, 8);
    await fh.close();
    assert.throws(() => openRecording(v3), /format version 3; this ElixirScope reads versions 1 to 2 only/);

    // The kind column of the fixture's only block: set the AST bit on event 0 and fix the checksum,
    // so only the version rule can tell it is wrong.
    const bad = await withKindBytes(dir, 'v1-bit', 1, { 0: 0x81 });
    assert.deepEqual(opened(bad), { count: 0, interrupted: true }, 'v1: the AST bit is damage');
    const astCall = await withKindBytes(dir, 'v2-ast-call', 2, { 0: 0x81 });
    assert.deepEqual(opened(astCall), { count: 4, interrupted: false }, 'v2: an AST call');
    const rec = openRecording(astCall);
    assert.deepEqual([rec.event(0).kind, rec.event(0).source], ['call', 'ast']);
    rec.close();
    const astSend = await withKindBytes(dir, 'v2-ast-send', 2, { 1: 0x84 });
    assert.deepEqual(opened(astSend), { count: 0, interrupted: true }, 'v2: instrumented code sends no send events');
    const runtimeLine = await withKindBytes(dir, 'v2-runtime-line', 2, { 1: 19 });
    assert.deepEqual(opened(runtimeLine), { count: 0, interrupted: true }, 'v2: a line event is always from instrumented code');
  } finally {
    await removeDir(dir);
  }
});
