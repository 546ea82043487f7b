defmodule Shop.BugTest do
  @moduledoc """
  The bug described in README.md ("The bug"). This test passes while the bug is there: it pins the
  symptom down. When the bug is fixed it fails, and should then be turned around.
  """
  use ExUnit.Case, async: false

  alias Shop.{Cart, Inventory, Stats}

  setup do
    :ok = Shop.reset()
  end

  test "BUG: a cart line set to qty 0 crashes checkout, and the order's stock stays reserved forever" do
    {:ok, cart} = Cart.open("dora")
    :ok = Cart.add("dora", "tee", 2)
    :ok = Cart.add("dora", "mug", 1)
    # The customer sets the mug's quantity box to 0 instead of pressing "remove".
    :ok = Cart.update_qty("dora", "mug", 0)
    assert [%{sku: "mug", qty: 0}, %{sku: "tee", qty: 2}] = Cart.lines("dora")

    ref = Process.monitor(cart)
    assert {:error, :checkout_crashed} = Cart.checkout("dora", "tok_visa")
    assert_receive {:DOWN, ^ref, :process, ^cart, :normal}
    assert %{orders: 0, failures: %{crashed: 1}} = Stats.get()

    # The cart is gone and nothing was sold, yet two T-shirts are still held, for an order that will
    # never be paid for: nobody else can buy them.
    assert Inventory.reservations() == %{{:order, "dora/1"} => %{"tee" => 2}}
    assert Inventory.stock()["tee"] == Shop.Catalog.initial_stock()["tee"] - 2
  end
end
