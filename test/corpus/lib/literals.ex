defmodule Corpus.Literals do
  @moduledoc """
  Literals that a quoted form must carry across unchanged: integers in every base and beyond 2^64,
  floats that look like integers, quoted atoms, char literals, keyword lists with quoted keys,
  ranges with steps, nested data in module attributes, and strings with escapes.
  """

  @table %{list: [1, 2.0, "three", :four, 'five'], tuple: {:a, {:b, {:c}}}, nested: %{"k" => [x: 1]}}

  def integers, do: [0x1F, 0o17, 0b1010, 1_000_000, 18_446_744_073_709_551_616, -9_007_199_254_740_993]

  def floats, do: [1.0, 0.1, 1.0e3, 2.5e-3, 123_456.789, 1.0e100]

  def atoms, do: [:"hello world", :"with-dash", :ok?, :"Elixir.Not.Loaded", :+, :"", true, nil]

  def chars, do: [?a, ?\s, ?\n, ?é, ?\\]

  def keywords, do: ["quoted key": 1, plain: 2, "with-dash": 3]

  def ranges, do: {Enum.to_list(1..10//3), Enum.to_list(10..1//-4), Enum.count(1..0//1)}

  def table, do: @table

  def escapes, do: "tab\there\nnewline \"quoted\" \\ back \u00e9 \x41 \#{not}"

  def big_arith(x), do: x * 18_446_744_073_709_551_616 + 1

  def float_int_equal, do: {1.0 == 1, 1.0 === 1, 3 / 1}
end
