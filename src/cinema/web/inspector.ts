/**
 * The inspector: the selected process as it was at the selected event (GET /api/state, which is
 * `elixir-scope state-at --json` plus term views), laid out like the CLI's `state-at` and the
 * original README's `inspect_state_at/2`: the GenServer state (folded when large, with what changed
 * since the previous state marked), the open calls with their arguments, the locals AST probes
 * captured, and the last message received. Every `#id` is a link that moves the playhead there.
 */

import type { Store } from './store.js';
import { renderDiffText, renderTerm, type TermPath, type TermView } from './termView.js';
import { code, note, text } from './dom.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC: the API's shape
// ----------------------------------------------------------------------------------------------

export interface StateValueJson {
  event: number;
  ts: number;
  value: string;
  cause: string | null;
}

/** An event as `history --json` prints it (the fields the inspector reads). */
export interface EventJson {
  id: number;
  ts: number;
  pid: string;
  kind: string;
  mfa: string | null;
  message?: string;
  link: number | null;
}

export interface StateJson {
  pid: string;
  name: string | null;
  at: EventJson;
  last: number | null;
  state: StateValueJson | null;
  previous_state: StateValueJson | null;
  stack: Array<{ event: number; ts: number; mfa: string | null; args: string; source?: 'runtime' | 'ast' }>;
  last_message: EventJson | null;
  /** What AST probes saw in the active call: its latest `locals` bindings and line. */
  locals: Array<{ name: string; value: string | TermView; event?: number; line?: number | null }>;
  line?: { line: number; event: number; ts: number } | null;
  views?: {
    state: TermView | null;
    previous_state: TermView | null;
    stack: Array<TermView | null>;
    last_message: TermView | null;
  };
  /** Paths where the state differs from the previous one, as Elixir lists: `[:stock, "mug"]`. */
  changes?: string[];
}

/** `+1.234567s`, as the CLI prints times. */
export function formatTs(ns: number): string {
  const sign = ns < 0 ? '-' : '+';
  const abs = Math.abs(Math.trunc(ns));
  const sec = Math.floor(abs / 1e9);
  const us = Math.floor((abs % 1e9) / 1e3);
  return `${sign}${sec}.${String(us).padStart(6, '0')}s`;
}

/**
 * A history line without its time, source tag, pid column and indentation (what the CLI's
 * `state-at` prints after the event id and time): `[+0.1s] [RUNTIME] #PID<0.1.0>   CALL ...` → `CALL ...`.
 */
