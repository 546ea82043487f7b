/**
 * A sequence diagram (SVG) of the messages among a few processes (GET /api/flow): one lifeline per
 * process, time going down, an arrow from each send to the receive that took it in. By default it
 * shows the selected process and the peers it exchanged the most messages with; the chooser adds
 * and removes processes.
 *
 * Clicking an arrow selects its send; clicking it again (or "follow to receive") selects the
 * receive, so a message can be followed from one process to the next. Rows are events, not a time
 * scale: a message that waited 2 ms and one that waited 2 µs both read clearly, and the wait is in
 * the arrow's tooltip.
 */

import type { Store } from './store.js';
import { KIND, NONE } from './store.js';
import { formatDuration, touches } from './callTree.js';
import { button, code, note } from './dom.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export interface FlowEventJson {
  id: number;
  ts: number;
  pid: string;
  kind: string;
  message?: string;
  to?: string;
  peer: string | null;
  link: number | null;
}

export interface FlowJson {
  pids: string[];
  messages: Array<{ send: FlowEventJson; receive: FlowEventJson | null; latencyNs: number | null; inside: boolean }>;
}

/** The processes `pid` exchanged messages with, most messages first (from the store's columns). */
export function peersOf(store: Store, pid: number): Array<{ pid: number; count: number }> {
  const counts = new Map<number, number>();
  const c = store.cols;
  for (const id of store.idsOfPid(pid)) {
    const k = store.kindOf(id);
    if (k === KIND.send || k === KIND.send_to_dead) {
      const other = c.peer[id]!;
      if (other !== NONE && other !== pid) counts.set(other, (counts.get(other) ?? 0) + 1);
    } else if (k === KIND.receive) {
      const send = c.link[id]!;
      if (send !== NONE && send < c.count) {
        const other = c.pid[send]!;
        if (other !== pid) counts.set(other, (counts.get(other) ?? 0) + 1);
      }
    }
  }
  return [...counts].map(([p, count]) => ({ pid: p, count })).sort((a, b) => b.count - a.count || a.pid - b.pid);
}

export function mountSequence(host: HTMLElement, store: Store): SequenceDiagram {
  return new SequenceDiagram(host, store);
}

const SVG = 'http://www.w3.org/2000/svg';
const LANE_W = 170;
const ROW_H = 24;
const HEAD_H = 40;
/** Messages drawn at once; longer flows show a window around the playhead. */
const WINDOW = 250;
const DEFAULT_PEERS = 3;

