/**
 * The Cinema page's timeline and scrubber in a real chromium, against the real server
 * (`elixir-scope ui REC --port 0` as a child process) on recordings written by the real store:
 * the shop recording (5 processes, nested calls, messages, a crash) and the 1,000,000-event
 * recording of test/support/bigRecording.ts. Screenshots go to test-artifacts/.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { startCliProcess, type CliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { shopRecording } from './support/shopRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { bigRecording } from './support/bigRecording.js';

// ----------------------------------------------------------------------------------------------
// The page's globals as the callbacks given to page.evaluate see them. This file is compiled for
// Node (no DOM library), so the few browser names those callbacks use are declared here, locally.
// ----------------------------------------------------------------------------------------------

interface PageStore {
  sel: { id: number | null; pid: number | null };
  view: { t0: number; t1: number };
  count: number;
  meta: { processes: { index: number; name: string | null; pid: string; count: number }[] };
  cols: { ts: Float64Array; pid: Uint32Array };
  select(p: { id?: number | null; pid?: number | null }): void;
  setView(v: { t0: number; t1: number }): void;
  fullRange(): { t0: number; t1: number };
}
interface PageTimeline {
  positionOf(id: number): { x: number; y: number } | null;
  lanes(): { pid: number; label: string; y: number; height: number }[];
  crashes(): number[];
  restarts(): number[];
  crashesKnown(): Promise<void>;
  revealPid(pid: number): void;
  scrollTop(): number;
}
interface Canvas2D {
  getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
}
interface CanvasEl {
  width: number;
  getContext(kind: '2d'): Canvas2D | null;
}
declare const window: { elixirScope?: { store: PageStore; frames(): number; timeline: PageTimeline | null } };
declare const document: {
  querySelector(sel: string): ({ textContent: string | null } & Partial<CanvasEl>) | null;
  body: { innerText: string };
};
declare const location: { hash: string; href: string };
declare const devicePixelRatio: number;

interface Served {
  url: string;
  proc: CliProcess;
}

/** Starts `elixir-scope ui DIR --port 0` and reads the URL it prints. */
async function serve(dir: string): Promise<Served> {
  const proc = startCliProcess(['ui', dir, '--port', '0'], {}, 600_000);
  // A cancelled suite may skip its after hook: the server must not outlive the test process.
  process.once('exit', () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  });
  return { url: (await waitForCinemaUrl(proc)).url, proc };
}

async function stop(s: Served | undefined): Promise<void> {
  if (s === undefined) return;
  s.proc.child.kill('SIGINT');
  await s.proc.done;
}

interface PageState {
  sel: { id: number | null; pid: number | null };
  view: { t0: number; t1: number };
  hash: string;
  frames: number;
  position: string;
}

async function state(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const h = window.elixirScope!;
    return {
      sel: { ...h.store.sel },
      view: { ...h.store.view },
      hash: location.hash,
      frames: h.frames(),
      position: document.querySelector('.scrubber .position')?.textContent ?? '',
    };
  });
}

/** Opens the page (with an optional hash) and waits for the timeline's first frame. */
async function open(b: TestBrowser, url: string, hash = ''): Promise<Page> {
  const page = await b.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url + hash);
  try {
    await page.waitForFunction(() => (window.elixirScope?.frames() ?? 0) > 0, null, { timeout: 120_000 });
  } catch (err) {
    const body = await page.evaluate(() => document.body.innerText).catch(() => '?');
    throw new Error(`the timeline never drew a frame: ${String(err)}\npage errors: ${errors.join('\n')}\npage text: ${body}`);
  }
  return page;
}

/** Waits until the page's state satisfies `ok` (the page updates on animation frames). */
async function until(page: Page, ok: (s: PageState) => boolean, what: string): Promise<PageState> {
  let s = await state(page);
  for (let i = 0; i < 100 && !ok(s); i++) {
    await page.waitForTimeout(50);
    s = await state(page);
  }
  assert.ok(ok(s), `${what}; the page is at ${JSON.stringify(s)}`);
  return s;
}

