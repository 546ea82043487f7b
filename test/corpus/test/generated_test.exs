defmodule Corpus.GeneratedTest do
  use ExUnit.Case, async: false
  alias Corpus.{Generated, Observe}

  test "functions defined by a module-level for" do
    assert Observe.value("generated.colors", fn ->
             Enum.map(Generated.color_names(), &apply(Generated, &1, []))
           end) == [0xFF0000, 0x00FF00, 0x0000FF]

    assert Observe.value("generated.hex", fn -> {Generated.red_hex(), Generated.blue_hex()} end) ==
             {"FF0000", "0000FF"}
  end

  test "functions with generated arguments" do
    assert Observe.value("generated.sum_one", fn -> Generated.sum_one(5) end) == 5
    assert Observe.value("generated.sum_two", fn -> Generated.sum_two(5, 6) end) == 11
  end

  test "functions injected by use" do
    assert Observe.value("generated.injected_name", fn -> Generated.injected_name() end) ==
             "gen-Corpus.Generated"

    assert Observe.value("generated.injected_double", fn -> Generated.injected_double(21) end) == 42
    assert_raise FunctionClauseError, fn ->
      Observe.value("generated.injected_double.bad", fn -> Generated.injected_double(:x) end)
    end
  end

  test "an overridden injected function calls super" do
    assert Observe.value("generated.override", fn -> Generated.injected_label(:x) end) ==
             "overridden:label:x"
  end

  test "a def from a macro call" do
    assert Observe.value("generated.answer", fn -> Generated.answer() end) == 42
  end
end
