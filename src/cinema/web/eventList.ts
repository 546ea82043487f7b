/**
 * The event list: the recording's history lines (the CLI's `history` format, from GET /api/events),
 * with search and filters, following the playhead.
 *
 * Only the rows in sight are in the DOM, whatever the recording's size. Unfiltered, row N is event
 * N, so the scrollbar spans the whole recording and a page of lines is fetched when it comes into
 * view. Filtered, the matches are not known in advance: the list holds a window of matching ids
 * around the playhead and grows it a page at a time as the reader scrolls towards either end (the
 * server walks the store for the next matches, so a filter over ten million events costs a page,
 * not a scan).
 */

import { KIND_NAMES, type Store } from './store.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export interface EventFilter {
  kinds: string[];
  module: string;
  /** Process index (of /api/meta), or null for every process. */
  pid: number | null;
  text: string;
}

export interface EventsPage {
  ids: number[];
  lines: string[];
  /** Where the next page in the same direction starts, or null at the end. */
  next: number | null;
}

/** Kinds a reader filters on, in the order of their codes. */
export const FILTER_KINDS: readonly string[] = KIND_NAMES.filter((k) => k !== '?');

export function mountEventList(host: HTMLElement, store: Store): EventList {
  return new EventList(host, store);
}

const ROW_H = 18;
const PAGE = 200;
/** Browsers stop growing an element past about 33M px; beyond this the scrollbar is scaled. */
const MAX_SPACER_PX = 15_000_000;
/** Filtered windows longer than this drop rows at the far end. */
const MAX_WINDOW = 50_000;

export class EventList {
  readonly root: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly rows: HTMLElement;
  private readonly status: HTMLElement;
  private readonly followBox: HTMLInputElement;
  private filter: EventFilter = { kinds: [], module: '', pid: null, text: '' };
  /** Unfiltered: pages of lines by page number. */
  private readonly pages = new Map<number, string[] | 'loading'>();
  /** Filtered: the window of matches, ascending ids. */
  private win: { ids: number[]; lines: string[]; before: number | null; after: number | null } | null = null;
  private loadingEdge = false;
  private generation = 0;
  private drawQueued = false;
  /** The last failed request's message, shown until a request succeeds. */
  private error: string | null = null;
  /** A filtered window is being loaded around a new anchor. */
  private searching = false;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    this.root = document.createElement('section');
    this.root.className = 'es-panel es-eventlist';
    const bar = document.createElement('div');
    bar.className = 'es-eventlist-bar';
    const search = input('search', 'search the lines', 'es-ev-text');
    const mod = input('text', 'module (Shop.Cart)', 'es-ev-module');
    const pidSel = document.createElement('select');
    pidSel.className = 'es-ev-pid';
    pidSel.title = 'only this process';
    const kindsBtn = document.createElement('details');
    kindsBtn.className = 'es-ev-kinds';
    const sum = document.createElement('summary');
    sum.textContent = 'kinds: all';
    kindsBtn.append(sum);
    const kindBoxes: HTMLInputElement[] = [];
    for (const k of FILTER_KINDS) {
      const l = document.createElement('label');
      const b = document.createElement('input');
      b.type = 'checkbox';
      b.value = k;
      b.dataset['kind'] = k;
      kindBoxes.push(b);
      l.append(b, ` ${k}`);
      kindsBtn.append(l);
    }
    const follow = document.createElement('label');
    this.followBox = document.createElement('input');
    this.followBox.type = 'checkbox';
    this.followBox.checked = true;
    this.followBox.className = 'es-ev-follow';
    follow.append(this.followBox, ' follow playhead');
    this.status = document.createElement('span');
    this.status.className = 'es-ev-status';
    bar.append(search, kindsBtn, mod, pidSel, follow, this.status);

    this.scroller = document.createElement('div');
    this.scroller.className = 'es-eventlist-scroll';
    this.spacer = document.createElement('div');
    this.spacer.className = 'es-eventlist-spacer';
    this.rows = document.createElement('div');
    this.rows.className = 'es-eventlist-rows';
    this.scroller.append(this.spacer, this.rows);
    this.root.append(bar, this.scroller);
    host.append(this.root);

