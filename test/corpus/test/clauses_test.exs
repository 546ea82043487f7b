defmodule Corpus.ClausesTest do
  use ExUnit.Case, async: false
  alias Corpus.{Clauses, Observe}

  test "classify picks the clause by guard" do
    assert Observe.value("clauses.classify.negative", fn -> Clauses.classify(-3) end) == :negative
    assert Observe.value("clauses.classify.zero", fn -> Clauses.classify(0) end) == :zero
    assert Observe.value("clauses.classify.even", fn -> Clauses.classify(10) end) == {:even, 5}
    assert Observe.value("clauses.classify.odd", fn -> Clauses.classify(7) end) == {:odd, 7}
    assert Observe.value("clauses.classify.float", fn -> Clauses.classify(2.345) end) == {:float, 2.35}
    assert Observe.value("clauses.classify.binary", fn -> Clauses.classify("x") end) == {:named, "x"}
    assert Observe.value("clauses.classify.atom", fn -> Clauses.classify(:y) end) == {:named, :y}
  end

  test "classify has no clause for a negative float" do
    assert_raise FunctionClauseError, fn ->
      Observe.value("clauses.classify.no_clause", fn -> Clauses.classify(-1.0) end)
    end
  end

  test "defaults fill in from the right" do
    assert Observe.value("clauses.greet.1", fn -> Clauses.greet("Ann") end) == "Hello, Ann!"
    assert Observe.value("clauses.greet.2", fn -> Clauses.greet("Bo", "Hi") end) == "Hi, Bo!"
    assert Observe.value("clauses.greet.3", fn -> Clauses.greet(:cy, "Yo", "?") end) == "Yo, cy?"
  end

  test "several arities of one name" do
    assert Observe.value("clauses.area.square", fn -> Clauses.area({:square, 4}) end) == 16
    assert Observe.value("clauses.area.2", fn -> Clauses.area(3, 5) end) == 15
    assert Observe.value("clauses.area.triangle", fn -> Clauses.area(3, 5, :triangle) end) == 7
  end

  test "private recursion skips malformed items" do
    items = [{"pen", 2, 3}, :junk, {"ink", 5, 1}]
    assert Observe.value("clauses.total", fn -> Clauses.total(items) end) == 11
  end

  test "underscored variables" do
    assert Observe.value("clauses.second", fn -> Clauses.second(:ignored, :kept) end) == :kept
    assert Observe.value("clauses.pick.keep", fn -> Clauses.pick(1, {:keep, 9}) end) == 9
    assert Observe.value("clauses.pick.none", fn -> Clauses.pick(1, 2) end) == :none
    assert Observe.value("clauses.unused_match", fn -> Clauses.unused_match([1, 2, 3]) end) == [2, 3]
  end

  test "in and multiple when in guards" do
    assert Observe.value("clauses.guard_in", fn -> Enum.map([:b, 5, 11], &Clauses.guard_in/1) end) ==
             [:listed, :ranged, :other]

    assert Observe.value("clauses.multi_guard", fn -> Enum.map([1, 1.5, "1"], &Clauses.multi_guard/1) end) ==
             [:number, :number, :not_number]
  end
end
