defmodule Corpus.ErrorsTest do
  use ExUnit.Case, async: false
  alias Corpus.{Errors, Observe}
  alias Corpus.Errors.{Boom, Wrapped}

  test "a custom exception built by exception/1" do
    e = assert_raise Boom, fn -> Observe.value("errors.raise_boom", fn -> Errors.raise_boom(7) end) end
    assert e.code == 7
    assert e.message == "boom 7"
  end

  test "rescue and else" do
    assert Observe.value("errors.safe_div.ok", fn -> Errors.safe_div(6, 4) end) == {:ok, 1.5}
    assert Observe.value("errors.safe_div.zero", fn -> Errors.safe_div(6, 0) end) ==
             {:error, "bad argument in arithmetic expression"}
  end

  test "classify sorts every kind of exit from the fun" do
    assert Observe.value("errors.classify.boom", fn -> Errors.classify(fn -> Errors.raise_boom(3) end) end) ==
             {:rescued_boom, 3}

    assert Observe.value("errors.classify.key", fn -> Errors.classify(fn -> Map.fetch!(%{}, :k) end) end) ==
             {:rescued, KeyError}

    assert Observe.value("errors.classify.throw", fn -> Errors.classify(fn -> Errors.throw_value(1) end) end) ==
             {:caught_throw, {:thrown, 1}}

    assert Observe.value("errors.classify.exit", fn -> Errors.classify(fn -> Errors.exit_with(:bye) end) end) ==
             {:caught_exit, :bye}

    assert Observe.value("errors.classify.else_ok", fn -> Errors.classify(fn -> {:ok, 2} end) end) ==
             {:else_ok, 2}

    assert Observe.value("errors.classify.else_other", fn -> Errors.classify(fn -> :plain end) end) ==
             {:else_other, :plain}
  end

  test "an error that classify does not rescue goes through" do
    assert_raise RuntimeError, "not handled", fn ->
      Observe.value("errors.classify.unhandled", fn -> Errors.classify(fn -> raise "not handled" end) end)
    end
  end

  test "after runs once, on success and on failure" do
    assert Observe.value("errors.after.ok", fn -> Errors.with_after(fn -> :fine end, self()) end) == :fine
    assert_received :after_ran

    catch_throw(Observe.value("errors.after.throw", fn -> Errors.with_after(fn -> throw(:t) end, self()) end))
    assert_received :after_ran
    refute_received :after_ran
  end

  test "reraise as another exception keeps the original stacktrace" do
    e =
      assert_raise Wrapped, fn ->
        Observe.value("errors.rewrap", fn -> Errors.rewrap(fn -> Errors.raise_boom(5) end) end)
      end

    assert e.inner == 5
    assert e.message == "wrapped boom 5"
  end

  test "reraise of the same exception" do
    assert_raise ArithmeticError, fn ->
      Observe.value("errors.reraise_same", fn -> Errors.reraise_same(fn -> 1 / Process.get(:zero, 0) end) end)
    end
  end

  test "throw and exit leave the function" do
    assert catch_throw(Observe.value("errors.throw", fn -> Errors.throw_value(:x) end)) == {:thrown, :x}
    assert catch_exit(Observe.value("errors.exit", fn -> Errors.exit_with({:shutdown, 1}) end)) == {:shutdown, 1}
  end

  test "nested try: inner catch with a guard, inner after, outer catch" do
    assert Observe.value("errors.nested.inner", fn -> Errors.nested(20) end) == {:inner_caught, 20}
    assert Process.get(:corpus_nested_after) == 20
    assert Observe.value("errors.nested.outer", fn -> Errors.nested(3) end) == {:outer_caught, 3}
    assert Process.get(:corpus_nested_after) == 3
    assert_raise Boom, fn -> Observe.value("errors.nested.raise", fn -> Errors.nested(0) end) end
    assert Process.get(:corpus_nested_after) == 0
  end

  test "catch with a kind variable" do
    assert Observe.value("errors.catch_all", fn ->
             [
               Errors.catch_all(fn -> raise ArgumentError end),
               Errors.catch_all(fn -> throw(1) end),
               Errors.catch_all(fn -> exit(:e) end)
             ]
           end) == [{:error, {:exception, ArgumentError}}, {:throw, 1}, {:exit, :e}]
  end

  test "try as an expression" do
    assert Observe.value("errors.try_expr", fn -> {Errors.try_in_expression("41"), Errors.try_in_expression("x")} end) ==
             {42, 1}
  end
end
