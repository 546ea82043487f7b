/**
 * A flame chart (canvas) of one process's calls: time across, depth down, one box per call from
 * its call event to its return or exception. Raised calls are red, unfinished ones run to the end
 * of the process's last call and are hatched. Wheel zooms around the pointer, dragging pans, a
 * click selects the call under the pointer.
 *
 * Boxes narrower than a pixel are not drawn one by one: their level gets a thin mark instead, so a
 * process with a hundred thousand calls draws as fast as one with a hundred.
 */

import type { CallNodeJson, CallTreeJson } from './callTree.js';
import { callOutcome } from './callTree.js';

interface Box {
  node: CallNodeJson;
  depth: number;
  start: number;
  end: number;
}

const ROW = 18;
const COLORS = ['#7aa6d9', '#8cc084', '#d9b36c', '#b49ad9', '#6cc3c3', '#d98fb2', '#a3b86c'];

export class FlameChart {
  readonly canvas: HTMLCanvasElement;
  private readonly tip: HTMLElement;
  /** Boxes per depth, in time order (calls of one depth never overlap). */
  private levels: Box[][] = [];
  private t0 = 0;
  private t1 = 1;
  /** The visible time window. */
  private v0 = 0;
  private v1 = 1;
  private marked: CallNodeJson | null = null;
  private drag: { x: number; v0: number; v1: number; moved: boolean } | null = null;

  constructor(
    host: HTMLElement,
    private readonly onChoose: (n: CallNodeJson) => void,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'es-flame';
    this.tip = document.createElement('div');
    this.tip.className = 'es-flame-tip';
    this.tip.hidden = true;
    host.append(this.canvas, this.tip);
    new ResizeObserver(() => this.draw()).observe(host);
    this.canvas.addEventListener('wheel', (ev) => this.onWheel(ev), { passive: false });
    this.canvas.addEventListener('mousedown', (ev) => (this.drag = { x: ev.offsetX, v0: this.v0, v1: this.v1, moved: false }));
    this.canvas.addEventListener('mousemove', (ev) => this.onMove(ev));
    this.canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
    window.addEventListener('mouseup', (ev) => this.onUp(ev));
  }

  setTree(tree: CallTreeJson | null): void {
    this.levels = [];
    if (tree === null || tree.roots.length === 0) {
      this.draw();
      return;
    }
    let lo = Infinity;
    let hi = -Infinity;
    const walk = (n: CallNodeJson, depth: number): void => {
      lo = Math.min(lo, n.ts);
      if (n.end !== null) hi = Math.max(hi, n.end.ts);
      hi = Math.max(hi, n.ts);
      for (const c of n.children) walk(c, depth + 1);
    };
    for (const r of tree.roots) walk(r, 0);
    // Unfinished calls run to the last moment the process's calls reach.
    const add = (n: CallNodeJson, depth: number): void => {
      (this.levels[depth] ??= []).push({ node: n, depth, start: n.ts, end: n.end?.ts ?? hi });
      for (const c of n.children) add(c, depth + 1);
    };
    for (const r of tree.roots) add(r, 0);
    this.t0 = lo;
    this.t1 = hi > lo ? hi : lo + 1;
    this.v0 = this.t0;
    this.v1 = this.t1;
    this.draw();
  }

  /** Outlines the call at the playhead and brings it into view. */
  mark(n: CallNodeJson | null): void {
    this.marked = n;
    if (n !== null) {
      const end = n.end?.ts ?? this.t1;
      if (end < this.v0 || n.ts > this.v1) {
        const span = this.v1 - this.v0;
        this.v0 = Math.max(this.t0, n.ts - span / 2);
        this.v1 = this.v0 + span;
      }
    }
    this.draw();
  }

