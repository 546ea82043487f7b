/**
 * End to end on the example app: `elixir-scope record` attaches to a running shop node, records a
 * deterministic scenario (Shop.Scenario.run(seed: 42)), and history / state-at / calls / flow answer
 * from the recording what the node itself says happened.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNode, atom, inspect, tuple } from '../src/erlang/index.js';
import { removeCopy, type ShopNode, startBuiltShop } from './support/exampleApp.js';
import { runCli } from './support/cli.js';
import { recordDuring } from './support/cliProcess.js';

interface HistoryRow {
  id: number;
  ts: number;
  pid: string;
  kind: string;
  source: string;
  mfa: string | null;
  args?: string;
  result?: string;
  reason?: string;
  stack?: string[];
  message?: string;
  state?: string;
  link?: number | null;
  parent?: number | null;
}

function jsonLines(text: string): HistoryRow[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HistoryRow);
}

describe('record the example shop and travel through it', () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let out: string;
  let summary: Record<string, unknown>;
  let finalState: string;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    out = join(mkdtempSync(join(tmpdir(), 'es-rec-shop-')), 'rec');

    summary = await recordDuring(
      [
        '--node', shop.name, '--out', out,
        '--module', 'Shop.Checkout', '--module', 'Shop.Pricing', '--function', 'Shop.Inventory.handle_call/3',
        '--state', 'Shop.Inventory', '--processes', '--duration', '60s',
      ],
      { ELIXIR_SCOPE_COOKIE: shop.cookie },
      async () => {
        const peer = await local.connect(shop.name);
        await peer.rpc('Elixir.Shop.Scenario', 'run', [[tuple(atom('seed'), 42)]], { timeoutMs: 60_000 });
        const st = await peer.rpc('sys', 'get_state', [atom('Elixir.Shop.Inventory')]);
        finalState = inspect(st);
        // Give the last batch (flushed every 20 ms) time to leave the node before the stop.
        await new Promise((r) => setTimeout(r, 300));
      },
    );
  });

  after(async () => {
    await local?.close();
    await shop?.stop();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
    removeCopy(dir);
  });

  it('prints a JSON summary with what was recorded, by kind, and nothing dropped', () => {
    assert.equal(summary['stop_reason'], 'interrupted');
    assert.equal(summary['dropped'], 0);
    assert.ok((summary['events'] as number) > 500, JSON.stringify(summary));
    assert.equal(typeof summary['duration_ms'], 'number');
    const byKind = summary['by_kind'] as Record<string, number>;
    assert.ok(byKind['call']! > 0 && byKind['state']! > 0 && byKind['spawn']! > 0 && byKind['exit']! > 0, JSON.stringify(byKind));
    // Every traced call ended, by a return or an exception: the scenario finished before we stopped.
    assert.equal(byKind['call'], (byKind['return'] ?? 0) + (byKind['exception'] ?? 0));
  });

  it('summary describes the recording with the same counts the record command printed', async () => {
    const r = await runCli(['summary', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as {
      node: string;
      status: string;
      stop_reason: string;
      counts: { stored: number; received: number; dropped_total: number; by_kind: Record<string, number> };
      top_processes: Array<{ name: string | null }>;
    };
    assert.equal(s.node, shop.name);
    assert.equal(s.status, 'complete');
    assert.equal(s.stop_reason, 'interrupted');
    assert.equal(s.counts.stored, summary['events']);
    assert.equal(s.counts.received, summary['received']);
    assert.equal(s.counts.dropped_total, 0);
    assert.deepEqual(s.counts.by_kind, summary['by_kind']);
    assert.ok(s.top_processes.some((p) => /Shop\.Inventory/.test(p.name ?? '')), JSON.stringify(s.top_processes));
    const text = await runCli(['summary', out]);
    assert.match(text.stdout, /status +complete \(stopped: interrupted\)/);
    assert.match(text.stdout, /dropped +0\n/);
  });

  it('history has every checkout: 34 runs of Shop.Checkout.run/1, 5 of them crashed in Shop.Pricing.unit_price/2', async () => {
    const r = await runCli(['history', out, '--json', '--limit', '0']);
    assert.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout);
    const runs = rows.filter((e) => e.kind === 'call' && e.mfa === 'Shop.Checkout.run/1');
    assert.equal(runs.length, 27 + 7, 'orders + failed checkouts of seed 42');
    const crashes = rows.filter((e) => e.kind === 'exception' && e.mfa === 'Shop.Pricing.unit_price/2');
    assert.equal(crashes.length, 5);
    for (const c of crashes) {
      assert.match(c.reason ?? '', /badarith|ArithmeticError/);
      // The traced frames it went through, innermost first, down to the checkout itself.
      assert.equal(c.stack?.[0], 'Shop.Pricing.unit_price/2');
      assert.equal(c.stack?.at(-1), 'Shop.Checkout.run/1');
      assert.ok(c.stack!.includes('Shop.Pricing.quote/1'));
    }
    // Each crash is linked to its call, and the call ran in a Task that then died.
    const byId = new Map(rows.map((e) => [e.id, e]));
    for (const c of crashes) {
      const call = byId.get(c.link!);
      assert.equal(call?.kind, 'call');
      assert.equal(call?.mfa, 'Shop.Pricing.unit_price/2');
      assert.match(call?.args ?? '', /, 0\]$/, 'the quantity that was zero');
      const died = rows.find((e) => e.kind === 'exit' && e.pid === c.pid);
      assert.ok(died, `the task ${c.pid} exits`);
      assert.match(died.reason ?? '', /ArithmeticError|badarith/);
    }
  });

  it('the last recorded state of Shop.Inventory is the state the node has now', async () => {
    const r = await runCli(['history', out, '--name', 'Shop.Inventory', '--kind', 'state', '--json', '--limit', '0']);
    assert.equal(r.code, 0, r.stderr);
    const states = jsonLines(r.stdout);
    assert.ok(states.length > 50);
    assert.equal(states.at(-1)!.state, finalState);
    // The leak: reservations of {:order, ...} that nobody will release.
    assert.match(finalState, /\{:order, "cust-\d+\/1"\} =>/);
  });

  it('state-at gives the state, the open call and the last message at an event', async () => {
    const r = await runCli(['history', out, '--name', 'Shop.Inventory', '--json', '--limit', '0']);
    const rows = jsonLines(r.stdout);
    const call = rows.find((e) => e.kind === 'call' && e.mfa === 'Shop.Inventory.handle_call/3' && /:transfer/.test(e.args ?? ''));
    assert.ok(call, 'a transfer call in the inventory');
    const before = rows.filter((e) => e.kind === 'state' || e.kind === 'state_init').filter((e) => e.id < call.id).at(-1);
    assert.ok(before);
    const s = await runCli(['state-at', out, '--pid', call.pid, '--at', String(call.id), '--json']);
    assert.equal(s.code, 0, s.stderr);
    const at = JSON.parse(s.stdout) as {
      state: { event: number; value: string } | null;
      stack: Array<{ mfa: string; args: string }>;
      last_message: { kind: string } | null;
    };
    assert.equal(at.state?.event, before.id);
    assert.equal(at.state?.value, before.state);
    assert.equal(at.stack.at(-1)?.mfa, 'Shop.Inventory.handle_call/3');
    assert.match(at.stack.at(-1)?.args ?? '', /:transfer/);
  });

  it('calls shows a checkout task as a call tree with durations', async () => {
    const r = await runCli(['history', out, '--json', '--kind', 'call', '--limit', '0']);
    const run = jsonLines(r.stdout).find((e) => e.mfa === 'Shop.Checkout.run/1')!;
    const t = await runCli(['calls', out, '--pid', run.pid]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Shop\.Checkout\.run\/1/);
    assert.match(t.stdout, /Shop\.Pricing\.quote\/1/);
    assert.match(t.stdout, /\d+(\.\d+)?\s?(µs|ms|s)/);
  });

  it('refuses an unknown pid and an event id out of range with exit 1', async () => {
    const a = await runCli(['state-at', out, '--pid', '<0.9999.0>', '--at', '0']);
    assert.equal(a.code, 1);
    const b = await runCli(['state-at', out, '--name', 'Shop.Inventory', '--at', '999999999']);
    assert.notEqual(b.code, 0);
  });
});
