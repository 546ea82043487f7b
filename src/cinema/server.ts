/**
 * The Cinema's server: the page's static files, the JSON API over one recording (api.ts) and the
 * live feed (a WebSocket at /api/live), on node:http with no framework.
 *
 *   const server = await CinemaServer.start(new RecordingView(openRecording(dir)), { port: 4747 });
 *   console.log(server.url);          // http://127.0.0.1:4747/?token=...
 *   server.broadcast({ type: 'grow', count: 1200 });
 *   await server.close();
 *
 * Access (docs/cinema.md, "Serving and access"): loopback unless `allowRemote`; every /api request
 * and the WebSocket carry the token; static files need none (they hold no data).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { endianness } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkHost, newToken, requestToken, tokenMatches } from './access.js';
import { apiErrorOf, type RecordingView } from './api.js';
import { DEFAULT_WEB_ROOT, staticFile } from './staticFiles.js';
import { acceptWebSocket, rejectUpgrade, type WebSocketConnection } from './websocket.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 4747; 0 picks a free port. */
  port?: number;
  /** Serve on a non-loopback host (default false: refused). */
  allowRemote?: boolean;
  /** Default: a fresh random token. */
  token?: string;
  /** Default dist/web/. */
  webRoot?: string;
  /** Seconds between pings on idle feeds (default 30), so proxies and the page notice a dead link. */
  pingSeconds?: number;
}

/** A message of the live feed (docs/cinema.md). */
export type LiveMessage =
  | { type: 'grow'; count: number }
  | { type: 'meta' }
  | { type: 'end'; status: string; reason: string | null };

export class CinemaServer {
  readonly token: string;
  private readonly sockets = new Set<WebSocketConnection>();
  private readonly pinger: NodeJS.Timeout;
  /** The last `end` sent, replayed to feeds that connect afterwards. */
  private ended: LiveMessage | null = null;

  private constructor(
    private readonly http: Server,
    readonly view: RecordingView,
    readonly host: string,
    readonly port: number,
    token: string,
    pingSeconds: number,
  ) {
    this.token = token;
    this.pinger = setInterval(() => {
      for (const s of this.sockets) s.ping();
    }, pingSeconds * 1000);
    this.pinger.unref();
  }

  /** Starts serving `view`; rejects with HostRefusedError or the listen error (EADDRINUSE...). */
  static async start(view: RecordingView, opts: ServeOptions = {}): Promise<CinemaServer> {
    // The columns are sent as the host's typed arrays' bytes; the format is little-endian.
    if (endianness() !== 'LE') throw new Error('the Cinema server needs a little-endian host (its column format is little-endian)');
    const host = opts.host ?? '127.0.0.1';
    checkHost(host, opts.allowRemote === true);
    const token = opts.token ?? newToken();
    const webRoot = opts.webRoot ?? DEFAULT_WEB_ROOT;
    const http = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      http.once('error', reject);
      http.listen(opts.port ?? 4747, host, () => {
        http.off('error', reject);
        resolve((http.address() as AddressInfo).port);
      });
    });
    const server = new CinemaServer(http, view, host, port, token, opts.pingSeconds ?? 30);
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      server.onRequest(req, res, webRoot).catch((err: unknown) => {
        // An answer that failed half way: log it for the person running the server, and end the response.
        process.stderr.write(`elixir-scope ui: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
        else res.destroy();
      });
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex) => server.onUpgrade(req, socket));
    return server;
  }

  /** The address to open, token included. */
  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${h}:${this.port}/?token=${this.token}`;
  }

  /** Sends a message to every open feed. */
  broadcast(msg: LiveMessage): void {
    if (msg.type === 'end') this.ended = msg;
    const text = JSON.stringify(msg);
    for (const s of this.sockets) s.sendText(text);
  }

  get feeds(): number {
    return this.sockets.size;
  }

  /** Stops listening, closes every feed and the recording. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const s of this.sockets) s.close(1001, 'server going away');
    this.sockets.clear();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    this.view.close();
  }

  // --------------------------------------------------------------------------------------------
  // PRIVATE
  // --------------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse, webRoot: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/api' || path.startsWith('/api/')) {
      if (!tokenMatches(this.token, requestToken(req, url))) {
        sendJson(res, 403, { error: 'a valid access token is required: open the URL elixir-scope printed (it ends in ?token=...)' });
        return;
      }
      if (req.method !== 'GET') {
        sendJson(res, 400, { error: `the API answers GET only (got ${req.method ?? '?'})` });
        return;
      }
      let answer;
      try {
        answer = this.view.handle(path.slice('/api/'.length), url.searchParams);
      } catch (err) {
        const api = apiErrorOf(err);
        if (api === null) throw err;
        sendJson(res, api.status, { error: api.message });
        return;
      }
      if ('json' in answer) sendJson(res, 200, answer.json);
      else {
        res.writeHead(200, { 'Content-Type': answer.type, 'Content-Length': answer.bytes.length, 'Cache-Control': 'no-store' });
        res.end(answer.bytes);
      }
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 400, { error: `static files answer GET only (got ${req.method ?? '?'})` });
      return;
    }
    // The raw path, not URL's normalized one: `/../` must be seen (and refused), not silently folded.
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const f = await staticFile(webRoot, rawPath);
    if (f.status === 404 && rawPath === '/favicon.ico') {
      // Browsers ask for it unprompted; "no icon" is not an error worth a line in the page's console.
      res.writeHead(204);
      res.end();
      return;
    }
    if (f.status !== 200) {
      sendJson(res, f.status, { error: f.error });
      return;
    }
    // The page's address carries the token: no Referer may take it to another site.
    res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/live') {
      rejectUpgrade(socket, 404, `no WebSocket at ${url.pathname}; the live feed is /api/live`);
      return;
    }
    if (!tokenMatches(this.token, requestToken(req, url))) {
      rejectUpgrade(socket, 403, 'a valid access token is required: open the URL elixir-scope printed (it ends in ?token=...)');
      return;
    }
    const ws = acceptWebSocket(req, socket);
    if (ws === null) return;
    this.sockets.add(ws);
    ws.onClose(() => this.sockets.delete(ws));
    // A page that connects late learns where the recording is now.
    ws.sendText(JSON.stringify({ type: 'grow', count: this.view.index.count } satisfies LiveMessage));
    if (this.ended !== null) ws.sendText(JSON.stringify(this.ended));
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
