/**
 * Serving a recording while it is being written (`record --ui`). The writer rewrites meta.json after
 * every flush (docs/store.md); LiveFeed notices (a stat every POLL_MS, which also throttles the feed
 * to about 10 messages a second, fewer as the recording grows: see BACKOFF), reopens the recording,
 * extends the view's index with the new events only, and tells the pages: `grow` with the new count,
 * `meta` when new processes appeared, and `end` once meta.json says the recording is no longer being
 * written.
 *
 * Reopening reads every block's columns again: cheap for the sizes a live session reaches (about
 * 80 ms per million events), and it keeps the reader the only code that parses the format.
 */

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openRecording } from '../store/recording.js';
import type { Recording, RecordingMeta } from '../store/types.js';
import { RecordingView } from './api.js';
import type { CinemaServer } from './server.js';

/** How often meta.json is looked at, at most. */
export const POLL_MS = 100;
/**
 * After a reopen that took T ms, the next look waits at least T times this: a long live session
 * (a reopen grows with the recording, ~80 ms per million events) then costs the engine, which
 * shares the machine with the ingest, at most a fifth of one core.
 */
export const BACKOFF = 5;

export class LiveFeed {
  private timer: NodeJS.Timeout | null = null;
  private following = false;
  private lastStamp = '';
  private ended = false;
  private reported = false;

  private constructor(
    readonly dir: string,
    readonly view: RecordingView,
  ) {}

  /** Opens the recording in `dir` (it must already have its meta.json) for live serving. */
  static open(dir: string): LiveFeed {
    return new LiveFeed(dir, new RecordingView(openLive(dir), true));
  }

  /** Starts following the recording, telling `server`'s pages as it grows. */
  follow(server: CinemaServer): void {
    if (this.following) return;
    this.following = true;
    const tick = (): void => {
      this.timer = null;
      const t0 = performance.now();
      try {
        this.poll(server, false);
      } catch (err) {
        // A read that failed now (a file replaced under us) is tried again at the next tick; said once.
        if (!this.reported) process.stderr.write(`elixir-scope: the live view could not reread ${this.dir}: ${(err as Error).message}\n`);
        this.reported = true;
      }
      if (this.following) this.timer = setTimeout(tick, Math.max(POLL_MS, (performance.now() - t0) * BACKOFF));
    };
    tick();
  }

  /**
   * The recorder has finished: reads the recording a last time and sends `end` (with what meta.json
   * says, or `fallback` if it could not be read), unless the poll already did.
   */
  finish(server: CinemaServer, fallback: { status: string; reason: string | null }): void {
    this.stop();
    if (this.ended) return;
    try {
      this.poll(server, true);
    } catch (err) {
      process.stderr.write(`elixir-scope: the live view could not read the finished ${this.dir}: ${(err as Error).message}\n`);
    }
    if (!this.ended) this.end(server, fallback.status, fallback.reason);
  }

  stop(): void {
    this.following = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private poll(server: CinemaServer, force: boolean): void {
    let stamp: string;
    try {
      const st = statSync(join(this.dir, 'meta.json'));
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      // Between the writer's rename steps the file is briefly absent; the next poll sees it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (stamp === this.lastStamp && !force) return;
    this.lastStamp = stamp;
    const before = this.view.index.count;
    const processesBefore = this.view.index.processes.length;
    const next = openLive(this.dir);
    this.view.replace(next);
    if (this.view.index.processes.length !== processesBefore) server.broadcast({ type: 'meta' });
    if (this.view.index.count !== before) server.broadcast({ type: 'grow', count: this.view.index.count });
    if (next.meta.status !== 'recording') this.end(server, next.meta.status, next.meta.stopReason);
  }

  private end(server: CinemaServer, status: string, reason: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    server.broadcast({ type: 'end', status, reason });
  }
}

/**
 * openRecording, except that a recording still being written keeps the status and errors meta.json
 * gives: the reader marks an unclosed recording `interrupted` (right for one found after a crash),
 * and a block the writer is half way through is not damage either.
 */
function openLive(dir: string): Recording {
  // meta.json first: if it says "recording", the events opened just after are a prefix of a recording
  // still being written, whatever the reader concludes from the missing close.
  const onDisk = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as RecordingMeta;
  const rec = openRecording(dir);
  if (onDisk.status === 'recording') {
    rec.meta.status = 'recording';
    rec.meta.stopReason = onDisk.stopReason;
    rec.meta.errors = onDisk.errors ?? [];
  }
  return rec;
}
