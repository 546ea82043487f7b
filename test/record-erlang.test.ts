/**
 * `elixir-scope record` on a plain Erlang node (no Elixir at all), and what it does when things go
 * wrong: the node dies mid-recording, the cookie is wrong, a module or function does not exist, a
 * filter does not parse, a request is dangerous.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, type BeamNode } from './support/beam.js';
import { compileOnNode } from './support/agentHarness.js';
import { spawn } from 'node:child_process';
import { CLI, runCli } from './support/cli.js';
import { recordDuring, startCliProcess } from './support/cliProcess.js';

// A counter gen_server and a worker that calls it, in Erlang.
const COUNTER = `
-module(es_counter).
-behaviour(gen_server).
-export([start/0, bump/1, work/1, echo/1, init/1, handle_call/3, handle_cast/2]).
start() -> gen_server:start({local, es_counter}, es_counter, #{n => 0, last => none}, []).
bump(By) -> gen_server:call(es_counter, {bump, By}).
work(0) -> done;
work(N) -> {ok, _} = bump(N rem 3), work(N - 1).
echo(X) -> X.
init(S) -> {ok, S}.
handle_call({bump, By}, _From, #{n := N} = S) -> {reply, {ok, N + By}, S#{n := N + By, last := By}}.
handle_cast(_, S) -> {noreply, S}.
`;


describe('record a plain Erlang node', () => {
  let node: BeamNode;
  let tmp: string;
  before(async () => {
    node = await startNode({ kind: 'erl' });
    await compileOnNode(node, COUNTER);
    await node.eval(`{ok, _} = es_counter:start(), ok`);
    tmp = mkdtempSync(join(tmpdir(), 'es-rec-erl-'));
  });
  after(async () => {
    await node?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const env = (): NodeJS.ProcessEnv => ({ ELIXIR_SCOPE_COOKIE: node.cookie });

  it('records calls, returns and gen_server state, and prints Erlang names in the history', async () => {
    const out = join(tmp, 'counter');
    const s = await recordDuring<{ events: number; dropped: number; by_kind: Record<string, number> }>(
      ['--node', node.name, '--out', out, '--module', ':es_counter', '--state', 'es_counter', '--duration', '30s'],
      env(),
      async () => {
        await node.eval(`done = es_counter:work(30), ok`);
        await new Promise((r) => setTimeout(r, 200));
      },
    );
    assert.equal(s.dropped, 0);
    assert.equal(s.by_kind['state'], 30, 'one state change per bump');
    assert.equal(s.by_kind['state_init'], 1);

    const h = await runCli(['history', out]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /\[RUNTIME\] #PID<0\.\d+\.0>\s+CALL :es_counter\.work\/1 \(Args: \[30\]\)/);
    assert.match(h.stdout, /\[RUNTIME\] #PID<0\.\d+\.0>\s+EXIT :es_counter\.work\/1 \(Return: :done\)/);
    // An argument list is a list of terms, never a charlist: work(27) shows [27], not '\\e'.
    assert.match(h.stdout, /CALL :es_counter\.work\/1 \(Args: \[27\]\)/);
    assert.match(h.stdout, /STATE/);
    const last = await runCli(['history', out, '--name', 'es_counter', '--kind', 'state', '--json']);
    const rows = last.stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string });
    // work(30) bumps by N rem 3 for N = 30..1: 30 in all, the last bump (N = 1) by 1.
    assert.equal(rows.at(-1)!.state, '%{last: 1, n: 30}');
  });

  it('keeps what it recorded when the node dies mid-recording, and says so', async () => {
    const victim = await startNode({ kind: 'erl' });
    try {
      await compileOnNode(victim, COUNTER);
      await victim.eval(`{ok, _} = es_counter:start(), spawn(fun L() -> es_counter:work(10), timer:sleep(5), L() end), ok`);
      const out = join(tmp, 'victim');
      const rec = startCliProcess(['record', '--node', victim.name, '--out', out, '--module', 'es_counter', '--duration', '60s', '--json'], {
        ELIXIR_SCOPE_COOKIE: victim.cookie,
      });
      await rec.waitFor(/Ctrl-C to stop/);
      await new Promise((r) => setTimeout(r, 500));
      await victim.stop();
      const r = await rec.done;
      assert.equal(r.code, 0, rec.output());
      const s = JSON.parse(r.stdout) as { events: number; status: string; stop_reason: string };
      assert.equal(s.status, 'interrupted');
      assert.equal(s.stop_reason, 'node_down');
      assert.ok(s.events > 100, `events: ${s.events}`);
      const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')) as { status: string; counts: { stored: number } };
      assert.equal(meta.status, 'interrupted');
      assert.equal(meta.counts.stored, s.events);
      const h = await runCli(['history', out, '--json', '--limit', '0']);
      assert.equal(h.code, 0, h.stderr);
      assert.equal(h.stdout.trim().split('\n').length, s.events);
    } finally {
      await victim.stop();
    }
  });

  it('records messages between two processes and follows them in flow', async () => {
    await node.eval(`W = spawn(fun L() -> receive go -> es_counter:work(5), L() end end), register(es_worker, W), ok`);
    const out = join(tmp, 'messages');
    const s = await recordDuring<{ by_kind: Record<string, number> }>(
      ['--node', node.name, '--out', out, '--name', 'es_counter', '--name', 'es_worker', '--messages', '--duration', '30s'],
      env(),
      () => node.eval(`es_worker ! go, timer:sleep(100), ok`),
    );
    // 5 calls from the worker and 5 replies, plus the `go` the worker received.
    assert.ok((s.by_kind['send'] ?? 0) >= 10, JSON.stringify(s.by_kind));
    assert.ok((s.by_kind['receive'] ?? 0) >= 11, JSON.stringify(s.by_kind));
    const f = await runCli(['flow', out, '--pids', 'es_counter,es_worker', '--json']);
    assert.equal(f.code, 0, f.stderr);
    const flow = JSON.parse(f.stdout) as { messages: Array<{ send: { message: string }; receive: { id: number } | null }> };
    const calls = flow.messages.filter((m) => /\$gen_call/.test(m.send.message));
    assert.equal(calls.length, 5);
    for (const m of calls) assert.ok(m.receive !== null, 'each call is paired with its receive');
  });

  it('kill -9 of the recording engine: the node is left clean and the recording keeps what was flushed', async () => {
    await node.eval(`W = spawn(fun L() -> es_counter:work(3), timer:sleep(2), L() end), register(es_busy, W), ok`);
    const out = join(tmp, 'killed');
    const rec = startCliProcess(['record', '--node', node.name, '--out', out, '--module', 'es_counter', '--state', 'es_counter', '--duration', '60s'], env());
    await rec.waitFor(/Ctrl-C to stop/);
    await new Promise((r) => setTimeout(r, 700));
    rec.child.kill('SIGKILL');
    await rec.done;
    let clean = '';
    for (let i = 0; i < 50; i++) {
      clean = await node.eval(
        `{code:is_loaded(elixir_scope_agent), erlang:trace_info({es_counter, bump, 1}, traced), erlang:trace_info(whereis(es_busy), flags), lists:nth(4, element(4, sys:get_status(es_counter)))}`,
      ).catch((e: Error) => e.message);
      if (clean.replace(/\s+/g, '') === '{false,{traced,false},{flags,[]},[]}') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(clean.replace(/\s+/g, ''), '{false,{traced,false},{flags,[]},[]}');
    await node.eval(`exit(whereis(es_busy), kill), ok`);
    const h = await runCli(['history', out, '--json', '--limit', '0']);
    assert.equal(h.code, 0, h.stderr);
    assert.ok(h.stdout.trim().split('\n').length > 50, 'events flushed before the kill are readable');
  });

  it('a limit stops the recording on the target and says so in the summary and in the recording', async () => {
    await node.eval(`W = spawn(fun L() -> es_counter:work(3), L() end), register(es_flood, W), ok`);
    try {
      const out = join(tmp, 'limited');
      const r = await runCli(['record', '--node', node.name, '--out', out, '--module', 'es_counter', '--max-events', '300', '--duration', '30s', '--json'], env());
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as { stop_reason: string; stop_detail: string; events: number; by_kind: Record<string, number> };
      assert.equal(s.stop_reason, 'max_events');
      assert.match(s.stop_detail, /max_events/);
      assert.equal(s.by_kind['limit'], 1);
      assert.ok(s.events <= 301, `at most the cap and the limit event: ${s.events}`);
      const h = await runCli(['history', out, '--kind', 'limit']);
      assert.match(h.stdout, /LIMIT .*max_events/);
      const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')) as { stopReason: string };
      assert.equal(meta.stopReason, 'max_events');
      // Tracing is off on the node: the flood goes on untraced, and the agent is gone.
      assert.equal(await node.eval(`erlang:trace_info(whereis(es_flood), flags)`), '{flags,[]}');
      assert.equal(await node.eval(`code:is_loaded(elixir_scope_agent)`), 'false');
    } finally {
      await node.eval(`exit(whereis(es_flood), kill), ok`);
    }
  });

  it('cuts a captured term larger than --max-term and says how much was cut', async () => {
    const out = join(tmp, 'truncated');
    const s = await recordDuring<{ truncated: number }>(
      ['--node', node.name, '--out', out, '--function', 'es_counter.echo/1', '--max-term', '1KiB', '--duration', '30s'],
      env(),
      async () => {
        await node.eval(`B = binary:copy(<<"x">>, 100000), B = es_counter:echo(B), ok`);
        await new Promise((r) => setTimeout(r, 200));
      },
    );
    assert.ok(s.truncated >= 2, 'the argument and the result');
    const h = await runCli(['history', out, '--json', '--limit', '0']);
    const rows = h.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; args?: string; result?: string });
    const call = rows.find((e) => e.kind === 'call')!;
    assert.match(call.args ?? '', /cut: 1\d\d,\d\d\d bytes/);
    assert.ok((call.args ?? '').length < 3000, 'the rendering is small');
  });

  it('on a terminal it shows a live line with events, rate, drops and elapsed time', async () => {
    await node.eval(`W = spawn(fun L() -> es_counter:work(3), timer:sleep(1), L() end), register(es_tty, W), ok`);
    try {
      const out = join(tmp, 'tty');
      // util-linux script(1) gives the command a pseudo-terminal, as a person's shell would.
      const cmd = [CLI, 'record', '--node', node.name, '--out', out, '--module', 'es_counter', '--duration', '2s'].map((a) => `'${a}'`).join(' ');
      const r = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
        const child = spawn('script', ['-qfec', `'${process.execPath}' ${cmd}`, '/dev/null'], { env: { ...process.env, ...env() } });
        let text = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, text }));
      });
      assert.equal(r.code, 0, r.text);
      const live = r.text.split('\r').filter((l) => /^\x1b\[2Krecording /.test(l));
      assert.ok(live.length >= 3, `several updates of the live line:\n${JSON.stringify(r.text)}`);
      assert.match(live.at(-1)!, /recording \S+ {2}[\d,]+ events {2}[\d,]+\/s {2}dropped 0 {2}\d+\.\ds/);
      assert.match(r.text, /Recorded .* into /);
    } finally {
      await node.eval(`exit(whereis(es_tty), kill), ok`);
    }
  });

  it('--pid new traces only processes spawned after the start', async () => {
    const out = join(tmp, 'new');
    let child = '';
    await recordDuring(['--node', node.name, '--out', out, '--pid', 'new', '--processes', '--duration', '30s'], env(), async () => {
      child = await node.eval(`P = spawn(fun() -> receive go -> exit(done_here) end end), P ! go, timer:sleep(50), pid_to_list(P)`);
    });
    const h = await runCli(['history', out, '--json', '--limit', '0']);
    const rows = h.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; pid: string; reason?: string });
    const pid = `#PID${child.replace(/^"|"$/g, '')}`;
    assert.ok(rows.some((e) => e.kind === 'exit' && e.pid === pid && e.reason === ':done_here'), `${pid} exits with :done_here`);
    // The process that was alive before (the counter) is not traced.
    const counter = `#PID${(await node.eval(`pid_to_list(whereis(es_counter))`)).replace(/^"|"$/g, '')}`;
    assert.ok(!rows.some((e) => e.pid === counter), 'nothing from a process that existed before');
  });

  it('--state and --pid take pids as the node prints them; --follow traces the children of a traced process', async () => {
    await node.eval(`P = spawn(fun L() -> receive go -> spawn(fun() -> es_counter:work(2) end), L() end end), register(es_parent, P), ok`);
    try {
      const parent = (await node.eval(`pid_to_list(whereis(es_parent))`)).replace(/^"|"$/g, '');
      const counter = (await node.eval(`pid_to_list(whereis(es_counter))`)).replace(/^"|"$/g, '');
      const out = join(tmp, 'follow');
      await recordDuring(
        ['--node', node.name, '--out', out, '--pid', parent, '--follow', '--processes', '--module', 'es_counter', '--state', `#PID${counter}`, '--duration', '30s'],
        env(),
        () => node.eval(`es_parent ! go, timer:sleep(100), ok`),
      );
      const h = await runCli(['history', out, '--json', '--limit', '0']);
      const rows = h.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; pid: string; mfa: string | null; peer?: string | null });
      const spawn = rows.find((e) => e.kind === 'spawn' && e.pid === `#PID${parent}`);
      assert.ok(spawn, 'the spawn by the parent is recorded');
      const child = spawn.peer!;
      // The child inherited the flags: its calls of es_counter are traced, and its exit.
      assert.ok(rows.some((e) => e.pid === child && e.kind === 'call' && e.mfa === ':es_counter.work/1'));
      assert.ok(rows.some((e) => e.pid === child && e.kind === 'exit'));
      // The counter's state, asked for by pid: a snapshot and one state per bump.
      assert.equal(rows.filter((e) => e.pid === `#PID${counter}` && e.kind === 'state').length, 2);
      assert.equal(rows.filter((e) => e.pid === `#PID${counter}` && e.kind === 'state_init').length, 1);
    } finally {
      await node.eval(`exit(whereis(es_parent), kill), ok`);
    }
  });

  it('says what is wrong: wrong cookie, unknown module, unknown function, bad filter, dangerous request', async () => {
    const out = join(tmp, 'never');
    const wrong = await runCli(['record', '--node', node.name, '--out', out, '--module', 'es_counter', '--cookie', 'not-the-cookie']);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /cookie/i);
    assert.doesNotMatch(wrong.stderr, /not-the-cookie/);

    const unknownModule = await runCli(['record', '--node', node.name, '--out', out, '--module', 'no_such_module_xyz'], env());
    assert.equal(unknownModule.code, 1, unknownModule.stderr);
    assert.match(unknownModule.stderr, /no_such_module_xyz/);
    // No atom was created on the target from our input.
    assert.equal(await node.eval(`try binary_to_existing_atom(<<"no_such_module_xyz">>, utf8) catch error:badarg -> no_atom end`), 'no_atom');

    const unknownFun = await runCli(['record', '--node', node.name, '--out', out, '--function', 'es_counter:nope/2'], env());
    assert.equal(unknownFun.code, 1, unknownFun.stderr);
    assert.match(unknownFun.stderr, /nope/);

    const badFilter = await runCli(['record', '--node', node.name, '--out', out, '--function', 'es_counter.bump(x when'], env());
    assert.equal(badFilter.code, 2, badFilter.stderr);
    assert.match(badFilter.stderr, /\^/, 'a caret under the problem');

    const dangerous = await runCli(['record', '--node', node.name, '--out', out, '--module', ':lists'], env());
    assert.equal(dangerous.code, 2, dangerous.stderr);
    assert.match(dangerous.stderr, /--force/);

    // None of these left anything on the node: no agent, no trace patterns.
    assert.equal(await node.eval(`code:is_loaded(elixir_scope_agent)`), 'false');
    assert.equal(await node.eval(`erlang:trace_info({es_counter, bump, 1}, traced)`), '{traced,false}');
  });
});
