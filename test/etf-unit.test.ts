/**
 * Targeted cases for the ETF codec: each tag, the boundaries where the BEAM switches encodings, and
 * the error (code, offset, message) for each kind of malformed input. The bytes here are what OTP
 * writes (checked against a real node by etf-roundtrip.test.ts) or hand-built where OTP cannot
 * produce them (LOCAL_EXT, deprecated tags).
 */

import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import {
  decode,
  decodeAt,
  decodeBody,
  encode,
  encodeBody,
  EtfError,
  EtfWriter,
  type DecodeOptions,
  type EtfErrorCode,
} from '../src/erlang/etf/index.js';
import {
  Atom,
  atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  Fun,
  ImproperList,
  LocalTerm,
  Pid,
  Port,
  Reference,
  termEquals,
  Tuple,
  tuple,
  type EncodableTerm,
  type Term,
} from '../src/erlang/terms.js';

const B = (...bytes: number[]): Buffer => Buffer.from(bytes);
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const node = (name: string): number[] => [119, name.length, ...ascii(name)];

function expectError(bytes: Buffer, code: EtfErrorCode, offset: number, message?: RegExp, opts?: DecodeOptions): void {
  assert.throws(
    () => decode(bytes, opts),
    (e: unknown) => {
      assert.ok(e instanceof EtfError, `expected an EtfError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.equal(e.offset, offset, e.message);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

/** decode must give `expected` and encode must give the bytes back (for BEAM-canonical bytes). */
function roundTrip(bytes: Buffer, expected: Term, minorVersion: 1 | 2 = 2): void {
  const t = decode(bytes);
  assert.ok(termEquals(t, expected), `decoded ${String(t)}`);
  assert.deepEqual(encode(t, { minorVersion }), bytes);
}

describe('integers', () => {
  test('SMALL_INTEGER_EXT and INTEGER_EXT at their boundaries', () => {
    roundTrip(B(131, 97, 0), 0);
    roundTrip(B(131, 97, 255), 255);
    roundTrip(B(131, 98, 0, 0, 1, 0), 256);
    roundTrip(B(131, 98, 255, 255, 255, 255), -1);
    roundTrip(B(131, 98, 127, 255, 255, 255), 2147483647);
    roundTrip(B(131, 98, 128, 0, 0, 0), -2147483648);
  });

  test('bignums: numbers while safe, bigints beyond, both signs', () => {
    roundTrip(B(131, 110, 4, 0, 0, 0, 0, 128), 2147483648);
    roundTrip(B(131, 110, 4, 1, 1, 0, 0, 128), -2147483649);
    roundTrip(B(131, 110, 7, 0, 255, 255, 255, 255, 255, 255, 31), Number.MAX_SAFE_INTEGER);
    const t = decode(B(131, 110, 7, 0, 0, 0, 0, 0, 0, 0, 32));
    assert.equal(t, 2n ** 53n);
    assert.equal(typeof decode(B(131, 110, 7, 1, 255, 255, 255, 255, 255, 255, 31)), 'number');
    assert.equal(decode(B(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128)), -(2n ** 63n));
    const big = 3n ** 2000n;
    const enc = encode(big);
    assert.equal(enc[1], 111, 'LARGE_BIG_EXT past 255 bytes');
    assert.equal(decode(enc), big);
    assert.equal(decode(encode(-big)), -big);
  });

  test('non-canonical bignums decode to their value (as binary_to_term does)', () => {
    assert.equal(decode(B(131, 110, 0, 0)), 0);
    assert.ok(Object.is(decode(B(131, 110, 0, 1)), 0), 'negative zero bignum is 0, not -0');
    assert.equal(decode(B(131, 110, 2, 0, 5, 0)), 5);
    assert.equal(decode(B(131, 111, 0, 0, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 1);
  });

  test('encoding picks the tag the BEAM picks', () => {
    assert.deepEqual(encode(0), B(131, 97, 0));
    assert.deepEqual(encode(-0), B(131, 97, 0));
    assert.deepEqual(encode(256), B(131, 98, 0, 0, 1, 0));
    assert.deepEqual(encode(2 ** 32), B(131, 110, 5, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(encode(-(2 ** 40)), B(131, 110, 6, 1, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(encode(2n ** 32n), encode(2 ** 32));
    assert.deepEqual(encode(7n), B(131, 97, 7));
    assert.equal(decode(encode(1e21)), 1000000000000000000000n, 'an integral number beyond 2^53 is an integer');
  });
});

describe('floats', () => {
  test('NEW_FLOAT_EXT keeps 1.0 a float and -0.0 negative', () => {
    roundTrip(B(131, 70, 63, 240, 0, 0, 0, 0, 0, 0), new ErlFloat(1));
    const z = decode(B(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    assert.ok(z instanceof ErlFloat && Object.is(z.value, -0));
    assert.deepEqual(encode(z), B(131, 70, 128, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(encode(1.5), B(131, 70, 63, 248, 0, 0, 0, 0, 0, 0));
  });

  test('FLOAT_EXT (minor version 0) decodes', () => {
    const text = Buffer.alloc(31);
    text.write('1.50000000000000000000e+00', 'latin1');
    const t = decode(Buffer.concat([B(131, 99), text]));
    assert.ok(t instanceof ErlFloat && t.value === 1.5);
  });

  test('non-finite floats are refused both ways', () => {
    expectError(B(131, 70, 127, 240, 0, 0, 0, 0, 0, 0), 'BAD_VALUE', 1, /finite/);
    const text = Buffer.alloc(31);
    text.write('nan', 'latin1');
    expectError(Buffer.concat([B(131, 99), text]), 'BAD_VALUE', 1);
    assert.throws(() => encode(NaN), (e: unknown) => e instanceof EtfError && e.code === 'UNENCODABLE');
    assert.throws(() => encode(new ErlFloat(Infinity)), EtfError);
  });
});

describe('atoms', () => {
  test('every atom tag decodes; atoms are interned', () => {
    const ok = Atom.of('ok');
    assert.equal(decode(B(131, 100, 0, 2, 111, 107)), ok);
    assert.equal(decode(B(131, 115, 2, 111, 107)), ok);
    assert.equal(decode(B(131, 118, 0, 2, 111, 107)), ok);
    assert.equal(decode(B(131, 119, 2, 111, 107)), ok);
    assert.equal(decode(B(131, 100, 0, 1, 0xe9)), Atom.of('é'), 'ATOM_EXT is Latin-1');
    assert.equal(decode(B(131, 119, 2, 0xc3, 0xa9)), Atom.of('é'), 'SMALL_ATOM_UTF8_EXT is UTF-8');
  });

  test('minor version 1 writes ATOM_EXT for Latin-1 atoms, UTF-8 tags otherwise; 2 always UTF-8', () => {
    assert.deepEqual(encode(atom('ok'), { minorVersion: 1 }), B(131, 100, 0, 2, 111, 107));
    assert.deepEqual(encode(atom('é'), { minorVersion: 1 }), B(131, 100, 0, 1, 0xe9));
    assert.deepEqual(encode(atom('α'), { minorVersion: 1 }), B(131, 119, 2, 0xce, 0xb1));
    assert.deepEqual(encode(atom('é')), B(131, 119, 2, 0xc3, 0xa9));
    const long = atom('é'.repeat(255));
    const e = encode(long);
    assert.deepEqual([...e.subarray(0, 4)], [131, 118, 1, 254], 'ATOM_UTF8_EXT past 255 bytes');
    assert.equal(decode(e), long);
    assert.equal(decode(encode(atom(''))), atom(''));
  });

  test('atoms longer than 255 characters and invalid UTF-8 are refused', () => {
    expectError(Buffer.concat([B(131, 100, 1, 0), Buffer.alloc(256, 97)]), 'BAD_VALUE', 1, /256 characters/);
    expectError(B(131, 119, 2, 0xff, 0xff), 'BAD_VALUE', 1, /UTF-8/);
    expectError(B(131, 119, 2, 0xc3, 0x28), 'BAD_VALUE', 1, /UTF-8/);
    assert.equal(decode(B(131, 119, 3, 0xef, 0xbb, 0xbf)), atom('\ufeff'), 'a leading U+FEFF is part of the name');
    assert.throws(() => encode(atom('x'.repeat(256))), (e: unknown) => e instanceof EtfError && e.code === 'UNENCODABLE');
  });

  test('ATOM_CACHE_REF resolves through opts.atomCache', () => {
    const cache = [atom('zero'), undefined, atom('two')];
    assert.equal(decode(B(131, 82, 2), { atomCache: cache }), atom('two'));
    expectError(B(131, 82, 2), 'ATOM_CACHE', 1, /no atom cache/);
    expectError(B(131, 82, 1), 'ATOM_CACHE', 1, /no cached atom/, { atomCache: cache });
    const pid = decode(B(131, 88, 82, 0, ...u32(1), ...u32(2), ...u32(3)), { atomCache: cache });
    assert.ok(pid instanceof Pid && pid.node === atom('zero'));
  });
});

describe('lists, tuples, maps, binaries', () => {
  test('tuples small and large', () => {
    roundTrip(B(131, 104, 0), new Tuple([]));
    roundTrip(B(131, 104, 2, 119, 2, 111, 107, 97, 42), tuple(atom('ok'), 42));
    const large = new Tuple(Array.from({ length: 256 }, () => 1));
    const e = encode(large);
    assert.deepEqual([...e.subarray(0, 6)], [131, 105, 0, 0, 1, 0]);
    assert.ok(termEquals(decode(e), large));
  });

  test('STRING_EXT decodes to a charlist; byte lists encode to it below 65536 elements', () => {
    roundTrip(B(131, 107, 0, 2, 104, 105), [104, 105]);
    assert.equal(encode(Array(65535).fill(1))[1], 107);
    assert.equal(encode(Array(65536).fill(1))[1], 108);
    assert.equal(encode([1, 256])[1], 108);
    assert.equal(encode([1, -1])[1], 108);
    assert.equal(encode([1, 1.5])[1], 108);
    roundTrip(B(131, 106), []);
  });

  test('proper and improper lists', () => {
    roundTrip(B(131, 108, 0, 0, 0, 2, 119, 1, 97, 119, 1, 98, 106), [atom('a'), atom('b')]);
    const imp = decode(B(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3));
    assert.ok(imp instanceof ImproperList && termEquals(imp.elements, [1, 2]) && imp.tail === 3);
    assert.deepEqual(encode(imp), B(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3));
  });

  test('list tails that are lists continue the list, both ways', () => {
    // [a | "bc"]: not what the BEAM writes, but what it means is [a, $b, $c].
    assert.ok(termEquals(decode(B(131, 108, 0, 0, 0, 1, 119, 1, 97, 107, 0, 2, 98, 99)), [atom('a'), 98, 99]));
    assert.equal(decode(B(131, 108, 0, 0, 0, 0, 97, 7)), 7, 'a zero-length LIST_EXT is its tail');
    assert.deepEqual(encode(new ImproperList([1, 2], [3])), encode([1, 2, 3]));
    assert.deepEqual(encode(new ImproperList([1], new ImproperList([2], atom('t')))), encode(new ImproperList([1, 2], atom('t'))));
    assert.deepEqual(encode(new ImproperList([], atom('t'))), encode(atom('t')));
  });

  test('maps keep their entries in arrival order', () => {
    const bytes = B(131, 116, 0, 0, 0, 2, 119, 1, 98, 97, 2, 119, 1, 97, 97, 1);
    const m = decode(bytes);
    assert.ok(m instanceof ErlMap);
    assert.equal(m.entries[0]![0], atom('b'));
    assert.equal(m.getAtom('a'), 1);
    assert.deepEqual(encode(m), bytes);
    roundTrip(B(131, 116, 0, 0, 0, 0), new ErlMap([]));
  });

  test('binaries, JS strings and bitstrings', () => {
    roundTrip(B(131, 109, 0, 0, 0, 3, 1, 2, 3), B(1, 2, 3));
    assert.deepEqual(encode('é'), B(131, 109, 0, 0, 0, 2, 0xc3, 0xa9));
    assert.deepEqual(encode(true), B(131, 119, 4, 116, 114, 117, 101));
    roundTrip(B(131, 77, 0, 0, 0, 2, 3, 255, 224), new BitBinary(B(255, 224), 3));
    const masked = decode(B(131, 77, 0, 0, 0, 1, 3, 255));
    assert.ok(masked instanceof BitBinary && masked.bytes[0] === 224, 'unused low bits are cleared as the BEAM does');
    assert.ok(termEquals(decode(B(131, 77, 0, 0, 0, 1, 8, 7)), B(7)), '8 bits in the last byte is a binary');
    assert.ok(termEquals(decode(B(131, 77, 0, 0, 0, 0, 0)), B()), 'empty bitstring');
    expectError(B(131, 77, 0, 0, 0, 1, 0, 7), 'BAD_VALUE', 1, /BIT_BINARY_EXT/);
    expectError(B(131, 77, 0, 0, 0, 1, 9, 7), 'BAD_VALUE', 1);
  });

  test('binaries are copied unless zeroCopy is asked for', () => {
    const bytes = B(131, 109, 0, 0, 0, 3, 1, 2, 3);
    const copy = decode(bytes) as Buffer;
    const view = decode(bytes, { zeroCopy: true }) as Buffer;
    bytes[6] = 9;
    assert.equal(copy[0], 1);
    assert.equal(view[0], 9);
  });
});

describe('pids, ports, references, funs', () => {
  test('pids: NEW_PID_EXT, and PID_EXT re-encoded as NEW_PID_EXT', () => {
    const bytes = B(131, 88, ...node('a@b'), ...u32(0xffffffff), ...u32(7), ...u32(0xfffffffe));
    const p = decode(bytes);
    assert.ok(p instanceof Pid && p.id === 0xffffffff && p.serial === 7 && p.creation === 0xfffffffe);
    assert.deepEqual(encode(p), bytes);
    const old = decode(B(131, 103, ...node('a@b'), ...u32(1), ...u32(2), 3));
    assert.ok(old instanceof Pid && old.creation === 3);
    assert.deepEqual(encode(old), B(131, 88, ...node('a@b'), ...u32(1), ...u32(2), ...u32(3)));
    expectError(B(131, 88, 97, 1, ...u32(1), ...u32(2), ...u32(3)), 'BAD_TAG', 2, /expected an atom/);
  });

  test('ports: NEW_PORT_EXT up to 28-bit ids, V4_PORT_EXT beyond, PORT_EXT decoded', () => {
    const small = B(131, 89, ...node('a@b'), ...u32(0xfffffff), ...u32(9));
    const p = decode(small);
    assert.ok(p instanceof Port && p.id === 0xfffffffn && p.creation === 9);
    assert.deepEqual(encode(p), small);
    const v4 = B(131, 120, ...node('a@b'), ...u32(1), ...u32(0), ...u32(9));
    const q = decode(v4);
    assert.ok(q instanceof Port && q.id === 2n ** 32n);
    assert.deepEqual(encode(q), v4);
    assert.equal(encode(new Port(atom('a@b'), 0x10000000n, 1))[1], 120);
    const old = decode(B(131, 102, ...node('a@b'), ...u32(5), 2));
    assert.ok(old instanceof Port && old.id === 5n && old.creation === 2);
  });

  test('references: NEWER_REFERENCE_EXT, older forms decoded, at most 5 words', () => {
    const bytes = B(131, 90, 0, 5, ...node('a@b'), ...u32(1), ...u32(10), ...u32(11), ...u32(12), ...u32(13), ...u32(14));
    const r = decode(bytes);
    assert.ok(r instanceof Reference && r.ids.length === 5 && r.creation === 1);
    assert.deepEqual(encode(r), bytes);
    const newRef = decode(B(131, 114, 0, 3, ...node('a@b'), 2, ...u32(1), ...u32(2), ...u32(3)));
    assert.ok(newRef instanceof Reference && newRef.creation === 2 && termEquals([...newRef.ids], [1, 2, 3]));
    const oldRef = decode(B(131, 101, ...node('a@b'), ...u32(9), 1));
    assert.ok(oldRef instanceof Reference && oldRef.ids[0] === 9);
    expectError(B(131, 90, 0, 6, ...node('a@b'), ...u32(1), ...Array(24).fill(0)), 'BAD_LENGTH', 1, /at most 5/);
    assert.throws(() => encode(new Reference(atom('a@b'), 1, [1, 2, 3, 4, 5, 6])), EtfError);
  });

  test('NEW_FUN_EXT as OTP writes it, and its Size is checked', () => {
    // term_to_binary(fun(Y) -> X + Y end) from OTP 25 (X folded to a constant by the compiler).
    const bytes = B(
      131, 112, 0, 0, 0, 70, 1, 244, 177, 128, 164, 167, 173, 234, 129, 197, 53, 233, 175, 79, 184, 144, 135,
      0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 2, 116, 49, 97, 0, 98, 7, 165, 140, 5, 88, 100, 0, 13,
      ...ascii('nonode@nohost'), 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
    );
    const f = decode(bytes);
    assert.ok(f instanceof Fun && f.arity === 1 && f.module === atom('t1') && f.oldUniq === 0x07a58c05 && f.freeVars.length === 0);
    assert.deepEqual(encode(f, { minorVersion: 1 }), bytes);
    const withVars = new Fun(2, Buffer.alloc(16, 1), 3, atom('m'), 3, -5, f.pid, [atom('x'), [1, 2], new Tuple([])]);
    const e = encode(withVars);
    assert.equal(e.readUInt32BE(2), e.length - 2, 'Size counts itself and everything after it');
    assert.ok(termEquals(decode(e), withVars));
    const bad = Buffer.from(bytes);
    bad.writeUInt32BE(69, 2);
    expectError(bad, 'BAD_LENGTH', 1, /Size/);
    expectError(B(131, 117, 0, 0, 0, 0), 'BAD_TAG', 1, /FUN_EXT/);
  });

  test('EXPORT_EXT', () => {
    const bytes = B(131, 113, 119, 5, ...ascii('lists'), 119, 3, ...ascii('map'), 97, 2);
    const e = decode(bytes);
    assert.ok(e instanceof ExportFun && e.module === atom('lists') && e.fun === atom('map') && e.arity === 2);
    assert.deepEqual(encode(e), bytes);
  });
});

describe('LOCAL_EXT and compression', () => {
  // term_to_binary(T, [local]) on OTP 26+: 131, 121, a hash, then a node-local encoding.
  const local = B(131, 121, 0xde, 0xad, 0xbe, 0xef, 104, 1, 88, ...node('a@b'), ...u32(1), ...u32(2), ...u32(3));

  test('LOCAL_EXT is kept opaque to the end of the input and re-encoded exactly', () => {
    const t = decode(local);
    assert.ok(t instanceof LocalTerm);
    assert.deepEqual(t.bytes, local.subarray(2));
    assert.deepEqual(encode(t), local);
    assert.equal(decodeAt(local, 0).end, local.length);
    assert.deepEqual(encodeBody(t), local.subarray(1));
  });

  test('LOCAL_EXT inside a term is refused; a LocalTerm cannot be nested by the encoder', () => {
    expectError(B(131, 104, 1, 121, 0), 'BAD_TAG', 3, /LOCAL_EXT/);
    assert.throws(() => encode(new Tuple([new LocalTerm(B(1))])), (e: unknown) => e instanceof EtfError && e.code === 'UNENCODABLE');
  });

  test('a compressed LOCAL_EXT', () => {
    const body = local.subarray(1);
    const bytes = Buffer.concat([B(131, 80, ...u32(body.length)), deflateSync(body)]);
    const t = decode(bytes);
    assert.ok(t instanceof LocalTerm && t.bytes.equals(local.subarray(2)));
  });

  test('compressed terms: as term_to_binary(T, [compressed]), only when it saves bytes', () => {
    const list = Array(20).fill(atom('a'));
    const bytes = B(131, 80, 0, 0, 0, 86, 120, 156, 203, 97, 96, 96, 16, 73, 97, 96, 76, 164, 38, 206, 2, 0, 173, 210, 16, 99);
    assert.ok(termEquals(decode(bytes), list));
    assert.deepEqual(encode(decode(bytes), { minorVersion: 1, compressed: true }), bytes);
    assert.deepEqual(encode(atom('a'), { compressed: true }), encode(atom('a')), 'tiny terms stay uncompressed');
    assert.deepEqual(encode(list, { compressed: 0 }), encode(list));
    assert.throws(() => encode(1, { compressed: 10 }), RangeError);
    const withTrailer = Buffer.concat([bytes, B(131, 97, 1)]);
    const first = decodeAt(withTrailer, 0);
    assert.equal(first.end, bytes.length);
    assert.equal(decodeAt(withTrailer, first.end).term, 1);
  });

  test('compressed size lies, corrupt data and the size cap are errors', () => {
    const body = encodeBody(Array(100).fill(atom('abc')));
    const z = deflateSync(body);
    const mk = (size: number): Buffer => Buffer.concat([B(131, 80, ...u32(size)), z]);
    expectError(mk(body.length - 1), 'BAD_ZLIB', 1, /more than the declared/);
    expectError(mk(body.length + 1), 'BAD_ZLIB', 1, /inflates to/);
    expectError(mk(body.length), 'TOO_LARGE', 1, /maxCompressedSize/, { maxCompressedSize: 100 });
    expectError(mk(0), 'BAD_LENGTH', 1);
    const corrupt = mk(body.length);
    corrupt[8] ^= 0xff;
    expectError(corrupt, 'BAD_ZLIB', 6, /zlib/);
    expectError(Buffer.concat([B(131, 80, ...u32(3)), deflateSync(B(104, 1))]), 'BAD_ZLIB', 1);
    expectError(Buffer.concat([B(131, 80, ...u32(3)), deflateSync(B(104, 1, 200))]), 'BAD_TAG', 1, /inflated byte 2/);
    expectError(B(131, 104, 1, 80, 0, 0, 0, 1), 'BAD_TAG', 3, /COMPRESSED/);
  });
});

describe('malformed input', () => {
  test('version byte, empty input and trailing bytes', () => {
    expectError(B(), 'TRUNCATED', 0);
    expectError(B(130, 97, 1), 'BAD_VERSION', 0, /131/);
    expectError(B(131), 'TRUNCATED', 1);
    expectError(B(131, 97, 1, 0), 'TRAILING_BYTES', 3, /1 byte/);
  });

  test('truncation is reported at the term that is cut', () => {
    expectError(B(131, 104, 2, 97, 1, 98, 0, 0), 'TRUNCATED', 5, /INTEGER_EXT/);
    expectError(B(131, 104, 2, 97, 1), 'TRUNCATED', 5);
    expectError(B(131, 104, 3, 97, 1), 'BAD_LENGTH', 1, /claims 3/);
    expectError(B(131, 109, 0, 0, 0, 5, 1, 2), 'TRUNCATED', 1, /BINARY_EXT/);
    expectError(B(131, 119, 5, 97), 'TRUNCATED', 1);
    expectError(B(131, 88, 119, 3, 97, 64, 98, 0, 0), 'TRUNCATED', 1, /NEW_PID_EXT/);
  });

  test('absurd counts are refused before anything is allocated', () => {
    expectError(B(131, 105, 255, 255, 255, 255, 97, 1), 'BAD_LENGTH', 1, /4294967295 element/);
    expectError(B(131, 108, 255, 255, 255, 255, 106), 'BAD_LENGTH', 1);
    expectError(B(131, 116, 255, 255, 255, 255, 106), 'BAD_LENGTH', 1);
    expectError(B(131, 111, 255, 255, 255, 255, 0, 1), 'TRUNCATED', 1);
    // Nested containers cannot each claim all the remaining bytes.
    const nested: number[] = [131];
    for (let i = 0; i < 1000; i++) nested.push(105, 0, 0, 3, 232);
    nested.push(...Array(500).fill(106));
    expectError(Buffer.from(nested), 'BAD_LENGTH', 26, /claims 1000/); // the 6th level: 5 × 1000 slots fill the input
  });

  test('unknown tags and tags that cannot appear inside a term', () => {
    expectError(B(131, 104, 1, 200), 'BAD_TAG', 3, /unknown tag 200/);
    expectError(B(131, 68, 0), 'BAD_TAG', 1, /distribution/);
  });

  test('nesting: a million levels decode and encode without recursion; maxDepth bounds it', () => {
    const depth = 1_000_000;
    const bytes = Buffer.alloc(1 + depth * 6 + 1);
    bytes[0] = 131;
    for (let i = 0; i < depth; i++) bytes.set([108, 0, 0, 0, 1], 1 + i * 5);
    bytes.fill(106, 1 + depth * 5);
    const t = decode(bytes);
    let d = 0;
    for (let cur: Term = t; Array.isArray(cur) && cur.length === 1; cur = cur[0]!) d++;
    assert.equal(d, depth);
    assert.deepEqual(encode(t), bytes);
    expectError(bytes, 'TOO_DEEP', 1 + 100 * 5, /maxDepth 100/, { maxDepth: 100 });
  });
});

describe('API', () => {
  test('decodeAt and decodeBody walk several terms in one buffer', () => {
    const buf = Buffer.concat([encode(1), encode(atom('x')), encodeBody(tuple(2))]);
    const a = decodeAt(buf, 0);
    const b = decodeAt(buf, a.end);
    const c = decodeBody(buf, b.end);
    assert.equal(a.term, 1);
    assert.equal(b.term, atom('x'));
    assert.ok(termEquals(c.term, tuple(2)));
    assert.equal(c.end, buf.length);
    assert.throws(() => decodeAt(buf, buf.length + 1), RangeError);
    assert.equal(decode(new Uint8Array([131, 97, 5])), 5, 'a plain Uint8Array is accepted');
  });

  test('EtfWriter frames two terms with a patched length', () => {
    const w = new EtfWriter({ initialSize: 16 });
    const lenAt = w.length;
    w.writeUInt32BE(0).writeUInt8(112).writeVersion().writeTerm(tuple(6, atom('ctrl'))).writeVersion().writeTerm('payload'.repeat(50));
    w.patchUInt32BE(lenAt, w.length - 4);
    const out = w.toBuffer();
    assert.equal(out.readUInt32BE(0), out.length - 4);
    const first = decodeAt(out, 5);
    assert.ok(termEquals(first.term, tuple(6, atom('ctrl'))));
    assert.deepEqual(decodeAt(out, first.end).term, Buffer.from('payload'.repeat(50)));
    w.reset().writeAtom(atom('a'));
    assert.deepEqual(w.toBuffer(), B(119, 1, 97));
    assert.deepEqual(out.readUInt32BE(0), out.length - 4, 'views from before reset() stay valid');
  });

  test('values without an ETF form are UNENCODABLE', () => {
    for (const v of [null, undefined, {}, Symbol('s'), () => 1] as unknown as EncodableTerm[]) {
      assert.throws(() => encode(v), (e: unknown) => e instanceof EtfError && e.code === 'UNENCODABLE');
    }
    assert.throws(() => encode(new Pid(atom('a@b'), -1, 0, 0)), EtfError);
    assert.throws(() => encode(new ExportFun(atom('m'), atom('f'), 256)), EtfError);
  });
});
