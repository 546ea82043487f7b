/**
 * The Execution Cinema end to end, in Debian's chromium: the example shop is recorded by the real
 * `elixir-scope record` (calls of Shop.Checkout and Shop.Pricing, Shop.Inventory's state, messages of
 * the inventory, the carts and the checkout tasks), served by `elixir-scope ui`, and driven through
 * the page as a person would (the scrubber's jump box, tabs, clicks on arrows, rows and the flame
 * chart). What the panels show is compared with what the CLI prints for the same recording. A live
 * session (`record --ui`) on the running shop shows events arriving while the app runs.
 *
 * Screenshots go to test-artifacts/ (gitignored).
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { LocalNode, Pid, Tuple, atom, tuple } from '../src/erlang/index.js';
import { removeCopy, type ShopNode, startBuiltShop } from './support/exampleApp.js';
import { runCli } from './support/cli.js';
import { recordDuring, startCliProcess, type CliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

interface Row {
  id: number;
  pid: string;
  kind: string;
  mfa: string | null;
  name?: string;
  args?: string;
  link: number | null;
}

// The page's globals as page.evaluate callbacks see them: this file is compiled for Node (no DOM
// library), so the few browser names the callbacks use are declared here.
interface El {
  innerText: string;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  classList: { contains(c: string): boolean };
  querySelector(s: string): El | null;
  getBoundingClientRect(): { top: number; bottom: number };
}
interface PageStore {
  sel: { id: number | null; pid: number | null };
  count: number;
  live: boolean;
  meta: { processes: Array<{ index: number; pid: string; name: string | null }> };
  api: { getJson<T>(path: string): Promise<T> };
  mfaText(id: number): string | null;
  kindName(id: number): string;
}
declare const window: { elixirScope?: { store: PageStore } };
declare const document: { querySelector(s: string): El | null; querySelectorAll(s: string): Iterable<El> };
declare const location: { hash: string };


function jsonLines(text: string): Row[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
}

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `elixir-scope ${args.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

/** Opens the page and waits until the store and every panel are up. */
async function openPage(b: TestBrowser, url: string): Promise<Page> {
  const page = await b.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  await page.goto(url);
  try {
    await page.waitForFunction(() => window.elixirScope !== undefined, undefined, { timeout: 60_000 });
  } catch (err) {
    const body = await page.evaluate(() => document.querySelector('body')?.innerText ?? '').catch((e: unknown) => `(unreadable: ${String(e)})`);
    throw new Error(`the page did not start: ${String(err)}\npage: ${body.slice(0, 500)}\nconsole: ${consoleLines.join('\n')}\nerrors: ${errors.join('\n')}`);
  }
  await page.waitForSelector('.es-inspector');
  await page.waitForSelector('.es-eventlist', { state: 'attached' });
  assert.deepEqual(errors, [], 'no uncaught errors while the page starts');
  return page;
}

async function tab(page: Page, key: string): Promise<void> {
  await page.click(`.tabs button[data-key="${key}"]`);
  await page.waitForSelector(`[data-panel="${key}"]:not([hidden])`);
}

/** Moves the playhead with the scrubber's "event id" box, as a reader types it. */
async function jumpTo(page: Page, id: number): Promise<void> {
  await page.fill('input.jump', String(id));
  await page.press('input.jump', 'Enter');
  await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, id);
}

async function sel(page: Page): Promise<{ id: number | null; pid: number | null }> {
  return page.evaluate(() => ({ ...window.elixirScope!.store.sel }));
}

/** The process index (of /api/meta) of a registered name or a pid text. */
async function pidIndex(page: Page, nameOrPid: string): Promise<number> {
  const i = await page.evaluate((n) => window.elixirScope!.store.meta.processes.findIndex((p) => p.name === n || p.pid === n), nameOrPid);
  assert.ok(i >= 0, `${nameOrPid} is a process of the recording`);
  return i;
}

