defmodule Corpus.Quoting do
  @moduledoc """
  Code that works with code at run time: `quote`/`unquote` in a function body (an instrumenter must
  not instrument inside a quote), `Macro.to_string` of it, `Code.eval_quoted`, and the compile-time
  environment read from a body (`__MODULE__`, `__ENV__.function`, `__ENV__.line`), which must still
  say this module, this function and this line after instrumentation.
  """

  def quoted(x) do
    quote do
      unquote(x) + unquote(Macro.var(:y, nil)) * 2
    end
  end

  def quoted_text(x), do: x |> quoted() |> Macro.to_string()

  def evaluated(x, y) do
    {value, _binding} = Code.eval_quoted(quoted(x), y: y)
    value
  end

  def where_am_i do
    {__MODULE__, __ENV__.function, __ENV__.line}
  end

  def where_with_arg(_arg) do
    line = __ENV__.line
    {__ENV__.function, line}
  end

  def macro_expanded do
    ast = quote do: unless(true, do: 1)
    ast |> Macro.expand_once(__ENV__) |> Macro.to_string()
  end

  def escape(term), do: term |> Macro.escape() |> Code.eval_quoted() |> elem(0)
end
