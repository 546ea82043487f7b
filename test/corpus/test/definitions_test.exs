defmodule Corpus.DefinitionsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Definitions, Observe}
  require Corpus.Definitions

  test "defguard and defguardp" do
    assert Observe.value("defs.kind", fn -> Enum.map([2, 20, 3, 33], &Definitions.kind/1) end) ==
             [:small_even, :even, :small_odd, :odd]

    assert Observe.value("defs.guard_outside", fn -> Enum.filter(1..6, &Definitions.is_even/1) end) == [2, 4, 6]
  end

  test "defdelegate" do
    assert Observe.value("defs.split", fn -> Definitions.split("a,b", ",") end) == ["a", "b"]
    assert Observe.value("defs.upcase_it", fn -> Definitions.upcase_it("ab") end) == "AB"
  end

  test "a custom operator and an inlined function" do
    assert Observe.value("defs.operator", fn -> Definitions.use_operator(1, 2) end) == {:joined, {:joined, 1, 2}, :end}
    assert Observe.value("defs.clamp", fn -> Definitions.clamp_all([-5, 5, 50]) end) == [0, 5, 10]
  end

  test "a def with an implicit try" do
    assert Observe.value("defs.implicit.value", fn -> Definitions.implicit_try(fn -> 1 end) end) == {:value, 1}
    assert_received :implicit_after
    assert Observe.value("defs.implicit.rescue", fn -> Definitions.implicit_try(fn -> raise ArgumentError, "no" end) end) ==
             {:rescued, "no"}

    assert_received :implicit_after
    assert Observe.value("defs.implicit.throw", fn -> Definitions.implicit_try(fn -> throw(:t) end) end) == {:caught, :t}
    assert_received :implicit_after
    assert catch_exit(Observe.value("defs.implicit.exit", fn -> Definitions.implicit_try(fn -> exit(:x) end) end)) == :x
    assert_received :implicit_after
  end

  test "a head over several lines, lexical import and alias, calls without parentheses" do
    assert Observe.value("defs.long_head", fn -> Definitions.long_head(%{name: "n"}, [1, 2], tag: :t) end) == {"n", 1, :t}

    assert_raise FunctionClauseError, fn ->
      Observe.value("defs.long_head.no_clause", fn -> Definitions.long_head(%{name: "n"}, [1], []) end)
    end

    assert Observe.value("defs.lexical", fn -> Definitions.lexical("abc") end) == {"cba", :small_even, true}
    assert Observe.value("defs.no_parens", fn -> Definitions.calls_no_parens() end) == {:called, :called}
  end
end
