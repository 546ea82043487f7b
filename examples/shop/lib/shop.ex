defmodule Shop do
  @moduledoc """
  A small shop: per-customer carts, an inventory of stock and reservations, a pricing engine, a flaky
  payment gateway and order statistics. It exists to be debugged: see README.md, "The bug".

  The supervision tree (`Shop.Application`):

      Shop.Supervisor (one_for_one)
      ├── Shop.Stats            Agent: orders, revenue, failures, gateway starts
      ├── Shop.Inventory        GenServer: stock and reservations per SKU
      ├── Shop.Registry         Registry: customer id → cart pid
      ├── Shop.CartSup          DynamicSupervisor of Shop.Cart (one per customer)
      ├── Shop.TaskSup          Task.Supervisor running checkouts (Shop.Checkout)
      └── Shop.PaymentSup       Supervisor (one_for_one)
          └── Shop.PaymentGateway   GenServer talking to Shop.PaymentGateway.Bank
  """

  @doc """
  Puts the shop back in its initial state: stops every checkout in progress and every cart, restores
  the initial stock, clears the statistics (but not the count of gateway starts) and gives the
  gateway a fresh bank session.
  """
  @spec reset() :: :ok
  def reset do
    for pid <- Task.Supervisor.children(Shop.TaskSup) do
      Task.Supervisor.terminate_child(Shop.TaskSup, pid)
    end

    for {_, pid, _, _} <- DynamicSupervisor.which_children(Shop.CartSup), is_pid(pid) do
      DynamicSupervisor.terminate_child(Shop.CartSup, pid)
    end

    :ok = Shop.Inventory.reset(Shop.Catalog.initial_stock())
    :ok = Shop.Stats.reset()
    :ok = Shop.PaymentGateway.renew_session()
  end
end
