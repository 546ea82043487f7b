/**
 * A process mailbox with selective receive, as on the BEAM: `receive(pred)` takes the oldest
 * message that matches and leaves the others in order.
 */

import type { Term } from './terms.js';

const NONE: unique symbol = Symbol('none');

interface Waiter {
  pred: (m: Term) => boolean;
  resolve: (m: Term) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class Mailbox {
  /** Messages are queue[head..]; taking the oldest just advances head, so a long backlog drains in linear time. */
  private queue: Term[] = [];
  private head = 0;
  private waiters: Waiter[] = [];
  private closedWith: (() => Error) | undefined;

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Messages not yet received, oldest first (a copy). */
  peekAll(): Term[] {
    return this.queue.slice(this.head);
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
    const found = this.takeQueued(pred);
    if (found !== NONE) return Promise.resolve(found);
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
    this.queue = this.queue.slice(this.head).filter((m) => !pred(m));
    this.head = 0;
  }

  private takeQueued(pred: (m: Term) => boolean): Term | typeof NONE {
    const q = this.queue;
    for (let i = this.head; i < q.length; i++) {
      if (!pred(q[i]!)) continue;
      const m = q[i]!;
      if (i === this.head) {
        q[i] = undefined as unknown as Term; // let it be collected
        this.head++;
        if (this.head === q.length) {
          this.queue = [];
          this.head = 0;
        } else if (this.head > 1024 && this.head * 2 > q.length) {
          this.queue = q.slice(this.head);
          this.head = 0;
        }
      } else {
        q.splice(i, 1);
      }
      return m;
    }
    return NONE;
  }

  /** No more messages; pending and future receives reject with `err()`. */
  close(err: () => Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.queue = [];
    this.head = 0;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(err());
    }
  }
}
