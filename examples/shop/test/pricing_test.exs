defmodule Shop.PricingTest do
  use ExUnit.Case, async: true

  alias Shop.Pricing

  defp line(sku, qty) do
    {:ok, unit} = Shop.Catalog.price(sku)
    %{sku: sku, qty: qty, unit_cents: unit}
  end

  test "an order without promotions: subtotal, 8% tax, total" do
    q = Pricing.quote([line("tee", 2), line("sticker", 3)])
    assert q.subtotal_cents == 2 * 1999 + 3 * 199
    assert q.discounts == []
    assert q.tax_cents == Pricing.percent_of(4595, 8)
    assert q.total_cents == 4595 + 368
  end

  test "every 4th pair of socks is free" do
    [receipt] = Pricing.quote([line("sock", 9)]).lines
    assert receipt.gross_cents == 9 * 499
    assert receipt.net_cents == 7 * 499
    assert receipt.unit_cents == div(7 * 499, 9)
  end

  test "10% off coffee from 5 bags, not below" do
    [four] = Pricing.receipt_lines([line("coffee", 4)], Pricing.rules())
    [five] = Pricing.receipt_lines([line("coffee", 5)], Pricing.rules())
    assert four.net_cents == 4 * 1299
    assert five.net_cents == 5 * 1299 - Pricing.percent_of(5 * 1299, 10)
  end

  test "a mug with coffee takes 3.00 off the order" do
    q = Pricing.quote([line("mug", 1), line("coffee", 1)])
    assert q.discounts == [{:bundle, 300}]
    assert q.total_cents == 899 + 1299 - 300 + Pricing.tax(899 + 1299 - 300)
  end

  test "orders over 100.00 get 5% off, after line discounts" do
    q = Pricing.quote([line("hoodie", 3)])
    net = 3 * 4999 - Pricing.percent_of(3 * 4999, 15)
    assert q.subtotal_cents == net
    assert q.discounts == [{:over, Pricing.percent_of(net, 5)}]
  end

  test "rules can be given explicitly" do
    assert Pricing.quote([line("sock", 4)], []).subtotal_cents == 4 * 499
  end

  test "a line with qty 0 cannot be priced (the trigger of the bug in README.md)" do
    assert_raise ArithmeticError, fn -> Pricing.quote([line("tee", 1), line("mug", 0)]) end
  end
end
