/**
 * The query commands through the real launcher on a recording written by the real store: the shop
 * recording goes through the agent's message format, the Ingestor (parser, correlator) and the
 * RecordingWriter, and every view must print exactly the golden text the in-memory tests check.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { expectGolden } from './support/golden.js';
import { shopRecording } from './support/shopRecording.js';
import { writeThroughStore } from './support/storeRecording.js';

let root = '';
let dir = '';
const shop = shopRecording();
const ids = shop.ids;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'es-query-'));
  dir = join(root, 'rec');
  await writeThroughStore(shop.rec, dir, shop.builder.pid(90));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function ok(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `elixir-scope ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('history on disk prints the golden text', async () => {
  expectGolden('history-all.txt', await ok(['history', dir]));
  expectGolden('history-cart.txt', await ok(['history', dir, '--name', 'Shop.Cart']));
  expectGolden('history-cart.jsonl', await ok(['history', dir, '--json', '--pid', '0.150.0', '--since', '120us', '--until', '#29']));
});

test('state-at, calls and flow on disk print the golden text', async () => {
  const s = await Promise.all([
    ok(['state-at', dir, '--name', 'Shop.Cart', '--at', String(ids.price)]),
    ok(['state-at', dir, '--pid', '<0.150.0>', '--at', `#${ids.discountRaise}`]),
    ok(['state-at', dir, '--pid', 'Shop.Inventory', '--at', '2.5ms']),
  ]);
  expectGolden('state-at.txt', s.join('\n'));
  const c = await Promise.all([
    ok(['calls', dir, '--name', 'Shop.Cart']),
    ok(['calls', dir, '--pid', '0.160.0']),
    ok(['calls', dir, '--pid', 'Shop.Cart', '--max-depth', '0']),
  ]);
  expectGolden('calls.txt', c.join('\n'));
  const f = await Promise.all([
    ok(['flow', dir, '--pids', 'Shop.Cart,Shop.Inventory,<0.160.0>']),
    ok(['flow', dir, '--pids', '#PID<0.170.0>', '--outside']),
    ok(['flow', dir, '--pids', 'Shop.Cart', '--outside']),
  ]);
  expectGolden('flow.txt', f.join('\n'));
});

test('on disk: unknown process and out-of-range ids exit 1 with a message', async () => {
  const unknown = await runCli(['calls', dir, '--name', 'Shop.Nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /elixir-scope calls: no process "Shop\.Nope" in the recording/);
  const range = await runCli(['state-at', dir, '--pid', '<0.150.0>', '--at', '100000']);
  assert.equal(range.code, 1);
  assert.match(range.stderr, /#100000 is out of range/);
  assert.doesNotMatch(unknown.stderr + range.stderr, /\n\s+at /);
});
