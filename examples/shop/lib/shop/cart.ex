defmodule Shop.Cart do
  @moduledoc """
  One customer's cart: a GenServer under `Shop.CartSup`, registered in `Shop.Registry` under the
  customer id. Adding an item reserves it in `Shop.Inventory`; removing it gives it back.

  State: `%{customer: "cust-03", lines: %{sku => %{sku, qty, unit_cents}}, status: :open |
  {:checking_out, order_id, task_ref, from} | :closed, checkouts: n}`.

  `checkout/2` runs `Shop.Checkout` as a Task under `Shop.TaskSup` and answers when it is done; the
  cart then stops, whatever the outcome (the customer leaves the shop).
  """
  use GenServer, restart: :temporary
  require Logger

  alias Shop.Inventory

  @spec open(String.t()) :: {:ok, pid()} | {:error, term()}
  def open(customer) do
    DynamicSupervisor.start_child(Shop.CartSup, {__MODULE__, customer})
  end

  def start_link(customer), do: GenServer.start_link(__MODULE__, customer, name: via(customer))

  @spec whereis(String.t()) :: pid() | nil
  def whereis(customer) do
    case Registry.lookup(Shop.Registry, customer) do
      [{pid, _}] -> pid
      [] -> nil
    end
  end

  @spec add(String.t(), String.t(), pos_integer()) ::
          :ok | {:error, :out_of_stock | :unknown_sku | :checking_out}
  def add(customer, sku, qty), do: GenServer.call(via(customer), {:add, sku, qty})

  @doc "Sets the quantity of a line already in the cart (the quantity box on the cart page)."
  @spec update_qty(String.t(), String.t(), non_neg_integer()) ::
          :ok | {:error, :out_of_stock | :not_in_cart | :checking_out}
  def update_qty(customer, sku, qty) when is_integer(qty) and qty >= 0,
    do: GenServer.call(via(customer), {:update_qty, sku, qty})

  @spec remove(String.t(), String.t()) :: :ok | {:error, :checking_out}
  def remove(customer, sku), do: GenServer.call(via(customer), {:remove, sku})

  @spec lines(String.t()) :: [map()]
  def lines(customer), do: GenServer.call(via(customer), :lines)

  @doc "Checks out with `card`; the cart stops afterwards."
  @spec checkout(String.t(), String.t()) :: {:ok, map()} | {:error, term()}
  def checkout(customer, card), do: GenServer.call(via(customer), {:checkout, card}, 10_000)

  @doc "Abandons the cart: its reservations are released and it stops."
  @spec close(String.t()) :: :ok
  def close(customer), do: GenServer.call(via(customer), :close)

  defp via(customer), do: {:via, Registry, {Shop.Registry, customer}}

  # -- server --------------------------------------------------------------------------------------

  @impl true
  def init(customer) do
    {:ok, %{customer: customer, lines: %{}, status: :open, checkouts: 0}}
  end

  @impl true
  def handle_call(:lines, _from, state) do
    {:reply, state.lines |> Map.values() |> Enum.sort_by(& &1.sku), state}
  end

  def handle_call(_request, _from, %{status: {:checking_out, _, _, _}} = state) do
    {:reply, {:error, :checking_out}, state}
  end

  def handle_call({:add, sku, qty}, _from, state) do
    with {:ok, unit} <- price(sku),
         :ok <- Inventory.reserve(owner(state), sku, qty) do
      line = Map.get(state.lines, sku, %{sku: sku, qty: 0, unit_cents: unit})
      {:reply, :ok, put_in(state.lines[sku], %{line | qty: line.qty + qty})}
    else
      error -> {:reply, error, state}
    end
  end

  def handle_call({:update_qty, sku, qty}, _from, state) do
    case Map.fetch(state.lines, sku) do
      :error ->
        {:reply, {:error, :not_in_cart}, state}

      {:ok, line} when qty > line.qty ->
        case Inventory.reserve(owner(state), sku, qty - line.qty) do
          :ok -> {:reply, :ok, put_in(state.lines[sku], %{line | qty: qty})}
          error -> {:reply, error, state}
        end

      {:ok, line} ->
        :ok = Inventory.release(owner(state), sku, line.qty - qty)
        {:reply, :ok, put_in(state.lines[sku], %{line | qty: qty})}
    end
  end

  def handle_call({:remove, sku}, _from, state) do
    case Map.pop(state.lines, sku) do
      {nil, _} ->
        {:reply, :ok, state}

      {line, lines} ->
        :ok = Inventory.release(owner(state), sku, line.qty)
        {:reply, :ok, %{state | lines: lines}}
    end
  end

  def handle_call(:close, _from, state) do
    {:ok, _released} = Inventory.release_all(owner(state))
    {:stop, :normal, :ok, state}
  end

  def handle_call({:checkout, _card}, _from, state) when map_size(state.lines) == 0 do
    {:reply, {:error, :empty_cart}, state}
  end

  def handle_call({:checkout, card}, from, state) do
    n = state.checkouts + 1
    order_id = "#{state.customer}/#{n}"

    order = %{
      id: order_id,
      customer: state.customer,
      lines: state.lines |> Map.values() |> Enum.sort_by(& &1.sku),
      card: card
    }

    task = Task.Supervisor.async_nolink(Shop.TaskSup, Shop.Checkout, :run, [order])
    {:noreply, %{state | status: {:checking_out, order_id, task.ref, from}, checkouts: n}}
  end

  @impl true
  # The checkout Task finished: it has already committed or released the order's stock.
  def handle_info({ref, result}, %{status: {:checking_out, _order_id, ref, from}} = state) do
    Process.demonitor(ref, [:flush])
    GenServer.reply(from, result)
    {:stop, :normal, %{state | status: :closed, lines: %{}}}
  end

  # The checkout Task crashed: give the stock back and tell the customer.
  def handle_info(
        {:DOWN, ref, :process, _pid, reason},
        %{status: {:checking_out, order_id, ref, from}} = state
      ) do
    Logger.error("checkout #{order_id} crashed: #{Exception.format_exit(reason)}")
    {:ok, _released} = Inventory.release_all(owner(state))
    :ok = Shop.Stats.failure(:crashed)
    GenServer.reply(from, {:error, :checkout_crashed})
    {:stop, :normal, %{state | status: :closed}}
  end

  defp owner(state), do: {:cart, state.customer}

  defp price(sku) do
    case Shop.Catalog.price(sku) do
      {:ok, unit} -> {:ok, unit}
      :error -> {:error, :unknown_sku}
    end
  end
end
