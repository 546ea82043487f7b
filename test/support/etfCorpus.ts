/**
 * A corpus of real BEAM encodings for the ETF tests: an Erlang program generates random terms of
 * every kind the External Term Format carries and writes term_to_binary of each with four option
 * sets (ENCODINGS below). The round-trip test checks that decode → encode gives the same bytes; the
 * fuzz test mutates them.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncodeOptions } from '../../src/erlang/etf/index.js';
import { runErlScript, splitRecords } from './erlScript.js';

/** The term_to_binary options of each record of a term, in file order, and our matching options. */
export const ENCODINGS: ReadonlyArray<{ erlang: string; ts: EncodeOptions }> = [
  { erlang: '[]', ts: { minorVersion: 1 } },
  { erlang: '[{minor_version, 2}]', ts: { minorVersion: 2 } },
  { erlang: '[compressed]', ts: { minorVersion: 1, compressed: true } },
  { erlang: '[{compressed, 9}, {minor_version, 2}]', ts: { minorVersion: 2, compressed: 9 } },
];

export interface BeamCorpus {
  /** records[i][k]: term i encoded with ENCODINGS[k]. */
  records: Buffer[][];
  /** How many of the first terms are the hand-picked specials (deep nesting, boundaries). */
  specials: number;
}

/**
 * Runs the generator: `count` random terms from `seed`, after the specials when `withSpecials`
 * (they include a list nested 1,000,000 deep and a 1 MB binary, so they take a few seconds).
 */
export async function generateBeamCorpus(dir: string, seed: number, count: number, withSpecials: boolean): Promise<BeamCorpus> {
  const run = await runErlScript(GENERATOR, [dir, String(seed), String(count), String(withSpecials)]);
  const [total, specials] = run.stdout.trim().split(/\s+/).map(Number) as [number, number];
  const flat = splitRecords(await readFile(join(dir, 'beam_terms.bin')));
  const k = ENCODINGS.length;
  if (flat.length !== total * k) throw new Error(`expected ${total * k} records, found ${flat.length}`);
  const records: Buffer[][] = [];
  for (let i = 0; i < total; i++) records.push(flat.slice(i * k, i * k + k));
  return { records, specials };
}

