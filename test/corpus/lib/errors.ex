defmodule Corpus.Errors do
  @moduledoc """
  try with rescue, catch, else and after; raise, throw, exit, reraise; custom exception structs.
  An instrumenter that wraps function bodies must not swallow, convert or re-order any of these,
  and `after` must run exactly once.
  """

  defmodule Boom do
    defexception [:code, message: "boom"]

    @impl true
    def exception(opts) do
      code = Keyword.get(opts, :code, 0)
      %__MODULE__{code: code, message: "boom #{code}"}
    end
  end

  defmodule Wrapped do
    defexception [:inner, :message]
  end

  def raise_boom(code), do: raise(Boom, code: code)

  def safe_div(a, b) do
    try do
      a / b
    rescue
      e in ArithmeticError -> {:error, e.message}
    else
      value -> {:ok, value}
    end
  end

  def classify(fun) do
    try do
      fun.()
    rescue
      e in Boom -> {:rescued_boom, e.code}
      e in [ArgumentError, KeyError] -> {:rescued, e.__struct__}
    catch
      :throw, value -> {:caught_throw, value}
      :exit, reason -> {:caught_exit, reason}
    else
      {:ok, v} -> {:else_ok, v}
      other -> {:else_other, other}
    end
  end

  # `after` runs whether or not the body raised; the side effect goes to the caller's mailbox.
  def with_after(fun, notify) do
    try do
      fun.()
    after
      send(notify, :after_ran)
    end
  end

  def rewrap(fun) do
    try do
      fun.()
    rescue
      e in Boom -> reraise Wrapped, [inner: e.code, message: "wrapped " <> e.message], __STACKTRACE__
    end
  end

  def reraise_same(fun) do
    try do
      fun.()
    rescue
      e -> reraise e, __STACKTRACE__
    end
  end

  def throw_value(v), do: throw({:thrown, v})

  def exit_with(reason), do: exit(reason)

  def nested(n) do
    try do
      try do
        if n > 0, do: throw(n), else: raise(Boom, code: n)
      catch
        :throw, t when t > 10 -> {:inner_caught, t}
      after
        Process.put(:corpus_nested_after, n)
      end
    catch
      :throw, t -> {:outer_caught, t}
    end
  end

  def catch_all(fun) do
    try do
      fun.()
    catch
      kind, reason -> {kind, normalize(reason)}
    end
  end

  defp normalize(%{__exception__: true} = e), do: {:exception, e.__struct__}
  defp normalize(other), do: other

  # A function whose result is the value of try itself used in an expression.
  def try_in_expression(x) do
    base =
      try do
        String.to_integer(x)
      rescue
        ArgumentError -> 0
      end

    base + 1
  end
end
