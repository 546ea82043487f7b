defmodule Corpus.Comprehensions do
  @moduledoc """
  `for` with several generators and filters, pattern generators that skip non-matching elements,
  `into:` (map, string, MapSet), `reduce:`, `uniq:` and binary generators.
  """

  def pairs(n) do
    for x <- 1..n, y <- x..n, rem(x + y, 3) == 0, do: {x, y}
  end

  def only_oks(results) do
    for {:ok, v} <- results, is_integer(v), do: v * v
  end

  def index_map(words) do
    for {w, i} <- Enum.with_index(words), into: %{}, do: {w, i}
  end

  def shout(words) do
    for w <- words, w != "", into: "", do: String.upcase(w) <> "!"
  end

  def word_lengths(words) do
    for w <- words, reduce: %{} do
      acc -> Map.update(acc, String.length(w), [w], &[w | &1])
    end
  end

  def running_max(list) do
    for x <- list, reduce: {nil, []} do
      {nil, seen} -> {x, [x | seen]}
      {m, seen} when x > m -> {x, [x | seen]}
      {m, seen} -> {m, [m | seen]}
    end
  end

  def bytes_plus_one(bin) do
    for <<b <- bin>>, into: <<>>, do: <<b + 1>>
  end

  def rgb_pixels(bin) do
    for <<r::8, g::8, b::8 <- bin>>, do: {r, g, b}
  end

  def codepoints(str) do
    for <<c::utf8 <- str>>, c > 127, do: c
  end

  def unique_squares(list) do
    for x <- list, uniq: true, do: x * x
  end

  def into_mapset(list) do
    for x <- list, into: MapSet.new(), do: rem(x, 4)
  end

  def nested_filter(matrix) do
    for row <- matrix, x <- row, x > 0, y = x * 2, y < 20, do: y
  end
end
