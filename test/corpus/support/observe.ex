defmodule Corpus.Observe do
  @moduledoc """
  What a corpus test saw, kept so that two runs (before, during and after instrumentation) can be
  compared observation by observation.

      Observe.value("clauses.classify.negative", fn -> Clauses.classify(-3) end)

  runs the fun and stores, under the name, `{:ok, value}` or
  `{:raised, class, reason, user_frames}`; then returns the value, or re-raises with the original
  stacktrace so the test asserts as usual (`assert_raise`, `catch_exit`, ...).

  Stored terms are deterministic: pids, ports and references become atoms, funs become
  `{:fun, module, arity}` (anonymous) or `{:fun, module, name, arity}` (external), `:error` reasons
  are normalized to their exception struct, and `user_frames` keeps only frames of corpus library
  modules, as `{module, function, arity, file_basename, line}`.

  Observations are stored only while `Corpus.Runner` collects a run (its ETS table exists); a name
  used twice in one run is a bug in the corpus and raises.
  """

  @table :corpus_observed

  def table, do: @table

  @spec value(String.t(), (-> term)) :: term
  def value(name, fun) when is_binary(name) and is_function(fun, 0) do
    outcome =
      try do
        {:ok, fun.()}
      catch
        kind, reason -> {:raised, kind, reason, __STACKTRACE__}
      end

    record(name, observation(outcome))

    case outcome do
      {:ok, v} -> v
      {:raised, kind, reason, stack} -> :erlang.raise(kind, reason, stack)
    end
  end

  def value(name, fun) do
    raise ArgumentError,
          "Corpus.Observe.value/2 expects a name (a string) and a fun of arity 0, got: " <>
            inspect(name) <> " and " <> inspect(fun)
  end

  @doc "The stored form of an outcome (public so the runner's self-check can use it)."
  def observation({:ok, v}), do: {:ok, normalize(v)}

  def observation({:raised, kind, reason, stack}) do
    reason = if kind == :error, do: Exception.normalize(:error, reason, stack), else: reason
    {:raised, kind, normalize(reason), user_frames(stack)}
  end

  def user_frames(stack) do
    for {m, f, a, loc} <- stack, library_module?(m) do
      arity = if is_list(a), do: length(a), else: a
      file = loc |> Keyword.get(:file, '') |> to_string() |> Path.basename()
      {m, f, arity, file, Keyword.get(loc, :line)}
    end
  end

  @doc "Corpus library modules: `Corpus.*`, but not the tests (`*Test`) nor this harness."
  def library_module?(m) when is_atom(m) do
    name = Atom.to_string(m)

    String.starts_with?(name, "Elixir.Corpus.") and not String.ends_with?(name, "Test") and
      m not in [Corpus.Observe, Corpus.Runner, Corpus.Runner.Collector]
  end

  def library_module?(_), do: false

  def normalize(t) when is_pid(t), do: :pid
  def normalize(t) when is_port(t), do: :port
  def normalize(t) when is_reference(t), do: :reference

  def normalize(t) when is_function(t) do
    info = Function.info(t)

    case info[:type] do
      :external -> {:fun, info[:module], info[:name], info[:arity]}
      _ -> {:fun, info[:module], info[:arity]}
    end
  end

  def normalize(t) when is_list(t), do: normalize_list(t)
  def normalize(t) when is_tuple(t), do: t |> Tuple.to_list() |> Enum.map(&normalize/1) |> List.to_tuple()

  def normalize(t) when is_map(t) do
    # Through plain lists: Map.new/2 would treat a struct as an Enumerable.
    t |> :maps.to_list() |> Enum.map(fn {k, v} -> {normalize(k), normalize(v)} end) |> :maps.from_list()
  end

  def normalize(t), do: t

  # Lists may be improper; keep the tail's shape.
  defp normalize_list([]), do: []
  defp normalize_list([h | t]) when is_list(t), do: [normalize(h) | normalize_list(t)]
  defp normalize_list([h | t]), do: [normalize(h) | normalize(t)]

  defp record(name, observation) do
    case :ets.whereis(@table) do
      :undefined ->
        :not_collecting

      _ ->
        bytes = :erlang.term_to_binary(observation, [:deterministic])

        unless :ets.insert_new(@table, {name, bytes}) do
          raise ArgumentError,
                "observation #{inspect(name)} was recorded twice in one run; " <>
                  "give every Corpus.Observe.value/2 call its own name"
        end

        :recorded
    end
  end
end
