/**
 * `elixir-scope record --ui` on a real Erlang node: the page's feed (a raw WebSocket client) gets
 * `grow` as events are flushed and `meta` as processes appear, the API serves the recording while it
 * is written, the traced module's source is kept and served, and after Ctrl-C the feed gets `end`
 * while the server stays up until a second Ctrl-C.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { openRecording } from '../src/store/recording.js';
import { startNode, type BeamNode } from './support/beam.js';
import { startCliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { runCli } from './support/cli.js';
import { wsConnect } from './support/wsClient.js';

const COUNTER = `-module(es_live_counter).
-behaviour(gen_server).
-export([start/0, bump/1, work/1, init/1, handle_call/3, handle_cast/2]).

start() -> gen_server:start({local, es_live_counter}, es_live_counter, #{n => 0}, []).

bump(By) ->
    gen_server:call(es_live_counter, {bump, By}).

work(0) -> done;
work(N) -> {ok, _} = bump(N rem 3), work(N - 1).

init(S) -> {ok, S}.
handle_call({bump, By}, _From, #{n := N} = S) -> {reply, {ok, N + By}, S#{n := N + By}}.
handle_cast(_, S) -> {noreply, S}.
`;

let node: BeamNode;
let tmp: string;
let srcFile: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'es-cinema-live-'));
  srcFile = join(tmp, 'es_live_counter.erl');
  writeFileSync(srcFile, COUNTER);
  node = await startNode({ kind: 'erl' });
  // Compiled from a file, so that module_info(compile) names its source as a real build would.
  await node.eval(`{ok, es_live_counter} = compile:file("${srcFile}", [{outdir, "${tmp}"}, debug_info]),
    {module, _} = code:load_abs("${join(tmp, 'es_live_counter')}"), {ok, _} = es_live_counter:start(), ok`);
});

after(async () => {
  await node?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface Msg {
  type: string;
  count?: number;
  status?: string;
  reason?: string | null;
}

test('record --ui streams grow and end to the page and keeps serving after the recording stops', async () => {
  const out = join(tmp, 'rec');
  const p = startCliProcess(
    ['record', '--node', node.name, '--out', out, '--module', ':es_live_counter', '--state', 'es_live_counter', '--duration', '120s', '--ui', '--port', '0'],
    { ELIXIR_SCOPE_COOKIE: node.cookie },
  );
  try {
    await p.waitFor(/Ctrl-C to stop/);
    const { port, token, base } = await waitForCinemaUrl(p);
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${base}/api/${path}${path.includes('?') ? '&' : '?'}token=${token}`);
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      return (await res.json()) as T;
    };

    const ws = await wsConnect(port, `/api/live?token=${token}`);
    const first = JSON.parse(await ws.nextText()) as Msg;
    assert.equal(first.type, 'grow');
    const startCount = first.count!;
    const metaLive = await get<{ live: boolean; meta: { status: string } }>('meta');
    assert.equal(metaLive.live, true);
    assert.equal(metaLive.meta.status, 'recording');

    // Work from a new process: the page must hear of the new process (meta) and of the events (grow).
    await node.eval(`Self = self(), spawn(fun() -> Self ! {done, es_live_counter:work(30)} end), receive {done, done} -> ok end`);
    const seen: Msg[] = [];
    let grown = startCount;
    // 30 bumps are 30 state changes and at least 60 calls with their returns.
    while (grown < startCount + 150) {
      const msg = JSON.parse(await ws.nextText(() => true, 30_000)) as Msg;
      seen.push(msg);
      if (msg.type === 'grow') {
        assert.ok(msg.count! > grown, `grow counts only go up: ${JSON.stringify(seen)}`);
        grown = msg.count!;
      }
    }
    assert.ok(seen.some((x) => x.type === 'meta'), `a meta message for the new process: ${JSON.stringify(seen)}`);

    // The API answers from the growing recording: the columns hold what the last grow announced.
    const cols = await fetch(`${base}/api/columns?token=${token}`);
    const head = new DataView(await cols.arrayBuffer());
    assert.ok(head.getUint32(4, true) >= grown);
    const states = await get<{ ids: number[]; lines: string[] }>('events?kinds=state&limit=100');
    assert.ok(states.ids.length >= 30, JSON.stringify(states));
    assert.match(states.lines.at(-1)!, /STATE %\{n: \d+\}/);

    // The traced module's source was kept and is served, the function found by its clause.
    const src = await get<{ file: string; lines: string[]; focus: number; module: string }>('source?module=:es_live_counter&fun=bump&arity=1');
    assert.equal(src.file, srcFile);
    assert.equal(src.lines.join('\n'), COUNTER);
    assert.equal(src.lines[src.focus - 1], 'bump(By) ->');
    const noSrc = await fetch(`${base}/api/source?module=Shop.Nothing&token=${token}`);
    assert.equal(noSrc.status, 404);
    assert.match(((await noSrc.json()) as { error: string }).error, /no source of Shop\.Nothing/);
    assert.ok(existsSync(join(out, 'sources', 'es_live_counter.erl')));

    // Ctrl-C ends the recording; the page hears `end`, the server stays up.
    p.child.kill('SIGINT');
    const end = JSON.parse(await ws.nextText((t) => (JSON.parse(t) as Msg).type === 'end', 30_000)) as Msg;
    assert.deepEqual(end, { type: 'end', status: 'complete', reason: 'interrupted' });
    await p.waitFor(/still serving it at http:\/\/127\.0\.0\.1:\d+\/\?token=.* until Ctrl-C/);
    const finalRec = openRecording(out);
    try {
      const after = await get<{ count: number; meta: { status: string } }>('meta');
      assert.equal(after.count, finalRec.count);
      assert.equal(after.meta.status, 'complete');
      const last = await get<{ text: string }>(`event/${finalRec.count - 1}`);
      assert.match(last.text, /^\[\+\d+\.\d{6}s\] \[RUNTIME\]/);
    } finally {
      finalRec.close();
    }
    // A page that connects after the end hears the final count and the end at once.
    const late = await wsConnect(port, `/api/live?token=${token}`);
    assert.equal((JSON.parse(await late.nextText()) as Msg).type, 'grow');
    assert.equal((JSON.parse(await late.nextText()) as Msg).type, 'end');
    late.close();
    ws.close();

    p.child.kill('SIGINT');
    const done = await p.done;
    assert.equal(done.code, 0, p.output());
    assert.match(done.stdout, /Recorded .* into/);
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});

test('record refuses --port without --ui, and --ui on a non-loopback host without --allow-remote, before attaching', async () => {
  const env = { ELIXIR_SCOPE_COOKIE: node.cookie };
  const r = await runCli(['record', '--node', node.name, '--out', join(tmp, 'x'), '--module', ':es_live_counter', '--port', '0'], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /add --ui/);
  const h = await runCli(['record', '--node', node.name, '--out', join(tmp, 'y'), '--module', ':es_live_counter', '--ui', '--host', '0.0.0.0', '--duration', '2s'], env);
  assert.equal(h.code, 2);
  assert.match(h.stderr, /refusing to serve on 0\.0\.0\.0/);
  assert.match(h.stderr, /--allow-remote/);
  // Refused before attaching: nothing was recorded.
  assert.equal(existsSync(join(tmp, 'y')), false);
  // A port in use costs the page, never the recording.
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    const port = (blocker.address() as AddressInfo).port;
    const z = await runCli(['record', '--node', node.name, '--out', join(tmp, 'z'), '--module', ':es_live_counter', '--ui', '--port', String(port), '--duration', '1s'], env);
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stderr, new RegExp(`--ui could not serve \\(port ${port} on 127\\.0\\.0\\.1 is in use; give another with --port`));
    assert.match(z.stdout, /Recorded .* into/);
  } finally {
    blocker.close();
  }
});

test('ui REC on a recording another record is still writing follows it: grow while it records, end when it stops', async () => {
  const out = join(tmp, 'rec-followed');
  const env = { ELIXIR_SCOPE_COOKIE: node.cookie };
  const rec = startCliProcess(['record', '--node', node.name, '--out', out, '--module', ':es_live_counter', '--duration', '120s'], env);
  let ui: ReturnType<typeof startCliProcess> | undefined;
  try {
    await rec.waitFor(/Ctrl-C to stop/);
    ui = startCliProcess(['ui', out, '--port', '0']);
    await ui.waitFor(/still being written/);
    const served = await waitForCinemaUrl(ui);
    const ws = await wsConnect(served.port, `/api/live?token=${served.token}`);
    const first = JSON.parse(await ws.nextText()) as Msg;
    assert.equal(first.type, 'grow');
    await node.eval(`es_live_counter:work(20), ok`);
    let grown = first.count!;
    while (grown < first.count! + 40) {
      const msg = JSON.parse(await ws.nextText((t) => (JSON.parse(t) as Msg).type === 'grow', 30_000)) as Msg;
      grown = msg.count!;
    }
    rec.child.kill('SIGINT');
    const end = JSON.parse(await ws.nextText((t) => (JSON.parse(t) as Msg).type === 'end', 30_000)) as Msg;
    assert.equal(end.status, 'complete');
    ws.close();
    assert.equal((await rec.done).code, 0, rec.output());
  } finally {
    rec.child.kill('SIGKILL');
    ui?.child.kill('SIGINT');
    if (ui !== undefined) assert.equal((await ui.done).code, 0, ui.output());
  }
});
