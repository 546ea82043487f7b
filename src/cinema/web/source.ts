/**
 * The source behind the selected event (GET /api/source, from the copies kept in the recording):
 * the line of an AST event, or the function of a call. For an event that is not a call (a send, a
 * state change), the function is the innermost traced call open around it; for a return or an
 * exception, the call it ends. When there is no source, the panel says why (the server's reason:
 * no sources kept, the module was not traced, the file could not be read on the node).
 */

import type { Store } from './store.js';
import { KIND, NONE } from './store.js';
import { ApiError } from './api.js';
import { note } from './dom.js';

export interface SourceJson {
  module: string;
  file: string;
  firstLine: number;
  lines: string[];
  focus: number | null;
}

/** What to show for an event: the call whose function it is in, and a line when the event has one. */
export interface SourceTarget {
  /** The event whose MFA names the function (the event itself, its call, or the call around it). */
  callId: number | null;
  module: string | null;
  fun: string | null;
  arity: number | null;
  line: number | null;
}

/** Lines shown above and below the focus before "whole file" is asked for. */
const CONTEXT = 30;

export function mountSource(host: HTMLElement, store: Store): SourcePanel {
  return new SourcePanel(host, store);
}

/** The function an event belongs to, from the store's columns. */
export function sourceTarget(store: Store, id: number): SourceTarget {
  const c = store.cols;
  const k = store.kindOf(id);
  let call: number | null = id;
  if (k === KIND.return || k === KIND.exception) call = c.link[id] === NONE ? null : c.link[id]!;
  else if (k !== KIND.call && !(store.isAst(id) && c.mfa[id] !== NONE)) call = c.parent[id] === NONE ? null : c.parent[id]!;
  const mfaIndex = call === null ? NONE : c.mfa[call]!;
  const m = mfaIndex === NONE ? undefined : store.meta.mfas[mfaIndex];
  return { callId: call, module: m?.module ?? null, fun: m?.fun ?? null, arity: m?.arity ?? null, line: null };
}

export class SourcePanel {
  readonly root: HTMLElement;
  private readonly head: HTMLElement;
  private readonly body: HTMLElement;
  private readonly cache = new Map<string, Promise<SourceJson>>();
  private generation = 0;
  private whole = false;
  private shownKey = '';
  private pendingScroll = false;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    this.root = document.createElement('section');
    this.root.className = 'es-panel es-source';
    this.head = document.createElement('div');
    this.head.className = 'es-panel-head';
    this.body = document.createElement('div');
    this.body.className = 'es-source-body';
    this.root.append(this.head, this.body);
    host.append(this.root);
    store.on('select', () => void this.refresh());
    // In a hidden tab there is nothing to scroll: bring the line into view when the tab is shown.
    new ResizeObserver(() => this.scrollToFocus()).observe(this.root);
    void this.refresh();
  }

  private scrollToFocus(): void {
    if (!this.pendingScroll || this.root.clientHeight === 0) return;
    this.pendingScroll = false;
    this.body.querySelector('.es-focus')?.scrollIntoView({ block: 'center' });
  }

  async refresh(): Promise<void> {
    const id = this.store.sel.id;
    const gen = ++this.generation;
    if (id === null) {
      this.show('Source', note('Select an event to see its source.'));
      return;
    }
    const t = sourceTarget(this.store, id);
    if (this.store.isAst(id)) {
      // Only AST events carry a source line; the event's detail has it.
      try {
        const e = await this.store.api.getJson<{ line: number | string | null }>(`/api/event/${id}`);
        const n = typeof e.line === 'number' ? e.line : Number(e.line);
        if (Number.isInteger(n) && n > 0) t.line = n;
      } catch (err) {
        console.warn(`elixir-scope: could not read event #${id} for its line`, err);
      }
    }
    if (gen !== this.generation) return;
    if (t.module === null) {
      this.show(
        'Source',
        note(
          t.callId === null
            ? `Event #${id} (${this.store.kindName(id)}) happened outside any traced call, so there is no function to show. Select a call, or an event inside one.`
            : `The call #${t.callId} has no recorded function.`,
        ),
      );
      return;
    }
    const q = new URLSearchParams({ module: t.module });
    if (t.fun !== null) q.set('fun', t.fun);
    if (t.arity !== null) q.set('arity', String(t.arity));
    if (t.line !== null) q.set('line', String(t.line));
    const url = `/api/source?${q.toString()}`;
    let p = this.cache.get(url);
    if (p === undefined) {
      p = this.store.api.getJson<SourceJson>(url);
      this.cache.set(url, p);
    }
    const what = `${this.store.mfaText(t.callId!) ?? t.module}${t.line === null ? '' : `, line ${t.line}`}`;
    try {
      const s = await p;
      if (gen !== this.generation) return;
      if (url !== this.shownKey) this.whole = false;
      this.shownKey = url;
      this.render(s, what);
    } catch (err) {
      if (gen !== this.generation) return;
      const why = err instanceof ApiError && err.status === 404 ? reason(err.message) : err instanceof Error ? err.message : String(err);
      this.show(`Source of ${what}`, note(`No source to show: ${why}`, 'es-source-missing'));
    }
  }

  private render(s: SourceJson, what: string): void {
    const focus = s.focus;
    const n = s.lines.length;
    const from = this.whole || focus === null ? 0 : Math.max(0, focus - s.firstLine - CONTEXT);
    const to = this.whole || focus === null ? n : Math.min(n, focus - s.firstLine + CONTEXT + 1);
    const pre = document.createElement('div');
    pre.className = 'es-source-lines';
    for (let i = from; i < to; i++) {
      const no = s.firstLine + i;
      const row = document.createElement('div');
      row.className = 'es-source-line';
      row.dataset['line'] = String(no);
      if (no === focus) row.classList.add('es-focus');
      const num = document.createElement('span');
      num.className = 'es-source-no';
      num.textContent = String(no);
      const code = document.createElement('span');
      code.className = 'es-source-code';
      code.textContent = s.lines[i]!;
      row.append(num, code);
      pre.append(row);
    }
    const parts: Node[] = [];
    if (focus === null) parts.push(note(`The function was not found in ${s.file}; the whole file is shown.`));
    parts.push(pre);
    if (!this.whole && (from > 0 || to < n)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `whole file (${n} lines)`;
      b.addEventListener('click', () => {
        this.whole = true;
        this.render(s, what);
      });
      parts.push(b);
    }
    this.show(`Source of ${what} — ${s.file}`, ...parts);
    this.pendingScroll = true;
    this.scrollToFocus();
  }

  private show(title: string, ...parts: Node[]): void {
    this.head.textContent = title;
    this.body.replaceChildren(...parts);
  }
}

/** The server's sentence from an ApiError message (`GET ... failed with HTTP 404: {"error":"why"}`). */
function reason(message: string): string {
  const m = /"error":("(?:[^"\\]|\\.)*")/.exec(message);
  if (m !== null) return JSON.parse(m[1]!) as string;
  const i = message.indexOf(': ');
  return i < 0 ? message : message.slice(i + 2);
}
