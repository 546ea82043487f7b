defmodule Corpus.Shape do
  @moduledoc """
  A struct with defaults, enforced keys, a constructor that validates, and functions that pattern
  match on it and update it.
  """

  @enforce_keys [:kind]
  defstruct [:kind, width: 1, height: 1, label: nil]

  def new(kind, opts \\ []) when kind in [:rect, :square, :circle] do
    struct!(__MODULE__, [kind: kind] ++ opts)
  end

  def area(%__MODULE__{kind: :circle, width: d}), do: Float.round(:math.pi() * d * d / 4, 3)
  def area(%__MODULE__{kind: :square, width: w}), do: w * w
  def area(%__MODULE__{width: w, height: h}), do: w * h

  def scale(%__MODULE__{} = s, f), do: %{s | width: s.width * f, height: s.height * f}

  def relabel(%__MODULE__{label: nil} = s), do: %__MODULE__{s | label: "#{s.kind}"}
  def relabel(s), do: s
end

defprotocol Corpus.Describe do
  @moduledoc "A protocol with implementations for a corpus struct, built-in types and a fallback."
  @fallback_to_any true
  def describe(term)
end

defimpl Corpus.Describe, for: Corpus.Shape do
  def describe(%Corpus.Shape{kind: kind} = s), do: "#{kind} of area #{Corpus.Shape.area(s)}"
end

defimpl Corpus.Describe, for: Integer do
  def describe(n) when n < 0, do: "negative integer"
  def describe(n), do: "integer #{n}"
end

defimpl Corpus.Describe, for: List do
  def describe(list), do: "list of " <> Enum.map_join(list, ", ", &Corpus.Describe.describe/1)
end

defimpl Corpus.Describe, for: Any do
  def describe(_), do: "something"
end
