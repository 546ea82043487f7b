defmodule Corpus.Binaries do
  @moduledoc """
  Binary matching: fixed-size fields, `rest::binary`, utf8 code points, sizes taken from a variable
  bound earlier in the same pattern, bit-level fields and building binaries.
  """

  def header(<<version::8, flags::8, rest::binary>>), do: {version, flags, byte_size(rest)}
  def header(_), do: :too_short

  # The length prefix decides how many bytes the next field takes.
  def length_prefixed(<<len::16, payload::binary-size(len), rest::binary>>), do: {payload, rest}
  def length_prefixed(_), do: :incomplete

  def take(bin, n) do
    case bin do
      <<head::binary-size(n), tail::binary>> -> {head, tail}
      _ -> {:short, byte_size(bin)}
    end
  end

  def first_char(<<c::utf8, rest::binary>>), do: {c, <<c::utf8>>, rest}
  def first_char(<<>>), do: :empty

  def bits(<<a::1, b::3, c::4>>), do: [a, b, c]

  def little(<<n::little-signed-32>>), do: n

  def float_field(<<f::float-64>>), do: f

  def build(a, b, s) do
    <<a::16, b::little-16, byte_size(s)::8, s::binary, "end">>
  end

  def count_utf8(str), do: count_utf8(str, 0)

  defp count_utf8(<<_::utf8, rest::binary>>, n), do: count_utf8(rest, n + 1)
  defp count_utf8(<<>>, n), do: n
  defp count_utf8(<<_bad, rest::binary>>, n), do: count_utf8(rest, n + 100)

  def prefix_match("GET " <> path), do: {:get, path}
  def prefix_match("POST " <> path), do: {:post, path}
  def prefix_match(_), do: :unknown

  def bitstring_tail(<<x::5, rest::bitstring>>), do: {x, bit_size(rest)}
end
