/**
 * The small pieces every text view of a recording shares: timestamps, durations, MFAs, pids with
 * their registered names, and terms (via `inspect`, with the agent's truncation markers made readable).
 *
 *   const r = new Renderer(recording, { full: false });
 *   r.ts(e.ts)                     // +1.234567s
 *   formatMfa(e.mfa)               // Shop.Cart.add/3, :lists.reverse/1
 *   r.pid(e.pid)                   // #PID<0.150.0> (Shop.Inventory)
 *   r.term(e.payload())            // %{items: ...} with {'$es_truncated', N, Kept} as `Kept …(cut: N bytes)`
 */

import type { Mfa, StoredEvent } from '../../capture/event.js';
import { inspect, type InspectOptions } from '../../erlang/inspect.js';
import { inspectAtomRemoteCall } from '../../erlang/inspect/atom.js';
import { Atom, ErlMap, ImproperList, Pid, Tuple, type Term } from '../../erlang/terms.js';
import type { Recording } from '../../store/types.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** How much of each term to print. The defaults keep one event on one readable line. */
export interface RenderOptions {
  /** No limit at all (`--full`). */
  full?: boolean;
  /** Items of lists, tuples and maps (default 20: a history line, not a dump). */
  limit?: number;
  /** Characters of strings (default 200). */
  printableLimit?: number;
}

export const LINE_LIMITS = { limit: 20, printableLimit: 200 } as const;
/** Elixir's own inspect defaults, for the views that show one term at a time (state-at, JSON). */
export const INSPECT_DEFAULTS = { limit: 50, printableLimit: 4096 } as const;

/** `+1.234567s`: seconds since the recording's start, to the microsecond (truncated, not rounded). */
export function formatTs(ns: number): string {
  const sign = ns < 0 ? '-' : '+';
  const abs = Math.abs(Math.trunc(ns));
  const sec = Math.floor(abs / 1e9);
  const us = Math.floor((abs % 1e9) / 1e3);
  return `${sign}${sec}.${String(us).padStart(6, '0')}s`;
}

/** A duration with three significant digits at most: `850ns`, `12.3µs`, `4.56ms`, `1.23s`. */
export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${Math.round(ns)}ns`;
  if (abs < 1e6) return `${trim(ns / 1e3)}µs`;
  if (abs < 1e9) return `${trim(ns / 1e6)}ms`;
  return `${trim(ns / 1e9)}s`;
}

/** A module as Elixir prints it: `Shop.Cart` for `Elixir.Shop.Cart`, `:lists` for an Erlang module. */
export function formatModule(module: string): string {
  return inspect(Atom.of(module));
}

/** `Shop.Cart.add/3`, `:lists.reverse/1`, `Shop.Cart."-add/3-fun-0-"/1`, as Exception.format_mfa. */
export function formatMfa(mfa: Mfa): string {
  return `${formatModule(mfa.module)}.${inspectAtomRemoteCall(mfa.fun)}/${mfa.arity}`;
}

/** `48,213`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Renders pids, names and terms of one recording. */
export class Renderer {
  readonly inspectOptions: InspectOptions;
  private namesByKey: Map<string, string> | null = null;
  private readonly depths = new Map<number, number>();
  private readonly localNode: Atom;

  constructor(
    readonly recording: Recording,
    opts: RenderOptions = {},
  ) {
    this.localNode = Atom.of(recording.meta.node);
    this.inspectOptions = {
      limit: opts.full ? Infinity : (opts.limit ?? LINE_LIMITS.limit),
      printableLimit: opts.full ? Infinity : (opts.printableLimit ?? LINE_LIMITS.printableLimit),
      localNode: this.localNode,
    };
  }

  /** The same recording and names, another amount of detail. */
  withOptions(opts: RenderOptions): Renderer {
    const r = new Renderer(this.recording, opts);
    r.namesByKey = this.namesByKey;
    return r;
  }

  ts(ns: number): string {
    return formatTs(ns);
  }

  /** `#PID<0.150.0>`; pids of other nodes than the recorded one carry the node's name. */
  pidText(p: Pid): string {
    return inspect(p, { localNode: this.localNode });
  }

  /** The registered name the recording knows for a pid, as Elixir prints the atom (`Shop.Cart`, `:logger`). */
  nameOf(p: Pid): string | null {
    if (this.namesByKey === null) {
      this.namesByKey = new Map();
      for (const info of this.recording.processes()) {
        if (info.name !== null) this.namesByKey.set(info.pid.key, formatModule(info.name));
      }
    }
    return this.namesByKey.get(p.key) ?? null;
  }

  /** `#PID<0.150.0> (Shop.Inventory)`, or the pid alone when it has no name. */
  pid(p: Pid): string {
    const name = this.nameOf(p);
    return name === null ? this.pidText(p) : `${this.pidText(p)} (${name})`;
  }

  /**
   * An argument list: each argument inspected on its own, so `[27]` stays `[27]` (inspect of the
   * whole list would print the charlist `'\\e'`, which is not what was passed).
   */
  args(t: Term | undefined): string {
    if (!Array.isArray(t)) return this.term(t);
    return `[${t.map((a) => this.term(a)).join(', ')}]`;
  }

  /** A term as `inspect` prints it, with truncation markers as `Kept …(cut: N bytes)`. */
  term(t: Term | undefined): string {
    if (t === undefined) return '';
    const cuts: string[] = [];
    const replaced = replaceMarkers(t, cuts, this, 0);
    let text = inspect(replaced, this.inspectOptions);
    // Placeholders are unique atoms (a per-process nonce), so they cannot collide with the term's own.
    // In order: a marker's text may hold the placeholders of markers nested in what it kept.
    for (let i = 0; i < cuts.length; i++) {
      // As a key of an atom-keyed map or keyword list the placeholder prints as `name:`.
      text = text.split(`${placeholder(i).name}: `).join(`${cuts[i]!} => `);
      text = text.split(inspect(placeholder(i))).join(cuts[i]!);
    }
    return text;
  }

  /** How many calls are open around an event on its pid: the indentation of a history line. */
  depth(e: StoredEvent): number {
    // A call sits at the depth of its caller plus one; so does everything inside a call; a return
    // closes its call and its parent is the call's parent, so it lines up with its call.
    if (e.parent === null) return 0;
    return this.callDepth(e.parent) + 1;
  }

  private callDepth(id: number): number {
    const known = this.depths.get(id);
    if (known !== undefined) return known;
    // Walk up iteratively (deep recursion must not overflow the stack), then fill in on the way back.
    const chain: number[] = [];
    let cur: number | null = id;
    let base = -1;
    while (cur !== null) {
      const d = this.depths.get(cur);
      if (d !== undefined) {
        base = d;
        break;
      }
      chain.push(cur);
      const parent: number | null = this.recording.event(cur).parent;
      if (parent !== null && parent >= cur) break; // a malformed link must not loop
      cur = parent;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      base += 1;
      this.depths.set(chain[i]!, base);
    }
    return this.depths.get(id)!;
  }
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: truncation markers
// ----------------------------------------------------------------------------------------------

