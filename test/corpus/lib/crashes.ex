defmodule Corpus.Crashes do
  @moduledoc """
  Functions that raise from a known line: ArithmeticError, FunctionClauseError (public and private),
  CaseClauseError, MatchError, KeyError, WithClauseError, CondClauseError, BadMapError,
  UndefinedFunctionError and a raise from inside a fn. Their stacktraces must keep pointing at these
  lines after instrumentation.
  """

  def divide(a, b) do
    scaled = a * 10
    div(scaled, b)
  end

  def add_atom(x) do
    x + String.to_existing_atom("ok")
  end

  def only_positive(n) when n > 0, do: n

  def via_private(x), do: private_clause(x)

  defp private_clause(:a), do: 1
  defp private_clause(:b), do: 2

  def case_clause(x) do
    case x do
      :one -> 1
      :two -> 2
    end
  end

  def match_error(x) do
    {:ok, value} = x
    value
  end

  def key_error(map) do
    map.missing
  end

  def fetch_key(map, key), do: Map.fetch!(map, key)

  def with_clause(x) do
    with {:ok, y} <- x do
      y
    else
      {:error, _} = e -> e
    end
  end

  def cond_clause(x) do
    cond do
      x == 1 -> :one
      x == 2 -> :two
    end
  end

  def bad_map(x) do
    %{x | a: 1}
  end

  def in_fn(list) do
    Enum.map(list, fn x ->
      100 / x
    end)
  end

  def deep(0), do: raise(ArgumentError, "deep bottom")
  def deep(n), do: 1 + deep(n - 1)
end
