/**
 * Golden-text checks: a view's whole output against a checked-in file under test/golden/, so that a
 * change of rendering shows up as a readable diff. `UPDATE_GOLDEN=1 node --test ...` rewrites the
 * files (review the diff before committing them).
 */

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { PACKAGE_ROOT } from './cli.js';
import type { CommandIO } from '../../src/cli/usage.js';

export const GOLDEN_DIR = join(PACKAGE_ROOT, 'test', 'golden');

export function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file ${file} is missing; run with UPDATE_GOLDEN=1 to write it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${file}`);
}

/** A CommandIO whose streams collect what is written. */
export function captureIO(): CommandIO & { out(): string; err(): string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: {},
    out: () => out,
    err: () => err,
  };
}
