/**
 * The timeline: one lane per process, grouped by node and supervision group, on a 2D canvas.
 *
 * In a lane, calls are nested spans (call → return/exception, one row per depth), other events are
 * marks colored by kind, crashes (exceptions, exits with an abnormal reason) are red, a process
 * that took over the registered name of an earlier one (a restart) is marked ↻, and messages are
 * arrows from a send to its receive.
 *
 * Level of detail, so a million events pan smoothly: only the lanes on screen are drawn; a lane with
 * more events in view than it has pixels is drawn as a density strip, one bar per 2-pixel bucket,
 * each bucket's count being two binary searches in the lane's sorted timestamps (so the summary is
 * exact at every zoom level, with no precomputed pyramid to keep up to date while a recording
 * grows); spans narrower than a pixel become 1-pixel ticks; arrows are drawn only when the view
 * holds few enough events for them to be read. Marks of one color are filled as one path.
 */

import type { EventDetail, ProcessMeta } from './api.js';
import { NONE, type Store } from './store.js';
import { KIND } from './store.js';
import { mountMinimap } from './minimap.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export interface TimelineHandle {
  /** Frames drawn so far (tests and the benchmark check that drawing happens). */
  frames(): number;
  /** Asks for a redraw on the next animation frame. */
  invalidate(): void;
  /** Scrolls the lanes so this process's lane is on screen. */
  revealPid(pid: number): void;
  /** The screen position (CSS pixels, relative to the canvas) of an event's mark, if drawn. */
  positionOf(id: number): { x: number; y: number } | null;
  /** Zooms around a time (factor < 1 zooms in). */
  zoom(factor: number, aroundT?: number): void;
  /** Pans by a fraction of the visible width (positive = later). */
  pan(fraction: number): void;
  /** The lanes in drawing order, with their top in content pixels (before scrolling). */
  lanes(): { pid: number; label: string; y: number; height: number }[];
  /** Events drawn as crashes (exceptions are crashes by kind and not listed). */
  crashes(): number[];
  /** First events of processes that took over an earlier process's registered name. */
  restarts(): number[];
  /** Resolves once the exits have been read and crashes are known. */
  crashesKnown(): Promise<void>;
  /** How long the last frame's drawing took, in ms (the benchmark's frame cost). */
  lastDrawMs(): number;
  /** How far the lanes are scrolled (content pixels above the top of the canvas). */
  scrollTop(): number;
}

/** `performance.mark` name set when the first frame with lanes is drawn (the benchmark reads it). */
export const FIRST_FRAME_MARK = 'elixir-scope:first-timeline-frame';

/** Colors of event marks by kind code. */
export const KIND_COLORS: Readonly<Record<number, string>> = {
  [KIND.call]: '#5b8def',
  [KIND.return]: '#5b8def',
  [KIND.exception]: '#ff4d4d',
  [KIND.send]: '#4fc3f7',
  [KIND.send_to_dead]: '#ff8a65',
  [KIND.receive]: '#81c784',
  [KIND.spawn]: '#ba68c8',
  [KIND.spawned]: '#ba68c8',
  [KIND.exit]: '#9e9e9e',
  [KIND.link]: '#78909c',
  [KIND.unlink]: '#78909c',
  [KIND.getting_linked]: '#78909c',
  [KIND.getting_unlinked]: '#78909c',
  [KIND.register]: '#4db6ac',
  [KIND.unregister]: '#4db6ac',
  [KIND.state_init]: '#ffb74d',
  [KIND.state]: '#ffb74d',
  [KIND.limit]: '#e57373',
  [KIND.line]: '#aed581',
  [KIND.locals]: '#aed581',
  [KIND.expr]: '#aed581',
  [KIND.probe]: '#aed581',
  [KIND.tail_call]: '#5b8def',
};
const CRASH = '#ff4d4d';
const ACCENT = '#f0b44c';

