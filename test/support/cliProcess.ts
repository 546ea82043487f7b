/**
 * The `elixir-scope` launcher as a long-running child (a `record` session): wait for a line it
 * prints, send it a signal, collect its output when it exits.
 *
 *   const rec = startCliProcess(['record', '--node', n, '--out', dir, '--module', 'Shop.Cart', '--json']);
 *   await rec.waitFor(/recording .* Ctrl-C/);        // tracing is set up on the target
 *   ...drive the target...
 *   rec.child.kill('SIGINT');
 *   const { code, stdout } = await rec.done;
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, type CliResult } from './cli.js';

export interface CliProcess {
  child: ChildProcess;
  /** Resolves when stderr or stdout has printed something matching `re`; rejects if it exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
  output(): string;
}

export function startCliProcess(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.re.test(stderr) || w.re.test(stdout)) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    done,
    output: () => `stdout: ${stdout}\nstderr: ${stderr}`,
    waitFor(re, waitMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        if (re.test(stderr) || re.test(stdout)) return resolve();
        const timer = setTimeout(() => reject(new Error(`no output matching ${re} within ${waitMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)), waitMs);
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void done.then((r) => {
          clearTimeout(timer);
          reject(new Error(`elixir-scope exited (${String(r.code)}) before printing ${re}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`));
        });
      });
    },
  };
}

/**
 * `elixir-scope record ... --json` around `during`: starts it, waits until tracing is set up, runs
 * `during` (which drives the target), stops the recording as Ctrl-C would, checks it exited 0, and
 * resolves with its JSON summary.
 */
export async function recordDuring<T = Record<string, unknown>>(args: string[], env: NodeJS.ProcessEnv, during: () => Promise<unknown>): Promise<T> {
  const rec = startCliProcess(['record', ...args, '--json'], env);
  await rec.waitFor(/Ctrl-C to stop/);
  await during();
  rec.child.kill('SIGINT');
  const r = await rec.done;
  if (r.code !== 0) throw new Error(`elixir-scope record exited ${String(r.code)}\n${rec.output()}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * The Cinema address `ui` or `record --ui` printed, once its whole line is out (the token is 43
 * base64url characters; a line read half way would give a token that is refused).
 */
export const CINEMA_URL = /(http:\/\/[^\s/]+)\/\?token=([A-Za-z0-9_-]{43})\n/;

export async function waitForCinemaUrl(p: CliProcess): Promise<{ url: string; base: string; token: string; port: number }> {
  await p.waitFor(CINEMA_URL);
  const m = CINEMA_URL.exec(p.output());
  if (m === null) throw new Error(`no Cinema address in the output:\n${p.output()}`);
  return { url: `${m[1]!}/?token=${m[2]!}`, base: m[1]!, token: m[2]!, port: Number(/:(\d+)$/.exec(m[1]!)![1]) };
}
