defmodule Corpus.BindingsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Bindings, Observe}

  test "pins in case, fn heads, binaries and map keys" do
    assert Observe.value("bind.pin.same", fn -> Bindings.match_pinned(1, 1) end) == :same
    assert Observe.value("bind.pin.first", fn -> Bindings.match_pinned(1, {1, 2}) end) == {:first_is, 2}
    assert Observe.value("bind.pin.diff", fn -> Bindings.match_pinned(1, {2, 1}) end) == :different
    assert Observe.value("bind.pin_fn", fn -> Bindings.pin_in_fn(:k, [k: 1, j: 2, k: 3]) end) == [k: 1, k: 3]
    assert Observe.value("bind.pin_bin", fn -> {Bindings.pin_in_binary(2, <<2, 9>>), Bindings.pin_in_binary(3, <<2, 9>>)} end) ==
             {{:sized, <<9>>}, :other}

    assert Observe.value("bind.pin_map", fn -> {Bindings.pin_map_key(:a, %{a: 1}), Bindings.pin_map_key(:b, %{a: 1})} end) ==
             {{:found, 1}, :missing}
  end

  test "rebinding and shadowing" do
    assert Observe.value("bind.rebind", fn -> Bindings.rebind(4) end) == {7, 10}
    assert Observe.value("bind.case.wrap", fn -> Bindings.shadow_in_case({:wrap, 2}) end) == {{:wrap, 2}, 20}
    assert Observe.value("bind.case.int", fn -> Bindings.shadow_in_case(2) end) == {2, 3}
    assert Observe.value("bind.case.other", fn -> Bindings.shadow_in_case(:z) end) == {:z, {:other, :z}}
    assert Observe.value("bind.fn_head", fn -> Bindings.shadow_in_fn(1, [1, 2]) end) == [101, 102, 1]
    assert Observe.value("bind.closure", fn -> Bindings.closure_captures(2) end) == {2, 2000}
    assert Observe.value("bind.if", fn -> {Bindings.rebind_in_if(true, 1), Bindings.rebind_in_if(false, 1)} end) == {4, 1}
  end

  test "variables named outside ASCII" do
    assert Observe.value("bind.unicode", fn -> Bindings.unicode_names(5) end) == {10, 11}
  end

  test "the same variable twice in a pattern" do
    assert Observe.value("bind.twice", fn -> {Bindings.same_var_twice({1, 1}), Bindings.same_var_twice({1, 2})} end) ==
             {{:equal, 1}, {:differ, 1, 2}}
  end
end
