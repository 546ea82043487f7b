/**
 * Type specs in binary patterns are never expressions nor variables (corpus bug: "undefined function
 * utf8/0" at the expressions level): a comprehension over `<<c::utf8 <- str>>` and one whose segment
 * size comes from an earlier segment, each with a body of several lines so that locals are recorded
 * inside it, compile at every level without a warning, give the same results, and their `locals`
 * events name the pattern's variables (`c`, `len`, `chunk`), never `utf8`, `binary` or `size`.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AstNode } from './support/astNode.js';
import { instrumentModule } from '../src/ast/transform.js';
import { Atom, Tuple, type Term } from '../src/erlang/terms.js';

const SOURCE = `defmodule Bits do
  def high(str) do
    for <<c::utf8 <- str>>, c > 127 do
      d = c * 2
      {c, d}
    end
  end

  def sized(bin) do
    for <<len::8, chunk::binary-size(len) <- bin>> do
      n = byte_size(chunk)
      {len, n}
    end
  end
end
`;

const CALLS = ['Bits.high("aé€b")', 'Bits.sized(<<2, "ab", 1, "c">>)'];

describe('binary generators at every level', () => {
  let n: AstNode;
  let original: string[];
  before(async () => {
    n = await AstNode.start();
    const q = await n.quote(SOURCE, 'bits.ex');
    await n.compile(q, 'bits.ex');
    original = [];
    for (const c of CALLS) original.push(await n.evalElixir(c));
    const outputBefore = n.output();
    const r = instrumentModule(q, { module: 'Elixir.Bits', all: { boundaries: true, lines: '*', locals: { names: '*', at: '*' }, expr: '*' } });
    await n.compile(r.quoted, 'bits.ex');
    assert.doesNotMatch(n.output().slice(outputBefore.length), /warning/i);
  });
  after(() => n.stop());

  it('the same results, and locals inside the bodies name only variables', async () => {
    await n.listen('Elixir.Bits');
    try {
      for (const [i, c] of CALLS.entries()) assert.equal(await n.evalElixir(c), original[i], c);
      const names = new Set<string>();
      for (const e of await n.drain()) {
        if (e.kind !== 'locals') continue;
        for (const kv of e.payload as Term[]) names.add(((kv as Tuple).elements[0] as Atom).name);
      }
      // Each body's own bindings and its generator's variables are there (the bodies ran)...
      for (const v of ['c', 'd', 'len', 'chunk', 'n']) assert.ok(names.has(v), `no local ${v} in ${[...names].join(', ')}`);
      // ... and no type of a segment.
      for (const t of ['utf8', 'binary', 'size']) assert.ok(!names.has(t), `${t} reported as a local`);
    } finally {
      await n.unlisten('Elixir.Bits');
    }
  });
});
