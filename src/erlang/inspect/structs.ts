/**
 * The standard-library structs whose Inspect implementation prints something other than `%Mod{...}` and
 * that are common in process state: Range, MapSet, Date, Time, NaiveDateTime, DateTime (Calendar.ISO),
 * Version, Version.Requirement, URI, Regex, Date.Range and Stream. Each renderer returns null when the map is not shaped as
 * that struct (a field missing or of the wrong type); the caller then prints the generic struct form.
 * (Elixir itself would print an `Inspect.Error` there; a debugger is better served by the fields.)
 */

import {
  Atom,
  ErlFloat,
  ErlMap,
  ExportFun,
  Fun,
  ImproperList,
  Pid,
  Port,
  Reference,
  Tuple,
  type Term,
} from '../terms.js';
import { escapeBytes } from './text.js';

export interface StructRenderers {
  /** Renders any term with the given remaining limit. */
  term(t: Term, limit: number): string;
  /** Renders a proper list as Inspect.List would, with charlists forced to `as_lists` when asked. */
  list(items: Term[], limit: number, charlistsAsLists: boolean): string;
  /** Renders struct fields `%Name{f: v, ...}` in the given order. */
  fields(name: string, map: ErlMap, fields: Atom[], limit: number): string;
}

type Renderer = (m: ErlMap, limit: number, r: StructRenderers) => string | null;

export const STDLIB_STRUCTS: ReadonlyMap<string, Renderer> = new Map<string, Renderer>([
  ['Elixir.Range', range],
  ['Elixir.MapSet', mapSet],
  ['Elixir.Date', date],
  ['Elixir.Time', time],
  ['Elixir.NaiveDateTime', naiveDateTime],
  ['Elixir.DateTime', dateTime],
  ['Elixir.Version', version],
  ['Elixir.Version.Requirement', versionRequirement],
  ['Elixir.URI', uri],
  ['Elixir.Regex', regex],
  ['Elixir.Date.Range', dateRange],
  ['Elixir.Stream', stream],
]);

// ----------------------------------------------------------------------------------------------
// FIELD ACCESS
// ----------------------------------------------------------------------------------------------

const isInt = (t: Term | undefined): t is number | bigint => typeof t === 'number' || typeof t === 'bigint';
const intField = (m: ErlMap, f: string): number | null => {
  const v = m.getAtom(f);
  return typeof v === 'number' ? v : null;
};
const binField = (m: ErlMap, f: string): Buffer | null => {
  const v = m.getAtom(f);
  return Buffer.isBuffer(v) ? v : null;
};
const isIsoCalendar = (m: ErlMap): boolean => {
  const c = m.getAtom('calendar');
  return c instanceof Atom && c.name === 'Elixir.Calendar.ISO';
};

/** Calendar.ISO's zero padding: at least `width` digits, the sign in front. */
const pad = (n: number, width: number): string =>
  n < 0 ? '-' + pad(-n, width) : String(n).padStart(width, '0');

// ----------------------------------------------------------------------------------------------
// RENDERERS
// ----------------------------------------------------------------------------------------------

function range(m: ErlMap, limit: number, r: StructRenderers): string | null {
  const first = m.getAtom('first');
  const last = m.getAtom('last');
  let step = m.getAtom('step');
  if (first === undefined || last === undefined) return null;
  // Ranges made before Elixir 1.12 have no step; Inspect.Range infers it from the direction.
  if (step === undefined) {
    if (!isInt(first) || !isInt(last)) return null;
    step = first <= last ? 1 : -1;
  }
  const body = `${r.term(first, limit)}..${r.term(last, limit)}`;
  return step === 1 && termAtLeast(last, first) ? body : `${body}//${r.term(step, limit)}`;
}

/**
 * `a >= b` in Erlang term order, for the ends of a hand-built range. Numbers and atoms compare fully;
 * two other terms of the same kind count as not ordered (the long form is printed then).
 */
function termAtLeast(a: Term, b: Term): boolean {
  const [ra, rb] = [termRank(a), termRank(b)];
  if (ra !== rb) return ra > rb;
  if (isNumber(a) && isNumber(b)) return Number(a.valueOf()) >= Number(b.valueOf()) || (isInt(a) && isInt(b) && a >= b);
  if (a instanceof Atom && b instanceof Atom) return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) >= 0;
  return false;
}

const isNumber = (t: Term): t is number | bigint | ErlFloat => isInt(t) || t instanceof ErlFloat;

/** number < atom < reference < fun < port < pid < tuple < map < list < bitstring */
function termRank(t: Term): number {
  if (isNumber(t)) return 0;
  if (t instanceof Atom) return 1;
  if (t instanceof Reference) return 2;
  if (t instanceof Fun || t instanceof ExportFun) return 3;
  if (t instanceof Port) return 4;
  if (t instanceof Pid) return 5;
  if (t instanceof Tuple) return 6;
  if (t instanceof ErlMap) return 7;
  if (Array.isArray(t) || t instanceof ImproperList) return 8;
  return 9;
}

function mapSet(m: ErlMap, limit: number, r: StructRenderers): string | null {
  const inner = m.getAtom('map');
  if (!(inner instanceof ErlMap)) return null;
  return `MapSet.new(${r.list(inner.entries.map(([k]) => k), limit, true)})`;
}

function dateText(m: ErlMap): string | null {
  const [y, mo, d] = [intField(m, 'year'), intField(m, 'month'), intField(m, 'day')];
  if (y === null || mo === null || d === null) return null;
  return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
}