export function mountTimeline(host: HTMLElement, store: Store): TimelineHandle {
  return new Timeline(host, store).handle();
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

const GUTTER = 170; // lane labels
const LANE_H = 26;
const HEADER_H = 16;
const SPAN_ROWS = 4;
const SPAN_ROW_H = 4;
const MARK_Y = 2 + SPAN_ROWS * SPAN_ROW_H + 1;
const MARK_H = 6;
const DENSITY_BUCKET = 2; // px
const ZOOM_MS = 120;
/** Arrows are drawn when the lanes on screen hold at most this many events in view. */
const ARROW_EVENTS = 4000;
const SPAN_PALETTE = ['#3d6fd6', '#4a8bd0', '#3fa3b5', '#3f9e7f', '#5c9c4a', '#8d9a3c', '#b08a3a', '#b3693f', '#a8515f', '#94508f', '#6e58a8', '#5563b8'];

type Row = { kind: 'header'; y: number; text: string } | { kind: 'lane'; y: number; pid: number };

interface Hit {
  id: number | null;
  pid: number | null;
  /** In the label gutter. */
  label: boolean;
}

class Timeline {
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly tip: HTMLDivElement;
  private rows: Row[] = [];
  private laneY = new Map<number, number>();
  private contentH = 0;
  private scrollY = 0;
  private w = 0;
  private h = 0;
  private dpr = 1;
  private dirty = true;
  private raf = 0;
  private frameCount = 0;
  private marked = false;
  private crashes = new Set<number>();
  /** First event of each process that took over a name held by an earlier process. */
  private restarts = new Map<number, string>();
  private readonly eventLines = new Map<number, string>();
  private hoverId: number | null = null;
  private minimap: { invalidate(): void } | null = null;
  private crashesRead: Promise<void> = Promise.resolve();
  private drawMs = 0;
  /** A wheel zoom in progress (smoothZoom). */
  private anim: { from: { t0: number; t1: number }; to: { t0: number; t1: number }; start: number } | null = null;
  /** Lane labels cut to the gutter's width (measuring text every frame is not free). */
  private readonly labelCache = new Map<number, string>();

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    host.classList.add('timeline');
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'timeline-canvas';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('aria-label', 'timeline of processes; drag to pan, wheel to zoom');
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('this browser gives no 2D canvas context; the timeline needs one');
    this.ctx = ctx;
    this.tip = document.createElement('div');
    this.tip.className = 'timeline-tip';
    this.tip.hidden = true;
    const main = document.createElement('div');
    main.className = 'timeline-main';
    main.append(this.canvas, this.tip);
    const mini = document.createElement('div');
    mini.className = 'timeline-minimap';
    host.append(main, mini);
    this.minimap = mountMinimap(mini, store, () => this.crashes);

    this.layoutRows();
    this.findRestarts();
    new ResizeObserver(() => this.resize()).observe(main);
    this.resize();
    this.bindInput();
    store.on('view', (e) => {
      // Any other change of the view (a drag, a key, the minimap) ends a zoom animation.
      if (e.origin !== 'timeline-zoom') this.anim = null;
      // What the tooltip describes has moved from under the pointer.
      this.hideTip();
      this.invalidate();
    });
    store.on('select', (e) => {
      if (e.origin !== 'timeline' && e.sel.pid !== null && e.sel.pid !== e.prev.pid) this.revealPid(e.sel.pid);
      this.invalidate();
    });
    // A live recording: a view showing the latest events keeps showing them as more arrive.
    let lastFull = store.fullRange();
    store.on('grow', () => {
      const full = store.fullRange();
      const v = store.view;
      const slack = (lastFull.t1 - lastFull.t0) * 0.02;
      if (v.t1 >= lastFull.t1 - slack) {
        if (v.t0 <= lastFull.t0 + slack) store.setView(full, 'live');
        else store.setView({ t0: v.t0 + (full.t1 - lastFull.t1), t1: full.t1 }, 'live');
      }
      lastFull = full;
      this.layoutRows();
      this.findRestarts();
      this.invalidate();
    });
    store.on('meta', () => {
      this.layoutRows();
      this.findRestarts();
      this.invalidate();
    });
    this.crashesRead = this.findCrashes();
  }

  handle(): TimelineHandle {
    return {
      frames: () => this.frameCount,
      invalidate: () => this.invalidate(),
      revealPid: (pid) => this.revealPid(pid),
      positionOf: (id) => this.positionOf(id),
      zoom: (f, t) => this.zoom(f, t),
      pan: (f) => this.pan(f),
      lanes: () =>
        this.rows.flatMap((r) => (r.kind === 'lane' ? [{ pid: r.pid, label: this.store.processLabel(r.pid), y: r.y, height: LANE_H }] : [])),
      crashes: () => [...this.crashes].sort((a, b) => a - b),
      restarts: () => [...this.restarts.keys()].sort((a, b) => a - b),
      crashesKnown: () => this.crashesRead,
      lastDrawMs: () => this.drawMs,
      scrollTop: () => this.scrollY,
    };
  }

  invalidate(): void {
    this.dirty = true;
    if (this.raf === 0) this.raf = requestAnimationFrame(() => this.frame());
  }

  // --------------------------------------------------------------------------------------------
  // Layout
  // --------------------------------------------------------------------------------------------

  /** Lanes sorted by node, then supervision group, then first appearance; a header per group. */
  private layoutRows(): void {
    this.labelCache.clear();
    // The store's own index, not meta's counts: while live, meta is fetched again only when
    // events name a process it lacks, so a known process's count there can be stale.
    const procs = [...this.store.meta.processes].filter((p) => this.store.idsOfPid(p.index).length > 0);
    const first = (p: ProcessMeta): number => this.store.idsOfPid(p.index)[0]!;
    // A process alone in its group with no known spawner is not a tree: such processes share one
    // group per node instead of a header each.
    const size = new Map<string, number>();
    for (const p of procs) if (p.group !== null) size.set(p.group, (size.get(p.group) ?? 0) + 1);
    const loose = (p: ProcessMeta): boolean => p.group === null || (p.ancestors.length === 0 && size.get(p.group) === 1);
    const groupOf = (p: ProcessMeta): string => (loose(p) ? `${p.node} · processes with no known spawner` : p.group!);
    procs.sort(
      (a, b) =>
        (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) ||
        Number(loose(a)) - Number(loose(b)) ||
        cmpGroup(groupOf(a), groupOf(b)) ||
        first(a) - first(b),
    );
    const rows: Row[] = [];
    const laneY = new Map<number, number>();
    let y = 0;
    let cur: string | null = null;
    for (const p of procs) {
      const key = groupOf(p);
      if (key !== cur) {
        rows.push({ kind: 'header', y, text: key });
        y += HEADER_H;
        cur = key;
      }
      rows.push({ kind: 'lane', y, pid: p.index });
      laneY.set(p.index, y);
      y += LANE_H;
    }
    this.rows = rows;
    this.laneY = laneY;
    this.contentH = y;
  }

  private findRestarts(): void {
    const byName = new Map<string, number>();
    this.restarts.clear();
    const firsts = this.store.meta.processes
      .map((p) => ({ p, first: this.store.idsOfPid(p.index)[0] }))
      .filter((x): x is { p: ProcessMeta; first: number } => x.first !== undefined && x.p.name !== null)
      .sort((a, b) => a.first - b.first);
    for (const { p, first } of firsts) {
      if (byName.has(p.name!)) this.restarts.set(first, p.name!);
      byName.set(p.name!, p.index);
    }
    // The supervision trees also know restarts of children without a registered name (restartOf).
    for (const p of this.store.meta.processes) {
      const first = p.restartOf != null ? this.store.idsOfPid(p.index)[0] : undefined;
      if (first !== undefined && !this.restarts.has(first)) this.restarts.set(first, p.name ?? p.childId ?? p.pid);
    }
  }

  /** Exits whose reason is not normal/shutdown, read from the server's history lines (the reason
   *  is a payload term, which the columns do not carry). Exceptions are crashes by kind. */
  private async findCrashes(): Promise<void> {
    let from = 0;
    try {
      for (;;) {
        const page = await this.store.api.getJson<{ ids: number[]; lines: string[]; next: number | null }>(
          `/api/events?from=${from}&limit=5000&kinds=exit&dir=next`,
        );
        page.ids.forEach((id, i) => {
          if (isAbnormalExit(page.lines[i] ?? '')) this.crashes.add(id);
        });
        if (page.next === null) break;
        from = page.next;
      }
    } catch (err) {
      console.error('elixir-scope: could not read process exits to mark crashes; only exceptions are marked red', err);
    }
    this.minimap?.invalidate();
    this.invalidate();
  }

  private resize(): void {
    const r = this.canvas.parentElement!.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.w = Math.max(GUTTER + 50, Math.floor(r.width));
    this.h = Math.max(40, Math.floor(r.height));
    this.canvas.width = Math.floor(this.w * this.dpr);
    this.canvas.height = Math.floor(this.h * this.dpr);
    this.canvas.style.width = `${this.w}px`;
    this.canvas.style.height = `${this.h}px`;
    this.clampScroll();
    this.invalidate();
  }

  private clampScroll(): void {
    this.scrollY = Math.max(0, Math.min(this.scrollY, Math.max(0, this.contentH - this.h + 4)));
  }

  revealPid(pid: number): void {
    const y = this.laneY.get(pid);
    if (y === undefined) return;
    if (y < this.scrollY || y + LANE_H > this.scrollY + this.h) {
      this.scrollY = y - this.h / 3;
      this.clampScroll();
      this.invalidate();
    }
  }

  private get plotW(): number {
    return this.w - GUTTER;
  }

  private xOf(t: number): number {
    const v = this.store.view;
    return GUTTER + ((t - v.t0) / (v.t1 - v.t0)) * this.plotW;
  }

  private tOf(x: number): number {
    const v = this.store.view;
    return v.t0 + ((x - GUTTER) / this.plotW) * (v.t1 - v.t0);
  }

  // --------------------------------------------------------------------------------------------
  // Drawing
  // --------------------------------------------------------------------------------------------

  private frame(): void {
    this.raf = 0;
    if (!this.dirty) return;
    this.dirty = false;
    const t0 = performance.now();
    this.draw();
    this.drawMs = performance.now() - t0;
    this.frameCount++;
    if (!this.marked && this.rows.length > 0) {
      this.marked = true;
      performance.mark(FIRST_FRAME_MARK);
    }
  }

  private draw(): void {
    const { ctx, store } = this;
    const c = store.cols;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#15171c';
    ctx.fillRect(0, 0, this.w, this.h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const { t0, t1 } = store.view;
    const visible = this.visibleRows();
    const sel = store.sel;

    // Selected lane background first, so everything else draws over it.
    for (const r of visible) {
      if (r.kind === 'lane' && r.pid === sel.pid) {
        ctx.fillStyle = '#232833';
        ctx.fillRect(0, r.y - this.scrollY, this.w, LANE_H);
      }
    }

    const marks = new Map<string, number[]>(); // color → x,y,w,h quads
    const quad = (color: string, x: number, y: number, w: number, h: number): void => {
      let a = marks.get(color);
      if (a === undefined) marks.set(color, (a = []));
      a.push(x, y, w, h);
    };
    const labels: { x: number; y: number; w: number; text: string }[] = [];
    let inView = 0;
    const detailLanes: { pid: number; a: number; b: number; y: number }[] = [];

    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, this.plotW, this.h);
    ctx.clip();
    for (const r of visible) {
      if (r.kind !== 'lane') continue;
      const y = r.y - this.scrollY;
      const base = store.pidStart[r.pid]!;
      const a = base + store.pidIndexAtOrAfter(r.pid, t0);
      const b = base + store.pidIndexAtOrAfter(r.pid, t1);
      const n = b - a;
      inView += n;
      if (n > this.plotW / 2) {
        this.drawDensity(r.pid, y, quad);
        continue;
      }
      detailLanes.push({ pid: r.pid, a, b, y });
      // Calls open when the view starts: the parent chain of the first event in view.
      const first = a < store.pidStart[r.pid + 1]! ? store.pidIds[a]! : NONE;
      if (first !== NONE) {
        let p = c.parent[first]!;
        const k = store.kindOf(first);
        if ((k === KIND.return || k === KIND.exception) && c.link[first]! !== NONE) p = c.link[first]!;
        for (let guard = 0; p !== NONE && guard < 256; guard++) {
          if (c.ts[p]! < t0) this.drawSpan(p, y, quad, labels);
          p = c.parent[p]!;
        }
      } else if (a > base) {
        // Nothing of this lane in view: a call still open at the lane's last event spans the view.
        let p = c.parent[store.pidIds[a - 1]!]!;
        const last = store.pidIds[a - 1]!;
        if (store.kindOf(last) === KIND.call && store.endOf[last] === NONE) p = last;
        for (let guard = 0; p !== NONE && guard < 256; guard++) {
          if (store.spanEnd(p) >= t0) this.drawSpan(p, y, quad, labels);
          p = c.parent[p]!;
        }
      }
      for (let i = a; i < b; i++) {
        const id = store.pidIds[i]!;
        const k = store.kindOf(id);
        if (k === KIND.call) this.drawSpan(id, y, quad, labels);
        else if (k === KIND.return) continue;
        else {
          const x = this.xOf(c.ts[id]!);
          const crash = k === KIND.exception || this.crashes.has(id);
          quad(crash ? CRASH : (KIND_COLORS[k] ?? '#ccc'), x - 1, y + MARK_Y, crash ? 3 : 2, MARK_H);
        }
      }
    }
    for (const [color, q] of marks) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let i = 0; i < q.length; i += 4) ctx.rect(q[i]!, q[i + 1]!, q[i + 2]!, q[i + 3]!);
      ctx.fill();
    }
    ctx.fillStyle = '#fff';
    for (const l of labels) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(l.x, l.y - 3, l.w, 7);
      ctx.clip();
      ctx.font = '8px system-ui, sans-serif';
      ctx.fillText(l.text, l.x + 2, l.y);
      ctx.restore();
    }
    // Crashes and restarts of visible lanes stay visible in dense lanes too.
    for (const r of visible) {
      if (r.kind !== 'lane') continue;
      const y = r.y - this.scrollY;
      const ids = store.idsOfPid(r.pid);
      if (ids.length > 0 && this.restarts.has(ids[0]!)) {
        const x = this.xOf(c.ts[ids[0]!]!);
        ctx.fillStyle = ACCENT;
        ctx.fillText('↻', x - 4, y + LANE_H / 2);
      }
    }
    ctx.fillStyle = CRASH;
    for (const id of this.crashes) {
      const y = this.laneY.get(c.pid[id]!);
      if (y === undefined || y + LANE_H < this.scrollY || y > this.scrollY + this.h) continue;
      const x = this.xOf(c.ts[id]!);
      if (x < GUTTER - 4 || x > this.w + 4) continue;
      ctx.beginPath();
      ctx.moveTo(x, y - this.scrollY + 3);
      ctx.lineTo(x + 4, y - this.scrollY + 11);
      ctx.lineTo(x - 4, y - this.scrollY + 11);
      ctx.fill();
    }
    if (inView <= ARROW_EVENTS) this.drawArrows(detailLanes);
    this.drawPlayhead();
    ctx.restore();
    this.drawGutter(visible);
    this.drawAxis();
    this.drawScrollbar();
  }

  /** Where the lanes on screen are among all lanes (there is no native scrollbar on a canvas). */
  private drawScrollbar(): void {
    if (this.contentH <= this.h) return;
    const { ctx } = this;
    const track = this.h - 14;
    const len = Math.max(16, (this.h / this.contentH) * track);
    const y = (this.scrollY / Math.max(1, this.contentH - this.h)) * (track - len);
    ctx.fillStyle = 'rgba(138,147,163,0.45)';
    ctx.fillRect(this.w - 5, y, 4, len);
  }

  private drawSpan(
    id: number,
    laneTop: number,
    quad: (color: string, x: number, y: number, w: number, h: number) => void,
    labels: { x: number; y: number; w: number; text: string }[],
  ): void {
    const s = this.store;
    const x0 = Math.max(GUTTER - 2, this.xOf(s.cols.ts[id]!));
    const x1 = Math.min(this.w + 2, this.xOf(s.spanEnd(id)));
    const d = Math.min(s.depth[id]!, SPAN_ROWS - 1);
    const y = laneTop + 2 + d * SPAN_ROW_H;
    const raised = s.endOf[id] !== NONE && s.kindOf(s.endOf[id]!) === KIND.exception;
    const color = raised ? CRASH : SPAN_PALETTE[s.cols.mfa[id]! % SPAN_PALETTE.length]!;
    // Narrower than a pixel: a 1-pixel tick, so many tiny calls still show as density.
    quad(color, x0, y, Math.max(1, x1 - x0), SPAN_ROW_H - 0.5);
    if (x1 - x0 > 60 && d === 0) {
      const text = s.mfaText(id);
      if (text !== null) labels.push({ x: x0, y: y + 2, w: x1 - x0, text });
    }
  }

  private drawDensity(pid: number, y: number, quad: (color: string, x: number, y: number, w: number, h: number) => void): void {
    const s = this.store;
    const lo = s.pidStart[pid]!;
    const hi = s.pidStart[pid + 1]!;
    const ts = s.pidTs;
    const v = s.view;
    const perPx = (v.t1 - v.t0) / this.plotW;
    let i = lo + s.pidIndexAtOrAfter(pid, v.t0);
    for (let x = GUTTER; x < this.w && i < hi; x += DENSITY_BUCKET) {
      const tEnd = v.t0 + (x + DENSITY_BUCKET - GUTTER) * perPx;
      // Exponential then binary search: buckets are visited left to right.
      let step = 1;
      let j = i;
      while (j + step < hi && ts[j + step]! < tEnd) {
        j += step;
        step *= 2;
      }
      let a = j;
      let b = Math.min(hi, j + step);
      while (a < b) {
        const m = (a + b) >>> 1;
        if (ts[m]! < tEnd) a = m + 1;
        else b = m;
      }
      const n = a - i;
      i = a;
      if (n === 0) continue;
      const level = Math.min(7, Math.ceil(Math.log2(n + 1)));
      const hgt = 3 + level * 2.5;
      quad(DENSITY_COLORS[level]!, x, y + LANE_H - 2 - hgt, DENSITY_BUCKET, hgt);
    }
  }

  private drawArrows(lanes: { pid: number; a: number; b: number; y: number }[]): void {
    const { ctx, store } = this;
    const c = store.cols;
    const { t0, t1 } = store.view;
    const pairs: [number, number][] = [];
    const onScreen = new Set(lanes.map((l) => l.pid));
    for (const l of lanes) {
      for (let i = l.a; i < l.b; i++) {
        const id = store.pidIds[i]!;
        const k = store.kindOf(id);
        if (k === KIND.send && store.recvOf[id] !== NONE) pairs.push([id, store.recvOf[id]!]);
        else if (k === KIND.receive && c.link[id] !== NONE) {
          const s = c.link[id]!;
          const sIn = c.ts[s]! >= t0 && c.ts[s]! < t1 && onScreen.has(c.pid[s]!);
          if (!sIn) pairs.push([s, id]);
        }
      }
    }
    ctx.strokeStyle = 'rgba(79,195,247,0.7)';
    ctx.fillStyle = 'rgba(79,195,247,0.9)';
    ctx.lineWidth = 1;
    const mid = LANE_H / 2;
    for (const [s, r] of pairs) {
      const ys = this.laneY.get(c.pid[s]!);
      const yr = this.laneY.get(c.pid[r]!);
      if (ys === undefined || yr === undefined) continue;
      const x0 = this.xOf(c.ts[s]!);
      const y0 = ys - this.scrollY + mid;
      const x1 = this.xOf(c.ts[r]!);
      const y1 = yr - this.scrollY + mid;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      const ang = Math.atan2(y1 - y0, x1 - x0);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - 6 * Math.cos(ang - 0.4), y1 - 6 * Math.sin(ang - 0.4));
      ctx.lineTo(x1 - 6 * Math.cos(ang + 0.4), y1 - 6 * Math.sin(ang + 0.4));
      ctx.fill();
    }
  }

  private drawPlayhead(): void {
    const { ctx, store } = this;
    const id = store.sel.id;
    if (id === null || id >= store.count) return;
    // On a whole pixel, so the line is crisp rather than two half-blended columns.
    const x = Math.round(this.xOf(store.cols.ts[id]!));
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x + 0.5, 0);
    ctx.lineTo(x + 0.5, this.h);
    ctx.stroke();
    const y = this.laneY.get(store.cols.pid[id]!);
    if (y !== undefined) {
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 4, y - this.scrollY + 2, 8, LANE_H - 4);
    }
  }

  private drawGutter(visible: Row[]): void {
    const { ctx, store } = this;
    ctx.fillStyle = '#1b1e25';
    ctx.fillRect(0, 0, GUTTER, this.h);
    for (const r of visible) {
      const y = r.y - this.scrollY;
      if (r.kind === 'header') {
        ctx.fillStyle = '#20242d';
        ctx.fillRect(0, y, this.w, HEADER_H);
        ctx.fillStyle = '#8a93a3';
        ctx.fillText(r.text, 6, y + HEADER_H / 2);
        continue;
      }
      const p = store.process(r.pid);
      const ids = store.idsOfPid(r.pid);
      const restarted = ids.length > 0 && this.restarts.has(ids[0]!);
      ctx.fillStyle = r.pid === store.sel.pid ? ACCENT : '#d8dde6';
      let label = this.labelCache.get(r.pid);
      if (label === undefined) {
        label = fit(ctx, store.processLabel(r.pid) + (restarted ? ' ↻' : ''), GUTTER - 12);
        this.labelCache.set(r.pid, label);
      }
      ctx.fillText(label, 8, y + LANE_H / 2 - 4);
      if (p !== undefined && p.name !== null) {
        ctx.fillStyle = '#8a93a3';
        ctx.font = '9px system-ui, sans-serif';
        ctx.fillText(p.pid, 8, y + LANE_H / 2 + 7);
        ctx.font = '11px system-ui, sans-serif';
      }
      ctx.fillStyle = '#2a2f39';
      ctx.fillRect(0, y + LANE_H - 1, this.w, 1);
    }
    ctx.fillStyle = '#2a2f39';
    ctx.fillRect(GUTTER - 1, 0, 1, this.h);
  }

  private drawAxis(): void {
    const { ctx } = this;
    const { t0, t1 } = this.store.view;
    const step = niceStep((t1 - t0) / Math.max(1, this.plotW / 110));
    ctx.fillStyle = 'rgba(21,23,28,0.85)';
    ctx.fillRect(GUTTER, this.h - 14, this.plotW, 14);
    ctx.fillStyle = '#8a93a3';
    ctx.font = '10px system-ui, sans-serif';
    for (let t = Math.ceil(t0 / step) * step; t < t1; t += step) {
      const x = this.xOf(t);
      ctx.fillRect(x, this.h - 14, 1, 4);
      ctx.fillText(formatNs(t), x + 3, this.h - 6);
    }
  }

  private visibleRows(): Row[] {
    // Rows are sorted by y: binary search the first on screen.
    const top = this.scrollY;
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      const r = this.rows[m]!;
      if (r.y + (r.kind === 'lane' ? LANE_H : HEADER_H) <= top) lo = m + 1;
      else hi = m;
    }
    const out: Row[] = [];
    for (let i = lo; i < this.rows.length && this.rows[i]!.y < top + this.h; i++) out.push(this.rows[i]!);
    return out;
  }

  positionOf(id: number): { x: number; y: number } | null {
    const s = this.store;
    if (id < 0 || id >= s.count) return null;
    const y = this.laneY.get(s.cols.pid[id]!);
    if (y === undefined) return null;
    const x = this.xOf(s.cols.ts[id]!);
    const k = s.kindOf(id);
    const yy = k === KIND.call ? y + 2 + Math.min(s.depth[id]!, SPAN_ROWS - 1) * SPAN_ROW_H + 1.5 : y + MARK_Y + MARK_H / 2;
    return { x, y: yy - this.scrollY };
  }

  // --------------------------------------------------------------------------------------------
  // Input
  // --------------------------------------------------------------------------------------------

  /**
   * Zooms towards a target view over a few frames (a mouse wheel's notches are 25% steps: jumping
   * by them loses the eye). Notches arriving meanwhile compound on the target, not on the view in
   * between; t0 and t1 move linearly, which keeps the time under the cursor in place all along.
   */
  private smoothZoom(factor: number, aroundT: number | undefined): void {
    const from = this.store.view;
    const base = this.anim?.to ?? from;
    const t = aroundT ?? (base.t0 + base.t1) / 2;
    const to = { t0: t - (t - base.t0) * factor, t1: t + (base.t1 - t) * factor };
    const start = performance.now();
    this.anim = { from, to, start };
    const step = (now: number): void => {
      const a = this.anim;
      if (a === null || a.start !== start) return;
      const k = Math.min(1, (now - a.start) / ZOOM_MS);
      const e = 1 - (1 - k) * (1 - k) * (1 - k);
      this.store.setView({ t0: a.from.t0 + (a.to.t0 - a.from.t0) * e, t1: a.from.t1 + (a.to.t1 - a.from.t1) * e }, 'timeline-zoom');
      if (k < 1) requestAnimationFrame(step);
      else this.anim = null;
    };
    requestAnimationFrame(step);
  }

  zoom(factor: number, aroundT?: number): void {
    this.anim = null;
    const v = this.store.view;
    const t = aroundT ?? (v.t0 + v.t1) / 2;
    this.store.setView({ t0: t - (t - v.t0) * factor, t1: t + (v.t1 - t) * factor }, 'timeline');
  }

  pan(fraction: number): void {
    const v = this.store.view;
    const d = (v.t1 - v.t0) * fraction;
    this.store.setView({ t0: v.t0 + d, t1: v.t1 + d }, 'timeline');
  }

  private bindInput(): void {
    const cv = this.canvas;
    cv.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      if (ev.shiftKey || ev.offsetX < GUTTER || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        // Over the labels (or with shift) the wheel scrolls the lanes; sideways it pans.
        if (ev.shiftKey || ev.offsetX < GUTTER) {
          this.hideTip();
          this.scrollY += ev.deltaY;
          this.clampScroll();
          this.invalidate();
        } else this.pan(ev.deltaX / this.plotW);
        return;
      }
      const x = ev.offsetX;
      const t = x > GUTTER ? this.tOf(x) : undefined;
      const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
      this.smoothZoom(Math.exp((ev.deltaY * unit) / 400), t);
    }, { passive: false });

    let drag: { x: number; y: number; t0: number; t1: number; sy: number; moved: boolean } | null = null;
    cv.addEventListener('pointerdown', (ev) => {
      cv.focus();
      cv.setPointerCapture(ev.pointerId);
      const v = this.store.view;
      drag = { x: ev.offsetX, y: ev.offsetY, t0: v.t0, t1: v.t1, sy: this.scrollY, moved: false };
    });
    cv.addEventListener('pointermove', (ev) => {
      if (drag === null) {
        this.hover(ev.offsetX, ev.offsetY);
        return;
      }
      const dx = ev.offsetX - drag.x;
      const dy = ev.offsetY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      this.tip.hidden = true;
      const dt = (dx / this.plotW) * (drag.t1 - drag.t0);
      this.store.setView({ t0: drag.t0 - dt, t1: drag.t1 - dt }, 'timeline');
      this.scrollY = drag.sy - dy;
      this.clampScroll();
      this.invalidate();
    });
    cv.addEventListener('pointerup', (ev) => {
      const d = drag;
      drag = null;
      if (d === null || d.moved) return;
      const hit = this.hitTest(ev.offsetX, ev.offsetY);
      if (hit.label && hit.pid !== null) this.store.select({ pid: hit.pid }, 'timeline');
      else if (hit.id !== null) this.store.select({ id: hit.id }, 'timeline');
    });
    cv.addEventListener('pointerleave', () => {
      this.tip.hidden = true;
      this.hoverId = null;
    });
    // Zoom, pan and stepping keys are the page's (scrubber.ts); lane scrolling needs the canvas.
    cv.addEventListener('keydown', (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === 'PageDown') this.scrollBy(this.h * 0.8);
      else if (ev.key === 'PageUp') this.scrollBy(-this.h * 0.8);
      else return;
      ev.preventDefault();
    });
  }

  private scrollBy(dy: number): void {
    this.scrollY += dy;
    this.clampScroll();
    this.invalidate();
  }

  /** What is under a point: a span at its depth row, else the nearest mark within 6 px. */
  private hitTest(x: number, y: number): Hit {
    const ay = y + this.scrollY;
    let row: Row | undefined;
    for (const r of this.visibleRows()) {
      const hgt = r.kind === 'lane' ? LANE_H : HEADER_H;
      if (ay >= r.y && ay < r.y + hgt) row = r;
    }
    if (row === undefined || row.kind !== 'lane') return { id: null, pid: null, label: false };
    if (x < GUTTER) return { id: null, pid: row.pid, label: true };
    const s = this.store;
    const c = s.cols;
    const t = this.tOf(x);
    const perPx = (s.view.t1 - s.view.t0) / this.plotW;
    const inLane = ay - row.y;
    const base = s.pidStart[row.pid]!;
    const end = s.pidStart[row.pid + 1]!;
    if (inLane < MARK_Y) {
      const d = Math.floor((inLane - 2) / SPAN_ROW_H);
      // The innermost call at depth d covering t: walk up from the last event at or before t.
      let i = base + s.pidIndexAtOrAfter(row.pid, t + perPx) - 1;
      if (i >= base) {
        let p = s.pidIds[i]!;
        const k = s.kindOf(p);
        // A return's call ended at or before t; the enclosing call (its parent) may still cover t.
        if (k !== KIND.call) p = c.parent[p]!;
        for (let guard = 0; p !== NONE && guard < 1024; guard++) {
          const pd = Math.min(s.depth[p]!, SPAN_ROWS - 1);
          if (pd === d && s.spanEnd(p) >= t - perPx) return { id: p, pid: row.pid, label: false };
          if (s.depth[p]! < d) break;
          p = c.parent[p]!;
        }
      }
    }
    // Nearest event of the lane within 6 px.
    const lo = base + s.pidIndexAtOrAfter(row.pid, t - 6 * perPx);
    const hi = base + s.pidIndexAtOrAfter(row.pid, t + 6 * perPx);
    let best: number | null = null;
    let bestD = Infinity;
    for (let i = lo; i < hi && i < end; i++) {
      const id = s.pidIds[i]!;
      const dd = Math.abs(c.ts[id]! - t);
      if (dd < bestD) {
        bestD = dd;
        best = id;
      }
      if (i - lo > 10000) break;
    }
    return { id: best, pid: row.pid, label: false };
  }

  private hover(x: number, y: number): void {
    const hit = this.hitTest(x, y);
    const id = hit.id;
    if (id === null) {
      this.tip.hidden = true;
      this.hoverId = null;
      if (hit.label && hit.pid !== null) this.showTip(x, y, describeProcess(this.store, hit.pid));
      return;
    }
    if (id === this.hoverId && !this.tip.hidden) {
      this.moveTip(x, y);
      return;
    }
    this.hoverId = id;
    const known = this.eventLines.get(id);
    const head = `#${id} ${this.store.kindName(id)} in ${this.store.processLabel(this.store.cols.pid[id]!)}`;
    this.showTip(x, y, known ?? head);
    if (known !== undefined) return;
    this.store.api
      .getJson<EventDetail>(`/api/event/${id}`)
      .then((e) => {
        const text = `${head}${e.line !== null ? ` (source line ${e.line})` : ''}\n${e.text.trim()}`;
        if (this.eventLines.size > 500) this.eventLines.clear();
        this.eventLines.set(id, text);
        if (this.hoverId === id) this.showTip(x, y, text);
      })
      .catch((err: unknown) => {
        if (this.hoverId === id) this.showTip(x, y, `${head}\n(could not load the event: ${String(err)})`);
      });
  }

  private showTip(x: number, y: number, text: string): void {
    this.tip.textContent = text;
    this.tip.hidden = false;
    this.moveTip(x, y);
  }

  private hideTip(): void {
    this.tip.hidden = true;
    this.hoverId = null;
  }

  private moveTip(x: number, y: number): void {
    const left = Math.min(x + 14, this.w - 320);
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${y + 14 > this.h - 60 ? y - 60 : y + 14}px`;
  }
}

const DENSITY_COLORS = ['#2b3a55', '#2f4468', '#35507c', '#3b5d91', '#4369a6', '#4c77bb', '#5885cf', '#6a95e0'];

function cmpGroup(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** An exit is a crash unless its reason is normal, shutdown or {shutdown, _}. */
export function isAbnormalExit(line: string): boolean {
  const m = /\(Reason: (.*)\)\s*$/.exec(line);
  if (m === null) return false;
  const r = m[1]!.trim();
  return !(r === ':normal' || r === ':shutdown' || r.startsWith('{:shutdown,') || r === 'normal' || r === 'shutdown');
}

function describeProcess(s: Store, pid: number): string {
  const p = s.process(pid);
  if (p === undefined) return `process ${pid}`;
  return [
    `${p.name ?? p.pid}${p.name !== null ? ` (${p.pid})` : ''} on ${p.node}`,
    p.initialCall !== null ? `started as ${p.initialCall}` : '',
    p.first === null ? 'no events' : `${p.count.toLocaleString('en')} events, #${p.first} … #${p.last}`,
    p.group !== null ? `group ${p.group}` : '',
  ]
    .filter((x) => x !== '')
    .join('\n');
}

function fit(ctx: CanvasRenderingContext2D, text: string, w: number): string {
  if (ctx.measureText(text).width <= w) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const m = (lo + hi + 1) >>> 1;
    if (ctx.measureText(text.slice(0, m) + '…').width <= w) lo = m;
    else hi = m - 1;
  }
  return text.slice(0, lo) + '…';
}

function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** ns since the start as people read it: 1.5s, 12.3ms, 45µs, 800ns. */
export function formatNs(t: number): string {
  const a = Math.abs(t);
  if (a >= 1e9) return `${+(t / 1e9).toFixed(3)}s`;
  if (a >= 1e6) return `${+(t / 1e6).toFixed(3)}ms`;
  if (a >= 1e3) return `${+(t / 1e3).toFixed(3)}µs`;
  return `${Math.round(t)}ns`;
}
