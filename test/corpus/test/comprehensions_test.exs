defmodule Corpus.ComprehensionsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Comprehensions, Observe}

  test "generators and filters" do
    assert Observe.value("for.pairs", fn -> Comprehensions.pairs(5) end) ==
             [{1, 2}, {1, 5}, {2, 4}, {3, 3}, {4, 5}]

    assert Observe.value("for.only_oks", fn -> Comprehensions.only_oks([{:ok, 2}, :error, {:ok, :x}, {:ok, 3}]) end) ==
             [4, 9]

    assert Observe.value("for.nested_filter", fn -> Comprehensions.nested_filter([[1, -2, 9], [0, 12, 3]]) end) ==
             [2, 18, 6]
  end

  test "into" do
    assert Observe.value("for.into_map", fn -> Comprehensions.index_map(~w(a b a)) end) == %{"a" => 2, "b" => 1}
    assert Observe.value("for.into_string", fn -> Comprehensions.shout(["hi", "", "yo"]) end) == "HI!YO!"
    assert Observe.value("for.into_mapset", fn -> Comprehensions.into_mapset([1, 5, 2, 9]) end) == MapSet.new([1, 2])
  end

  test "reduce" do
    assert Observe.value("for.reduce", fn -> Comprehensions.word_lengths(~w(aa b cc ddd)) end) ==
             %{1 => ["b"], 2 => ["cc", "aa"], 3 => ["ddd"]}

    assert Observe.value("for.running_max", fn -> Comprehensions.running_max([3, 1, 4, 1, 5]) end) ==
             {5, [5, 4, 4, 3, 3]}
  end

  test "binary generators" do
    assert Observe.value("for.bytes", fn -> Comprehensions.bytes_plus_one("HAL") end) == "IBM"
    assert Observe.value("for.rgb", fn -> Comprehensions.rgb_pixels(<<1, 2, 3, 4, 5, 6, 7>>) end) == [{1, 2, 3}, {4, 5, 6}]
    assert Observe.value("for.utf8", fn -> Comprehensions.codepoints("aé€z") end) == [233, 8364]
  end

  test "uniq" do
    assert Observe.value("for.uniq", fn -> Comprehensions.unique_squares([1, -1, 2, -2, 3]) end) == [1, 4, 9]
  end
end
