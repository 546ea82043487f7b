defmodule Shop.PaymentSup do
  @moduledoc """
  Supervises the payment gateway alone. The gateway is known to crash when the bank's session
  expires (see `Shop.PaymentGateway`), so this supervisor tolerates more restarts than the default
  before giving up.
  """
  use Supervisor

  def start_link(opts), do: Supervisor.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(_opts) do
    Supervisor.init([Shop.PaymentGateway],
      strategy: :one_for_one,
      max_restarts: 20,
      max_seconds: 5
    )
  end
end
