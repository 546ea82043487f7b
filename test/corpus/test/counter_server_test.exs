defmodule Corpus.CounterServerTest do
  use ExUnit.Case, async: false
  alias Corpus.{CounterServer, Observe}

  test "calls, casts and messages change the state in order" do
    {:ok, pid} = CounterServer.start_link(10)
    assert Observe.value("counter.increment", fn -> CounterServer.increment(pid) end) == 11
    assert Observe.value("counter.increment_by", fn -> CounterServer.increment(pid, 5) end) == 16
    CounterServer.add_async(pid, 4)
    send(pid, {:tick, 100})
    send(pid, :ignored_message)
    assert Observe.value("counter.get", fn -> CounterServer.get(pid) end) == 120

    assert Observe.value("counter.history", fn -> CounterServer.history(pid) end) ==
             [{:inc, 1}, {:inc, 5}, {:add, 4}, {:tick, 100}]

    assert Observe.value("counter.state", fn -> :sys.get_state(pid) end) ==
             %CounterServer{count: 120, log: [{:tick, 100}, {:add, 4}, {:inc, 5}, {:inc, 1}], pending: nil}

    assert Observe.value("counter.deferred", fn -> CounterServer.deferred(pid) end) == {:deferred, 120}
    assert Observe.value("counter.stop", fn -> CounterServer.stop(pid) end) == {:stopped_at, 120}
    refute Process.alive?(pid)
  end

  test "a call to a stopped server exits with noproc" do
    {:ok, pid} = CounterServer.start_link()
    CounterServer.stop(pid)

    assert {:noproc, {GenServer, :call, [_pid, :get, 5000]}} =
             catch_exit(Observe.value("counter.noproc", fn -> CounterServer.get(pid) end))
  end

  test "init can refuse" do
    Process.flag(:trap_exit, true)

    assert Observe.value("counter.bad_init", fn -> CounterServer.start_link(:nope) end) ==
             {:error, {:bad_initial, :nope}}
  end
end
