import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './support/cli.js';

test('no arguments prints the command list and exits 2', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /Commands:/);
  assert.match(r.stdout, /\binfo\b/);
});

test('--help exits 0 and lists every command', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /info +connect to a node/);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^elixir-scope \d+\.\d+\.\d+\n$/);
});

test('an unknown command is a usage error (exit 2)', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});

test('info --help documents its options and exit codes', async () => {
  const r = await runCli(['info', '--help']);
  assert.equal(r.code, 0);
  for (const opt of ['--node', '--cookie', '--json', '--timeout']) assert.ok(r.stdout.includes(opt), opt);
  assert.match(r.stdout, /Exit codes/);
});

test('info without --node, with an unknown option or a bad duration is a usage error', async () => {
  let r = await runCli(['info']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--node is required/);
  assert.match(r.stderr, /elixir-scope info --help/);

  r = await runCli(['info', '--node', 'a@b', '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bogus/);

  r = await runCli(['info', '--node', 'a@b', '--timeout', 'soon']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--timeout must be a duration/);
});

test('info with no cookie anywhere fails with exit 1 and says where it looked', async () => {
  const r = await runCli(['info', '--node', 'nobody@localhost'], { HOME: '/nonexistent-home', ELIXIR_SCOPE_COOKIE: '' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No distribution cookie/);
});
