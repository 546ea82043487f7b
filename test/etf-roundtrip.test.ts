/**
 * The ETF codec against a real BEAM, both ways:
 *
 * 1. BEAM → us: an Erlang program writes term_to_binary of 20,000+ random terms (and hand-picked
 *    boundaries and deep nesting) with four option sets; decode → encode must give the same bytes.
 * 2. us → BEAM: terms built here (with the JavaScript conveniences: strings, booleans, non-integral
 *    numbers, bigints) are encoded, and Erlang checks binary_to_term(Bytes) =:= the term it builds
 *    from an independent rendering of the same term as Erlang source; where the BEAM writes the term
 *    the same way (no map of two or more entries, whose order is the BEAM's), it also checks that
 *    term_to_binary gives exactly our bytes.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode, type EncodeOptions } from '../src/erlang/etf/index.js';
import {
  Atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  ImproperList,
  Pid,
  Port,
  Reference,
  Tuple,
  type EncodableTerm,
} from '../src/erlang/terms.js';
import { ENCODINGS, generateBeamCorpus, Rng, type BeamCorpus } from './support/etfCorpus.js';
import { haveErlang, joinRecords, makeTempDir, removeDir, runErlScript } from './support/erlScript.js';

const BEAM = haveErlang();
const RANDOM_TERMS = 20_000;

describe('ETF round trip with a real BEAM', { skip: BEAM ? false : 'erl not found' }, () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('etf-roundtrip');
  });
  after(async () => {
    await removeDir(dir);
  });

  test(`decode → encode gives back the BEAM's bytes for ${RANDOM_TERMS} random terms and the specials`, async () => {
    const corpus: BeamCorpus = await generateBeamCorpus(dir, 20240601, RANDOM_TERMS, true);
    assert.ok(corpus.records.length >= RANDOM_TERMS, `only ${corpus.records.length} terms were generated`);
    const failures: string[] = [];
    let checked = 0;
    for (let i = 0; i < corpus.records.length; i++) {
      const recs = corpus.records[i]!;
      // Every encoding of a term must decode to the same term: compare through one canonical form.
      let canonical: Buffer | undefined;
      for (let k = 0; k < ENCODINGS.length; k++) {
        const bytes = recs[k]!;
        const what = `term ${i}${i < corpus.specials ? ' (special)' : ''}, term_to_binary(T, ${ENCODINGS[k]!.erlang})`;
        try {
          const term = decode(bytes);
          const again = encode(term, ENCODINGS[k]!.ts);
          checked++;
          if (!again.equals(bytes)) failures.push(`${what}: ${firstDifference(bytes, again)}`);
          const canon = encode(term);
          if (canonical === undefined) canonical = canon;
          else if (!canon.equals(canonical)) failures.push(`${what}: decodes to a different term than encoding 0`);
        } catch (e) {
          failures.push(`${what}: ${(e as Error).message}`);
        }
      }
    }
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failure(s) of ${checked}`);
    assert.equal(checked, corpus.records.length * ENCODINGS.length);
  });

  test('terms built in TypeScript decode on the BEAM to the expected terms (=:=, and the same bytes)', async () => {
    const rng = new Rng(0xe7f);
    const records: Buffer[] = [];
    let cases = 0;
    const add = (term: EncodableTerm, source: string, opts: EncodeOptions, exact: boolean): void => {
      const level = opts.compressed === true ? 6 : typeof opts.compressed === 'number' ? opts.compressed : 0;
      records.push(encode(term, opts), Buffer.from(source + '.', 'utf8'), Buffer.from([exact ? 1 : 0, opts.minorVersion ?? 2, level]));
      cases++;
    };
    for (const [term, source] of handPicked()) {
      // The deep list is too deep for the recursive exactlyAsBeam; it has no map.
      const exact = source.startsWith('etf_check:deep_list') || exactlyAsBeam(term);
      add(term, source, { minorVersion: 2 }, exact);
      add(term, source, { minorVersion: 1 }, exact);
    }
    for (let i = 0; i < 6000; i++) {
      const term = genTs(rng, rng.int(5));
      const source = toErlang(term);
      const exact = exactlyAsBeam(term);
      add(term, source, { minorVersion: 2 }, exact);
      add(term, source, rng.pick<EncodeOptions>([{ minorVersion: 1 }, { compressed: true }, { minorVersion: 1, compressed: 1 }]), exact);
    }
    await writeFile(join(dir, 'ts_terms.bin'), joinRecords(records));
    const run = await runErlScript(CHECKER, [dir]);
    const m = /CHECKED (\d+) MISMATCHES (\d+)/.exec(run.stdout);
    assert.ok(m, `checker printed no summary:\n${run.stdout}\n${run.stderr}`);
    assert.equal(Number(m[1]), cases, 'the checker saw every case');
    assert.equal(Number(m[2]), 0, `the BEAM disagrees:\n${run.stdout}`);
  });
});

test('the BEAM corpus is what the test needs (sanity of the generator output)', { skip: BEAM ? false : 'erl not found' }, async () => {
  const dir = await makeTempDir('etf-corpus');
  try {
    const corpus = await generateBeamCorpus(dir, 1, 50, false);
    assert.equal(corpus.specials, 0);
    assert.equal(corpus.records.length, 50);
    for (const recs of corpus.records) assert.equal(recs[0]![0], 131);
    const raw = await readFile(join(dir, 'beam_terms.bin'));
    assert.ok(raw.length > 0);
  } finally {
    await removeDir(dir);
  }
});

// ------------------------------------------------------------------------------------------------
// Rendering a term as Erlang source (independent of the encoder)
// ------------------------------------------------------------------------------------------------

function toErlang(t: EncodableTerm): string {
  if (typeof t === 'number') return Number.isInteger(t) ? BigInt(t).toString() : erlFloat(t);
  if (typeof t === 'bigint') return t.toString();
  if (typeof t === 'boolean') return String(t);
  if (typeof t === 'string') return binLiteral(Buffer.from(t, 'utf8'));
  if (t instanceof ErlFloat) return erlFloat(t.value);
  if (t instanceof Atom) return erlAtom(t.name);
  if (Array.isArray(t)) return `[${t.map(toErlang).join(', ')}]`;
  if (t instanceof Tuple) return `{${t.elements.map(toErlang).join(', ')}}`;
  if (t instanceof ImproperList) return `[${t.elements.map(toErlang).join(', ')} | ${toErlang(t.tail)}]`;
  if (Buffer.isBuffer(t)) return binLiteral(t);
  if (t instanceof BitBinary) {
    const whole = [...t.bytes.subarray(0, t.bytes.length - 1)].map(String);
    whole.push(`${t.bytes[t.bytes.length - 1]! >> (8 - t.bits)}:${t.bits}`);
    return `<<${whole.join(', ')}>>`;
  }
  if (t instanceof ErlMap) return `#{${t.entries.map(([k, v]) => `${toErlang(k)} => ${toErlang(v)}`).join(', ')}}`;
  if (t instanceof Pid) return `etf_check:pid(${erlAtom(t.node.name)}, ${t.id}, ${t.serial}, ${t.creation})`;
  if (t instanceof Port) return `etf_check:port(${erlAtom(t.node.name)}, ${t.id}, ${t.creation})`;
  if (t instanceof Reference) return `etf_check:ref(${erlAtom(t.node.name)}, ${t.creation}, [${t.ids.join(', ')}])`;
  if (t instanceof ExportFun) return `fun ${erlAtom(t.module.name)}:${erlAtom(t.fun.name)}/${t.arity}`;
  throw new Error(`toErlang: cannot render ${String(t)}`);
}

function erlFloat(v: number): string {
  if (Object.is(v, -0)) return '-0.0';
  const s = v.toExponential(); // shortest digits that give back v
  const [mant, exp] = s.split('e') as [string, string];
  return `${mant.includes('.') ? mant : mant + '.0'}e${exp}`;
}

function erlAtom(name: string): string {
  let out = "'";
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (ch === "'" || ch === '\\') out += '\\' + ch;
    else if (cp < 32 || cp === 127) out += `\\x{${cp.toString(16)}}`;
    else out += ch;
  }
  return out + "'";
}

const binLiteral = (b: Uint8Array): string => `<<${[...b].join(', ')}>>`;

/** Whether term_to_binary writes the term exactly as we do: only map order can differ. */
function exactlyAsBeam(t: EncodableTerm): boolean {
  if (t instanceof ErlMap) return t.entries.length < 2 && t.entries.every(([k, v]) => exactlyAsBeam(k) && exactlyAsBeam(v));
  if (Array.isArray(t)) return t.every(exactlyAsBeam);
  if (t instanceof Tuple) return t.elements.every(exactlyAsBeam);
  if (t instanceof ImproperList) return t.elements.every(exactlyAsBeam) && exactlyAsBeam(t.tail);
  return true;
}

