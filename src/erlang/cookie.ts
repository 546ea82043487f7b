/**
 * Where the distribution cookie comes from: an explicit value (the `--cookie` flag), then the
 * `ELIXIR_SCOPE_COOKIE` environment variable, then `~/.erlang.cookie` as `erl` itself reads it.
 *
 * The cookie is a shared secret that lets its holder run any code on the node. It is returned to the
 * caller and never printed, logged or put into an error message here; errors name only its source.
 */

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type CookieSource = 'flag' | 'env' | 'file';

export interface ResolvedCookie {
  cookie: string;
  source: CookieSource;
  /** For `file`: the path it was read from. */
  path?: string;
}

export interface CookieLookup {
  /** The value of `--cookie`, if given. */
  flag?: string | undefined;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to the user's home directory. */
  home?: string;
}

export const COOKIE_ENV_VAR = 'ELIXIR_SCOPE_COOKIE';

export class CookieError extends Error {
  readonly code = 'COOKIE_NOT_FOUND';
}

export async function resolveCookie(lookup: CookieLookup = {}): Promise<ResolvedCookie> {
  if (lookup.flag !== undefined) {
    return { cookie: checked(lookup.flag, 'the --cookie flag'), source: 'flag' };
  }
  const env = lookup.env ?? process.env;
  const fromEnv = env[COOKIE_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { cookie: checked(fromEnv, `the ${COOKIE_ENV_VAR} environment variable`), source: 'env' };
  }
  const path = join(lookup.home ?? homedir(), '.erlang.cookie');
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    throw new CookieError(
      `No distribution cookie: --cookie was not given, ${COOKIE_ENV_VAR} is not set, and ${path} ${reason}. ` +
        `Pass the target node's cookie with --cookie or ${COOKIE_ENV_VAR} (the value given to --cookie/-setcookie, ` +
        `or the contents of the target user's ~/.erlang.cookie).`,
    );
  }
  // erl ignores trailing whitespace and newlines in the cookie file.
  return { cookie: checked(text.trimEnd(), path), source: 'file', path };
}

function checked(cookie: string, where: string): string {
  if (cookie.length === 0) {
    throw new CookieError(`The cookie from ${where} is empty. Give the target node's cookie.`);
  }
  // The digest is computed over the cookie's bytes as latin-1 (an atom in erl); other characters cannot match.
  if (!/^[\x20-\x7e\xa0-\xff]*$/.test(cookie)) {
    throw new CookieError(
      `The cookie from ${where} contains control or non-latin-1 characters, which a BEAM node cannot have in its cookie.`,
    );
  }
  return cookie;
}
