defmodule Corpus.Flows do
  @moduledoc """
  `with`/`else` and pipes: long chains, pipes into `case` and `then`, and a `with` whose clauses
  bind, guard and fall through to `else`.
  """

  def parse_user(map) do
    with {:ok, name} when is_binary(name) <- Map.fetch(map, :name),
         {:ok, age} <- Map.fetch(map, :age),
         true <- is_integer(age) and age >= 0,
         label = String.upcase(name) do
      {:ok, %{label: label, age: age}}
    else
      :error -> {:error, :missing_field}
      {:ok, not_binary} -> {:error, {:bad_name, not_binary}}
      false -> {:error, :bad_age}
    end
  end

  def with_no_else(a, b) do
    with {:ok, x} <- a,
         {:ok, y} <- b do
      x + y
    end
  end

  def chain(list) do
    list
    |> Enum.map(&(&1 * 3))
    |> Enum.filter(&(rem(&1, 2) == 0))
    |> Enum.reverse()
    |> Enum.with_index()
    |> Enum.map(fn {v, i} -> v + i end)
    |> Enum.sum()
    |> Integer.to_string()
    |> String.pad_leading(6, "0")
  end

  def pipe_into_case(n) do
    n
    |> rem(3)
    |> case do
      0 -> :fizz
      1 -> :one_left
      _ -> :two_left
    end
  end

  def pipe_into_then(s) do
    s
    |> String.split(",", trim: true)
    |> Enum.map(&String.trim/1)
    |> then(fn parts -> {length(parts), parts} end)
    |> then(&elem(&1, 0))
  end

  def pipe_with_ifs(x) do
    x
    |> Kernel.+(1)
    |> (fn y -> if y > 10, do: :big, else: y end).()
  end

  def cond_chain(x) do
    cond do
      x < 0 -> :neg
      x == 0 -> :zero
      x < 10 and rem(x, 2) == 0 -> :small_even
      x < 10 -> :small_odd
      true -> :large
    end
  end

  def unless_if(x) do
    a = if x, do: :truthy
    b = unless x, do: :falsy, else: :not_falsy
    {a, b}
  end
end
