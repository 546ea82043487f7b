/**
 * A term as Elixir's `inspect` prints it, from the API's term views (docs/cinema.md):
 * `{ text, size, children? }`. Small terms arrive whole and are shown as their text; large ones
 * arrive folded (`text` cut, `children` the elements) and unfold one level per click, so a state of
 * ten thousand entries never puts ten thousand nodes in the page until someone asks for them.
 *
 * Paths name a place in a term as the indices of `children` from the top (`[2, 0]`: the first
 * element of the third element). Changed paths are highlighted, and their ancestors are marked so a
 * folded change is still visible from the top.
 */

import type { TermView as ApiTermView } from './api.js';

/** A term view; the server adds `key` to a map entry's view (`items:`, `"sku-1" =>`). */
export interface TermView extends ApiTermView {
  key?: string;
  children?: TermView[];
}

export type TermPath = readonly number[];

export interface TermRenderOptions {
  /** Places that differ from the previous value, as child-index paths. */
  changed?: readonly TermPath[];
  /** Unfold the first levels of a folded term (default 1: the top level). */
  openDepth?: number;
}

/** A read-only view of a term that unfolds on click. */
export function renderTerm(view: TermView, opts: TermRenderOptions = {}): HTMLElement {
  const changed = opts.changed ?? [];
  return node(view, [], changed, opts.openDepth ?? 1);
}

/** Whether a value from JSON has the shape of a term view. */
export function isTermView(v: unknown): v is TermView {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o['text'] !== 'string') return false;
  return o['children'] === undefined || Array.isArray(o['children']);
}

/** The whole text of a view as far as it was sent (the folded text when children are missing). */
export function termText(view: TermView): string {
  return view.text;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function node(view: TermView, path: number[], changed: readonly TermPath[], openDepth: number): HTMLElement {
  const el = document.createElement('div');
  el.className = 'es-term';
  el.dataset['path'] = path.join('.');
  const mark = changeMark(path, changed);
  if (mark === 'self') el.classList.add('es-changed');
  else if (mark === 'inside') el.classList.add('es-changed-inside');

  const kids = view.children;
  const key = view.key === undefined ? null : keyLabel(view.key);
  if (kids === undefined || kids.length === 0) {
    const text = document.createElement('span');
    text.className = 'es-term-text';
    text.textContent = view.text;
    if (key !== null) el.append(key);
    el.append(text);
    return el;
  }

  const head = document.createElement('button');
  head.type = 'button';
  head.className = 'es-term-toggle';
  const label = document.createElement('span');
  label.className = 'es-term-text';
  label.textContent = view.text;
  const size = document.createElement('span');
  size.className = 'es-term-size';
  size.textContent = ` (${kids.length} element${kids.length === 1 ? '' : 's'}, ${formatBytes(view.size)})`;
  if (key !== null) head.append(key);
  head.append(label, size);
  const body = document.createElement('div');
  body.className = 'es-term-children';
  el.append(head, body);

  let built = false;
  const open = (yes: boolean): void => {
    el.classList.toggle('es-open', yes);
    head.setAttribute('aria-expanded', String(yes));
    if (yes && !built) {
      built = true;
      kids.forEach((k, i) => body.append(node(k, [...path, i], changed, openDepth - 1)));
    }
    body.hidden = !yes;
  };
  head.addEventListener('click', () => open(!el.classList.contains('es-open')));
  open(openDepth > 0);
  return el;
}

function keyLabel(key: string): HTMLElement {
  const k = document.createElement('span');
  k.className = 'es-term-key';
  k.textContent = `${key} `;
  return k;
}

function changeMark(path: readonly number[], changed: readonly TermPath[]): 'self' | 'inside' | null {
  let inside = false;
  for (const c of changed) {
    if (c.length < path.length) {
      // A change above this node covers it whole.
      if (c.every((x, i) => path[i] === x)) return 'self';
      continue;
    }
    if (!path.every((x, i) => c[i] === x)) continue;
    if (c.length === path.length) return 'self';
    inside = true;
  }
  return inside ? 'inside' : null;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
