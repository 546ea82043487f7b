/**
 * The scrubber: the playhead is the selected event. Play/pause moves it through the recording at a
 * speed of recording time (0.25x .. 16x) or of events per second; step buttons and keys move it by
 * one event, or by one event of the selected process; an input jumps to an event id. The view
 * follows the playhead (auto-pan) so it never leaves the screen.
 *
 * The page's keyboard shortcuts live here, in one table that the help overlay prints.
 */

import type { Store } from './store.js';
import { formatNs } from './timeline.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** Playback speeds: `x` multiplies recording time, `ev/s` plays a fixed number of events per second. */
export const SPEEDS: readonly { label: string; x?: number; eps?: number }[] = [
  { label: '0.25x', x: 0.25 },
  { label: '0.5x', x: 0.5 },
  { label: '1x', x: 1 },
  { label: '2x', x: 2 },
  { label: '4x', x: 4 },
  { label: '8x', x: 8 },
  { label: '16x', x: 16 },
  { label: '1 ev/s', eps: 1 },
  { label: '10 ev/s', eps: 10 },
  { label: '100 ev/s', eps: 100 },
  { label: '1000 ev/s', eps: 1000 },
];

export const SHORTCUTS: readonly [string, string][] = [
  ['space', 'play / pause'],
  ['← / →', 'previous / next event'],
  ['shift + ← / →', 'previous / next event of the selected process'],
  ['g', 'jump to an event id'],
  ['+ / - (or w / s)', 'zoom in / out around the playhead'],
  ['a / d', 'pan left / right'],
  ['0', 'show the whole recording'],
  ['PageUp / PageDown', 'scroll the lanes (timeline focused)'],
  ['wheel', 'zoom around the cursor; over the labels, or with shift, scroll the lanes'],
  ['drag', 'pan; drag the minimap rectangle to move the view'],
  ['?', 'this help'],
];

export interface ScrubberHandle {
  play(): void;
  pause(): void;
  playing(): boolean;
  step(dir: 1 | -1, withinProcess?: boolean): void;
  jump(id: number): void;
}

export function mountScrubber(host: HTMLElement, store: Store): ScrubberHandle {
  return new Scrubber(host, store).handle();
}

/** The event after/before `from` (an event of `pid` only, when given); null at either end. */
export function nextEvent(store: Store, from: number | null, dir: 1 | -1, pid: number | null): number | null {
  const n = store.count;
  if (n === 0) return null;
  if (pid === null) {
    if (from === null) return dir === 1 ? 0 : n - 1;
    const to = from + dir;
    return to >= 0 && to < n ? to : null;
  }
  const ids = store.idsOfPid(pid);
  if (ids.length === 0) return null;
  if (from === null) return dir === 1 ? ids[0]! : ids[ids.length - 1]!;
  // First index with ids[i] > from (dir 1) or last with ids[i] < from (dir -1).
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ids[m]! <= from) lo = m + 1;
    else hi = m;
  }
  if (dir === 1) return lo < ids.length ? ids[lo]! : null;
  let i = lo - 1;
  if (i >= 0 && ids[i] === from) i--;
  return i >= 0 ? ids[i]! : null;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

