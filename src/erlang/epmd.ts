/**
 * EPMD client: the Erlang Port Mapper Daemon maps node names to distribution ports on a host.
 *
 *   const info = await epmdPortPlease('vm', 'my_app');        // { port, highestVersion, ... } or null
 *   const names = await epmdNames('vm');                       // [{ name: 'my_app', port: 40123 }]
 *   const reg = await epmdRegister('elixir_scope_x', 40999);   // keep reg open; reg.creation
 *
 * Every request is one TCP connection; ALIVE2 keeps its connection open for as long as the name is
 * registered (closing it unregisters). The port defaults to ERL_EPMD_PORT or 4369, as erl does.
 * Host names may be IPv4, IPv6 or DNS names; Node's happy-eyeballs connect tries both families.
 */

import { connect, type Socket } from 'node:net';
import { ConnectTimeoutError, EpmdRegisterError, EpmdUnreachableError, ProtocolError } from './errors.js';

export const DEFAULT_EPMD_PORT = 4369;

const PORT_PLEASE2_REQ = 122;
const PORT2_RESP = 119;
const NAMES_REQ = 110;
const ALIVE2_REQ = 120;
const ALIVE2_RESP = 121;
const ALIVE2_X_RESP = 118;

/** What EPMD knows about a registered node. */
export interface EpmdNodeInfo {
  port: number;
  /** 77 = normal Erlang node, 72 = hidden (C node). */
  nodeType: number;
  protocol: number;
  highestVersion: number;
  lowestVersion: number;
  name: string;
  extra: Buffer;
}

export interface EpmdOptions {
  /** EPMD's TCP port; default: $ERL_EPMD_PORT, else 4369. */
  port?: number;
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
}

export function epmdPort(explicit?: number): number {
  if (explicit !== undefined) return explicit;
  const env = process.env['ERL_EPMD_PORT'];
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return DEFAULT_EPMD_PORT;
}

/** PORT_PLEASE2: the distribution port of `name` on `host`, or null when EPMD does not know it. */
export async function epmdPortPlease(host: string, name: string, opts: EpmdOptions = {}): Promise<EpmdNodeInfo | null> {
  const nameBytes = Buffer.from(name, 'utf8');
  const req = Buffer.concat([Buffer.from([PORT_PLEASE2_REQ]), nameBytes]);
  const resp = await oneShot(host, req, opts, (buf) => {
    if (buf.length < 2) return false;
    if (buf[1] !== 0) return true;
    if (buf.length < 12) return false;
    const nlen = buf.readUInt16BE(10);
    if (buf.length < 12 + nlen + 2) return false;
    const elen = buf.readUInt16BE(12 + nlen);
    return buf.length >= 14 + nlen + elen;
  });
  if (resp.length < 2 || resp[0] !== PORT2_RESP) {
    throw new ProtocolError(`epmd@${host}`, `unexpected PORT_PLEASE2 answer (first byte ${resp[0]})`);
  }
  if (resp[1] !== 0) return null;
  const nlen = resp.readUInt16BE(10);
  const elen = resp.readUInt16BE(12 + nlen);
  return {
    port: resp.readUInt16BE(2),
    nodeType: resp[4]!,
    protocol: resp[5]!,
    highestVersion: resp.readUInt16BE(6),
    lowestVersion: resp.readUInt16BE(8),
    name: resp.subarray(12, 12 + nlen).toString('utf8'),
    extra: Buffer.from(resp.subarray(14 + nlen, 14 + nlen + elen)),
  };
}

/** NAMES: every node registered on `host`. */
export async function epmdNames(host: string, opts: EpmdOptions = {}): Promise<Array<{ name: string; port: number }>> {
  // EPMD closes the connection after the list, so "complete" is only known at end of stream.
  const resp = await oneShot(host, Buffer.from([NAMES_REQ]), opts, () => false);
  if (resp.length < 4) throw new ProtocolError(`epmd@${host}`, 'NAMES answer shorter than 4 bytes');
  const text = resp.subarray(4).toString('utf8');
  const out: Array<{ name: string; port: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^name (.+) at port (\d+)$/.exec(line.trim());
    if (m) out.push({ name: m[1]!, port: Number(m[2]) });
  }
  return out;
}

