import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './support/cli.js';
import { randomCookie, randomName, shortHost, startNode, type BeamNode } from './support/beam.js';
import { closedPort, startFakeEpmd, startSilentListener } from './support/fakeEpmd.js';
import type { NodeInfo as InfoJson } from '../src/cli/commands/info.js';

let erl: BeamNode;
let elixir: BeamNode;

before(async () => {
  [erl, elixir] = await Promise.all([startNode({ kind: 'erl' }), startNode({ kind: 'elixir' })]);
});
after(async () => {
  await Promise.all([erl?.stop(), elixir?.stop()]);
});

/** Runs the CLI with the cookie in the environment, as the README recommends. */
const info = (node: BeamNode, ...extra: string[]) =>
  runCli(['info', '--node', node.name, ...extra], { ELIXIR_SCOPE_COOKIE: node.cookie });

test('info --json on a plain Erlang node reports what the node itself reports', async () => {
  const r = await info(erl, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as InfoJson;
  assert.deepEqual(Object.keys(j).sort(), [
    'elixir_version', 'erts_version', 'hidden_nodes', 'node', 'nodes', 'otp_release', 'process_count',
    'schedulers', 'schedulers_online',
  ]);
  assert.equal(j.otp_release, JSON.parse(await erl.eval('erlang:system_info(otp_release)')));
  assert.equal(j.erts_version, JSON.parse(await erl.eval('erlang:system_info(version)')));
  assert.equal(j.schedulers, Number(await erl.eval('erlang:system_info(schedulers)')));
  assert.equal(j.elixir_version, null, 'a plain erl node has no Elixir');
  assert.ok(j.process_count > 10, `process_count ${j.process_count}`);
  assert.deepEqual(j.nodes, []);
});

test('info --json on an Elixir node reports its Elixir version', async () => {
  const r = await info(elixir, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as InfoJson;
  assert.equal(j.elixir_version, JSON.parse(await elixir.evalElixir('System.version()')));
});

test('info lists the visible nodes the target is connected to, and we stay hidden', async () => {
  // Connect the two test nodes to each other, so the Erlang node has one visible peer. Their cookies
  // differ: erl must use the Elixir node's cookie for that one connection.
  await erl.eval(`erlang:set_cookie('${elixir.name}', '${elixir.cookie}')`);
  assert.equal(await erl.eval(`net_kernel:connect_node('${elixir.name}')`), 'true');
  const r = await info(erl, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as InfoJson;
  assert.deepEqual(j.nodes, [elixir.name]);
  assert.ok(!j.nodes.some((n) => n.startsWith('elixir_scope')), 'our node must not be visible');
});

test('info prints a readable table', async () => {
  const r = await info(elixir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Node +${elixir.name}$`, 'm'));
  assert.match(r.stdout, /^OTP release +\d+$/m);
  assert.match(r.stdout, /^Elixir +\d+\.\d+\.\d+/m);
  assert.match(r.stdout, /^Processes +\d+$/m);
});

test('a bare node name means name@<this host>', async () => {
  const r = await runCli(['info', '--node', erl.shortName, '--json'], { ELIXIR_SCOPE_COOKIE: erl.cookie });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { node: string }).node, erl.name);
});

test('a wrong cookie fails with exit 1, says so, and prints neither cookie', async () => {
  const wrong = randomCookie();
  const r = await runCli(['info', '--node', erl.name, '--cookie', wrong]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cookie/i);
  assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the given cookie must not be printed');
  assert.ok(!r.stderr.includes(erl.cookie), 'the real cookie must not be printed');
});

test('an unknown node fails with exit 1 and lists the names EPMD knows', async () => {
  const r = await runCli(['info', '--node', `${randomName('nobody')}@${shortHost()}`], { ELIXIR_SCOPE_COOKIE: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not registered|not found|no node/i);
  assert.ok(r.stderr.includes(erl.shortName), `the known names should be listed:\n${r.stderr}`);
});

test('no EPMD on the host fails with exit 1 and says so', async () => {
  const r = await runCli(['info', '--node', `x@${shortHost()}`], {
    ELIXIR_SCOPE_COOKIE: 'x',
    ERL_EPMD_PORT: String(await closedPort()),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /EPMD/);
});

test('a node whose port refuses connections fails with exit 1 and says refused', async (t) => {
  const epmd = await startFakeEpmd('ghost', await closedPort());
  t.after(() => epmd.close());
  const r = await runCli(['info', '--node', `ghost@${shortHost()}`], {
    ELIXIR_SCOPE_COOKIE: 'x',
    ERL_EPMD_PORT: String(epmd.port),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refused/i);
});

test('a peer that never answers the handshake times out with exit 1', async (t) => {
  const silent = await startSilentListener();
  const epmd = await startFakeEpmd('wedged', silent.port);
  t.after(async () => {
    await epmd.close();
    await silent.close();
  });
  const r = await runCli(['info', '--node', `wedged@${shortHost()}`, '--timeout', '1s'], {
    ELIXIR_SCOPE_COOKIE: 'x',
    ERL_EPMD_PORT: String(epmd.port),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /timed out/i);
});

test('a node that does not allow us rejects the handshake, and the error says why', async (t) => {
  const picky = await startNode({ kind: 'erl', extraArgs: ['-eval', "net_kernel:allow(['someone_else@nowhere'])"] });
  t.after(() => picky.stop());
  const r = await info(picky);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not_allowed|not allowed/i);
});

test('a host that does not resolve is named as the problem, not EPMD', async () => {
  // .invalid is reserved (RFC 2606): it never resolves.
  const r = await runCli(['info', '--node', 'app@no-such-host.invalid'], { ELIXIR_SCOPE_COOKIE: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot resolve the host no-such-host\.invalid/);
});
