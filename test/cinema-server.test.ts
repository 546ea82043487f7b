/**
 * The Cinema server on a recording written by the real store (the shop recording through the
 * Ingestor and RecordingWriter): access rules, every API answer checked against the store and against
 * the CLI's own output for the same question, the WebSocket handshake, and static files.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_KINDS } from '../src/capture/event.js';
import { RecordingView } from '../src/cinema/api.js';
import { CinemaServer } from '../src/cinema/server.js';
import { encodeFrame } from '../src/cinema/websocket.js';
import { changedPaths, FOLD_BYTES, termView } from '../src/cinema/termView.js';
import { Atom, ErlMap, Tuple, type Term } from '../src/erlang/terms.js';
import { Renderer, formatMfa } from '../src/cli/render/format.js';
import { eventLine } from '../src/cli/render/event.js';
import { openRecording } from '../src/store/recording.js';
import type { Recording } from '../src/store/types.js';
import { runCli } from './support/cli.js';
import { startCliProcess, waitForCinemaUrl } from './support/cliProcess.js';
import { shopRecording } from './support/shopRecording.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { UpgradeRefused, wsConnect } from './support/wsClient.js';

const NONE = 0xffffffff;
let root = '';
let dir = '';
let web = '';
let rec: Recording;
let server: CinemaServer;
const shop = shopRecording();

interface Answer {
  status: number;
  type: string;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** A GET with the raw path as given (no normalization), optionally with headers. */
function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function api<T = Record<string, unknown>>(path: string): Promise<T> {
  const sep = path.includes('?') ? '&' : '?';
  const r = await get(`/api/${path}${sep}token=${server.token}`);
  assert.equal(r.status, 200, `/api/${path}: ${r.body.toString()}`);
  assert.match(r.type, /^application\/json/);
  return JSON.parse(r.body.toString('utf8')) as T;
}

async function apiError(path: string): Promise<{ status: number; error: string }> {
  const sep = path.includes('?') ? '&' : '?';
  const r = await get(`/api/${path}${sep}token=${server.token}`);
  const body = JSON.parse(r.body.toString('utf8')) as { error: string };
  assert.equal(typeof body.error, 'string');
  return { status: r.status, error: body.error };
}

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `elixir-scope ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Meta {
  count: number;
  live: boolean;
  meta: Record<string, unknown>;
  processes: Array<{ index: number; pid: string; name: string | null; first: number | null; last: number | null; count: number; group: string; ancestors: number[]; initialCall: string | null }>;
  mfas: Array<{ index: number; text: string; module: string }>;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'es-cinema-'));
  dir = join(root, 'rec');
  await writeThroughStore(shop.rec, dir, shop.builder.pid(90));
  web = join(root, 'web');
  await mkdir(join(web, 'js'), { recursive: true });
  await writeFile(join(web, 'index.html'), '<!doctype html><title>cinema</title><script type="module" src="js/main.js"></script>');
  await writeFile(join(web, 'js', 'main.js'), 'export const ok = 1;\n');
  await writeFile(join(root, 'secret.txt'), 'not for the page');
  rec = openRecording(dir);
  server = await CinemaServer.start(new RecordingView(openRecording(dir)), { port: 0, webRoot: web });
});

after(async () => {
  await server?.close();
  rec?.close();
  await rm(root, { recursive: true, force: true });
});

describe('access', () => {
  test('every /api request needs the token: 403 without or with a wrong one, 200 with ?token= or a Bearer header', async () => {
    for (const path of ['/api/meta', '/api/event/0', '/api/columns', `/api/meta?token=${server.token.slice(0, -1)}x`, '/api/meta?token=']) {
      const r = await get(path);
      assert.equal(r.status, 403, path);
      assert.match(JSON.parse(r.body.toString()).error, /access token/);
    }
    assert.equal((await get('/api/meta', { Authorization: 'Bearer wrong' })).status, 403);
    assert.equal((await get(`/api/meta?token=${server.token}`)).status, 200);
    assert.equal((await get('/api/meta', { Authorization: `Bearer ${server.token}` })).status, 200);
    // The token is 32 random bytes in base64url, and the printed URL carries it.
    assert.match(server.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`);
  });

  test('binds loopback only by default', () => {
    assert.equal(server.host, '127.0.0.1');
  });

  test('static files need no token and JavaScript is served as text/javascript', async () => {
    const index = await get('/');
    assert.equal(index.status, 200);
    assert.match(index.type, /^text\/html/);
    assert.match(index.body.toString(), /<title>cinema<\/title>/);
    assert.equal(index.headers['referrer-policy'], 'no-referrer', 'the token in the address must not leak through Referer');
    const js = await get('/js/main.js');
    assert.equal(js.status, 200);
    assert.match(js.type, /^text\/javascript/);
    assert.equal((await get('/nope.js')).status, 404);
  });

  test('paths that lead outside the web root are refused', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/js/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/js/../../secret.txt', '/%2e%2e%2f%2e%2e%2frec%2fmeta.json']) {
      const r = await get(path);
      assert.ok(r.status === 403 || r.status === 404, `${path} answered ${r.status}`);
      assert.doesNotMatch(r.body.toString(), /not for the page|"schema"/, path);
    }
  });

  test('the WebSocket needs the token too', async () => {
    await assert.rejects(wsConnect(server.port, '/api/live'), (e: unknown) => e instanceof UpgradeRefused && e.status === 403);
    await assert.rejects(wsConnect(server.port, '/api/live?token=nope'), (e: unknown) => e instanceof UpgradeRefused && e.status === 403);
    await assert.rejects(wsConnect(server.port, `/api/other?token=${server.token}`), (e: unknown) => e instanceof UpgradeRefused && e.status === 404);
  });
});

