/**
 * Tail calls survive instrumentation: a 10-million-iteration tail-recursive loop instrumented at every
 * level keeps a flat stack and heap on a real node, whether the recursion is a plain local call, goes
 * through a pipe, `__MODULE__.f`, the module's own alias, a case or if branch, or a mutual recursion
 * through a defp. With someone listening, each iteration reports its call and a tail_call (never a
 * return), and the last one returns.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode } from './support/astNode.js';
import { instrumentModule, type Levels } from '../src/ast/transform.js';
import { Tuple, atom, type Term } from '../src/erlang/terms.js';

const SOURCE = `defmodule Loop do
  def run(kind, n) do
    top = Process.info(self(), :stack_size)
    {acc, bottom} = start(kind, n)
    {acc, top, bottom}
  end

  defp start(:plain, n), do: count(n, 0)
  defp start(:pipe, n), do: n |> piped(0)
  defp start(:remote, n), do: __MODULE__.remote(n, 0)
  defp start(:alias, n), do: Loop.aliased(n, 0)
  defp start(:branch, n), do: branch(n, 0)
  defp start(:mutual, n), do: ping(n, 0)

  def count(0, acc), do: {acc, bottom()}
  def count(n, acc) when n > 0 do
    x = n * 2
    count(n - 1, acc + x - n)
  end

  def piped(0, acc), do: {acc, bottom()}
  def piped(n, acc) do
    acc = acc + 1
    (n - 1) |> piped(acc)
  end

  def remote(0, acc), do: {acc, bottom()}
  def remote(n, acc), do: __MODULE__.remote(n - 1, acc + 1)

  def aliased(0, acc), do: {acc, bottom()}
  def aliased(n, acc), do: Loop.aliased(n - 1, acc + 1)

  def branch(n, acc) do
    case n do
      0 ->
        {acc, bottom()}

      _ ->
        if rem(n, 2) == 0 do
          branch(n - 1, acc + 1)
        else
          cond do
            acc < 0 -> :never
            true -> branch(n - 1, acc + 1)
          end
        end
    end
  end

  def ping(0, acc), do: {acc, bottom()}
  def ping(n, acc), do: pong(n, acc)
  defp pong(n, acc), do: ping(n - 1, acc + 1)

  # Not a tail call: the control that shows the measure sees a growing stack.
  def deep(0), do: {0, bottom()}
  def deep(n) do
    {acc, b} = deep(n - 1)
    {acc + 1, b}
  end

  defp bottom, do: Process.info(self(), [:stack_size, :total_heap_size])
end
`;

const EVERY_LEVEL: Levels = { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' };
const KINDS = ['plain', 'pipe', 'remote', 'alias', 'branch', 'mutual'];


interface Run {
  stackTop: number;
  stackBottom: number;
  heapBottom: number;
}

function parseRun(t: Term): Run {
  const [, top, bottom] = (t as Tuple).elements;
  const kv = (list: Term, key: string): number => {
    for (const e of list as Term[]) if ((e as Tuple).elements[0] === atom(key)) return (e as Tuple).elements[1] as number;
    throw new Error(`no ${key}`);
  };
  return { stackTop: (top as Tuple).elements[1] as number, stackBottom: kv(bottom!, 'stack_size'), heapBottom: kv(bottom!, 'total_heap_size') };
}

describe('tail calls stay tail calls', () => {
  let n: AstNode;
  before(async () => {
    n = await AstNode.start();
    const q = await n.quote(SOURCE, 'loop.ex');
    const r = instrumentModule(q, { module: 'Elixir.Loop', all: EVERY_LEVEL });
    assert.ok(r.functions.find((f) => f.name === 'count')!.tailCalls >= 1);
    await n.compile(r.quoted, 'loop.ex');
  });
  after(() => n.stop());

  for (const kind of KINDS) {
    it(`${kind}: 10,000,000 iterations at every level, stack and heap flat (nobody listening)`, async () => {
      const small = parseRun(await n.call('Elixir.Loop', 'run', [atom(kind), 10]));
      const big = parseRun(await n.call('Elixir.Loop', 'run', [atom(kind), 10_000_000], 600_000));
      // The same depth at the bottom of 10 and of 10M iterations: no frame per iteration.
      assert.equal(big.stackBottom, small.stackBottom, `stack at the bottom: ${big.stackBottom} words after 10M iterations, ${small.stackBottom} after 10`);
      // A frame per iteration would need at least 10M words; the young heap stays a few thousand.
      assert.ok(big.heapBottom < 100_000, `heap at the bottom ${big.heapBottom} words`);
    });
  }

  it('the measure sees a stack that grows: a body-recursive function, 100,000 deep', async () => {
    const r = await n.call('Elixir.Loop', 'deep', [100_000]);
    const bottom = (r as Tuple).elements[1] as Term[];
    const stack = (bottom.find((e) => (e as Tuple).elements[0] === atom('stack_size')) as Tuple).elements[1] as number;
    assert.ok(stack > 100_000, `stack at the bottom ${stack} words`);
  });

  it('with someone listening: call and tail_call per iteration, one return at the end, in order', async () => {
    await n.listen('Elixir.Loop');
    try {
      const result = await n.call('Elixir.Loop', 'run', [atom('plain'), 2]);
      const events = (await n.drain()).filter((e) => ['call', 'return', 'tail_call', 'exception'].includes(e.kind));
      const seen = events.map((e) => `${e.kind} ${e.mfa} ${n.local.render(e.payload)}`);
      const bottom = n.local.render(((result as Tuple).elements[2] as Term));
      assert.deepEqual(seen, [
        'call Loop.run/2 [:plain, 2]',
        'call Loop.start/2 [:plain, 2]',
        'tail_call Loop.start/2 {Loop, :count, 2}',
        'call Loop.count/2 [2, 0]',
        'tail_call Loop.count/2 {Loop, :count, 2}',
        'call Loop.count/2 [1, 2]',
        'tail_call Loop.count/2 {Loop, :count, 2}',
        'call Loop.count/2 [0, 3]',
        'call Loop.bottom/0 []',
        // Process.info/2 is a real call in tail position: it stays a last call.
        'tail_call Loop.bottom/0 {Process, :info, 2}',
        `return Loop.count/2 {3, ${bottom}}`,
        `return Loop.run/2 ${n.local.render(result)}`,
      ]);
      // Lines: a call is on its clause's head, a tail_call on the line of the call.
      const lines = events.filter((e) => e.mfa === 'Loop.count/2').map((e) => `${e.kind}@${String(e.line)}`);
      assert.deepEqual(lines, ['call@16', 'tail_call@18', 'call@16', 'tail_call@18', 'call@15', 'return@15']);
      assert.ok(events.every((e) => e.mfa.startsWith('Loop.')));

    } finally {
      await n.unlisten('Elixir.Loop');
    }
  });
});