export const GENERATOR = String.raw`
-module(etf_gen).
-export([main/1, helper/1]).

main([Dir, SeedS, CountS, SpecialsS]) ->
    Seed = list_to_integer(SeedS),
    rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 2}),
    put(ports, erlang:ports()),
    put(pids, [self() | [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, 5)]]),
    Specials = case SpecialsS of "true" -> specials(); _ -> [] end,
    Randoms = [gen(rand:uniform(5)) || _ <- lists:seq(1, list_to_integer(CountS))],
    {ok, F} = file:open(filename:join(Dir, "beam_terms.bin"), [write, raw, binary, {delayed_write, 1 bsl 20, 100}]),
    Write = fun(T) ->
        lists:foreach(fun(Opts) ->
            B = term_to_binary(T, Opts),
            ok = file:write(F, [<<(byte_size(B)):32>>, B])
        end, [[], [{minor_version, 2}], [compressed], [{compressed, 9}, {minor_version, 2}]])
    end,
    lists:foreach(Write, Specials),
    lists:foreach(Write, Randoms),
    ok = file:close(F),
    io:format("~b ~b~n", [length(Specials) + length(Randoms), length(Specials)]).

helper(X) -> X.

%% ---- hand-picked terms: boundaries and deep nesting ----

specials() ->
    Deep = lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 1000000)),
    DeepTuple = lists:foldl(fun(_, Acc) -> {Acc} end, ok, lists:seq(1, 100000)),
    DeepMap = lists:foldl(fun(I, Acc) -> #{I => Acc} end, #{}, lists:seq(1, 20000)),
    LongImproper = lists:foldl(fun(I, Acc) -> [I | Acc] end, end_tail, lists:seq(1, 100000)),
    [Deep, DeepTuple, DeepMap, LongImproper,
     lists:duplicate(65535, 7), lists:duplicate(65536, 7), lists:seq(1, 1000),
     list_to_tuple(lists:seq(1, 255)), list_to_tuple(lists:seq(1, 256)), {},
     maps:from_list([{I, I} || I <- lists:seq(1, 32)]),
     maps:from_list([{I, I} || I <- lists:seq(1, 33)]),
     maps:from_list([{integer_to_binary(I), [I]} || I <- lists:seq(1, 1000)]),
     #{}, [], "", <<>>, [[]], [<<>> | <<>>],
     neg_zero(), 0.0, 1.0, -1.0, 5.0e-324, 1.7976931348623157e308, 2.2250738585072014e-308,
     int_boundaries(),
     [-X || X <- int_boundaries()],
     '', list_to_atom(lists:duplicate(255, $a)), list_to_atom(lists:duplicate(255, 255)),
     list_to_atom(lists:duplicate(255, 16#10FFFF)), list_to_atom(lists:duplicate(85, 16#20AC)),
     list_to_atom(lists:duplicate(86, 16#20AC)), 'Elixir.MyApp.Worker', 'hello world',
     binary:copy(<<"x">>, 1000000), <<1:1>>, <<255, 7:3>>,
     fun lists:map/2, fun ?MODULE:helper/1, fun helper/1,
     mk_pid('a@b', 16#FFFFFFFF, 16#FFFFFFFF, 16#FFFFFFFF), mk_pid('a@b', 0, 0, 0),
     mk_ref('a@b', 16#FFFFFFFF, [1, 2, 3, 4, 5]), mk_ref('a@b', 1, [1, 2, 3]), mk_ref('a@b', 1, [7]),
     mk_port('a@b', 0, 1), mk_port('a@b', 16#FFFFFFFF, 1), mk_port('a@b', 16#100000000, 1),
     mk_port('a@b', 16#FFFFFFFFFFFFFFFF, 16#FFFFFFFF),
     make_ref(), erlang:alias(), self(), hd(erlang:ports())].

int_boundaries() ->
    [0, 1, 255, 256, 2147483647, 2147483648, 4294967295, 4294967296,
     9007199254740991, 9007199254740992, 9007199254740993, 16#FFFFFFFFFFFFFF, 16#100000000000000,
     16#FFFFFFFFFFFFFFFF, 16#10000000000000000, (1 bsl 2040) - 1, 1 bsl 2040, 1 bsl 2048,
     1 bsl 30000].

neg_zero() -> <<F/float>> = <<1:1, 0:63>>, F.

%% ---- random terms ----

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(20) of
        1 -> list_to_tuple(gens(D - 1, rand:uniform(6) - 1));
        2 -> list_to_tuple(gens(D - 1, rand:uniform(4)));
        3 -> gens(D - 1, rand:uniform(7) - 1);
        4 -> gens(D - 1, rand:uniform(5));
        5 -> gens(D - 1, rand:uniform(4)) ++ non_list_leaf();
        6 -> maps:from_list([{gen(D - 1), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(8) - 1)]);
        7 ->
            case rand:uniform(6) of
                1 -> maps:from_list([{gen(0), gen(min(1, D - 1))} || _ <- lists:seq(1, 33 + rand:uniform(40))]);
                _ -> leaf()
            end;
        8 -> local_fun(gen(D - 1));
        9 ->
            case rand:uniform(10) of
                1 -> list_to_tuple(gens(0, 256 + rand:uniform(100)));
                _ -> leaf()
            end;
        10 -> #{name => gen(D - 1), value => gen(D - 1), '__struct__' => 'Elixir.Some.Struct'};
        11 -> {call, self(), {lists, map, gens(D - 1, rand:uniform(3))}, erlang:timestamp()};
        _ -> leaf()
    end.

gens(D, N) -> [gen(D) || _ <- lists:seq(1, N)].

non_list_leaf() ->
    L = leaf(),
    case is_list(L) of
        true -> non_list_leaf();
        false -> L
    end.

leaf() ->
    case rand:uniform(15) of
        1 -> int();
        2 -> int();
        3 -> float();
        4 -> atom();
        5 -> atom();
        6 -> binary();
        7 -> bitstring();
        8 -> charlist();
        9 -> pid();
        10 -> ref();
        11 -> port();
        12 -> export_fun();
        13 -> [];
        14 -> rand:uniform(100);
        15 -> local_fun(rand:uniform(3))
    end.

pick(L) -> lists:nth(rand:uniform(length(L)), L).
sign() -> pick([1, -1]).
rand32() -> rand:uniform(1 bsl 32) - 1.

int() ->
    case rand:uniform(8) of
        1 -> sign() * pick(int_boundaries());
        2 -> rand:uniform(256) - 1;
        3 -> rand:uniform(1 bsl 32) - (1 bsl 31);
        4 -> sign() * rand:uniform(1 bsl 53);
        5 -> sign() * rand:uniform(1 bsl 64);
        6 -> sign() * ((1 bsl rand:uniform(70)) + rand:uniform(1000) - 500);
        7 -> sign() * rand:uniform(1 bsl (8 * rand:uniform(300)));
        8 ->
            case rand:uniform(10) of
                1 -> sign() * rand:uniform(1 bsl (8 * (256 + rand:uniform(1500))));
                _ -> rand:uniform(1000000)
            end
    end.

float() ->
    case rand:uniform(6) of
        1 -> pick([0.0, neg_zero(), 1.0, -1.0, 0.5, 1.5, 5.0e-324, 2.2250738585072014e-308,
                   1.7976931348623157e308, -1.7976931348623157e308, 3.141592653589793,
                   1.0e15, 1.0e16, 9007199254740992.0, 123456789.0, 0.1]);
        2 -> rand:uniform();
        3 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(600) - 300);
        4 -> float(rand:uniform(1 bsl 52));
        5 ->
            case <<(rand32()):32, (rand32()):32>> of
                <<F:64/float>> -> F;
                _ -> 2.5
            end;
        6 -> float(sign() * rand:uniform(1000))
    end.

no_surrogate(C) when C >= 16#D800, C =< 16#DFFF -> C + 16#800;
no_surrogate(C) -> C.

rand_chars(N, Lo, Hi) -> [no_surrogate(Lo + rand:uniform(Hi - Lo + 1) - 1) || _ <- lists:seq(1, N)].

atom() ->
    case rand:uniform(9) of
        1 -> pick([ok, error, undefined, true, false, nil, '', 'hello world', 'Elixir.MyApp.Worker',
                   '\'quoted\'', a, 'UPPER', '+', '[]', '{}', 'a\nb']);
        2 -> list_to_atom(rand_chars(rand:uniform(20), $a, $z));
        3 -> list_to_atom(rand_chars(rand:uniform(20), 128, 255));
        4 -> list_to_atom(rand_chars(rand:uniform(20), 256, 16#10FFF));
        5 -> list_to_atom(rand_chars(255, $a, $z));
        6 -> list_to_atom(rand_chars(255, 1, 255));
        7 -> list_to_atom(rand_chars(255, 16#4E00, 16#9FFF));
        8 -> list_to_atom([16#1F600 | rand_chars(rand:uniform(10), $a, $z)]);
        9 -> list_to_atom(rand_chars(rand:uniform(40), 0, 127))
    end.

rand_bytes(N) -> << <<(rand:uniform(256) - 1)>> || _ <- lists:seq(1, N) >>.

binary() ->
    case rand:uniform(6) of
        1 -> <<>>;
        2 -> rand_bytes(rand:uniform(20));
        3 -> rand_bytes(rand:uniform(300));
        4 ->
            B = rand_bytes(100 + rand:uniform(200)),
            binary:part(B, rand:uniform(50), rand:uniform(40));
        5 -> unicode:characters_to_binary(rand_chars(rand:uniform(20), 32, 16#2000));
        6 ->
            case rand:uniform(10) of
                1 -> rand_bytes(1000 + rand:uniform(3000));
                _ -> rand_bytes(rand:uniform(5))
            end
    end.

bitstring() ->
    Bits = rand:uniform(7),
    B = rand_bytes(rand:uniform(20) - 1),
    <<B/binary, (rand:uniform(1 bsl Bits) - 1):Bits>>.

charlist() ->
    case rand:uniform(5) of
        1 -> rand_chars(rand:uniform(30), 0, 255);
        2 -> "hello world";
        3 -> rand_chars(rand:uniform(30), 0, 16#3000);
        4 -> [rand:uniform(1000) - 500 || _ <- lists:seq(1, rand:uniform(10))];
        5 -> rand_chars(rand:uniform(300), 32, 126)
    end.

rnode() ->
    pick(['foo@bar', 'n1@host.example.com', list_to_atom([$n, 16#E9, $@, $h]),
          list_to_atom([16#3B1, $@, 16#3B2]), list_to_atom("x" ++ integer_to_list(rand:uniform(50)) ++ "@h")]).

rcreation() -> pick([1, 2, 3, 4, 16#FFFFFFFF, 16#7FFFFFFF, 1234567890, rand32()]).

atom_ext(A) ->
    B = atom_to_binary(A, utf8),
    <<119, (byte_size(B)), B/binary>>.

mk_pid(Node, Id, Serial, Cr) ->
    binary_to_term(<<131, 88, (atom_ext(Node))/binary, Id:32, Serial:32, Cr:32>>).

mk_ref(Node, Cr, Ids) ->
    binary_to_term(<<131, 90, (length(Ids)):16, (atom_ext(Node))/binary, Cr:32, << <<I:32>> || I <- Ids >>/binary>>).

mk_port(Node, Id, Cr) ->
    binary_to_term(<<131, 120, (atom_ext(Node))/binary, Id:64, Cr:32>>).

pid() ->
    case rand:uniform(3) of
        1 -> pick(get(pids));
        2 -> mk_pid(rnode(), rand:uniform(1 bsl 28) - 1, rand:uniform(8192) - 1, rcreation());
        3 -> mk_pid(rnode(), rand32(), rand32(), rcreation())
    end.

ref() ->
    case rand:uniform(5) of
        1 -> make_ref();
        2 -> erlang:alias();
        3 -> mk_ref(rnode(), rcreation(), [rand:uniform(1 bsl 18) - 1, rand32(), rand32()]);
        4 -> mk_ref(rnode(), rcreation(), [rand32(), rand32(), rand32(), rand32(), rand32()]);
        5 -> mk_ref(rnode(), rcreation(), [rand32() || _ <- lists:seq(1, rand:uniform(5))])
    end.

port() ->
    case rand:uniform(3) of
        1 -> pick(get(ports));
        2 -> mk_port(rnode(), rand32(), rcreation());
        3 -> mk_port(rnode(), rand:uniform(1 bsl 64) - 1, rcreation())
    end.

export_fun() ->
    pick([fun lists:map/2, fun erlang:'+'/2, erlang:make_fun('Elixir.Enum', map, 2),
          erlang:make_fun(list_to_atom([$m, 16#F8, $d]), list_to_atom([$f, 16#FC, $n]), 255),
          erlang:make_fun(m, f, 0)]).

local_fun(X) ->
    case rand:uniform(5) of
        1 -> fun() -> X end;
        2 -> fun(A) -> {A, X} end;
        3 -> Y = rand:uniform(100), fun(A, B) -> [A, B, X, Y] end;
        4 -> fun helper/1;
        5 -> Z = gen(1), fun(A, B, C) -> {A, B, C, X, Z} end
    end.
`;

/** A small deterministic PRNG (mulberry32), so that random tests repeat exactly for a seed. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  uint32(): number {
    return this.int(0x100000000);
  }
}
