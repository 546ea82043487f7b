/**
 * skipTerm against the full decoder: on every uncompressed term of the BEAM corpus (and on every
 * element inside each, found by walking with skipTerm), skipTerm must end exactly where decodeAt
 * ends. On mutated inputs it must end where decodeBody ends whenever decodeBody succeeds, and
 * otherwise either end within the input or throw an EtfError with an offset within the input —
 * never another exception. Plus the EtfCursor header reads (int64 boundaries, atoms, pids).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAt, decodeBody, encode, EtfCursor, EtfError, skipTerm, type SplitInt } from '../src/erlang/etf/index.js';
import { Atom, Pid } from '../src/erlang/terms.js';
import { crc32, crc32Table } from '../src/store/crc32.js';
import { generateBeamCorpus, Rng } from './support/etfCorpus.js';
import { haveErlang, makeTempDir, removeDir } from './support/erlScript.js';

let corpus: Buffer[] | undefined;
async function seeds(): Promise<Buffer[]> {
  if (corpus !== undefined) return corpus;
  const dir = await makeTempDir('skip-corpus');
  try {
    const c = await generateBeamCorpus(dir, 0x5c1b, 3000, true);
    // Compressed encodings need inflating; skipTerm is for the bytes inside.
    corpus = c.records.flat().filter((b) => b[1] !== 80);
  } finally {
    await removeDir(dir);
  }
  return corpus;
}

test('skipTerm ends where decodeAt ends, on every BEAM-written term', { skip: haveErlang() ? false : 'erl not found', timeout: 600_000 }, async () => {
  const all = await seeds();
  assert.ok(all.length > 5000);
  for (const b of all) {
    const { end } = decodeAt(b, 0);
    assert.equal(skipTerm(b, 1), end);
    assert.equal(end, b.length);
  }
});

test('skipTerm on mutated BEAM terms agrees with decodeBody or throws EtfError', { skip: haveErlang() ? false : 'erl not found', timeout: 600_000 }, async () => {
  const all = (await seeds()).filter((b) => b.length <= 4096);
  const r = new Rng(0xabc);
  let agreed = 0;
  let refused = 0;
  const failures: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const b = Buffer.from(r.pick(all));
    switch (r.int(5)) {
      case 0:
        for (let k = r.range(1, 3); k > 0; k--) b[r.int(b.length)]! ^= 1 << r.int(8);
        break;
      case 1: {
        const cut = b.subarray(0, r.int(b.length));
        b.fill(0);
        cut.copy(b);
        break;
      }
      case 2: {
        const p = r.int(b.length);
        if (p + 4 <= b.length) b.writeUInt32BE(r.pick([0xffffffff, 0x7fffffff, b.length, r.uint32()]) >>> 0, p);
        break;
      }
      case 3:
        b[r.int(b.length)] = r.pick([70, 77, 82, 88, 97, 98, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 116, 118, 119, 0]);
        break;
      default:
        b[r.int(b.length)] = r.int(256);
    }
    const input = r.int(3) === 0 ? b.subarray(0, 1 + r.int(b.length)) : b;
    // At the top, COMPRESSED and LOCAL_EXT are the caller's to handle (skip.ts says why).
    if (input[1] === 80 || input[1] === 121) continue;
    let want: number | null = null;
    try {
      want = decodeBody(input, 1).end;
    } catch (e) {
      if (!(e instanceof EtfError)) throw e;
    }
    try {
      const got = skipTerm(input, 1);
      if (want !== null && got !== want) failures.push(`case ${i}: skip ${got}, decode ${want}: ${input.toString('hex').slice(0, 80)}`);
      if (got > input.length) failures.push(`case ${i}: end ${got} past the input`);
      agreed++;
    } catch (e) {
      if (!(e instanceof EtfError)) failures.push(`case ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      else if (want !== null) failures.push(`case ${i}: decode succeeded but skip threw ${e.message}`);
      else if (!(e.offset >= 0 && e.offset <= input.length)) failures.push(`case ${i}: offset ${e.offset} outside the input`);
      refused++;
    }
  }
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failure(s)`);
  assert.ok(agreed > 10_000 && refused > 10_000, `agreed ${agreed}, refused ${refused}`);
});

test('skipTerm is iterative (a list nested a million deep) and refuses what it cannot size', () => {
  const depth = 1_000_000;
  // [[[...[]...]]]: each LIST_EXT of one element holds the next list; then all the NIL tails.
  const parts: number[] = [];
  for (let i = 0; i < depth; i++) parts.push(108, 0, 0, 0, 1);
  parts.push(106);
  for (let i = 0; i < depth; i++) parts.push(106);
  const deep = Buffer.from(parts);
  assert.equal(skipTerm(deep, 0), deep.length);
  assert.throws(() => skipTerm(Buffer.from([80, 0, 0, 0, 1]), 0), (e: unknown) => e instanceof EtfError && e.code === 'BAD_TAG');
  assert.throws(() => skipTerm(Buffer.from([108, 0xff, 0xff, 0xff, 0xff, 106]), 0), (e: unknown) => e instanceof EtfError && e.code === 'BAD_LENGTH');
  assert.throws(() => skipTerm(Buffer.from([109, 0, 0, 0, 9, 1]), 0), (e: unknown) => e instanceof EtfError && e.code === 'TRUNCATED' && e.offset === 0);
  assert.throws(() => skipTerm(Buffer.from([104, 2, 97]), 0), (e: unknown) => e instanceof EtfError && e.offset <= 3);
});

test('EtfCursor reads int64s exactly, atoms and pids', () => {
  const values = [0n, 1n, 255n, 256n, -1n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 32n, 2n ** 40n + 7n, -(2n ** 63n), 2n ** 63n - 1n, -576460752303423488n, -576460751234567890n];
  const out: SplitInt = { hi: 0, lo: 0 };
  for (const v of values) {
    const b = encode(v);
    const c = new EtfCursor(b);
    c.pos = 1;
    c.int64(out);
    assert.equal((BigInt(out.hi) << 32n) + BigInt(out.lo), v, `int64 ${v}`);
    assert.equal(c.pos, b.length);
  }
  const tooBig = encode(2n ** 64n);
  const c = new EtfCursor(tooBig);
  c.pos = 1;
  assert.throws(() => c.int64(out), EtfError);

  const pid = new Pid(Atom.of('shop@vm'), 85, 0, 1700000000);
  const t = encode([Atom.of('hello_world'), pid, Atom.of('ünïcode')]);
  const k = new EtfCursor(t);
  k.pos = 1;
  assert.equal(k.listLength(), 3);
  k.pos = 6;
  assert.equal(k.atomText(), 'hello_world');
  assert.ok(k.atPid());
  const pe = k.pidEnd();
  assert.ok((decodeBody(t, k.pos).term as Pid).key === pid.key && decodeBody(t, k.pos).end === pe);
  k.pos = pe;
  assert.equal(k.atomText(), 'ünïcode');
});

test('crc32: the table version equals the native one and the check value', () => {
  assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  const r = new Rng(7);
  for (let i = 0; i < 200; i++) {
    const b = r.bytes(r.int(300));
    const s = r.int(b.length + 1);
    assert.equal(crc32Table(b, s), crc32(b, s));
    assert.equal(crc32Table(b, s, b.length, crc32Table(b, 0, s)), crc32Table(b));
  }
});
