/**
 * The page's side of the Cinema API (docs/cinema.md): the access token, JSON requests, the binary
 * columns decoder, and the live WebSocket.
 *
 * Every request carries the token the server printed in the page's URL; the page never stores it
 * anywhere else (no cookie, no localStorage), so closing the tab forgets it.
 */

// ----------------------------------------------------------------------------------------------
// PUBLIC: types of the answers
// ----------------------------------------------------------------------------------------------

/** `0xFFFFFFFF` in a u32 column: no pid / MFA / link / parent / peer. */
export const NONE = 0xffffffff;
/** Bit of the kind byte set for events from AST instrumentation (the low 7 bits are the kind). */
export const AST_BIT = 0x80;
const COLUMNS_MAGIC = 0x45534331; // "ESC1"
/** The server answers at most this many events per columns request. */
export const MAX_COLUMNS_PER_REQUEST = 2_000_000;

export interface ProcessMeta {
  index: number;
  /** As the node prints it: `<0.85.0>`. */
  pid: string;
  node: string;
  name: string | null;
  initialCall: string | null;
  /** Its first and last event ids (null when it has none). */
  first: number | null;
  last: number | null;
  count: number;
  /** Its group: `node / app / supervisor / ...` from the supervision trees, else `<node> <oldest known spawner>` (docs/cinema.md). */
  group: string | null;
  /** Its supervisors (or spawners) as process indexes, nearest first. */
  ancestors: number[];
  /** The process index of the earlier pid of the same supervised child, when this one restarted it. */
  restartOf?: number | null;
  app?: string | null;
  childId?: string | null;
}

export interface MfaMeta {
  index: number;
  module: string;
  fun: string;
  arity: number;
  text: string;
}

export interface MetaResponse {
  /** The recording's meta.json (without anything secret). */
  meta: Record<string, unknown>;
  live: boolean;
  count: number;
  processes: ProcessMeta[];
  mfas: MfaMeta[];
  nodes: string[];
}

/** A term as the server renders it: Elixir `inspect` text, folded when large. */
export interface TermView {
  text: string;
  size: number;
  /** For a map entry: the key as it prints before the value (`items:` or `"sku-1" =>`). */
  key?: string;
  children?: TermView[];
}

export interface EventDetail {
  id: number;
  ts: number;
  kind: string;
  source: 'runtime' | 'ast';
  pid: number;
  mfa: number | null;
  peer: number | null;
  link: number | null;
  parent: number | null;
  /** An AST event's source line; null for runtime events. */
  line: number | null;
  /** The CLI's history line for the event. */
  text: string;
  payload: TermView | null;
  aux: TermView | null;
}

/** Events `from .. from + count - 1`, one typed array per column (docs/cinema.md). */
export interface ColumnChunk {
  from: number;
  count: number;
  ts: Float64Array;
  pid: Uint32Array;
  mfa: Uint32Array;
  link: Uint32Array;
  parent: Uint32Array;
  peer: Uint32Array;
  kind: Uint8Array;
}

export type LiveMessage =
  | { type: 'grow'; count: number }
  | { type: 'meta' }
  | { type: 'end'; status: string; reason: string | null };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// ----------------------------------------------------------------------------------------------
// PUBLIC: the client
// ----------------------------------------------------------------------------------------------

export class Api {
  /** `token` is the one from the printed URL; `base` the server's origin (tests may point elsewhere). */
  constructor(
    readonly token: string,
    readonly base: string = location.origin,
  ) {}

  /** Reads `?token=` from the page's address; without it every API request would be refused. */
  static fromLocation(): Api {
    const token = new URLSearchParams(location.search).get('token');
    if (token === null || token === '') {
      throw new ApiError(
        'this page was opened without its access token: open the exact URL that `elixir-scope ui` printed (it ends with ?token=...)',
        403,
      );
    }
    return new Api(token);
  }

  url(path: string): string {
    const u = new URL(path, this.base);
    u.searchParams.set('token', this.token);
    return u.toString();
  }

  async getJson<T>(path: string): Promise<T> {
    const res = await fetch(this.url(path));
    if (!res.ok) throw await this.failure(path, res);
    return (await res.json()) as T;
  }

