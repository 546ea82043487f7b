defmodule Corpus.CrashesTest do
  use ExUnit.Case, async: false
  alias Corpus.{Crashes, Observe}

  # The observations keep each exception and the corpus frames of its stacktrace (file and line),
  # so a run under instrumentation shows whether the stacktrace still points at the user's line.

  test "ArithmeticError" do
    assert_raise ArithmeticError, fn -> Observe.value("crash.divide", fn -> Crashes.divide(1, 0) end) end
    assert_raise ArithmeticError, fn -> Observe.value("crash.add_atom", fn -> Crashes.add_atom(1) end) end
  end

  test "FunctionClauseError, public and private" do
    assert_raise FunctionClauseError, fn -> Observe.value("crash.only_positive", fn -> Crashes.only_positive(0) end) end
    assert_raise FunctionClauseError, fn -> Observe.value("crash.private_clause", fn -> Crashes.via_private(:c) end) end
  end

  test "CaseClauseError, MatchError, WithClauseError, CondClauseError" do
    assert_raise CaseClauseError, fn -> Observe.value("crash.case", fn -> Crashes.case_clause(:three) end) end
    assert_raise MatchError, fn -> Observe.value("crash.match", fn -> Crashes.match_error({:error, 1}) end) end
    assert_raise WithClauseError, fn -> Observe.value("crash.with", fn -> Crashes.with_clause(:other) end) end
    assert_raise CondClauseError, fn -> Observe.value("crash.cond", fn -> Crashes.cond_clause(3) end) end
  end

  test "KeyError and BadMapError" do
    assert_raise KeyError, fn -> Observe.value("crash.key_dot", fn -> Crashes.key_error(%{present: 1}) end) end
    assert_raise KeyError, fn -> Observe.value("crash.fetch", fn -> Crashes.fetch_key(%{a: 1}, :b) end) end
    assert_raise BadMapError, fn -> Observe.value("crash.bad_map", fn -> Crashes.bad_map(:not_a_map) end) end
  end

  test "raised inside an anonymous fn" do
    assert_raise ArithmeticError, fn -> Observe.value("crash.in_fn", fn -> Crashes.in_fn([1, 0]) end) end
  end

  test "raised at the bottom of body recursion" do
    assert_raise ArgumentError, "deep bottom", fn -> Observe.value("crash.deep", fn -> Crashes.deep(3) end) end
  end
end
