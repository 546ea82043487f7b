defmodule Corpus.Recursion do
  @moduledoc """
  A tail-recursive loop run 10,000,000 times (an instrumenter that wraps each call in a frame or
  waits for each return turns this into 10 million frames), a body-recursive function, mutual
  tail recursion, and an accumulator loop over a list.
  """

  def count_loop(n), do: count_loop(n, 0, 0)

  defp count_loop(0, acc, checks), do: {acc, checks}

  defp count_loop(n, acc, checks) when rem(n, 1_000_000) == 0,
    do: count_loop(n - 1, acc + rem(n, 7), checks + 1)

  defp count_loop(n, acc, checks), do: count_loop(n - 1, acc + rem(n, 7), checks)

  def body_sum([]), do: 0
  def body_sum([h | t]), do: h + body_sum(t)

  def body_depth(0), do: []
  def body_depth(n), do: [n | body_depth(n - 1)]

  def even?(0), do: true
  def even?(n) when n > 0, do: odd?(n - 1)

  def odd?(0), do: false
  def odd?(n) when n > 0, do: even?(n - 1)

  def fib(n), do: fib(n, 0, 1)
  defp fib(0, a, _b), do: a
  defp fib(n, a, b), do: fib(n - 1, b, a + b)

  def ackermann(0, n), do: n + 1
  def ackermann(m, 0) when m > 0, do: ackermann(m - 1, 1)
  def ackermann(m, n) when m > 0 and n > 0, do: ackermann(m - 1, ackermann(m, n - 1))

  def flatten_deep(list), do: flatten_deep(list, []) |> Enum.reverse()
  defp flatten_deep([], acc), do: acc
  defp flatten_deep([h | t], acc) when is_list(h), do: flatten_deep(t, flatten_deep(h, acc))
  defp flatten_deep([h | t], acc), do: flatten_deep(t, [h | acc])
end
