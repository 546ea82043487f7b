/**
 * The example Elixir app (examples/shop) for tests: a private copy to build in, `mix` runs, and the
 * app started as a distributed node.
 *
 *   const dir = copyShop();                        // a temp copy without _build: runs never race
 *   t.after(() => removeCopy(dir));
 *   const shop = await startShopNode(dir);         // elixir --sname <random> --cookie <random> -S mix run --no-halt
 *   t.after(() => shop.stop());
 *
 * The node watches its stdin and halts when it closes, so a test run that dies leaves no node behind.
 */

import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PACKAGE_ROOT } from './cli.js';
import { randomCookie, randomName, shortHost } from './beam.js';

export const SHOP_SOURCE = join(PACKAGE_ROOT, 'examples', 'shop');

/** Copies examples/shop (without build output) to a new temporary directory; returns its path. */
export function copyShop(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'es-shop-')), 'shop');
  cpSync(SHOP_SOURCE, dir, {
    recursive: true,
    filter: (src) => !['_build', 'deps'].includes(basename(src)),
  });
  return dir;
}

/** Removes a directory made by copyShop (and its temporary parent). */
export function removeCopy(dir: string): void {
  rmSync(join(dir, '..'), { recursive: true, force: true });
}

export interface MixResult {
  code: number | null;
  output: string;
}

/** Runs `mix <args>` in `dir`; stdout and stderr together in `output`. */
export function runMix(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<MixResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (env['MIX_ENV'] === undefined) delete childEnv['MIX_ENV'];
    const child = spawn('mix', args, { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mix ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A fresh copy of the shop, built, running as a node: what most end-to-end suites start from. */
export async function startBuiltShop(): Promise<{ dir: string; shop: ShopNode }> {
  const dir = copyShop();
  const built = await runMix(dir, ['compile']);
  if (built.code !== 0) throw new Error(`mix compile of the shop failed (exit ${String(built.code)}):\n${built.output}`);
  return { dir, shop: await startShopNode(dir) };
}

export interface ShopNode {
  /** `name@host`. */
  name: string;
  cookie: string;
  osPid: number;
  /** What the node printed so far (logs, crash reports). */
  output(): string;
  /** Closes the node's stdin (it halts), or kills it after 5 s. Idempotent. */
  stop(): Promise<void>;
}

const READY = 'ES_SHOP_READY';
// Runs after the app has started (mix run -e): halt when stdin closes, then say we are up.
const BOOT = `spawn(fn -> IO.read(:stdio, :line); System.halt(0) end); IO.puts("${READY}")`;

/** Starts the app in `dir` as a node with a random short name and cookie; resolves once the app is up. */
export async function startShopNode(dir: string, opts: { startTimeoutMs?: number } = {}): Promise<ShopNode> {
  const shortName = randomName('es_shop');
  const cookie = randomCookie();
  const env: NodeJS.ProcessEnv = { ...process.env, MIX_ENV: 'dev' };
  const child = spawn('elixir', ['--sname', shortName, '--cookie', cookie, '-S', 'mix', 'run', '--no-halt', '-e', BOOT], {
    cwd: dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
  });
  // A write or close after the node died must not crash the test runner.
  child.stdin.on('error', () => undefined);

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the shop node did not start within ${opts.startTimeoutMs ?? 60_000} ms:\n${out}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    const onData = (d: string): void => {
      out += d;
      if (out.includes(READY)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exitPromise.then(() => {
      clearTimeout(timer);
      reject(new Error(`the shop node exited during start:\n${out}`));
    });
  });

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(killer);
    }
  };

  try {
    await ready;
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
    throw err;
  }
  return { name: `${shortName}@${shortHost()}`, cookie, osPid: child.pid ?? -1, output: () => out, stop };
}