export class SequenceDiagram {
  readonly root: HTMLElement;
  private readonly chooser: HTMLElement;
  private readonly info: HTMLElement;
  private readonly canvas: HTMLElement;
  private pids: number[] = [];
  /** The process the default set was made for; a new selected process outside the set resets it. */
  private basePid: number | null = null;
  private flow: FlowJson | null = null;
  private generation = 0;
  private windowStart = 0;
  private recenter = true;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    this.root = document.createElement('section');
    this.root.className = 'es-panel es-sequence';
    this.chooser = document.createElement('div');
    this.chooser.className = 'es-seq-chooser';
    this.info = document.createElement('div');
    this.info.className = 'es-seq-info';
    this.canvas = document.createElement('div');
    this.canvas.className = 'es-seq-canvas';
    this.root.append(this.chooser, this.info, this.canvas);
    host.append(this.root);
    this.canvas.addEventListener('click', (ev) => this.onClick(ev));
    store.on('select', () => this.sync());
    store.on('grow', ({ from, to }) => {
      // New messages among the chosen processes: reload, at most once a second.
      if (this.reloadTimer !== undefined || !touches(this.store, this.pids, from, to)) return;
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = undefined;
        void this.load();
      }, 1000);
    });
    this.sync();
  }

  /** Shows the messages among exactly these processes (indexes of /api/meta). */
  setPids(pids: number[]): void {
    this.pids = [...new Set(pids)];
    this.renderChooser();
    void this.load();
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  private sync(): void {
    this.recenter = true;
    const p = this.store.sel.pid;
    if (p !== null && !this.pids.includes(p) && p !== this.basePid) {
      this.basePid = p;
      const peers = peersOf(this.store, p).slice(0, DEFAULT_PEERS).map((x) => x.pid);
      this.setPids([p, ...peers]);
      return;
    }
    if (p === null && this.pids.length === 0) {
      this.renderChooser();
      this.canvas.replaceChildren(note('Select a process to see the messages it exchanged.'));
      return;
    }
    this.draw();
  }

  private renderChooser(): void {
    const box = document.createDocumentFragment();
    const label = document.createElement('span');
    label.textContent = 'Processes: ';
    box.append(label);
    for (const p of this.pids) {
      const chip = document.createElement('span');
      chip.className = 'es-seq-chip';
      chip.dataset['pid'] = String(p);
      chip.textContent = this.store.processLabel(p);
      const x = document.createElement('button');
      x.type = 'button';
      x.className = 'es-seq-remove';
      x.title = 'remove from the diagram';
      x.textContent = '×';
      x.addEventListener('click', () => this.setPids(this.pids.filter((q) => q !== p)));
      chip.append(x);
      box.append(chip);
    }
    const add = document.createElement('select');
    add.className = 'es-seq-add';
    const first = document.createElement('option');
    first.value = '';
    first.textContent = '+ add a process';
    add.append(first);
    const base = this.store.sel.pid;
    const peers = base === null ? [] : peersOf(this.store, base);
    const seen = new Set(this.pids);
    const option = (p: number, extra: string): void => {
      if (seen.has(p)) return;
      seen.add(p);
      const o = document.createElement('option');
      o.value = String(p);
      o.textContent = `${this.store.processLabel(p)}${extra}`;
      add.append(o);
    };
    for (const x of peers) option(x.pid, ` (${x.count} message${x.count === 1 ? '' : 's'})`);
    this.store.meta.processes.forEach((p) => option(p.index, ''));
    add.addEventListener('change', () => {
      if (add.value !== '') this.setPids([...this.pids, Number(add.value)]);
    });
    box.append(add);
    this.chooser.replaceChildren(box);
  }

  private async load(): Promise<void> {
    const gen = ++this.generation;
    if (this.pids.length === 0) {
      this.flow = null;
      this.canvas.replaceChildren(note('No processes chosen: add one above.'));
      return;
    }
    try {
      const all = await this.store.api.getJson<FlowJson>(`/api/flow?pids=${this.pids.join(',')}&outside=true`);
      if (gen !== this.generation) return;
      // GenServer replies go to an alias (a reference), not a pid, so the flow lists them as going
      // outside; the receive that took them shows where they landed. Keep those that landed here.
      const lanes = new Set(this.pids.map((p) => this.store.process(p)?.pid));
      const flow = { pids: all.pids, messages: all.messages.filter((m) => m.inside || (m.receive !== null && lanes.has(m.receive.pid))) };
      this.flow = flow;
      this.windowStart = -1;
      this.recenter = true;
      this.draw();
    } catch (err) {
      if (gen !== this.generation) return;
      this.canvas.replaceChildren(note(`Could not load the messages: ${err instanceof Error ? err.message : String(err)}`, 'es-error'));
    }
  }

  private laneOf(pidText: string): number {
    const i = this.store.meta.processes.findIndex((p) => p.pid === pidText);
    return i < 0 ? -1 : this.pids.indexOf(i);
  }

  private draw(): void {
    const f = this.flow;
    if (f === null) return;
    const msgs = f.messages;
    const sel = this.store.sel.id;
    if (msgs.length === 0) {
      this.canvas.replaceChildren(note(this.pids.length < 2 ? 'Add a second process to see messages between them.' : 'No messages among these processes were recorded (record with --messages).'));
      this.info.replaceChildren();
      return;
    }
    // The window: the messages around the playhead, unless the reader is looking at a window that has it.
    let at = 0;
    if (sel !== null) {
      let lo = 0;
      let hi = msgs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (msgs[mid]!.send.id <= sel) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
    }
    if (this.recenter && (this.windowStart < 0 || at < this.windowStart || at >= this.windowStart + WINDOW)) {
      this.windowStart = Math.max(0, Math.min(msgs.length - WINDOW, at - Math.floor(WINDOW / 2)));
    }
    const shown = msgs.slice(this.windowStart, this.windowStart + WINDOW);
    const rowIds = new Set<number>();
    for (const m of shown) {
      rowIds.add(m.send.id);
      if (m.receive !== null) rowIds.add(m.receive.id);
    }
    const rows = [...rowIds].sort((a, b) => a - b);
    const rowOf = new Map(rows.map((id, i) => [id, i]));
    const y = (id: number): number => HEAD_H + (rowOf.get(id)! + 0.5) * ROW_H;
    const x = (lane: number): number => 20 + lane * LANE_W + LANE_W / 2;
    const width = 40 + this.pids.length * LANE_W;
    const height = HEAD_H + rows.length * ROW_H + 20;

    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'es-seq-svg');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const defs = svgEl('defs');
    const marker = svgEl('marker', { id: 'es-arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
    marker.append(svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'es-seq-head' }));
    defs.append(marker);
    svg.append(defs);

    this.pids.forEach((p, lane) => {
      const g = svgEl('g', { class: 'es-seq-lane', 'data-pid': String(p) });
      const label = svgEl('text', { x: String(x(lane)), y: '16', 'text-anchor': 'middle', class: 'es-seq-label' });
      label.textContent = this.store.processLabel(p);
      const pidLine = svgEl('text', { x: String(x(lane)), y: '30', 'text-anchor': 'middle', class: 'es-seq-pid' });
      pidLine.textContent = this.store.process(p)?.pid ?? '';
      g.append(label, pidLine, svgEl('line', { x1: String(x(lane)), y1: String(HEAD_H - 4), x2: String(x(lane)), y2: String(height - 10), class: 'es-seq-life' }));
      svg.append(g);
    });

    if (sel !== null) {
      // The playhead: below the last shown event at or before it.
      let r = -1;
      for (let i = 0; i < rows.length && rows[i]! <= sel; i++) r = i;
      const py = HEAD_H + (r + 1) * ROW_H;
      svg.append(svgEl('line', { x1: '0', x2: String(width), y1: String(py), y2: String(py), class: 'es-seq-playhead' }));
    }

    let selected: (typeof shown)[number] | null = null;
    for (const m of shown) {
      const from = this.laneOf(m.send.pid);
      const toPid = m.receive?.pid ?? m.send.peer;
      const to = toPid === null ? -1 : this.laneOf(toPid);
      if (from < 0) continue;
      const y1 = y(m.send.id);
      const y2 = m.receive === null ? y1 + ROW_H * 0.6 : y(m.receive.id);
      const x1 = x(from);
      const x2 = to < 0 ? x1 + LANE_W * 0.45 : x(to);
      const g = svgEl('g', { class: 'es-seq-msg', 'data-send': String(m.send.id) });
      if (m.receive !== null) g.setAttribute('data-receive', String(m.receive.id));
      if (m.send.kind === 'send_to_dead') g.classList.add('es-seq-dead');
      else if (m.receive === null) g.classList.add('es-seq-lost');
      if (sel !== null && (m.send.id === sel || m.receive?.id === sel)) {
        g.classList.add('es-selected');
        selected = m;
      }
      const d = from === to ? `M ${x1} ${y1} C ${x1 + 60} ${y1}, ${x1 + 60} ${y2}, ${x1 + 4} ${y2}` : `M ${x1} ${y1} L ${x2} ${y2}`;
      // A wide transparent stroke under the arrow: a 1 px line is hard to click.
      g.append(svgEl('path', { d, class: 'es-seq-hit' }), svgEl('path', { d, class: 'es-seq-arrow', 'marker-end': 'url(#es-arrow)' }));
      const label = svgEl('text', { x: String((x1 + x2) / 2 + (from === to ? 40 : 0)), y: String((y1 + y2) / 2 - 3), 'text-anchor': 'middle', class: 'es-seq-text' });
      label.textContent = shorten(messageLabel(m.send.message ?? ''), 34);
      g.append(label);
      const title = svgEl('title');
      const wait = m.latencyNs === null ? (m.send.kind === 'send_to_dead' ? 'the receiver was dead' : 'no receive recorded') : `received #${m.receive!.id} after ${formatDuration(m.latencyNs)}`;
      title.textContent = `#${m.send.id} ${m.send.pid} → ${toPid ?? m.send.to ?? '?'}: ${m.send.message ?? ''}\n${wait}`;
      g.append(title);
      svg.append(g);
    }

    const nav = document.createElement('div');
    nav.className = 'es-seq-nav';
    nav.textContent = `messages ${this.windowStart + 1}–${this.windowStart + shown.length} of ${msgs.length}`;
    if (this.windowStart > 0) nav.append(' ', button('earlier', () => this.shift(-WINDOW)));
    if (this.windowStart + WINDOW < msgs.length) nav.append(' ', button('later', () => this.shift(WINDOW)));
    this.canvas.replaceChildren(nav, svg);
    this.showInfo(selected);
  }

  private shift(by: number): void {
    const n = this.flow?.messages.length ?? 0;
    this.windowStart = Math.max(0, Math.min(Math.max(0, n - WINDOW), this.windowStart + by));
    // The reader paged away from the playhead: stay there until the playhead moves.
    this.recenter = false;
    this.draw();
  }

  private showInfo(m: FlowJson['messages'][number] | null): void {
    if (m === null) {
      this.info.replaceChildren();
      return;
    }
    // The button first: a long message is cut at the right edge, the button must stay in sight.
    const parts: (string | Node)[] = [];
    if (m.receive !== null) {
      const onReceive = this.store.sel.id === m.receive.id;
      parts.push(onReceive ? button('back to the send', () => this.store.select({ id: m.send.id })) : button('follow to receive', () => this.store.select({ id: m.receive!.id }), 'es-seq-follow'), ' ');
    }
    parts.push(`#${m.send.id} ${m.send.pid} → ${m.receive?.pid ?? m.send.peer ?? m.send.to ?? '?'}: `, code(m.send.message ?? ''));
    if (m.receive === null) parts.push(m.send.kind === 'send_to_dead' ? ' (the receiver was dead)' : ' (no receive recorded)');
    this.info.replaceChildren(...parts);
  }

  private onClick(ev: MouseEvent): void {
    const g = (ev.target as Element).closest('.es-seq-msg');
    if (g === null) return;
    const send = Number(g.getAttribute('data-send'));
    const recv = g.getAttribute('data-receive');
    // A second click on the selected send follows the message to its receive.
    if (this.store.sel.id === send && recv !== null) this.store.select({ id: Number(recv) });
    else this.store.select({ id: send });
  }
}

