/**
 * Source files kept with a recording, so the page can show the line of an event or the function of a
 * call after the node is gone. At record time `keepSources` asks the target, for each traced module,
 * where its source was compiled from (`Mod:module_info(compile)`), reads the file there
 * (`file:read_file` over rpc, at most MAX_SOURCE_BYTES), and writes `REC/sources/<Module>.ex` (or
 * `.erl`) plus `REC/sources/index.json`. `readSource` answers /api/source from those files.
 *
 * Safe on the target: two rpc calls per module into functions that only read (module_info, the file
 * system); a file over the cap is not read at all (its size is asked first); no atom is created
 * (module names come from modules the agent already matched, so their atoms exist).
 */

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RemoteNode } from '../erlang/remoteNode.js';
import { Atom, ErlMap, Tuple, type Term } from '../erlang/terms.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export const SOURCES_DIR = 'sources';
export const SOURCES_INDEX = 'index.json';
/** Larger files are not kept: a generated module of megabytes is no use on a page. */
export const MAX_SOURCE_BYTES = 1024 * 1024;

/** One module's entry in sources/index.json. */
export interface SourceEntry {
  /** The path the module was compiled from, on the target. */
  file: string;
  /** The copy, relative to the recording; null when it could not be kept. */
  stored: string | null;
  bytes: number;
  /** Why there is no copy. */
  why?: string;
}

export type SourcesIndex = Record<string, SourceEntry>;

/** Reads and keeps the sources of `modules` (atoms as the agent names them: `Elixir.Shop.Cart`, `lists`). */
export async function keepSources(remote: RemoteNode, modules: readonly string[], recDir: string, timeoutMs = 5000): Promise<SourcesIndex> {
  const dir = join(recDir, SOURCES_DIR);
  const index: SourcesIndex = readIndex(recDir);
  mkdirSync(dir, { recursive: true });
  for (const module of new Set(modules)) {
    if (index[module] !== undefined) continue;
    try {
      index[module] = await keepOne(remote, module, dir, timeoutMs);
    } catch (err) {
      // One module the node could not answer about (unloaded meanwhile, an rpc timeout) costs only its own source.
      index[module] = { file: '', stored: null, bytes: 0, why: `the node could not be asked: ${(err as Error).message}` };
    }
  }
  const tmp = join(dir, `${SOURCES_INDEX}.tmp`);
  writeFileSync(tmp, JSON.stringify(index, null, 1));
  renameSync(tmp, join(dir, SOURCES_INDEX));
  return index;
}

/** sources/index.json of a recording, or {} when it kept none. */
export function readIndex(recDir: string): SourcesIndex {
  let text: string;
  try {
    text = readFileSync(join(recDir, SOURCES_DIR, SOURCES_INDEX), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return JSON.parse(text) as SourcesIndex;
}

export interface SourceAnswer {
  module: string;
  file: string;
  firstLine: number;
  lines: string[];
  /** The line to show (1-based), or null when none was asked and no function was found. */
  focus: number | null;
}

/** A source the recording does not have, with why; /api/source answers it with 404. */
export class SourceMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceMissingError';
  }
}

/**
 * The kept source of `module` (`Shop.Cart`, `Elixir.Shop.Cart` or `lists`), with the focus on `line`
 * or, without one, on the `def`/`defp` (or Erlang clause) of `fun`.
 */
export function readSource(recDir: string, module: string, opts: { fun?: string; arity?: number; line?: number } = {}): SourceAnswer {
  const index = readIndex(recDir);
  const key = [module, `Elixir.${module}`, module.replace(/^:/, '')].find((k) => index[k] !== undefined);
  if (key === undefined) {
    const known = Object.keys(index);
    throw new SourceMissingError(
      known.length === 0
        ? `the recording kept no sources (they are kept for modules whose functions were traced, when the node could read them)`
        : `the recording kept no source of ${module}; it has ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`,
    );
  }
  const entry = index[key]!;
  if (entry.stored === null) throw new SourceMissingError(`the source of ${module} was not kept: ${entry.why ?? 'unknown reason'}`);
  const text = readFileSync(join(recDir, entry.stored), 'utf8');
  const lines = text.split('\n');
  let focus: number | null = null;
  if (opts.line !== undefined && opts.line >= 1 && opts.line <= lines.length) focus = opts.line;
  else if (opts.fun !== undefined) focus = findFunction(lines, opts.fun, opts.arity);
  return { module: key, file: entry.file, firstLine: 1, lines, focus };
}

