/**
 * The query commands' output on the shop recording, compared whole with test/golden/*.txt, and their
 * errors. The commands run on an in-memory recording here (their `execute*` functions, with the same
 * error-to-exit-code mapping as src/cli/main.ts); test/cli-query-store.test.ts runs them on disk.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeHistory, historyCommand } from '../src/cli/commands/history.js';
import { executeStateAt, stateAtCommand } from '../src/cli/commands/stateAt.js';
import { callsCommand, executeCalls } from '../src/cli/commands/calls.js';
import { executeFlow, flowCommand } from '../src/cli/commands/flow.js';
import { EXIT_FAILURE, EXIT_USAGE, parseCommandArgs, UsageError, type Command, type CommandIO, type ParsedValues } from '../src/cli/usage.js';
import type { Recording } from '../src/store/types.js';
import { captureIO, expectGolden } from './support/golden.js';
import { shopRecording } from './support/shopRecording.js';
import { runCli } from './support/cli.js';
import { RecordingBuilder } from './support/memoryRecording.js';
import { Writable } from 'node:stream';

type Execute = (rec: Recording, values: ParsedValues, io: CommandIO) => Promise<number>;
const EXECUTE = new Map<Command, Execute>([
  [historyCommand, executeHistory],
  [stateAtCommand, executeStateAt],
  [callsCommand, executeCalls],
  [flowCommand, executeFlow],
]);

/** Parses argv as main does and runs the command on `rec`; errors become exit codes as in main. */
async function run(command: Command, argv: string[], rec: Recording = shopRecording().rec) {
  const io = captureIO();
  let code: number;
  try {
    const { values } = parseCommandArgs(command, argv);
    code = await EXECUTE.get(command)!(rec, values, io);
  } catch (err) {
    if (err instanceof UsageError) code = EXIT_USAGE;
    else if (err instanceof Error && 'code' in err) code = EXIT_FAILURE;
    else throw err;
    io.stderr.write((err as Error).message);
  }
  return { code, stdout: io.out(), stderr: io.err() };
}

test('history of every process (golden)', async () => {
  const r = await run(historyCommand, []);
  assert.equal(r.code, 0);
  expectGolden('history-all.txt', r.stdout);
});

test('history of one process, indented by call depth (golden)', async () => {
  const r = await run(historyCommand, ['--name', 'Shop.Cart']);
  assert.equal(r.code, 0);
  expectGolden('history-cart.txt', r.stdout);
  const byPid = await run(historyCommand, ['--pid', '#PID<0.150.0>']);
  assert.equal(byPid.stdout, r.stdout);
});

test('history --json: one object per event (golden), every line parses', async () => {
  const r = await run(historyCommand, ['--json', '--pid', '0.150.0', '--since', '120us', '--until', '#29']);
  assert.equal(r.code, 0);
  expectGolden('history-cart.jsonl', r.stdout);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.kind, 'receive');
  assert.equal(lines.at(-1)!.id, 29);
  const call = lines.find((l) => l.kind === 'call')!;
  assert.equal(call.mfa, 'Shop.Cart.handle_call/3');
  assert.equal(call.pid, '#PID<0.150.0>');
  assert.equal(typeof call.args, 'string');
});

test('history --kind (repeated and comma lists) and --limit with a note on stderr', async () => {
  const r = await run(historyCommand, ['--kind', 'call', '--kind', 'exception,state', '--limit', '4']);
  assert.equal(r.code, 0);
  assert.deepEqual(
    r.stdout.trimEnd().split('\n').map((l) => /(CALL|EXCEPTION|STATE)/.exec(l)?.[1]),
    ['CALL', 'CALL', 'CALL', 'CALL'],
  );
  assert.match(r.stderr, /showing the first 4 events; more follow: --since '#10' continues/);
  const all = await run(historyCommand, ['--kind', 'exception', '--limit', '0']);
  assert.equal(all.stdout.trimEnd().split('\n').length, 3);
});

test('state-at inside nested calls and after an exception (golden)', async () => {
  const { ids } = shopRecording();
  const a = await run(stateAtCommand, ['--name', 'Shop.Cart', '--at', String(ids.price)]);
  const b = await run(stateAtCommand, ['--pid', '<0.150.0>', '--at', `#${ids.discountRaise}`]);
  const c = await run(stateAtCommand, ['--pid', 'Shop.Inventory', '--at', '2.5ms']);
  assert.deepEqual([a.code, b.code, c.code], [0, 0, 0]);
  expectGolden('state-at.txt', a.stdout + '\n' + b.stdout + '\n' + c.stdout);
  const j = await run(stateAtCommand, ['--name', 'Shop.Cart', '--at', String(ids.price), '--json']);
  const o = JSON.parse(j.stdout) as { stack: { mfa: string }[]; state: { value: string } };
  assert.deepEqual(
    o.stack.map((f) => f.mfa),
    ['Shop.Cart.handle_call/3', 'Shop.Cart.add_item/3', 'Shop.Pricing.price/1'],
  );
  assert.equal(o.state.value, '%{items: %{}, owner: "ann", total: 0}');
});