/** What the inspector shows, as lines in the CLI's `state-at` wording. */
async function inspectorLines(page: Page, pid: number, at: number): Promise<Record<string, string>> {
  await page.waitForSelector(`.es-insp-body[data-pid="${pid}"][data-at="${at}"]`);
  return page.evaluate(() => {
    const text = (sel: string): string => (document.querySelector(sel)?.innerText ?? '').replace(/\s+/g, ' ').trim();
    const frames = [...document.querySelectorAll('.es-frame')];
    const out: Record<string, string> = {
      title: text('.es-insp-title'),
      event: text('.es-insp-event'),
      state: text('.es-insp-state-term'),
      setBy: text('.es-insp-setby'),
      message: text('.es-insp-message .es-term'),
      messageRef: text('.es-insp-msgref'),
    };
    frames.forEach((f, i) => {
      out[`frame${i}`] = (f.querySelector('.es-frame-head')?.innerText ?? '').replace(/\s+/g, ' ').trim();
      out[`args${i}`] = (f.querySelector('.es-frame-args .es-term')?.innerText ?? '').replace(/\s+/g, ' ').trim();
    });
    return out;
  });
}

/** The same facts from `elixir-scope state-at` text. */
function stateAtLines(text: string): Record<string, string> {
  const lines = text.split('\n');
  const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();
  const out: Record<string, string> = { title: norm(lines[0]!) };
  let frame = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^ {2}Event: (.*)$/.exec(l))) out.event = norm(`Event: ${m[1]}`);
    else if ((m = /^ {2}GenServer State: (.*)$/.exec(l))) {
      out.state = norm(m[1]!);
      out.setBy = norm(lines[i + 1]!);
    } else if ((m = /^ {2}Previous State: (.*) \(event #\d+, \S+\)$/.exec(l))) {
      out.previous = norm(m[1]!);
    } else if ((m = /^ {2}(Active Call|Called from): (.*)$/.exec(l))) {
      out[`frame${frame}`] = norm(`${m[1]}: ${m[2]}`);
      out[`args${frame}`] = norm(lines[i + 1]!.replace(/^\s*Arguments: /, ''));
      frame++;
    } else if ((m = /^ {2}Last message: (.*) \((event #\d+, \S+, from .*)\)$/.exec(l))) {
      out.message = norm(m[1]!);
      out.messageRef = m[2]!;
    }
  }
  return out;
}

describe('Execution Cinema in chromium on a recording of the shop', { timeout: 600_000 }, () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let rec: string;
  let ui: CliProcess;
  let url: string;
  let browser: TestBrowser;
  let page: Page;
  let rows: Row[];

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    rec = join(mkdtempSync(join(tmpdir(), 'es-cinema-e2e-')), 'rec');
    // Messages only of chosen processes (the recorder refuses all of them): the inventory, and
    // through --follow every cart and checkout task the two supervisors start.
    await recordDuring(
      [
        '--node', shop.name, '--out', rec,
        '--module', 'Shop.Checkout', '--module', 'Shop.Pricing', '--function', 'Shop.Inventory.handle_call/3',
        '--state', 'Shop.Inventory', '--processes', '--messages',
        '--name', 'Shop.Inventory', '--name', 'Shop.TaskSup', '--name', 'Shop.CartSup', '--follow',
        '--duration', '60s',
      ],
      { ELIXIR_SCOPE_COOKIE: shop.cookie },
      async () => {
        const peer = await local.connect(shop.name);
        await peer.rpc('Elixir.Shop.Scenario', 'run', [[tuple(atom('seed'), 42)]], { timeoutMs: 60_000 });
        // The last batch leaves the node within a flush interval (20 ms).
        await new Promise((r) => setTimeout(r, 300));
      },
    );
    rows = jsonLines(await cli(['history', rec, '--json', '--limit', '0']));
    ui = startCliProcess(['ui', rec, '--port', '0']);
    url = (await waitForCinemaUrl(ui)).url;
    browser = await launchBrowser();
    page = await openPage(browser, url);
  });

  after(async () => {
    await browser?.close();
    if (ui !== undefined && ui.child.exitCode === null) {
      ui.child.kill('SIGINT');
      await ui.done;
    }
    await local?.close();
    await shop?.stop();
    if (rec) rmSync(join(rec, '..'), { recursive: true, force: true });
    if (dir) removeCopy(dir);
  });

  it("shows Shop.Inventory's state at an event exactly as state-at prints it", async () => {
    const inv = await pidIndex(page, 'Shop.Inventory');
    const transfer = rows.find((e) => e.kind === 'call' && e.mfa === 'Shop.Inventory.handle_call/3' && /:transfer/.test(e.args ?? ''));
    assert.ok(transfer, 'a transfer call in the inventory');
    await tab(page, 'inspector');
    await jumpTo(page, transfer.id);
    assert.equal((await sel(page)).pid, inv, 'jumping to an inventory event selects the inventory');
    const shown = await inspectorLines(page, inv, transfer.id);
    const printed = stateAtLines(await cli(['state-at', rec, '--name', 'Shop.Inventory', '--at', String(transfer.id)]));
    assert.ok(printed.state !== undefined && printed.frame0 !== undefined && printed.message !== undefined, JSON.stringify(printed));
    assert.equal(shown.title, printed.title);
    assert.equal(shown.event, printed.event);
    assert.equal(shown.state, printed.state);
    assert.equal(shown.setBy, printed.setBy);
    assert.equal(shown.frame0, printed.frame0);
    assert.equal(shown.args0, printed.args0);
    assert.equal(shown.message, printed.message);
    assert.ok(shown.messageRef.startsWith(`(${printed.messageRef}`), `${shown.messageRef} vs ${printed.messageRef}`);
    // What changed since the previous state is marked inside the state's text.
    assert.ok(printed.previous !== undefined && printed.previous !== printed.state, 'the state had changed');
    const marks = await page.locator('.es-insp-state-term mark.es-diff').allInnerTexts();
    assert.ok(marks.length > 0, 'changed parts are marked');
    for (const m of marks) assert.ok(printed.state.includes(m.trim()), `${m} is part of the state`);
    await browser.screenshot(page, 'cinema-e2e-inspector');

    // At an event of another process (the task's send that asked for the transfer), still the inventory.
    const lastReceive = rows.filter((x) => x.kind === 'receive' && x.pid === transfer.pid && x.id < transfer.id).at(-1);
    const ask = rows.find((e) => e.id === lastReceive?.link);
    assert.ok(ask !== undefined && ask.pid !== transfer.pid, 'the send that asked for the transfer, from another process');
    await page.evaluate(([id, p]) => (location.hash = `#t=${id}&p=${p}`), [ask.id, inv] as const);
    await page.waitForFunction(([id, p]) => window.elixirScope!.store.sel.id === id && window.elixirScope!.store.sel.pid === p, [ask.id, inv] as const);
    const shown2 = await inspectorLines(page, inv, ask.id);
    const printed2 = stateAtLines(await cli(['state-at', rec, '--name', 'Shop.Inventory', '--at', String(ask.id)]));
    assert.equal(shown2.title, printed2.title);
    assert.equal(shown2.event, printed2.event, 'the event line names the other process');
    assert.equal(shown2.state, printed2.state);
    assert.equal(shown2.setBy, printed2.setBy);
  });

  it('follows a message arrow from its send to its receive', async () => {
    const inv = await pidIndex(page, 'Shop.Inventory');
    // A request some task sent to the inventory and the inventory took in.
    const recv = rows.find((e) => e.kind === 'receive' && e.name === 'Shop.Inventory' && e.link !== null && /:transfer/.test(JSON.stringify(e)));
    assert.ok(recv, 'a transfer request received by the inventory');
    const send = rows.find((e) => e.id === recv.link)!;
    assert.equal(send.kind, 'send');
    await tab(page, 'sequence');
    // Start from the sender's process: its diagram has the inventory among its peers.
    await page.evaluate(([id, p]) => (location.hash = `#t=${id}&p=${p}`), [send.id - 1, await pidIndex(page, send.pid)] as const);
    const arrow = page.locator(`.es-seq-msg[data-send="${send.id}"]`);
    await arrow.waitFor();
    assert.equal(await arrow.getAttribute('data-receive'), String(recv.id));
    await arrow.locator('.es-seq-hit').click({ force: true });
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, send.id);
    await page.waitForSelector(`.es-seq-msg.es-selected[data-send="${send.id}"]`);
    await browser.screenshot(page, 'cinema-e2e-sequence-send');
    // The second click follows it.
    await page.locator(`.es-seq-msg[data-send="${send.id}"] .es-seq-hit`).click({ force: true });
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, recv.id);
    const s = await sel(page);
    assert.equal(s.id, recv.id);
    assert.equal(s.pid, inv, 'the receive is the inventory');
    const detail = await page.evaluate((id) => window.elixirScope!.store.api.getJson<{ kind: string; link: number | null }>(`/api/event/${id}`), recv.id);
    assert.equal(detail.kind, 'receive');
    assert.equal(detail.link, send.id, "the receive's link is the send");
    // And the button goes back to the send.
    await page.click('.es-seq-info button');
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, send.id);
    await page.click('.es-seq-info button.es-seq-follow');
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, recv.id);
    await browser.screenshot(page, 'cinema-e2e-sequence-receive');
    // The chooser: removing the sender's lifeline drops its arrows; adding it back restores them.
    const senderIdx = await pidIndex(page, send.pid);
    await page.click(`.es-seq-chip[data-pid="${senderIdx}"] .es-seq-remove`);
    await page.waitForSelector(`.es-seq-msg[data-send="${send.id}"]`, { state: 'detached' });
    assert.equal(await page.locator(`.es-seq-lane[data-pid="${senderIdx}"]`).count(), 0);
    await page.selectOption('select.es-seq-add', String(senderIdx));
    await page.waitForSelector(`.es-seq-msg[data-send="${send.id}"]`);
    assert.equal(await page.locator(`.es-seq-lane[data-pid="${senderIdx}"]`).count(), 1);
  });

  it('filters the event list by kind and by text, showing the lines history prints', async () => {
    await tab(page, 'events');
    const printed = (await cli(['history', rec, '--kind', 'exception', '--limit', '0'])).split('\n').filter((l) => l !== '');
    const ids = rows.filter((e) => e.kind === 'exception').map((e) => e.id);
    assert.equal(printed.length, ids.length);
    await page.click('.es-ev-kinds summary');
    await page.check('.es-ev-kinds input[data-kind="exception"]');
    await page.click('.es-ev-kinds summary');
    await page.waitForFunction((n) => document.querySelector('.es-ev-status')?.textContent?.startsWith(`${n} matches`), ids.length);
    const visible = await page.$$eval('.es-ev-row', (els: El[]) => els.map((e) => ({ id: Number(e.dataset['id']), text: e.textContent ?? '' })));
    assert.ok(visible.length > 0);
    for (const v of visible) {
      const i = ids.indexOf(v.id);
      assert.ok(i >= 0, `row #${v.id} is an exception`);
      assert.equal(v.text.replace(/\s+/g, ' '), printed[i]!.replace(/\s+/g, ' '));
    }
    // Typed key by key, as a person does: the scrubber's shortcuts must not take the letters.
    await page.locator('.es-ev-text').pressSequentially('unit_price');
    const expected = printed.filter((l) => l.toLowerCase().includes('unit_price'));
    assert.equal(expected.length, 5, 'five checkouts crashed in unit_price');
    await page.waitForFunction(() => document.querySelector('.es-ev-status')?.textContent?.startsWith('5 matches'));
    const texts = await page.$$eval('.es-ev-row', (els: El[]) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ')));
    assert.deepEqual(texts, expected.map((l) => l.replace(/\s+/g, ' ')));
    await browser.screenshot(page, 'cinema-e2e-events-filtered');
    // Clicking a row moves the playhead to it.
    const first = await page.locator('.es-ev-row').first().getAttribute('data-id');
    await page.locator('.es-ev-row').first().click();
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, Number(first));
    // A module filter keeps the events of that module's functions.
    await page.fill('.es-ev-text', '');
    await page.click('.es-ev-kinds summary');
    await page.uncheck('.es-ev-kinds input[data-kind="exception"]');
    await page.click('.es-ev-kinds summary');
    await page.fill('.es-ev-module', 'Shop.Checkout');
    const checkoutIds = rows.filter((e) => e.mfa?.startsWith('Shop.Checkout.')).map((e) => e.id);
    await page.waitForFunction((n) => document.querySelector('.es-ev-status')?.textContent === `${n} matches loaded`, checkoutIds.length);
    const moduleRows = await page.$$eval('.es-ev-row', (els: El[]) => els.map((e) => Number(e.dataset['id'])));
    assert.ok(moduleRows.length > 0);
    for (const id of moduleRows) assert.ok(checkoutIds.includes(id), `#${id} is in Shop.Checkout`);
    await page.fill('.es-ev-module', '');
    // Without filters it is the whole recording again, one row per event, virtualized.
    await page.fill('.es-ev-text', '');
    await page.waitForFunction((n) => document.querySelector('.es-ev-status')?.textContent === `${n.toLocaleString('en-US')} events`, rows.length);
    const inDom = await page.$$eval('.es-ev-row', (els: El[]) => els.length);
    assert.ok(inDom < 200, `only the visible rows are in the page (${inDom})`);
  });

  it('shows a crashed Shop.Checkout.run call as raised in the call tree and the flame chart', async () => {
    const ex = rows.find((e) => e.kind === 'exception' && e.mfa === 'Shop.Checkout.run/1');
    assert.ok(ex && ex.link !== null, 'a checkout that raised');
    const callId = ex.link;
    const printed = await cli(['calls', rec, '--pid', ex.pid]);
    const line = printed.split('\n').find((l) => l.startsWith('Shop.Checkout.run/1') && l.endsWith(`#${callId}`));
    assert.ok(line, printed);
    assert.match(line, /raised error/);
    await tab(page, 'calls');
    await jumpTo(page, ex.id);
    const item = page.locator(`.es-call[data-id="${callId}"]`);
    await item.waitFor();
    assert.equal(await item.getAttribute('data-status'), 'raised');
    const row = item.locator(':scope > .es-call-row');
    const shown = `${await row.locator('.es-call-mfa').innerText()}  ${await row.locator('.es-call-outcome').innerText()}  ${await row.locator('.es-call-id').innerText()}`;
    assert.equal(shown, line, 'the same words as elixir-scope calls');
    // The playhead is in the call's exception: the tree marks the innermost open call, the run.
    assert.ok(await row.evaluate((r: El) => r.classList.contains('es-selected')));
    await browser.screenshot(page, 'cinema-e2e-calltree');
    // The flame chart's top row is the run: clicking it selects the call event.
    const canvas = page.locator('canvas.es-flame');
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 100);
    await canvas.click({ position: { x: box.width / 2, y: 9 } });
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, callId);
    // Clicking a tree row selects its call too.
    await jumpTo(page, ex.id);
    await row.locator('.es-call-mfa').click();
    await page.waitForFunction((x) => window.elixirScope!.store.sel.id === x, callId);
  });

  it('shows the source of the selected call with its line marked', async () => {
    const run = rows.find((e) => e.kind === 'call' && e.mfa === 'Shop.Checkout.run/1')!;
    await jumpTo(page, run.id);
    await tab(page, 'source');
    const focus = page.locator('.es-source-line.es-focus');
    await focus.waitFor();
    assert.match(await focus.innerText(), /def run\(/);
    // A function far down its file, selected while the tab is hidden.
    await tab(page, 'inspector');
    const unit = rows.find((e) => e.kind === 'call' && e.mfa === 'Shop.Pricing.unit_price/2')!;
    await jumpTo(page, unit.id);
    await tab(page, 'source');
    await page.waitForFunction(() => /defp? unit_price\(/.test(document.querySelector('.es-source-line.es-focus')?.textContent ?? ''));
    // The tab was hidden when the call was selected: the line is brought into sight when it is shown.
    await page.waitForFunction(() => {
      const f = document.querySelector('.es-source-line.es-focus')?.getBoundingClientRect();
      const box = document.querySelector('.es-source-body')?.getBoundingClientRect();
      return f !== undefined && box !== undefined && f.top >= box.top && f.bottom <= box.bottom;
    });
    // A state event is in no call: the panel says why there is nothing to show.
    const st = rows.find((e) => e.kind === 'state')!;
    await jumpTo(page, st.id);
    await page.waitForFunction(() => /outside any traced call/.test(document.querySelector('.es-source')?.textContent ?? ''));
  });
});

