/**
 * The Cinema's JSON API: each handler answers one `/api/*` request from a RecordingView (the open
 * recording, its index, the renderers), as docs/cinema.md lists them. The answers reuse the CLI's
 * JSON renderings (`state-at --json`, `calls --json`, `flow --json`, history lines), so the page and
 * the command line never disagree about what a recording says.
 */

import { EVENT_KINDS, isEventKind, type StoredEvent } from '../capture/event.js';
import { eventLine } from '../cli/render/event.js';
import { callTreeJson } from '../cli/render/callTree.js';
import { flowJson } from '../cli/render/flow.js';
import { formatMfa, formatModule, INSPECT_DEFAULTS, Renderer } from '../cli/render/format.js';
import { stateAtJson } from '../cli/render/stateAt.js';
import { QueryCoordinator, QueryError } from '../store/query.js';
import type { Recording } from '../store/types.js';
import { encodeColumns, NONE, RecordingIndex } from './recordingIndex.js';
import { readSource, SourceMissingError } from './sources.js';
import { changedPaths, termView } from './termView.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** Most events one /api/columns answer carries. */
export const MAX_COLUMNS = 2_000_000;
/** Most events one /api/events page carries. */
export const MAX_PAGE = 5000;
/** Events one /api/events request looks at before it answers with a cursor (kind, pid, module: columns only). */
export const MAX_SCAN = 1_000_000;
/** Lines one /api/events request renders to search their text (about 25 µs each) before it answers with a cursor. */
export const MAX_RENDER = 20_000;

/** An answer to a bad request: `{error}` with this status. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** An answer: JSON, or bytes with a content type. */
export type ApiAnswer = { json: unknown } | { bytes: Buffer; type: string };

/** The recording being served, with what the API derives from it. A live view swaps in reopened recordings. */
export class RecordingView {
  rec: Recording;
  index: RecordingIndex;
  live: boolean;
  private lineRenderer: Renderer;
  private jsonRenderer: Renderer;

  constructor(rec: Recording, live = false) {
    this.rec = rec;
    this.live = live;
    this.index = new RecordingIndex(rec);
    this.lineRenderer = new Renderer(rec);
    this.jsonRenderer = new Renderer(rec, { ...INSPECT_DEFAULTS });
  }

  /** Serves `next` from now on (a reopened, longer copy of the same recording); closes the old one. */
  replace(next: Recording): void {
    const old = this.rec;
    this.rec = next;
    this.index.extend(next);
    this.lineRenderer = new Renderer(next);
    this.jsonRenderer = new Renderer(next, { ...INSPECT_DEFAULTS });
    if (old !== next) old.close();
  }

  close(): void {
    this.rec.close();
  }

  /** Routes one API request (path below /api/). */
  handle(path: string, q: URLSearchParams): ApiAnswer {
    const m = /^event\/(\d+)$/.exec(path);
    if (m !== null) return { json: this.event(Number(m[1])) };
    switch (path) {
      case 'meta':
        return { json: this.meta() };
      case 'columns': {
        const from = intParam(q, 'from', 0);
        const to = Math.min(intParam(q, 'to', this.index.count), this.index.count);
        if (to - from > MAX_COLUMNS) throw new ApiError(400, `at most ${MAX_COLUMNS} events per request (asked for ${to - from}); page with from and to`);
        return { bytes: encodeColumns(this.index, Math.min(from, to), to), type: 'application/octet-stream' };
      }
      case 'state':
        return { json: this.state(this.pidParam(q, 'pid'), this.idParam(q, 'at')) };
      case 'calltree':
        return { json: this.callTree(this.pidParam(q, 'pid'), optInt(q, 'from'), optInt(q, 'to')) };
      case 'flow':
        return { json: this.flow(q) };
      case 'events':
        return { json: this.events(q) };
      case 'source':
        return { json: this.source(q) };
      default:
        throw new ApiError(404, `no API /api/${path}; see docs/cinema.md for the list`);
    }
  }

  // --------------------------------------------------------------------------------------------
  // The answers
  // --------------------------------------------------------------------------------------------

