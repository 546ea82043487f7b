defmodule Corpus.BinariesTest do
  use ExUnit.Case, async: false
  alias Corpus.{Binaries, Observe}

  test "fixed fields and the rest" do
    assert Observe.value("bin.header", fn -> Binaries.header(<<2, 0b101, "abc">>) end) == {2, 5, 3}
    assert Observe.value("bin.header.short", fn -> Binaries.header(<<1>>) end) == :too_short
  end

  test "a size taken from an earlier field or a variable" do
    assert Observe.value("bin.length_prefixed", fn -> Binaries.length_prefixed(<<0, 3, "abcde">>) end) == {"abc", "de"}
    assert Observe.value("bin.length_prefixed.short", fn -> Binaries.length_prefixed(<<0, 9, "ab">>) end) == :incomplete
    assert Observe.value("bin.take", fn -> Binaries.take("hello", 2) end) == {"he", "llo"}
    assert Observe.value("bin.take.short", fn -> Binaries.take("hi", 5) end) == {:short, 2}
  end

  test "utf8" do
    assert Observe.value("bin.first_char", fn -> Binaries.first_char("€uro") end) == {8364, "€", "uro"}
    assert Observe.value("bin.first_char.empty", fn -> Binaries.first_char("") end) == :empty
    assert Observe.value("bin.count_utf8", fn -> Binaries.count_utf8(<<"añ", 255, "b">>) end) == 103
  end

  test "bits, endianness, floats" do
    assert Observe.value("bin.bits", fn -> Binaries.bits(<<0b1_011_0110>>) end) == [1, 3, 6]
    assert Observe.value("bin.little", fn -> Binaries.little(<<254, 255, 255, 255>>) end) == -2
    assert Observe.value("bin.float", fn -> Binaries.float_field(<<1.25::float-64>>) end) == 1.25
    assert Observe.value("bin.bitstring_tail", fn -> Binaries.bitstring_tail(<<0b10101_111, 1>>) end) == {21, 11}
  end

  test "building and prefix matching" do
    assert Observe.value("bin.build", fn -> Binaries.build(258, 258, "xy") end) == <<1, 2, 2, 1, 2, "xy", "end">>
    assert Observe.value("bin.prefix", fn -> Enum.map(["GET /a", "POST /b", "PUT /c"], &Binaries.prefix_match/1) end) ==
             [{:get, "/a"}, {:post, "/b"}, :unknown]
  end
end
