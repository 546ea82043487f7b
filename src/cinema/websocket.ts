/**
 * A small server side of the WebSocket protocol (RFC 6455), enough for the Cinema's one feed: the
 * handshake, server → page text frames, ping/pong and close. The page sends nothing but control
 * frames, so a client frame is capped at MAX_CLIENT_FRAME bytes and any other data frame is refused.
 *
 *   server.on('upgrade', (req, socket) => { const ws = acceptWebSocket(req, socket); ws?.sendText('{}'); });
 *
 * Written here rather than taken from a library: the project adds no dependency for ~200 lines, and
 * the parts we leave out (extensions, fragmented client messages) are parts the feed never needs.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** The GUID every server appends to the client's key (RFC 6455 §1.3). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest frame a client may send: control frames only need 125 bytes; this leaves room for a short text. */
export const MAX_CLIENT_FRAME = 4096;

export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** The Sec-WebSocket-Accept answer for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** An unmasked server frame (servers never mask, RFC 6455 §5.1). */
export function encodeFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const n = payload.length;
  let header: Buffer;
  if (n < 126) {
    header = Buffer.alloc(2);
    header[1] = n;
  } else if (n < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  header[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([header, payload]);
}

/** One frame read from a client. */
export interface ClientFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Why a client's bytes were refused; `status` is the close code to answer with. */
export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

/**
 * Reads one client frame from the front of `buf`: the frame and the bytes it took, or null when more
 * bytes are needed. Unmasked frames and frames over `maxPayload` are protocol errors.
 */
export function parseClientFrame(buf: Buffer, maxPayload = MAX_CLIENT_FRAME): { frame: ClientFrame; used: number } | null {
  if (buf.length < 2) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if ((b0 & 0x70) !== 0) throw new WebSocketProtocolError('reserved bits set without a negotiated extension', 1002);
  if ((b1 & 0x80) === 0) throw new WebSocketProtocolError('client frames must be masked (RFC 6455 §5.1)', 1002);
  let len = b1 & 0x7f;
  let pos = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    pos = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(maxPayload)) throw new WebSocketProtocolError(`a frame of ${big} bytes is over the ${maxPayload}-byte limit`, 1009);
    len = Number(big);
    pos = 10;
  }
  if (len > maxPayload) throw new WebSocketProtocolError(`a frame of ${len} bytes is over the ${maxPayload}-byte limit`, 1009);
  if (buf.length < pos + 4 + len) return null;
  const mask = buf.subarray(pos, pos + 4);
  const payload = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) payload[i] = buf[pos + 4 + i]! ^ mask[i & 3]!;
  return { frame: { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload }, used: pos + 4 + len };
}

/** One open connection, server side. */
export class WebSocketConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private closed = false;
  private readonly closeListeners: Array<() => void> = [];

  constructor(private readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.finish());
    // A reset from the page's side ends the connection; it is no error of ours to report.
    socket.on('error', () => this.finish());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  sendText(text: string): void {
    if (this.closed) return;
    this.socket.write(encodeFrame(OP_TEXT, Buffer.from(text, 'utf8')));
  }

  ping(data = Buffer.alloc(0)): void {
    if (this.closed) return;
    this.socket.write(encodeFrame(OP_PING, data));
  }

  /** Sends a close frame with `code` and ends the connection. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    const body = Buffer.alloc(2 + Buffer.byteLength(reason));
    body.writeUInt16BE(code, 0);
    body.write(reason, 2);
    this.socket.end(encodeFrame(OP_CLOSE, body));
    this.finish();
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeListeners.push(fn);
  }

  private onData(d: Buffer): void {
    this.buffered = this.buffered.length === 0 ? d : Buffer.concat([this.buffered, d]);
    try {
      for (;;) {
        const got = parseClientFrame(this.buffered);
        if (got === null) break;
        this.buffered = this.buffered.subarray(got.used);
        this.onFrame(got.frame);
        if (this.closed) return;
      }
    } catch (err) {
      const status = err instanceof WebSocketProtocolError ? err.status : 1011;
      this.close(status, err instanceof Error ? err.message.slice(0, 100) : 'error');
    }
  }

  private onFrame(f: ClientFrame): void {
    switch (f.opcode) {
      case OP_PING:
        this.socket.write(encodeFrame(OP_PONG, f.payload));
        return;
      case OP_PONG:
        return;
      case OP_CLOSE: {
        // Echo the client's code, as §5.5.1 asks, then end.
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1000;
        this.close(code === 1005 || code === 1006 ? 1000 : code);
        return;
      }
      default:
        throw new WebSocketProtocolError('this feed takes no messages from the page (only ping, pong and close)', 1003);
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeListeners.splice(0)) fn();
  }
}

/**
 * Completes the handshake for an `upgrade` request, or answers 400 and returns null when the request
 * is not a WebSocket version 13 handshake.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex): WebSocketConnection | null {
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (upgrade !== 'websocket' || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16 || version !== '13') {
    rejectUpgrade(socket, 400, 'expected a WebSocket version 13 handshake (Upgrade: websocket, a 16-byte Sec-WebSocket-Key)');
    return null;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  );
  return new WebSocketConnection(socket);
}

/** Answers an upgrade request with an HTTP error and a JSON body, and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const reason = status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
