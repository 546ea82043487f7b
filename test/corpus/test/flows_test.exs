defmodule Corpus.FlowsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Flows, Observe}

  test "with binds, guards and falls to else" do
    assert Observe.value("flows.with.ok", fn -> Flows.parse_user(%{name: "ann", age: 3}) end) ==
             {:ok, %{label: "ANN", age: 3}}

    assert Observe.value("flows.with.missing", fn -> Flows.parse_user(%{name: "ann"}) end) ==
             {:error, :missing_field}

    assert Observe.value("flows.with.bad_name", fn -> Flows.parse_user(%{name: 5, age: 1}) end) ==
             {:error, {:bad_name, 5}}

    assert Observe.value("flows.with.bad_age", fn -> Flows.parse_user(%{name: "b", age: -1}) end) ==
             {:error, :bad_age}
  end

  test "with without else returns the first mismatch" do
    assert Observe.value("flows.with_no_else.ok", fn -> Flows.with_no_else({:ok, 1}, {:ok, 2}) end) == 3
    assert Observe.value("flows.with_no_else.miss", fn -> Flows.with_no_else({:ok, 1}, :nope) end) == :nope
  end

  test "a long pipe" do
    assert Observe.value("flows.chain", fn -> Flows.chain(Enum.to_list(1..20)) end) == "000375"
  end

  test "pipes into case, then and an anonymous fn" do
    assert Observe.value("flows.pipe_case", fn -> Enum.map(6..8, &Flows.pipe_into_case/1) end) ==
             [:fizz, :one_left, :two_left]

    assert Observe.value("flows.pipe_then", fn -> Flows.pipe_into_then(" a, b ,c,,") end) == 3
    assert Observe.value("flows.pipe_fn", fn -> {Flows.pipe_with_ifs(3), Flows.pipe_with_ifs(30)} end) == {4, :big}
  end

  test "cond, if and unless" do
    assert Observe.value("flows.cond", fn -> Enum.map([-1, 0, 4, 5, 50], &Flows.cond_chain/1) end) ==
             [:neg, :zero, :small_even, :small_odd, :large]

    assert Observe.value("flows.unless_if", fn -> {Flows.unless_if(1), Flows.unless_if(nil)} end) ==
             {{:truthy, :not_falsy}, {nil, :falsy}}
  end
end
