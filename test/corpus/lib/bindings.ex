defmodule Corpus.Bindings do
  @moduledoc """
  Pinned (`^x`) and shadowed variables: rebinding in case branches, variables of the same name in
  fn heads, a variable rebound many times in one body. An instrumenter that captures locals must
  show each binding as the code sees it at that line, and must not change which one a pin refers to.
  """

  def match_pinned(expected, value) do
    case value do
      ^expected -> :same
      {^expected, other} -> {:first_is, other}
      _ -> :different
    end
  end

  def rebind(x) do
    x = x + 1
    x = x * 2
    y = x
    x = x - 3
    {x, y}
  end

  def shadow_in_case(x) do
    result =
      case x do
        {:wrap, x} -> x * 10
        x when is_integer(x) -> x + 1
        x -> {:other, x}
      end

    {x, result}
  end

  def shadow_in_fn(x, list) do
    Enum.map(list, fn x -> x + 100 end) ++ [x]
  end

  def pin_in_fn(key, pairs) do
    Enum.filter(pairs, fn
      {^key, _} -> true
      _ -> false
    end)
  end

  def closure_captures(x) do
    f = fn -> x end
    x = x * 1000
    {f.(), x}
  end

  def rebind_in_if(flag, x) do
    x =
      if flag do
        x = x + 1
        x * 2
      else
        x
      end

    x
  end

  def pin_in_binary(size, bin) do
    case bin do
      <<^size::8, rest::binary>> -> {:sized, rest}
      _ -> :other
    end
  end

  def pin_map_key(key, map) do
    case map do
      %{^key => v} -> {:found, v}
      %{} -> :missing
    end
  end

  # Identifiers outside ASCII are legal Elixir; a quoted form carries them as atoms like any other.
  def unicode_names(x) do
    café = x * 2
    größe = café + 1
    {café, größe}
  end

  def same_var_twice({a, a}), do: {:equal, a}
  def same_var_twice({a, b}), do: {:differ, a, b}
end