  /** Events `from .. to - 1`, split into requests the server accepts. */
  async getColumns(from: number, to: number): Promise<ColumnChunk> {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to >= from)) {
      throw new RangeError(`getColumns(${from}, ${to}): expected integers with 0 <= from <= to`);
    }
    const chunks: ColumnChunk[] = [];
    for (let a = from; a < to; a += MAX_COLUMNS_PER_REQUEST) {
      const b = Math.min(to, a + MAX_COLUMNS_PER_REQUEST);
      const path = `/api/columns?from=${a}&to=${b}`;
      const res = await fetch(this.url(path));
      if (!res.ok) throw await this.failure(path, res);
      chunks.push(decodeColumns(await res.arrayBuffer(), path));
    }
    return chunks.length === 1 ? chunks[0]! : concatChunks(from, chunks);
  }

  /** The live stream of a recording in progress; `onMessage` gets each server message. */
  live(onMessage: (m: LiveMessage) => void, onClose: (why: string) => void): WebSocket {
    const u = new URL(this.url('/api/live'));
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(u.toString());
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let m: LiveMessage;
      try {
        m = JSON.parse(ev.data) as LiveMessage;
      } catch (err) {
        console.error('elixir-scope: a live message that is not JSON was ignored', ev.data, err);
        return;
      }
      onMessage(m);
    };
    ws.onclose = (ev: CloseEvent) => onClose(ev.reason || `closed (code ${ev.code})`);
    return ws;
  }

  private async failure(path: string, res: Response): Promise<ApiError> {
    let why = '';
    try {
      why = (await res.text()).slice(0, 500);
    } catch (err) {
      why = `(the answer could not be read: ${String(err)})`;
    }
    const hint = res.status === 403 ? ' — the access token was refused: reopen the URL `elixir-scope ui` printed' : '';
    return new ApiError(`GET ${path} failed with HTTP ${res.status}${hint}: ${why}`, res.status);
  }
}

// ----------------------------------------------------------------------------------------------
// The columns format (docs/cinema.md, /api/columns)
// ----------------------------------------------------------------------------------------------

/** Decodes one `/api/columns` answer; views share the answer's buffer (no copy). */
export function decodeColumns(buf: ArrayBuffer, what = 'columns'): ColumnChunk {
  if (buf.byteLength < 16) throw new ApiError(`${what}: answer of ${buf.byteLength} bytes is shorter than the 16-byte columns header`, 0);
  const dv = new DataView(buf);
  const magic = dv.getUint32(0, true);
  if (magic !== COLUMNS_MAGIC) {
    throw new ApiError(`${what}: expected the magic ESC1 (0x45534331), got 0x${magic.toString(16)}; is the server an older ElixirScope?`, 0);
  }
  const n = dv.getUint32(4, true);
  const from = dv.getUint32(8, true);
  // The header is 16 bytes (a fourth u32, 0), so the f64 column is 8-aligned: a view, not a copy.
  const header = 16;
  const body = n * 8 + n * 4 * 5 + n;
  if (buf.byteLength < header + body) throw new ApiError(`${what}: ${n} events need ${header + body} bytes, the answer has ${buf.byteLength}`, 0);
  const ts = new Float64Array(buf, header, n);
  let off = header + n * 8;
  const u32 = (): Uint32Array => {
    const a = new Uint32Array(buf, off, n);
    off += n * 4;
    return a;
  };
  const pid = u32();
  const mfa = u32();
  const link = u32();
  const parent = u32();
  const peer = u32();
  const kind = new Uint8Array(buf, off, n);
  return { from, count: n, ts, pid, mfa, link, parent, peer, kind };
}

/** Copies every column of `src` into `dst` from event `at` on (`dst` has room). */
export function copyColumns(src: Omit<ColumnChunk, 'from'>, dst: Omit<ColumnChunk, 'from'>, at: number): void {
  dst.ts.set(src.ts, at);
  dst.pid.set(src.pid, at);
  dst.mfa.set(src.mfa, at);
  dst.link.set(src.link, at);
  dst.parent.set(src.parent, at);
  dst.peer.set(src.peer, at);
  dst.kind.set(src.kind, at);
}

function concatChunks(from: number, chunks: ColumnChunk[]): ColumnChunk {
  const n = chunks.reduce((s, c) => s + c.count, 0);
  const out: ColumnChunk = {
    from,
    count: n,
    ts: new Float64Array(n),
    pid: new Uint32Array(n),
    mfa: new Uint32Array(n),
    link: new Uint32Array(n),
    parent: new Uint32Array(n),
    peer: new Uint32Array(n),
    kind: new Uint8Array(n),
  };
  let at = 0;
  for (const c of chunks) {
    copyColumns(c, out, at);
    at += c.count;
  }
  return out;
}
