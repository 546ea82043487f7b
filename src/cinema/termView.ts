/**
 * Terms as the page shows them: the text Elixir's `inspect` prints (through the CLI's Renderer, so
 * truncation markers read the same everywhere), folded when it is long. A view over FOLD_BYTES of text
 * carries its first FOLD_BYTES characters and its elements as views of their own, so the page can
 * unfold a 1 MB state one level at a time instead of receiving (and laying out) all of it.
 *
 *   termView(Tuple[ok, Map{...}], r)  →  { text: '{:ok, %{...}}', size: 13 }
 *   termView(hugeMap, r)              →  { text: '%{a: 1, …', size: 180_000, children: [{ key: 'a:', text: '1', size: 1 }, ...] }
 *
 * And the paths where two states differ (`changes`), for the inspector to highlight.
 */

import { inspect } from '../erlang/inspect.js';
import { Atom, ErlMap, ImproperList, Tuple, termEquals, type Term } from '../erlang/terms.js';
import type { Renderer } from '../cli/render/format.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** Texts longer than this are folded. */
export const FOLD_BYTES = 2048;

export interface TermView {
  /** The term as `inspect` prints it; cut to FOLD_BYTES (ending in `…`) when `children` is given. */
  text: string;
  /** Characters of the whole text. */
  size: number;
  /** For a map entry: the key as it prints before the value (`items:` or `"sku-1" =>`). */
  key?: string;
  /** The elements (list items, tuple elements, map entries), when the text was folded. */
  children?: TermView[];
}

/** The view of one term; `args` renders an argument list as the CLI does (each argument on its own). */
export function termView(t: Term | undefined, r: Renderer, opts: { args?: boolean } = {}): TermView | null {
  if (t === undefined) return null;
  const full = r.withOptions({ full: true });
  return view(t, full, opts.args === true && Array.isArray(t), 0);
}

/**
 * Paths (rendered as Elixir lists: `[:items, "sku-1"]`) where `after` differs from `before`: into maps
 * by key, into tuples and lists of the same length by index; a whole value that changed shape is one
 * path. `[]` means the whole term. Capped at `max` paths.
 */
export function changedPaths(before: Term, after: Term, max = 200): string[] {
  const out: Term[][] = [];
  diff(before, after, [], out, max);
  return out.map((p) => `[${p.map((k) => inspect(k)).join(', ')}]`);
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

const TRUNCATED = Atom.of('$es_truncated');
/** Nested folds stop here: deeper levels come as text (cut) only. */
const MAX_FOLD_DEPTH = 32;

function isMarker(t: Term): t is Tuple {
  return t instanceof Tuple && t.elements.length === 3 && t.elements[0] === TRUNCATED && typeof t.elements[1] === 'number';
}

function view(t: Term, r: Renderer, asArgs: boolean, depth: number): TermView {
  const text = asArgs ? r.args(t) : r.term(t);
  if (text.length <= FOLD_BYTES) return { text, size: text.length };
  const v: TermView = { text: text.slice(0, FOLD_BYTES) + '…', size: text.length };
  if (depth >= MAX_FOLD_DEPTH) return v;
  // What the agent cut keeps its kept part: unfold that.
  const inner = isMarker(t) ? t.elements[2]! : t;
  const kids = elementsOf(inner);
  if (kids !== null) {
    v.children = kids.map(({ key, value }) => {
      const child = view(value, r, false, depth + 1);
      if (key !== undefined) child.key = key;
      return child;
    });
  }
  return v;
}

function elementsOf(t: Term): Array<{ key?: string; value: Term }> | null {
  if (Array.isArray(t)) return t.map((value) => ({ value }));
  if (t instanceof Tuple) return t.elements.map((value) => ({ value }));
  if (t instanceof ImproperList) return [...t.elements, t.tail].map((value) => ({ value }));
  if (t instanceof ErlMap) {
    return t.entries.map(([k, value]) => {
      // Atom keys print as `name:` in a map, others as `key =>`.
      const kt = inspect(k);
      const key = k instanceof Atom && /^:[A-Za-z_][A-Za-z0-9_@]*[?!]?$/.test(kt) ? `${kt.slice(1)}:` : `${kt} =>`;
      return { key, value };
    });
  }
  return null;
}

function diff(a: Term, b: Term, path: Term[], out: Term[][], max: number): void {
  if (out.length >= max) return;
  if (a instanceof ErlMap && b instanceof ErlMap) {
    for (const [k, v] of b.entries) {
      const old = a.get(k);
      if (old === undefined) out.push([...path, k]);
      else diff(old, v, [...path, k], out, max);
      if (out.length >= max) return;
    }
    for (const [k] of a.entries) {
      if (b.get(k) === undefined && out.length < max) out.push([...path, k]);
    }
    return;
  }
  const seqA = a instanceof Tuple ? a.elements : Array.isArray(a) ? a : null;
  const seqB = b instanceof Tuple ? b.elements : Array.isArray(b) ? b : null;
  if (seqA !== null && seqB !== null && seqA.length === seqB.length && (a instanceof Tuple) === (b instanceof Tuple)) {
    for (let i = 0; i < seqA.length && out.length < max; i++) diff(seqA[i]!, seqB[i]!, [...path, i], out, max);
    return;
  }
  if (!termEquals(a, b)) out.push(path);
}
