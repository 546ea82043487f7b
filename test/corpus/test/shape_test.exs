defmodule Corpus.ShapeTest do
  use ExUnit.Case, async: false
  alias Corpus.{Describe, Observe, Shape}

  test "a struct with enforced keys and defaults" do
    assert Observe.value("shape.new", fn -> Shape.new(:rect, width: 2, height: 3) end) ==
             %Shape{kind: :rect, width: 2, height: 3, label: nil}

    assert_raise FunctionClauseError, fn -> Observe.value("shape.new.bad_kind", fn -> Shape.new(:blob) end) end
    assert_raise KeyError, fn -> Observe.value("shape.new.bad_key", fn -> Shape.new(:rect, depth: 1) end) end
  end

  test "functions that match and update the struct" do
    shapes = [Shape.new(:rect, width: 2, height: 3), Shape.new(:square, width: 4), Shape.new(:circle, width: 2)]
    assert Observe.value("shape.areas", fn -> Enum.map(shapes, &Shape.area/1) end) == [6, 16, 3.142]
    assert Observe.value("shape.scale", fn -> Shape.scale(hd(shapes), 10) |> Shape.area() end) == 600
    assert Observe.value("shape.relabel", fn -> Enum.map(shapes, &Shape.relabel(&1).label) end) == ["rect", "square", "circle"]
  end

  test "protocol implementations and the fallback" do
    assert Observe.value("shape.describe", fn ->
             Enum.map([Shape.new(:square, width: 3), -1, 5, [1, :x], :x], &Describe.describe/1)
           end) == ["square of area 9", "negative integer", "integer 5", "list of integer 1, something", "something"]
  end
end
