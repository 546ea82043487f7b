defmodule Corpus.ExportsTest do
  use ExUnit.Case, async: false
  alias Corpus.Observe

  # Every corpus module (test/corpus-harness.test.ts checks this list against the build). What a
  # module exports must not change under instrumentation: probes are inline, never helper functions.
  @modules [
    Corpus.Binaries,
    Corpus.Bindings,
    Corpus.Clauses,
    Corpus.Comprehensions,
    Corpus.CounterServer,
    Corpus.Crashes,
    Corpus.Definitions,
    Corpus.Describe,
    Corpus.Describe.Any,
    Corpus.Describe.Corpus.Shape,
    Corpus.Describe.Integer,
    Corpus.Describe.List,
    Corpus.Errors,
    Corpus.Errors.Boom,
    Corpus.Errors.Wrapped,
    Corpus.Flows,
    Corpus.Funs,
    Corpus.Generated,
    Corpus.Injector,
    Corpus.Literals,
    Corpus.Mailbox,
    Corpus.Quoting,
    Corpus.Recursion,
    Corpus.Shape,
    Corpus.Text,
    Corpus.Text.Profile
  ]

  for mod <- @modules do
    test "exports of #{inspect(mod)}" do
      mod = unquote(mod)

      exports =
        Observe.value("exports.#{inspect(mod)}", fn ->
          {Enum.sort(mod.__info__(:functions)), Enum.sort(mod.__info__(:macros)), mod.__info__(:struct) != nil}
        end)

      {functions, macros, _struct?} = exports
      assert functions != [] or macros != []
    end
  end
end