describe('Execution Cinema on a live recording (record --ui)', { timeout: 300_000 }, () => {
  let dir: string;
  let shop: ShopNode;
  let local: LocalNode;
  let out: string;
  let browser: TestBrowser;
  let recorder: CliProcess;
  let loop: Pid | null = null;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    local = await LocalNode.start({ cookie: shop.cookie });
    out = join(mkdtempSync(join(tmpdir(), 'es-cinema-live-')), 'rec');
    browser = await launchBrowser();
  });

  after(async () => {
    if (loop !== null) await (await local.connect(shop.name)).rpc('Elixir.Shop.Scenario', 'stop_loop', [loop]);
    if (recorder !== undefined && recorder.child.exitCode === null) {
      // The first Ctrl-C stops the recording, the second the server that goes on showing it.
      recorder.child.kill('SIGINT');
      await recorder.waitFor(/still serving/, 20_000).catch((err: unknown) => console.error(String(err)));
      recorder.child.kill('SIGINT');
      const killer = setTimeout(() => recorder.child.kill('SIGKILL'), 20_000);
      await recorder.done;
      clearTimeout(killer);
    }
    await browser?.close();
    await local?.close();
    await shop?.stop();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
    if (dir) removeCopy(dir);
  });

  it('shows events arriving while the shop runs', async () => {
    const peer = await local.connect(shop.name);
    recorder = startCliProcess(
      ['record', '--node', shop.name, '--out', out, '--module', 'Shop.Checkout', '--module', 'Shop.Pricing', '--state', 'Shop.Inventory', '--processes', '--duration', '120s', '--ui', '--port', '0'],
      { ELIXIR_SCOPE_COOKIE: shop.cookie },
      240_000,
    );
    const liveUrl = (await waitForCinemaUrl(recorder)).url;
    const page = await openPage(browser, liveUrl);
    assert.equal(await page.evaluate(() => window.elixirScope!.store.live), true);
    const before = await page.evaluate(() => window.elixirScope!.store.count);
    // Traffic starts only now: what the page shows next arrived while it was open.
    const started = await peer.rpc('Elixir.Shop.Scenario', 'start_loop', [20]);
    assert.ok(started instanceof Tuple && started.elements[1] instanceof Pid, `start_loop answered ${String(started)}`);
    loop = started.elements[1];
    await page.waitForFunction((n) => window.elixirScope!.store.count > n, before, { timeout: 60_000 });
    const mid = await page.evaluate(() => window.elixirScope!.store.count);
    await page.waitForFunction((n) => window.elixirScope!.store.count > n, mid, { timeout: 60_000 });
    const later = await page.evaluate(() => window.elixirScope!.store.count);
    assert.ok(later > mid && mid > before, `${before} < ${mid} < ${later}`);
    // The event list grows with it (the unfiltered list counts every event).
    await tab(page, 'events');
    await page.waitForFunction((n) => {
      const t = document.querySelector('.es-ev-status')?.textContent ?? '';
      return Number(t.replace(/[^\d]/g, '')) >= n;
    }, later);
    // With nothing selected the list tails the recording: its newest event is in sight.
    await page.waitForFunction(() => {
      const last = window.elixirScope!.store.count - 1;
      return [...document.querySelectorAll('.es-ev-row')].some((r) => Number(r.dataset['id']) === last);
    }, undefined, { timeout: 30_000 });
    // A checkout that ran while we watched reaches the page's columns with its call.
    await page.waitForFunction(() => {
      const s = window.elixirScope!.store;
      for (let i = s.count - 1; i >= 0; i--) if (s.mfaText(i) === 'Shop.Checkout.run/1' && s.kindName(i) === 'call') return true;
      return false;
    }, undefined, { timeout: 60_000 });
    await browser.screenshot(page, 'cinema-e2e-live');
    await peer.rpc('Elixir.Shop.Scenario', 'stop_loop', [loop]);
    loop = null;
    recorder.child.kill('SIGINT');
    await recorder.waitFor(/still serving/);
    await page.waitForFunction(() => window.elixirScope!.store.live === false, undefined, { timeout: 30_000 });
    recorder.child.kill('SIGINT');
    const done = await recorder.done;
    assert.equal(done.code, 0, recorder.output());
  });
});
