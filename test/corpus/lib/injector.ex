defmodule Corpus.Injector do
  @moduledoc """
  A small macro module: `use Corpus.Injector, prefix: "p"` injects functions into the caller, one of
  them overridable, so the caller's module holds code written here (with this file's lines).
  """

  defmacro __using__(opts) do
    prefix = Keyword.get(opts, :prefix, "none")

    quote do
      @injected_prefix unquote(prefix)

      def injected_name, do: @injected_prefix <> "-" <> inspect(__MODULE__)

      def injected_double(x) when is_integer(x), do: x * 2

      def injected_label(x), do: "label:" <> to_string(x)

      defoverridable injected_label: 1
    end
  end

  defmacro defconst(name, value) do
    quote do
      def unquote(name)(), do: unquote(value)
    end
  end
end
