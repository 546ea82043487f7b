defmodule Corpus.TextTest do
  use ExUnit.Case, async: false
  alias Corpus.{Observe, Text}
  alias Corpus.Text.Profile

  test "interpolation" do
    assert Observe.value("text.describe.1", fn -> Text.describe("cart", 1) end) == "cart has 1 item (nested 2)"
    assert Observe.value("text.describe.3", fn -> Text.describe(:box, 3) end) == "box has 3 items (nested 6)"
    assert Observe.value("text.terms", fn -> Text.interpolate_terms() end) == "list=[1, 2] charlist=abc atom=ok float=1.5"
  end

  test "sigils and regexes" do
    assert Observe.value("text.sigils", fn -> Text.sigils() end) ==
             {["alpha", "beta", "gamma"], [:one, :two], 'hi there', "no \#{interpolation} \\n here", "tab\tand 3"}

    assert Observe.value("text.regex", fn -> {Text.regex_match("a 12-345 b"), Text.regex_match("none")} end) ==
             {{12, 345}, :no_match}

    assert Observe.value("text.regex_i", fn -> Text.regex_caseless("Say HELLO") end) == true
  end

  test "charlists and heredocs" do
    assert Observe.value("text.charlists", fn -> Text.charlists('ab') end) == {2, 'ba', "ab", 'ab end', 'abab'}
    assert Observe.value("text.heredoc", fn -> Text.heredoc(5) end) == "Line one\n  indented 5\nlast"
  end

  test "map and struct update" do
    assert Observe.value("text.update_map", fn -> Text.update_map(%{count: 1, seen: false, x: 0}) end) ==
             %{count: 2, seen: true, x: 0}

    assert_raise KeyError, fn -> Observe.value("text.update_map.missing", fn -> Text.update_map(%{count: 1}) end) end
    assert Observe.value("text.put_new", fn -> Text.put_new_key(%{count: 5}) end) == %{count: 0, extra: :yes}

    p = Observe.value("text.update_struct", fn -> Text.update_struct(%Profile{name: "z"}, :admin) end)
    assert p == %Profile{name: "z", tags: [:admin], meta: %{admin: 5}}

    assert Observe.value("text.struct_match", fn ->
             Enum.map([%Profile{}, p, %Profile{name: "q"}], &Text.struct_match/1)
           end) == [:anonymous, {"z", :admin}, {"q", :no_tags}]
  end

  test "unicode strings" do
    assert Observe.value("text.unicode", fn -> Text.unicode("crème") end) == {5, 6, "CRÈME", 5}
  end
end
