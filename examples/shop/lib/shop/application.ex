defmodule Shop.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      Shop.Stats,
      {Shop.Inventory, Shop.Catalog.initial_stock()},
      {Registry, keys: :unique, name: Shop.Registry},
      {DynamicSupervisor, name: Shop.CartSup, strategy: :one_for_one},
      {Task.Supervisor, name: Shop.TaskSup},
      Shop.PaymentSup
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Shop.Supervisor)
  end
end
