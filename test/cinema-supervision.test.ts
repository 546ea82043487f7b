/**
 * Lanes grouped by the real supervision tree, on a real recording of the example shop made by
 * `elixir-scope record --processes --state Shop.Inventory` while Shop.Scenario runs: /api/meta puts Shop.Inventory under
 * `node / shop / Shop.Supervisor` exactly as supervisor:which_children says on the node, carts
 * started during the recording under Shop.CartSup (their spawner), and the payment gateway, which
 * crashes and is restarted by Shop.PaymentSup during the scenario, as a chain of restarts
 * (`restartOf`) from the pid it had before the recording to the one it has at the end, one link per
 * restart the shop itself counted. In chromium, `elixir-scope ui` lays the gateway's lanes out
 * together in that group and marks each restart. The same recording without meta.supervision still
 * opens.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNode, Pid, Tuple, atom, inspect, tuple, ErlMap, type RemoteNode } from '../src/erlang/index.js';
import { openRecording } from '../src/store/reader.js';
import { RecordingView } from '../src/cinema/api.js';
import type { RecordingMeta } from '../src/store/types.js';
import { removeCopy, type ShopNode, startBuiltShop } from './support/exampleApp.js';
import { recordDuring, startCliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { launchBrowser } from './support/browser.js';

interface ProcessMeta {
  index: number;
  pid: string;
  name: string | null;
  count: number;
  group: string;
  ancestors: number[];
  restartOf: number | null;
  app: string | null;
  childId: string | null;
}

interface Meta {
  meta: RecordingMeta;
  processes: ProcessMeta[];
}

const text = (p: Pid): string => `#PID<0.${p.id}.${p.serial}>`;

interface PageView {
  store: { meta: { processes: ProcessMeta[] }; idsOfPid(pid: number): Uint32Array };
  timeline: { lanes(): Array<{ pid: number }>; restarts(): number[] } | null;
}
declare const window: { elixirScope?: PageView };

async function whereis(peer: RemoteNode, name: string): Promise<Pid> {
  const p = await peer.rpc('erlang', 'whereis', [atom(name)]);
  assert.ok(p instanceof Pid, `${name}: ${inspect(p)}`);
  return p;
}

/** supervisor:which_children on the node, as `id → {pid, type}`. */
async function whichChildren(peer: RemoteNode, sup: string): Promise<Map<string, { pid: string | null; type: string }>> {
  const r = await peer.rpc('supervisor', 'which_children', [atom(sup)]);
  assert.ok(Array.isArray(r), inspect(r));
  return new Map(
    r.map((c) => {
      const t = c as Tuple;
      const pid = t.elements[1];
      return [inspect(t.elements[0]!), { pid: pid instanceof Pid ? text(pid) : null, type: inspect(t.elements[2]!) }];
    }),
  );
}

