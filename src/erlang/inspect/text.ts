/**
 * Text rules of Elixir 1.14's inspect: which binaries and charlists count as printable, and how a string,
 * charlist or quoted atom is escaped inside its quotes (`\n`, `\"`, `\#{`, `\x01`, `\x{FFFE}`, ...), with
 * `printable_limit` counted in characters as Elixir counts them.
 */

/** A decoded UTF-8 character at `i`: its code point and byte length, or null for an invalid sequence. */
export function decodeUtf8At(b: Uint8Array, i: number): { cp: number; len: number } | null {
  const b0 = b[i]!;
  if (b0 < 0x80) return { cp: b0, len: 1 };
  let len: number;
  let cp: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [len, cp, min] = [2, b0 & 0x1f, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [len, cp, min] = [3, b0 & 0x0f, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [len, cp, min] = [4, b0 & 0x07, 0x10000];
  else return null;
  if (i + len > b.length) return null;
  for (let k = 1; k < len; k++) {
    const c = b[i + k]!;
    if ((c & 0xc0) !== 0x80) return null;
    cp = (cp << 6) | (c & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (Erlang's `::utf8` refuses them too).
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return { cp, len };
}

/** The characters `\n \r \t \v \b \f \e \d \a` count as printable in strings. */
const isPrintableControl = (c: number): boolean => (c >= 7 && c <= 13) || c === 27 || c === 127;

const isPrintableUnicode = (c: number): boolean =>
  (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);

/** `String.printable?(bin, limit)`: only the first `limit` characters are looked at. */
export function isPrintableBinary(b: Uint8Array, limit: number): boolean {
  let i = 0;
  let n = limit;
  while (i < b.length) {
    if (n === 0) return true;
    const c = b[i]!;
    if ((c >= 32 && c <= 126) || isPrintableControl(c)) {
      i++;
    } else {
      const d = decodeUtf8At(b, i);
      if (d === null || !isPrintableUnicode(d.cp)) return false;
      i += d.len;
    }
    n--;
  }
  return true;
}

/**
 * `List.ascii_printable?(list, limit)`: ASCII text and the controls `\a..\r` and `\e` (not `\d`).
 * `list` is the proper part; a non-empty improper tail makes it non-printable unless the limit is hit first.
 */
export function isAsciiPrintableList(list: readonly unknown[], improper: boolean, limit: number): boolean {
  let n = limit;
  for (const c of list) {
    if (n === 0) return true;
    if (typeof c !== 'number' || !((c >= 7 && c <= 13) || c === 27 || (c >= 32 && c <= 126))) return false;
    n--;
  }
  return n === 0 || !improper;
}

const ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  127: '\\d',
  27: '\\e',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  11: '\\v',
  92: '\\\\',
};

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');

function escapeChar(c: number): string {
  if (c === 0) return '\\0';
  if (c === 0xfeff) return '\\uFEFF';
  if ((c >= 32 && c <= 126) || isPrintableUnicode(c)) return String.fromCodePoint(c);
  if (c < 0x100) return '\\x' + hex(c, 2);
  if (c < 0x10000) return `\\x{${hex(c, 4)}}`;
  return `\\x{${hex(c, 6)}}`;
}

/** Which characters get a short escape; Regex uses a smaller map than strings. */
export type EscapeMap = (c: number) => string | undefined;
const stringEscapes: EscapeMap = (c) => ESCAPES[c];

/**
 * `Code.Identifier.escape/4`: escapes UTF-8 bytes for use between `quote` characters, stopping after `limit`
 * characters. Returns the escaped text and whether input was left over (then Elixir appends `<> ...`).
 */
export function escapeBytes(
  b: Uint8Array,
  quote: number,
  limit: number,
  map: EscapeMap = stringEscapes,
): { text: string; truncated: boolean } {
  let out = '';
  let i = 0;
  let n = limit;
  while (i < b.length) {
    if (n === 0) return { text: out, truncated: true };
    const c = b[i]!;
    if (c === quote) {
      out += '\\' + String.fromCharCode(c);
      i++;
    } else if (c === 35 && b[i + 1] === 123) {
      out += '\\#{';
      i += 2;
    } else {
      const d = decodeUtf8At(b, i);
      if (d === null) {
        out += '\\x' + hex(c, 2);
        i++;
      } else {
        out += map(d.cp) ?? escapeChar(d.cp);
        i += d.len;
      }
    }
    n--;
  }
  return { text: out, truncated: false };
}

/** Escapes a JavaScript string (an atom's name) with no limit. */
export function escapeString(s: string, quote: '"' | "'"): string {
  return escapeBytes(Buffer.from(s, 'utf8'), quote.charCodeAt(0), Infinity).text;
}
