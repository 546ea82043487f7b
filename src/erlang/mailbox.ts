/**
 * A process mailbox with selective receive, as on the BEAM: `receive(pred)` takes the oldest
 * message that matches and leaves the others in order.
 */

import type { Term } from './terms.js';

interface Waiter {
  pred: (m: Term) => boolean;
  resolve: (m: Term) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class Mailbox {
  private readonly queue: Term[] = [];
  private waiters: Waiter[] = [];
  private closedWith: (() => Error) | undefined;

  get size(): number {
    return this.queue.length;
  }

  /** Messages not yet received, oldest first (a copy). */
  peekAll(): Term[] {
    return [...this.queue];
  }

  put(msg: Term): void {
    if (this.closedWith) return;
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (w.pred(msg)) {
        this.waiters.splice(i, 1);
        if (w.timer) clearTimeout(w.timer);
        w.resolve(msg);
        return;
      }
    }
    this.queue.push(msg);
  }

  /**
   * The oldest message matching `pred`. With `timeoutMs`, rejects with `onTimeout()` when none
   * arrives in time; without it, waits until one arrives or the mailbox closes.
   */
  take(pred: (m: Term) => boolean, timeoutMs: number | undefined, onTimeout: () => Error): Promise<Term> {
    if (this.closedWith) return Promise.reject(this.closedWith());
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise<Term>((resolve, reject) => {
      const w: Waiter = { pred, resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(onTimeout());
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  /** Removes every message matching `pred` (used by demonitor's flush). */
  drop(pred: (m: Term) => boolean): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (pred(this.queue[i]!)) this.queue.splice(i, 1);
  }

  /** No more messages; pending and future receives reject with `err()`. */
  close(err: () => Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.queue.length = 0;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(err());
    }
  }
}