describe('cinema groups a real shop recording by its supervision tree', () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let out: string;
  let gatewayBefore: Pid;
  let gatewayAfter: Pid;
  let restarts: number;
  let topChildren: Map<string, { pid: string | null; type: string }>;
  let paymentChildren: Map<string, { pid: string | null; type: string }>;
  let supPid: Pid;
  let meta: Meta;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    const peer = await local.connect(shop.name);
    out = join(mkdtempSync(join(tmpdir(), 'es-cinema-sup-')), 'rec');
    gatewayBefore = await whereis(peer, 'Elixir.Shop.PaymentGateway');
    await recordDuring(['--node', shop.name, '--out', out, '--processes', '--state', 'Shop.Inventory', '--duration', '60s'], { ELIXIR_SCOPE_COOKIE: shop.cookie }, async () => {
      const result = await peer.rpc('Elixir.Shop.Scenario', 'run', [[tuple(atom('seed'), 42)]], { timeoutMs: 60_000 });
      assert.ok(result instanceof ErlMap, inspect(result));
      restarts = result.getAtom('restarts') as number;
      // Give the last batch time to leave the node before the stop.
      await new Promise((r) => setTimeout(r, 300));
    });
    gatewayAfter = await whereis(peer, 'Elixir.Shop.PaymentGateway');
    supPid = await whereis(peer, 'Elixir.Shop.Supervisor');
    topChildren = await whichChildren(peer, 'Elixir.Shop.Supervisor');
    paymentChildren = await whichChildren(peer, 'Elixir.Shop.PaymentSup');
    const view = new RecordingView(openRecording(out));
    meta = view.meta() as unknown as Meta;
    view.close();
  });

  after(async () => {
    await local?.close();
    await shop?.stop();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
    removeCopy(dir);
  });

  const proc = (pid: string): ProcessMeta => {
    const p = meta.processes.find((x) => x.pid === pid);
    assert.ok(p !== undefined, `${pid} is a process of /api/meta`);
    return p;
  };

  it('keeps the trees read at the start and at the stop in meta', () => {
    const s = meta.meta.supervision!;
    assert.ok(s.start !== null && s.stop !== null, JSON.stringify(Object.keys(meta.meta)));
    assert.equal(s.start.node, shop.name);
    assert.equal(s.start.truncated, false);
    assert.ok(s.start.entries.some((e) => e.app === 'shop' && e.parent === null && e.name === 'Shop.Supervisor'));
    // The gateway's pid at each end is the one the node had then.
    const gw = (entries: typeof s.start.entries): string | null => entries.find((e) => e.name === 'Shop.PaymentGateway')?.pid ?? null;
    assert.equal(gw(s.start.entries), `<0.${gatewayBefore.id}.${gatewayBefore.serial}>`);
    assert.equal(gw(s.stop.entries), `<0.${gatewayAfter.id}.${gatewayAfter.serial}>`);
  });

  it('groups Shop.Inventory under the shop application and the supervisor which_children names it under', () => {
    const inv = topChildren.get('Shop.Inventory')!;
    assert.equal(inv.type, ':worker');
    const p = proc(inv.pid!);
    assert.equal(p.name, 'Shop.Inventory');
    assert.ok(p.count > 0, 'its events are in the recording');
    assert.equal(p.group, `${shop.name} / shop / Shop.Supervisor`);
    assert.equal(p.app, 'shop');
    assert.equal(p.childId, 'Shop.Inventory');
    assert.deepEqual(p.ancestors, [proc(text(supPid)).index]);
    assert.equal(p.restartOf, null);
    // Every child of Shop.Supervisor that runs is in that group (a supervisor heads its own); every
    // supervisor is a process of /api/meta, so that ancestors can name it, events or not.
    for (const [id, c] of topChildren) {
      if (c.pid === null) continue;
      if (c.type === ':worker' && !meta.processes.some((x) => x.pid === c.pid)) continue;
      const child = proc(c.pid);
      const expected = c.type === ':supervisor' ? `${shop.name} / shop / Shop.Supervisor / ${id}` : `${shop.name} / shop / Shop.Supervisor`;
      assert.equal(child.group, expected, id);
      assert.equal(child.ancestors[0], proc(text(supPid)).index, id);
    }
  });

  it('chains every restart of the payment gateway by Shop.PaymentSup, from its pid before the recording to the one at the end', (t) => {
    assert.ok(restarts > 0, 'the scenario crashed the gateway at least once');
    t.diagnostic(`the gateway restarted ${restarts} times`);
    const now = paymentChildren.get('Shop.PaymentGateway')!;
    assert.equal(now.pid, text(gatewayAfter));
    const paymentSup = proc(topChildren.get('Shop.PaymentSup')!.pid!);
    const group = `${shop.name} / shop / Shop.Supervisor / Shop.PaymentSup`;
    assert.equal(paymentSup.group, group);
    const chain: ProcessMeta[] = [];
    let cur: ProcessMeta | undefined = proc(text(gatewayAfter));
    while (cur !== undefined) {
      chain.push(cur);
      assert.equal(cur.group, group, cur.pid);
      assert.equal(cur.childId, 'Shop.PaymentGateway', cur.pid);
      assert.deepEqual(cur.ancestors, [paymentSup.index, proc(text(supPid)).index], cur.pid);
      assert.ok(chain.length <= restarts + 1, `more restarts chained than the shop counted (${restarts})`);
      cur = cur.restartOf === null ? undefined : meta.processes[cur.restartOf];
    }
    assert.equal(chain[chain.length - 1]!.pid, text(gatewayBefore));
    assert.equal(chain.length, restarts + 1, chain.map((c) => c.pid).join(' ← '));
    // Nothing else claims to restart the gateway: the chain is the only one.
    const restartsOfGateway = meta.processes.filter((p) => p.restartOf !== null && p.childId === 'Shop.PaymentGateway');
    assert.equal(restartsOfGateway.length, restarts);
  });

  it('groups processes started during the recording with their spawner\'s supervisor (carts under Shop.CartSup)', () => {
    const cartSup = proc(topChildren.get('Shop.CartSup')!.pid!);
    const group = `${shop.name} / shop / Shop.Supervisor / Shop.CartSup`;
    assert.equal(cartSup.group, group);
    const carts = meta.processes.filter((p) => p.ancestors[0] === cartSup.index && p.index !== cartSup.index);
    assert.ok(carts.length > 0, 'the scenario started carts');
    for (const c of carts) {
      assert.equal(c.group, group, c.pid);
      assert.equal(c.restartOf, null, `${c.pid}: a DynamicSupervisor child is never a restart of another`);
      assert.deepEqual(c.ancestors, [cartSup.index, proc(text(supPid)).index]);
    }
  });

  it('lays out the gateway\'s lanes together in its supervision group in the page, each restart marked', async () => {
    const ui = startCliProcess(['ui', out, '--port', '0']);
    const browser = await launchBrowser();
    try {
      const { url } = await waitForCinemaUrl(ui);
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForFunction(() => (window.elixirScope?.timeline?.lanes().length ?? 0) > 0, undefined, { timeout: 60_000 });
      const seen = await page.evaluate(() => {
        const es = window.elixirScope!;
        const procs = es.store.meta.processes;
        return {
          lanes: es.timeline!.lanes().map((l) => procs[l.pid]!.group),
          restarts: es.timeline!.restarts(),
          restartFirsts: procs.filter((p) => p.restartOf != null && p.count > 0).map((p) => es.store.idsOfPid(p.index)[0]!),
        };
      });
      const group = `${shop.name} / shop / Shop.Supervisor / Shop.PaymentSup`;
      const at = seen.lanes.flatMap((g, i) => (g === group ? [i] : []));
      assert.ok(at.length >= restarts + 1, `lanes of ${group}: ${at.length}`);
      assert.equal(at[at.length - 1]! - at[0]! + 1, at.length, 'the group\'s lanes are next to each other');
      assert.equal(seen.restartFirsts.length, restarts);
      for (const id of seen.restartFirsts) assert.ok(seen.restarts.includes(id), `the restart at event ${id} is marked`);
    } finally {
      await browser.close();
      if (ui.child.exitCode === null) {
        ui.child.kill('SIGINT');
        await ui.done;
      }
    }
  });

  it('opens the same recording without meta.supervision, grouped by spawns as before', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'es-cinema-sup-old-')), 'rec');
    try {
      cpSync(out, copy, { recursive: true });
      const file = join(copy, 'meta.json');
      const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      delete m['supervision'];
      writeFileSync(file, JSON.stringify(m));
      const view = new RecordingView(openRecording(copy));
      const old = view.meta() as unknown as Meta;
      view.close();
      const inv = old.processes.find((p) => p.name === 'Shop.Inventory')!;
      assert.equal(inv.group, `${shop.name} Shop.Inventory`);
      assert.equal(inv.restartOf, null);
      assert.ok(old.processes.every((p) => p.restartOf === null && p.app === null));
    } finally {
      rmSync(join(copy, '..'), { recursive: true, force: true });
    }
  });
});
