/**
 * Sources of Elixir modules: `record` on a real Elixir node keeps the .ex file of a traced module
 * (found through module_info(:compile)), and the Cinema's /api/source serves it with the focus on the
 * function asked for; a module compiled from a string has no file, and the answer says so.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingView } from '../src/cinema/api.js';
import { CinemaServer } from '../src/cinema/server.js';
import { openRecording } from '../src/store/recording.js';
import { startNode, type BeamNode } from './support/beam.js';
import { recordDuring } from './support/cliProcess.js';

const SOURCE = `defmodule Demo.Basket do
  @moduledoc false

  def add(basket, item) do
    [item | basket]
  end

  def add(basket, item, n) when n > 0 do
    add(add(basket, item), item, n - 1)
  end

  def add(basket, _item, 0), do: basket

  defp count(basket), do: length(basket)

  def size(basket), do: count(basket)
end
`;

let node: BeamNode;
let tmp: string;
let file: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'es-cinema-ex-'));
  file = join(tmp, 'basket.ex');
  writeFileSync(file, SOURCE);
  node = await startNode({ kind: 'elixir' });
  await node.evalElixir(`Code.compile_file(${JSON.stringify(file)}); Code.compile_string("defmodule Demo.NoFile do\\n def hi, do: :hi\\nend"); :ok`);
});

after(async () => {
  await node?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('record keeps a traced Elixir module\'s source and /api/source serves it, focused on the function', async () => {
  const out = join(tmp, 'rec');
  await recordDuring(['--node', node.name, '--out', out, '--module', 'Demo.Basket', '--module', 'Demo.NoFile', '--duration', '60s'], { ELIXIR_SCOPE_COOKIE: node.cookie }, async () => {
    await node.evalElixir('Demo.Basket.size(Demo.Basket.add([], :x, 3)); Demo.NoFile.hi()');
    await new Promise((r) => setTimeout(r, 200));
  });
  const index = JSON.parse(readFileSync(join(out, 'sources', 'index.json'), 'utf8')) as Record<string, { file: string; stored: string | null; why?: string }>;
  assert.equal(index['Elixir.Demo.Basket']!.file, file);
  assert.equal(readFileSync(join(out, index['Elixir.Demo.Basket']!.stored!), 'utf8'), SOURCE);
  assert.equal(index['Elixir.Demo.NoFile']!.stored, null);

  const server = await CinemaServer.start(new RecordingView(openRecording(out)), { port: 0 });
  try {
    const get = async (q: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/source?${q}&token=${server.token}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const lines = SOURCE.split('\n');
    const at = (body: Record<string, unknown>): string => lines[(body.focus as number) - 1]!;
    const add3 = await get('module=Demo.Basket&fun=add&arity=3');
    assert.equal(add3.status, 200);
    assert.equal(add3.body.file, file);
    assert.deepEqual(add3.body.lines, lines);
    assert.equal(at(add3.body), '  def add(basket, item, n) when n > 0 do');
    const add2 = await get('module=Elixir.Demo.Basket&fun=add&arity=2');
    assert.equal(at(add2.body), '  def add(basket, item) do');
    const count = await get('module=Demo.Basket&fun=count&arity=1');
    assert.equal(at(count.body), '  defp count(basket), do: length(basket)');
    const line = await get('module=Demo.Basket&line=9');
    assert.equal(line.body.focus, 9);
    const noFile = await get('module=Demo.NoFile&fun=hi&arity=0');
    assert.equal(noFile.status, 404);
    assert.match(String(noFile.body.error), /the source of Demo\.NoFile was not kept: .*(cannot be read|does not say)/);
  } finally {
    await server.close();
  }
});
