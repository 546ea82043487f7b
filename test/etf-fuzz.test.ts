/**
 * Fuzzing the decoder with a fixed seed (so a failure repeats): random bytes, and mutations of real
 * BEAM encodings (bit flips, truncations, length fields inflated, bytes inserted, deleted, replaced
 * by tags, splices of two encodings). Every case must either decode to a term — which must then
 * encode, and re-decode to the same canonical bytes — or throw an EtfError whose offset lies within
 * the input. Any other exception, a stack overflow or a hang fails the test.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, decodeBody, encode, EtfError } from '../src/erlang/etf/index.js';
import { generateBeamCorpus, Rng } from './support/etfCorpus.js';
import { haveErlang, makeTempDir, removeDir } from './support/erlScript.js';

const SEED = 0x5eed;
const MUTATION_CASES = 300_000;
const RANDOM_CASES = 100_000;

/** Bytes that are tags (and their neighbours), so that replacements reach every decoder branch. */
const TAGS = [70, 77, 80, 82, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 0, 255];

interface Outcome {
  decoded: number;
  errors: number;
  failures: string[];
}

function check(input: Buffer, what: string, out: Outcome): void {
  let term;
  try {
    term = input.length > 0 && input[0] === 131 ? decode(input) : decodeBody(input, 0).term;
  } catch (e) {
    if (!(e instanceof EtfError)) {
      out.failures.push(`${what}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} for ${hex(input)}`);
      return;
    }
    if (!(e.offset >= 0 && e.offset <= input.length)) {
      out.failures.push(`${what}: EtfError offset ${e.offset} outside 0..${input.length}: ${e.message}`);
      return;
    }
    out.errors++;
    return;
  }
  out.decoded++;
  try {
    const canonical = encode(term);
    const again = encode(decode(canonical));
    if (!again.equals(canonical)) out.failures.push(`${what}: re-encoding is not stable for ${hex(input)}`);
  } catch (e) {
    out.failures.push(`${what}: decoded but then ${(e as Error).message} for ${hex(input)}`);
  }
}

const hex = (b: Buffer): string => (b.length > 64 ? b.subarray(0, 64).toString('hex') + '…' : b.toString('hex'));

function mutate(r: Rng, seeds: Buffer[]): [Buffer, string] {
  const src = r.pick(seeds);
  const b = Buffer.from(src);
  const at = (): number => r.int(Math.max(1, b.length));
  switch (r.int(9)) {
    case 0: {
      const flips = r.range(1, 4);
      for (let i = 0; i < flips; i++) b[at()]! ^= 1 << r.int(8);
      return [b, 'bit flip'];
    }
    case 1:
      return [b.subarray(0, r.int(b.length)), 'truncation'];
    case 2: {
      // A length or count field made huge or slightly off.
      const p = at();
      const v = r.pick([0xffffffff, 0x7fffffff, 0x10000, 0xffff, b.length, b.length + 1, r.uint32()]);
      if (p + 4 <= b.length) b.writeUInt32BE(v >>> 0, p);
      else b[p] = 0xff;
      return [b, 'length inflation'];
    }
    case 3: {
      const p = at();
      return [Buffer.concat([b.subarray(0, p), r.bytes(r.range(1, 8)), b.subarray(p)]), 'insertion'];
    }
    case 4: {
      const p = at();
      return [Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + r.range(1, 8)))]), 'deletion'];
    }
    case 5:
      b[at()] = r.pick(TAGS);
      return [b, 'tag replacement'];
    case 6: {
      const other = r.pick(seeds);
      return [Buffer.concat([b.subarray(0, at()), other.subarray(r.int(other.length))]), 'splice'];
    }
    case 7: {
      const p = at();
      const v = r.pick([0, 1, 5, 6, 255, 254]);
      b[p] = v;
      return [b, 'small count'];
    }
    default: {
      for (let i = 0; i < 8; i++) b[at()] = r.int(256);
      return [b, 'byte noise'];
    }
  }
}

test('random bytes never crash the decoder', { timeout: 600_000 }, () => {
  const r = new Rng(SEED);
  const out: Outcome = { decoded: 0, errors: 0, failures: [] };
  for (let i = 0; i < RANDOM_CASES; i++) {
    const body = r.bytes(r.int(48));
    const input = r.int(4) === 0 ? body : Buffer.concat([Buffer.from([131, r.pick(TAGS)]), body]);
    check(input, `random case ${i}`, out);
  }
  assert.deepEqual(out.failures.slice(0, 10), [], `${out.failures.length} failure(s)`);
  assert.equal(out.decoded + out.errors, RANDOM_CASES);
});

test('mutations of real BEAM encodings decode or throw EtfError', { skip: haveErlang() ? false : 'erl not found', timeout: 900_000 }, async () => {
  const dir = await makeTempDir('etf-fuzz');
  let seeds: Buffer[];
  try {
    const corpus = await generateBeamCorpus(dir, SEED, 3000, false);
    seeds = corpus.records.flat().filter((b) => b.length <= 4096);
  } finally {
    await removeDir(dir);
  }
  assert.ok(seeds.length > 5000, `only ${seeds.length} seeds`);
  assert.ok(seeds.some((s) => s[1] === 80), 'compressed encodings are among the seeds');

  const r = new Rng(SEED + 1);
  const out: Outcome = { decoded: 0, errors: 0, failures: [] };
  const kinds = new Map<string, number>();
  for (let i = 0; i < MUTATION_CASES; i++) {
    const [input, kind] = mutate(r, seeds);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    check(input, `case ${i} (${kind})`, out);
  }
  assert.deepEqual(out.failures.slice(0, 10), [], `${out.failures.length} failure(s)`);
  assert.equal(out.decoded + out.errors, MUTATION_CASES);
  // Both outcomes must be common, or the mutations are not reaching the decoder's branches.
  assert.ok(out.decoded > MUTATION_CASES / 20, `only ${out.decoded} mutated inputs decoded`);
  assert.ok(out.errors > MUTATION_CASES / 4, `only ${out.errors} mutated inputs were refused`);
  assert.equal(kinds.size, 9);
});