class Scrubber {
  private readonly playBtn: HTMLButtonElement;
  private readonly speedSel: HTMLSelectElement;
  private readonly jumpInput: HTMLInputElement;
  private readonly pos: HTMLSpanElement;
  private readonly help: HTMLDivElement;
  private raf = 0;
  private last = 0;
  /** Playback position: recording time (ns) or fractional event id. */
  private cursor = 0;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    host.classList.add('scrubber');
    const btn = (label: string, title: string, on: () => void): HTMLButtonElement => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      b.addEventListener('click', on);
      // A click must not leave the focus on the button, or the next space would press it again
      // besides toggling play.
      b.addEventListener('mousedown', (ev) => ev.preventDefault());
      return b;
    };
    this.playBtn = btn('▶', 'play / pause (space)', () => (this.playing() ? this.pause() : this.play()));
    this.playBtn.className = 'play';
    this.speedSel = document.createElement('select');
    this.speedSel.title = 'playback speed';
    this.speedSel.className = 'speed';
    SPEEDS.forEach((s, i) => this.speedSel.add(new Option(s.label, String(i), s.label === '1x', s.label === '1x')));
    this.speedSel.addEventListener('change', () => {
      this.resetCursor();
      // Back to the page's keys (arrows on a focused select would change the speed instead of stepping).
      this.speedSel.blur();
    });
    this.jumpInput = document.createElement('input');
    this.jumpInput.type = 'text';
    this.jumpInput.inputMode = 'numeric';
    this.jumpInput.placeholder = 'event id (g)';
    this.jumpInput.className = 'jump';
    this.jumpInput.setAttribute('aria-label', 'jump to event id');
    this.jumpInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        const v = this.jumpInput.value.trim().replace(/^#/, '');
        if (!/^\d+$/.test(v) || Number(v) >= store.count) {
          this.jumpInput.setCustomValidity(`expected an event id from 0 to ${store.count - 1}`);
          this.jumpInput.reportValidity();
          return;
        }
        this.jumpInput.setCustomValidity('');
        this.jump(Number(v));
        this.jumpInput.blur();
      } else if (ev.key === 'Escape') this.jumpInput.blur();
      ev.stopPropagation();
    });
    this.pos = document.createElement('span');
    this.pos.className = 'position';
    this.help = document.createElement('div');
    this.help.className = 'help';
    this.help.hidden = true;
    this.help.setAttribute('role', 'dialog');
    const table = document.createElement('table');
    for (const [k, what] of SHORTCUTS) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = what;
    }
    this.help.append(table);
    host.append(
      btn('« proc', 'previous event of the selected process (shift + ←)', () => this.step(-1, true)),
      btn('‹', 'previous event (←)', () => this.step(-1)),
      this.playBtn,
      btn('›', 'next event (→)', () => this.step(1)),
      btn('proc »', 'next event of the selected process (shift + →)', () => this.step(1, true)),
      this.speedSel,
      this.jumpInput,
      this.pos,
      btn('?', 'keyboard shortcuts (?)', () => (this.help.hidden = !this.help.hidden)),
      this.help,
    );
    document.addEventListener('keydown', (ev) => this.key(ev));
    store.on('select', (e) => {
      this.showPosition();
      if (e.origin !== 'url') this.keepVisible();
    });
    store.on('grow', () => this.showPosition());
    this.showPosition();
  }

  handle(): ScrubberHandle {
    return {
      play: () => this.play(),
      pause: () => this.pause(),
      playing: () => this.playing(),
      step: (d, w) => this.step(d, w),
      jump: (id) => this.jump(id),
    };
  }

  playing(): boolean {
    return this.raf !== 0;
  }

  play(): void {
    if (this.playing() || this.store.count === 0) return;
    if (this.store.sel.id === null || this.store.sel.id >= this.store.count - 1) this.store.select({ id: 0 }, 'play');
    this.resetCursor();
    this.last = performance.now();
    this.playBtn.textContent = '❚❚';
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  pause(): void {
    if (this.raf !== 0) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.playBtn.textContent = '▶';
  }

  private speed(): (typeof SPEEDS)[number] {
    return SPEEDS[Number(this.speedSel.value)] ?? SPEEDS[2]!;
  }

  private resetCursor(): void {
    const id = this.store.sel.id ?? 0;
    this.cursor = this.speed().x !== undefined ? this.store.cols.ts[id]! : id;
  }

  private tick(now: number): void {
    const dt = Math.min(250, now - this.last); // a background tab must not jump ahead on return
    this.last = now;
    const s = this.speed();
    const n = this.store.count;
    let id: number;
    if (s.x !== undefined) {
      this.cursor += dt * 1e6 * s.x;
      id = this.store.firstIdAtOrAfter(this.cursor + 1) - 1;
    } else {
      this.cursor += (dt / 1000) * s.eps!;
      id = Math.floor(this.cursor);
    }
    id = Math.max(this.store.sel.id ?? 0, Math.min(n - 1, id));
    if (id !== this.store.sel.id) this.store.select({ id }, 'play');
    if (id >= n - 1 && !this.store.live) {
      this.pause();
      return;
    }
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  step(dir: 1 | -1, withinProcess = false): void {
    const s = this.store;
    const pid = withinProcess ? (s.sel.pid ?? (s.sel.id !== null ? s.pidOf(s.sel.id) : null)) : null;
    if (withinProcess && pid === null) {
      this.flash('select a process first (click its lane label or one of its events)');
      return;
    }
    const next = nextEvent(s, s.sel.id, dir, pid);
    if (next === null) {
      this.flash(dir === 1 ? 'at the last event' : 'at the first event');
      return;
    }
    s.select({ id: next, pid: pid ?? undefined }, 'keyboard');
    if (this.playing()) this.resetCursor();
  }

  jump(id: number): void {
    this.store.select({ id }, 'scrubber');
    if (this.playing()) this.resetCursor();
  }

  /** Pans (never zooms) so the playhead is inside the middle 90% of the view. */
  private keepVisible(): void {
    const s = this.store;
    if (s.sel.id === null) return;
    const t = s.cols.ts[s.sel.id]!;
    const v = s.view;
    const w = v.t1 - v.t0;
    if (t >= v.t0 + w * 0.05 && t <= v.t1 - w * 0.05) return;
    const t0 = this.playing() ? t - w * 0.1 : t - w / 2;
    s.setView({ t0, t1: t0 + w }, 'scrubber');
  }

  private zoom(factor: number): void {
    const s = this.store;
    const v = s.view;
    const id = s.sel.id;
    const pt = id !== null ? s.cols.ts[id]! : NaN;
    const t = pt >= v.t0 && pt <= v.t1 ? pt : (v.t0 + v.t1) / 2;
    s.setView({ t0: t - (t - v.t0) * factor, t1: t + (v.t1 - t) * factor }, 'scrubber');
  }

  private pan(fraction: number): void {
    const v = this.store.view;
    const d = (v.t1 - v.t0) * fraction;
    this.store.setView({ t0: v.t0 + d, t1: v.t1 + d }, 'scrubber');
  }

  private key(ev: KeyboardEvent): void {
    const t = ev.target as HTMLElement | null;
    if (t !== null && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
    // A button reached with Tab: space and Enter press it, as everywhere else.
    if (t !== null && t.tagName === 'BUTTON' && (ev.key === ' ' || ev.key === 'Enter')) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    switch (ev.key) {
      case ' ':
        if (this.playing()) this.pause();
        else this.play();
        break;
      case 'ArrowRight':
        this.step(1, ev.shiftKey);
        break;
      case 'ArrowLeft':
        this.step(-1, ev.shiftKey);
        break;
      case 'g':
        this.jumpInput.focus();
        this.jumpInput.select();
        break;
      case '+':
      case '=':
      case 'w':
        this.zoom(0.8);
        break;
      case '-':
      case '_':
      case 's':
        this.zoom(1.25);
        break;
      case 'a':
        this.pan(-0.2);
        break;
      case 'd':
        this.pan(0.2);
        break;
      case '0':
        this.store.setView(this.store.fullRange(), 'scrubber');
        break;
      case '?':
        this.help.hidden = !this.help.hidden;
        break;
      case 'Escape':
        this.help.hidden = true;
        break;
      default:
        return;
    }
    ev.preventDefault();
  }

  private showPosition(): void {
    const s = this.store;
    const id = s.sel.id;
    this.pos.textContent =
      id === null
        ? `no event selected · ${s.count.toLocaleString('en')} events`
        : `#${id} / ${(s.count - 1).toLocaleString('en')} · ${formatNs(s.cols.ts[id]!)} · ${s.kindName(id)} · ${s.processLabel(s.cols.pid[id]!)}`;
    this.pos.dataset['id'] = id === null ? '' : String(id);
  }

  private flash(text: string): void {
    this.pos.textContent = text;
    setTimeout(() => this.showPosition(), 1500);
  }
}
