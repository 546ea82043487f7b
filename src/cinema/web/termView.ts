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
  // Open, the elements below say it all: the head keeps only the opening bracket.
  const opener = /^(%[\w.]*\{|\{|\[|#[\w.]+<)/.exec(view.text)?.[0] ?? '';
  const open = (yes: boolean): void => {
    label.textContent = yes && opener !== '' ? `${opener}…` : view.text;
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

/**
 * `after`'s text with the tokens that are not in `before` marked (`.es-diff`), from a longest
 * common subsequence of the two token lists. For small (unfolded) terms, where the server's change
 * paths cannot point into a tree; the text itself is unchanged, only wrapped in spans.
 */
export function renderDiffText(before: string, after: string): HTMLElement {
  const a = tokens(before);
  const b = tokens(after);
  const el = document.createElement('span');
  el.className = 'es-term-text';
  const n = a.length;
  const m = b.length;
  // Past this the table would cost more than the highlight is worth; mark the whole text instead.
  if (n * m > 4_000_000) {
    el.append(mark(after));
    return el;
  }
  const w = m + 1;
  const lcs = new Uint16Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  let plain = '';
  let changed = '';
  const flush = (): void => {
    if (plain !== '') el.append(plain);
    if (changed !== '') el.append(mark(changed));
    plain = '';
    changed = '';
  };
  while (j < m) {
    if (i < n && a[i] === b[j]) {
      if (changed !== '') flush();
      plain += b[j];
      i++;
      j++;
    } else if (i < n && lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) {
      i++;
    } else {
      if (plain !== '') {
        el.append(plain);
        plain = '';
      }
      changed += b[j];
      j++;
    }
  }
  flush();
  return el;
}

function tokens(s: string): string[] {
  return s.match(/"(?:[^"\\]|\\.)*"|[\w.:@?!#<>-]+|\s+|./g) ?? [];
}

function mark(text: string): HTMLElement {
  const m = document.createElement('mark');
  m.className = 'es-diff';
  m.textContent = text;
  return m;
}