/** The view once it stopped moving (a wheel zoom is animated over a few frames). */
async function settled(page: Page): Promise<{ t0: number; t1: number }> {
  let prev = (await state(page)).view;
  for (let i = 0; i < 50; i++) {
    await page.waitForTimeout(100);
    const v = (await state(page)).view;
    if (v.t0 === prev.t0 && v.t1 === prev.t1) return v;
    prev = v;
  }
  throw new Error(`the view kept moving for 5 s: ${JSON.stringify(prev)}`);
}

/** Page coordinates of an event's mark on the timeline canvas. */
async function eventPoint(page: Page, id: number): Promise<{ x: number; y: number }> {
  const p = await page.evaluate((i) => window.elixirScope!.timeline!.positionOf(i), id);
  assert.ok(p !== null, `event #${id} has no position on the timeline`);
  const box = await page.locator('.timeline-canvas').boundingBox();
  assert.ok(box !== null);
  return { x: box.x + p.x, y: box.y + p.y };
}

/** RGB of a canvas pixel (CSS pixel coordinates relative to the canvas). */
async function pixel(page: Page, x: number, y: number): Promise<[number, number, number]> {
  return page.evaluate(
    ([px, py]) => {
      const c = document.querySelector('.timeline-canvas') as CanvasEl;
      const d = devicePixelRatio || 1;
      const v = c.getContext('2d')!.getImageData(Math.round(px! * d), Math.round(py! * d), 1, 1).data;
      return [v[0]!, v[1]!, v[2]!] as [number, number, number];
    },
    [x, y],
  );
}

/** How many pixels of a lane's plot area differ from the background: something was drawn there. */
async function inkInLane(page: Page, y: number, height: number): Promise<number> {
  return page.evaluate(
    ([ly, lh]) => {
      const c = document.querySelector('.timeline-canvas') as CanvasEl;
      const d = devicePixelRatio || 1;
      const x0 = Math.round(175 * d);
      const img = c.getContext('2d')!.getImageData(x0, Math.round(ly! * d), c.width - x0, Math.max(1, Math.round(lh! * d) - 2));
      let ink = 0;
      for (let i = 0; i < img.data.length; i += 4) {
        const r = img.data[i]!;
        const g = img.data[i + 1]!;
        const b = img.data[i + 2]!;
        // Background shades are dark greys (#15171c, #232833, lane rules #2a2f39); marks are coloured.
        if (Math.max(r, g, b) - Math.min(r, g, b) > 40 || Math.max(r, g, b) > 90) ink++;
      }
      return ink;
    },
    [y, height],
  );
}

