defmodule Shop.PaymentGatewayTest do
  use ExUnit.Case, async: false

  alias Shop.{PaymentGateway, Stats}
  alias Shop.PaymentGateway.Bank

  setup do
    :ok = Shop.reset()
  end

  test "charges go through the bank; declines are answers, not crashes" do
    %{charges: charges, captured_cents: captured} = PaymentGateway.info()
    assert {:ok, "cap_" <> _} = PaymentGateway.charge("o/1", "tok_visa", 1000)

    assert {:error, {:declined, :card_declined}} =
             PaymentGateway.charge("o/2", "tok_declined", 1000)

    assert {:error, {:declined, :insufficient_funds}} =
             PaymentGateway.charge("o/3", "tok_low_funds", 9000)

    assert {:error, {:declined, :over_limit}} = PaymentGateway.charge("o/4", "tok_visa", 200_000)
    info = PaymentGateway.info()
    assert info.charges == charges + 4
    assert info.captured_cents == captured + 1000
    assert hd(info.recent) == "o/1"
  end

  test "an expired bank session crashes the gateway (MatchError); it is restarted and the charge retried" do
    for i <- 1..Bank.session_limit() do
      assert {:ok, _} = PaymentGateway.charge("o/#{i}", "tok_visa", 100)
    end

    old = Process.whereis(PaymentGateway)
    ref = Process.monitor(old)
    starts = Stats.get().gateway_starts

    assert {:ok, _} = PaymentGateway.charge("o/next", "tok_mastercard", 100)

    assert_receive {:DOWN, ^ref, :process, ^old,
                    {{:badmatch, {:error, :session_expired}}, _stack}}

    new = Process.whereis(PaymentGateway)
    assert is_pid(new) and new != old
    assert Stats.get().gateway_starts == starts + 1
    # The new gateway starts from scratch: a fresh session holding the retried charge.
    assert %{charges: 1, recent: ["o/next"], session: %{captures: 1}} = PaymentGateway.info()
    assert [{Shop.PaymentGateway, ^new, :worker, _}] = Supervisor.which_children(Shop.PaymentSup)
  end
end
