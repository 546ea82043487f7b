defmodule Corpus.FunsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Funs, Observe}

  test "captures of local, private and remote functions and &(&1 ...)" do
    assert Observe.value("funs.captures", fn -> Funs.captures([1, 2]) end) ==
             {[2, 4], [3, 6], ["1", "2"], [2, 3], [{1, 1}, {2, 4}]}

    assert Observe.value("funs.capture_two", fn -> Funs.capture_two([1, 2], [3, 4]) end) == [13, 24]
    assert Observe.value("funs.reduce_plus", fn -> Funs.reduce_with_capture([1, 2, 3]) end) == 6
  end

  test "multi-clause fn with guards" do
    assert Observe.value("funs.multi_clause", fn -> Funs.multi_clause() end) ==
             [{:big, 50}, {:small, 1}, :error, {:unknown, :what}]
  end

  test "closures and composition" do
    assert Observe.value("funs.adder", fn -> Funs.adder(5).(1) end) == 6
    assert Observe.value("funs.composed", fn -> Funs.composed(4) end) == 14
    assert Observe.value("funs.closure_many", fn -> Funs.closure_many(1, "b", :c) end) == {2, "b1", [:c, 1]}
  end

  test "a fn that recurses through itself" do
    assert Observe.value("funs.fact_fn", fn -> Funs.fact_fn(20) end) == 2_432_902_008_176_640_000
  end

  test "dynamic captures and fun info" do
    assert Observe.value("funs.apply_captured", fn -> Funs.apply_captured(Funs, :double, [21]) end) == 42
    assert Observe.value("funs.arity", fn -> {Funs.arity_of(&Funs.double/1), Funs.arity_of(Funs.adder(1))} end) == {1, 1}
    # A fun as an observed value is kept as its module and arity.
    assert is_function(Observe.value("funs.value_is_fun", fn -> Funs.adder(2) end), 1)
  end
end