/** The first line defining `fun` (Elixir `def`/`defp`/`defmacro`, or an Erlang clause head), 1-based. */
export function findFunction(lines: readonly string[], fun: string, arity?: number): number | null {
  const esc = fun.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const elixir = new RegExp(`^\\s*(?:def|defp|defmacro|defmacrop)\\s+${esc}(?:\\(|\\s|,|$)`);
  const erlang = new RegExp(`^'?${esc}'?\\(`);
  let fallback: number | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!elixir.test(l) && !erlang.test(l)) continue;
    if (arity === undefined || arityOf(l) === arity) return i + 1;
    fallback ??= i + 1;
  }
  return fallback;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

async function keepOne(remote: RemoteNode, module: string, dir: string, timeoutMs: number): Promise<SourceEntry> {
  const info = await remote.rpc(module, 'module_info', [Atom.of('compile')], { timeoutMs });
  const file = proplistString(info, 'source');
  if (file === null) return { file: '', stored: null, bytes: 0, why: 'the module does not say where it was compiled from' };
  const size = await remote.rpc('filelib', 'file_size', [Buffer.from(file, 'utf8')], { timeoutMs });
  if (typeof size !== 'number' || size === 0) return { file, stored: null, bytes: 0, why: `${file} cannot be read on the node` };
  if (size > MAX_SOURCE_BYTES) return { file, stored: null, bytes: size, why: `${file} is ${size} bytes, over the ${MAX_SOURCE_BYTES}-byte cap` };
  const read = await remote.rpc('file', 'read_file', [Buffer.from(file, 'utf8')], { timeoutMs });
  if (!(read instanceof Tuple && read.elements[0] instanceof Atom && read.elements[0].name === 'ok' && Buffer.isBuffer(read.elements[1]))) {
    return { file, stored: null, bytes: 0, why: `${file} cannot be read on the node` };
  }
  const body = read.elements[1];
  const ext = file.endsWith('.erl') ? '.erl' : '.ex';
  // Module names are atoms the node already had; only path separators could make them unsafe as names.
  const stored = `${SOURCES_DIR}/${module.replace(/[/\\\0]/g, '_')}${ext}`;
  writeFileSync(join(dir, '..', stored), body);
  return { file, stored, bytes: body.length };
}

/** A charlist or binary value of `key` in a proplist. */
function proplistString(t: Term, key: string): string | null {
  if (!Array.isArray(t)) return null;
  for (const item of t) {
    if (item instanceof Tuple && item.elements.length === 2 && item.elements[0] instanceof Atom && item.elements[0].name === key) {
      const v = item.elements[1]!;
      if (Buffer.isBuffer(v)) return v.toString('utf8');
      if (Array.isArray(v) && v.every((c) => typeof c === 'number')) return String.fromCodePoint(...(v as number[]));
      if (v instanceof ErlMap) return null;
    }
  }
  return null;
}

/** Arguments in a one-line function head: `def add(a, b) do` → 2 (nested brackets counted once). */
function arityOf(line: string): number {
  const open = line.indexOf('(');
  if (open < 0) return 0;
  let depth = 0;
  let args = 0;
  let any = false;
  for (let i = open; i < line.length; i++) {
    const c = line[i]!;
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      depth--;
      if (depth === 0) break;
    } else if (c === ',' && depth === 1) args++;
    else if (depth >= 1 && !/\s/.test(c)) any = true;
  }
  return any ? args + 1 : 0;
}
