/**
 * Runs Elixir scripts for the inspect tests, and holds the scripts: the corpus writer that records what the
 * real `inspect/2` prints for many terms, and the generator of src/erlang/inspect/identTable.ts.
 *
 *   const file = await writeInspectCorpus({ randomCount: 2000, seed: 42 });
 *   for (const rec of readInspectCorpus(await readFile(file))) ...
 *
 * Each script runs as `elixir script.exs ARGS` in a fresh temporary directory that is removed afterwards;
 * the BEAM exits when the script ends, and is killed if it outlives its time limit.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ElixirRun {
  stdout: Buffer;
  stderr: string;
}

/** Runs `source` as an .exs script with `args`; rejects with the script's stderr when it fails. */
export async function runElixirScript(source: string, args: string[] = [], timeoutMs = 300_000): Promise<ElixirRun> {
  const dir = await mkdtemp(join(tmpdir(), 'es-exs-'));
  try {
    const file = join(dir, 'script.exs');
    await writeFile(file, source);
    return await new Promise<ElixirRun>((resolve, reject) => {
      const child = spawn('elixir', [file, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`could not start elixir (${e.message}); is Elixir 1.14+ installed and on PATH?`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve({ stdout: Buffer.concat(out), stderr: err });
        else {
          const why = signal === 'SIGKILL' ? `was killed after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
          reject(new Error(`elixir script ${why}; its stderr:\n${err.slice(-4000)}`));
        }
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------------------------------------
// THE INSPECT CORPUS
// ----------------------------------------------------------------------------------------------

export interface CorpusResult {
  /** False when inspect/2 raised for this option set; `text` is then the exception message. */
  ok: boolean;
  text: string;
}

export interface CorpusRecord {
  /** `hand:N`, `remote:N` (identifiers of another node) or `random:N`. */
  id: string;
  /** `:erlang.term_to_binary(term)`. */
  etf: Buffer;
  /** term_to_binary of `%{funs: [{fun, name}], structs: [{module, fields | nil}]}`: what inspect/2 read
   *  from loaded code rather than from the term. */
  meta: Buffer;
  /** One per option set, keyed by the set's name (see OPTION_SETS in the script). */
  results: Map<string, CorpusResult>;
}

/** Runs the corpus script and returns the path of the file it wrote (inside `dir`). */
export async function writeInspectCorpus(dir: string, randomCount: number, seed: number): Promise<string> {
  const file = join(dir, 'inspect-corpus.bin');
  await runElixirScript(INSPECT_CORPUS_SCRIPT, [file, String(randomCount), String(seed)]);
  return file;
}

/** Parses the corpus file: a header naming the option sets, then length-prefixed records. */
export function readInspectCorpus(buf: Buffer): CorpusRecord[] {
  let pos = 0;
  const take = (): Buffer => {
    const n = buf.readUInt32BE(pos);
    const b = buf.subarray(pos + 4, pos + 4 + n);
    if (b.length !== n) throw new Error(`inspect corpus is truncated at byte ${pos}`);
    pos += 4 + n;
    return b;
  };
  const names = take().toString('utf8').split(',');
  const records: CorpusRecord[] = [];
  while (pos < buf.length) {
    const id = take().toString('utf8');
    const etf = take();
    const meta = take();
    const results = new Map<string, CorpusResult>();
    for (const name of names) {
      const ok = buf[pos++] === 0;
      results.set(name, { ok, text: take().toString('utf8') });
    }
    records.push({ id, etf, meta, results });
  }
  return records;
}


// ----------------------------------------------------------------------------------------------
// SCRIPTS (Elixir source; String.raw keeps every backslash as Elixir needs it)
// ----------------------------------------------------------------------------------------------

/** Writes the corpus: `elixir script.exs OUT_FILE RANDOM_COUNT SEED`. */
export const INSPECT_CORPUS_SCRIPT = String.raw`# Writes, for each term of a corpus, its external term format and what inspect/2 prints for it under several
# option sets. Usage: elixir corpus.exs OUT_FILE RANDOM_COUNT SEED
[out_path, random_count, seed] = System.argv()
random_count = String.to_integer(random_count)
seed = String.to_integer(seed)

defmodule Corpus.User do
  defstruct [:name, :age, roles: []]
end

defmodule Corpus.Empty do
  defstruct []
end

defmodule Corpus.Err do
  defexception [:message, :code]
end

defmodule Corpus.Funs do
  def plain, do: fn x -> x end
  def closure(y), do: fn x -> {x, y} end
  def two, do: fn a, b -> a + b end
  def unquote(:"weird name")(), do: :ok
end

defmodule Corpus.Opts do
  def sets do
    [
      default: [],
      limit3: [limit: 3],
      plimit5: [printable_limit: 5],
      as_lists: [charlists: :as_lists],
      as_binaries: [binaries: :as_binaries],
      as_strings: [binaries: :as_strings],
      as_charlists: [charlists: :as_charlists],
      infinity: [limit: :infinity, printable_limit: :infinity],
      limit1: [limit: 1],
      limit0: [limit: 0]
    ]
  end
end

defmodule Corpus.Hand do
  def terms do
    atoms() ++ integers() ++ floats() ++ strings() ++ bitstrings() ++ charlists() ++ lists() ++
      tuples() ++ maps() ++ structs() ++ identifiers() ++ funs() ++ nested()
  end

  def atoms do
    [
      :ok, nil, true, false, :"a b", :"", :+, :-, :*, :/, :"::", :"^^^", :"~~~", :"<|>", :"Elixir.foo",
      :Elixir, :"Elixir.Elixir", :"Elixir.Elixir.Foo", MyApp.Worker, :"Elixir.MyApp.worker", :"Elixir.Foo.",
      :"Elixir..Foo", :"Elixir.Foo1_b.B2", :"Elixir.Foo.bar", :Foo, :"Foo.Bar", :foo?, :foo!, :"foo?bar",
      :"foo!?", :foo@bar, :foo@, :"@foo", :"@", :_, :__struct__, :_1, :"1a", :a1, :aB_c, :olá, :Olá,
      :"ola\u0301", :"ΑΒΓ", :"αβγ", :"日本語", :"a-b", :"a.b", :"a\nb", :"a\"b", :"a\\b", :"\#{x}",
      :"é", :"µ", :"aµ", :"aб", :"a日本", :"日本a", :"ひらがなa", :"カタカナ漢字", :"한국어a", :"%",
      :"%{}", :"{}", :"<<>>", :..., :.., :., :"..//", :->, :"=>", :"//", :&, :@, :"\\\\", :when, :in,
      :not, :and, :or, :|, :||, :|||, :"not in", :"🙂", :"a🙂", :"\0", :"\x7f", :"\e", :"a b c",
      :"'", :"a'b", :"!", :"?", :"a?b?", :"<>", :"++", :"..", :^, :!, :"=", :"==", :"===", :"=~",
      :"|>", :"<-", :"\\\\", :"**", :"++", :"--", :"+++", :"---", :"<<<", :">>>", :"&&&", :"<~>",
      :"~>>", :"<<~", :"~>", :"<~", :"Ä", :"Äb", :"ß", :"ǅ", :"ǅa", :"Σ", :"a\u200Db", :"a·b",
      :"a\u0300", :"ı", :"ﬁ", :"x\u0338", :"٣", :"a٣", :_a, :_A, :__, :a_1?, :"A?", :"A!",
      :"A@b", :"Elixir.A@b", :"Elixir.A?", :"Elixir.a", :nil?, :true!, :"Elixir.Nil",
      :"Elixir.Foo Bar", :"Elixir.Foo-Bar", :"Elixir.🙂", :"aa\u00A0", :"\u00A0", :"\uFEFF"
    ]
  end

  def integers do
    [0, 1, -1, 7, 255, 256, 2_147_483_647, -2_147_483_648, 2_147_483_648, 9_007_199_254_740_991,
     9_007_199_254_740_992, 9_007_199_254_740_993, -9_007_199_254_740_993, 18_446_744_073_709_551_616,
     -18_446_744_073_709_551_616, 10 ** 100, -(10 ** 100), 2 ** 1000]
  end

  def floats do
    [0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100.0, 1.0e15, 1.0e16, 1.0e17, 1.0e-7, 0.0001, 0.00001, 0.001,
     0.01, 123456789.123, 1.0e300, 5.0e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
     9007199254740992.0, 9007199254740994.0, 1.0e21, 1.0e22, 12345678901234567890.0, 0.30000000000000004,
     3.14159, -2.5e-10, 1.0e-10, 1.2345e-5, 123.456, 1.0e100, 9999999999999998.0, 1.0e16 - 2,
     0.000123, 0.0012345, 1.0e-4, 1.5e-4, 12.0, 1.0e5, 123456.789e3, 4.35, 2.0e-3, 1.0e-3, 0.1 + 0.2,
     100.5, 1.0e-320, 4.9e-324, 999999999999999.9, 99999999999999.99, 0.9999999999999999]
  end

  def strings do
    [
      "", "abc", "a\nb", "\t", "\"", "\\", "\#{x}", "#", "\#{", "#\{", "é", "日本", "🙂", <<0>>, <<0, 97>>,
      <<1, 2, 3>>, <<255>>, <<128>>, "\a\b\d\e\f\v\r", <<0xEF, 0xBB, 0xBF>>, <<0xC2, 0x80>>, "\u00A0",
      <<0xED, 0xA0, 0x80>>, <<0xC0, 0x80>>, <<0xF4, 0x90, 0x80, 0x80>>, <<0xEF, 0xBF, 0xBE>>,
      <<0xEF, 0xBF, 0xBD>>, String.duplicate("a", 5000), String.duplicate("é", 4097),
      :binary.copy(<<1>>, 100), String.duplicate("a", 4096), "abcdef", "abcde", "ab\#{cd", "'", "it's",
      "abc" <> <<0>>, "abcde" <> <<0>>, "abcdef" <> <<0>>, "abcde" <> <<255>>, "ab" <> <<0xE2, 0x82>>,
      "\x7f", "a\x7fb", "\x1b[31m", "\u0085", "\u2028", "\u200B", "\uFFFF", "\u{10FFFF}", "\u{E000}",
      "\u{D7FF}", "\u{1F600}x", <<0xFF, 0xFE>>, "tab\there", "cr\r\n", "\x0e", <<31>>, "~", " ",
      "a\\nb", "\"quoted\"", "\#{\#{", "#\#{", "{", "}", "\#{}"
    ]
  end

  def bitstrings do
    [<<1::3>>, <<255, 1::1>>, <<1, 2, 3, 4::4>>, <<0::7>>, <<5::5>>, <<:binary.copy(<<7>>, 60)::binary, 1::2>>,
     <<1, 2, 3::3>>, <<"abc", 1::1>>, <<1::1>>, <<127::7>>]
  end

  def charlists do
    [
      'abc', 'a\nb', [7, 8, 9, 10, 11, 12, 13, 27, 32, 126], [127], [0], [1, 2, 3], [?a | ?b], 'it\'s',
      [?#, ?{], [233], [0x1F600], String.duplicate("a", 5000) |> String.to_charlist(), 'abcdef',
      [?a, ?b, ?c, ?d, ?e, ?f, 200], [?a, ?b, ?c, ?d, ?e, ?f, :x], [?a | "bc"], ['ab', 'cd'], ["ab", ?c],
      [?a, ?b, ?c, ?d, ?e, ?f | "gh"], [?a, ?b, ?c, ?d, ?e | :x], [?a, ?b, ?c, ?d, ?e, ?f, 0xD800],
      [?a, ?b, ?c, ?d, ?e, ?f, -1], [?a, ?b, ?c, ?d, ?e, ?f, 0x110000], '"', '\\', '\#{', [6], [14],
      [31], [?a, 0], 'hello world', [?a, "é"], [?a, [?b, [?c]]], [1114111], [0xFFFE]
    ]
  end

  def lists do
    [
      [], [1], [1, 2, 3], [[]], [[1]], [1 | 2], [1, 2 | 3], [:a | :b], Enum.to_list(1..60),
      [[1, 2, 3, 4], [5, 6]], [a: 1], [a: 1, b: 2], ["a b": 1], [{:a, 1}, 2], [{Foo, 1}],
      [{:"Elixir.Foo", 1}, {:a, 2}], [{:a, 1, 2}], [nil: 1, true: 2], [{:"a b", [c: 1]}],
      Enum.map(1..60, &{:"k#{&1}", &1}), [{:a, 1} | {:b, 2}], [{:a, 1} | []], [{"a", 1}],
      [{:Elixir, 1}], [{:+, 1}, {:"::", 2}, {:"%{}", 3}, {:@, 4}, {:"a@b", 5}, {:Foo, 6}],
      [{:"é", 1}, {:"aб", 2}, {:"ola\u0301", 3}], [[], []], [{}, %{}], [1, [2, [3, [4, [5]]]]],
      [1, 2, 3, 4 | 5], [1, 2, 3 | 4], [1, 2 | [3 | 4]], [[1, 2] | [3]], [<<1, 2, 3, 4, 5>>]
    ]
  end

  def tuples do
    [{}, {1}, {1, 2}, {:ok, "x"}, {{}}, List.to_tuple(Enum.to_list(1..60)), {:error, {:badarg, [1, 2, 3]}},
     {[a: 1]}, {1, {2, {3, {4}}}}, {'abc', "abc"}]
  end

  def maps do
    [
      %{}, %{a: 1}, %{"a" => 1}, %{1 => 2}, %{:a => 1, "b" => 2}, %{Foo => 1}, %{"a b": 1},
      %{[1] => {2}}, %{%{} => %{}}, Map.new(1..40, &{:"key#{&1}", &1}), Map.new(1..100, &{&1, &1 * 2}),
      Map.new(1..60, &{&1, &1}), %{a: %{b: %{c: [1, 2, 3, 4]}}}, %{nil => 1}, %{true: 1, false: 2},
      %{"Elixir.Foo": 1, a: 2}, %{1.0 => :a, 1 => :b}, %{{1, 2} => [3]}, %{'ab' => "ab"},
      %{:"a b" => 1, :c => 2}, %{__struct__: "not an atom", a: 1}, Map.new(1..33, &{"s#{&1}", &1}),
      Map.new(1..32, &{&1, &1}), %{__exception__: true}
    ]
  end

  def structs do
    {:ok, date_neg} = Date.new(-1, 1, 1)
    [
      1..10, 10..1//-1, 1..10//2, 5..1//1, 1..1, -1..-5//-1, 0..-1//1, 1..(2 ** 70), (-5)..5,
      %{__struct__: Range, first: 1, last: 3}, %{__struct__: Range, first: 3, last: 1},
      %{__struct__: Range, first: 1, last: :a, step: 1}, %{__struct__: Range, first: 1, last: 2, step: 1.0},
      %{__struct__: Range, first: :b, last: :a, step: 1}, %{__struct__: Range, first: 2.0, last: 2, step: 1},
      %{__struct__: Version, major: 1}, %{__struct__: URI, host: "h"},
      Date.range(~D[2020-01-01], ~D[2020-02-01]), Date.range(~D[2020-03-01], ~D[2020-02-01]),
      Date.range(~D[2020-01-01], ~D[2020-02-01], 7), Stream.map([1, 2], &(&1 * 2)),
      Stream.map(1..3, &(&1 + 1)) |> Stream.filter(&(&1 > 1)) |> Stream.take(5),
      MapSet.new([1, 2, 3]), MapSet.new(['abc']), MapSet.new(), MapSet.new(1..100), MapSet.new([a: 1]),
      MapSet.new([[1, [2]], {'ab'}]), MapSet.new(["x", :y, 1.0]),
      ~D[2024-01-02], date_neg, %Date{year: 12345, month: 1, day: 1}, %Date{year: 5, month: 12, day: 31},
      ~T[12:34:56], ~T[12:34:56.123], ~T[12:34:56.000100], ~T[00:00:00.000000], ~T[23:59:59.9],
      ~N[2024-01-02 03:04:05.123456], ~N[2024-01-02 03:04:05], ~U[2024-01-02 03:04:05Z],
      ~U[2024-01-02 03:04:05.120Z],
      %DateTime{year: 2024, month: 1, day: 2, hour: 3, minute: 4, second: 5, microsecond: {0, 0},
        time_zone: "Europe/Paris", zone_abbr: "CET", utc_offset: 3600, std_offset: 0},
      %DateTime{year: 2024, month: 7, day: 2, hour: 3, minute: 4, second: 5, microsecond: {5000, 3},
        time_zone: "America/New_York", zone_abbr: "EDT", utc_offset: -18000, std_offset: 3600},
      %DateTime{year: 2024, month: 7, day: 2, hour: 3, minute: 4, second: 5, microsecond: {0, 0},
        time_zone: "Asia/Kolkata", zone_abbr: "IST", utc_offset: 19800, std_offset: 0},
      %DateTime{year: 2024, month: 7, day: 2, hour: 3, minute: 4, second: 5, microsecond: {0, 0},
        time_zone: "Etc/UTC", zone_abbr: "UTC", utc_offset: 0, std_offset: 3600},
      Version.parse!("1.2.3"), Version.parse!("1.2.3-rc.1+build.5"), Version.parse!("0.0.1-dev"),
      Version.parse!("1.0.0+abc"), Version.parse_requirement!("~> 1.0"),
      URI.parse("https://user@example.com:8080/p?q=1#f"), URI.parse("/path"), URI.parse(""),
      ~r/abc/, ~r/a\/b/i, ~r/a\nb/, ~r/[\/]/u, ~r/a\\b/, ~r"a/b", ~r/\#{x}/, ~r/é\x{7f}/u, ~r/'"/s,
      Regex.compile!("a", [:caseless]), Regex.compile!("a\tb"),
      %Corpus.User{name: "x", age: 3}, %Corpus.User{}, %Corpus.Empty{},
      %Corpus.Err{message: "boom", code: 1}, %RuntimeError{message: "x"}, %ArgumentError{},
      Map.delete(%Corpus.User{}, :age), Map.put(%Corpus.User{}, :extra, 1),
      %{__struct__: NoSuchModule, a: 1}, %{__struct__: :no_such_module, a: 1},
      %Corpus.User{name: %Corpus.User{name: "inner"}, roles: [:admin, :user]},
      %Corpus.User{name: 1..2, age: MapSet.new([1]), roles: ~D[2020-01-01]},
      %DateTime{year: 2024, month: 7, day: 2, hour: 3, minute: 4, second: 5, microsecond: {0, 0},
        time_zone: "Etc/UTC", zone_abbr: "XYZ", utc_offset: -3600, std_offset: 0},
      %DateTime{year: 2024, month: 7, day: 2, hour: 3, minute: 4, second: 5, microsecond: {0, 0},
        time_zone: "Etc/GMT+1", zone_abbr: "-01", utc_offset: -3630, std_offset: 0}
    ]
  end

  # Standard-library structs whose fields do not fit their Inspect implementation: inspect/2 prints an
  # Inspect.Error with a stack trace there.
  def broken do
    [%{__struct__: MapSet, map: :not_a_map}, %{__struct__: Date, year: 2024},
     %{__struct__: Time, hour: 1}, %{__struct__: Range, first: 1}]
  end

  def identifiers do
    port = hd(Port.list())
    [self(), spawn(fn -> :ok end), make_ref(), port, :erlang.alias(), {self(), make_ref()},
     :c.pid(0, 0, 0), :erlang.list_to_pid('<0.32767.8191>'), :erlang.list_to_ref('#Ref<0.1.2.3>'),
     :erlang.list_to_port('#Port<0.65535>')]
  end

  def funs do
    [&Enum.map/2, &:erlang.+/2, &:lists.reverse/1, &Kernel.+/2, &Kernel.is_nil/1, Corpus.Funs.plain(),
     Corpus.Funs.closure(1), Corpus.Funs.two(), Function.capture(Corpus.Funs, :"weird name", 0),
     Function.capture(:"a b", :c, 1), Function.capture(:m, :"::", 2), Function.capture(:m, :%{}, 0),
     Function.capture(Foo.Bar, :Baz, 0), Function.capture(:m, :a?, 0), fn x -> x end,
     Function.capture(:m, :"Elixir.Foo", 0), Function.capture(:m, :"\#{", 0)]
  end

  def nested do
    [
      {:ok, %{state: [1, 2, 3, 4, 5], name: "worker", opts: [timeout: 5000, retries: 3]}},
      [%{a: [1, 2, 3, 4]}, %{b: {5, 6, 7, 8}}], {[1, 2], [3, 4], [5, 6], [7, 8]},
      %{list: Enum.to_list(1..10), bin: :binary.copy(<<1>>, 10), str: String.duplicate("x", 10)},
      [[[[[[1, 2, 3]]]]]], {:"$gen_call", {self(), make_ref()}, {:get, :key}},
      [a: [b: [c: [d: 1]]]], %{"k" => %{"k" => %{"k" => "v"}}}
    ]
  end
end

defmodule Corpus.Gen do
  @atoms [:ok, :error, nil, true, false, :"a b", :+, :"::", Foo.Bar, :"Elixir.foo", :olá, :_x, :x@y,
          :"日本", :"ΑΒΓ", :"ola\u0301", :"", :..., :"%{}", :"a-b", :a?, :"a?b", :Foo, :"é"]
  @alphabet Enum.concat([?a..?z, ?A..?E, ?0..?3, '_@?!. -#{}"\\\'\n\t', [0, 7, 27, 127, 128, 160, 173],
              'éöüßÄαβΩдЖ日本ひカ한٣·µ', [0x301, 0x338, 0x200D, 0xFEFF, 0xFFFE, 0x1F600, 0x10FFFF]])
  @alphabet_size length(@alphabet)

  def pick(list), do: Enum.at(list, :rand.uniform(length(list)) - 1)
  def char, do: Enum.at(@alphabet, :rand.uniform(@alphabet_size) - 1)

  def term(0), do: leaf()
  def term(d) do
    case :rand.uniform(16) do
      n when n <= 6 -> leaf()
      7 -> list(d)
      8 -> tuple(d)
      9 -> map(d)
      10 -> improper(d)
      11 -> keyword(d)
      12 -> charlist()
      13 -> a_struct(d)
      14 -> Enum.map(1..:rand.uniform(8), fn _ -> term(d - 1) end)
      15 -> big_map(d)
      16 -> list(d)
    end
  end

  def list(d), do: Enum.map(1..(:rand.uniform(7) - 1), fn _ -> term(d - 1) end)
  def tuple(d), do: List.to_tuple(list(d))
  def map(d), do: Map.new(1..(:rand.uniform(6) - 1), fn _ -> {key(d), term(d - 1)} end)
  def big_map(_d), do: Map.new(1..(30 + :rand.uniform(40)), fn i -> {pick([i, :"k#{i}", "k#{i}"]), leaf()} end)
  def key(d), do: if(:rand.uniform(2) == 1, do: atom(), else: term(d - 1))
  def keyword(d), do: Enum.map(1..:rand.uniform(5), fn _ -> {atom(), term(d - 1)} end)

  def improper(d) do
    tail = case :rand.uniform(4) do
      1 -> atom()
      2 -> int()
      3 -> string()
      4 -> tuple(d)
    end
    list(d) ++ [term(d - 1) | tail]
  end

  def charlist do
    case :rand.uniform(4) do
      1 -> Enum.map(1..:rand.uniform(12), fn _ -> Enum.random(32..126) end)
      2 -> Enum.map(1..:rand.uniform(12), fn _ -> pick([?a, ?b, ?\n, ?', ?#, ?{, ?\\, 7, 27, 127, 0, 200, 1]) end)
      3 -> Enum.map(1..:rand.uniform(12), fn _ -> char() end)
      4 -> Enum.map(1..:rand.uniform(9), fn _ -> Enum.random(97..122) end) ++ [pick([0, 300, :a, "x", 0xD800, -1])]
    end
  end

  def a_struct(d) do
    case :rand.uniform(7) do
      1 -> Range.new(int(), int(), pick([1, -1, 2, -3]))
      2 -> MapSet.new(list(d))
      3 -> %Corpus.User{name: term(d - 1), age: int()}
      4 -> Date.add(~D[2000-01-01], :rand.uniform(20000) - 10000)
      5 -> NaiveDateTime.add(~N[2000-01-01 00:00:00.000000], :rand.uniform(10 ** 12), :microsecond)
      6 -> %RuntimeError{message: string()}
      7 -> Time.truncate(~T[01:02:03.456789], pick([:second, :millisecond, :microsecond]))
    end
  end

  def leaf do
    case :rand.uniform(12) do
      1 -> int()
      2 -> float()
      3 -> atom()
      4 -> string()
      5 -> bytes()
      6 -> bits()
      7 -> pick([self(), make_ref(), hd(Port.list())])
      8 -> pick([&Enum.map/2, Corpus.Funs.closure(int()), &:erlang.+/2])
      9 -> float()
      10 -> int()
      11 -> string()
      12 -> atom()
    end
  end

  def int do
    case :rand.uniform(5) do
      1 -> :rand.uniform(256) - 1
      2 -> :rand.uniform(2_000_000) - 1_000_000
      3 -> :rand.uniform(2 ** 64) - 2 ** 63
      4 -> (:rand.uniform(2 ** 300) - 2 ** 299) * pick([1, 1, 10 ** 20])
      5 -> pick([0, -1, 2 ** 53, -(2 ** 53) - 1, 2 ** 31])
    end
  end

  def float do
    case :rand.uniform(5) do
      1 -> raw_float()
      2 -> (:rand.uniform() - 0.5) * :math.pow(10, :rand.uniform(40) - 20)
      3 -> Float.round(:rand.uniform() * 1000, :rand.uniform(4))
      4 -> (:rand.uniform(2 ** 20) - 2 ** 19) * :math.pow(2, :rand.uniform(120) - 60)
      5 -> :math.pow(10, :rand.uniform(60) - 30) * pick([1, -1, 1.5, 3])
    end
  end

  def raw_float do
    <<x::64>> = <<:rand.uniform(2 ** 64) - 1::64>>
    case <<x::64>> do
      <<f::float>> -> f
      _ -> raw_float()
    end
  end

  def atom do
    if :rand.uniform(2) == 1 do
      pick(@atoms)
    else
      Enum.map(1..:rand.uniform(6), fn _ -> char() end) |> List.to_string() |> String.to_atom()
    end
  end

  def string do
    case :rand.uniform(3) do
      1 -> Enum.map(1..:rand.uniform(10), fn _ -> Enum.random(32..126) end) |> List.to_string()
      2 -> Enum.map(1..(:rand.uniform(12) - 1), fn _ -> char() end) |> List.to_string()
      3 -> Enum.map(1..:rand.uniform(8), fn _ -> pick(["é", "\#{", "\"", "\\", "\n", "ab", <<0>>]) end) |> Enum.join()
    end
  end

  def bytes, do: :binary.list_to_bin(Enum.map(1..(:rand.uniform(70) - 1), fn _ -> :rand.uniform(256) - 1 end))

  def bits do
    n = :rand.uniform(7)
    <<bytes()::binary, (:rand.uniform(Bitwise.bsl(1, n)) - 1)::size(n)>>
  end
end

defmodule Corpus.Meta do
  # Fun names and struct fields: what inspect/2 reads from loaded code, not from the term itself.
  def collect(term), do: walk(term, %{funs: [], structs: []})

  defp walk(t, acc) when is_function(t) do
    info = :erlang.fun_info(t)
    if info[:type] == :local, do: %{acc | funs: [{t, info[:name]} | acc.funs]}, else: acc
  end
  defp walk(%{__struct__: mod} = m, acc) when is_atom(mod) do
    fields =
      if Code.ensure_loaded?(mod) and function_exported?(mod, :__struct__, 0) do
        for %{field: f} <- mod.__info__(:struct), do: f
      else
        nil
      end
    acc = %{acc | structs: [{mod, fields} | acc.structs]}
    Enum.reduce(Map.to_list(m), acc, &walk/2)
  end
  defp walk(t, acc) when is_map(t), do: Enum.reduce(Map.to_list(t), acc, &walk/2)
  defp walk(t, acc) when is_tuple(t), do: Enum.reduce(Tuple.to_list(t), acc, &walk/2)
  defp walk([h | t], acc), do: walk(t, walk(h, acc))
  defp walk(_, acc), do: acc
end



:rand.seed(:exsss, {seed, seed * 7 + 1, seed * 13 + 2})
hand = Enum.with_index(Corpus.Hand.terms(), fn t, i -> {"hand:#{i}", t} end)
# Identifiers of another node: inspect/2 prints a node-table index there, which the test replaces.
other = fn bytes -> :erlang.binary_to_term(<<131, bytes::binary>>) end
node_atom = <<119, 8, "other@vm">>
rpid = other.(<<88, node_atom::binary, 1::32, 2::32, 3::32>>)
rref = other.(<<90, 3::16, node_atom::binary, 3::32, 1::32, 2::32, 3::32>>)
rport = other.(<<89, node_atom::binary, 7::32, 3::32>>)
rport4 = other.(<<120, node_atom::binary, 5_000_000_000::64, 3::32>>)
broken = Enum.with_index(Corpus.Hand.broken(), fn t, i -> {"broken:#{i}", t} end)
remote = Enum.with_index([rpid, rref, rport, rport4, {rpid, [rref]}, %{rpid => rport}], fn t, i -> {"remote:#{i}", t} end)
random = Enum.map(1..random_count//1, fn i -> {"random:#{i}", Corpus.Gen.term(:rand.uniform(4))} end)

{:ok, out} = File.open(out_path, [:write, :binary, :raw])
sets = Corpus.Opts.sets()
names = Enum.map_join(sets, ",", fn {name, _} -> Atom.to_string(name) end)
IO.binwrite(out, <<byte_size(names)::32, names::binary>>)
for {id, term} <- hand ++ broken ++ remote ++ random do
  etf = :erlang.term_to_binary(term)
  meta = :erlang.term_to_binary(Corpus.Meta.collect(term))
  results =
    for {_, opts} <- sets do
      case (try do {0, inspect(term, opts)} rescue e -> {1, Exception.message(e)} end) do
        {status, text} -> <<status, byte_size(text)::32, text::binary>>
      end
    end
  IO.binwrite(out, [<<byte_size(id)::32, id::binary, byte_size(etf)::32, etf::binary,
    byte_size(meta)::32, meta::binary>> | results])
end
File.close(out)
`;

/** Prints the TypeScript source of src/erlang/inspect/identTable.ts from the installed Elixir. */
export const IDENT_TABLE_SCRIPT = String.raw`# Emits src/erlang/inspect/identTable.ts: the Unicode identifier tables of this Elixir's String.Tokenizer.
path = :code.which(String.Tokenizer)
{:ok, {_, [debug_info: {:debug_info_v1, backend, data}]}} = :beam_lib.chunks(path, [:debug_info])
{:ok, %{definitions: defs}} = backend.debug_info(:elixir_v1, String.Tokenizer, data, [])
tables =
  for name <- [:unicode_start, :unicode_upper, :unicode_continue] do
    {_, _, _, clauses} = Enum.find(defs, fn {{n, a}, _, _, _} -> n == name and a == 1 end)
    rows =
      Enum.flat_map(clauses, fn
        {_, [cp], [], value} when is_integer(cp) and is_integer(value) -> [{cp, cp, value}]
        {_, [{_, _, _}], [{{:., _, [:erlang, :andalso]}, _, [_, {{:., _, [:erlang, :andalso]}, _, [{_, _, [_, lo]}, {_, _, [_, hi]}]}]}], value}
        when is_integer(value) -> [{lo, hi, value}]
        {_, [{_, _, _}], [], 0} -> []
        other -> raise "unexpected clause shape in String.Tokenizer.#{name}: #{inspect(other)}"
      end)
      |> Enum.sort()
      |> Enum.reduce([], fn
        {lo, hi, v}, [{plo, phi, v} | acc] when lo == phi + 1 -> [{plo, hi, v} | acc]
        row, acc -> [row | acc]
      end)
      |> Enum.reverse()
    {name, rows}
  end
sets = tables |> Enum.flat_map(fn {_, rows} -> Enum.map(rows, &elem(&1, 2)) end) |> Enum.uniq() |> Enum.sort()
index = sets |> Enum.with_index() |> Map.new()
encode = fn rows ->
  rows
  |> Enum.map(fn {lo, hi, v} ->
    r = if lo == hi, do: Integer.to_string(lo, 36), else: Integer.to_string(lo, 36) <> "-" <> Integer.to_string(hi - lo, 36)
    r <> ":" <> Integer.to_string(index[v], 36)
  end)
  |> Enum.chunk_every(12)
  |> Enum.map_join("\n", fn chunk -> "  '" <> Enum.join(chunk, " ") <> " ' +" end)
end
out = [
  "// GENERATED from Elixir #{System.version()}'s String.Tokenizer (unicode_start/upper/continue) by\n",
  "// IDENT_TABLE_SCRIPT in test/support/elixirScript.ts; test/inspectIdentTable.test.ts checks it. Do not edit.\n",
  "// Each entry is 'lo[-span]:set' in base 36: code points lo..lo+span map to SCRIPTSETS[set].\n\n",
  "export const ELIXIR_VERSION = '#{System.version()}';\n\n",
  "/** Script-set bit masks (UAX #31 recommended scripts; bit 0 is Latin), as decimal strings. */\n",
  "export const SCRIPTSETS: readonly string[] = [\n",
  Enum.map(sets, fn s -> "  '#{s}',\n" end),
  "];\n",
  Enum.map(tables, fn {name, rows} ->
    const = name |> Atom.to_string() |> String.replace_prefix("unicode_", "") |> String.upcase()
    ["\nexport const #{const} =\n", encode.(rows), "\n  '';\n"]
  end)
]
IO.write(IO.iodata_to_binary(out))
`;

/** Prints random floats and atoms with their inspect/2 forms: `elixir script.exs COUNT SEED`. */
export const SCALARS_SCRIPT = String.raw`# Prints, one per line, random floats and atoms with what inspect/2 makes of them (fields in base64):
#   F <8 bytes of the float> <inspect(float)>
#   A <UTF-8 name> <inspect(atom)> <inspect([{atom, 1}])> <inspect(&:m.atom/0)>
# Usage: elixir scalars.exs COUNT SEED
[count, seed] = Enum.map(System.argv(), &String.to_integer/1)
:rand.seed(:exsss, {seed, seed + 1, seed + 2})
b64 = &Base.encode64/1

defmodule Scalars do
  # Ranges of code points that Elixir identifiers may or may not accept: letters of many scripts, marks,
  # digits, punctuation, symbols, emoji, and ASCII.
  @ranges [?a..?z, ?A..?Z, ?0..?9, [?_, ?@, ?!, ??, ?., ?-, ?\s, ?", ?\\], 0xC0..0x24F, 0x300..0x36F,
           0x370..0x3FF, 0x400..0x4FF, 0x530..0x58F, 0x5D0..0x5EA, 0x620..0x669, 0x900..0x97F,
           0xE00..0xE5B, 0x10A0..0x10FF, 0x1100..0x11FF, 0x1E00..0x1EFF, 0x2000..0x206F,
           0x2100..0x214F, 0x3040..0x30FF, 0x4E00..0x4E80, 0xAC00..0xAC80, 0xFB00..0xFB06,
           0xFF10..0xFF5A, 0x1F600..0x1F64F, 0x1D400..0x1D4FF, [0xB5, 0xAA, 0xBA, 0x2118, 0x212E, 0x309B]]

  def char do
    r = Enum.at(@ranges, :rand.uniform(length(@ranges)) - 1)
    Enum.at(Enum.to_list(r), :rand.uniform(Enum.count(r)) - 1)
  end

  def atom do
    case :rand.uniform(4) do
      1 -> Enum.map(1..:rand.uniform(5), fn _ -> char() end)
      2 -> [Enum.random(?a..?z) | Enum.map(1..:rand.uniform(4), fn _ -> char() end)]
      3 -> [char() | Enum.map(1..:rand.uniform(3), fn _ -> Enum.random(?a..?z) end)]
      4 -> [char(), char()]
    end
    |> List.to_string()
    |> String.to_atom()
  end

  def float do
    case :rand.uniform(4) do
      1 ->
        <<f::float>> = <<:rand.uniform(0x7FEFFFFFFFFFFFFF)::64>>
        if :rand.uniform(2) == 1, do: f, else: -f
      2 -> (:rand.uniform() - 0.5) * :math.pow(10, :rand.uniform(44) - 22)
      3 -> Float.round(:rand.uniform() * :math.pow(10, :rand.uniform(8)), :rand.uniform(6))
      4 -> :rand.uniform(Bitwise.bsl(1, 53)) * :math.pow(2, :rand.uniform(130) - 65) |> Kernel.*(1.0)
    end
  end
end


for _ <- 1..count do
  f = Scalars.float()
  IO.puts("F #{b64.(<<f::float>>)} #{b64.(inspect(f))}")
  a = Scalars.atom()
  cap = inspect(Function.capture(:m, a, 0))
  IO.puts("A #{b64.(Atom.to_string(a))} #{b64.(inspect(a))} #{b64.(inspect([{a, 1}]))} #{b64.(cap)}")
end
`;