// ------------------------------------------------------------------------------------------------
// Terms built in TypeScript
// ------------------------------------------------------------------------------------------------

function handPicked(): Array<[EncodableTerm, string]> {
  const deep: EncodableTerm[] = [];
  let cur = deep;
  for (let i = 0; i < 100_000; i++) {
    const next: EncodableTerm[] = [];
    cur.push(next);
    cur = next;
  }
  const cases: Array<[EncodableTerm, string]> = [
    [deep, 'etf_check:deep_list(100000)'],
    ['héllo wörld ✓ 😀', binLiteral(Buffer.from('héllo wörld ✓ 😀'))],
    ['', '<<>>'],
    [true, 'true'],
    [false, 'false'],
    [1.5, '1.5'],
    [-0, '0'],
    [1e21, '1000000000000000000000'],
    [2 ** 53 + 2, '9007199254740994'],
    [0.1 + 0.2, erlFloat(0.1 + 0.2)],
    [Number.MIN_VALUE, '5.0e-324'],
    [Number.MAX_VALUE, BigInt(Number.MAX_VALUE).toString()], // integral, so an integer
    [new ErlFloat(1), '1.0'],
    [new ErlFloat(-0), '-0.0'],
    [2n ** 64n, '18446744073709551616'],
    [-(2n ** 64n), '-18446744073709551616'],
    [7n, '7'],
    [2n ** 2040n, (2n ** 2040n).toString()],
    [-(3n ** 5000n), (-(3n ** 5000n)).toString()],
    [new ImproperList([1, 2], [3, 4]), '[1, 2, 3, 4]'],
    [new ImproperList([1], new ImproperList([2], 3)), '[1, 2 | 3]'],
    [new ImproperList([], Atom.of('x')), 'x'],
    [Array.from({ length: 65535 }, (_, i) => i & 255), `lists:sublist(lists:append(lists:duplicate(256, lists:seq(0, 255))), 65535)`],
    [Array.from({ length: 65536 }, () => 1), 'lists:duplicate(65536, 1)'],
    [new Tuple(Array.from({ length: 256 }, (_, i) => i)), 'list_to_tuple(lists:seq(0, 255))'],
    [Atom.of('a'.repeat(255)), `list_to_atom(lists:duplicate(255, $a))`],
    [Atom.of('é'.repeat(255)), `list_to_atom(lists:duplicate(255, 233))`],
    [Atom.of('😀'.repeat(255)), `list_to_atom(lists:duplicate(255, 16#1F600))`],
    [new Port(Atom.of('n@h'), 0xfffffffn, 1), "etf_check:port('n@h', 268435455, 1)"],
    [new Port(Atom.of('n@h'), 0x10000000n, 1), "etf_check:port('n@h', 268435456, 1)"],
    [new Reference(Atom.of('n@h'), 0xffffffff, [1, 2, 3, 4, 5]), "etf_check:ref('n@h', 4294967295, [1, 2, 3, 4, 5])"],
    [new Reference(Atom.of('n@h'), 7, [1]), "etf_check:ref('n@h', 7, [1])"],
    [new ErlMap([[Atom.of('__struct__'), Atom.of('Elixir.S')], [Atom.of('a'), 1]]), "#{'__struct__' => 'Elixir.S', a => 1}"],
  ];
  return cases;
}

