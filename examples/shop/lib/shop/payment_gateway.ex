defmodule Shop.PaymentGateway do
  @moduledoc """
  Charges cards through the bank (`Shop.PaymentGateway.Bank`), one charge at a time.

  State: `%{session: %{id, captures}, charges: n, captured_cents: n, recent: [order_id, ...]}`.

  It crashes now and then: when the bank's session has expired, `capture/2` answers
  `{:error, :session_expired}`, which the `{:ok, _, _} = ...` match in `handle_call/3` does not
  expect (a `MatchError`). `Shop.PaymentSup` restarts it with a fresh session, and `charge/3`
  retries a call that died with the gateway, so the customer's charge still goes through.
  """
  use GenServer
  require Logger

  alias Shop.PaymentGateway.Bank

  @retries 5

  def start_link(_opts), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @doc """
  Charges `amount_cents` to `card` for `order_id`. Returns `{:ok, capture_id}`,
  `{:error, {:declined, reason}}`, or `{:error, :gateway_unavailable}` when the gateway died on every
  attempt.
  """
  @spec charge(String.t(), String.t(), non_neg_integer()) ::
          {:ok, String.t()} | {:error, {:declined, atom()} | :gateway_unavailable}
  def charge(order_id, card, amount_cents), do: charge(order_id, card, amount_cents, @retries)

  defp charge(_order_id, _card, _amount, 0), do: {:error, :gateway_unavailable}

  defp charge(order_id, card, amount, attempts_left) do
    GenServer.call(__MODULE__, {:charge, order_id, card, amount})
  catch
    :exit, reason ->
      Logger.warning("charge #{order_id}: gateway exited (#{short(reason)}), retrying")
      Process.sleep(5)
      charge(order_id, card, amount, attempts_left - 1)
  end

  @doc "Opens a new bank session (as a token refresh would)."
  @spec renew_session() :: :ok
  def renew_session, do: GenServer.call(__MODULE__, :renew_session)

  @spec info() :: map()
  def info, do: GenServer.call(__MODULE__, :info)

  @impl true
  def init([]) do
    :ok = Shop.Stats.gateway_started()
    {:ok, %{session: Bank.open_session(), charges: 0, captured_cents: 0, recent: []}}
  end

  @impl true
  def handle_call({:charge, order_id, card, amount}, _from, state) do
    state = %{state | charges: state.charges + 1}

    case Bank.authorize(card, amount) do
      {:ok, auth} ->
        {:ok, capture_id, session} = Bank.capture(state.session, auth)

        state = %{
          state
          | session: session,
            captured_cents: state.captured_cents + amount,
            recent: Enum.take([order_id | state.recent], 5)
        }

        {:reply, {:ok, capture_id}, state}

      {:declined, reason} ->
        {:reply, {:error, {:declined, reason}}, state}
    end
  end

  def handle_call(:renew_session, _from, state) do
    {:reply, :ok, %{state | session: Bank.open_session()}}
  end

  def handle_call(:info, _from, state), do: {:reply, state, state}

  defp short({{{:badmatch, _value}, _stack}, _call}), do: "MatchError"
  defp short({:noproc, _call}), do: "noproc"
  defp short({reason, _call}) when is_atom(reason), do: Atom.to_string(reason)
  defp short(_other), do: "crash"
end
