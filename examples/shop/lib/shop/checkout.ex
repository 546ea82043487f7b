defmodule Shop.Checkout do
  @moduledoc """
  One checkout, run as a Task under `Shop.TaskSup` by the cart: hold the cart's stock for the order,
  price it, charge the card, then sell the stock (commit) or give it back (release).
  """
  alias Shop.{Inventory, PaymentGateway, Pricing, Stats}

  @spec run(map()) :: {:ok, map()} | {:error, term()}
  def run(order) do
    # Hold the stock for this order first, so that nobody can buy it between the quote and the charge.
    :ok = Inventory.transfer({:cart, order.customer}, {:order, order.id})
    quote = Pricing.quote(order.lines)

    case PaymentGateway.charge(order.id, order.card, quote.total_cents) do
      {:ok, capture_id} ->
        {:ok, _sold} = Inventory.commit({:order, order.id})
        :ok = Stats.order(quote.total_cents)
        {:ok, %{order_id: order.id, total_cents: quote.total_cents, capture: capture_id}}

      {:error, reason} ->
        {:ok, _released} = Inventory.release_all({:order, order.id})
        :ok = Stats.failure(failure_name(reason))
        {:error, reason}
    end
  end

  defp failure_name({:declined, _why}), do: :declined
  defp failure_name(reason) when is_atom(reason), do: reason
end