/** A live EPMD registration. Closing it (or our process dying) unregisters the name. */
export interface EpmdRegistration {
  creation: number;
  close(): void;
  /** Called if EPMD drops the registration connection on its own. */
  onLost(listener: () => void): void;
}

/** ALIVE2: registers `name` (the part before @) as listening on `listenPort` on the local EPMD. */
export function epmdRegister(
  name: string,
  listenPort: number,
  opts: EpmdOptions & { host?: string; hidden?: boolean } = {},
): Promise<EpmdRegistration> {
  const host = opts.host ?? 'localhost';
  const port = epmdPort(opts.port);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const nameBytes = Buffer.from(name, 'utf8');
  const body = Buffer.alloc(13 + nameBytes.length);
  body[0] = ALIVE2_REQ;
  body.writeUInt16BE(listenPort, 1);
  // 72 ('H') marks a hidden node; erl_interface C nodes register that way, and EPMD passes it on.
  body[3] = opts.hidden === false ? 77 : 72;
  body[4] = 0; // TCP/IPv4 (the only protocol value defined)
  body.writeUInt16BE(6, 5); // highest version
  body.writeUInt16BE(6, 7); // lowest version: we speak only the OTP 23+ handshake
  body.writeUInt16BE(nameBytes.length, 9);
  nameBytes.copy(body, 11);
  body.writeUInt16BE(0, 11 + nameBytes.length); // no extra
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let settled = false;
    let buf = Buffer.alloc(0);
    const lostListeners: Array<() => void> = [];
    const timer = setTimeout(() => fail(new ConnectTimeoutError(`epmd@${host}`, 'epmd', timeoutMs)), timeoutMs);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.on('connect', () => sock.write(withLength2(body)));
    sock.on('error', (err) => {
      if (!settled) fail(new EpmdUnreachableError(host, port, err));
    });
    sock.on('close', () => {
      if (!settled) fail(new EpmdUnreachableError(host, port, new Error('closed before answering ALIVE2')));
      else for (const l of lostListeners) l();
    });
    sock.on('data', (chunk: Buffer) => {
      if (settled) return; // EPMD sends nothing more on a registration connection
      buf = Buffer.concat([buf, chunk]);
      const tag = buf[0];
      const need = tag === ALIVE2_X_RESP ? 6 : tag === ALIVE2_RESP ? 4 : 1;
      if (buf.length < need) return;
      if (tag !== ALIVE2_X_RESP && tag !== ALIVE2_RESP) {
        fail(new ProtocolError(`epmd@${host}`, `unexpected ALIVE2 answer (first byte ${tag})`));
        return;
      }
      if (buf[1] !== 0) {
        fail(new EpmdRegisterError(name, buf[1]!));
        return;
      }
      settled = true;
      clearTimeout(timer);
      const creation = tag === ALIVE2_X_RESP ? buf.readUInt32BE(2) : buf.readUInt16BE(2);
      resolve({
        creation,
        close: () => {
          lostListeners.length = 0;
          sock.destroy();
        },
        onLost: (l) => lostListeners.push(l),
      });
    });
  });
}

function withLength2(body: Buffer): Buffer {
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

/** Sends one request and collects the answer until `complete` says so or EPMD closes. */
function oneShot(host: string, body: Buffer, opts: EpmdOptions, complete: (buf: Buffer) => boolean): Promise<Buffer> {
  const port = epmdPort(opts.port);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock: Socket = connect({ host, port });
    const timer = setTimeout(() => finish(new ConnectTimeoutError(`epmd@${host}`, 'epmd', timeoutMs)), timeoutMs);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    sock.on('connect', () => sock.write(withLength2(body)));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (complete(Buffer.concat(chunks))) finish();
    });
    sock.on('error', (err) => finish(new EpmdUnreachableError(host, port, err)));
    sock.on('close', () => {
      if (chunks.length === 0) finish(new EpmdUnreachableError(host, port, new Error('closed without answering')));
      else finish();
    });
  });
}