/** A message as a reader names it: `call {:reserve, ...}`, `cast ...`, `reply :ok` for GenServer traffic, else its text. */
export function messageLabel(text: string): string {
  const els = tupleElements(text);
  if (els !== null && els[0] === ':"$gen_call"' && els.length === 3) return `call ${els[2]}`;
  if (els !== null && els[0] === ':"$gen_cast"' && els.length === 2) return `cast ${els[1]}`;
  // A GenServer reply is `{Tag, Reply}`, the tag a reference or (OTP 24+) an alias list.
  if (els !== null && els.length === 2 && /^(#Reference<|\[:alias \| #Reference<)/.test(els[0]!)) return `reply ${els[1]}`;
  return text;
}

/** The top-level elements of a tuple's text, or null when the text is not a tuple. */
function tupleElements(text: string): string[] | null {
  if (!text.startsWith('{') || !text.endsWith('}')) return null;
  const body = text.slice(1, -1);
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === '"') quote = false;
      continue;
    }
    if (c === '"') quote = true;
    // Pids and references print without commas (`#PID<0.1.0>`), so only brackets nest.
    else if ('[{('.includes(c)) depth++;
    else if (']})'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      out.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(body.slice(start).trim());
  return out;
}

function svgEl(tag: string, attrs: Record<string, string> = {}): SVGElement {
  const e = document.createElementNS(SVG, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function shorten(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