const TRUNCATED = Atom.of('$es_truncated');
const CUT = Atom.of('$es_cut');
const NONCE = Math.random().toString(36).slice(2, 10);
const placeholder = (i: number): Atom => Atom.of(`es_cut_${NONCE}_${i}_`) // the trailing _ keeps _1_ from matching inside _10_;
/** Deeper than this no printable part of a term can be reached with a finite limit anyway. */
const MAX_MARKER_DEPTH = 400;

function isMarker(t: Term): t is Tuple {
  return t instanceof Tuple && t.elements.length === 3 && t.elements[0] === TRUNCATED && typeof t.elements[1] === 'number';
}

function renderMarker(t: Tuple, cuts: string[], r: Renderer, depth: number): string {
  const original = t.elements[1] as number;
  const kept = t.elements[2]!;
  const note = `…(cut: ${formatCount(original)} bytes)`;
  if (kept === CUT) return note;
  const inner = replaceMarkers(kept, cuts, r, depth + 1);
  return `${inspect(inner, r.inspectOptions)} ${note}`;
}

/** The term with every marker replaced by a placeholder atom; the same object when there is none. */
function replaceMarkers(t: Term, cuts: string[], r: Renderer, depth: number): Term {
  if (depth > MAX_MARKER_DEPTH) return t;
  if (isMarker(t)) {
    // Reserve the slot first: markers nested in Kept take later slots, substituted after this one.
    const i = cuts.length;
    cuts.push('');
    cuts[i] = renderMarker(t, cuts, r, depth);
    return placeholder(i);
  }
  if (Array.isArray(t)) return mapItems(t, cuts, r, depth) ?? t;
  if (t instanceof Tuple) {
    const items = mapItems(t.elements, cuts, r, depth);
    return items === null ? t : new Tuple(items);
  }
  if (t instanceof ErlMap) {
    let changed = false;
    const entries = t.entries.map(([k, v]): [Term, Term] => {
      const k2 = replaceMarkers(k, cuts, r, depth + 1);
      const v2 = replaceMarkers(v, cuts, r, depth + 1);
      if (k2 !== k || v2 !== v) changed = true;
      return [k2, v2];
    });
    return changed ? new ErlMap(entries) : t;
  }
  if (t instanceof ImproperList) {
    const items = mapItems(t.elements, cuts, r, depth);
    const tail = replaceMarkers(t.tail, cuts, r, depth + 1);
    return items === null && tail === t.tail ? t : new ImproperList(items ?? t.elements, tail);
  }
  return t;
}

function mapItems(items: Term[], cuts: string[], r: Renderer, depth: number): Term[] | null {
  let out: Term[] | null = null;
  for (let i = 0; i < items.length; i++) {
    const x = replaceMarkers(items[i]!, cuts, r, depth + 1);
    if (x !== items[i] && out === null) out = items.slice(0, i);
    if (out !== null) out.push(x);
  }
  return out;
}

function trim(x: number): string {
  // Three significant digits, without trailing zeros: 12.3, 4.56, 120.
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return String(Number(x.toFixed(digits)));
}
