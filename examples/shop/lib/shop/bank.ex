defmodule Shop.PaymentGateway.Bank do
  @moduledoc """
  A stand-in for the acquiring bank's API (pure functions, no network). Card tokens behave like a
  payment provider's test cards:

    * `"tok_visa"`, `"tok_mastercard"`: authorised up to 1,000.00
    * `"tok_low_funds"`: authorised up to 50.00, declined `:insufficient_funds` above
    * `"tok_declined"`: always declined `:card_declined`

  A session allows `session_limit/0` captures; after that the bank answers
  `{:error, :session_expired}` and a new session must be opened.
  """

  @session_limit 12

  @spec session_limit() :: pos_integer()
  def session_limit, do: @session_limit

  @spec open_session() :: map()
  def open_session do
    %{id: "sess_" <> Integer.to_string(System.unique_integer([:positive])), captures: 0}
  end

  @spec authorize(String.t(), non_neg_integer()) :: {:ok, map()} | {:declined, atom()}
  def authorize("tok_declined", _amount), do: {:declined, :card_declined}

  def authorize("tok_low_funds", amount) when amount > 5_000,
    do: {:declined, :insufficient_funds}

  def authorize(card, amount) when card in ["tok_visa", "tok_mastercard", "tok_low_funds"] do
    if amount > 100_000,
      do: {:declined, :over_limit},
      else: {:ok, %{card: card, amount: amount}}
  end

  def authorize(_unknown, _amount), do: {:declined, :invalid_card}

  @spec capture(map(), map()) :: {:ok, String.t(), map()} | {:error, :session_expired}
  def capture(%{captures: n}, _auth) when n >= @session_limit, do: {:error, :session_expired}

  def capture(session, auth) do
    n = session.captures + 1
    {:ok, "cap_#{session.id}_#{n}_#{auth.amount}", %{session | captures: n}}
  end
end
