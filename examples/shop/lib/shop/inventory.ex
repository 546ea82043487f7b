defmodule Shop.Inventory do
  @moduledoc """
  Stock per SKU and the reservations held against it.

  State:

      %{
        stock: %{"mug" => 23, ...},                 # available to reserve
        reservations: %{owner => %{sku => qty}},    # owner: {:cart, customer} or {:order, order_id}
        version: 41                                 # bumped by every message that changes state
      }

  A cart reserves stock as items are added (`reserve/3`) and gives it back when they are removed
  (`release/3`, `release_all/1`). At checkout the cart's reservation becomes the order's
  (`transfer/2`), which is then either sold (`commit/1`) or given back (`release_all/1`).
  Stock that is reserved is not available to anyone else until its owner releases or commits it.
  """
  use GenServer

  @type owner :: {:cart, String.t()} | {:order, String.t()}

  def start_link(initial_stock) do
    GenServer.start_link(__MODULE__, initial_stock, name: __MODULE__)
  end

  @spec reserve(owner(), String.t(), pos_integer()) ::
          :ok | {:error, :out_of_stock | :unknown_sku}
  def reserve(owner, sku, qty) when is_integer(qty) and qty > 0,
    do: GenServer.call(__MODULE__, {:reserve, owner, sku, qty})

  @doc "Gives back up to `qty` of `owner`'s reservation of `sku`."
  @spec release(owner(), String.t(), non_neg_integer()) :: :ok
  def release(owner, sku, qty) when is_integer(qty) and qty >= 0,
    do: GenServer.call(__MODULE__, {:release, owner, sku, qty})

  @doc "Gives back everything `owner` holds; returns what was released."
  @spec release_all(owner()) :: {:ok, %{String.t() => pos_integer()}}
  def release_all(owner), do: GenServer.call(__MODULE__, {:release_all, owner})

  @doc "Moves everything `from` holds to `to`."
  @spec transfer(owner(), owner()) :: :ok
  def transfer(from, to), do: GenServer.call(__MODULE__, {:transfer, from, to})

  @doc "The reservation is sold: it leaves the inventory for good."
  @spec commit(owner()) :: {:ok, %{String.t() => pos_integer()}}
  def commit(owner), do: GenServer.call(__MODULE__, {:commit, owner})

  @spec restock(String.t(), pos_integer()) :: :ok | {:error, :unknown_sku}
  def restock(sku, qty) when is_integer(qty) and qty > 0,
    do: GenServer.call(__MODULE__, {:restock, sku, qty})

  @spec stock() :: %{String.t() => non_neg_integer()}
  def stock, do: GenServer.call(__MODULE__, :stock)

  @spec reservations() :: %{owner() => %{String.t() => pos_integer()}}
  def reservations, do: GenServer.call(__MODULE__, :reservations)

  @doc "Total reserved quantity per SKU, over every owner."
  @spec reserved_by_sku() :: %{String.t() => pos_integer()}
  def reserved_by_sku do
    reservations()
    |> Map.values()
    |> Enum.reduce(%{}, fn held, acc -> Map.merge(acc, held, fn _sku, a, b -> a + b end) end)
  end

  @spec reset(%{String.t() => non_neg_integer()}) :: :ok
  def reset(stock), do: GenServer.call(__MODULE__, {:reset, stock})

  # -- server --------------------------------------------------------------------------------------

  @impl true
  def init(initial_stock) do
    {:ok, %{stock: initial_stock, reservations: %{}, version: 0}}
  end

  @impl true
  def handle_call({:reserve, owner, sku, qty}, _from, state) do
    case Map.fetch(state.stock, sku) do
      :error ->
        {:reply, {:error, :unknown_sku}, state}

      {:ok, available} when available < qty ->
        {:reply, {:error, :out_of_stock}, state}

      {:ok, available} ->
        held = state.reservations |> Map.get(owner, %{}) |> Map.update(sku, qty, &(&1 + qty))

        state = %{
          state
          | stock: Map.put(state.stock, sku, available - qty),
            reservations: Map.put(state.reservations, owner, held)
        }

        {:reply, :ok, bump(state)}
    end
  end

  def handle_call({:release, owner, sku, qty}, _from, state) do
    held = Map.get(state.reservations, owner, %{})
    back = min(qty, Map.get(held, sku, 0))

    held =
      case Map.get(held, sku, 0) - back do
        0 -> Map.delete(held, sku)
        left -> Map.put(held, sku, left)
      end

    state = %{
      state
      | stock: if(back == 0, do: state.stock, else: Map.update!(state.stock, sku, &(&1 + back))),
        reservations: put_held(state.reservations, owner, held)
    }

    {:reply, :ok, bump(state)}
  end

  def handle_call({:release_all, owner}, _from, state) do
    {held, reservations} = Map.pop(state.reservations, owner, %{})
    stock = Map.merge(state.stock, held, fn _sku, available, back -> available + back end)
    {:reply, {:ok, held}, bump(%{state | stock: stock, reservations: reservations})}
  end

  def handle_call({:transfer, from, to}, _from, state) do
    {held, reservations} = Map.pop(state.reservations, from, %{})
    merged = Map.merge(Map.get(reservations, to, %{}), held, fn _sku, a, b -> a + b end)
    {:reply, :ok, bump(%{state | reservations: put_held(reservations, to, merged)})}
  end

  def handle_call({:commit, owner}, _from, state) do
    {held, reservations} = Map.pop(state.reservations, owner, %{})
    {:reply, {:ok, held}, bump(%{state | reservations: reservations})}
  end

  def handle_call({:restock, sku, qty}, _from, state) do
    if Map.has_key?(state.stock, sku) do
      {:reply, :ok, bump(%{state | stock: Map.update!(state.stock, sku, &(&1 + qty))})}
    else
      {:reply, {:error, :unknown_sku}, state}
    end
  end

  def handle_call(:stock, _from, state), do: {:reply, state.stock, state}
  def handle_call(:reservations, _from, state), do: {:reply, state.reservations, state}

  def handle_call({:reset, stock}, _from, state) do
    {:reply, :ok, bump(%{state | stock: stock, reservations: %{}})}
  end

  defp put_held(reservations, owner, held) when map_size(held) == 0,
    do: Map.delete(reservations, owner)

  defp put_held(reservations, owner, held), do: Map.put(reservations, owner, held)

  defp bump(state), do: %{state | version: state.version + 1}
end
