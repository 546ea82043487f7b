/**
 * The Cinema page on a 1,000,000-event recording (test/support/bigRecording.ts), in headless Debian
 * chromium against the real `elixir-scope ui` server:
 *
 * - first paint: navigation start to the timeline's first frame (the page sets the performance mark
 *   `elixir-scope:first-timeline-frame` after drawing it), fetching meta and 29 MB of columns and
 *   building the indexes included; median of 3 fresh pages;
 * - panning: a scripted continuous pan (the view moves every animation frame, 600 frames, back and
 *   forth) at two zooms — 80% of the recording (every lane a density strip) and 1/200 of it (lanes
 *   with spans and marks next to density strips) — reporting the median interval between animation frames (what the eye
 *   sees; vsync caps it at ~16.7 ms) and the median time the timeline's drawing took;
 * - the tab's JS heap after loading (CDP Performance.getMetrics JSHeapUsedSize), and apart from it
 *   the typed arrays holding the columns and indexes (their backing stores are not in that heap).
 *
 * Aims (docs/performance.md "UI"): first paint under 2 s, frames under 20 ms. Ratios are value / aim
 * (below 1 meets it).
 *
 *   npm run bench -- ui [--frames N]
 */

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/support/browser.js';
import { bigRecording } from '../test/support/bigRecording.js';
import { median, result } from './support/report.js';

const FIRST_PAINT_AIM_MS = 2000;
const FRAME_AIM_MS = 20;

// The page's globals as the evaluate callbacks see them (this file is compiled without the DOM library).
interface PageHandle {
  store: { memoryBytes(): number; view: { t0: number; t1: number }; setView(v: { t0: number; t1: number }): void; fullRange(): { t0: number; t1: number }; count: number };
  frames(): number;
  timeline: { lastDrawMs(): number } | null;
}
declare const window: { elixirScope?: PageHandle };
declare function requestAnimationFrame(fn: (t: number) => void): number;

export async function run(args: string[]): Promise<void> {
  let frames = 600;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--frames' && /^\d+$/.test(args[i + 1] ?? '')) frames = Number(args[++i]);
    else throw new Error(`bench ui: unknown argument ${JSON.stringify(args[i])}; expected [--frames N]`);
  }
  const big = await bigRecording();
  process.stdout.write(`recording: ${big.dir} (${big.events.toLocaleString('en')} events, ${big.processes} processes)\n`);
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'elixir-scope');
  const server = spawn(process.execPath, [cli, 'ui', big.dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /(http:\/\/\S+\?token=[\w-]{43})\n/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    server.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    server.on('exit', (code) => reject(new Error(`elixir-scope ui exited with ${code} before printing its URL:\n${out}`)));
  });
  const b = await launchBrowser({ width: 1600, height: 1000 });
  try {
    const paints: number[] = [];
    let heapMb = 0;
    let arraysMb = 0;
    for (let i = 0; i < 3; i++) {
      const page = await b.newPage();
      await page.goto(url);
      await page.waitForFunction(() => (window.elixirScope?.frames() ?? 0) > 0, null, { timeout: 120_000 });
      const mark = await page.evaluate(() => performance.getEntriesByName('elixir-scope:first-timeline-frame')[0]?.startTime ?? NaN);
      if (!Number.isFinite(mark)) throw new Error('the page drew its timeline but set no elixir-scope:first-timeline-frame mark');
      paints.push(mark);
      if (i < 2) {
        await page.close();
        continue;
      }
      const cdp = await b.context.newCDPSession(page);
      await cdp.send('Performance.enable');
      await cdp.send('HeapProfiler.collectGarbage');
      const metrics = (await cdp.send('Performance.getMetrics')).metrics;
      heapMb = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 1e6;
      arraysMb = (await page.evaluate(() => window.elixirScope!.store.memoryBytes())) / 1e6;
      for (const [label, fraction] of [['wide', 0.8], ['zoomed', 1 / 200]] as const) {
        const r = await page.evaluate(
          async ([n, frac]) => {
            const h = window.elixirScope!;
            const full = h.store.fullRange();
            const range = full.t1 - full.t0;
            const w = range * frac!;
            // 150 steps one way then back; the sweep fits inside the recording so no step is clamped.
            const amp = Math.min(0.75 * w, 0.9 * (range - w));
            let t0 = full.t0 + (range - w - amp) / 2;
            h.store.setView({ t0, t1: t0 + w });
            const intervals: number[] = [];
            const draws: number[] = [];
            const startFrames = h.frames();
            await new Promise<void>((done) => {
              let last = -1;
              let k = 0;
              const step = (now: number): void => {
                if (last >= 0) {
                  intervals.push(now - last);
                  draws.push(h.timeline!.lastDrawMs());
                }
                last = now;
                // Back and forth, so the pan stays inside the recording at any zoom.
                const dir = Math.floor(k / 150) % 2 === 0 ? 1 : -1;
                t0 += (dir * amp) / 150;
                h.store.setView({ t0, t1: t0 + w });
                if (++k < n!) requestAnimationFrame(step);
                else done();
              };
              requestAnimationFrame(step);
            });
            return { intervals, draws, drawn: h.frames() - startFrames };
          },
          [frames, fraction],
        );
        if (r.drawn < frames / 2) throw new Error(`only ${r.drawn} of ${frames} pan steps were drawn`);
        const frame = median(r.intervals);
        result(`ui_pan_${label}_frame_median`, frame, 'ms');
        result(`ui_pan_${label}_frame_vs_aim`, frame / FRAME_AIM_MS, 'x');
        result(`ui_pan_${label}_draw_median`, median(r.draws), 'ms');
        result(`ui_pan_${label}_fps`, 1000 / frame, 'fps');
      }
      await page.close();
    }
    const fp = median(paints);
    result('ui_first_paint', fp, 'ms');
    result('ui_first_paint_vs_aim', fp / FIRST_PAINT_AIM_MS, 'x');
    result('ui_js_heap', heapMb, 'MB');
    // Typed arrays live outside the JS heap (ArrayBuffer backing stores): counted apart.
    result('ui_typed_arrays', arraysMb, 'MB');
  } finally {
    await b.close();
    server.kill('SIGINT');
  }
}
