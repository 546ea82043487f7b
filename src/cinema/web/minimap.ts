/**
 * The minimap: the whole recording's event density over time, crashes as red ticks, the playhead,
 * and the visible range as a rectangle that can be dragged (or clicked to jump there).
 *
 * The histogram is computed once per grow (one pass over the running-maximum timestamps, O(n)),
 * so drawing the minimap on every pan costs only its few hundred bars.
 */

import type { Store } from './store.js';

const HEIGHT = 34;

export interface MinimapHandle {
  invalidate(): void;
}

export function mountMinimap(host: HTMLElement, store: Store, crashes: () => ReadonlySet<number>): MinimapHandle {
  const canvas = document.createElement('canvas');
  canvas.className = 'minimap-canvas';
  canvas.setAttribute('aria-label', 'the whole recording; drag the rectangle to move the view');
  host.append(canvas);
  const ctx = canvas.getContext('2d', { alpha: false });
  if (ctx === null) throw new Error('this browser gives no 2D canvas context; the minimap needs one');
  let w = 300;
  let dpr = 1;
  let bins: Uint32Array = new Uint32Array(0);
  let binsFor = -1;
  let raf = 0;

  const full = (): { t0: number; t1: number } => store.fullRange();
  const xOf = (t: number): number => {
    const f = full();
    return ((t - f.t0) / (f.t1 - f.t0)) * w;
  };
  const tOf = (x: number): number => {
    const f = full();
    return f.t0 + (x / w) * (f.t1 - f.t0);
  };

  const histogram = (): void => {
    const n = store.count;
    bins = new Uint32Array(Math.max(1, Math.floor(w / 2)));
    const f = full();
    const k = bins.length / (f.t1 - f.t0);
    const ts = store.cols.ts;
    for (let i = 0; i < n; i++) {
      const b = Math.floor((ts[i]! - f.t0) * k);
      bins[b < 0 ? 0 : b >= bins.length ? bins.length - 1 : b]!++;
    }
    binsFor = n;
  };

  const draw = (): void => {
    raf = 0;
    if (binsFor !== store.count || bins.length !== Math.max(1, Math.floor(w / 2))) histogram();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#111318';
    ctx.fillRect(0, 0, w, HEIGHT);
    let max = 1;
    for (const b of bins) if (b > max) max = b;
    ctx.fillStyle = '#3b5d91';
    ctx.beginPath();
    const bw = w / bins.length;
    for (let i = 0; i < bins.length; i++) {
      const b = bins[i]!;
      if (b === 0) continue;
      const hgt = 2 + (Math.log(b + 1) / Math.log(max + 1)) * (HEIGHT - 6);
      ctx.rect(i * bw, HEIGHT - hgt, Math.max(1, bw - 0.5), hgt);
    }
    ctx.fill();
    ctx.fillStyle = '#ff4d4d';
    for (const id of crashes()) ctx.fillRect(xOf(store.cols.ts[id]!), 0, 1.5, 7);
    if (store.sel.id !== null && store.sel.id < store.count) {
      ctx.fillStyle = '#f0b44c';
      ctx.fillRect(xOf(store.cols.ts[store.sel.id]!), 0, 1, HEIGHT);
    }
    const v = store.view;
    const x0 = xOf(v.t0);
    const x1 = Math.max(x0 + 3, xOf(v.t1));
    ctx.fillStyle = 'rgba(240,180,76,0.15)';
    ctx.fillRect(x0, 0, x1 - x0, HEIGHT);
    ctx.strokeStyle = '#f0b44c';
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 + 0.5, 0.5, x1 - x0 - 1, HEIGHT - 1);
  };
  const invalidate = (): void => {
    if (raf === 0) raf = requestAnimationFrame(draw);
  };

  const resize = (): void => {
    dpr = window.devicePixelRatio || 1;
    w = Math.max(50, Math.floor(host.getBoundingClientRect().width));
    canvas.width = Math.floor(w * dpr);
    canvas.height = Math.floor(HEIGHT * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${HEIGHT}px`;
    invalidate();
  };
  new ResizeObserver(resize).observe(host);
  resize();

  // Dragging moves the view by the same time the pointer moves; a press outside the rectangle
  // first centers the view there.
  let drag: { x: number; t0: number; t1: number } | null = null;
  canvas.addEventListener('pointerdown', (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    const v = store.view;
    const inside = ev.offsetX >= xOf(v.t0) && ev.offsetX <= xOf(v.t1);
    if (!inside) {
      const half = (v.t1 - v.t0) / 2;
      const t = tOf(ev.offsetX);
      store.setView({ t0: t - half, t1: t + half }, 'minimap');
    }
    drag = { x: ev.offsetX, t0: store.view.t0, t1: store.view.t1 };
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (drag === null) return;
    const f = full();
    const dt = ((ev.offsetX - drag.x) / w) * (f.t1 - f.t0);
    store.setView({ t0: drag.t0 + dt, t1: drag.t1 + dt }, 'minimap');
  });
  canvas.addEventListener('pointerup', () => {
    drag = null;
  });

  store.on('view', invalidate);
  store.on('select', invalidate);
  store.on('grow', invalidate);
  return { invalidate };
}
