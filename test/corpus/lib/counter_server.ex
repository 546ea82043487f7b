defmodule Corpus.CounterServer do
  @moduledoc """
  A GenServer with state changed by calls, casts and plain messages (handle_info), a call that
  replies from another process (`GenServer.reply`), and one that stops the server.
  """

  use GenServer

  defstruct count: 0, log: [], pending: nil

  def start_link(initial \\ 0), do: GenServer.start_link(__MODULE__, initial)

  def increment(pid, by \\ 1), do: GenServer.call(pid, {:increment, by})
  def add_async(pid, by), do: GenServer.cast(pid, {:add, by})
  def get(pid), do: GenServer.call(pid, :get)
  def history(pid), do: GenServer.call(pid, :history)
  def deferred(pid), do: GenServer.call(pid, :deferred)
  def stop(pid), do: GenServer.call(pid, :stop)

  @impl true
  def init(initial) when is_integer(initial), do: {:ok, %__MODULE__{count: initial}}
  def init(other), do: {:stop, {:bad_initial, other}}

  @impl true
  def handle_call({:increment, by}, _from, %__MODULE__{count: c, log: log} = state) do
    new = c + by
    {:reply, new, %{state | count: new, log: [{:inc, by} | log]}}
  end

  def handle_call(:get, _from, state), do: {:reply, state.count, state}
  def handle_call(:history, _from, state), do: {:reply, Enum.reverse(state.log), state}

  def handle_call(:deferred, from, state) do
    # Reply later, from handle_info, to exercise {:noreply, ...} on a call.
    send(self(), :answer_deferred)
    {:noreply, %{state | pending: from}}
  end

  def handle_call(:stop, _from, state), do: {:stop, :normal, {:stopped_at, state.count}, state}

  @impl true
  def handle_cast({:add, by}, state) do
    {:noreply, %{state | count: state.count + by, log: [{:add, by} | state.log]}}
  end

  @impl true
  def handle_info(:answer_deferred, %{pending: from} = state) when from != nil do
    GenServer.reply(from, {:deferred, state.count})
    {:noreply, %{state | pending: nil, log: [:deferred | state.log]}}
  end

  def handle_info({:tick, n}, state) do
    {:noreply, %{state | count: state.count + n, log: [{:tick, n} | state.log]}}
  end

  def handle_info(_unknown, state), do: {:noreply, state}
end
