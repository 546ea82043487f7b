/**
 * The Cinema's panels in chromium on recordings made for what they must handle:
 *
 * - a GenServer whose state is far over the 2 KB fold (300 stock entries), changed by an instrumented
 *   handle_call with AST locals: the inspector folds the state, marks exactly the changed entries,
 *   unfolds on click to the value state-at prints, and lays out the line and locals as state-at does;
 * - the 1,000,000-event recording (test/support/bigRecording.ts): the event list keeps only the rows
 *   in sight in the page, follows the playhead to any event with history's line for it, and a kind
 *   filter finds every match across the whole recording.
 *
 * Recordings are written through the real store (Ingestor → writer) and served by `elixir-scope ui`.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ErlMap, Tuple, atom, type Term } from '../src/erlang/terms.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { bigRecording } from './support/bigRecording.js';
import { runCli } from './support/cli.js';
import { startCliProcess, type CliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

// The page's globals as page.evaluate callbacks see them (this file is compiled without the DOM library).
interface El {
  innerText: string;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  classList: { contains(c: string): boolean };
  querySelector(s: string): El | null;
}
declare const window: { elixirScope?: { store: { sel: { id: number | null; pid: number | null }; count: number; meta: { processes: Array<{ name: string | null }> } } } };
declare const document: { querySelector(s: string): El | null; querySelectorAll(s: string): Iterable<El> };
declare const location: { hash: string };

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

async function serve(dir: string): Promise<{ ui: CliProcess; url: string }> {
  const ui = startCliProcess(['ui', dir, '--port', '0']);
  return { ui, url: (await waitForCinemaUrl(ui)).url };
}

async function stop(ui: CliProcess | undefined): Promise<void> {
  if (ui === undefined || ui.child.exitCode !== null) return;
  ui.child.kill('SIGINT');
  await ui.done;
}

async function open(b: TestBrowser, url: string): Promise<Page> {
  const page = await b.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.elixirScope !== undefined, undefined, { timeout: 120_000 });
  await page.waitForSelector('.es-inspector');
  assert.deepEqual(errors, []);
  return page;
}

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `elixir-scope ${args.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

async function goTo(page: Page, id: number, pid: number): Promise<void> {
  await page.evaluate(([i, p]) => (location.hash = `#t=${i}&p=${p}`), [id, pid] as const);
  await page.waitForSelector(`.es-insp-body[data-pid="${pid}"][data-at="${id}"]`);
}

describe('inspector: a large state, folded, with its changes marked, and AST locals', { timeout: 300_000 }, () => {
  const b = new RecordingBuilder('shop@vm');
  const relay = b.pid(90);
  const store = b.pid(150);
  const client = b.pid(160);
  const ids: Record<string, number> = {};
  const skus = Array.from({ length: 300 }, (_, i) => `sku-${String(i).padStart(3, '0')}`);
  const state = (changed: number, version: number): ErlMap =>
    new ErlMap([
      [atom('stock'), new ErlMap(skus.map((s, i): [Term, Term] => [Buffer.from(s), i === 42 ? changed : i]))],
      [atom('version'), version],
    ]);
  b.add({ ts: 0, kind: 'register', pid: store, payload: atom('Elixir.Big.Store') });
  ids.init = b.add({ ts: 1_000, kind: 'state_init', pid: store, payload: state(42, 1) });
  const req = new Tuple([atom('$gen_call'), new Tuple([client, atom('ref')]), new Tuple([atom('restock'), Buffer.from('sku-042'), 5])]);
  ids.send = b.send(client, 10_000, store, req);
  ids.recv = b.receive(store, 11_000, req, ids.send);
  ids.call = b.astCall(store, 12_000, 'Elixir.Big.Store', 'handle_call', [new Tuple([atom('restock'), Buffer.from('sku-042'), 5]), atom('from'), atom('state')], 30);
  ids.line = b.line(store, 12_500, 31);
  ids.locals = b.locals(store, 13_000, 32, [['sku', Buffer.from('sku-042')], ['qty', 5], ['before', 42]]);
  ids.ret = b.astRet(store, 14_000, new Tuple([atom('reply'), atom('ok'), atom('state')]), 34);
  ids.state = b.add({ ts: 15_000, kind: 'state', pid: store, payload: state(47, 2), aux: new Tuple([req, new Tuple([atom('reply'), atom('ok')])]), link: ids.recv });
  const rec = b.build();

  let root = '';
  let dir = '';
  let ui: CliProcess | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let storeIdx = -1;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'es-cinema-panels-'));
    dir = join(root, 'rec');
    await writeThroughStore(rec, dir, relay);
    const s = await serve(dir);
    ui = s.ui;
    browser = await launchBrowser();
    page = await open(browser, s.url);
    storeIdx = await page.evaluate(() => window.elixirScope!.store.meta.processes.findIndex((p) => p.name === 'Big.Store'));
    assert.ok(storeIdx >= 0);
  });

  after(async () => {
    await browser?.close();
    await stop(ui);
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  it('folds the state and marks the changed entries, which unfold to the values state-at prints', async () => {
    await goTo(page, ids.state!, storeIdx);
    const json = JSON.parse(await cli(['state-at', dir, '--name', 'Big.Store', '--at', String(ids.state), '--json'])) as { state: { value: string } };
    const term = page.locator('.es-insp-state-term');
    // Folded: the top level shows its two entries, not 300 stock lines.
    assert.equal(await term.locator(':scope > .es-term-children > .es-term').count(), 2);
    const stock = term.locator(':scope > .es-term-children > .es-term').first();
    assert.equal(norm(await stock.locator(':scope > .es-term-toggle > .es-term-key').innerText()), 'stock:');
    assert.ok(await stock.evaluate((e: El) => e.classList.contains('es-changed-inside')), 'the stock map is marked as holding a change');
    const version = term.locator(':scope > .es-term-children > .es-term').nth(1);
    assert.ok(await version.evaluate((e: El) => e.classList.contains('es-changed')), 'version changed');
    assert.equal(norm(await version.innerText()), 'version: 2');
    const changes = await page.locator('.es-insp-changes code').allInnerTexts();
    assert.deepEqual(changes, ['[:stock, "sku-042"]', '[:version]']);
    // Unfold the stock map: exactly sku-042 is marked, and its value is the one in state-at's text.
    await stock.locator(':scope > .es-term-toggle').click();
    const marked = stock.locator(':scope > .es-term-children > .es-term.es-changed');
    assert.equal(await marked.count(), 1);
    assert.equal(norm(await marked.innerText()), '"sku-042" => 47');
    assert.ok(json.state.value.includes('"sku-042" => 47'));
    assert.equal(await stock.locator(':scope > .es-term-children > .es-term').count(), 300);
    await browser!.screenshot(page, 'cinema-panels-folded-state');
  });

  it('shows the line and the locals of the instrumented call as state-at does', async () => {
    await goTo(page, ids.locals!, storeIdx);
    const printed = (await cli(['state-at', dir, '--name', 'Big.Store', '--at', String(ids.locals)])).split('\n').map(norm);
    const at = printed.indexOf('Local Variables (from AST):');
    assert.ok(at > 0, printed.join('\n'));
    const shownHead = norm(await page.locator('.es-frame .es-frame-head').first().innerText());
    assert.ok(printed.includes(shownHead), `${shownHead} in\n${printed.join('\n')}`);
    const shownLine = norm(await page.locator('.es-frame .es-insp-line').innerText());
    assert.ok(printed.includes(shownLine), `${shownLine} in\n${printed.join('\n')}`);
    const locals = await page.locator('.es-local').evaluateAll((els: El[]) => els.map((e) => e.innerText.replace(/\s+/g, ' ').replace(/ \(event #\d+, line \d+\)$/, '').trim()));
    assert.deepEqual(locals, printed.slice(at + 1, at + 4));
    assert.deepEqual(locals, ['sku: "sku-042"', 'qty: 5', 'before: 42']);
    const args = norm(await page.locator('.es-frame .es-frame-args').first().innerText());
    assert.ok(printed.includes(args), `${args} in\n${printed.join('\n')}`);
    await browser!.screenshot(page, 'cinema-panels-locals');
  });

  it('says why the source of an AST event cannot be shown', async () => {
    await goTo(page, ids.locals!, storeIdx);
    await page.click('.tabs button[data-key="source"]');
    const missing = page.locator('.es-source-missing');
    await missing.waitFor();
    // This recording was written without sources: the server's reason is shown, for that line.
    assert.match(await missing.innerText(), /No source to show: the recording kept no sources/);
    assert.match(await page.locator('.es-source .es-panel-head').innerText(), /Big\.Store\.handle_call\/3, line 32/);
    await page.click('.tabs button[data-key="inspector"]');
  });
});

describe('event list on a 1,000,000-event recording', { timeout: 600_000 }, () => {
  let ui: CliProcess | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  let dir = '';

  before(async () => {
    const big = await bigRecording();
    dir = big.dir;
    const s = await serve(dir);
    ui = s.ui;
    browser = await launchBrowser();
    page = await open(browser, s.url);
    await page.click('.tabs button[data-key="events"]');
  });

  after(async () => {
    await browser?.close();
    await stop(ui);
  });

  it('keeps only the rows in sight in the page and follows the playhead anywhere', async () => {
    await page.waitForFunction(() => document.querySelector('.es-ev-status')?.textContent === '1,000,000 events');
    const target = 987_654;
    await page.fill('input.jump', String(target));
    await page.press('input.jump', 'Enter');
    const row = page.locator(`.es-ev-row.es-selected[data-id="${target}"]`);
    await row.waitFor();
    await page.waitForFunction((id) => !(document.querySelector(`.es-ev-row[data-id="${id}"]`)?.textContent ?? '').endsWith('…'), target);
    const printed = (await cli(['history', dir, '--since', `#${target}`, '--limit', '1'])).split('\n')[0]!;
    assert.equal(norm(await row.innerText()), norm(printed));
    const inDom = await page.locator('.es-ev-row').count();
    assert.ok(inDom > 5 && inDom < 100, `rows in the page: ${inDom}`);
    await browser!.screenshot(page, 'cinema-panels-1m-events');
  });

  it('a kind filter finds every match across the million events', async () => {
    const printed = (await cli(['history', dir, '--kind', 'exception', '--limit', '0'])).split('\n').filter((l) => l !== '');
    assert.ok(printed.length > 0);
    await page.click('.es-ev-kinds summary');
    await page.check('.es-ev-kinds input[data-kind="exception"]');
    await page.click('.es-ev-kinds summary');
    await page.waitForFunction((n) => document.querySelector('.es-ev-status')?.textContent === `${n} matches loaded`, printed.length, { timeout: 120_000 });
    const texts = await page.locator('.es-ev-row').evaluateAll((els: El[]) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
    assert.ok(texts.length > 0);
    for (const t of texts) assert.ok(printed.map(norm).includes(t), `${t} is one of history's exception lines`);
    await page.click('.es-ev-kinds summary');
    await page.uncheck('.es-ev-kinds input[data-kind="exception"]');
    await page.click('.es-ev-kinds summary');
  });

  it('a process filter shows the lines history --pid prints for that process', async () => {
    const pid = '#PID<0.1806.0>';
    const idx = await page.evaluate((p) => window.elixirScope!.store.meta.processes.findIndex((x) => (x as { pid?: string }).pid === p), pid);
    assert.ok(idx >= 0);
    await page.selectOption('select.es-ev-pid', String(idx));
    await page.waitForFunction(() => /matches loaded/.test(document.querySelector('.es-ev-status')?.textContent ?? ''));
    await page.waitForFunction(() => document.querySelectorAll('.es-ev-row')[Symbol.iterator]().next().done === false);
    const shown = await page.locator('.es-ev-row').evaluateAll((els: El[]) => els.map((e) => ({ id: Number(e.dataset['id']), text: (e.textContent ?? '').replace(/\s+/g, ' ').trim() })));
    assert.ok(shown.length > 3);
    // With one process the lines drop the pid column and indent by call depth, as history --pid prints them.
    const printed = new Set((await cli(['history', dir, '--pid', pid, '--limit', '0'])).split('\n').map(norm));
    for (const r of shown) assert.ok(printed.has(r.text), `${r.text} is a line of history --pid ${pid}`);
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i]!.id > shown[i - 1]!.id, 'in id order');
    await page.selectOption('select.es-ev-pid', '');
  });
});
