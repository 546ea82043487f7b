defmodule Corpus.Runner do
  @moduledoc """
  Runs the corpus's ExUnit test files on this node and returns every test's result and every
  observation (see `Corpus.Observe`), for the engine's tests to compare runs.

      Corpus.Runner.run(["/path/test/corpus/test/clauses_test.exs", ...], %{timeout: 120_000})
      #=> {:ok, [{"Corpus.ClausesTest test ...", :passed}, ...], [{"clauses.classify.neg", etf}, ...]}

  The files are compiled again on every run (with `ignore_module_conflict`), because ExUnit forgets
  the test modules it ran. ExUnit only reports to `Corpus.Runner.Collector`, so nothing is printed
  on the node's stdout; what the tests print goes to the caller's group leader. One run at a time:
  a second concurrent run is refused with `{:error, :already_running}`.
  """

  @results :corpus_results

  def run(files, opts \\ %{}) when is_list(files) and is_map(opts) do
    try do
      Process.register(self(), :corpus_runner)
    rescue
      ArgumentError -> throw(:already_running)
    end

    try do
      :ets.new(Corpus.Observe.table(), [:set, :public, :named_table])
      :ets.new(@results, [:set, :public, :named_table])

      ExUnit.start(autorun: false)

      ExUnit.configure(
        formatters: [Corpus.Runner.Collector],
        autorun: false,
        seed: 0,
        max_cases: 1,
        timeout: Map.get(opts, :timeout, 120_000),
        capture_log: true,
        colors: [enabled: false],
        include: [],
        exclude: []
      )

      compile_failures = compile_tests(files)
      summary = ExUnit.run()
      ran = :ets.tab2list(@results)

      if length(ran) != summary.total do
        raise "ExUnit ran #{summary.total} tests but the collector saw #{length(ran)}"
      end

      tests = Enum.sort(compile_failures ++ ran)
      observed = :ets.tab2list(Corpus.Observe.table()) |> Enum.sort()

      {:ok, tests, observed}
    after
      for t <- [Corpus.Observe.table(), @results], :ets.whereis(t) != :undefined, do: :ets.delete(t)
      Process.unregister(:corpus_runner)
    end
  catch
    :throw, :already_running -> {:error, :already_running}
  end

  # A test file that does not compile (say, a struct module broken by instrumentation, since test
  # files expand `%Struct{}` at compile time) becomes one failed entry, `"<file> (compile)"`, and the
  # other files still run.
  defp compile_tests(files) do
    previous = Code.get_compiler_option(:ignore_module_conflict)
    Code.put_compiler_option(:ignore_module_conflict, true)

    try do
      for file <- files, reason = compile_error(file), reason != nil do
        {Path.basename(file) <> " (compile)", {:failed, reason}}
      end
    after
      Code.put_compiler_option(:ignore_module_conflict, previous)
    end
  end

  defp compile_error(file) do
    Code.compile_file(file)
    nil
  rescue
    e -> Exception.format(:error, e, __STACKTRACE__)
  catch
    kind, reason -> Exception.format(kind, reason, __STACKTRACE__)
  end

  @doc false
  def results_table, do: @results
end

defmodule Corpus.Runner.Collector do
  @moduledoc """
  An ExUnit formatter that prints nothing and writes each finished test into the runner's table:
  `:passed`, or `{:failed, text}` with the failure as ExUnit would print it (also for skipped,
  excluded and invalid tests, so none disappears silently).
  """

  use GenServer

  @impl true
  def init(_opts), do: {:ok, nil}

  @impl true
  def handle_cast({:test_finished, %ExUnit.Test{} = test}, state) do
    name = "#{inspect(test.module)} #{test.name}"
    :ets.insert(Corpus.Runner.results_table(), {name, result(test)})
    {:noreply, state}
  end

  def handle_cast(_event, state), do: {:noreply, state}

  defp result(%ExUnit.Test{state: nil}), do: :passed

  defp result(%ExUnit.Test{state: {:failed, failures}} = test) do
    text = ExUnit.Formatter.format_test_failure(test, failures, 1, 100, &plain/2)
    {:failed, IO.iodata_to_binary(text)}
  end

  defp result(%ExUnit.Test{state: {:skipped, why}}), do: {:failed, "skipped: " <> to_string(why)}
  defp result(%ExUnit.Test{state: {:excluded, why}}), do: {:failed, "excluded: " <> to_string(why)}
  defp result(%ExUnit.Test{state: {:invalid, mod}}), do: {:failed, "invalid: setup_all of #{inspect(mod)} failed"}
  defp result(%ExUnit.Test{state: other}), do: {:failed, "unexpected test state: " <> inspect(other)}

  defp plain(:diff_enabled?, _), do: false
  defp plain(_, msg), do: msg
end
