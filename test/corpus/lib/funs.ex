defmodule Corpus.Funs do
  @moduledoc """
  Anonymous functions and captures: `&name/arity` of local, remote and private functions,
  `&(&1 + 1)`, captures with several placeholders, multi-clause fns with guards, closures over
  several variables, fns returning fns, and recursion through a fn given itself.
  """

  def double(x), do: x * 2
  defp triple(x), do: x * 3

  def captures(list) do
    {Enum.map(list, &double/1), Enum.map(list, &triple/1), Enum.map(list, &Integer.to_string/1),
     Enum.map(list, &(&1 + 1)), Enum.map(list, &{&1, &1 * &1})}
  end

  def capture_two(a, b), do: Enum.zip_with(a, b, &(&1 * 10 + &2))

  def multi_clause do
    f = fn
      {:ok, v} when v > 10 -> {:big, v}
      {:ok, v} -> {:small, v}
      :error -> :error
      other -> {:unknown, other}
    end

    Enum.map([{:ok, 50}, {:ok, 1}, :error, :what], f)
  end

  def adder(n), do: fn x -> x + n end

  def compose(f, g), do: fn x -> g.(f.(x)) end

  def composed(x) do
    h = compose(adder(3), &double/1)
    h.(x)
  end

  def closure_many(a, b, c) do
    f = fn x -> {a + x, b <> to_string(x), [c | List.wrap(x)]} end
    f.(1)
  end

  # A fn can not name itself; it receives itself as an argument.
  def fact_fn(n) do
    fact = fn
      0, _self -> 1
      k, self -> k * self.(k - 1, self)
    end

    fact.(n, fact)
  end

  def apply_captured(m, f, args), do: apply(Function.capture(m, f, length(args)), args)

  def arity_of(f), do: :erlang.fun_info(f)[:arity]

  def reduce_with_capture(list), do: Enum.reduce(list, 0, &+/2)
end