  meta(): Record<string, unknown> {
    const ix = this.index;
    const rec = this.rec;
    const byKey = new Map(rec.processes().map((p) => [p.pid.key, p]));
    const r = this.jsonRenderer;
    const label = (i: number): string => {
      const p = ix.processes[i]!;
      return r.nameOf(p.pid) ?? r.pidText(p.pid);
    };
    const nodes = new Set<string>();
    const processes = ix.processes.map((p) => {
      const info = byKey.get(p.pid.key);
      // Its supervision tree when a snapshot holds it, else the tree it was spawned in (recordingIndex.ts).
      const { group, ancestors } = ix.groupOf(p.index, label);
      nodes.add(p.pid.node.name);
      return {
        index: p.index,
        pid: r.pidText(p.pid),
        node: p.pid.node.name,
        name: r.nameOf(p.pid) ?? p.sup?.name ?? null,
        initialCall: info?.initialCall ?? null,
        first: p.first < 0 ? null : p.first,
        last: p.last < 0 ? null : p.last,
        count: p.count,
        group,
        ancestors,
        restartOf: p.restartOf === NONE ? null : p.restartOf,
        app: p.sup?.app ?? null,
        childId: p.sup?.id ?? null,
      };
    });
    return {
      meta: withoutSecrets(rec.meta),
      live: this.live,
      count: ix.count,
      processes,
      mfas: ix.mfas.map((m) => ({ index: m.index, module: m.mfa.module, fun: m.mfa.fun, arity: m.mfa.arity, text: formatMfa(m.mfa) })),
      nodes: [...nodes],
    };
  }

  event(id: number): Record<string, unknown> {
    const e = this.eventAt(id);
    const ix = this.index;
    const r = this.jsonRenderer;
    const opt = (v: number): number | null => (v === NONE ? null : v);
    const aux = e.aux();
    return {
      id: e.id,
      ts: e.ts,
      kind: e.kind,
      source: e.source,
      pid: ix.pid[id],
      mfa: opt(ix.mfa[id]!),
      peer: opt(ix.peer[id]!),
      link: e.link,
      parent: e.parent,
      // An AST event's aux is its source line (src/capture/event.ts); runtime events have none.
      line: e.source === 'ast' && typeof aux === 'number' ? aux : null,
      text: eventLine(e, this.lineRenderer),
      payload: termView(e.payload(), r, { args: e.kind === 'call' }),
      aux: termView(aux, r),
    };
  }

  state(pidIndex: number, at: number): Record<string, unknown> {
    const pid = this.index.processes[pidIndex]!.pid;
    const r = this.jsonRenderer;
    const s = new QueryCoordinator(this.rec).stateAt(pid, at);
    const out = stateAtJson(pid, s, r);
    out.views = {
      state: s.state === null ? null : termView(s.state.value, r),
      previous_state: s.previousState === null ? null : termView(s.previousState.value, r),
      stack: s.stack.map((f) => termView(f.args, r, { args: true })),
      last_message: s.lastMessage === null ? null : termView(s.lastMessage.payload(), r),
    };
    out.changes = s.state !== null && s.previousState !== null ? changedPaths(s.previousState.value, s.state.value) : [];
    return out;
  }

  callTree(pidIndex: number, from: number | undefined, to: number | undefined): Record<string, unknown> {
    const pid = this.index.processes[pidIndex]!.pid;
    const tree = new QueryCoordinator(this.rec).callTree(pid);
    const json = callTreeJson(tree, this.jsonRenderer);
    if (from !== undefined || to !== undefined) {
      // Roots that overlap the window: a call that began before `from` but was still open counts.
      const lo = from ?? 0;
      const hi = to ?? Infinity;
      const roots = tree.roots.filter((n) => n.call.id <= hi && (n.end === null ? Infinity : n.end.id) >= lo);
      json.roots = callTreeJson({ ...tree, roots }, this.jsonRenderer).roots;
    }
    return json;
  }

  flow(q: URLSearchParams): Record<string, unknown> {
    const text = q.get('pids');
    if (text === null || text.trim() === '') throw new ApiError(400, 'pids is required: process indexes of /api/meta, comma-separated (pids=3,7)');
    const pids = text.split(',').map((t) => this.pidIndexOf(t.trim(), 'pids'));
    const from = optInt(q, 'from') ?? 0;
    const to = optInt(q, 'to') ?? Infinity;
    const pidObjs = pids.map((i) => this.index.processes[i]!.pid);
    const messages = new QueryCoordinator(this.rec)
      .flow(pidObjs, { outside: q.get('outside') === 'true' })
      .filter((m) => m.send.id >= from && m.send.id <= to);
    return flowJson(pidObjs, messages, this.jsonRenderer);
  }

