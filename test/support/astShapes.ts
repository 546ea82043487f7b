/**
 * A module written to use every construct the transformer must leave working (see
 * test/ast-semantics.test.ts), a runner that captures a call's result or exception with its
 * stacktrace and the messages it left, and the calls both versions are compared on.
 */

export const SHAPES = `defmodule Shapes do
  @moduledoc "Shapes for the transformer's tests."
  @factor 3
  use Agent
  require Integer

  defstruct [:w, :h]

  defmacro double(x), do: quote(do: unquote(x) * 2)

  def area(%__MODULE__{w: w, h: h}), do: w * h
  def area({:circle, r}) when is_number(r) and r > 0, do: 3 * r * r
  def area(other), do: {:error, other}

  def scale(x, by \\\\ @factor), do: x * by

  def greet(name, greeting \\\\ "hello")
  def greet(nil, _greeting), do: :nobody
  def greet(name, greeting), do: "#{greeting}, #{name}"

  defp secret(x), do: x + 1
  def uses_secret(x), do: x |> secret() |> Kernel.*(2)

  def waits(timeout) do
    receive do
      {:msg, m} -> {:got, m}
    after
      timeout -> :timeout
    end
  end

  def echo(m) do
    send(self(), {:msg, m})
    waits(100)
  end

  def safe_div(a, b) do
    try do
      div(a, b)
    rescue
      e in ArithmeticError -> {:error, e.message}
    catch
      :throw, v -> {:thrown, v}
    else
      q when q > 10 -> {:big, q}
      q -> {:ok, q}
    after
      send(self(), :cleaned)
    end
  end

  def implicit_try(x) do
    if x == :ok, do: x, else: throw(x)
  catch
    v -> {:caught, v}
  end

  def chain(m) do
    with {:ok, a} <- Map.fetch(m, :a),
         b = a * 2,
         {:ok, c} when c > 0 <- Map.fetch(m, :c) do
      a + b + c
    else
      :error -> :missing
      {:ok, c} -> {:bad_c, c}
    end
  end

  def no_else_with(m) do
    with {:ok, a} <- Map.fetch(m, :a), do: a
  end

  def comp(list) do
    for x <- list, Integer.is_even(x), into: %{}, do: {x, x * x}
  end

  def bits(<<len::8, payload::binary-size(len), rest::binary>>), do: {payload, rest}

  def pin(x, list) do
    Enum.filter(list, fn
      ^x -> false
      _ -> true
    end)
  end

  def shadow(x) do
    x = x + 1
    f = fn x -> x * 10 end
    {x, f.(x)}
  end

  def conds(n) do
    cond do
      n < 0 -> :neg
      n == 0 -> :zero
      true -> :pos
    end
  end

  def maybe(x) do
    unless x, do: :no
  end

  def total(list), do: for(x <- list, reduce: 0, do: (acc -> acc + x))

  def crash(x), do: helper_crash(x)
  defp helper_crash(x), do: :erlang.error({:boom, x})
  def crash_arith(x), do: 1 / x
  def crash_raise(x), do: raise(ArgumentError, "bad #{x}")
  def crash_match(x) do
    {:ok, y} = x
    y
  end
  def crash_clause(x) when is_atom(x), do: x
  def exits(x), do: exit({:bye, x})
  def throws(x), do: throw({:t, x})
  def crash_remote(x), do: String.upcase(x)

  def unquote(:dyn_name)(x), do: {:dyn, x}
  def attr, do: @factor
end
`;

export const RUNNER = `defmodule Runner do
  def capture(m, f, a) do
    try do
      {:ok, apply(m, f, a), flush()}
    catch
      kind, reason -> {kind, reason, __STACKTRACE__, flush()}
    end
  end

  defp flush do
    receive do
      :cleaned -> [:cleaned | flush()]
    after
      0 -> []
    end
  end
end
`;

/** Calls run against both versions. Arguments as Elixir code. */
export const CALLS: Array<[string, string]> = [
  ['area', '[%Shapes{w: 2, h: 3}]'],
  ['area', '[{:circle, 2}]'],
  ['area', '[{:circle, -1}]'],
  ['scale', '[2]'],
  ['scale', '[2, 5]'],
  ['greet', '[nil]'],
  ['greet', '["bob"]'],
  ['greet', '["bob", "hi"]'],
  ['uses_secret', '[4]'],
  ['waits', '[0]'],
  ['echo', '[:x]'],
  ['safe_div', '[100, 3]'],
  ['safe_div', '[6, 3]'],
  ['safe_div', '[1, 0]'],
  ['implicit_try', '[:ok]'],
  ['implicit_try', '[:nope]'],
  ['chain', '[%{a: 1, c: 2}]'],
  ['chain', '[%{a: 1}]'],
  ['chain', '[%{a: 1, c: -1}]'],
  ['no_else_with', '[%{a: 7}]'],
  ['no_else_with', '[%{}]'],
  ['comp', '[[1, 2, 3, 4]]'],
  ['bits', '[<<3, "abcde">>]'],
  ['pin', '[2, [1, 2, 3, 2]]'],
  ['shadow', '[1]'],
  ['conds', '[-5]'],
  ['conds', '[0]'],
  ['conds', '[5]'],
  ['maybe', '[false]'],
  ['maybe', '[true]'],
  ['total', '[[1, 2, 3]]'],
  ['crash', '[1]'],
  ['crash_arith', '[0]'],
  ['crash_raise', '[:x]'],
  ['crash_match', '[:error]'],
  ['crash_clause', '["string"]'],
  ['exits', '[1]'],
  ['throws', '[1]'],
  ['bits', '[<<9, "ab">>]'],
  ['dyn_name', '[1]'],
  ['attr', '[]'],
  ['start_link', '[fn -> 1 end]'],
];

