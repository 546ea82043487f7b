defmodule Corpus.QuotingTest do
  use ExUnit.Case, async: false
  alias Corpus.{Observe, Quoting}

  test "quote and unquote at run time" do
    # The quoted form itself, metadata included: instrumentation must leave a quote's body alone.
    assert {:+, _, [3, {:*, _, [{:y, _, nil}, 2]}]} = Observe.value("quote.raw", fn -> Quoting.quoted(3) end)
    assert Observe.value("quote.text", fn -> Quoting.quoted_text(3) end) == "3 + y * 2"
    assert Observe.value("quote.eval", fn -> Quoting.evaluated(3, 4) end) == 11
    assert Observe.value("quote.expand", fn -> Quoting.macro_expanded() end) == "if true do\n  nil\nelse\n  1\nend"
    assert Observe.value("quote.escape", fn -> Quoting.escape(%{a: {1, [2]}}) end) == %{a: {1, [2]}}
  end

  test "the environment seen from a body" do
    {mod, fun, line} = Observe.value("quote.where", fn -> Quoting.where_am_i() end)
    assert {mod, fun} == {Corpus.Quoting, {:where_am_i, 0}}
    assert is_integer(line)
    {fun2, line2} = Observe.value("quote.where_arg", fn -> Quoting.where_with_arg(:x) end)
    assert fun2 == {:where_with_arg, 1}
    assert line2 > line
  end
end
