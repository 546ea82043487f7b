/**
 * `elixir-scope ui REC`: serves the Execution Cinema for a recording until Ctrl-C. The page and its
 * API are src/cinema/; access rules are in docs/cinema.md.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordingView } from '../../cinema/api.js';
import { LiveFeed } from '../../cinema/live.js';
import { CinemaServer, type ServeOptions } from '../../cinema/server.js';
import { openForQuery } from '../../store/open.js';
import { EXIT_OK, stringOption, UsageError, type Command, type CommandIO, type ParsedValues } from '../usage.js';

export const DEFAULT_PORT = 4747;

export const uiCommand: Command = {
  name: 'ui',
  summary: 'serve the Execution Cinema (timeline, inspector, call tree, source) for a recording in the browser',
  help: `Usage: elixir-scope ui REC [--port N] [--host ADDR] [--allow-remote] [--open]

Serves the recording in directory REC to a browser and prints the address to open, with its access
token, e.g.

  Execution Cinema for ./rec: http://127.0.0.1:4747/?token=Qk1...

Serves until Ctrl-C. The page needs the token in the address: anyone without it gets 403.

Options:
  --port N         the port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR      the interface to serve on (default 127.0.0.1). An address other machines can reach
                   is refused unless --allow-remote is also given: the page shows every recorded term
  --allow-remote   allow --host to be a non-loopback address
  --open           open the address in the default browser (xdg-open, open or start)
  -h, --help       show this help

Exit codes: 0 stopped with Ctrl-C, 1 failure (unreadable recording, port in use), 2 usage error.
`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'allow-remote': { type: 'boolean' },
    open: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals, io) {
    const serve = serveOptions(values, 'ui');
    if (positionals.length === 0) throw new UsageError('the recording directory is required (elixir-scope record writes one)', 'ui');
    if (positionals.length > 1) throw new UsageError(`expected one recording directory, got ${positionals.length} arguments`, 'ui');
    const dir = positionals[0]!;
    // A recording another `record` is still writing is followed as it grows, as with record --ui.
    const feed = beingWritten(dir) ? LiveFeed.open(dir) : undefined;
    const view = feed?.view ?? new RecordingView(openForQuery(dir));
    let server: CinemaServer;
    try {
      server = await CinemaServer.start(view, serve);
    } catch (err) {
      view.close();
      throw listenError(err, serve);
    }
    if (feed !== undefined) {
      io.stderr.write(`${dir} is still being written (or the engine writing it died): the page follows it as it grows.\n`);
      feed.follow(server);
    }
    // Listening for Ctrl-C before saying so: a signal sent right after the message must stop us cleanly.
    const stopped = untilSignal();
    io.stdout.write(`Execution Cinema for ${dir}: ${server.url}\n`);
    io.stderr.write('Serving until Ctrl-C.\n');
    if (values.open === true) openBrowser(server.url, io);
    await stopped;
    feed?.stop();
    await server.close();
    return EXIT_OK;
  },
};

/** meta.json says `recording`: its writer has not closed it (yet). */
function beingWritten(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { status?: unknown }).status === 'recording';
  } catch {
    // Unreadable or absent: openForQuery below says what is wrong with the folder.
    return false;
  }
}

/** --port, --host, --allow-remote, shared with `record --ui`. */
export function serveOptions(values: ParsedValues, command: string): ServeOptions {
  const portText = stringOption(values, 'port');
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
      throw new UsageError(`--port must be a port number from 0 to 65535 (0 picks a free one), got ${JSON.stringify(portText)}`, command);
    }
    port = Number(portText);
  }
  const host = stringOption(values, 'host') ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host needs an address, e.g. 127.0.0.1', command);
  return { host, port, allowRemote: values['allow-remote'] === true };
}

/** Listen failures said in the user's terms; the host refusal already is. */
export function listenError(err: unknown, serve: ServeOptions): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return Object.assign(new Error(`port ${serve.port} on ${serve.host} is in use; give another with --port (0 picks a free one)`), { code: 'ES_CINEMA_PORT' });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return Object.assign(new Error(`cannot serve on ${serve.host}: no interface of this machine has that address`), { code: 'ES_CINEMA_HOST' });
  }
  if (code === 'EACCES') {
    return Object.assign(new Error(`not allowed to serve on port ${serve.port} (ports below 1024 need privileges); give another with --port`), { code: 'ES_CINEMA_PORT' });
  }
  return err;
}

/** Resolves at the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const on = (): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve();
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Asks the desktop to open `url`; a failure is said, not fatal (the address is printed). */
export function openBrowser(url: string, io: CommandIO): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', (err) => io.stderr.write(`could not open a browser (${cmd}: ${err.message}); open the address above yourself\n`));
  child.unref();
}