const NODES = ['a@b', 'nonode@nohost', 'nødé@høst', 'α@β', 'x'.repeat(200) + '@h'];

function genAtomName(r: Rng): string {
  const n = r.pick([0, 1, 3, 8, 20, 255]);
  const [lo, hi] = r.pick<[number, number]>([
    [97, 122],
    [32, 126],
    [128, 255],
    [0x370, 0x3ff],
    [0x4e00, 0x9fff],
    [0x1f600, 0x1f64f],
  ]);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCodePoint(r.range(lo, hi));
  return s;
}

function genString(r: Rng): string {
  const n = r.int(30);
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = r.pick<[number, number]>([
      [32, 126],
      [0, 31],
      [0xa0, 0x7ff],
      [0x800, 0xd7ff],
      [0xe000, 0xffff],
      [0x10000, 0x10ffff],
    ]);
    s += String.fromCodePoint(r.range(lo, hi));
  }
  return s;
}

function genBig(r: Rng): bigint {
  const digits = r.pick([15, 17, 19, 20, 40, 100, 600, 2000]);
  let hex = '';
  for (let i = 0; i < digits; i++) hex += '0123456789abcdef'[r.int(16)];
  const v = BigInt('0x1' + hex);
  return r.int(2) === 0 ? v : -v;
}

