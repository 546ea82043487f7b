/**
 * Node names: `alive@host`. Short names have a host without dots (`app@vm`), long names a fully
 * qualified host or an IP address (`app@10.0.0.5`, `app@::1`). The host part is what we connect to.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BadNodeNameError } from './errors.js';

export interface NodeName {
  full: string;
  alive: string;
  host: string;
}

export function parseNodeName(name: string): NodeName {
  const at = name.indexOf('@');
  if (at <= 0 || at === name.length - 1) throw new BadNodeNameError(name);
  const alive = name.slice(0, at);
  const host = name.slice(at + 1);
  if (!/^[A-Za-z0-9_\-.]+$/.test(alive) || /\s/.test(host)) throw new BadNodeNameError(name);
  return { full: name, alive, host };
}

/** This machine's host part as `-sname` would use it. */
export function localShortHost(): string {
  return hostname().split('.')[0]!;
}

/** A fresh name for our own node: `elixir_scope_<random>@<short host>`. */
export function randomLocalName(prefix = 'elixir_scope'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}@${localShortHost()}`;
}

/** Completes `name` with this host when it has no `@host` part. */
export function withLocalHost(name: string): string {
  return name.includes('@') ? name : `${name}@${localShortHost()}`;
}