    const apply = (): void => {
      const kinds = kindBoxes.filter((b) => b.checked).map((b) => b.value);
      sum.textContent = kinds.length === 0 ? 'kinds: all' : `kinds: ${kinds.join(', ')}`;
      const pv = pidSel.value;
      this.setFilter({ kinds, module: mod.value.trim(), pid: pv === '' ? null : Number(pv), text: search.value });
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const later = (): void => {
      clearTimeout(timer);
      timer = setTimeout(apply, 250);
    };
    search.addEventListener('input', later);
    mod.addEventListener('input', later);
    pidSel.addEventListener('change', apply);
    for (const b of kindBoxes) b.addEventListener('change', apply);
    this.fillPids(pidSel);
    this.scroller.addEventListener('scroll', () => this.queueDraw());
    this.rows.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('.es-ev-row');
      const id = row?.dataset['id'];
      if (id === undefined) return;
      this.store.select({ id: Number(id), pid: this.pidOfRow(Number(id)) });
    });
    this.store.on('select', () => this.followPlayhead());
    this.store.on('grow', () => {
      // Like `tail -f`: a reader at the bottom of a live list, with no event selected, stays there.
      const sc = this.scroller;
      const atBottom = sc.scrollTop + sc.clientHeight >= sc.scrollHeight - 2 * ROW_H;
      if (this.win === null) {
        this.resize();
        if (atBottom && this.followBox.checked && this.store.sel.id === null) sc.scrollTop = sc.scrollHeight;
      } else if (this.win.after === null) this.win.after = (this.win.ids.at(-1) ?? -1) + 1;
      this.queueDraw();
    });
    this.store.on('meta', () => this.fillPids(pidSel));
    this.resize();
    this.followPlayhead();
  }

  /** Applies a filter (empty fields mean "any") and reloads around the playhead. */
  setFilter(f: EventFilter): void {
    this.filter = f;
    this.error = null;
    this.generation++;
    this.pages.clear();
    const filtered = f.kinds.length > 0 || f.module !== '' || f.pid !== null || f.text !== '';
    this.win = filtered ? { ids: [], lines: [], before: null, after: null } : null;
    this.resize();
    if (filtered) void this.loadWindowAt(this.store.sel.id ?? 0);
    else this.followPlayhead(true);
  }

  /** Ids of the rows in the DOM now (for tests and the reader's own checks). */
  visibleIds(): number[] {
    return [...this.rows.querySelectorAll<HTMLElement>('.es-ev-row')].map((r) => Number(r.dataset['id']));
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE: geometry
  // --------------------------------------------------------------------------------------------

  private rowCount(): number {
    return this.win === null ? this.store.count : this.win.ids.length;
  }

  private resize(): void {
    this.spacer.style.height = `${Math.min(this.rowCount() * ROW_H, MAX_SPACER_PX)}px`;
    this.queueDraw();
  }

  /** The first row in view, from the scroll position (scaled when the list is taller than the spacer). */
  private firstRow(): number {
    const n = this.rowCount();
    const full = n * ROW_H;
    const view = this.scroller.clientHeight;
    if (full <= MAX_SPACER_PX) return Math.floor(this.scroller.scrollTop / ROW_H);
    const frac = this.scroller.scrollTop / Math.max(1, MAX_SPACER_PX - view);
    return Math.floor(frac * Math.max(0, n - Math.ceil(view / ROW_H)));
  }

  private scrollToRow(row: number): void {
    const n = this.rowCount();
    const view = this.scroller.clientHeight;
    const visible = Math.max(1, Math.floor(view / ROW_H));
    const first = this.firstRow();
    if (row >= first && row < first + visible - 1) return;
    const target = Math.max(0, row - Math.floor(visible / 2));
    if (n * ROW_H <= MAX_SPACER_PX) this.scroller.scrollTop = target * ROW_H;
    else this.scroller.scrollTop = (target / Math.max(1, n - visible)) * (MAX_SPACER_PX - view);
  }

  private queueDraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    const n = this.rowCount();
    const first = this.firstRow();
    const visible = Math.ceil(this.scroller.clientHeight / ROW_H) + 1;
    const last = Math.min(n, first + visible);
    this.rows.style.transform = `translateY(${this.scroller.scrollTop}px)`;
    const sel = this.store.sel.id;
    const frag = document.createDocumentFragment();
    let missing = false;
    for (let r = first; r < last; r++) {
      const { id, line } = this.rowAt(r);
      if (line === null) missing = true;
      const el = document.createElement('div');
      el.className = 'es-ev-row';
      el.dataset['id'] = String(id);
      el.style.top = `${(r - first) * ROW_H}px`;
      el.textContent = line ?? `#${id} …`;
      el.title = `event #${id}`;
      if (id === this.highlighted(sel)) el.classList.add('es-selected');
      frag.append(el);
    }
    this.rows.replaceChildren(frag);
    if (missing && this.win === null) this.loadPages(first, last);
    if (this.win !== null) this.maybeExtend(first, last);
    this.status.classList.toggle('es-error', this.error !== null);
    this.status.textContent =
      this.error ??
      (this.win === null
        ? `${n.toLocaleString('en-US')} events`
        : this.searching
          ? 'searching…'
          : `${n.toLocaleString('en-US')} matches loaded${this.win.after !== null ? ', more below' : ''}`);
  }

  private rowAt(r: number): { id: number; line: string | null } {
    if (this.win !== null) return { id: this.win.ids[r]!, line: this.win.lines[r]! };
    const page = this.pages.get(Math.floor(r / PAGE));
    return { id: r, line: Array.isArray(page) ? (page[r % PAGE] ?? null) : null };
  }

  /** The row to mark for the playhead: the event itself, or the last match at or before it. */
  private highlighted(sel: number | null): number | null {
    if (sel === null || this.win === null) return sel;
    const i = lastAtOrBefore(this.win.ids, sel);
    return i < 0 ? null : this.win.ids[i]!;
  }

  private pidOfRow(id: number): number | undefined {
    const p = this.store.pidOf(id);
    return p === null ? undefined : p;
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE: loading
  // --------------------------------------------------------------------------------------------

  private query(from: number, dir: 'next' | 'prev', limit = PAGE): string {
    const q = new URLSearchParams({ from: String(from), limit: String(limit), dir });
    const f = this.filter;
    if (f.kinds.length > 0) q.set('kinds', f.kinds.join(','));
    if (f.module !== '') q.set('module', f.module);
    if (f.pid !== null) q.set('pid', String(f.pid));
    if (f.text !== '') q.set('text', f.text);
    return `/api/events?${q.toString()}`;
  }

  private loadPages(firstRow: number, lastRow: number): void {
    const gen = this.generation;
    for (let p = Math.floor(firstRow / PAGE); p <= Math.floor((lastRow - 1) / PAGE); p++) {
      if (this.pages.has(p)) continue;
      this.pages.set(p, 'loading');
      this.store.api
        .getJson<EventsPage>(this.query(p * PAGE, 'next'))
        .then((page) => {
          if (gen !== this.generation) return;
          const lines: string[] = [];
          page.ids.forEach((id, i) => (lines[id - p * PAGE] = page.lines[i]!));
          // A live recording's last page is short until it fills: fetch it again when it grows.
          if (page.ids.length < PAGE) this.store.once('grow', () => this.pages.delete(p));
          this.pages.set(p, lines);
          this.error = null;
          this.queueDraw();
        })
        .catch((err: unknown) => this.fail(err, () => this.pages.delete(p)));
    }
  }

  private async loadWindowAt(anchor: number): Promise<void> {
    const gen = this.generation;
    this.searching = true;
    this.queueDraw();
    try {
      const [back, fwd] = await Promise.all([
        this.store.api.getJson<EventsPage>(this.query(anchor, 'prev', PAGE / 2)),
        this.store.api.getJson<EventsPage>(this.query(anchor + 1, 'next', PAGE)),
      ]);
      if (gen !== this.generation || this.win === null) return;
      const b = ascending(back);
      this.win = { ids: [...b.ids, ...fwd.ids], lines: [...b.lines, ...fwd.lines], before: back.next, after: fwd.next };
      this.error = null;
      this.resize();
      const i = lastAtOrBefore(this.win.ids, anchor);
      this.scrollToRow(Math.max(0, i));
      this.queueDraw();
    } catch (err) {
      this.fail(err, () => undefined);
    } finally {
      if (gen === this.generation) this.searching = false;
      this.queueDraw();
    }
  }

  /** Grows the filtered window when the view nears one of its ends. */
  private maybeExtend(first: number, last: number): void {
    const w = this.win;
    if (w === null || this.loadingEdge) return;
    const gen = this.generation;
    if (first < PAGE / 4 && w.before !== null) {
      this.loadingEdge = true;
      this.store.api
        .getJson<EventsPage>(this.query(w.before, 'prev'))
        .then((page) => {
          if (gen !== this.generation || this.win !== w) return;
          const p = ascending(page);
          const fresh = p.ids.filter((id) => id < (w.ids[0] ?? Infinity)).length;
          w.ids.unshift(...p.ids.slice(0, fresh));
          w.lines.unshift(...p.lines.slice(0, fresh));
          w.before = page.next;
          if (w.ids.length > MAX_WINDOW) {
            w.ids.length = MAX_WINDOW;
            w.lines.length = MAX_WINDOW;
            w.after = w.ids.at(-1)! + 1;
          }
          this.resize();
          // Keep the same rows under the reader's eyes after rows were put above them.
          this.scroller.scrollTop += fresh * ROW_H;
        })
        .catch((err: unknown) => this.fail(err, () => undefined))
        .finally(() => (this.loadingEdge = false));
    } else if (last > w.ids.length - PAGE / 4 && w.after !== null) {
      this.loadingEdge = true;
      this.store.api
        .getJson<EventsPage>(this.query(w.after, 'next'))
        .then((page) => {
          if (gen !== this.generation || this.win !== w) return;
          const lastId = w.ids.at(-1) ?? -1;
          const keep = page.ids.map((id, i) => [id, i] as const).filter(([id]) => id > lastId);
          for (const [id, i] of keep) {
            w.ids.push(id);
            w.lines.push(page.lines[i]!);
          }
          // In a live recording the end is only the end for now: a grow reopens it.
          w.after = page.next;
          if (w.ids.length > MAX_WINDOW) {
            const cut = w.ids.length - MAX_WINDOW;
            w.ids.splice(0, cut);
            w.lines.splice(0, cut);
            w.before = w.ids[0]! - 1;
            this.scroller.scrollTop -= cut * ROW_H;
          }
          this.resize();
        })
        .catch((err: unknown) => this.fail(err, () => undefined))
        .finally(() => (this.loadingEdge = false));
    }
  }

  private followPlayhead(force = false): void {
    if (!force && !this.followBox.checked) return this.queueDraw();
    const id = this.store.sel.id;
    if (id === null) return this.queueDraw();
    if (this.win === null) {
      this.scrollToRow(id);
    } else {
      // The window answers for the playhead when no unloaded match can lie between it and the window.
      const w = this.win;
      const first = w.ids[0];
      const last = w.ids.at(-1);
      const covered =
        first === undefined || last === undefined
          ? w.before === null && w.after === null
          : (id >= first || w.before === null) && (id <= last || w.after === null);
      if (covered) this.scrollToRow(Math.max(0, lastAtOrBefore(w.ids, id)));
      else void this.loadWindowAt(id);
    }
    this.queueDraw();
  }

  private fillPids(sel: HTMLSelectElement): void {
    const keep = sel.value;
    const any = document.createElement('option');
    any.value = '';
    any.textContent = 'every process';
    const opts = [any];
    for (const p of this.store.meta?.processes ?? []) {
      const o = document.createElement('option');
      o.value = String(p.index);
      o.textContent = p.name === null ? p.pid : `${p.pid} ${p.name}`;
      opts.push(o);
    }
    sel.replaceChildren(...opts);
    sel.value = keep;
  }

  private fail(err: unknown, undo: () => void): void {
    undo();
    this.error = `could not load events: ${err instanceof Error ? err.message : String(err)}`;
    this.queueDraw();
  }
}

function input(type: string, placeholder: string, cls: string): HTMLInputElement {
  const i = document.createElement('input');
  i.type = type;
  i.placeholder = placeholder;
  i.className = cls;
  return i;
}

function ascending(p: EventsPage): { ids: number[]; lines: string[] } {
  if (p.ids.length < 2 || p.ids[0]! < p.ids[1]!) return { ids: p.ids, lines: p.lines };
  return { ids: [...p.ids].reverse(), lines: [...p.lines].reverse() };
}

/** Index of the last id <= x in ascending ids, or -1. */
function lastAtOrBefore(ids: readonly number[], x: number): number {
  let lo = 0;
  let hi = ids.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! <= x) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}
