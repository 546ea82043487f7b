defmodule Corpus.Generated do
  @moduledoc """
  Functions that come from macros: a module-level `for` defining `def unquote(name)()`, a `use` that
  injects functions (one overridden here), and a local macro call that expands to a def.
  """

  use Corpus.Injector, prefix: "gen"
  require Corpus.Injector

  @colors [red: 0xFF0000, green: 0x00FF00, blue: 0x0000FF]

  for {name, value} <- @colors do
    def unquote(name)(), do: unquote(value)

    def unquote(:"#{name}_hex")() do
      Integer.to_string(unquote(value), 16) |> String.pad_leading(6, "0")
    end
  end

  def color_names, do: Keyword.keys(@colors)

  for {name, arity} <- [one: 1, two: 2] do
    args = Macro.generate_arguments(arity, __MODULE__)

    def unquote(:"sum_#{name}")(unquote_splicing(args)) do
      Enum.sum([unquote_splicing(args)])
    end
  end

  Corpus.Injector.defconst(:answer, 42)

  def injected_label(x), do: "overridden:" <> super(x)
end
