/**
 * Debian's chromium, headless, driven through playwright-core (no browser download: the tests use
 * the machine's /usr/bin/chromium, which .ci/run installs). Every launch gets a fresh profile
 * directory, so no state leaks between tests, and the flags keep chromium off the network (no
 * component updates, sync or QUIC probes) so a test only ever talks to the server it started.
 *
 *   const b = await launchBrowser();
 *   const page = await b.newPage();
 *   await page.goto(url);
 *   await b.screenshot(page, 'cinema-lanes');   // test-artifacts/cinema-lanes.png
 *   await b.close();
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Where screenshots go (ignored by git). */
// dist/test/support/ → the checkout's root.
export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  /** Saves a PNG of the page under test-artifacts/ and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(opts: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does it) to run the browser tests`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'es-chromium-'));
  // A persistent context is how playwright takes a profile directory (--user-data-dir): fresh here.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    newPage: () => context.newPage(),
    async screenshot(page, name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '_')}.png`);
      await page.screenshot({ path });
      return path;
    },
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
