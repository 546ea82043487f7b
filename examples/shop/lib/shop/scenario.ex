defmodule Shop.Scenario do
  @moduledoc """
  Drives traffic through the shop, for demos and for recordings.

  `run/1` plays a fixed number of rounds and returns a summary. In each round a handful of new
  customers open carts, add, re-quantify and remove items (their operations interleaved), then check
  out concurrently (each checkout is a Task under `Shop.TaskSup`) or abandon the cart. Between rounds
  the supplier restocks what runs low. Every random choice is made here, in the calling process, from
  `:rand.seed(:exsss, seed)`, so the same seed gives the same summary, although the checkouts of a
  round run concurrently.

  `loop/2` does the same forever, one small round after another, pausing between operations.
  """
  require Logger

  alias Shop.{Cart, Inventory, Stats}

  @min_interval_ms 10

  @cards [
    {"tok_visa", 45},
    {"tok_mastercard", 35},
    {"tok_low_funds", 12},
    {"tok_declined", 8}
  ]

  @doc """
  Plays the scenario. Options: `:seed` (default 42), `:rounds` (default 8), `:reset` (default true:
  start from `Shop.reset/0`).

  Returns `%{seed, rounds, customers, operations, orders, revenue_cents, failures, failure_reasons,
  restarts, stock, leaked}`: `restarts` counts payment gateway restarts during the run, `stock` is the
  stock available at the end and `leaked` the stock still reserved (per SKU) although every cart has
  closed.
  """
  @spec run(keyword()) :: map()
  def run(opts \\ []) do
    seed = Keyword.get(opts, :seed, 42)
    rounds = Keyword.get(opts, :rounds, 8)
    if Keyword.get(opts, :reset, true), do: :ok = Shop.reset()
    :rand.seed(:exsss, seed)
    starts_before = Stats.get().gateway_starts

    acc =
      Enum.reduce(1..rounds, %{next_customer: 1, operations: 0, pause: 0, prefix: "cust"}, fn _n,
                                                                                              acc ->
        acc |> play_round(3 + :rand.uniform(4)) |> restock()
      end)

    stats = Stats.get()

    %{
      seed: seed,
      rounds: rounds,
      customers: acc.next_customer - 1,
      operations: acc.operations,
      orders: stats.orders,
      revenue_cents: stats.revenue_cents,
      failures: stats.failures |> Map.values() |> Enum.sum(),
      failure_reasons: stats.failures,
      restarts: stats.gateway_starts - starts_before,
      stock: Inventory.stock(),
      leaked: Inventory.reserved_by_sku()
    }
  end

  @doc """
  Keeps generating traffic until the calling process is stopped: rounds of one to three customers,
  `interval_ms` between operations. Options: `:seed` (default: 1). Never returns.

  Intervals below #{@min_interval_ms} ms count as #{@min_interval_ms}: the gateway crashes once every
  #{Shop.PaymentGateway.Bank.session_limit() + 1} charges, and faster traffic would crash it more often
  than `Shop.PaymentSup` tolerates, taking the whole shop down.
  """
  @spec loop(non_neg_integer(), keyword()) :: no_return()
  def loop(interval_ms, opts \\ []) when is_integer(interval_ms) and interval_ms >= 0 do
    :rand.seed(:exsss, Keyword.get(opts, :seed, 1))
    prefix = "live#{System.unique_integer([:positive])}"
    pause = max(interval_ms, @min_interval_ms)
    loop_rounds(%{next_customer: 1, operations: 0, pause: pause, prefix: prefix})
  end

  @doc "Runs `loop/2` in a new process; stop it with `stop_loop/1`."
  @spec start_loop(non_neg_integer(), keyword()) :: {:ok, pid()}
  def start_loop(interval_ms, opts \\ []), do: Task.start(fn -> loop(interval_ms, opts) end)

  @spec stop_loop(pid()) :: :ok
  def stop_loop(pid) do
    ref = Process.monitor(pid)
    Process.exit(pid, :shutdown)

    receive do
      {:DOWN, ^ref, :process, ^pid, _} -> :ok
    end
  end

  defp loop_rounds(acc) do
    acc = acc |> play_round(:rand.uniform(3)) |> restock()
    loop_rounds(acc)
  end

  # -- one round ---------------------------------------------------------------------------------------

  defp play_round(acc, n_customers) do
    first = acc.next_customer
    customers = for i <- first..(first + n_customers - 1), do: customer_id(acc.prefix, i)
    acc = %{acc | next_customer: first + n_customers}

    acc =
      Enum.reduce(customers, acc, fn c, acc ->
        {:ok, _pid} = Cart.open(c)
        op(acc)
      end)

    # Each customer does 2 to 6 things to their cart; the customers take turns at random.
    todo = Map.new(customers, fn c -> {c, 1 + :rand.uniform(5)} end)
    in_cart = Map.new(customers, fn c -> {c, []} end)
    {acc, _in_cart} = shop(acc, todo, in_cart)

    # Then each either abandons the cart or checks out; the checkouts of a round run concurrently.
    {leaving, paying} =
      customers
      |> Enum.map(fn c -> {c, if(:rand.uniform(100) <= 12, do: :abandon, else: pick_card())} end)
      |> Enum.split_with(fn {_c, choice} -> choice == :abandon end)

    acc =
      Enum.reduce(leaving, acc, fn {c, :abandon}, acc ->
        pause_then(acc, fn -> Cart.close(c) end)
      end)

    pause(acc)

    paying
    |> Enum.map(fn {c, card} -> Task.async(fn -> {c, Cart.checkout(c, card)} end) end)
    |> Task.await_many(30_000)
    |> Enum.reduce(%{acc | operations: acc.operations + length(paying)}, fn
      {_c, {:ok, _order}}, acc ->
        acc

      # The cart stays open when there was nothing to pay for: the customer closes it and leaves.
      {c, {:error, :empty_cart}}, acc ->
        pause_then(acc, fn -> Cart.close(c) end)

      {c, {:error, reason}}, acc ->
        Logger.info("checkout for #{c} failed: #{inspect(reason)}")
        acc
    end)
  end

  defp shop(acc, todo, in_cart) when map_size(todo) == 0, do: {acc, in_cart}

  defp shop(acc, todo, in_cart) do
    c = todo |> Map.keys() |> Enum.sort() |> Enum.random()
    skus = Map.fetch!(in_cart, c)
    {call, skus} = next_action(c, skus)
    acc = pause_then(acc, call)
    todo = if todo[c] == 1, do: Map.delete(todo, c), else: Map.update!(todo, c, &(&1 - 1))
    shop(acc, todo, Map.put(in_cart, c, skus))
  end

  # Decides the customer's next action from what the driver knows is in the cart; returns the call to
  # make and what will be in the cart if it succeeds (the call's result is checked when it runs).
  defp next_action(c, skus) do
    roll = :rand.uniform(10)

    cond do
      skus == [] or roll <= 5 ->
        sku = Enum.random(Shop.Catalog.skus())
        qty = :rand.uniform(3)
        {fn -> Cart.add(c, sku, qty) end, Enum.uniq([sku | skus])}

      roll <= 8 ->
        sku = Enum.random(skus)
        qty = :rand.uniform(5) - 1
        {fn -> Cart.update_qty(c, sku, qty) end, skus}

      true ->
        sku = Enum.random(skus)
        {fn -> Cart.remove(c, sku) end, List.delete(skus, sku)}
    end
  end

  defp pick_card do
    roll = :rand.uniform(100)

    Enum.reduce_while(@cards, 0, fn {card, weight}, seen ->
      if roll <= seen + weight, do: {:halt, card}, else: {:cont, seen + weight}
    end)
  end

  # The supplier delivers 20 of anything that has fallen below 8.
  defp restock(acc) do
    Inventory.stock()
    |> Enum.filter(fn {_sku, available} -> available < 8 end)
    |> Enum.sort()
    |> Enum.reduce(acc, fn {sku, _}, acc ->
      pause_then(acc, fn -> Inventory.restock(sku, 20) end)
    end)
  end

  defp pause_then(acc, call) do
    pause(acc)

    case call.() do
      :ok -> :ok
      {:error, reason} -> Logger.debug("scenario: #{inspect(reason)}")
    end

    op(acc)
  end

  defp pause(%{pause: 0}), do: :ok
  defp pause(%{pause: ms}), do: Process.sleep(ms)

  defp op(acc), do: %{acc | operations: acc.operations + 1}

  defp customer_id(prefix, i),
    do: prefix <> "-" <> String.pad_leading(Integer.to_string(i), 3, "0")
end
