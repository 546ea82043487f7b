defmodule Shop.Pricing do
  @moduledoc """
  Prices an order: pure functions over line items (`%{sku: "mug", qty: 2, unit_cents: 899}`).

  Line rules change one line's total; order rules take an amount off the whole order. Then tax is
  added. `quote/2` returns the receipt:

      %{lines: [%{sku: "mug", qty: 2, gross_cents: 1798, net_cents: 1798, unit_cents: 899}, ...],
        subtotal_cents: ..., discounts: [{rule_name, cents}, ...], tax_cents: ..., total_cents: ...}
  """

  @type line :: %{sku: String.t(), qty: non_neg_integer(), unit_cents: non_neg_integer()}
  @type rule ::
          {:multi_buy, String.t(), pos_integer()}
          | {:bulk, String.t(), pos_integer(), pos_integer()}
          | {:bundle, String.t(), String.t(), pos_integer()}
          | {:over, pos_integer(), pos_integer()}

  @tax_percent 8

  @doc "The shop's current promotions."
  @spec rules() :: [rule()]
  def rules do
    [
      # every 4th pair of socks is free
      {:multi_buy, "sock", 4},
      # 10% off coffee from 5 bags
      {:bulk, "coffee", 5, 10},
      # 15% off hoodies from 3
      {:bulk, "hoodie", 3, 15},
      # a mug with coffee: 3.00 off
      {:bundle, "mug", "coffee", 300},
      # 5% off orders over 100.00
      {:over, 10_000, 5}
    ]
  end

  @spec quote([line()], [rule()]) :: map()
  def quote(lines, rules \\ rules()) do
    receipt = receipt_lines(lines, rules)
    subtotal = sum_net(receipt)
    discounts = order_discounts(rules, receipt, subtotal)
    discounted = max(subtotal - sum_discounts(discounts), 0)
    tax = tax(discounted)

    %{
      lines: receipt,
      subtotal_cents: subtotal,
      discounts: discounts,
      tax_cents: tax,
      total_cents: discounted + tax
    }
  end

  @doc "Each line with its gross total, its total after line rules, and the effective unit price."
  @spec receipt_lines([line()], [rule()]) :: [map()]
  def receipt_lines([], _rules), do: []

  def receipt_lines([line | rest], rules) do
    gross = line_gross(line)
    net = apply_line_rules(rules, line, gross)

    receipt = %{
      sku: line.sku,
      qty: line.qty,
      gross_cents: gross,
      net_cents: net,
      unit_cents: unit_price(net, line.qty)
    }

    [receipt | receipt_lines(rest, rules)]
  end

  @spec line_gross(line()) :: non_neg_integer()
  def line_gross(%{qty: qty, unit_cents: unit}), do: qty * unit

  @doc "What one unit effectively cost after the line's discounts (shown on the receipt)."
  @spec unit_price(non_neg_integer(), non_neg_integer()) :: non_neg_integer()
  def unit_price(net_cents, qty), do: div(net_cents, qty)

  @spec apply_line_rules([rule()], line(), non_neg_integer()) :: non_neg_integer()
  def apply_line_rules([], _line, total), do: total

  def apply_line_rules([{:multi_buy, sku, nth} | rest], %{sku: sku} = line, total) do
    free = div(line.qty, nth)
    apply_line_rules(rest, line, total - free * line.unit_cents)
  end

  def apply_line_rules([{:bulk, sku, min_qty, percent} | rest], %{sku: sku} = line, total)
      when line.qty >= min_qty do
    apply_line_rules(rest, line, total - percent_of(total, percent))
  end

  def apply_line_rules([_other | rest], line, total), do: apply_line_rules(rest, line, total)

  @spec order_discounts([rule()], [map()], non_neg_integer()) :: [{atom(), non_neg_integer()}]
  def order_discounts([], _receipt, _subtotal), do: []

  def order_discounts([{:bundle, a, b, off} | rest], receipt, subtotal) do
    if has_sku?(receipt, a) and has_sku?(receipt, b) do
      [{:bundle, off} | order_discounts(rest, receipt, subtotal)]
    else
      order_discounts(rest, receipt, subtotal)
    end
  end

  def order_discounts([{:over, threshold, percent} | rest], receipt, subtotal)
      when subtotal > threshold do
    [{:over, percent_of(subtotal, percent)} | order_discounts(rest, receipt, subtotal)]
  end

  def order_discounts([_line_rule | rest], receipt, subtotal),
    do: order_discounts(rest, receipt, subtotal)

  @spec tax(non_neg_integer()) :: non_neg_integer()
  def tax(cents), do: percent_of(cents, @tax_percent)

  @doc "`percent`% of `cents`, rounded half up."
  @spec percent_of(non_neg_integer(), non_neg_integer()) :: non_neg_integer()
  def percent_of(cents, percent), do: div(cents * percent + 50, 100)

  defp has_sku?([], _sku), do: false
  defp has_sku?([%{sku: sku} | _], sku), do: true
  defp has_sku?([_ | rest], sku), do: has_sku?(rest, sku)

  defp sum_net([]), do: 0
  defp sum_net([%{net_cents: net} | rest]), do: net + sum_net(rest)

  defp sum_discounts([]), do: 0
  defp sum_discounts([{_rule, cents} | rest]), do: cents + sum_discounts(rest)
end
