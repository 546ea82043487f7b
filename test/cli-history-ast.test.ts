/**
 * The query commands on a recording with AST events (support/memoryRecording.ts's astRecording(),
 * written through the real parser, correlator and store), compared whole with test/golden/*-ast.*:
 * history lines tagged [AST] in the README's layout (LINE, EXPR, PROBE, TAIL), their JSON, state-at
 * with "Local Variables (from AST)" and "Arguments (from Runtime/AST)", and the call tree. Also the
 * options that select AST events (--kind, --source) and their errors.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { executeHistory, historyCommand } from '../src/cli/commands/history.js';
import { executeStateAt, stateAtCommand } from '../src/cli/commands/stateAt.js';
import { callsCommand, executeCalls } from '../src/cli/commands/calls.js';
import { EXIT_USAGE, parseCommandArgs, UsageError, type Command, type CommandIO, type ParsedValues } from '../src/cli/usage.js';
import { openRecording } from '../src/store/reader.js';
import type { Recording } from '../src/store/types.js';
import { captureIO, expectGolden } from './support/golden.js';
import { astRecording } from './support/memoryRecording.js';
import { writeThroughStore } from './support/storeRecording.js';
import { makeTempDir, removeDir } from './support/erlScript.js';

type Execute = (rec: Recording, values: ParsedValues, io: CommandIO) => Promise<number>;
const EXECUTE = new Map<Command, Execute>([
  [historyCommand, executeHistory],
  [stateAtCommand, executeStateAt],
  [callsCommand, executeCalls],
]);

let dir = '';
let rec: Recording;

before(async () => {
  dir = await makeTempDir('cli-ast');
  const s = astRecording();
  await writeThroughStore(s.b.build(), join(dir, 'rec'), s.main);
  rec = openRecording(join(dir, 'rec'));
});

after(async () => {
  rec.close();
  await removeDir(dir);
});

async function run(command: Command, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIO();
  let code: number;
  try {
    const { values } = parseCommandArgs(command, argv);
    code = await EXECUTE.get(command)!(rec, values, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    code = EXIT_USAGE;
    io.stderr.write(err.message);
  }
  return { code, stdout: io.out(), stderr: io.err() };
}

test('history of a process with AST events: [AST] lines in the README layout (golden)', async () => {
  const r = await run(historyCommand, ['--pid', '<0.123.0>']);
  assert.equal(r.code, 0);
  expectGolden('history-ast.txt', r.stdout);
  // The README's three lines, whatever else the golden holds.
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], '[+0.000123s] [RUNTIME] CALL MyModule.foo/1 (Args: [123])');
  assert.equal(lines[1], '[+0.000140s] [AST]       LINE 10 MyModule.foo/1: local_var_x = 456');
  assert.ok(lines.includes('[+0.000190s] [RUNTIME] EXIT MyModule.foo/1 (Return: :ok)'));
  assert.ok(lines.includes('[+0.000165s] [AST]       EXPR 16 MyModule.foo/1: Enum.sum(xs) => 6'));
  assert.ok(lines.includes('[+0.000175s] [AST]       PROBE 17 MyModule.foo/1: length(items) = 2'));
  assert.ok(lines.includes('[+0.000180s] [AST]       LINE 18 MyModule.foo/1'));
  assert.ok(lines.includes('[+0.000202s] [AST]     TAIL MyModule.loop/2 → MyModule.loop/2'));
});

test('history --json of AST events: line, locals, label/value, callee (golden)', async () => {
  const r = await run(historyCommand, ['--json', '--source', 'ast']);
  assert.equal(r.code, 0);
  expectGolden('history-ast.jsonl', r.stdout);
  const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(objs.every((o) => o.source === 'ast' && typeof o.line === 'number'));
  const locals = objs.find((o) => o.id === 7)!;
  assert.deepEqual(locals.locals, [
    { name: 'acc', value: '3' },
    { name: 'local_var_x', value: '0' },
  ]);
  assert.equal(locals.parent, 6);
  const expr = objs.find((o) => o.id === 5)!;
  assert.deepEqual([expr.label, expr.value, expr.line], ['Enum.sum(xs)', '6', 16]);
  const tail = objs.find((o) => o.id === 15)!;
  assert.deepEqual([tail.kind, tail.callee, tail.link], ['tail_call', 'MyModule.loop/2', 13]);
});

test('history --kind with AST kinds, --source; unknown ones are usage errors', async () => {
  const r = await run(historyCommand, ['--kind', 'locals,tail_call']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim().split('\n').length, 7);
  assert.ok(r.stdout.split('\n').every((l) => l === '' || / (LINE|TAIL) /.test(l)), r.stdout);
  const rt = await run(historyCommand, ['--source', 'runtime', '--pid', '<0.123.0>']);
  assert.equal(rt.stdout.split('\n').filter((l) => l !== '').length, 3);
  assert.ok(!rt.stdout.includes('[AST]'));
  const bad = await run(historyCommand, ['--source', 'compile']);
  assert.equal(bad.code, EXIT_USAGE);
  assert.match(bad.stderr, /unknown event source "compile"; give runtime .* or ast/);
  const badKind = await run(historyCommand, ['--kind', 'lines']);
  assert.equal(badKind.code, EXIT_USAGE);
  assert.match(badKind.stderr, /unknown event kind "lines".*line, locals, expr, probe, tail_call/);
});

test('state-at shows the active call with its line, AST locals and arguments (golden)', async () => {
  let all = '';
  for (const at of ['5', '7', '9', '17', '18']) {
    const r = await run(stateAtCommand, ['--pid', '<0.123.0>', '--at', at]);
    assert.equal(r.code, 0);
    all += r.stdout + '\n';
  }
  expectGolden('state-at-ast.txt', all);
  const r = await run(stateAtCommand, ['--pid', '<0.123.0>', '--at', '9']);
  assert.match(r.stdout, /Active Call: MyModule\.foo\/1 \(event #0, \+0\.000123s\)\n {4}At line 17 \(event #9, \+0\.000175s\)\n {4}Local Variables \(from AST\):\n {6}local_var_x: 456\n {6}another_var: 789\n {4}Arguments \(from Runtime\/AST\): \[123\]\n/);
});

test('state-at --json carries locals and line', async () => {
  const r = await run(stateAtCommand, ['--pid', '<0.123.0>', '--at', '7', '--json']);
  const o = JSON.parse(r.stdout) as { locals: unknown; line: unknown; stack: Array<{ mfa: string; source: string }> };
  assert.deepEqual(o.locals, [
    { name: 'acc', value: '3', event: 7, line: 31 },
    { name: 'local_var_x', value: '0', event: 7, line: 31 },
  ]);
  assert.deepEqual(o.line, { line: 31, event: 7, ts: 171_000 });
  assert.deepEqual(
    o.stack.map((f) => [f.mfa, f.source]),
    [
      ['MyModule.foo/1', 'runtime'],
      ['MyModule.helper/1', 'ast'],
    ],
  );
});

test('calls: AST events under their call, tail calls marked (golden)', async () => {
  const r = await run(callsCommand, ['--pid', '<0.123.0>']);
  assert.equal(r.code, 0);
  expectGolden('calls-ast.txt', r.stdout);
  assert.match(r.stdout, /MyModule\.loop\/2 {2}tail call → MyModule\.loop\/2 after 2µs {2}#13/);
});