  /** The call drawn at a point of the canvas (CSS pixels), if any. */
  hit(x: number, y: number): CallNodeJson | null {
    const level = this.levels[Math.floor(y / ROW)];
    if (level === undefined) return null;
    const t = this.v0 + (x / Math.max(1, this.canvas.clientWidth)) * (this.v1 - this.v0);
    // Tiny calls are hard to hit exactly: accept the nearest box within 3 px.
    const slack = (3 / Math.max(1, this.canvas.clientWidth)) * (this.v1 - this.v0);
    let lo = 0;
    let hi = level.length - 1;
    let i = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (level[mid]!.start <= t + slack) {
        i = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (const j of [i, i + 1]) {
      const b = level[j];
      if (b !== undefined && b.start - slack <= t && t <= b.end + slack) return b.node;
    }
    return null;
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  private px(t: number, w: number): number {
    return ((t - this.v0) / (this.v1 - this.v0)) * w;
  }

  private draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = Math.max(ROW * Math.max(1, this.levels.length), 40);
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.round(h * dpr);
    const g = this.canvas.getContext('2d');
    if (g === null) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px ui-monospace, monospace';
    g.textBaseline = 'middle';
    if (this.levels.length === 0) {
      g.fillStyle = '#888';
      g.fillText('no calls to draw', 8, 20);
      return;
    }
    this.levels.forEach((level, depth) => {
      const y = depth * ROW;
      let crowdedUntil = -1;
      for (const b of level) {
        if (b.end < this.v0 || b.start > this.v1) continue;
        const x0 = this.px(b.start, w);
        const x1 = this.px(b.end, w);
        if (x1 - x0 < 1) {
          // Many calls within one pixel: one mark for all of them.
          if (x0 > crowdedUntil) {
            g.fillStyle = b.node.status === 'raised' ? '#d9534f' : '#999';
            g.fillRect(Math.floor(x0), y + 1, 1, ROW - 2);
            crowdedUntil = Math.floor(x0) + 1;
          }
          continue;
        }
        const cx0 = Math.max(0, x0);
        const cw = Math.min(w, x1) - cx0;
        g.fillStyle = fill(b.node);
        g.fillRect(cx0, y + 1, cw, ROW - 2);
        if (b.node.status === 'unfinished') {
          g.strokeStyle = 'rgba(0,0,0,0.25)';
          g.beginPath();
          for (let sx = cx0 - (cx0 % 8); sx < cx0 + cw; sx += 8) {
            g.moveTo(Math.max(cx0, sx), y + ROW - 2);
            g.lineTo(Math.min(cx0 + cw, sx + 8), y + 1);
          }
          g.stroke();
        }
        if (cw > 30) {
          g.fillStyle = '#111';
          g.save();
          g.beginPath();
          g.rect(cx0, y, cw, ROW);
          g.clip();
          g.fillText(b.node.mfa ?? '?', cx0 + 3, y + ROW / 2);
          g.restore();
        }
      }
    });
    const m = this.marked;
    if (m !== null) {
      const depth = this.levels.findIndex((l) => l.some((b) => b.node === m));
      if (depth >= 0) {
        const x0 = Math.max(0, this.px(m.ts, w));
        const x1 = Math.min(w, this.px(m.end?.ts ?? this.t1, w));
        g.strokeStyle = '#000';
        g.lineWidth = 2;
        g.strokeRect(x0, depth * ROW + 1, Math.max(2, x1 - x0), ROW - 2);
        g.lineWidth = 1;
      }
    }
  }

  private onWheel(ev: WheelEvent): void {
    ev.preventDefault();
    const w = Math.max(1, this.canvas.clientWidth);
    const at = this.v0 + (ev.offsetX / w) * (this.v1 - this.v0);
    const f = Math.exp(ev.deltaY * 0.002);
    const span = Math.min(this.t1 - this.t0, Math.max(50, (this.v1 - this.v0) * f));
    this.v0 = Math.max(this.t0, at - ((at - this.v0) / (this.v1 - this.v0)) * span);
    this.v1 = Math.min(this.t1, this.v0 + span);
    this.v0 = this.v1 - span;
    this.draw();
  }

  private onMove(ev: MouseEvent): void {
    const d = this.drag;
    if (d !== null) {
      const dx = ev.offsetX - d.x;
      if (Math.abs(dx) > 3) d.moved = true;
      const dt = (dx / Math.max(1, this.canvas.clientWidth)) * (d.v1 - d.v0);
      const span = d.v1 - d.v0;
      this.v0 = Math.min(this.t1 - span, Math.max(this.t0, d.v0 - dt));
      this.v1 = this.v0 + span;
      this.draw();
      return;
    }
    const n = this.hit(ev.offsetX, ev.offsetY);
    if (n === null) {
      this.tip.hidden = true;
      this.canvas.style.cursor = 'default';
      return;
    }
    this.canvas.style.cursor = 'pointer';
    this.tip.hidden = false;
    this.tip.textContent = `${n.mfa ?? '?'}  ${callOutcome(n)}  #${n.id}`;
    this.tip.style.left = `${ev.offsetX + 12}px`;
    this.tip.style.top = `${ev.offsetY + 12}px`;
  }

  private onUp(ev: MouseEvent): void {
    const d = this.drag;
    this.drag = null;
    if (d === null || d.moved || ev.target !== this.canvas) return;
    const n = this.hit(ev.offsetX, ev.offsetY);
    if (n !== null) this.onChoose(n);
  }
}

function fill(n: CallNodeJson): string {
  if (n.status === 'raised') return '#e8726e';
  if (n.status === 'unfinished') return '#c8c8c8';
  const mod = (n.mfa ?? '').replace(/\.[^.]+\/\d+$/, '');
  let h = 0;
  for (let i = 0; i < mod.length; i++) h = (h * 31 + mod.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length]!;
}
