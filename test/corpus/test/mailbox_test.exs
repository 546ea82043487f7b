defmodule Corpus.MailboxTest do
  use ExUnit.Case, async: false
  alias Corpus.{Mailbox, Observe}

  test "after 0 when the mailbox is empty, the message when there is one" do
    assert Observe.value("mailbox.poll.empty", fn -> Mailbox.poll(:d) end) == {:empty, :d}
    send(self(), {:value, 7})
    assert Observe.value("mailbox.poll.value", fn -> Mailbox.poll(:d) end) == {:got, 7}
  end

  test "selective receive with a pinned tag leaves other messages" do
    send(self(), {:other, 1})
    send(self(), {:error, :mine, :bad})
    send(self(), {:mine, :payload})
    assert Observe.value("mailbox.take.error", fn -> Mailbox.take_tagged(:mine, 100) end) == {:error, :bad}
    assert Observe.value("mailbox.take.ok", fn -> Mailbox.take_tagged(:mine, 100) end) == {:ok, :payload}
    assert Observe.value("mailbox.take.timeout", fn -> Mailbox.take_tagged(:mine, 10) end) == :timeout
    assert Observe.value("mailbox.drain", fn -> Mailbox.drain() end) == [{:other, 1}]
  end

  test "a receive loop collects until a marker" do
    for m <- [{:item, 1}, {:item, :a}, {:item, 3}, :stop, {:item, 4}], do: send(self(), m)
    assert Observe.value("mailbox.collect", fn -> Mailbox.collect_until(:stop) end) == [10, :a, 30]
    assert Observe.value("mailbox.collect.rest", fn -> Mailbox.drain() end) == [{:item, 4}]
  end

  test "tasks" do
    assert Observe.value("mailbox.tasks", fn -> Mailbox.squares_in_tasks([1, 2, 3]) end) == [1, 4, 9]
    assert Observe.value("mailbox.async_stream", fn -> Mailbox.ordered_stream([1, 2, 3]) end) == [{1, 2}, {2, 3}, {3, 4}]
    assert Observe.value("mailbox.after_tasks", fn -> Mailbox.drain() end) == []
  end

  test "a message round trip through a spawned process" do
    assert Observe.value("mailbox.ping_pong", fn -> Mailbox.ping_pong(41) end) == 42
  end
end