function timeText(m: ErlMap): string | null {
  const [h, mi, s] = [intField(m, 'hour'), intField(m, 'minute'), intField(m, 'second')];
  const us = m.getAtom('microsecond');
  if (h === null || mi === null || s === null || !(us instanceof Tuple) || us.size !== 2) return null;
  const [value, precision] = us.elements;
  if (typeof value !== 'number' || typeof precision !== 'number' || precision < 0 || precision > 6) return null;
  const fraction = precision === 0 ? '' : '.' + pad(value, 6).slice(0, precision);
  return `${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${fraction}`;
}

function date(m: ErlMap): string | null {
  if (!isIsoCalendar(m)) return null;
  const d = dateText(m);
  return d === null ? null : `~D[${d}]`;
}

function time(m: ErlMap): string | null {
  if (!isIsoCalendar(m)) return null;
  const t = timeText(m);
  return t === null ? null : `~T[${t}]`;
}

function naiveDateTime(m: ErlMap): string | null {
  if (!isIsoCalendar(m)) return null;
  const [d, t] = [dateText(m), timeText(m)];
  return d === null || t === null ? null : `~N[${d} ${t}]`;
}

function dateTime(m: ErlMap): string | null {
  if (!isIsoCalendar(m)) return null;
  const [d, t] = [dateText(m), timeText(m)];
  const utc = intField(m, 'utc_offset');
  const std = intField(m, 'std_offset');
  const zone = binField(m, 'time_zone');
  const abbr = binField(m, 'zone_abbr');
  if (d === null || t === null || utc === null || std === null || zone === null || abbr === null) return null;
  const zoneName = zone.toString('utf8');
  if (utc === 0 && std === 0 && zoneName === 'Etc/UTC') return `~U[${d} ${t}Z]`;
  const total = utc + std;
  const abs = Math.abs(total);
  const offset = `${total < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor((abs % 3600) / 60), 2)}`;
  // Calendar.ISO names no zone for Etc/UTC, whatever the offsets say.
  const suffix = zoneName === 'Etc/UTC' ? '' : ` ${abbr.toString('utf8')} ${zoneName}`;
  return `#DateTime<${d} ${t}${offset}${suffix}>`;
}

function dateRange(m: ErlMap): string | null {
  const [first, last, step] = [m.getAtom('first'), m.getAtom('last'), m.getAtom('step')];
  if (!(first instanceof ErlMap) || !(last instanceof ErlMap) || typeof step !== 'number') return null;
  // Inspect.Date.Range prints the ends with default options, whatever the caller asked for.
  const [a, b] = [date(first), date(last)];
  if (a === null || b === null) return null;
  return step === 1 ? `Date.range(${a}, ${b})` : `Date.range(${a}, ${b}, ${step})`;
}

function stream(m: ErlMap, limit: number, r: StructRenderers): string | null {
  const [enumerable, funs] = [m.getAtom('enum'), m.getAtom('funs')];
  if (enumerable === undefined || !Array.isArray(funs)) return null;
  const inner = [new Tuple([Atom.of('enum'), enumerable]), new Tuple([Atom.of('funs'), [...funs].reverse()])];
  return `#Stream<${r.list(inner, limit, false)}>`;
}

const field = (name: string): Atom => Atom.of(name);
/** Map.get/2 gives nil for a missing key, so both count as the default nil. */
const isNilOrMissing = (v: Term | undefined): boolean => v === undefined || (v instanceof Atom && v.name === 'nil');

function version(m: ErlMap, limit: number, r: StructRenderers): string | null {
  // Inspect.Version prints the struct but leaves out `pre` and `build` at their defaults.
  const fields = ['major', 'minor', 'patch', 'pre', 'build'].filter((f) => {
    const v = m.getAtom(f);
    if (f === 'pre') return !(Array.isArray(v) && v.length === 0);
    if (f === 'build') return !isNilOrMissing(v);
    return true;
  });
  return r.fields('Version', m, fields.map(field), limit);
}

function versionRequirement(m: ErlMap): string | null {
  const source = binField(m, 'source');
  return source === null ? null : `Version.parse_requirement!("${source.toString('utf8')}")`;
}

function uri(m: ErlMap, limit: number, r: StructRenderers): string | null {
  const all = ['scheme', 'authority', 'userinfo', 'host', 'port', 'path', 'query', 'fragment'];
  const fields = all.filter((f) => {
    const v = m.getAtom(f);
    return !(f === 'authority' && isNilOrMissing(v));
  });
  return r.fields('URI', m, fields.map(field), limit);
}

function regex(m: ErlMap, limit: number, r: StructRenderers): string | null {
  const source = binField(m, 'source');
  const opts = m.getAtom('opts');
  if (source === null) return null;
  if (Array.isArray(opts)) {
    return `Regex.compile!(${r.term(source, limit)}, ${r.list(opts, limit, false)})`;
  }
  if (!Buffer.isBuffer(opts)) return null;
  const escaped = escapeBytes(normalizeRegexSource(source), 0x2f, Infinity, regexEscape).text;
  return `~r/${escaped}/${opts.toString('latin1')}`;
}

/** `\/` in a source is stored escaped; Inspect.Regex unescapes it before escaping every `/` itself. */
function normalizeRegexSource(src: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x5c && (src[i + 1] === 0x5c || src[i + 1] === 0x2f)) {
      if (src[i + 1] === 0x5c) out.push(0x5c);
      out.push(src[i + 1]!);
      i++;
    } else out.push(c);
  }
  return Buffer.from(out);
}

const REGEX_ESCAPES: Record<number, string> = { 7: '\\a', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
const regexEscape = (c: number): string | undefined => REGEX_ESCAPES[c];
