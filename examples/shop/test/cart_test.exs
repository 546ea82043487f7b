defmodule Shop.CartTest do
  use ExUnit.Case, async: false

  alias Shop.{Cart, Inventory, Stats}

  setup do
    :ok = Shop.reset()
  end

  test "a cart is a child of Shop.CartSup, found through Shop.Registry" do
    {:ok, pid} = Cart.open("ann")
    assert Cart.whereis("ann") == pid
    assert [{:undefined, ^pid, :worker, [Cart]}] = DynamicSupervisor.which_children(Shop.CartSup)
    assert {:error, {:already_started, ^pid}} = Cart.open("ann")
  end

  test "adding reserves stock, changing the quantity adjusts it, removing releases it" do
    {:ok, _} = Cart.open("ann")
    start = Inventory.stock()["coffee"]
    :ok = Cart.add("ann", "coffee", 2)
    :ok = Cart.add("ann", "coffee", 1)
    assert [%{sku: "coffee", qty: 3}] = Cart.lines("ann")
    assert Inventory.reservations() == %{{:cart, "ann"} => %{"coffee" => 3}}
    :ok = Cart.update_qty("ann", "coffee", 5)
    assert Inventory.stock()["coffee"] == start - 5
    :ok = Cart.update_qty("ann", "coffee", 1)
    assert Inventory.stock()["coffee"] == start - 1
    assert {:error, :not_in_cart} = Cart.update_qty("ann", "mug", 1)
    :ok = Cart.remove("ann", "coffee")
    assert Cart.lines("ann") == []
    assert Inventory.stock()["coffee"] == start
  end

  test "an item out of stock is refused" do
    {:ok, _} = Cart.open("ann")
    assert {:error, :out_of_stock} = Cart.add("ann", "hoodie", 1000)
    assert {:error, :unknown_sku} = Cart.add("ann", "kite", 1)
    assert Cart.lines("ann") == []
  end

  test "closing a cart releases its reservations and stops it" do
    {:ok, pid} = Cart.open("ann")
    :ok = Cart.add("ann", "tee", 2)
    ref = Process.monitor(pid)
    :ok = Cart.close("ann")
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}
    assert Inventory.stock() == Shop.Catalog.initial_stock()
    assert Inventory.reservations() == %{}
  end

  test "a successful checkout sells the stock, counts the order and ends the cart" do
    {:ok, pid} = Cart.open("ann")
    :ok = Cart.add("ann", "mug", 1)
    :ok = Cart.add("ann", "coffee", 1)
    ref = Process.monitor(pid)
    assert {:ok, %{order_id: "ann/1", total_cents: total}} = Cart.checkout("ann", "tok_visa")
    assert total == Shop.Pricing.quote(lines(["mug", "coffee"])).total_cents
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}
    assert Inventory.reservations() == %{}
    assert Inventory.stock()["mug"] == Shop.Catalog.initial_stock()["mug"] - 1
    assert %{orders: 1, revenue_cents: ^total, failures: %{}} = Stats.get()
  end

  test "a declined card returns the stock and counts a failure" do
    {:ok, _} = Cart.open("bob")
    :ok = Cart.add("bob", "tee", 2)
    assert {:error, {:declined, :card_declined}} = Cart.checkout("bob", "tok_declined")
    assert Inventory.stock() == Shop.Catalog.initial_stock()
    assert Inventory.reservations() == %{}
    assert %{orders: 0, failures: %{declined: 1}} = Stats.get()
  end

  test "an empty cart cannot check out" do
    {:ok, _} = Cart.open("cy")
    assert {:error, :empty_cart} = Cart.checkout("cy", "tok_visa")
  end

  defp lines(skus) do
    for sku <- skus do
      {:ok, unit} = Shop.Catalog.price(sku)
      %{sku: sku, qty: 1, unit_cents: unit}
    end
    |> Enum.sort_by(& &1.sku)
  end
end
