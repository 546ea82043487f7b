defmodule Shop.Catalog do
  @moduledoc "What the shop sells: SKU → name and unit price in cents, and the stock it opens with."

  @products %{
    "coffee" => %{name: "Single-origin coffee, 250 g", price_cents: 1299, initial_stock: 40},
    "mug" => %{name: "Enamel mug", price_cents: 899, initial_stock: 25},
    "sock" => %{name: "Wool socks", price_cents: 499, initial_stock: 60},
    "tee" => %{name: "T-shirt", price_cents: 1999, initial_stock: 30},
    "sticker" => %{name: "Sticker", price_cents: 199, initial_stock: 100},
    "hoodie" => %{name: "Hoodie", price_cents: 4999, initial_stock: 12}
  }

  @spec skus() :: [String.t()]
  def skus, do: @products |> Map.keys() |> Enum.sort()

  @spec price(String.t()) :: {:ok, pos_integer()} | :error
  def price(sku) do
    case Map.fetch(@products, sku) do
      {:ok, %{price_cents: cents}} -> {:ok, cents}
      :error -> :error
    end
  end

  @spec name(String.t()) :: String.t() | nil
  def name(sku), do: get_in(@products, [sku, :name])

  @spec initial_stock() :: %{String.t() => non_neg_integer()}
  def initial_stock, do: Map.new(@products, fn {sku, p} -> {sku, p.initial_stock} end)
end