export function eventBody(line: string): string {
  return line.replace(/^\[[+-]\d+\.\d+s\] \[[A-Z]+\] (?:#PID<[^>]*>(?: \([^)]*\))?)? */, '');
}

/**
 * The elements of an Elixir list's text at its top level: `[:stock, "a, b", {1, 2}]` →
 * `[':stock', '"a, b"', '{1, 2}']`. Used to read the server's change paths.
 */
export function splitListText(text: string): string[] {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return [t];
  const body = t.slice(1, -1);
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote !== null) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = body.slice(start).trim();
  if (last !== '' || out.length > 0) out.push(last);
  return out;
}

/** A change path (list of key texts) as child-index paths into a folded view; stops where the view does. */
export function changeToIndexPath(view: TermView, keys: readonly string[]): TermPath {
  const out: number[] = [];
  let v: TermView | undefined = view;
  for (const k of keys) {
    const kids: TermView[] | undefined = v?.children;
    if (kids === undefined) break;
    const byKey: number = kids.findIndex((c) => c.key !== undefined && (c.key === `${k} =>` || (k.startsWith(':') && c.key === `${k.slice(1)}:`)));
    const i: number = byKey >= 0 ? byKey : /^\d+$/.test(k) && Number(k) < kids.length ? Number(k) : -1;
    if (i < 0) break;
    out.push(i);
    v = kids[i];
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// PUBLIC: the panel
// ----------------------------------------------------------------------------------------------

export function mountInspector(host: HTMLElement, store: Store): Inspector {
  return new Inspector(host, store);
}

export class Inspector {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private generation = 0;
  private shown: { pid: number; id: number } | null = null;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    this.root = document.createElement('section');
    this.root.className = 'es-panel es-inspector';
    this.body = document.createElement('div');
    this.body.className = 'es-insp-body';
    this.root.append(this.body);
    host.append(this.root);
    this.root.addEventListener('click', (ev) => {
      const a = (ev.target as HTMLElement).closest<HTMLElement>('[data-goto]');
      if (a === null) return;
      ev.preventDefault();
      const id = Number(a.dataset['goto']);
      // Moving to another process's event keeps the inspected process: the question is "what was
      // this process doing when that happened".
      this.store.select({ id, pid: a.dataset['keepPid'] === 'yes' ? (this.store.sel.pid ?? undefined) : undefined });
    });
    store.on('select', () => void this.refresh());
    store.on('grow', () => {
      // The playhead at the end of a live recording sees new state as it arrives.
      if (this.shown !== null && this.store.sel.id === this.store.count - 1) void this.refresh(true);
    });
    void this.refresh();
  }

  async refresh(force = false): Promise<void> {
    const { id, pid } = this.store.sel;
    if (pid === null || id === null) {
      this.shown = null;
      this.body.replaceChildren(note('Select a process and a moment (click the timeline or an event) to see its state.'));
      return;
    }
    if (!force && this.shown !== null && this.shown.pid === pid && this.shown.id === id) return;
    const gen = ++this.generation;
    this.root.classList.add('es-loading');
    try {
      const [s, atText] = await Promise.all([
        this.store.api.getJson<StateJson>(`/api/state?pid=${pid}&at=${id}`),
        this.store.api.getJson<{ text: string }>(`/api/event/${id}`).then(
          (e) => e.text,
          (err: unknown) => {
            // The state still answers; the event line falls back to the event's kind.
            console.warn(`elixir-scope: could not read event #${id}`, err);
            return null;
          },
        ),
      ]);
      if (gen !== this.generation) return;
      this.shown = { pid, id };
      this.body.replaceChildren(...this.render(s, atText));
      this.body.dataset['pid'] = String(pid);
      this.body.dataset['at'] = String(id);
    } catch (err) {
      if (gen !== this.generation) return;
      this.shown = null;
      this.body.replaceChildren(note(`Could not load the state: ${err instanceof Error ? err.message : String(err)}`, 'es-error'));
    } finally {
      if (gen === this.generation) this.root.classList.remove('es-loading');
    }
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  private render(s: StateJson, atText: string | null): HTMLElement[] {
    const out: HTMLElement[] = [];
    const who = s.name === null ? s.pid : `${s.pid} (${s.name})`;
    out.push(line('es-insp-title', `State for ${who} at event `, ref(s.at.id), ` (${formatTs(s.at.ts)}):`));
    const other = s.at.pid !== s.pid;
    const what = atText === null ? s.at.kind : eventBody(atText);
    out.push(line('es-insp-event', 'Event: ', ref(s.at.id, true), ` ${formatTs(s.at.ts)} ${other ? `${s.at.pid} ` : ''}${what}`));
    if (s.last === null) {
      out.push(note('The process had no recorded events yet at that moment.'));
      return out;
    }
    if (s.last !== s.at.id) out.push(line('es-insp-last', 'Its last event: ', ref(s.last, true)));

    const views = s.views;
    const state = section('es-insp-state', 'GenServer State');
    if (s.state === null) {
      state.append(text('none recorded (its state is recorded only when the recording traced it: record with --state NAME)', 'es-none'));
    } else {
      const changes = (s.changes ?? []).map(splitListText);
      const view = views?.state ?? { text: s.state.value, size: s.state.value.length };
      const indexPaths = changes.map((keys) => changeToIndexPath(view, keys));
      // Paths point into folded views; a whole text gets its changed tokens marked below instead.
      const term = renderTerm(view, { changed: s.previous_state === null || view.children === undefined ? [] : indexPaths });
      term.classList.add('es-insp-state-term');
      const prevView = views?.previous_state;
      if (s.previous_state !== null && changes.length > 0 && view.children === undefined) {
        // A whole (unfolded) state: mark the changed tokens in its text.
        const before = prevView?.children === undefined ? (prevView?.text ?? s.previous_state.value) : null;
        if (before !== null) term.querySelector('.es-term-text')?.replaceWith(renderDiffText(before, view.text));
        else term.classList.add('es-state-changed');
      }
      state.append(term);
      const init = this.store.kindName(s.state.event) === 'state_init';
      state.append(
        init
          ? line('es-insp-setby', 'read when tracing began (event ', ref(s.state.event, true), `, ${formatTs(s.state.ts)})`)
          : line('es-insp-setby', 'set by event ', ref(s.state.event, true), ` (${formatTs(s.state.ts)})${s.state.cause === null ? '' : `, ${s.state.cause}`}`),
      );
      if (s.previous_state !== null) {
        const changed = document.createElement('div');
        changed.className = 'es-insp-changes';
        if (changes.length === 0) changed.textContent = 'Unchanged since the previous state.';
        else {
          changed.append('Changed since the previous state: ');
          (s.changes ?? []).forEach((c, i) => {
            const code = document.createElement('code');
            code.className = 'es-change';
            code.textContent = c === '[]' ? 'the whole state' : c;
            if (i > 0) changed.append(', ');
            changed.append(code);
          });
        }
        state.append(changed);
        const prev = document.createElement('details');
        prev.className = 'es-insp-prev';
        const sum = document.createElement('summary');
        sum.append('Previous State (event ', ref(s.previous_state.event, true), `, ${formatTs(s.previous_state.ts)})`);
        prev.append(sum, renderTerm(views?.previous_state ?? { text: s.previous_state.value, size: s.previous_state.value.length }, { openDepth: 0 }));
        state.append(prev);
      }
    }
    out.push(state);

    const stack = section('es-insp-stack', 'Call Stack');
    if (s.stack.length === 0) {
      stack.append(text('none (no traced call was open)', 'es-none'));
      if (s.line != null) stack.append(line('es-insp-line', `At line ${s.line.line} (event `, ref(s.line.event, true), `, ${formatTs(s.line.ts)}), outside any traced call`));
      this.appendLocals(stack, s);
    }
    for (let i = s.stack.length - 1; i >= 0; i--) {
      const f = s.stack[i]!;
      const active = i === s.stack.length - 1;
      const frame = document.createElement('div');
      frame.className = 'es-frame';
      frame.dataset['event'] = String(f.event);
      frame.append(line('es-frame-head', `${active ? 'Active Call' : 'Called from'}: `, code(f.mfa ?? '?'), ' (event ', ref(f.event, true), `, ${formatTs(f.ts)})`));
      // As the CLI and the original README lay it out: instrumented frames show where they were
      // and their locals before the arguments.
      const ast = active && (s.line != null || s.locals.length > 0 || f.source === 'ast');
      if (ast && s.line != null) frame.append(line('es-insp-line', `At line ${s.line.line} (event `, ref(s.line.event, true), `, ${formatTs(s.line.ts)})`));
      if (ast) this.appendLocals(frame, s);
      const args = document.createElement('div');
      args.className = 'es-frame-args';
      args.append(ast ? 'Arguments (from Runtime/AST): ' : 'Arguments: ', renderTerm(views?.stack[i] ?? { text: f.args, size: f.args.length }, { openDepth: 0 }));
      frame.append(args);
      stack.append(frame);
    }
    out.push(stack);

    const msg = section('es-insp-message', 'Last message');
    const m = s.last_message;
    if (m === null) msg.append(text('none received', 'es-none'));
    else {
      msg.append(renderTerm(views?.last_message ?? { text: m.message ?? '', size: (m.message ?? '').length }, { openDepth: 0 }));
      const from = m.link === null ? null : this.store.pidOf(m.link);
      msg.append(
        line('es-insp-msgref', '(event ', ref(m.id, true), `, ${formatTs(m.ts)}`, ...(from === null || m.link === null ? [] : [', from ', pidText(this.store, from), ', sent at ', ref(m.link)]), ')'),
      );
    }
    out.push(msg);
    return out;
  }

  private appendLocals(into: HTMLElement, s: StateJson): void {
    if (s.locals.length === 0) return;
    const box = document.createElement('div');
    box.className = 'es-locals';
    box.append(line('es-locals-head', 'Local Variables (from AST):'));
    for (const l of s.locals) {
      const row = document.createElement('div');
      row.className = 'es-local';
      const v = typeof l.value === 'string' ? { text: l.value, size: l.value.length } : l.value;
      row.append(code(`${l.name}: `), renderTerm(v, { openDepth: 0 }));
      if (l.event !== undefined) row.append(' (event ', ref(l.event, true), l.line == null ? ')' : `, line ${l.line})`);
      box.append(row);
    }
    into.append(box);
  }
}

function pidText(store: Store, pid: number): string {
  const p = store.process(pid);
  if (p === undefined) return `process ${pid}`;
  const text = p.pid.startsWith('#PID') ? p.pid : `#PID${p.pid}`;
  return p.name === null ? text : `${text} (${p.name})`;
}

function ref(id: number, keepPid = false): HTMLElement {
  const a = document.createElement('a');
  a.href = '#';
  a.className = 'es-ref';
  a.dataset['goto'] = String(id);
  if (keepPid) a.dataset['keepPid'] = 'yes';
  a.textContent = `#${id}`;
  return a;
}

function line(cls: string, ...parts: (string | Node)[]): HTMLElement {
  const d = document.createElement('div');
  d.className = cls;
  d.append(...parts);
  return d;
}

function section(cls: string, title: string): HTMLElement {
  const s = document.createElement('div');
  s.className = `es-insp-section ${cls}`;
  const h = document.createElement('h3');
  h.textContent = title;
  s.append(h);
  return s;
}