function genLeaf(r: Rng): EncodableTerm {
  switch (r.int(20)) {
    case 0:
      return r.int(256);
    case 1:
      return r.pick([255, 256, -1, 2147483647, 2147483648, -2147483648, -2147483649, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40]);
    case 2:
      return (r.next() - 0.5) * 10 ** r.range(-300, 300);
    case 3:
      return r.pick([0.5, -2.5, 1e-7, 123.456, Number.EPSILON]);
    case 4:
      return genBig(r);
    case 5:
      return new ErlFloat(r.pick([0, -0, 1, -1, 1e300, 5e-324, r.next()]));
    case 6:
    case 7:
      return Atom.of(genAtomName(r));
    case 8:
      return r.int(2) === 0;
    case 9:
      return genString(r);
    case 10:
      return r.bytes(r.int(40));
    case 11: {
      const bits = r.range(1, 7);
      const bytes = r.bytes(r.range(1, 10));
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! & (0xff00 >> bits);
      return new BitBinary(bytes, bits);
    }
    case 12:
      return Array.from({ length: r.int(40) }, () => r.int(256));
    case 13:
      return Array.from({ length: r.range(1, 10) }, () => r.range(-1000, 5000));
    case 14:
      return new Pid(Atom.of(r.pick(NODES)), r.uint32(), r.uint32(), r.uint32());
    case 15:
      return new Port(Atom.of(r.pick(NODES)), r.int(2) === 0 ? BigInt(r.uint32()) : (BigInt(r.uint32()) << 32n) | BigInt(r.uint32()), r.uint32());
    case 16:
      // 3 to 5 words as the BEAM makes them (1- and 2-word references, from REFERENCE_EXT days,
      // hash inconsistently as map keys on OTP 25 itself).
      return new Reference(Atom.of(r.pick(NODES)), r.uint32(), Array.from({ length: r.range(3, 5) }, () => r.uint32()));
    case 17:
      return new ExportFun(Atom.of(genAtomName(r)), Atom.of(genAtomName(r)), r.int(256));
    case 18:
      return [];
    default:
      return r.range(-100000, 100000);
  }
}

function genTs(r: Rng, depth: number): EncodableTerm {
  if (depth === 0 || r.int(3) === 0) return genLeaf(r);
  const sub = (): EncodableTerm => genTs(r, depth - 1);
  switch (r.int(9)) {
    case 0:
      return new Tuple(Array.from({ length: r.int(5) }, sub) as Tuple['elements']);
    case 1:
      return Array.from({ length: r.int(6) }, sub);
    case 2: {
      let tail = genLeaf(r);
      while (Array.isArray(tail)) tail = genLeaf(r);
      return new ImproperList(Array.from({ length: r.range(1, 3) }, sub) as Tuple['elements'], tail as Tuple['elements'][number]);
    }
    case 3:
      return new ErlMap(Array.from({ length: r.int(6) }, (_, i) => [genKey(r, i), sub()] as [never, never]));
    case 4:
      return r.int(10) === 0 ? new Tuple(Array.from({ length: r.range(256, 300) }, () => genLeaf(r)) as Tuple['elements']) : genLeaf(r);
    case 5:
      return r.int(5) === 0 ? new ErlMap(Array.from({ length: r.range(33, 40) }, (_, i) => [genKey(r, i), genLeaf(r)] as [never, never])) : genLeaf(r);
    case 6:
      return new ImproperList(Array.from({ length: r.range(1, 3) }, sub) as Tuple['elements'], Array.from({ length: r.int(3) }, sub) as Tuple['elements']);
    case 7:
      return new Tuple([Atom.of('trace_ts'), new Pid(Atom.of('a@b'), r.uint32(), 0, 1), Atom.of('call'), sub(), new Tuple([r.int(2000), r.int(1000000), r.int(1000000)])] as Tuple['elements']);
    default:
      return genLeaf(r);
  }
}

