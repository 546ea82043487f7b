/**
 * The version 6 distribution handshake (OTP 23+), both sides.
 *
 * Client (we connect):                      Server (a BEAM node connects to us):
 *   → send_name 'N' flags creation name       ← send_name 'N'
 *   ← status 's' "ok" | "nok" | ...           → status "ok"
 *   ← challenge 'N' flags chal creation name  → challenge 'N'
 *   → challenge_reply 'r' chal digest         ← challenge_reply (check digest)
 *   ← challenge_ack 'a' digest (check it)     → challenge_ack
 *
 * digest = MD5(cookie ++ decimal(challenge)). Both digests are checked, so neither side can
 * pretend to know the cookie. Handshake messages are framed with a 2-byte length. The cookie is
 * only ever an input of the MD5 here; it never reaches a message or an error.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  ConnectTimeoutError,
  HandshakeRejectedError,
  NodeDownError,
  ProtocolError,
  WrongCookieError,
} from './errors.js';
import { expandDigest, missingFlags, REQUIRED_OF_PEER } from './flags.js';
import { FrameReader } from './framing.js';

export interface HandshakeResult {
  peerName: string;
  /** The peer's flags as sent; the connection uses `peerFlags & ourFlags`. */
  peerFlags: bigint;
  flags: bigint;
  peerCreation: number;
  /** Bytes that arrived after the handshake (the start of the connected phase). */
  rest: Buffer[];
}

export interface HandshakeOptions {
  ourName: string;
  ourFlags: bigint;
  creation: number;
  cookie: string;
  timeoutMs: number;
}

export function digest(cookie: string, challenge: number): Buffer {
  return createHash('md5')
    .update(cookie, 'utf8')
    .update(String(challenge >>> 0), 'latin1')
    .digest();
}

function newChallenge(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** Reads handshake frames from a socket, one at a time. */
class HandshakeReader {
  private readonly reader = new FrameReader(2, 0xffff);
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;
  private readonly onData = (c: Buffer): void => {
    this.reader.push(c);
    this.wake();
  };
  private readonly onClose = (): void => {
    this.closed ??= new Error('closed');
    this.wake();
  };
  private readonly onError = (err: Error): void => {
    this.closed = err;
    this.wake();
  };

  constructor(private readonly sock: Socket) {
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next frame, or null when the peer closed the connection first. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const f = this.reader.next();
      if (f !== undefined) return f;
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.waiter = () => resolve()));
    }
  }

  /** Stops listening and returns the bytes that arrived after the last frame. */
  detach(): Buffer[] {
    this.sock.off('data', this.onData);
    this.sock.off('close', this.onClose);
    this.sock.off('error', this.onError);
    return this.reader.drain();
  }
}

function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

function writeFlags(buf: Buffer, offset: number, flags: bigint): void {
  buf.writeUInt32BE(Number(flags >> 32n), offset);
  buf.writeUInt32BE(Number(flags & 0xffffffffn), offset + 4);
}

function readFlags(buf: Buffer, offset: number): bigint {
  return (BigInt(buf.readUInt32BE(offset)) << 32n) | BigInt(buf.readUInt32BE(offset + 4));
}

function sendName(opts: HandshakeOptions): Buffer {
  const name = Buffer.from(opts.ourName, 'utf8');
  const b = Buffer.alloc(15 + name.length);
  b[0] = 0x4e; // 'N'
  writeFlags(b, 1, opts.ourFlags);
  b.writeUInt32BE(opts.creation >>> 0, 9);
  b.writeUInt16BE(name.length, 13);
  name.copy(b, 15);
  return b;
}

function challengeMsg(opts: HandshakeOptions, challenge: number): Buffer {
  const name = Buffer.from(opts.ourName, 'utf8');
  const b = Buffer.alloc(19 + name.length);
  b[0] = 0x4e; // 'N'
  writeFlags(b, 1, opts.ourFlags);
  b.writeUInt32BE(challenge >>> 0, 9);
  b.writeUInt32BE(opts.creation >>> 0, 13);
  b.writeUInt16BE(name.length, 17);
  name.copy(b, 19);
  return b;
}

