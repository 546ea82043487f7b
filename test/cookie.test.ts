import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COOKIE_ENV_VAR, CookieError, resolveCookie } from '../src/erlang/cookie.js';

async function withHome(contents: string | undefined, fn: (home: string) => Promise<void>): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'es-cookie-'));
  try {
    if (contents !== undefined) await writeFile(join(home, '.erlang.cookie'), contents, { mode: 0o400 });
    await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

test('the flag wins over the environment and the file', async () => {
  await withHome('FROMFILE\n', async (home) => {
    const r = await resolveCookie({ flag: 'FROMFLAG', env: { [COOKIE_ENV_VAR]: 'FROMENV' }, home });
    assert.deepEqual(r, { cookie: 'FROMFLAG', source: 'flag' });
  });
});

test('the environment wins over the file', async () => {
  await withHome('FROMFILE\n', async (home) => {
    const r = await resolveCookie({ env: { [COOKIE_ENV_VAR]: 'FROMENV' }, home });
    assert.deepEqual(r, { cookie: 'FROMENV', source: 'env' });
  });
});

test('~/.erlang.cookie is read with its trailing newline removed', async () => {
  await withHome('FROMFILE\r\n', async (home) => {
    const r = await resolveCookie({ env: {}, home });
    assert.equal(r.cookie, 'FROMFILE');
    assert.equal(r.source, 'file');
    assert.equal(r.path, join(home, '.erlang.cookie'));
  });
});

test('no cookie anywhere is a CookieError naming every place looked', async () => {
  await withHome(undefined, async (home) => {
    await assert.rejects(resolveCookie({ env: {}, home }), (err: unknown) => {
      assert.ok(err instanceof CookieError);
      assert.equal(err.code, 'COOKIE_NOT_FOUND');
      assert.match(err.message, /--cookie/);
      assert.match(err.message, new RegExp(COOKIE_ENV_VAR));
      assert.match(err.message, /\.erlang\.cookie does not exist/);
      return true;
    });
  });
});

test('an empty or unusable cookie is refused without echoing it', async () => {
  await withHome('\n', async (home) => {
    await assert.rejects(resolveCookie({ env: {}, home }), /is empty/);
  });
  await assert.rejects(resolveCookie({ flag: 'sec\u0001ret' }), (err: unknown) => {
    assert.ok(err instanceof CookieError);
    assert.doesNotMatch(err.message, /sec.ret/);
    return true;
  });
});
