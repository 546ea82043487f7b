defmodule Corpus.Definitions do
  @moduledoc """
  Ways of defining functions that an instrumenter meets less often: `defdelegate`, `defguard` and
  `defguardp`, a custom operator, an inlined function, a def whose body is an implicit `try`
  (`rescue`/`catch`/`else`/`after` straight on the def), heads spread over several lines, a
  function without a body (defaults-only head), lexical `import`/`alias`/`require` inside a body,
  and zero-arity calls written without parentheses.
  """

  import Bitwise, only: [band: 2]

  defguard is_even(n) when is_integer(n) and band(n, 1) == 0
  defguardp is_small(n) when n in -9..9

  defdelegate split(string, pattern), to: String
  defdelegate upcase_it(string), to: String, as: :upcase

  @compile {:inline, clamp: 3}
  def clamp(x, lo, hi), do: x |> max(lo) |> min(hi)

  def kind(n) when is_even(n) and is_small(n), do: :small_even
  def kind(n) when is_even(n), do: :even
  def kind(n) when is_small(n), do: :small_odd
  def kind(_), do: :odd

  def a <~> b, do: {:joined, a, b}

  def use_operator(x, y), do: x <~> y <~> :end

  # The body is an implicit try: rescue, catch, else and after hang on the def itself.
  def implicit_try(fun) do
    fun.()
  rescue
    e in ArgumentError -> {:rescued, e.message}
  catch
    :throw, v -> {:caught, v}
  else
    v -> {:value, v}
  after
    send(self(), :implicit_after)
  end

  def long_head(
        %{name: name} = _person,
        [first | _] = list,
        opts
      )
      when is_binary(name) and
             is_list(opts) and
             length(list) > 1 do
    {name, first, Keyword.get(opts, :tag, :none)}
  end

  def lexical(x) do
    import String, only: [reverse: 1]
    alias Corpus.Definitions, as: D
    require Integer

    {reverse(x), D.kind(4), Integer.is_odd(3)}
  end

  def no_parens, do: :called
  def calls_no_parens, do: {no_parens(), __MODULE__.no_parens()}

  def clamp_all(list), do: Enum.map(list, &clamp(&1, 0, 10))
end
