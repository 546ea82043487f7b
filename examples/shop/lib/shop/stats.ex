defmodule Shop.Stats do
  @moduledoc """
  An Agent counting what happened: orders placed and their revenue, failed checkouts by reason, and
  how many times the payment gateway has started (so, restarts = starts - 1).
  """
  use Agent

  @empty %{orders: 0, revenue_cents: 0, failures: %{}}

  def start_link(_opts) do
    Agent.start_link(fn -> Map.put(@empty, :gateway_starts, 0) end, name: __MODULE__)
  end

  @spec order(non_neg_integer()) :: :ok
  def order(total_cents) do
    Agent.update(__MODULE__, fn s ->
      %{s | orders: s.orders + 1, revenue_cents: s.revenue_cents + total_cents}
    end)
  end

  @spec failure(atom()) :: :ok
  def failure(reason) when is_atom(reason) do
    Agent.update(__MODULE__, fn s ->
      %{s | failures: Map.update(s.failures, reason, 1, &(&1 + 1))}
    end)
  end

  @spec gateway_started() :: :ok
  def gateway_started do
    Agent.update(__MODULE__, fn s -> %{s | gateway_starts: s.gateway_starts + 1} end)
  end

  @spec get() :: map()
  def get, do: Agent.get(__MODULE__, & &1)

  @doc "Clears the order and failure counts; the count of gateway starts is for the node's lifetime."
  @spec reset() :: :ok
  def reset, do: Agent.update(__MODULE__, fn s -> Map.merge(s, @empty) end)
end
