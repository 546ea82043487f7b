/**
 * End to end on the example app: `elixir-scope record --instrument` loads AST instrumentation into
 * a running shop node, the deterministic scenario runs through it with the same results, and the
 * recording interleaves runtime and AST events of one call (hybrid). Then the original code is back,
 * md5 for md5; `instrument` + `revert` do the same for a long-lived session.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNode, atom, inspect, tuple, type RemoteNode } from '../src/erlang/index.js';
import { removeCopy, SHOP_SOURCE, type ShopNode, startBuiltShop } from './support/exampleApp.js';
import { runCli } from './support/cli.js';
import { recordDuring, startCliProcess } from './support/cliProcess.js';

interface Row {
  id: number;
  kind: string;
  source: string;
  mfa: string | null;
  pid: string;
  parent?: number | null;
  link?: number | null;
  args?: string;
  result?: string;
  reason?: string;
}

const PRICING = 'Elixir.Shop.Pricing';

async function md5(peer: RemoteNode, mod: string): Promise<string> {
  const m = await peer.rpc(mod, 'module_info', [atom('md5')]);
  assert.ok(Buffer.isBuffer(m));
  return m.toString('hex');
}

async function orderTotals(peer: RemoteNode): Promise<string> {
  // Shop.Scenario.run/1 returns what happened to each order: compared as text, result by result.
  const r = await peer.rpc('Elixir.Shop.Scenario', 'run', [[tuple(atom('seed'), 42)]], { timeoutMs: 60_000 });
  return inspect(r);
}

describe('record --instrument on the example shop (hybrid: runtime + AST)', () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let peer: RemoteNode;
  let out: string;
  let summary: Record<string, unknown>;
  let before0: string;
  let during: string;
  let md5Before: string;
  let md5During: string;
  let resultsPlain: string;
  let resultsDuring: string;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    peer = await local.connect(shop.name);
    md5Before = await md5(peer, PRICING);
    resultsPlain = await orderTotals(peer);
    out = join(mkdtempSync(join(tmpdir(), 'es-rec-ast-')), 'rec');
    summary = await recordDuring(
      [
        '--node', shop.name, '--out', out,
        '--function', 'Shop.Pricing.quote/2',
        '--instrument', 'Shop.Pricing.quote/2:locals=subtotal,discounted,tax;lines=41,43,44',
        '--instrument', 'Shop.Pricing.unit_price/2',
        '--duration', '60s',
      ],
      { ELIXIR_SCOPE_COOKIE: shop.cookie },
      async () => {
        md5During = await md5(peer, PRICING);
        resultsDuring = await orderTotals(peer);
        await new Promise((r) => setTimeout(r, 300));
      },
    );
    before0 = md5Before;
    during = md5During;
  });

  after(async () => {
    await local?.close();
    await shop?.stop();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
    removeCopy(dir);
  });

  it('loads instrumented code while recording and puts the original back exactly (md5)', async () => {
    assert.notEqual(during, before0, 'instrumented code was loaded');
    assert.equal(await md5(peer, PRICING), before0, 'the original code is back');
    const inst = summary['instrumented'] as Array<Record<string, unknown>>;
    assert.equal(inst.length, 1);
    assert.equal(inst[0]!['module'], 'Shop.Pricing');
    assert.equal(inst[0]!['md5_before'], before0);
    assert.equal(inst[0]!['reverted_exactly'], true);
    assert.deepEqual(inst[0]!['functions'], ['quote/2 (hybrid)', 'unit_price/2']);
    assert.equal(summary['dropped'], 0);
  });

  it('the scenario gives the same results, order by order, with the instrumentation in place', () => {
    assert.equal(resultsDuring, resultsPlain);
  });

  it('history interleaves [RUNTIME] and [AST] events of one call, the AST events children of the runtime call', async () => {
    const r = await runCli(['history', out, '--json', '--limit', '0']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Row);
    const calls = rows.filter((e) => e.kind === 'call' && e.mfa === 'Shop.Pricing.quote/2');
    assert.ok(calls.length >= 27, `quote/2 ran for every priced order (${calls.length})`);
    assert.ok(calls.every((c) => c.source === 'runtime'), 'quote/2 boundaries come from the runtime side only');
    const byParent = new Map<number, Row[]>();
    for (const e of rows) if (e.parent !== undefined && e.parent !== null) byParent.set(e.parent, [...(byParent.get(e.parent) ?? []), e]);
    let returned = 0;
    for (const c of calls) {
      const locals = (byParent.get(c.id) ?? []).filter((e) => e.kind === 'locals' && e.source === 'ast');
      const ret = rows.find((e) => e.link === c.id && (e.kind === 'return' || e.kind === 'exception'));
      // A crash in unit_price/2 ends a call before line 43; only calls that returned ran every line.
      if (ret?.kind !== 'return') continue;
      returned++;
      assert.equal(locals.length, 3, `three captures (lines 41, 43, 44) in call ${c.id}`);
    }
    assert.ok(returned >= 27, `every priced order's quote/2 returned with its captures (${returned})`);
    // unit_price/2 is AST-only: its boundaries come from the AST side, the crashes too.
    const astCalls = rows.filter((e) => e.kind === 'call' && e.mfa === 'Shop.Pricing.unit_price/2');
    assert.ok(astCalls.length > 0 && astCalls.every((c) => c.source === 'ast'));
    const crashes = rows.filter((e) => e.kind === 'exception' && e.mfa === 'Shop.Pricing.unit_price/2');
    assert.equal(crashes.length, 5, 'the five crashes of seed 42');
    assert.ok(crashes.every((c) => c.source === 'ast' && /badarith|ArithmeticError/.test(c.reason ?? '')));

    const text = await runCli(['history', out, '--limit', '0']);
    const lines = text.stdout.split('\n');
    // The first call of quote/2 that returned, with the events of its process until the return.
    const first = lines.findIndex((l, i) => /\[RUNTIME\] \S+ +CALL Shop\.Pricing\.quote\/2/.test(l) && lines.slice(i + 1).find((x) => /Shop\.Pricing\.quote\/2 \(/.test(x))?.includes('EXIT') === true);
    assert.ok(first >= 0, text.stdout.slice(0, 2000));
    const pid = /\[RUNTIME\] (\S+)/.exec(lines[first]!)![1]!;
    const end = lines.findIndex((l, i) => i > first && l.includes(pid) && /\[RUNTIME\] \S+ +EXIT Shop\.Pricing\.quote\/2/.test(l));
    const own = lines.slice(first, end + 1).filter((l) => l.includes(pid)).join('\n');
    assert.match(own, /\[AST\] +\S+ +LINE 41 Shop\.Pricing\.quote\/2: subtotal = \d+\n/);
    assert.match(own, /\[AST\] +\S+ +LINE 44 Shop\.Pricing\.quote\/2: .*tax = \d+\n/);
    assert.match(own, /\[RUNTIME\] \S+ +EXIT Shop\.Pricing\.quote\/2 \(Return: %\{/);
  });

  it('state-at an AST event shows the locals in scope and the arguments', async () => {
    const r = await runCli(['history', out, '--json', '--limit', '0']);
    const rows = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Row);
    const at = rows.find((e) => e.kind === 'locals' && e.mfa === 'Shop.Pricing.quote/2' && rows.some((x) => x.parent === e.parent && x.kind === 'locals' && x.id < e.id));
    assert.ok(at, 'a second capture in some call');
    const s = await runCli(['state-at', out, '--pid', at.pid, '--at', String(at.id)]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /Local Variables \(from AST\):/);
    assert.match(s.stdout, /subtotal: \d+/);
    assert.match(s.stdout, /Arguments \(from Runtime\/AST\): \[/);
  });
});

describe('instrument + revert: a long-lived session taken out from another terminal, from debug_info', () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let peer: RemoteNode;
  let out: string;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    peer = await local.connect(shop.name);
    out = join(mkdtempSync(join(tmpdir(), 'es-inst-')), 'rec');
  });

  after(async () => {
    await local?.close();
    await shop?.stop();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
    removeCopy(dir);
  });

  it('revert --list names the module, revert puts it back with the same md5, and the session keeps its events', async () => {
    const env = { ELIXIR_SCOPE_COOKIE: shop.cookie };
    const md5Before = await md5(peer, PRICING);
    // The source is gone (a release, say): the module is rebuilt from its .beam's debug_info.
    rmSync(join(dir, 'lib', 'shop', 'pricing.ex'));
    const session = startCliProcess(['instrument', '--node', shop.name, '--out', out, '--duration', '60s', '--json', 'Shop.Pricing.tax/1:level=lines'], env);
    await session.waitFor(/Ctrl-C to stop/);
    // Wait until the instrumented code is in.
    const deadline = Date.now() + 60_000;
    while ((await md5(peer, PRICING)) === md5Before) {
      assert.ok(Date.now() < deadline, `instrument never loaded: ${session.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const taxed = await peer.rpc(PRICING, 'tax', [10_000]);
    assert.equal(taxed, 800, 'same result while instrumented');
    const list = await runCli(['revert', '--node', shop.name, '--list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), [{ module: 'Shop.Pricing', md5_before: md5Before, blocked: false }]);
    const rev = await runCli(['revert', '--node', shop.name, '--json'], env);
    assert.equal(rev.code, 0, rev.stderr);
    assert.deepEqual(JSON.parse(rev.stdout), [{ module: 'Shop.Pricing', md5: md5Before, md5_before: md5Before, exact: true }]);
    assert.equal(await md5(peer, PRICING), md5Before);
    const again = await runCli(['revert', '--node', shop.name], env);
    assert.match(again.stdout, /nothing is instrumented/);
    session.child.kill('SIGINT');
    const done = await session.done;
    assert.equal(done.code, 0, session.output());
    const s = JSON.parse(done.stdout) as { instrumented: Array<{ origin: string; functions: string[]; reverted_exactly: boolean }> };
    assert.equal(s.instrumented[0]?.origin, 'debug_info');
    assert.deepEqual(s.instrumented[0]?.functions, ['tax/1']);
    assert.equal(s.instrumented[0]?.reverted_exactly, true);
    const h = await runCli(['history', out, '--json', '--limit', '0']);
    const kinds = h.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as Row).kind);
    assert.ok(kinds.includes('line'), `line events of tax/1 were recorded: ${kinds.join(',')}`);
  });

  it('a release-like module (no source on the node, debug_info stripped) is refused with what to do, and instrumented from --source DIR', async () => {
    const env = { ELIXIR_SCOPE_COOKIE: shop.cookie };
    const md5Before = await md5(peer, PRICING);
    // Strip the .beam the module was loaded from, as a release build does (the code, so the md5, stays).
    const beam = await peer.rpc('code', 'which', [atom(PRICING)]);
    const stripped = await peer.rpc('beam_lib', 'strip', [beam]);
    assert.match(inspect(stripped), /^\{:ok, /);
    const refused = await runCli(['instrument', '--node', shop.name, '--out', join(out, '..', 'refused'), 'Shop.Pricing.tax/1'], env);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /pricing\.ex is not on .*no debug_info chunk.*--source DIR/s);
    // The checkout of the project (examples/shop) has the same file under the same tail (lib/shop/pricing.ex).
    const session = startCliProcess(['instrument', '--node', shop.name, '--out', join(out, '..', 'from-source'), '--source', SHOP_SOURCE, '--json', 'Shop.Pricing.tax/1:level=lines'], env);
    await session.waitFor(/Ctrl-C to stop/);
    assert.equal(await peer.rpc(PRICING, 'tax', [10_000]), 800);
    session.child.kill('SIGINT');
    const done = await session.done;
    assert.equal(done.code, 0, session.output());
    const s = JSON.parse(done.stdout) as { instrumented: Array<{ origin: string; file: string; reverted_exactly: boolean }> };
    assert.equal(s.instrumented[0]?.origin, 'source');
    assert.match(s.instrumented[0]?.file ?? '', /lib\/shop\/pricing\.ex$/);
    assert.equal(s.instrumented[0]?.reverted_exactly, true);
    assert.equal(await md5(peer, PRICING), md5Before);
  });

  it('kill -9 of the instrumenting engine: the agent puts the original back by itself', async () => {
    const env = { ELIXIR_SCOPE_COOKIE: shop.cookie };
    const md5Before = await md5(peer, PRICING);
    const out2 = join(out, '..', 'killed');
    // The module now loaded is the stripped .beam (the revert above loaded it): no compile info, so
    // --source finds the file by its defmodule.
    const session = startCliProcess(['instrument', '--node', shop.name, '--out', out2, '--duration', '60s', '--source', SHOP_SOURCE, 'Shop.Pricing.quote/2:locals=*'], env);
    await session.waitFor(/Ctrl-C to stop/);
    assert.notEqual(await md5(peer, PRICING), md5Before);
    session.child.kill('SIGKILL');
    await session.done;
    // Our connection closes with the process, so the relay's monitor fires at once (a lost network
    // would take up to the net tick time).
    const deadline = Date.now() + 60_000;
    while ((await md5(peer, PRICING)) !== md5Before) {
      assert.ok(Date.now() < deadline, 'the agent never reverted after the engine was killed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = await peer.rpc('persistent_term', 'get', [tuple(atom('elixir_scope_ast'), atom(PRICING)), atom('none')]);
    assert.equal(inspect(left), ':none', 'no probe target left behind');
    const rev = await runCli(['revert', '--node', shop.name, '--list'], env);
    assert.match(rev.stdout, /nothing is instrumented/);
  });
});
