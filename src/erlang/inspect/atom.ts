/**
 * How Elixir 1.14 writes an atom: `:ok`, `nil`, `MyApp.Worker`, `:"a b"`, `:+`, `:olá`, and the same atom as a
 * keyword key (`ok:`, `"a b":`) or as the function part of `&Mod.fun/2`.
 *
 * The decision (quote or not) follows Elixir's own classification: operators, the special forms `%{}` and
 * `...`, aliases (`Elixir.Foo.Bar`), and identifiers as its tokenizer reads them, including Unicode
 * identifiers (UAX #31 with Elixir's script restrictions and the NFC check). The Unicode tables are generated
 * from the installed Elixir (identTable.ts), so a non-ASCII atom is quoted exactly when Elixir quotes it.
 */

import { escapeString } from './text.js';
import { CONTINUE, SCRIPTSETS, START, UPPER } from './identTable.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** The atom as a literal, as `inspect(atom)` prints it. */
export function inspectAtomLiteral(name: string): string {
  if (name === 'nil' || name === 'true' || name === 'false') return name;
  switch (classifyAtom(name)) {
    case 'alias':
      if (name === 'Elixir' || name === 'Elixir.Elixir' || name.startsWith('Elixir.Elixir.')) return name;
      return name.slice('Elixir.'.length);
    case 'quoted':
      return `:"${escapeString(name, '"')}"`;
    default:
      return ':' + name;
  }
}

/** The atom as a keyword key, colon included: `ok:`, `"a b":`. */
export function inspectAtomKey(name: string): string {
  switch (classifyAtom(name)) {
    case 'alias':
      return `"${name}":`;
    case 'quoted':
      return `"${escapeString(name, '"')}":`;
    default:
      return name + ':';
  }
}

/** The atom as the function name of a remote call (`&Mod.name/1`). */
export function inspectAtomRemoteCall(name: string): string {
  const kind = innerClassify(name);
  if (kind === 'identifier' || kind === 'unquoted_operator' || kind === 'quoted_operator') return name;
  if (kind === 'not_callable' || kind === 'alias') return `"${name}"`;
  return `"${escapeString(name, '"')}"`;
}

// ----------------------------------------------------------------------------------------------
// CLASSIFICATION
// ----------------------------------------------------------------------------------------------

type InnerClass = 'not_callable' | 'quoted_operator' | 'unquoted_operator' | 'alias' | 'identifier' | 'other';

const NOT_CALLABLE = new Set(['%', '%{}', '{}', '<<>>', '...', '..', '.', '..//', '->']);
const QUOTED_OPERATORS = new Set(['::', '^^^', '~~~', '<|>']);
const UNARY_OPERATORS = ['&', '!', '^', 'not', '+', '-', '~~~', '@'];
const BINARY_OPERATORS = [
  '<-', '\\\\', 'when', '::', '|', '=', '||', '|||', 'or', '&&', '&&&', 'and', '==', '!=', '=~', '===', '!==',
  '<', '<=', '>=', '>', '|>', '<<<', '>>>', '<~', '~>', '<<~', '~>>', '<~>', '<|>', 'in', '^^^',
  '++', '--', '..', '<>', '+++', '---', '+', '-', '*', '/', '**', '.',
];
// `//` is a binary operator only as part of `..//`, so it is not an operator on its own.
const OPERATORS = new Set([...UNARY_OPERATORS, ...BINARY_OPERATORS]);

const cache = new Map<string, InnerClass>();

function classifyAtom(name: string): 'alias' | 'identifier' | 'unquoted' | 'quoted' {
  const kind = innerClassify(name);
  if (kind === 'alias' || kind === 'identifier') return kind;
  if (kind === 'unquoted_operator' || kind === 'not_callable') return 'unquoted';
  return 'quoted';
}

function innerClassify(name: string): InnerClass {
  let kind = cache.get(name);
  if (kind === undefined) {
    kind = classifyUncached(name);
    // Atoms are few and reused (struct fields, keys), so remembering the verdict pays; the bound keeps a
    // stream of distinct generated atoms from growing it without end.
    if (cache.size > 10_000) cache.clear();
    cache.set(name, kind);
  }
  return kind;
}

function classifyUncached(name: string): InnerClass {
  if (NOT_CALLABLE.has(name)) return 'not_callable';
  if (QUOTED_OPERATORS.has(name)) return 'quoted_operator';
  if (OPERATORS.has(name)) return 'unquoted_operator';
  if (isAlias(name)) return 'alias';
  const tok = tokenize(Array.from(name, (c) => c.codePointAt(0)!));
  if (tok === null || tok.restLength !== 0) return 'other';
  if (tok.kind !== 'identifier' || tok.at) return 'not_callable';
  if (tok.nfkc) return 'other';
  return 'identifier';
}

/** `Elixir` followed by zero or more `.Upper[A-Za-z0-9_]*` pieces. */
function isAlias(name: string): boolean {
  return /^Elixir(?:\.[A-Z][A-Za-z0-9_]*)*$/.test(name);
}

// ----------------------------------------------------------------------------------------------
// TOKENIZER: Elixir's identifier rules (String.Tokenizer.tokenize/1)
// ----------------------------------------------------------------------------------------------

