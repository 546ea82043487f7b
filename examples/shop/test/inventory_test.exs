defmodule Shop.InventoryTest do
  use ExUnit.Case, async: false

  alias Shop.Inventory

  setup do
    :ok = Shop.reset()
  end

  test "reserving takes stock away, releasing gives it back" do
    before = Inventory.stock()["mug"]
    assert :ok = Inventory.reserve({:cart, "a"}, "mug", 3)
    assert Inventory.stock()["mug"] == before - 3
    assert Inventory.reservations() == %{{:cart, "a"} => %{"mug" => 3}}
    assert :ok = Inventory.release({:cart, "a"}, "mug", 2)
    assert Inventory.stock()["mug"] == before - 1
    # Releasing more than is held gives back only what is held.
    assert :ok = Inventory.release({:cart, "a"}, "mug", 5)
    assert Inventory.stock()["mug"] == before
    assert Inventory.reservations() == %{}
    # Releasing what was never reserved changes nothing.
    assert :ok = Inventory.release({:cart, "a"}, "kite", 1)
    assert Inventory.stock() == Shop.Catalog.initial_stock()
  end

  test "out of stock and unknown SKUs are refused without changing anything" do
    available = Inventory.stock()["hoodie"]
    assert {:error, :out_of_stock} = Inventory.reserve({:cart, "a"}, "hoodie", available + 1)
    assert {:error, :unknown_sku} = Inventory.reserve({:cart, "a"}, "kite", 1)
    assert Inventory.stock()["hoodie"] == available
    assert Inventory.reservations() == %{}
  end

  test "a transferred reservation is sold by commit or returned by release_all" do
    start = Inventory.stock()
    :ok = Inventory.reserve({:cart, "a"}, "tee", 2)
    :ok = Inventory.reserve({:cart, "a"}, "sock", 1)
    :ok = Inventory.transfer({:cart, "a"}, {:order, "a/1"})
    assert Inventory.reservations() == %{{:order, "a/1"} => %{"tee" => 2, "sock" => 1}}
    assert {:ok, %{"tee" => 2, "sock" => 1}} = Inventory.commit({:order, "a/1"})
    assert Inventory.stock()["tee"] == start["tee"] - 2
    assert Inventory.reservations() == %{}

    :ok = Inventory.reserve({:cart, "b"}, "tee", 1)
    :ok = Inventory.transfer({:cart, "b"}, {:order, "b/1"})
    assert {:ok, %{"tee" => 1}} = Inventory.release_all({:order, "b/1"})
    assert Inventory.stock()["tee"] == start["tee"] - 2
  end

  test "restock adds stock; every change bumps the version" do
    %{version: v0} = :sys.get_state(Inventory)
    :ok = Inventory.restock("sticker", 5)
    assert {:error, :unknown_sku} = Inventory.restock("kite", 5)
    %{version: v1, stock: stock} = :sys.get_state(Inventory)
    assert v1 == v0 + 1
    assert stock["sticker"] == Shop.Catalog.initial_stock()["sticker"] + 5
  end
end
