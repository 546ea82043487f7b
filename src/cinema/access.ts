/**
 * Who may talk to the Cinema: the page holding the access token, on loopback unless asked otherwise.
 * The engine behind the page can read every recorded term (and, live, belongs to a session attached
 * to a production node), so a stray browser tab or a neighbour on the network must get nothing.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** A fresh access token: 32 random bytes, base64url (43 characters, safe in a URL). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token a request carries: `?token=` or `Authorization: Bearer`. */
export function requestToken(req: IncomingMessage, url: URL): string | null {
  const q = url.searchParams.get('token');
  if (q !== null) return q;
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m !== null) return m[1]!;
  }
  return null;
}

/** Whether `given` is the token, in time that does not depend on where they first differ. */
export function tokenMatches(expected: string, given: string | null): boolean {
  if (given === null) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time the same on a length mismatch.
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Whether `host` names only this machine. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** A host the server was not allowed to bind. */
export class HostRefusedError extends Error {
  readonly code = 'ES_CINEMA_HOST';
  constructor(host: string) {
    super(
      `refusing to serve on ${host}: it is reachable from other machines, and the page can read every recorded term. ` +
        'Serve on 127.0.0.1 (the default) and use an SSH tunnel, or add --allow-remote if you mean it.',
    );
    this.name = 'HostRefusedError';
  }
}

/** Fails unless `host` is loopback or remote serving was asked for explicitly. */
export function checkHost(host: string, allowRemote: boolean): void {
  if (!isLoopback(host) && !allowRemote) throw new HostRefusedError(host);
}