describe('API answers', () => {
  test('meta lists every process and MFA the events name, and nothing secret', async () => {
    const m = await api<Meta>('meta');
    assert.equal(m.count, rec.count);
    assert.equal(m.live, false);
    assert.equal(m.meta.node, 'shop@vm');
    assert.doesNotMatch(JSON.stringify(m), /cookie/i);
    const r = new Renderer(rec);
    const byPid = new Map(m.processes.map((p) => [p.pid, p]));
    for (const info of rec.processes()) {
      const p = byPid.get(r.pidText(info.pid));
      assert.ok(p !== undefined, `process ${r.pidText(info.pid)} missing`);
      assert.equal(p.first, info.firstId);
      assert.equal(p.last, info.lastId);
      assert.equal(p.count, info.count);
      assert.equal(p.initialCall, info.initialCall);
    }
    const cart = m.processes.find((p) => p.name === 'Shop.Cart')!;
    assert.match(cart.group, /^shop@vm /);
    // The notifier was spawned by the cart: its ancestors start with the cart.
    const notifier = m.processes.find((p) => p.pid === '#PID<0.170.0>')!;
    assert.deepEqual(notifier.ancestors.slice(0, 1), [cart.index]);
    assert.equal(notifier.group, cart.group);
    m.processes.forEach((p, i) => assert.equal(p.index, i));
  });

  test('columns decode to exactly the recording\'s events', async () => {
    const m = await api<Meta>('meta');
    const r = new Renderer(rec);
    for (const [from, to] of [
      [0, rec.count],
      [3, 11],
    ] as const) {
      const a = await get(`/api/columns?from=${from}&to=${to}&token=${server.token}`);
      assert.equal(a.status, 200);
      assert.equal(a.type, 'application/octet-stream');
      const buf = new Uint8Array(a.body).buffer.slice(0);
      const dv = new DataView(buf);
      assert.equal(dv.getUint32(0, true), 0x45534331);
      const n = dv.getUint32(4, true);
      assert.equal(n, to - from);
      assert.equal(dv.getUint32(8, true), from);
      assert.equal(buf.byteLength % 4, 0);
      let off = 16;
      const ts = new Float64Array(buf, off, n);
      off += 8 * n;
      const u32 = (): Uint32Array => {
        const v = new Uint32Array(buf, off, n);
        off += 4 * n;
        return v;
      };
      const pid = u32();
      const mfa = u32();
      const link = u32();
      const parent = u32();
      const peer = u32();
      const kind = new Uint8Array(buf, off, n);
      for (let i = 0; i < n; i++) {
        const e = rec.event(from + i);
        assert.equal(ts[i], e.ts);
        assert.equal(m.processes[pid[i]!]!.pid, r.pidText(e.pid));
        assert.equal(mfa[i] === NONE ? null : m.mfas[mfa[i]!]!.text, e.mfa === null ? null : formatMfa(e.mfa));
        assert.equal(link[i] === NONE ? null : link[i], e.link);
        assert.equal(parent[i] === NONE ? null : parent[i], e.parent);
        assert.equal(peer[i] === NONE ? null : m.processes[peer[i]!]!.pid, e.peer === null ? null : r.pidText(e.peer));
        assert.equal(kind[i], EVENT_KINDS[e.kind]);
      }
    }
  });

  test('event/ID carries the CLI history line and term views of its payload', async () => {
    const r = new Renderer(rec);
    const cartLines = (await cli(['history', dir, '--name', 'Shop.Cart', '--limit', '0'])).trimEnd().split('\n');
    const cartIds = Array.from(rec.idsOfPid(rec.resolvePid('Shop.Cart')!));
    assert.equal(cartLines.length, cartIds.length);
    for (let k = 0; k < cartIds.length; k++) {
      const ev = await api<{ id: number; text: string; kind: string; pid: number }>(`event/${cartIds[k]}`);
      assert.equal(ev.text, cartLines[k], `event #${cartIds[k]}`);
    }
    const call = await api<{ kind: string; payload: { text: string; size: number }; aux: unknown; mfa: number }>(`event/${shop.ids.price}`);
    assert.equal(call.kind, 'call');
    assert.equal(call.payload.text, '["sku-1"]');
    assert.equal(call.payload.size, call.payload.text.length);
    assert.equal(call.aux, null);
    // A state event's aux is the {message, reply} that caused it.
    const st = await api<{ payload: { text: string }; aux: { text: string } }>(`event/${shop.ids.cartState}`);
    assert.equal(st.payload.text, r.withOptions({ full: true }).term(rec.event(shop.ids.cartState!).payload()));
    assert.match(st.aux.text, /^\{\{:"\$gen_call"/);
    assert.deepEqual(await apiError(`event/${rec.count}`), { status: 404, error: `no event #${rec.count}: the recording has events #0 to #${rec.count - 1}` });
  });

  test('state is what state-at --json prints, plus term views and the changed paths', async () => {
    const m = await api<Meta>('meta');
    const cart = m.processes.find((p) => p.name === 'Shop.Cart')!;
    for (const at of [shop.ids.cartState!, shop.ids.price!, rec.count - 1]) {
      const fromCli = JSON.parse(await cli(['state-at', dir, '--name', 'Shop.Cart', '--at', String(at), '--json'])) as Record<string, unknown>;
      const s = await api(`state?pid=${cart.index}&at=${at}`);
      const { views, changes, ...rest } = s as { views: { state: { text: string } | null }; changes: string[] };
      assert.deepEqual(rest, fromCli, `at #${at}`);
      assert.ok(Array.isArray(changes));
      if (at === shop.ids.cartState) {
        // From %{items: %{}, total: 0} to %{items: %{"sku-1" => 2}, total: 2500}.
        assert.deepEqual(changes.sort(), ['[:items, "sku-1"]', '[:total]']);
        assert.match(views.state!.text, /"sku-1" => 2/);
      }
    }
    assert.equal((await apiError(`state?pid=${cart.index}`)).status, 400);
    assert.equal((await apiError(`state?pid=9999&at=0`)).status, 404);
    assert.equal((await apiError(`state?pid=${cart.index}&at=99999`)).status, 404);
    assert.match((await apiError(`state?pid=abc&at=0`)).error, /process index/);
  });

  test('calltree and flow are what calls --json and flow --json print', async () => {
    const m = await api<Meta>('meta');
    const cart = m.processes.find((p) => p.name === 'Shop.Cart')!;
    const inv = m.processes.find((p) => p.name === 'Shop.Inventory')!;
    assert.deepEqual(await api(`calltree?pid=${cart.index}`), JSON.parse(await cli(['calls', dir, '--name', 'Shop.Cart', '--json'])));
    assert.deepEqual(
      await api(`flow?pids=${cart.index},${inv.index}`),
      JSON.parse(await cli(['flow', dir, '--pids', 'Shop.Cart,Shop.Inventory', '--json'])),
    );
    // A window keeps the calls that overlap it.
    const tree = await api<{ roots: Array<{ id: number }> }>(`calltree?pid=${cart.index}&from=${shop.ids.price}&to=${shop.ids.price}`);
    assert.deepEqual(tree.roots.map((x) => x.id), [shop.ids.handleAdd]);
    const flow = await api<{ messages: Array<{ send: { id: number } }> }>(`flow?pids=${cart.index},${inv.index}&from=${shop.ids.reserveReply}`);
    assert.ok(flow.messages.length > 0 && flow.messages.every((x) => x.send.id >= shop.ids.reserveReply!));
    assert.equal((await apiError('flow')).status, 400);
  });

  test('events pages through the filtered list and the cursor continues it', async () => {
    const r = new Renderer(rec);
    const all = await api<{ ids: number[]; lines: string[]; next: number | null }>(`events?from=0&limit=5000`);
    assert.deepEqual(all.ids, Array.from({ length: rec.count }, (_, i) => i));
    assert.equal(all.next, null);
    // Pages of 3 joined give the same list.
    let cursor: number | null = 0;
    const paged: number[] = [];
    while (cursor !== null) {
      const p: { ids: number[]; next: number | null } = await api(`events?from=${cursor}&limit=3`);
      paged.push(...p.ids);
      cursor = p.next;
    }
    assert.deepEqual(paged, all.ids);
    // Filters: kinds, pid, module, text; each result checked against the store.
    const m = await api<Meta>('meta');
    const cart = m.processes.find((p) => p.name === 'Shop.Cart')!;
    const calls = await api<{ ids: number[]; lines: string[] }>(`events?kinds=call,return&pid=${cart.index}&limit=1000`);
    const expected = Array.from(rec.idsOfPid(rec.resolvePid('Shop.Cart')!)).filter((id) => ['call', 'return'].includes(rec.event(id).kind));
    assert.deepEqual(calls.ids, expected);
    assert.deepEqual(calls.lines, expected.map((id) => eventLine(rec.event(id), r)));
    const pricing = await api<{ ids: number[] }>(`events?module=Shop.Pricing&limit=1000`);
    assert.ok(pricing.ids.length > 0);
    assert.ok(pricing.ids.every((id) => rec.event(id).mfa?.module === 'Elixir.Shop.Pricing'));
    const sku = await api<{ ids: number[]; lines: string[] }>(`events?text=SKU-2&limit=1000`);
    assert.ok(sku.ids.length > 0);
    assert.ok(sku.lines.every((l) => l.toLowerCase().includes('sku-2')));
    // Backwards from the end.
    const back = await api<{ ids: number[]; next: number | null }>(`events?dir=prev&from=${rec.count - 1}&limit=4`);
    assert.deepEqual(back.ids, [rec.count - 1, rec.count - 2, rec.count - 3, rec.count - 4]);
    assert.equal(back.next, rec.count - 5);
    assert.match((await apiError('events?kinds=bogus')).error, /unknown event kind "bogus"/);
    assert.equal((await apiError('events?limit=-1')).status, 400);
  });

  test('source answers 404 with why when the recording kept none, 400 without a module', async () => {
    const a = await apiError('source?module=Shop.Cart&fun=add&arity=3');
    assert.equal(a.status, 404);
    assert.match(a.error, /kept no sources/);
    assert.equal((await apiError('source')).status, 400);
    assert.equal((await apiError('nothing')).status, 404);
  });
});

describe('WebSocket', () => {
  test('handshake, the current count on connect, ping answered with pong, close echoed', async () => {
    const ws = await wsConnect(server.port, `/api/live?token=${server.token}`);
    assert.deepEqual(JSON.parse(await ws.nextText()), { type: 'grow', count: rec.count });
    server.broadcast({ type: 'grow', count: 12345 });
    assert.deepEqual(JSON.parse(await ws.nextText()), { type: 'grow', count: 12345 });
    ws.send(0x9, Buffer.from('hi'));
    const pong = await ws.nextFrame((f) => f.opcode === 0xa);
    assert.equal(pong.payload.toString(), 'hi');
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1000);
    ws.send(0x8, close);
    const echoed = await ws.nextFrame((f) => f.opcode === 0x8);
    assert.equal(echoed.payload.readUInt16BE(0), 1000);
    await ws.ended;
  });

  test('an unmasked or oversized client frame closes the connection with a protocol error', async () => {
    const ws = await wsConnect(server.port, `/api/live?token=${server.token}`);
    ws.sendRaw(encodeFrame(0x1, Buffer.from('unmasked')));
    const c1 = await ws.nextFrame((f) => f.opcode === 0x8);
    assert.equal(c1.payload.readUInt16BE(0), 1002);
    await ws.ended;
    const ws2 = await wsConnect(server.port, `/api/live?token=${server.token}`);
    ws2.send(0x9, Buffer.alloc(5000));
    const c2 = await ws2.nextFrame((f) => f.opcode === 0x8);
    assert.equal(c2.payload.readUInt16BE(0), 1009);
    await ws2.ended;
  });
});

describe('elixir-scope ui', () => {
  test('prints the URL with its token and serves until Ctrl-C', async () => {
    const p = startCliProcess(['ui', dir, '--port', '0']);
    // The address is on stdout and the note on stderr: wait for the whole address line itself.
    const { base, token } = await waitForCinemaUrl(p);
    const res = await fetch(`${base}/api/meta?token=${token}`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as Meta).count, rec.count);
    assert.equal((await fetch(`${base}/api/meta`)).status, 403);
    p.child.kill('SIGINT');
    const done = await p.done;
    assert.equal(done.code, 0, p.output());
  });

  test('refuses a non-loopback --host without --allow-remote, and says why', async () => {
    const r = await runCli(['ui', dir, '--host', '0.0.0.0', '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to serve on 0\.0\.0\.0/);
    assert.match(r.stderr, /--allow-remote/);
    const p = startCliProcess(['ui', dir, '--host', '0.0.0.0', '--allow-remote', '--port', '0']);
    assert.equal((await waitForCinemaUrl(p)).base.startsWith('http://0.0.0.0:'), true, p.output());
    p.child.kill('SIGINT');
    assert.equal((await p.done).code, 0);
  });

  test('bad arguments are usage errors', async () => {
    const noRec = await runCli(['ui']);
    assert.equal(noRec.code, 2);
    assert.match(noRec.stderr, /recording directory is required/);
    const badPort = await runCli(['ui', dir, '--port', 'x']);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--port must be a port number/);
    const missing = await runCli(['ui', join(root, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot open the recording/);
  });
});

describe('term views', () => {
  test('a term over 2 KB of text is folded into its elements, each a view of its own', () => {
    const r = new Renderer(rec);
    const full = r.withOptions({ full: true });
    const long = Buffer.from('x'.repeat(3000));
    const entries: Array<[Term, Term]> = [[Atom.of('items'), Array.from({ length: 300 }, (_, i) => i)], [Buffer.from('blob'), long]];
    const big = new ErlMap(entries);
    const v = termView(big, r)!;
    const text = full.term(big);
    assert.equal(v.size, text.length);
    assert.equal(v.text, text.slice(0, FOLD_BYTES) + '…');
    assert.equal(v.children!.length, 2);
    assert.equal(v.children![0]!.key, 'items:');
    assert.equal(v.children![0]!.text, full.term(entries[0]![1]));
    assert.equal(v.children![0]!.children, undefined, 'a child under 2 KB comes whole');
    assert.equal(v.children![1]!.key, '"blob" =>');
    assert.equal(v.children![1]!.size, 3002);
    // A small term comes whole, with no children.
    assert.deepEqual(termView(new Tuple([Atom.of('ok'), 1]), r), { text: '{:ok, 1}', size: 8 });
    // What the agent cut unfolds to what it kept.
    const cut = new Tuple([Atom.of('$es_truncated'), 99999, Array.from({ length: 1000 }, (_, i) => i)]);
    const cv = termView(cut, r)!;
    assert.match(full.term(cut), /…\(cut: 99,999 bytes\)$/);
    assert.equal(cv.children!.length, 1000);
    assert.equal(cv.children![999]!.text, '999');
  });

  test('changes are the paths where two states differ', () => {
    const m = (e: Array<[Term, Term]>): ErlMap => new ErlMap(e);
    const a = Atom.of;
    const before = m([[a('items'), m([[Buffer.from('mug'), 1]])], [a('log'), [1, 2]], [a('t'), new Tuple([1, 2])], [a('gone'), 0]]);
    const after = m([[a('items'), m([[Buffer.from('mug'), 2], [Buffer.from('tee'), 1]])], [a('log'), [1, 3]], [a('t'), new Tuple([1, 2])], [a('new'), 1]]);
    assert.deepEqual(changedPaths(before, after).sort(), ['[:gone]', '[:items, "mug"]', '[:items, "tee"]', '[:log, 1]', '[:new]']);
    assert.deepEqual(changedPaths(1, 2), ['[]']);
    assert.deepEqual(changedPaths(before, before), []);
  });
});

describe('AST events', () => {
  test('carry their source line in event/ID and the AST bit in the kind column', async () => {
    const b = new RecordingBuilder('shop@vm');
    const cart = b.pid(150);
    b.call(cart, 1_000, 'Elixir.Shop.Cart', 'total', [[1, 2]]);
    b.line(cart, 1_100, 10);
    b.locals(cart, 1_200, 10, [['items', [1, 2]], ['sum', 3]]);
    b.ret(cart, 1_900, 3);
    const astDir = join(root, 'ast');
    await writeThroughStore(b.build(), astDir, cart);
    const astRec = openRecording(astDir);
    const s = await CinemaServer.start(new RecordingView(openRecording(astDir)), { port: 0, webRoot: web });
    try {
      const base = `http://127.0.0.1:${s.port}/api`;
      const cols = new DataView(await (await fetch(`${base}/columns?token=${s.token}`)).arrayBuffer());
      const n = cols.getUint32(4, true);
      assert.equal(n, astRec.count);
      const kindAt = 16 + n * 8 + n * 4 * 5;
      for (let id = 0; id < n; id++) {
        const e = astRec.event(id);
        assert.equal(cols.getUint8(kindAt + id), EVENT_KINDS[e.kind] | (e.source === 'ast' ? 0x80 : 0), `event #${id}`);
        const ev = (await (await fetch(`${base}/event/${id}?token=${s.token}`)).json()) as { line: number | null; source: string; text: string };
        assert.equal(ev.source, e.source);
        assert.equal(ev.line, e.source === 'ast' ? e.aux() : null);
        assert.equal(ev.text, eventLine(e, new Renderer(astRec)));
      }
      assert.ok(Array.from({ length: n }, (_, id) => astRec.event(id)).some((e) => e.source === 'ast'), 'the builder made AST events');
    } finally {
      await s.close();
      astRec.close();
    }
  });
});
