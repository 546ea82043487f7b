defmodule Corpus.Mailbox do
  @moduledoc """
  `receive` with `after`: a timeout of 0, a selective receive that leaves other messages in the
  mailbox, a receive loop that collects until a marker, and a timeout taken from a variable.
  """

  def poll(default) do
    receive do
      {:value, v} -> {:got, v}
    after
      0 -> {:empty, default}
    end
  end

  def take_tagged(tag, timeout) do
    receive do
      {^tag, payload} -> {:ok, payload}
      {:error, ^tag, why} -> {:error, why}
    after
      timeout -> :timeout
    end
  end

  def collect_until(marker), do: collect_until(marker, [])

  defp collect_until(marker, acc) do
    receive do
      ^marker -> Enum.reverse(acc)
      {:item, x} when is_integer(x) -> collect_until(marker, [x * 10 | acc])
      {:item, x} -> collect_until(marker, [x | acc])
    after
      1000 -> {:incomplete, Enum.reverse(acc)}
    end
  end

  def ping_pong(n) do
    parent = self()

    child =
      spawn(fn ->
        receive do
          {:ping, from, k} -> send(from, {:pong, k + 1})
        end
      end)

    send(child, {:ping, parent, n})

    receive do
      {:pong, m} -> m
    after
      5000 -> :no_pong
    end
  end

  # Tasks: spawned, linked and monitored processes whose results come back as messages.
  def squares_in_tasks(list) do
    list
    |> Enum.map(fn x -> Task.async(fn -> x * x end) end)
    |> Enum.map(&Task.await/1)
  end

  def ordered_stream(list) do
    list
    |> Task.async_stream(fn x -> {x, x + 1} end, max_concurrency: 2)
    |> Enum.map(fn {:ok, v} -> v end)
  end

  def drain(acc \\ []) do
    receive do
      msg -> drain([msg | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end
end
