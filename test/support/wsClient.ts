/**
 * A raw WebSocket client for tests (Node 20 has no WebSocket global): a TCP socket, the RFC 6455
 * handshake written out by hand, masked client frames, and the server's frames parsed as they come.
 * It checks what a browser checks (status 101, Sec-WebSocket-Accept) so a broken handshake fails.
 *
 *   const ws = await wsConnect(port, `/api/live?token=${token}`);
 *   const msg = await ws.nextText((m) => JSON.parse(m).type === 'grow');
 *   ws.close();
 */

import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export interface WsClient {
  socket: Socket;
  frames: ServerFrame[];
  /** Resolves with the first text frame (from the start of the connection) matching `pred`, consuming frames up to it. */
  nextFrame(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  nextText(pred?: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Sends one masked frame. */
  send(opcode: number, payload: Buffer): void;
  /** Raw bytes, to test what the server does with bad frames. */
  sendRaw(bytes: Buffer): void;
  close(): void;
  /** Resolves when the server has closed the TCP connection. */
  ended: Promise<void>;
}

/** The HTTP answer when the server refused the upgrade. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

export function wsConnect(port: number, path: string, headers: Record<string, string> = {}, host = '127.0.0.1'): Promise<WsClient> {
  const key = randomBytes(16).toString('base64');
  const expectAccept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const frames: ServerFrame[] = [];
    const waiters: Array<() => void> = [];
    let endedResolve!: () => void;
    const ended = new Promise<void>((r) => (endedResolve = r));
    socket.on('close', () => {
      endedResolve();
      if (!upgraded) {
        const text = buf.toString('utf8');
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
        reject(new UpgradeRefused(status, text.slice(text.indexOf('\r\n\r\n') + 4)));
      }
      for (const w of waiters.splice(0)) w();
    });
    socket.on('error', (err) => {
      if (!upgraded) reject(err);
    });
    socket.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    const client: WsClient = {
      socket,
      frames,
      ended,
      nextFrame(pred, timeoutMs = 30_000) {
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no matching frame within ${timeoutMs} ms; got ${frames.map((f) => f.payload.toString()).join(' | ')}`)), timeoutMs);
          const look = (): boolean => {
            while (frames.length > 0) {
              const f = frames.shift()!;
              if (pred(f)) {
                clearTimeout(timer);
                res(f);
                return true;
              }
            }
            if (socket.destroyed || socket.readableEnded) {
              clearTimeout(timer);
              rej(new Error('the server closed the connection before a matching frame'));
              return true;
            }
            return false;
          };
          if (look()) return;
          const again = (): void => {
            if (!look()) waiters.push(again);
          };
          waiters.push(again);
        });
      },
      async nextText(pred = () => true, timeoutMs) {
        const f = await client.nextFrame((x) => x.opcode === 1 && pred(x.payload.toString('utf8')), timeoutMs);
        return f.payload.toString('utf8');
      },
      send(opcode, payload) {
        const mask = randomBytes(4);
        const n = payload.length;
        const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255]);
        const body = Buffer.alloc(n);
        for (let i = 0; i < n; i++) body[i] = payload[i]! ^ mask[i & 3]!;
        socket.write(Buffer.concat([head, mask, body]));
      },
      sendRaw(bytes) {
        socket.write(bytes);
      },
      close() {
        socket.destroy();
      },
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('utf8');
        if (!/^HTTP\/1\.1 101 /.test(head)) return; // wait for close, then reject with the body
        const accept = /\r\nSec-WebSocket-Accept: (\S+)/i.exec(head)?.[1];
        if (accept !== expectAccept) {
          socket.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept: ${String(accept)} (expected ${expectAccept})`));
          return;
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve(client);
      }
      for (;;) {
        if (buf.length < 2) break;
        const b1 = buf[1]!;
        if ((b1 & 0x80) !== 0) throw new Error('a server frame was masked (RFC 6455 forbids it)');
        let len = b1 & 0x7f;
        let pos = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          pos = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(buf.readBigUInt64BE(2));
          pos = 10;
        }
        if (buf.length < pos + len) break;
        frames.push({ fin: (buf[0]! & 0x80) !== 0, opcode: buf[0]! & 0x0f, payload: Buffer.from(buf.subarray(pos, pos + len)) });
        buf = buf.subarray(pos + len);
      }
      for (const w of waiters.splice(0)) w();
    });
  });
}
