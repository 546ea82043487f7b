/**
 * The page's files (dist/web/: index.html, the compiled ES modules, style.css), served as they are.
 * Only files under the web root are served: a path that resolves outside it (`..`, encoded or not,
 * or a symlink pointing out) is refused, so the server never hands out the recording, the cookie
 * file or anything else on the machine.
 */

import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/web/, next to the compiled server (dist/src/cinema/ → ../../web). */
export const DEFAULT_WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  // ES modules load only with a JavaScript MIME type.
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export type StaticAnswer = { status: 200; body: Buffer; type: string } | { status: 400 | 403 | 404; error: string };

/** The file for a URL path (`/` is index.html). */
export async function staticFile(root: string, urlPath: string): Promise<StaticAnswer> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { status: 400, error: `the path ${JSON.stringify(urlPath)} is not valid percent-encoding` };
  }
  if (decoded.includes('\0')) return { status: 400, error: 'the path holds a NUL byte' };
  const rel = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const rootReal = await realpath(root).catch(() => null);
  if (rootReal === null) {
    return { status: 404, error: `the page is not built: ${root} does not exist (run npm run build)` };
  }
  const full = resolve(rootReal, rel);
  if (full !== rootReal && !full.startsWith(rootReal + sep)) return { status: 403, error: 'the path leads outside the page' };
  let real: string;
  try {
    real = await realpath(full);
  } catch {
    return { status: 404, error: `no file ${decoded}` };
  }
  // A symlink inside the root may still point elsewhere.
  if (!real.startsWith(rootReal + sep)) return { status: 403, error: 'the path leads outside the page' };
  const st = await stat(real);
  const file = st.isDirectory() ? join(real, 'index.html') : real;
  try {
    const body = await readFile(file);
    return { status: 200, body, type: TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream' };
  } catch {
    return { status: 404, error: `no file ${decoded}` };
  }
}
