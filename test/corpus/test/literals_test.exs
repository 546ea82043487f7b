defmodule Corpus.LiteralsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Literals, Observe}

  test "numbers" do
    assert Observe.value("lit.integers", fn -> Literals.integers() end) ==
             [31, 15, 10, 1_000_000, 18_446_744_073_709_551_616, -9_007_199_254_740_993]

    floats = Observe.value("lit.floats", fn -> Literals.floats() end)
    assert floats == [1.0, 0.1, 1000.0, 0.0025, 123_456.789, 1.0e100]
    assert Enum.all?(floats, &is_float/1)
    assert Observe.value("lit.big_arith", fn -> Literals.big_arith(2) end) == 36_893_488_147_419_103_233
    assert Observe.value("lit.float_int", fn -> Literals.float_int_equal() end) == {true, false, 3.0}
  end

  test "atoms, chars, keywords, ranges" do
    assert Observe.value("lit.atoms", fn -> Literals.atoms() end) ==
             [:"hello world", :"with-dash", :ok?, Not.Loaded, :+, :"", true, nil]

    assert Observe.value("lit.chars", fn -> Literals.chars() end) == [97, 32, 10, 233, 92]
    assert Observe.value("lit.keywords", fn -> Literals.keywords() end) == [{:"quoted key", 1}, {:plain, 2}, {:"with-dash", 3}]
    assert Observe.value("lit.ranges", fn -> Literals.ranges() end) == {[1, 4, 7, 10], [10, 6, 2], 0}
  end

  test "module attributes and escapes" do
    assert Observe.value("lit.table", fn -> Literals.table() end) ==
             %{list: [1, 2.0, "three", :four, 'five'], tuple: {:a, {:b, {:c}}}, nested: %{"k" => [x: 1]}}

    assert Observe.value("lit.escapes", fn -> Literals.escapes() end) ==
             "tab\there\nnewline \"quoted\" \\ back é A \#{not}"
  end
end