  events(q: URLSearchParams): { ids: number[]; lines: string[]; next: number | null } {
    const ix = this.index;
    const n = ix.count;
    const limit = Math.min(intParam(q, 'limit', 100), MAX_PAGE);
    const dir = q.get('dir') ?? 'next';
    if (dir !== 'next' && dir !== 'prev') throw new ApiError(400, `dir must be next or prev, got ${JSON.stringify(dir)}`);
    const from = intParam(q, 'from', dir === 'next' ? 0 : Math.max(0, n - 1));
    let kinds: Uint8Array | null = null;
    const kindsText = q.get('kinds');
    if (kindsText !== null && kindsText !== '') {
      kinds = new Uint8Array(256);
      for (const k of kindsText.split(',')) {
        if (!isEventKind(k)) throw new ApiError(400, `unknown event kind ${JSON.stringify(k)}; the kinds are ${Object.keys(EVENT_KINDS).join(', ')}`);
        kinds[EVENT_KINDS[k]] = 1;
      }
    }
    const pidText = q.get('pid');
    const pid = pidText === null || pidText === '' ? null : this.pidIndexOf(pidText, 'pid');
    const moduleText = q.get('module');
    let mfaOk: Uint8Array | null = null;
    if (moduleText !== null && moduleText !== '') {
      // Matches the module as stored (Elixir.Shop.Cart) or as printed (Shop.Cart, :lists).
      mfaOk = new Uint8Array(ix.mfas.length);
      for (const m of ix.mfas) if (m.mfa.module === moduleText || formatModule(m.mfa.module) === moduleText) mfaOk[m.index] = 1;
    }
    const text = q.get('text');
    const needle = text === null || text === '' ? null : text.toLowerCase();
    const ids: number[] = [];
    const lines: string[] = [];
    const step = dir === 'next' ? 1 : -1;
    let id = from;
    let scanned = 0;
    let rendered = 0;
    for (; id >= 0 && id < n && ids.length < limit && scanned < MAX_SCAN && rendered < MAX_RENDER; id += step) {
      scanned++;
      if (kinds !== null && kinds[ix.kind[id]! & 0x7f] !== 1) continue;
      if (pid !== null && ix.pid[id] !== pid) continue;
      if (mfaOk !== null && (ix.mfa[id] === NONE || mfaOk[ix.mfa[id]!] !== 1)) continue;
      rendered++;
      const line = eventLine(this.rec.event(id), this.lineRenderer, { pidColumn: pid === null ? 0 : false });
      if (needle !== null && !line.toLowerCase().includes(needle)) continue;
      ids.push(id);
      lines.push(line);
    }
    const next = id >= 0 && id < n ? id : null;
    return { ids, lines, next };
  }

  source(q: URLSearchParams): Record<string, unknown> {
    const module = q.get('module');
    if (module === null || module === '') throw new ApiError(400, 'module is required (Shop.Cart, or :lists for an Erlang module)');
    const fun = q.get('fun') ?? undefined;
    const arity = optInt(q, 'arity');
    const line = optInt(q, 'line');
    try {
      const s = readSource(this.rec.dir, module, { fun, arity, line });
      return { module: s.module, file: s.file, firstLine: s.firstLine, lines: s.lines, focus: s.focus };
    } catch (err) {
      if (err instanceof SourceMissingError) throw new ApiError(404, err.message);
      throw err;
    }
  }

  // --------------------------------------------------------------------------------------------
  // Parameters
  // --------------------------------------------------------------------------------------------

  private eventAt(id: number): StoredEvent {
    if (!Number.isInteger(id) || id < 0 || id >= this.rec.count) {
      throw new ApiError(404, this.rec.count === 0 ? `no event #${id}: the recording has no events` : `no event #${id}: the recording has events #0 to #${this.rec.count - 1}`);
    }
    return this.rec.event(id);
  }

  private idParam(q: URLSearchParams, name: string): number {
    const v = q.get(name);
    if (v === null) throw new ApiError(400, `${name} is required: an event id`);
    const id = intParam(q, name, 0);
    this.eventAt(id);
    return id;
  }

  private pidParam(q: URLSearchParams, name: string): number {
    const v = q.get(name);
    if (v === null || v === '') throw new ApiError(400, `${name} is required: a process index of /api/meta`);
    return this.pidIndexOf(v, name);
  }

  private pidIndexOf(text: string, name: string): number {
    if (!/^\d+$/.test(text)) throw new ApiError(400, `${name} must be a process index of /api/meta (a number), got ${JSON.stringify(text)}`);
    const i = Number(text);
    if (i >= this.index.processes.length) {
      throw new ApiError(404, `no process index ${i}: the recording has ${this.index.processes.length} processes (0 to ${this.index.processes.length - 1})`);
    }
    return i;
  }
}

/** Maps an error thrown while answering to a status and message; anything unexpected is rethrown. */
export function apiErrorOf(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof QueryError) return new ApiError(err.code === 'ES_QUERY_ARG' ? 400 : 404, err.message);
  return null;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function intParam(q: URLSearchParams, name: string, fallback: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (!/^\d+$/.test(v)) throw new ApiError(400, `${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function optInt(q: URLSearchParams, name: string): number | undefined {
  return q.get(name) === null ? undefined : intParam(q, name, 0);
}

const SECRET_KEY = /cookie|secret|token|password/i;

/** The meta as JSON with any field whose name suggests a secret left out (the recorder never stores the cookie; this keeps it so). */
function withoutSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSecrets);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!SECRET_KEY.test(k)) out[k] = withoutSecrets(x);
    return out;
  }
  return v;
}

