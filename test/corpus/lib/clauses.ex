defmodule Corpus.Clauses do
  @moduledoc """
  Several clauses with guards, default arguments, several arities of one name, private functions
  and variables that look unused (`_x`). An instrumenter that wraps each clause must keep the clause
  order, the guards and the defaults' generated heads intact.
  """

  def classify(n) when is_integer(n) and n < 0, do: :negative
  def classify(0), do: :zero
  def classify(n) when is_integer(n) and rem(n, 2) == 0, do: {:even, div(n, 2)}
  def classify(n) when is_integer(n), do: {:odd, n}
  def classify(f) when is_float(f) and f > 0.0, do: {:float, Float.round(f, 2)}
  def classify(other) when is_binary(other) or is_atom(other), do: {:named, other}

  # The head with defaults generates greet/1 and greet/2 that call greet/3.
  def greet(name, greeting \\ "Hello", punctuation \\ "!")

  def greet(name, greeting, punctuation) when is_binary(name) do
    greeting <> ", " <> name <> punctuation
  end

  def greet(name, greeting, punctuation) when is_atom(name) do
    greet(Atom.to_string(name), greeting, punctuation)
  end

  # Same name, different arities, one calling the other.
  def area({:square, side}), do: area({:rect, side, side})
  def area({:rect, w, h}), do: w * h
  def area(w, h), do: area({:rect, w, h})
  def area(w, h, :triangle), do: div(w * h, 2)

  def total(items), do: sum_private(items, 0)

  defp sum_private([], acc), do: acc
  defp sum_private([{_name, price, qty} | rest], acc), do: sum_private(rest, acc + price * qty)
  defp sum_private([_skipped | rest], acc), do: sum_private(rest, acc)

  # `_x` is bound and ignored; `_ignored` is bound in a match and then not used.
  def second(_x, y), do: y

  def pick(_first, _second = {:keep, value}), do: value
  def pick(_first, _), do: :none

  def unused_match(list) do
    [_head | tail] = list
    _count = length(tail)
    tail
  end

  def guard_in(x) when x in [:a, :b, :c], do: :listed
  def guard_in(x) when x in 1..10, do: :ranged
  def guard_in(_), do: :other

  def multi_guard(x) when is_integer(x) when is_float(x), do: :number
  def multi_guard(_), do: :not_number
end