describe('cinema timeline on the shop recording', () => {
  const shop = shopRecording();
  const ids = shop.ids;
  let root = '';
  let served: Served | undefined;
  let b: TestBrowser | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'es-cinema-tl-'));
    const dir = join(root, 'rec');
    await writeThroughStore(shop.rec, dir, shop.builder.pid(90));
    served = await serve(dir);
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await stop(served);
    await rm(root, { recursive: true, force: true });
  });

  test('draws a lane, labelled by name or pid, for every process with events', async () => {
    const page = await open(b!, served!.url);
    const meta = await page.evaluate(() => window.elixirScope!.store.meta.processes.map((p) => ({ index: p.index, name: p.name, pid: p.pid, count: p.count })));
    const lanes = await page.evaluate(() => window.elixirScope!.timeline!.lanes());
    const withEvents = meta.filter((p) => p.count > 0);
    assert.deepEqual(
      lanes.map((l) => l.pid).sort((x, y) => x - y),
      withEvents.map((p) => p.index).sort((x, y) => x - y),
    );
    for (const l of lanes) {
      const p = meta.find((m) => m.index === l.pid)!;
      assert.equal(l.label, p.name ?? p.pid);
    }
    assert.ok(lanes.some((l) => l.label === 'Shop.Cart'), `no Shop.Cart lane in ${JSON.stringify(lanes)}`);
    // Every lane has something drawn in its plot area (its spans, marks or density).
    for (const l of lanes) assert.ok((await inkInLane(page, l.y, l.height)) > 0, `lane ${l.label} is empty on the canvas`);
    // The notifier's exit with an abnormal reason is a crash; a normal-looking recording marks no other exit.
    await page.evaluate(() => window.elixirScope!.timeline!.crashesKnown());
    const crashes = await page.evaluate(() => window.elixirScope!.timeline!.crashes());
    assert.deepEqual(crashes, [ids.crash]);
    await b!.screenshot(page, 'cinema-timeline-shop');
    await page.close();
  });

  test('clicking a call span selects that call: URL hash, scrubber and playhead follow', async () => {
    const t = Number(shop.rec.event(ids.handleAdd!).ts);
    const page = await open(b!, served!.url, `#z=${t - 40_000}-${t + 120_000}`);
    const before = await state(page);
    assert.notEqual(before.sel.id, ids.handleAdd);
    const pt = await eventPoint(page, ids.handleAdd!);
    await page.mouse.click(pt.x + 3, pt.y);
    const s = await until(page, (x) => x.sel.id === ids.handleAdd && x.hash.includes(`t=${ids.handleAdd}`), `clicking the span of #${ids.handleAdd} selects it`);
    assert.match(s.position, new RegExp(`^#${ids.handleAdd} /`));
    const cartPid = await page.evaluate((i) => window.elixirScope!.store.cols.pid[i], ids.handleAdd!);
    assert.equal(s.sel.pid, cartPid);
    assert.match(s.hash, new RegExp(`p=${cartPid}`));
    // The playhead is an accent-coloured line at the call's time, drawn through the axis too.
    const box = (await page.locator('.timeline-canvas').boundingBox())!;
    const [r, g, bl] = await pixel(page, Math.round(pt.x - box.x), box.height - 20);
    assert.ok(r > 200 && g > 140 && bl < 120, `expected the playhead's colour at the call's x, got rgb(${r},${g},${bl})`);
    await b!.screenshot(page, 'cinema-timeline-click');
    await page.close();
  });

  test('keys step to the next and previous event, and within the selected process', async () => {
    const page = await open(b!, served!.url, `#t=${ids.handleAdd}`);
    await until(page, (s) => s.sel.id === ids.handleAdd, 'the link selects its event');
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('ArrowRight');
    await until(page, (s) => s.sel.id === ids.handleAdd! + 1, '→ goes to the next event id');
    await page.keyboard.press('ArrowRight');
    await until(page, (s) => s.sel.id === ids.handleAdd! + 2, '→ again');
    await page.keyboard.press('ArrowLeft');
    await until(page, (s) => s.sel.id === ids.handleAdd! + 1, '← goes back');
    // Shift: the next event of the same process, skipping other processes' events.
    await page.evaluate((i) => window.elixirScope!.store.select({ id: i }), ids.reserveSend!);
    const cart = shop.rec.event(ids.reserveSend!).pid;
    const cartIds = [...shop.rec.idsOfPid(cart)];
    const next = cartIds.find((i) => i > ids.reserveSend!)!;
    assert.ok(next > ids.reserveSend! + 1, 'the shop recording has other processes\' events between two of the cart\'s');
    await page.keyboard.press('Shift+ArrowRight');
    await until(page, (s) => s.sel.id === next, `shift+→ goes to the cart's next event #${next}`);
    await page.keyboard.press('Shift+ArrowLeft');
    await until(page, (s) => s.sel.id === ids.reserveSend, 'shift+← goes back to the cart\'s previous event');
    // g focuses the jump box; Enter jumps.
    await page.keyboard.press('g');
    await page.keyboard.type(String(ids.crash));
    await page.keyboard.press('Enter');
    await until(page, (s) => s.sel.id === ids.crash, 'g + id + Enter jumps to that event');
    await page.close();
  });

  test('wheel zooms around the cursor, drag and keys pan', async () => {
    const page = await open(b!, served!.url);
    const box = (await page.locator('.timeline-canvas').boundingBox())!;
    const v0 = (await state(page)).view;
    const cx = box.x + 170 + (box.width - 170) * 0.25;
    const tAtCursor = v0.t0 + 0.25 * (v0.t1 - v0.t0);
    await page.mouse.move(cx, box.y + 40);
    await page.mouse.wheel(0, -400);
    await until(page, (s) => s.view.t1 - s.view.t0 < (v0.t1 - v0.t0) * 0.7, 'the wheel zooms in');
    const v1 = await settled(page);
    // The time under the cursor stays under the cursor.
    const tAfter = v1.t0 + 0.25 * (v1.t1 - v1.t0);
    assert.ok(Math.abs(tAfter - tAtCursor) < (v0.t1 - v0.t0) * 0.01, `zoom moved the cursor's time from ${tAtCursor} to ${tAfter}`);
    // Dragging right shows earlier times.
    await page.mouse.move(cx, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(cx + 60, box.y + 40, { steps: 4 });
    await page.mouse.move(cx + 120, box.y + 40, { steps: 4 });
    await page.mouse.up();
    const v2 = (await until(page, (s) => s.view.t0 < v1.t0, 'dragging right pans to earlier times')).view;
    assert.ok(Math.abs(v2.t1 - v2.t0 - (v1.t1 - v1.t0)) < 1, 'panning keeps the zoom');
    await page.keyboard.press('d');
    const v3 = (await until(page, (s) => s.view.t0 > v2.t0, 'd pans to later times')).view;
    await page.keyboard.press('+');
    await until(page, (s) => s.view.t1 - s.view.t0 < v3.t1 - v3.t0, '+ zooms in');
    await page.keyboard.press('0');
    await until(page, (s) => s.view.t1 - s.view.t0 > v0.t1 - v0.t0 - 1, '0 shows the whole recording again');
    await page.close();
  });

  test('hover shows the history line, a lane label selects its process, the minimap moves the view, space plays', async () => {
    const t = Number(shop.rec.event(ids.reserveSend!).ts);
    const page = await open(b!, served!.url, `#z=${t - 20_000}-${t + 40_000}`);
    // Hover: the tooltip first names the event, then shows the server's history line.
    const pt = await eventPoint(page, ids.reserveSend!);
    await page.mouse.move(pt.x, pt.y);
    const tip = page.locator('.timeline-tip');
    await tip.waitFor({ state: 'visible' });
    await page.waitForFunction(() => /SEND from/.test(document.querySelector('.timeline-tip')?.textContent ?? ''), null, { timeout: 10_000 });
    const text = (await tip.textContent()) ?? '';
    assert.match(text, new RegExp(`^#${ids.reserveSend} send in Shop\\.Cart`));
    assert.match(text, /SEND from #PID<0\.150\.0> \(Shop\.Cart\) to #PID<0\.151\.0>/);
    // A lane label selects that process (and leaves the playhead alone).
    const lanes = await page.evaluate(() => window.elixirScope!.timeline!.lanes());
    const inv = lanes.find((l) => l.label === 'Shop.Inventory')!;
    const box = (await page.locator('.timeline-canvas').boundingBox())!;
    await page.mouse.click(box.x + 30, box.y + inv.y + 8);
    await until(page, (s) => s.sel.pid === inv.pid && s.hash.includes(`p=${inv.pid}`), 'clicking the Shop.Inventory label selects it');
    // The minimap: dragging its rectangle moves the view by the same share of the recording.
    const v0 = (await state(page)).view;
    const full = await page.evaluate(() => window.elixirScope!.store.fullRange());
    const mini = (await page.locator('.minimap-canvas').boundingBox())!;
    const rx = mini.x + ((v0.t0 + v0.t1) / 2 - full.t0) / (full.t1 - full.t0) * mini.width;
    await page.mouse.move(rx, mini.y + mini.height / 2);
    await page.mouse.down();
    await page.mouse.move(rx + mini.width * 0.25, mini.y + mini.height / 2, { steps: 5 });
    await page.mouse.up();
    const v1 = (await until(page, (s) => s.view.t0 > v0.t0, 'dragging the minimap rectangle right moves the view later')).view;
    const moved = (v1.t0 - v0.t0) / (full.t1 - full.t0);
    assert.ok(Math.abs(moved - 0.25) < 0.02, `the view moved by ${moved} of the recording, expected 0.25`);
    // Space plays from the first event at 10 events/s, space again pauses (before the end: 44 events).
    await page.selectOption('.scrubber select.speed', { label: '10 ev/s' });
    await page.locator('.scrubber .position').click();
    await page.evaluate(() => window.elixirScope!.store.select({ id: 0 }));
    await page.keyboard.press(' ');
    const played = await until(page, (s) => (s.sel.id ?? 0) >= 5, 'playing moves the playhead');
    await page.keyboard.press(' ');
    const paused = await state(page);
    await page.waitForTimeout(300);
    assert.equal((await state(page)).sel.id, paused.sel.id, 'paused: the playhead stays');
    assert.ok(paused.sel.id! >= played.sel.id! && paused.sel.id! < 43, `paused at #${paused.sel.id}, before the last event`);
    // ? shows the shortcuts.
    await page.keyboard.press('?');
    await page.locator('.scrubber .help').waitFor({ state: 'visible' });
    assert.match((await page.locator('.scrubber .help').textContent()) ?? '', /shift \+ ← \/ →/);
    await b!.screenshot(page, 'cinema-timeline-hover-help');
    await page.close();
  });

  test('without its token, or with a wrong one, the page says what to open instead', async () => {
    const page = await b!.newPage();
    await page.goto(served!.url.replace(/\?token=.*$/, ''));
    await page.locator('.fatal').waitFor();
    assert.match((await page.locator('.fatal').textContent()) ?? '', /without its access token: open the exact URL that `elixir-scope ui` printed/);
    await page.goto(served!.url.replace(/token=[\w-]+/, 'token=wrong'));
    await page.locator('.fatal').waitFor();
    assert.match((await page.locator('.fatal').textContent()) ?? '', /HTTP 403 — the access token was refused: reopen the URL `elixir-scope ui` printed/);
    await page.close();
  });

  test('a shared URL restores the moment: selected event, process and view', async () => {
    const page = await open(b!, served!.url);
    await page.evaluate((i) => window.elixirScope!.store.select({ id: i }), ids.discount!);
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    // The hash is rewritten once per frame: wait until it holds this very view.
    const s = await until(
      page,
      (x) => x.hash.includes(`t=${ids.discount}`) && x.hash.includes(`z=${Math.floor(x.view.t0)}-${Math.ceil(x.view.t1)}`),
      'the hash holds the moment',
    );
    const href = await page.evaluate(() => location.href);
    await page.close();
    const again = await open(b!, href.replace(/#.*$/, ''), new URL(href).hash);
    const r = await until(again, (x) => x.sel.id === ids.discount, 'the link selects the same event');
    assert.equal(r.sel.pid, s.sel.pid);
    assert.ok(Math.abs(r.view.t0 - s.view.t0) <= 1 && Math.abs(r.view.t1 - s.view.t1) <= 1, `view ${JSON.stringify(r.view)} is not ${JSON.stringify(s.view)}`);
    await b!.screenshot(again, 'cinema-timeline-restored');
    // A malformed part of a link is ignored (with a console warning), the rest still applies.
    const bad = await open(b!, served!.url, `#t=banana&p=${s.sel.pid}`);
    const rb = await until(bad, (x) => x.sel.pid === s.sel.pid, 'the valid part of a half-broken link applies');
    assert.equal(rb.sel.id, null);
    await again.close();
    await bad.close();
  });
});

describe('cinema timeline on a 1,000,000-event recording', () => {
  let served: Served | undefined;
  let b: TestBrowser | undefined;
  let processes = 0;

  before(async () => {
    const big = await bigRecording();
    processes = big.processes;
    served = await serve(big.dir);
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await stop(served);
  });

  test('opens, draws every process lane, marks the crashes and restarts, and pans', async () => {
    const page = await open(b!, served!.url);
    const info = await page.evaluate(() => ({
      count: window.elixirScope!.store.count,
      lanes: window.elixirScope!.timeline!.lanes().length,
      restarts: window.elixirScope!.timeline!.restarts().length,
    }));
    assert.equal(info.count, 1_000_000);
    assert.equal(info.lanes, processes);
    assert.equal(info.restarts, 8, 'each of the 8 crashed workers was restarted under its name');
    await page.evaluate(() => window.elixirScope!.timeline!.crashesKnown());
    assert.equal((await page.evaluate(() => window.elixirScope!.timeline!.crashes())).length, 8);
    const box = (await page.locator('.timeline-canvas').boundingBox())!;
    const s0 = await state(page);
    // A continuous drag: every move must produce a frame with the new view.
    await page.mouse.move(box.x + box.width * 0.8, box.y + 60);
    await page.mouse.down();
    for (let i = 1; i <= 30; i++) await page.mouse.move(box.x + box.width * 0.8 - i * 15, box.y + 60);
    await page.mouse.up();
    const s1 = await until(page, (s) => s.view.t0 > s0.view.t0 && s.frames >= s0.frames + 10, 'dragging left pans to later times and draws frames');
    // A click in a dense lane selects one of that lane's events, near the click.
    const dense = await page.evaluate(() => {
      const h = window.elixirScope!;
      const top = h.timeline!.lanes().slice(0, 10);
      const n = (pid: number): number => h.store.meta.processes[pid]!.count;
      return top.reduce((a, b) => (n(b.pid) > n(a.pid) ? b : a));
    });
    await page.mouse.click(box.x + box.width * 0.5, box.y + dense.y + 20);
    const picked = await until(page, (s) => s.sel.id !== null && s.sel.pid === dense.pid, `a click in lane ${dense.label} selects one of its events`);
    const pickedPid = await page.evaluate((id) => window.elixirScope!.store.cols.pid[id], picked.sel.id!);
    assert.equal(pickedPid, dense.pid);
    // The wheel over the labels scrolls the lanes (1,009 lanes do not fit).
    await page.mouse.move(box.x + 60, box.y + 100);
    await page.mouse.wheel(0, 2000);
    await page.waitForFunction(() => window.elixirScope!.timeline!.scrollTop() > 1000, null, { timeout: 10_000 });
    const lanesAfterScroll = await inkInLane(page, 60, 20);
    assert.ok(lanesAfterScroll > 0, 'the lanes scrolled into view are drawn');
    // Zoomed into one request, spans, marks and arrows are drawn (detail rather than density).
    await page.evaluate(() => {
      const st = window.elixirScope!.store;
      const id = 500_000;
      st.select({ id });
      const t = st.cols.ts[id]!;
      st.setView({ t0: t - 30_000, t1: t + 60_000 });
    });
    const s2 = await until(page, (s) => s.frames > s1.frames && s.sel.id === 500_000, 'the zoomed view is drawn');
    const lane = await page.evaluate((pid) => window.elixirScope!.timeline!.lanes().find((l) => l.pid === pid), s2.sel.pid);
    assert.ok(lane !== undefined);
    await page.evaluate((pid) => window.elixirScope!.timeline!.revealPid(pid!), s2.sel.pid);
    await page.waitForTimeout(100);
    await b!.screenshot(page, 'cinema-timeline-1m-zoomed');
    await page.evaluate(() => window.elixirScope!.store.setView(window.elixirScope!.store.fullRange()));
    await page.waitForTimeout(100);
    await b!.screenshot(page, 'cinema-timeline-1m');
    await page.close();
  });
});
