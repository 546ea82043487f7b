defmodule Corpus.RecursionTest do
  use ExUnit.Case, async: false
  alias Corpus.{Observe, Recursion}

  test "a tail-recursive loop of 10,000,000 iterations" do
    # sum of rem(n, 7) for n in 1..10_000_000, and the 10 multiples of a million.
    assert Observe.value("rec.count_loop", fn -> Recursion.count_loop(10_000_000) end) == {29_999_997, 10}
  end

  test "body recursion" do
    assert Observe.value("rec.body_sum", fn -> Recursion.body_sum(Enum.to_list(1..10_000)) end) == 50_005_000
    assert Observe.value("rec.body_depth", fn -> Recursion.body_depth(5) end) == [5, 4, 3, 2, 1]
  end

  test "mutual tail recursion" do
    assert Observe.value("rec.even", fn -> {Recursion.even?(100_001), Recursion.odd?(100_001)} end) == {false, true}
    assert_raise FunctionClauseError, fn -> Observe.value("rec.even.negative", fn -> Recursion.even?(-1) end) end
  end

  test "accumulator loops" do
    assert Observe.value("rec.fib", fn -> Recursion.fib(100) end) == 354_224_848_179_261_915_075
    assert Observe.value("rec.ackermann", fn -> Recursion.ackermann(2, 3) end) == 9
    assert Observe.value("rec.flatten", fn -> Recursion.flatten_deep([1, [2, [3, [4]], 5], [[6]]]) end) == [1, 2, 3, 4, 5, 6]
  end
end
