/**
 * The Cinema page on a recording in progress: `elixir-scope record --ui` on a real Erlang node,
 * the page open in chromium. Work done on the node after the page loaded must reach the page's
 * store (through the live WebSocket and /api/columns), a process spawned meanwhile gets a lane,
 * the view follows the newest events, and Ctrl-C ends the live feed without breaking the page.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, type BeamNode } from './support/beam.js';
import { startCliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

// The page's globals as page.evaluate callbacks see them (this file is compiled without the DOM library).
declare const window: {
  elixirScope?: {
    store: { count: number; live: boolean; view: { t0: number; t1: number }; meta: { processes: { index: number; pid: string }[] } };
    frames(): number;
    timeline: { lanes(): { pid: number; label: string }[] } | null;
  };
};

const WORKER = `-module(es_tl_live).
-behaviour(gen_server).
-export([start/0, bump/1, work/1, init/1, handle_call/3, handle_cast/2]).

start() -> gen_server:start({local, es_tl_live}, es_tl_live, #{n => 0}, []).
bump(By) -> gen_server:call(es_tl_live, {bump, By}).
work(0) -> done;
work(N) -> {ok, _} = bump(N rem 3), work(N - 1).
init(S) -> {ok, S}.
handle_call({bump, By}, _From, #{n := N} = S) -> {reply, {ok, N + By}, S#{n := N + By}}.
handle_cast(_, S) -> {noreply, S}.
`;

let node: BeamNode;
let tmp: string;
let b: TestBrowser | undefined;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'es-cinema-tl-live-'));
  node = await startNode({ kind: 'erl' });
  // Compiled from a file on the node, as a real build would.
  const src = join(tmp, 'es_tl_live.erl');
  writeFileSync(src, WORKER);
  await node.eval(`{ok, es_tl_live} = compile:file("${src}", [{outdir, "${tmp}"}]),
    {module, _} = code:load_abs("${join(tmp, 'es_tl_live')}"), {ok, _} = es_tl_live:start(), ok`);
  b = await launchBrowser();
});

after(async () => {
  await b?.close();
  await node?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('the page grows with a live recording: new events, a new process lane, the view follows', async () => {
  const out = join(tmp, 'rec');
  const p = startCliProcess(
    ['record', '--node', node.name, '--out', out, '--module', ':es_tl_live', '--state', 'es_tl_live', '--duration', '120s', '--ui', '--port', '0'],
    { ELIXIR_SCOPE_COOKIE: node.cookie },
  );
  try {
    const { url } = await waitForCinemaUrl(p);
    await node.eval(`es_tl_live:work(5)`);
    const page = await b!.newPage();
    await page.goto(url);
    await page.waitForFunction(() => (window.elixirScope?.frames() ?? 0) > 0, null, { timeout: 60_000 });
    const before = await page.evaluate(() => ({
      count: window.elixirScope!.store.count,
      live: window.elixirScope!.store.live,
      lanes: window.elixirScope!.timeline!.lanes().length,
      frames: window.elixirScope!.frames(),
      t1: window.elixirScope!.store.view.t1,
    }));
    assert.equal(before.live, true);

    // Work from a new process, after the page loaded.
    await node.eval(`Self = self(), spawn(fun() -> Self ! {done, es_tl_live:work(40)} end), receive {done, done} -> ok end`);
    // 40 bumps: at least 80 calls and returns and 40 state changes on the server, plus the caller's.
    await page.waitForFunction((n) => window.elixirScope!.store.count >= n + 120, before.count, { timeout: 60_000 });
    const grown = await page.evaluate(() => ({
      count: window.elixirScope!.store.count,
      lanes: window.elixirScope!.timeline!.lanes().length,
      processes: window.elixirScope!.store.meta.processes.length,
      frames: window.elixirScope!.frames(),
      t1: window.elixirScope!.store.view.t1,
    }));
    assert.ok(grown.lanes > before.lanes, `the spawned caller got a lane: ${before.lanes} → ${grown.lanes} lanes`);
    assert.ok(grown.frames > before.frames, 'the timeline redrew with the new events');
    assert.ok(grown.t1 > before.t1, 'the view, showing the latest events, moved on with them');
    await b!.screenshot(page, 'cinema-timeline-live');

    // Ctrl-C ends the recording; the page hears it and stays usable.
    p.child.kill('SIGINT');
    await page.waitForFunction(() => window.elixirScope!.store.live === false, null, { timeout: 60_000 });
    const count = await page.evaluate(() => window.elixirScope!.store.count);
    assert.ok(count >= grown.count);
    await page.close();
    p.child.kill('SIGINT');
    const done = await p.done;
    assert.equal(done.code, 0, p.output());
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});
