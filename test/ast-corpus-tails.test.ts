/**
 * The kinds of tail call the corpus proof relies on, one by one, on a real node: a call on a module
 * held in a variable, a fun call, `apply/3`, a Kernel function, another Elixir module, an Erlang
 * module, and `1 + deep(n - 1)` where deep/1 can only raise each stay last calls
 * (the same stacktrace, frame by frame with lines, as the original) and report a `tail_call` naming
 * the callee; a map field read (`m.key`), a guard BIF (`elem/2`) and a macro of a required module
 * (`Logger.debug/1`) are not calls, and report their value as the `return`.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode } from './support/astNode.js';
import { instrumentModule } from '../src/ast/transform.js';
import type { Term } from '../src/erlang/terms.js';

const SOURCE = `defmodule Tails do
  require Logger

  def via_var(mod, x), do: mod.boom(x)
  def via_fun(f, x), do: f.(x)
  def via_apply(m, f, a), do: apply(m, f, a)
  def via_kernel(fields), do: struct!(Tails.S, fields)
  def via_remote(x), do: Keyword.fetch!(x, :k)
  def via_erlang(x), do: :lists.nth(5, x)
  def field(m), do: m.key
  def guard_bif(t), do: elem(t, 2)
  def logs(x), do: Logger.debug(x)
  def deep(0), do: raise(ArgumentError, "bottom")
  def deep(n), do: 1 + deep(n - 1)
end
`;

const HELPERS = `defmodule Tails.S do
  defstruct [:a]
end

defmodule Boom do
  def boom(x), do: :erlang.error({:boom, x})
end
`;

/** Each case: the call to make (Elixir), and the tail_call callee (or `return`) it reports. */
const CASES: Array<{ name: string; code: string; reports: string }> = [
  { name: 'a module in a variable', code: 'Tails.via_var(Boom, 1)', reports: 'tail_call Tails.via_var/2 {Boom, :boom, 1}' },
  { name: 'a fun call', code: 'Tails.via_fun(fn x -> Boom.boom(x) end, 2)', reports: 'tail_call Tails.via_fun/2 {:"$dynamic", :fun, 1}' },
  { name: 'apply/3', code: 'Tails.via_apply(Boom, :boom, [3])', reports: 'tail_call Tails.via_apply/3 {Kernel, :apply, 3}' },
  { name: 'a Kernel function', code: 'Tails.via_kernel(b: 1)', reports: 'tail_call Tails.via_kernel/1 {Kernel, :struct!, 2}' },
  { name: 'another Elixir module', code: 'Tails.via_remote([j: 1])', reports: 'tail_call Tails.via_remote/1 {Keyword, :fetch!, 2}' },
  { name: 'an Erlang module', code: 'Tails.via_erlang([1])', reports: 'tail_call Tails.via_erlang/1 {:lists, :nth, 2}' },
  { name: 'a never-returning operand', code: 'Tails.deep(2)', reports: 'tail_call Tails.deep/1 {Tails, :deep, 1}' },
  { name: 'a map field read', code: 'Tails.field(%{key: 5})', reports: 'return Tails.field/1 5' },
  { name: 'a guard BIF', code: 'Tails.guard_bif({1, 2})', reports: 'exception Tails.guard_bif/1 {:error, :badarg}' },
  { name: 'a macro of a required module', code: 'Tails.logs("hi")', reports: 'return Tails.logs/1 :ok' },
];

/** The call's value, or what it raised with every frame as {module, function, arity, line}. */
const capture = (code: string): string =>
  `try do {:ok, ${code}} catch k, r -> {k, r, Enum.map(__STACKTRACE__, fn {m, f, a, loc} -> {m, f, if(is_list(a), do: length(a), else: a), loc[:line]} end)} end`;

describe('tail calls of every kind stay last calls (corpus proof, in detail)', () => {
  let n: AstNode;
  const original: string[] = [];

  before(async () => {
    n = await AstNode.start();
    await n.compile(await n.quote(HELPERS, 'helpers.ex'), 'helpers.ex');
    // The Logger call must not print: its level is below the node's.
    await n.evalElixir('Logger.configure(level: :warning)');
    const q = await n.quote(SOURCE, 'tails.ex');
    await n.compile(q, 'tails.ex');
    for (const c of CASES) original.push(await n.evalElixir(capture(c.code)));
    await n.compile(instrumentModule(q, { module: 'Elixir.Tails', all: { boundaries: true } }).quoted, 'tails.ex');
  });
  after(() => n.stop());

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: the same value or stacktrace, and ${c.reports.split(' ')[0]}`, async () => {
      const outputBefore = n.output();
      assert.equal(await n.evalElixir(capture(c.code)), original[i], c.code);
      // Each of these calls raises in the callee (not a BIF: a raising BIF names its caller either
      // way), and the original's stacktrace has no frame of the Tails function that made the last
      // call: a frame kept by the instrumentation would show.
      const fn = c.reports.split(' ')[1]!.replace(/^Tails\.|\/\d+$/g, '');
      if (c.reports.startsWith('tail_call') && fn !== 'deep') assert.doesNotMatch(original[i]!, new RegExp(`\\{Tails, :${fn}, `), original[i]);
      if (fn === 'deep') assert.equal(original[i]!.match(/\{Tails, :deep, 1/g)?.length, 1, original[i]);
      await n.listen('Elixir.Tails');
      let events;
      try {
        await n.evalElixir(capture(c.code));
        events = (await n.drain()).filter((e) => e.kind !== 'call');
      } finally {
        await n.unlisten('Elixir.Tails');
      }
      const render = (p: Term): string => n.local.render(p);
      const ends = events.map((e) => `${e.kind} ${e.mfa} ${e.kind === 'exception' ? render(e.payload).replace(/^\{:error, \{?:?(\w+).*$/, '{:error, :$1}') : render(e.payload)}`);
      assert.ok(ends.includes(c.reports), `expected ${c.reports} among:\n${ends.join('\n')}`);
      // A real call reports no return of its own; a non-call reports no tail_call.
      if (c.reports.startsWith('tail_call')) assert.ok(!ends.some((e) => e.startsWith(`return ${c.reports.split(' ')[1]}`)), ends.join('\n'));
      else assert.ok(!ends.some((e) => e.startsWith('tail_call')), ends.join('\n'));
      assert.doesNotMatch(n.output().slice(outputBefore.length), /warning/i);
    });
  }
});