test('calls: the call tree with durations (golden)', async () => {
  const a = await run(callsCommand, ['--name', 'Shop.Cart']);
  const b = await run(callsCommand, ['--pid', '0.160.0']);
  const c = await run(callsCommand, ['--pid', 'Shop.Cart', '--max-depth', '0']);
  expectGolden('calls.txt', a.stdout + '\n' + b.stdout + '\n' + c.stdout);
  const j = JSON.parse((await run(callsCommand, ['--pid', 'Shop.Cart', '--json'])).stdout) as { calls: number; roots: { children: unknown[]; status: string }[] };
  assert.equal(j.calls, 5);
  assert.deepEqual(j.roots.map((n) => n.status), ['returned', 'raised']);
});

test('flow: messages among processes, with receive ids and latency (golden)', async () => {
  const a = await run(flowCommand, ['--pids', 'Shop.Cart,Shop.Inventory,<0.160.0>']);
  const b = await run(flowCommand, ['--pids', '#PID<0.170.0>', '--outside']);
  const c = await run(flowCommand, ['--pids', 'Shop.Cart', '--outside']);
  expectGolden('flow.txt', a.stdout + '\n' + b.stdout + '\n' + c.stdout);
  const j = JSON.parse((await run(flowCommand, ['--pids', 'Shop.Cart,Shop.Inventory', '--json'])).stdout) as { messages: { latencyNs: number }[] };
  assert.deepEqual(j.messages.map((m) => m.latencyNs), [1500, 1500]);
});

test('--full prints a term whole', async () => {
  const cut = await run(historyCommand, ['--kind', 'exit']);
  const full = await run(historyCommand, ['--kind', 'exit', '--full']);
  assert.equal(cut.stdout, full.stdout); // short enough either way
  assert.match(full.stdout, /PROC_EXIT \(Reason: \{%RuntimeError\{message: "mail server down"\}/);
});

test('unknown pid or name, an event id out of range: exit 1 with what the recording has', async () => {
  const unknown = await run(historyCommand, ['--name', 'Shop.Nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no process "Shop\.Nope" in the recording .*registered names: Shop\.Cart, Shop\.Inventory/);
  const range = await run(stateAtCommand, ['--name', 'Shop.Cart', '--at', '9999']);
  assert.equal(range.code, 1);
  assert.match(range.stderr, /#9999 is out of range: the recording .* has events #0 to #43/);
  const since = await run(historyCommand, ['--since', '#44']);
  assert.equal(since.code, 1);
  const flow = await run(flowCommand, ['--pids', 'Shop.Cart,<0.999.0>']);
  assert.equal(flow.code, 1);
});

test('usage errors: exit 2', async () => {
  for (const [cmd, argv] of [
    [historyCommand, ['--since', 'yesterday']],
    [historyCommand, ['--kind', 'calls']],
    [historyCommand, ['--limit', '-3']],
    [historyCommand, ['--pid', '<0.150.0>', '--name', 'Shop.Cart']],
    [stateAtCommand, ['--name', 'Shop.Cart']],
    [stateAtCommand, ['--at', '3']],
    [callsCommand, []],
    [callsCommand, ['--pid', 'Shop.Cart', '--max-depth', 'x']],
    [flowCommand, []],
    [flowCommand, ['--pids', ',']],
    [historyCommand, ['--bogus']],
  ] as Array<[Command, string[]]>) {
    const r = await run(cmd, argv);
    assert.equal(r.code, 2, `${cmd.name} ${argv.join(' ')}: ${r.stderr}`);
  }
});

test('the real launcher: usage errors exit 2 before the recording is opened; a bad recording exits 1', async () => {
  const noRec = await runCli(['history']);
  assert.equal(noRec.code, 2, noRec.stderr);
  assert.match(noRec.stderr, /recording directory is required/);
  const badAt = await runCli(['state-at', '/nonexistent/rec', '--pid', '<0.1.0>', '--at', 'soon']);
  assert.equal(badAt.code, 2, badAt.stderr);
  const missing = await runCli(['calls', '/nonexistent/rec', '--pid', '<0.1.0>']);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /elixir-scope calls: .*\/nonexistent\/rec/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /); // a message, not a stack trace
  const help = await runCli(['--help']);
  for (const name of ['history', 'state-at', 'calls', 'flow']) assert.match(help.stdout, new RegExp(`\\n  ${name} `));
});

test('history streams a long recording in pieces, and stops quietly when the reader goes away', async () => {
  const b = new RecordingBuilder();
  const p = b.pid(1);
  for (let i = 0; i < 5000; i++) b.add({ ts: i * 1000, kind: 'receive', pid: p, payload: i });
  const rec = b.build();
  const all = await run(historyCommand, ['--limit', '0'], rec);
  assert.equal(all.code, 0);
  assert.equal(all.stdout.split('\n').length - 1, 5000);
  assert.match(all.stdout.split('\n')[4999]!, /RECEIVE 4999$/);

  // A pipe whose reader has exited fails every write with EPIPE.
  let writes = 0;
  const closed = new Writable({
    write(_chunk, _enc, cb) {
      writes++;
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const io = { ...captureIO(), stdout: closed };
  assert.equal(await executeHistory(rec, parseCommandArgs(historyCommand, ['--limit', '0']).values, io), 0);
  assert.equal(writes, 1);
});
