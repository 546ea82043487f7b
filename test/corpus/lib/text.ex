defmodule Corpus.Text do
  @moduledoc """
  String interpolation (of expressions, of a nested interpolation, of charlists), sigils (~w ~r ~s
  ~S ~c ~C with modifiers), charlists, heredocs, and map and struct update syntax.
  """

  defmodule Profile do
    defstruct name: "anon", tags: [], meta: %{}
  end

  def describe(name, n) do
    "#{name} has #{n} item#{if n == 1, do: "", else: "s"} (#{"nested #{n * 2}"})"
  end

  def interpolate_terms do
    list = [1, 2]
    charlist = 'abc'
    "list=#{inspect(list)} charlist=#{charlist} atom=#{:ok} float=#{1.5}"
  end

  def sigils do
    words = ~w(alpha beta gamma)
    atoms = ~w(one two)a
    chars = ~c(hi there)
    raw = ~S(no #{interpolation} \n here)
    cooked = ~s(tab\tand #{length(words)})
    {words, atoms, chars, raw, cooked}
  end

  def regex_match(s) do
    case Regex.run(~r/(\d+)-(\d+)/, s) do
      [_, a, b] -> {String.to_integer(a), String.to_integer(b)}
      nil -> :no_match
    end
  end

  def regex_caseless(s), do: s =~ ~r/hello/i

  def charlists(cl) do
    {length(cl), Enum.reverse(cl), List.to_string(cl), cl ++ ' end', [?a, ?b | cl]}
  end

  def heredoc(n) do
    """
    Line one
      indented #{n}
    last\
    """
  end

  def update_map(map) do
    %{map | count: map.count + 1, seen: true}
  end

  def put_new_key(map), do: Map.put(%{map | count: 0}, :extra, :yes)

  def update_struct(%Profile{} = p, tag) do
    %Profile{p | tags: [tag | p.tags], meta: Map.put(p.meta, tag, String.length(to_string(tag)))}
  end

  def struct_match(%Profile{name: "anon"}), do: :anonymous
  def struct_match(%Profile{name: name, tags: [first | _]}), do: {name, first}
  def struct_match(%Profile{name: name}), do: {name, :no_tags}

  def unicode(s) do
    {String.length(s), byte_size(s), String.upcase(s), String.graphemes(s) |> length()}
  end
end
