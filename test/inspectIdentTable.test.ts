/**
 * src/erlang/inspect/identTable.ts is generated from the installed Elixir's String.Tokenizer; this checks
 * that the committed file is exactly what the generator prints today, so a table edited by hand or left
 * behind by an Elixir upgrade fails here with the command that rebuilds it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { IDENT_TABLE_SCRIPT, runElixirScript } from './support/elixirScript.js';

// dist/test/x.js -> the repository root; the .ts source is not copied into dist.
const TABLE = fileURLToPath(new URL('../../src/erlang/inspect/identTable.ts', import.meta.url));

test('the Unicode identifier table equals what the installed Elixir generates', async () => {
  const { stdout } = await runElixirScript(IDENT_TABLE_SCRIPT);
  const committed = await readFile(TABLE, 'utf8');
  assert.ok(stdout.length > 4000, `the generator printed only ${stdout.length} bytes`);
  assert.equal(
    committed,
    stdout.toString('utf8'),
    'identTable.ts is stale: regenerate it with\n' +
      "  node -e \"import('./dist/test/support/elixirScript.js').then(async m => process.stdout.write((await m.runElixirScript(m.IDENT_TABLE_SCRIPT)).stdout))\" > src/erlang/inspect/identTable.ts",
  );
});