interface Token {
  kind: 'alias' | 'identifier' | 'atom';
  restLength: number;
  at: boolean;
  nfkc: boolean;
}

const ALL_SCRIPTS = (1n << 44n) - 1n;
const LATIN = 1n;
// Latin with Japanese, with Han+Bopomofo, with Korean: the "highly restrictive" mixes UAX #39 allows.
const HIGHLY_RESTRICTIVE = [1_048_577n, 65_537n, 67_108_865n];
const MICRO_SIGN = 0xb5;
const GREEK_MU = 0x3bc;

const isAsciiUpper = (c: number): boolean => c >= 65 && c <= 90;
const isAsciiLower = (c: number): boolean => c >= 97 && c <= 122;
const isAsciiDigit = (c: number): boolean => c >= 48 && c <= 57;

function tokenize(cps: number[]): Token | null {
  if (cps.length === 0) return null;
  const head = cps[0]!;
  let kind: Token['kind'];
  let ascii: boolean;
  let set: bigint;
  let nfkc = false;
  const acc: number[] = [head];
  if (isAsciiUpper(head)) [kind, ascii, set] = ['alias', true, LATIN];
  else if (isAsciiLower(head)) [kind, ascii, set] = ['identifier', true, LATIN];
  else if (head === 95) [kind, ascii, set] = ['identifier', true, ALL_SCRIPTS];
  else {
    const upper = lookup(UPPER_TABLE, head);
    const start = upper === 0n ? lookup(START_TABLE, head) : 0n;
    if (upper !== 0n) [kind, ascii, set] = ['atom', false, upper];
    else if (start !== 0n) [kind, ascii, set] = ['identifier', false, start];
    else if (head === MICRO_SIGN) {
      [kind, ascii, set] = ['identifier', false, ALL_SCRIPTS];
      acc[0] = GREEK_MU;
      nfkc = true;
    } else return null;
  }

  let at = false;
  let i = 1;
  for (; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 33 || c === 63) {
      // `!` and `?` end an identifier.
      acc.push(c);
      i++;
      break;
    }
    if (c === 64) {
      at = true;
      acc.push(c);
    } else if (isAsciiLower(c) || isAsciiUpper(c)) {
      acc.push(c);
      set &= LATIN;
    } else if (c === 95 || isAsciiDigit(c)) {
      acc.push(c);
    } else if (c <= 127) {
      break;
    } else {
      let s = lookup(START_TABLE, c);
      if (s === 0n) s = lookup(UPPER_TABLE, c);
      if (s === 0n) s = lookup(CONTINUE_TABLE, c);
      if (s !== 0n) {
        acc.push(c);
        set &= s;
        ascii = false;
      } else if (c === MICRO_SIGN) {
        acc.push(GREEK_MU);
        nfkc = true;
        ascii = false;
      } else return null;
    }
  }
  const restLength = cps.length - i;
  if (ascii) return { kind, restLength, at, nfkc };

  const original = String.fromCodePoint(...acc);
  const normalized = original.normalize('NFC');
  if (normalized !== original) nfkc = true;
  if (set === 0n && !highlyRestrictive(Array.from(normalized, (ch) => ch.codePointAt(0)!))) return null;
  return { kind, restLength, at, nfkc };
}

function scriptSetOf(c: number): bigint {
  if (isAsciiLower(c) || isAsciiUpper(c)) return LATIN;
  if (c === 95 || isAsciiDigit(c)) return ALL_SCRIPTS;
  let s = lookup(START_TABLE, c);
  if (s === 0n) s = lookup(UPPER_TABLE, c);
  if (s === 0n) s = lookup(CONTINUE_TABLE, c);
  return s === 0n ? ALL_SCRIPTS : s;
}

function highlyRestrictive(cps: number[]): boolean {
  const sets = cps.map(scriptSetOf);
  return HIGHLY_RESTRICTIVE.some((r) => sets.every((s) => (s & r) !== 0n));
}

// ----------------------------------------------------------------------------------------------
// TABLES
// ----------------------------------------------------------------------------------------------

interface RangeTable {
  lo: Uint32Array;
  hi: Uint32Array;
  set: bigint[];
}

const SETS = SCRIPTSETS.map((s) => BigInt(s));

function parseTable(encoded: string): RangeTable {
  const entries = encoded.split(' ').filter((e) => e !== '');
  const t: RangeTable = { lo: new Uint32Array(entries.length), hi: new Uint32Array(entries.length), set: [] };
  entries.forEach((e, i) => {
    const [range, setIndex] = e.split(':') as [string, string];
    const [lo, span] = range.split('-');
    t.lo[i] = parseInt(lo!, 36);
    t.hi[i] = t.lo[i]! + (span === undefined ? 0 : parseInt(span, 36));
    t.set.push(SETS[parseInt(setIndex, 36)]!);
  });
  return t;
}

const START_TABLE = parseTable(START);
const UPPER_TABLE = parseTable(UPPER);
const CONTINUE_TABLE = parseTable(CONTINUE);

function lookup(t: RangeTable, c: number): bigint {
  let lo = 0;
  let hi = t.lo.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < t.lo[mid]!) hi = mid - 1;
    else if (c > t.hi[mid]!) lo = mid + 1;
    else return t.set[mid]!;
  }
  return 0n;
}