/** Distinct map keys by construction: each involves the entry's index. */
function genKey(r: Rng, i: number): EncodableTerm {
  switch (r.int(4)) {
    case 0:
      return i;
    case 1:
      return Atom.of(`k${i}`);
    case 2:
      return `k${i}`;
    default:
      return new Tuple([i, genLeaf(r)] as Tuple['elements']);
  }
}

function firstDifference(expected: Buffer, got: Buffer): string {
  let i = 0;
  while (i < expected.length && i < got.length && expected[i] === got[i]) i++;
  const show = (b: Buffer): string => [...b.subarray(Math.max(0, i - 6), i + 10)].join(',');
  return `bytes differ at ${i} (lengths ${expected.length}/${got.length}): BEAM …${show(expected)}… ours …${show(got)}…`;
}

const CHECKER = String.raw`
-module(etf_check).
-export([main/1, pid/4, port/3, ref/3, deep_list/1]).

main([Dir]) ->
    {ok, Data} = file:read_file(filename:join(Dir, "ts_terms.bin")),
    {N, Bad} = check(split(Data, []), 0, 0),
    io:format("CHECKED ~b MISMATCHES ~b~n", [N, Bad]).

split(<<>>, Acc) -> lists:reverse(Acc);
split(<<L:32, B:L/binary, Rest/binary>>, Acc) -> split(Rest, [B | Acc]).

check([Enc, Src, <<Exact, Minor, Level>> | Rest], I, Bad) ->
    R = try
            Expected = eval(Src),
            Got = binary_to_term(Enc),
            case Got =:= Expected of
                false -> {not_equal, diff(Got, Expected)};
                true when Exact =:= 1 ->
                    Opts = [{minor_version, Minor}] ++ [{compressed, Level} || Level > 0],
                    case term_to_binary(Expected, Opts) of
                        Enc -> ok;
                        Other -> {bytes_differ, {beam, Other}, {ours, Enc}}
                    end;
                true -> ok
            end
        catch C:E -> {crash, C, E}
        end,
    case R of
        ok -> check(Rest, I + 1, Bad);
        _ ->
            Bad < 20 andalso io:format("MISMATCH ~b ~ts~n  ~P~n", [I, binary:part(Src, 0, min(300, byte_size(Src))), R, 40]),
            check(Rest, I + 1, Bad + 1)
    end;
check([], I, Bad) -> {I, Bad}.

%% The first place where Got and Expected differ, for the failure message.
diff(G, E) when is_map(G), is_map(E) ->
    case {maps:keys(G) -- maps:keys(E), maps:keys(E) -- maps:keys(G)} of
        {[], []} -> hd([{key, K, diff(V, maps:get(K, E))} || {K, V} <- maps:to_list(G), V =/= maps:get(K, E)] ++ [same]);
        {Extra, Missing} -> {keys, {extra, Extra}, {missing, Missing}}
    end;
diff(G, E) when is_tuple(G), is_tuple(E), tuple_size(G) =:= tuple_size(E) ->
    diff(tuple_to_list(G), tuple_to_list(E));
diff([G | Gs], [E | Es]) when G =:= E -> diff(Gs, Es);
diff([G | _], [E | _]) -> diff(G, E);
diff(G, E) -> {got, G, expected, E}.

eval(Src) ->
    {ok, Toks, _} = erl_scan:string(unicode:characters_to_list(Src)),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    V.

atom_ext(A) ->
    B = atom_to_binary(A, utf8),
    case byte_size(B) < 256 of
        true -> <<119, (byte_size(B)), B/binary>>;
        false -> <<118, (byte_size(B)):16, B/binary>>
    end.

pid(Node, Id, Serial, Cr) -> binary_to_term(<<131, 88, (atom_ext(Node))/binary, Id:32, Serial:32, Cr:32>>).
port(Node, Id, Cr) -> binary_to_term(<<131, 120, (atom_ext(Node))/binary, Id:64, Cr:32>>).
ref(Node, Cr, Ids) ->
    binary_to_term(<<131, 90, (length(Ids)):16, (atom_ext(Node))/binary, Cr:32, << <<I:32>> || I <- Ids >>/binary>>).
deep_list(N) -> lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, N)).
`;
