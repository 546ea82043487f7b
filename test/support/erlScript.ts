/**
 * Runs an Erlang module on a real BEAM for tests and benchmarks: the module's source is compiled
 * with erlc into a fresh temporary directory and run with `erl -noshell`, calling `Module:main(Args)`
 * where Args are the given strings. Data goes both ways through files in a directory of the test's
 * own (see `makeTempDir`), so nothing depends on how the BEAM prints terms.
 *
 *   const dir = await makeTempDir('etf');
 *   const run = await runErlScript(source, [dir, '42']);   // throws with stderr if main crashes
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ErlRunResult {
  stdout: string;
  stderr: string;
  /** Milliseconds from spawning erl to its exit (compilation not included). */
  elapsedMs: number;
}

export interface ErlRunOptions {
  /** Kill erl after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Extra arguments for erl before -eval (e.g. ['+S', '1']). */
  erlArgs?: string[];
}

/** True when `erl` and `erlc` can be run (tests that need the BEAM skip otherwise). */
export function haveErlang(): boolean {
  const erl = spawnSync('erl', ['-noshell', '-eval', 'halt().'], { stdio: 'ignore', timeout: 60_000 });
  const erlc = spawnSync('erlc', ['-help'], { stdio: 'ignore', timeout: 60_000 });
  return erl.status === 0 && erlc.error === undefined;
}

/** The OTP release of the `erl` on PATH, e.g. "25". */
export function otpRelease(): string {
  const r = spawnSync('erl', ['-noshell', '-eval', 'io:format("~s", [erlang:system_info(otp_release)]), halt().'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return r.stdout.trim();
}

/** A new empty directory under the OS temporary directory. */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `elixir-scope-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Compiles `source` (an Erlang module exporting main/1) and runs `Module:main(Args)` with erl
 * -noshell. Resolves when main returns; rejects, with erl's output, when it crashes, when erl exits
 * non-zero or when the timeout passes.
 */
export async function runErlScript(source: string, args: string[] = [], opts: ErlRunOptions = {}): Promise<ErlRunResult> {
  const m = /^\s*-module\(\s*([a-z][a-zA-Z0-9_]*)\s*\)\s*\./m.exec(source);
  if (m === null) throw new Error('runErlScript: the source has no -module(Name). attribute');
  const module = m[1]!;
  const dir = await makeTempDir('erl');
  try {
    const file = join(dir, `${module}.erl`);
    await writeFile(file, source, 'utf8');
    await run('erlc', ['-o', dir, file], opts.timeoutMs ?? 120_000);
    const evalExpr =
      `try ${module}:main(init:get_plain_arguments()) of _ -> halt(0) ` +
      `catch C:E:S -> io:format(standard_error, "~p:~p~n~p~n", [C, E, S]), halt(1) end.`;
    return await run(
      'erl',
      ['-noshell', ...(opts.erlArgs ?? []), '-pa', dir, '-eval', evalExpr, '-extra', ...args],
      opts.timeoutMs ?? 600_000,
    );
  } finally {
    await removeDir(dir);
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<ErlRunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} could not be started: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        elapsedMs: performance.now() - started,
      };
      if (timedOut) reject(new Error(`${cmd} timed out after ${timeoutMs} ms\n${result.stdout}\n${result.stderr}`));
      else if (code !== 0) {
        reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} exited with ${code ?? signal}\n${result.stdout}\n${result.stderr}`));
      } else resolve(result);
    });
  });
}

/** Reads a file of records `<<Len:32, Bytes:Len/binary>>` as written by the Erlang side. */
export function splitRecords(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < data.length) {
    if (p + 4 > data.length) throw new Error(`record file truncated at byte ${p}`);
    const n = data.readUInt32BE(p);
    if (p + 4 + n > data.length) throw new Error(`record at byte ${p} claims ${n} bytes, past the end`);
    out.push(data.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  return out;
}

/** Writes records `<<Len:32, Bytes/binary>>` for the Erlang side (see splitRecords). */
export function joinRecords(records: Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(r.length, 0);
    parts.push(len, r);
  }
  return Buffer.concat(parts);
}