/** Runs `body` with a deadline; on timeout the socket is destroyed and a typed error thrown. */
async function withDeadline<T>(sock: Socket, peer: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      sock.destroy();
      reject(new ConnectTimeoutError(peer, 'handshake', timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** We connected to `peerName`; authenticate and agree on flags. */
export function clientHandshake(sock: Socket, peerName: string, opts: HandshakeOptions): Promise<HandshakeResult> {
  const rd = new HandshakeReader(sock);
  return withDeadline(sock, peerName, opts.timeoutMs, async () => {
    try {
      sock.write(frame(sendName(opts)));

      const status = await rd.next();
      if (status === null) {
        throw new HandshakeRejectedError(
          peerName,
          'protocol',
          'the peer closed the connection right after our name, without a status. It usually means it ' +
            'refuses this connection: a required capability is missing (its log names it), ' +
            'net_kernel:allow/1 excludes us, or it is not a distributed node.',
        );
      }
      if (status[0] !== 0x73) throw new ProtocolError(peerName, `expected a status message ('s'), got byte ${status[0]}`);
      const text = status.subarray(1).toString('latin1');
      if (text === 'alive') {
        // Another connection from a node with our name exists; do not take it over.
        sock.write(frame(Buffer.from('sfalse', 'latin1')));
        throw new HandshakeRejectedError(
          peerName,
          'alive',
          `status "alive": ${peerName} already has a connection from a node named ${opts.ourName}. ` +
            'Use another local node name, or close the other connection first.',
        );
      }
      if (text === 'nok' || text === 'not_allowed') {
        throw new HandshakeRejectedError(
          peerName,
          text,
          text === 'nok'
            ? `status "nok": ${peerName} is connecting to us at the same moment and won the tie; retry.`
            : `status "not_allowed": ${peerName} does not allow a connection from ${opts.ourName} ` +
                '(net_kernel:allow/1 or a missing capability). Check its allow list and its log.',
        );
      }
      if (text !== 'ok' && text !== 'ok_simultaneous') {
        throw new HandshakeRejectedError(peerName, 'protocol', `unexpected status "${text}" from ${peerName}.`);
      }

      const ch = await rd.next();
      if (ch === null) throw new NodeDownError(peerName, 'closed before sending its challenge');
      if (ch[0] === 0x6e) {
        throw new HandshakeRejectedError(
          peerName,
          'version',
          `${peerName} answered with the old (version 5) challenge: it is older than OTP 23. ElixirScope needs OTP 25 or newer.`,
        );
      }
      if (ch[0] !== 0x4e || ch.length < 19) throw new ProtocolError(peerName, 'malformed challenge message');
      const peerFlags = expandDigest(readFlags(ch, 1));
      const peerChallenge = ch.readUInt32BE(9);
      const peerCreation = ch.readUInt32BE(13);
      const nlen = ch.readUInt16BE(17);
      const name = ch.subarray(19, 19 + nlen).toString('utf8');
      checkPeerFlags(peerName, peerFlags);

      const ours = newChallenge();
      const reply = Buffer.alloc(21);
      reply[0] = 0x72; // 'r'
      reply.writeUInt32BE(ours, 1);
      digest(opts.cookie, peerChallenge).copy(reply, 5);
      sock.write(frame(reply));

      const ack = await rd.next();
      if (ack === null) {
        throw new WrongCookieError(peerName, 'it closed the connection after our challenge reply, which is what a node does when the digest of the cookie does not match');
      }
      if (ack[0] !== 0x61 || ack.length !== 17) throw new ProtocolError(peerName, 'malformed challenge acknowledgement');
      if (!ack.subarray(1).equals(digest(opts.cookie, ours))) {
        throw new WrongCookieError(peerName, 'its answer to our challenge was not made with our cookie');
      }
      return { peerName: name, peerFlags, flags: peerFlags & opts.ourFlags, peerCreation, rest: rd.detach() };
    } catch (err) {
      rd.detach();
      sock.destroy();
      throw err;
    }
  });
}

/** A node connected to us (we registered with EPMD); authenticate it. */
export function serverHandshake(sock: Socket, opts: HandshakeOptions): Promise<HandshakeResult> {
  const rd = new HandshakeReader(sock);
  const who = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
  return withDeadline(sock, who, opts.timeoutMs, async () => {
    try {
      const nm = await rd.next();
      if (nm === null) throw new NodeDownError(who, 'closed before sending its name');
      if (nm[0] !== 0x4e || nm.length < 15) {
        sock.write(frame(Buffer.from('snot_allowed', 'latin1')));
        throw new HandshakeRejectedError(who, 'version', 'the connecting node does not speak the version 6 handshake (OTP 23+).');
      }
      const peerFlags = expandDigest(readFlags(nm, 1));
      const peerCreation = nm.readUInt32BE(9);
      const nlen = nm.readUInt16BE(13);
      const peerName = nm.subarray(15, 15 + nlen).toString('utf8');
      const missing = missingFlags(peerFlags, REQUIRED_OF_PEER);
      if (missing.length > 0) {
        sock.write(frame(Buffer.from('snot_allowed', 'latin1')));
        throw new HandshakeRejectedError(peerName, 'missing_flags', `${peerName} lacks mandatory capabilities: ${missing.join(', ')}.`, missing);
      }
      sock.write(frame(Buffer.from('sok', 'latin1')));
      const ours = newChallenge();
      sock.write(frame(challengeMsg(opts, ours)));

      const reply = await rd.next();
      if (reply === null) throw new NodeDownError(peerName, 'closed before its challenge reply');
      if (reply[0] !== 0x72 || reply.length !== 21) throw new ProtocolError(peerName, 'malformed challenge reply');
      if (!reply.subarray(5).equals(digest(opts.cookie, ours))) {
        throw new WrongCookieError(peerName, 'its challenge reply was not made with our cookie');
      }
      const peerChallenge = reply.readUInt32BE(1);
      const ack = Buffer.alloc(17);
      ack[0] = 0x61; // 'a'
      digest(opts.cookie, peerChallenge).copy(ack, 1);
      sock.write(frame(ack));
      return { peerName, peerFlags, flags: peerFlags & opts.ourFlags, peerCreation, rest: rd.detach() };
    } catch (err) {
      rd.detach();
      sock.destroy();
      throw err;
    }
  });
}

function checkPeerFlags(peerName: string, peerFlags: bigint): void {
  const missing = missingFlags(peerFlags, REQUIRED_OF_PEER);
  if (missing.length > 0) {
    throw new HandshakeRejectedError(
      peerName,
      'missing_flags',
      `${peerName} lacks capabilities that OTP 25 makes mandatory: ${missing.join(', ')}. ElixirScope needs OTP 25 or newer on the target.`,
      missing,
    );
  }
}

