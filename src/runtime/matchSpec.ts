/**
 * The call-pattern language of `elixir-scope record --function`, compiled to an Erlang match spec.
 *
 *   Shop.Cart.add(_, %{qty: 0})
 *   Shop.Pricing.quote(sku, qty) when qty > 10 and is_integer(qty)
 *
 * The text after the function name is Elixir: an argument list of patterns and an optional guard.
 * `compileCall` turns `(_, %{qty: q}) when q > 10` into `[{['_', #{qty => '$1'}], [{'>', '$1', 10}], []}]`.
 * The meaning is Elixir's, not Erlang's (`==` is `==`, `===` is `=:=`, `and` is `andalso`,
 * `elem(t, 0)` is `element(1, T)`), and test/runtime-matchspec-beam.test.ts proves it against
 * Elixir's own `match?/2` on a real node.
 *
 * Why this is safe in production: no atom is ever created on the target from user text. Every atom
 * the user wrote (`:ok`, the `qty` of `qty:`, the module of `%Shop.Line{}`) is sent as the marker
 * `{'$es_atom', <<"name">>}`, which the agent resolves with `binary_to_existing_atom` (see
 * docs/agent-protocol.md). Only atoms of the match-spec language itself ('$1', '_', 'andalso',
 * 'is_integer', ...) and `true`, `false`, `nil` and `__struct__`, which always exist, are real atoms.
 * Markers may appear anywhere: in the head, in guards and inside `{const, Term}`.
 */

import { atom, ErlFloat, ErlMap, ImproperList, integer, tuple, type Term } from '../erlang/terms.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** A mistake in a trace spec: the message shows the spec with a caret under the column. */
export class SpecError extends Error {
  constructor(
    /** What went wrong, without the picture (e.g. `expected ')'`). */
    readonly reason: string,
    /** The whole spec as the user wrote it. */
    readonly spec: string,
    /** Zero-based offset into `spec`. */
    readonly offset: number,
    /** What to write instead, e.g. `example: Shop.Cart.add(_, %{qty: 0})`. */
    readonly hint?: string,
  ) {
    super(formatSpecError(reason, spec, offset, hint));
    this.name = 'SpecError';
  }

  /** One-based column, as the message says. */
  get column(): number {
    return this.offset + 1;
  }
}

/** The compiled form of `(patterns) when guard`. */
export interface CompiledCall {
  arity: number;
  /** `[{Head, Guards, []}]`; the agent adds the return/exception actions. */
  matchSpec: Term[];
  /** False when every argument is `_` and there is no guard: the spec filters nothing. */
  filtered: boolean;
}

/** The atom marker of docs/agent-protocol.md: an atom written by the user, resolved on the target. */
export function userAtom(name: string): Term {
  return tuple(atom('$es_atom'), Buffer.from(name, 'utf8'));
}

/** A match spec that matches every call: `[{'_', [], []}]`. */
export function matchAll(): Term[] {
  return [tuple(atom('_'), [], [])];
}

/**
 * Compiles `source.slice(start)`, which must be `(patterns)` optionally followed by `when guard`
 * and nothing else. Offsets in errors are offsets into the whole `source`, so the caret points
 * into the spec the user typed. With `expectedArity`, a different number of patterns is an error.
 */
export function compileCall(source: string, start = 0, expectedArity?: number): CompiledCall {
  const p = new Parser(source, tokenize(source, start));
  p.expectOp('(', 'the argument patterns in parentheses, e.g. Shop.Cart.add(_, %{qty: 0})');
  const args: Node[] = [];
  if (!p.isOp(')')) {
    for (;;) {
      args.push(p.pattern());
      if (p.isOp(',')) {
        p.next();
        continue;
      }
      break;
    }
  }
  const close = p.peek();
  p.expectOp(')', "',' or ')' after an argument pattern, e.g. Shop.Cart.add(_, %{qty: 0})");
  if (expectedArity !== undefined && args.length !== expectedArity) {
    throw new SpecError(
      `the pattern has ${args.length} argument${args.length === 1 ? '' : 's'} but the arity given is ${expectedArity}`,
      source,
      close.pos,
      'write either the arity (Mod.fun/2) or a pattern with that many arguments',
    );
  }
  let guard: Node | undefined;
  if (p.isIdent('when')) {
    p.next();
    guard = p.guardExpr();
  }
  const end = p.peek();
  if (end.t !== 'eof') {
    throw p.unexpected(end, guard === undefined ? "'when' or the end of the spec" : 'an operator or the end of the spec');
  }

  const vars = new Map<string, Term>();
  const head = args.map((a) => headTerm(a, vars, source));
  const guards = guard === undefined ? [] : [guardTerm(guard, vars, source)];
  const filtered = guards.length > 0 || args.some((a) => a.k !== 'wild');
  return { arity: args.length, matchSpec: [tuple(head, guards, [])], filtered };
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: tokens
// ----------------------------------------------------------------------------------------------

type Tok =
  | { t: 'int'; v: bigint; pos: number; end: number }
  | { t: 'float'; v: number; pos: number; end: number }
  | { t: 'str'; v: string; pos: number; end: number }
  | { t: 'chars'; v: string; pos: number; end: number }
  | { t: 'atom'; v: string; pos: number; end: number }
  | { t: 'alias'; v: string; pos: number; end: number }
  | { t: 'ident'; v: string; pos: number; end: number }
  | { t: 'kw'; v: string; pos: number; end: number }
  | { t: 'op'; v: string; pos: number; end: number }
  | { t: 'eof'; pos: number; end: number };

// Longest first, so that `===` is not read as `==` `=`.
const OPS = [
  '===', '!==', '...', '<<', '>>', '::', '==', '!=', '<=', '>=', '=>', '&&', '||', '..', '<>', '++', '--',
  '|>', '->', '=~', '//', '(', ')', '[', ']', '{', '}', ',', '|', '%', '.', '^', '<', '>', '+', '-', '*',
  '/', '=', '!', '&', '@', '\\',
];

const IDENT_START = /[a-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_@]/;

function tokenize(src: string, start: number): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  const err = (reason: string, at: number, hint?: string): SpecError => new SpecError(reason, src, at, hint);
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (/[0-9]/.test(c)) {
      const n = readNumber(src, i, err);
      toks.push({ ...n.tok, pos, end: n.end } as Tok);
      i = n.end;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = readQuoted(src, i, err);
      i = s.end;
      // `"key": value` is a keyword key, as in Elixir.
      if (c === '"' && src[i] === ':' && src[i + 1] !== ':') {
        toks.push({ t: 'kw', v: s.text, pos, end: i + 1 });
        i++;
      } else {
        toks.push({ t: c === '"' ? 'str' : 'chars', v: s.text, pos, end: i });
      }
      continue;
    }
    if (c === '?' && i + 1 < src.length) {
      // A character literal: ?a is the integer 97.
      let code: number;
      let end: number;
      if (src[i + 1] === '\\') {
        const e = readEscape(src, i + 1, err);
        code = e.code;
        end = e.end;
      } else {
        code = src.codePointAt(i + 1)!;
        end = i + 1 + (code > 0xffff ? 2 : 1);
      }
      toks.push({ t: 'int', v: BigInt(code), pos, end });
      i = end;
      continue;
    }
    if (c === ':' && src[i + 1] !== ':') {
      if (src[i + 1] === '"' || src[i + 1] === "'") {
        const s = readQuoted(src, i + 1, err);
        toks.push({ t: 'atom', v: s.text, pos, end: s.end });
        i = s.end;
        continue;
      }
      if (i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1]!)) {
        let j = i + 1;
        while (j < src.length && IDENT_CHAR.test(src[j]!)) j++;
        if (src[j] === '?' || src[j] === '!') j++;
        toks.push({ t: 'atom', v: src.slice(i + 1, j), pos, end: j });
        i = j;
        continue;
      }
      throw err('expected an atom after ":"', i + 1, 'atoms are written :ok or :"with spaces"');
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && IDENT_CHAR.test(src[j]!)) j++;
      if (IDENT_START.test(c) && (src[j] === '?' || src[j] === '!')) j++;
      // An alias continues through `.Upper` segments: Shop.Cart.Line is one token.
      if (/[A-Z]/.test(c)) {
        while (src[j] === '.' && j + 1 < src.length && /[A-Z]/.test(src[j + 1]!)) {
          j++;
          while (j < src.length && IDENT_CHAR.test(src[j]!)) j++;
        }
      }
      const text = src.slice(i, j);
      if (src[j] === ':' && src[j + 1] !== ':' && !text.includes('.')) {
        toks.push({ t: 'kw', v: text, pos, end: j + 1 });
        i = j + 1;
        continue;
      }
      toks.push({ t: /[A-Z]/.test(c) ? 'alias' : 'ident', v: text, pos, end: j });
      i = j;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op === undefined) {
      throw err(`unexpected character ${JSON.stringify(c)}`, i);
    }
    toks.push({ t: 'op', v: op, pos, end: i + op.length });
    i += op.length;
  }
  toks.push({ t: 'eof', pos: src.length, end: src.length });
  return toks;
}

type ErrFn = (reason: string, at: number, hint?: string) => SpecError;

function readNumber(src: string, i: number, err: ErrFn): { tok: { t: 'int'; v: bigint } | { t: 'float'; v: number }; end: number } {
  const rest = src.slice(i);
  const radix = /^0([xob])([0-9A-Fa-f_]+)/.exec(rest);
  if (radix !== null) {
    const digits = radix[2]!.replace(/_/g, '');
    const prefix = radix[1] === 'x' ? '0x' : radix[1] === 'o' ? '0o' : '0b';
    try {
      return { tok: { t: 'int', v: BigInt(prefix + digits) }, end: i + radix[0].length };
    } catch (e) {
      // BigInt rejects digits outside the radix (0b102): report it as the user's mistake.
      throw err(`malformed number ${radix[0]} (${(e as Error).message})`, i);
    }
  }
  const m = /^[0-9](?:_?[0-9])*(\.[0-9](?:_?[0-9])*([eE][+-]?[0-9]+)?)?/.exec(rest)!;
  const text = m[0].replace(/_/g, '');
  const end = i + m[0].length;
  if (end < src.length && /[A-Za-z_]/.test(src[end]!)) {
    throw err(`malformed number ${src.slice(i, end + 1)}`, end, 'numbers are written 42, 1_000, -3, 1.5, 2.0e-3 or 0x1F');
  }
  if (m[1] !== undefined) return { tok: { t: 'float', v: Number(text) }, end };
  return { tok: { t: 'int', v: BigInt(text) }, end };
}

function readEscape(src: string, i: number, err: ErrFn): { code: number; end: number } {
  // src[i] is the backslash.
  const e = src[i + 1];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, s: 32, e: 27, '0': 0, a: 7, b: 8, f: 12, v: 11, d: 127 };
  if (e === undefined) throw err('unfinished escape', i);
  if (e in simple) return { code: simple[e]!, end: i + 2 };
  if (e === 'x') {
    const m = /^\{([0-9A-Fa-f]+)\}|^([0-9A-Fa-f]{2})/.exec(src.slice(i + 2));
    if (m === null) throw err('malformed \\x escape', i, 'write \\x41 or \\x{41}');
    return { code: parseInt(m[1] ?? m[2]!, 16), end: i + 2 + m[0].length };
  }
  if (e === 'u') {
    const m = /^\{([0-9A-Fa-f]+)\}|^([0-9A-Fa-f]{4})/.exec(src.slice(i + 2));
    if (m === null) throw err('malformed \\u escape', i, 'write \\u00E9 or \\u{1F600}');
    return { code: parseInt(m[1] ?? m[2]!, 16), end: i + 2 + m[0].length };
  }
  const code = src.codePointAt(i + 1)!;
  return { code, end: i + 1 + (code > 0xffff ? 2 : 1) };
}

function readQuoted(src: string, i: number, err: ErrFn): { text: string; end: number } {
  const q = src[i]!;
  let j = i + 1;
  let out = '';
  while (j < src.length && src[j] !== q) {
    if (src[j] === '\\') {
      const e = readEscape(src, j, err);
      out += String.fromCodePoint(e.code);
      j = e.end;
      continue;
    }
    if (src[j] === '#' && src[j + 1] === '{') {
      throw err('string interpolation is not allowed in a pattern', j, 'write the literal text');
    }
    out += src[j];
    j++;
  }
  if (j >= src.length) throw err(`unterminated ${q === '"' ? 'string' : 'charlist'}`, i, `close it with ${q}`);
  return { text: out, end: j + 1 };
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: syntax tree, shared by patterns and guards
// ----------------------------------------------------------------------------------------------

type Node =
  | { k: 'wild'; pos: number }
  | { k: 'var'; name: string; pos: number }
  /** A literal whose term has no user atom: a number, a binary, a charlist, true/false/nil. */
  | { k: 'lit'; term: Term; pos: number }
  | { k: 'uatom'; name: string; pos: number }
  | { k: 'tuple'; elems: Node[]; pos: number }
  | { k: 'list'; elems: Node[]; tail: Node | null; pos: number }
  | { k: 'map'; pairs: Array<[Node, Node]>; pos: number }
  | { k: 'op'; op: string; args: Node[]; pos: number }
  | { k: 'call'; name: string; args: Node[]; pos: number }
  | { k: 'in'; left: Node; right: Node; negate: boolean; pos: number }
  | { k: 'range'; from: Node; to: Node; pos: number };

const PATTERN_HINT = 'patterns look like _, x, 42, "text", :ok, {a, b}, [h | t], %{qty: 0} or %Shop.Line{qty: q}';

class Parser {
  private i = 0;

  constructor(
    readonly src: string,
    private readonly toks: Tok[],
  ) {}

  peek(ahead = 0): Tok {
    return this.toks[Math.min(this.i + ahead, this.toks.length - 1)]!;
  }

  next(): Tok {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  isOp(v: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.t === 'op' && t.v === v;
  }

  isIdent(v: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.t === 'ident' && t.v === v;
  }

  expectOp(v: string, what: string): Tok {
    if (!this.isOp(v)) throw this.unexpected(this.peek(), `'${v}'`, what === '' ? undefined : `expected ${what}`);
    return this.next();
  }

  unexpected(t: Tok, expected: string, hint?: string): SpecError {
    const found = t.t === 'eof' ? 'the end of the spec' : `${JSON.stringify(this.src.slice(t.pos, t.end))}`;
    return new SpecError(`expected ${expected} but found ${found}`, this.src, t.pos, hint ?? `example: Shop.Cart.add(_, %{qty: q}) when is_integer(q)`);
  }

  error(reason: string, pos: number, hint?: string): SpecError {
    return new SpecError(reason, this.src, pos, hint);
  }

  // --- patterns ------------------------------------------------------------------------------

  pattern(): Node {
    const t = this.peek();
    const node = this.patternPrimary();
    const after = this.peek();
    if (after.t === 'op') {
      if (after.v === '=') {
        throw this.error(
          '`=` inside a pattern is not supported in a match spec',
          after.pos,
          'match the structure only, e.g. %{qty: q} instead of %{qty: q} = line',
        );
      }
      if (after.v === '<>' || after.v === '++') {
        throw this.error(
          `\`${after.v}\` patterns cannot be expressed in a match spec`,
          after.pos,
          'bind the whole value and test it in the guard, e.g. (s) when binary_part(s, 0, 3) == "abc"',
        );
      }
      if (after.v === '..') {
        throw this.error('ranges are not patterns', after.pos, 'use a guard: (n) when n in 1..10');
      }
      if (after.v === '::') throw this.error('`::` is only valid inside <<>>', after.pos);
    }
    if (t.t === 'op' && t.v === '-' && node.k !== 'lit') {
      throw this.error('only a number may follow - in a pattern', t.pos);
    }
    return node;
  }

  private patternPrimary(): Node {
    const t = this.peek();
    switch (t.t) {
      case 'ident': {
        this.next();
        if (this.isOp('(')) {
          throw this.error(`a function call (${t.v}(...)) cannot appear in a pattern`, t.pos, 'move the test to the guard: (x) when ...');
        }
        return this.identNode(t, 'pattern');
      }
      case 'op':
        switch (t.v) {
          case '{':
            return this.tupleNode(() => this.pattern());
          case '[':
            return this.listNode(() => this.pattern());
          case '%':
            return this.mapNode(() => this.pattern(), true);
          case '<<':
            return this.binaryNode();
          case '-':
          case '+': {
            this.next();
            const n = this.peek();
            if (n.t !== 'int' && n.t !== 'float') throw this.unexpected(n, 'a number after ' + t.v);
            const lit = this.literal();
            return t.v === '-' ? negate(lit) : lit;
          }
          case '^':
            throw this.error(
              'the pin operator ^ is not supported: a trace spec has no outer variables',
              t.pos,
              'write the value itself, e.g. :ok or 42',
            );
          default:
            throw this.unexpected(t, 'a pattern', PATTERN_HINT);
        }
      case 'kw':
        throw this.error(
          `a keyword (${this.src.slice(t.pos, t.end)}) must be inside [...] or %{...}`,
          t.pos,
          'write [qty: 0] for a keyword list or %{qty: 0} for a map',
        );
      case 'eof':
        throw this.unexpected(t, 'a pattern', PATTERN_HINT);
      default:
        return this.literal();
    }
  }

  /** A scalar literal token (number, string, charlist, atom, alias). */
  private literal(): Node {
    const t = this.next();
    switch (t.t) {
      case 'int':
        return { k: 'lit', term: integer(t.v), pos: t.pos };
      case 'float':
        return { k: 'lit', term: new ErlFloat(t.v), pos: t.pos };
      case 'str':
        return { k: 'lit', term: Buffer.from(t.v, 'utf8'), pos: t.pos };
      case 'chars':
        return { k: 'lit', term: [...t.v].map((ch) => ch.codePointAt(0)!), pos: t.pos };
      case 'atom':
        return this.atomNode(t.v, t.pos);
      case 'alias':
        return this.atomNode(aliasAtom(t.v), t.pos);
      default:
        throw this.unexpected(t, 'a literal');
    }
  }

  private atomNode(name: string, pos: number): Node {
    if (name === 'true' || name === 'false' || name === 'nil') return { k: 'lit', term: atom(name), pos };
    // In a match spec '_' and '$1'... are variables: such an atom cannot be matched literally in a head.
    if (name === '_' || name.startsWith('$')) {
      throw this.error(`the atom :${JSON.stringify(name)} cannot be used in a trace spec (match specs read it as a variable)`, pos);
    }
    if ([...name].length > 255) throw this.error('an atom may have at most 255 characters', pos);
    return { k: 'uatom', name, pos };
  }

  private identNode(t: Tok & { t: 'ident' }, where: 'pattern' | 'guard'): Node {
    switch (t.v) {
      case 'true':
      case 'false':
      case 'nil':
        return { k: 'lit', term: atom(t.v), pos: t.pos };
      case '_':
        if (where === 'guard') throw this.error('_ cannot be read in a guard', t.pos, 'name the variable in the pattern, e.g. (qty) when qty > 0');
        return { k: 'wild', pos: t.pos };
      case 'when':
      case 'and':
      case 'or':
      case 'not':
      case 'in':
      case 'do':
      case 'end':
      case 'fn':
        throw this.unexpected(t, where === 'pattern' ? 'a pattern' : 'an expression', where === 'pattern' ? PATTERN_HINT : undefined);
      default:
        return { k: 'var', name: t.v, pos: t.pos };
    }
  }

  private tupleNode(item: () => Node): Node {
    const open = this.next();
    const elems = this.items('}', item);
    this.expectOp('}', "',' or '}' in a tuple");
    return { k: 'tuple', elems, pos: open.pos };
  }

  private listNode(item: () => Node): Node {
    const open = this.next();
    const elems: Node[] = [];
    let tail: Node | null = null;
    if (!this.isOp(']')) {
      for (;;) {
        const t = this.peek();
        if (t.t === 'kw') {
          // [a: 1, b: x] is [{:a, 1}, {:b, x}].
          this.next();
          elems.push({ k: 'tuple', elems: [this.atomNode(t.v, t.pos), item()], pos: t.pos });
        } else {
          elems.push(item());
        }
        if (this.isOp(',')) {
          this.next();
          continue;
        }
        if (this.isOp('|')) {
          this.next();
          tail = item();
        }
        break;
      }
    }
    this.expectOp(']', tail === null ? "',', '|' or ']' in a list" : "']' after the tail of a list");
    // [a | [b]] is [a, b]: flattening keeps the compiled term proper.
    while (tail !== null && tail.k === 'list') {
      elems.push(...tail.elems);
      tail = tail.tail;
    }
    return { k: 'list', elems, tail, pos: open.pos };
  }

  private mapNode(item: () => Node, inPattern: boolean): Node {
    const pct = this.next();
    const pairs: Array<[Node, Node]> = [];
    if (!this.isOp('{')) {
      // %Shop.Line{...}, %_{...}, %mod{...}: a struct.
      const t = this.next();
      let structKey: Node;
      if (t.t === 'alias') structKey = this.atomNode(aliasAtom(t.v), t.pos);
      else if (t.t === 'atom') structKey = this.atomNode(t.v, t.pos);
      else if (t.t === 'ident' && inPattern) structKey = this.identNode(t, 'pattern');
      else throw this.unexpected(t, "'{' or a struct name after %", 'maps are written %{qty: 0}, structs %Shop.Line{qty: 0}');
      pairs.push([{ k: 'lit', term: atom('__struct__'), pos: t.pos }, structKey]);
    }
    this.expectOp('{', `'{' after %, e.g. %{qty: 0} or %Shop.Line{qty: 0}`);
    if (!this.isOp('}')) {
      for (;;) {
        const t = this.peek();
        if (t.t === 'kw') {
          this.next();
          pairs.push([this.atomNode(t.v, t.pos), item()]);
        } else {
          const key = item();
          if (this.isOp('|')) {
            throw this.error('map update syntax %{map | ...} is not a pattern', this.peek().pos, 'write %{key: value}');
          }
          this.expectOp('=>', `'=>' between a map key and its value, e.g. %{"qty" => 0} or %{qty: 0}`);
          pairs.push([key, item()]);
        }
        if (this.isOp(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectOp('}', "',' or '}' in a map");
    for (const [key] of pairs) {
      if (constTerm(key) === null) {
        throw this.error(
          'a map key in a pattern must be a literal',
          key.pos,
          'keys are written qty: v, "qty" => v or :qty => v; test other keys in the guard',
        );
      }
    }
    return { k: 'map', pairs, pos: pct.pos };
  }

  /** `<<"abc">>` and `<<1, 2>>` are literal binaries; anything with a size or a variable is refused. */
  private binaryNode(): Node {
    const open = this.next();
    const parts: Buffer[] = [];
    const refuse = (at: number): SpecError =>
      this.error(
        'binary patterns with variables, sizes or types cannot be expressed in a match spec',
        at,
        'bind the whole binary and test it in the guard, e.g. (b) when binary_part(b, 0, 6) == "prefix"',
      );
    if (!this.isOp('>>')) {
      for (;;) {
        const t = this.next();
        if (t.t === 'str') parts.push(Buffer.from(t.v, 'utf8'));
        else if (t.t === 'int' && t.v >= 0n && t.v <= 255n) parts.push(Buffer.from([Number(t.v)]));
        else throw refuse(t.pos);
        if (this.isOp('::')) throw refuse(this.peek().pos);
        if (this.isOp(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectOp('>>', "',' or '>>' in a binary");
    return { k: 'lit', term: Buffer.concat(parts), pos: open.pos };
  }

  private items(close: string, item: () => Node): Node[] {
    const out: Node[] = [];
    if (this.isOp(close)) return out;
    for (;;) {
      out.push(item());
      if (!this.isOp(',')) return out;
      this.next();
    }
  }

  // --- guards (Elixir's operator precedence, lowest first) -------------------------------------

  guardExpr(): Node {
    return this.binaryLevel(0);
  }

  private binaryLevel(level: number): Node {
    if (level === GUARD_LEVELS.length) return this.unary();
    let left = this.binaryLevel(level + 1);
    for (;;) {
      const t = this.peek();
      const ops = GUARD_LEVELS[level]!;
      const v = t.t === 'op' || t.t === 'ident' ? t.v : null;
      if (v === null) return left;
      if (level === IN_LEVEL && v === 'not' && this.isIdent('in', 1)) {
        this.next();
        this.next();
        left = { k: 'in', left, right: this.binaryLevel(level + 1), negate: true, pos: t.pos };
        continue;
      }
      if (!ops.includes(v)) return left;
      if (t.t === 'ident' && !['and', 'or', 'in'].includes(v)) return left;
      refuseGuardOp(this, v, t.pos);
      this.next();
      const right = this.binaryLevel(level + 1);
      if (v === 'in') left = { k: 'in', left, right, negate: false, pos: t.pos };
      else if (v === '..') left = { k: 'range', from: left, to: right, pos: t.pos };
      else left = { k: 'op', op: v, args: [left, right], pos: t.pos };
    }
  }

  private unary(): Node {
    const t = this.peek();
    if (t.t === 'op' && (t.v === '-' || t.v === '+' || t.v === '!')) {
      refuseGuardOp(this, t.v, t.pos);
      this.next();
      const n = this.peek();
      const arg = this.unary();
      // -1 is a literal, so that `x == -1` compiles to a constant.
      if (arg.k === 'lit' && (n.t === 'int' || n.t === 'float')) return t.v === '-' ? negate(arg) : arg;
      return { k: 'op', op: t.v === '-' ? 'neg' : 'pos', args: [arg], pos: t.pos };
    }
    if (t.t === 'ident' && t.v === 'not') {
      this.next();
      return { k: 'op', op: 'not', args: [this.unary()], pos: t.pos };
    }
    return this.guardPrimary();
  }

  private guardPrimary(): Node {
    const t = this.peek();
    switch (t.t) {
      case 'ident': {
        this.next();
        if (this.isOp('(')) return { k: 'call', name: t.v, args: this.callArgs(), pos: t.pos };
        if (this.isOp('.')) {
          const field = this.peek(1);
          const f = field.t === 'ident' ? field.v : 'field';
          throw this.error(`${t.v}.${f} is not allowed in a guard`, this.peek().pos, `match the field in the pattern, e.g. %{${f}: v}, or use map_get(${t.v}, :${f})`);
        }
        return this.identNode(t, 'guard');
      }
      case 'atom':
        if (t.v === 'erlang' && this.isOp('.', 1)) {
          // :erlang.map_get(key, map): an Erlang guard BIF called by its own name and argument order.
          this.next();
          this.next();
          const f = this.next();
          if (f.t !== 'ident') throw this.unexpected(f, 'a function name after :erlang.');
          return { k: 'call', name: `:erlang.${f.v}`, args: this.callArgs(), pos: t.pos };
        }
        return this.literal();
      case 'op':
        switch (t.v) {
          case '(': {
            this.next();
            const e = this.guardExpr();
            this.expectOp(')', '');
            return e;
          }
          case '{':
            return this.tupleNode(() => this.guardExpr());
          case '[':
            return this.listNode(() => this.guardExpr());
          case '%':
            return this.mapNode(() => this.guardExpr(), false);
          case '<<':
            return this.binaryNode();
          case '^':
            throw this.error('the pin operator ^ is not supported: a trace spec has no outer variables', t.pos);
          default:
            throw this.unexpected(t, 'an expression', 'guards look like qty > 10 and is_integer(qty)');
        }
      case 'alias':
        if (this.isOp('.', 1)) {
          throw this.error(
            `remote calls (${t.v}.…) are not allowed in a guard`,
            t.pos,
            'guards may call ' + GUARD_FUNCTION_LIST,
          );
        }
        return this.literal();
      case 'kw':
        throw this.error(`a keyword (${t.v}:) must be inside [...] or %{...}`, t.pos);
      case 'eof':
        throw this.unexpected(t, 'an expression', 'guards look like qty > 10 and is_integer(qty)');
      default:
        return this.literal();
    }
  }

  private callArgs(): Node[] {
    this.next();
    const args = this.items(')', () => this.guardExpr());
    this.expectOp(')', "',' or ')' after a function argument");
    return args;
  }
}

/** Binary operators by Elixir precedence, lowest first. */
const GUARD_LEVELS: string[][] = [
  ['or', '||'],
  ['and', '&&'],
  ['==', '!=', '===', '!==', '=~'],
  ['<', '>', '<=', '>='],
  ['|>'],
  ['in'],
  ['..', '++', '--', '<>'],
  ['+', '-'],
  ['*', '/'],
];
const IN_LEVEL = 5;

function refuseGuardOp(p: Parser, op: string, pos: number): void {
  const instead: Record<string, string> = { '&&': 'and', '||': 'or', '!': 'not' };
  if (op in instead) {
    throw p.error(
      `\`${op}\` is not allowed in a guard: it accepts any value, guards need the strict \`${instead[op]}\``,
      pos,
      `write \`${instead[op]}\` instead, e.g. qty > 0 ${instead[op] === 'not' ? 'and not is_nil(sku)' : `${instead[op]} is_integer(qty)`}`,
    );
  }
  if (op === '=~' || op === '|>' || op === '++' || op === '--' || op === '<>') {
    throw p.error(`\`${op}\` is not allowed in a guard`, pos, 'guards may use == != === !== < > <= >= and or not + - * / in');
  }
}

function negate(n: Node): Node {
  if (n.k !== 'lit') return n;
  const v = n.term;
  if (typeof v === 'number') return { ...n, term: -v };
  if (typeof v === 'bigint') return { ...n, term: integer(-v) };
  if (v instanceof ErlFloat) return { ...n, term: new ErlFloat(-v.value) };
  return n;
}

/** `Shop.Cart` is the atom `Elixir.Shop.Cart`; `Elixir.Foo` is already one. */
export function aliasAtom(alias: string): string {
  return alias === 'Elixir' || alias.startsWith('Elixir.') ? alias : `Elixir.${alias}`;
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: code generation
// ----------------------------------------------------------------------------------------------

/** The term of a node without variables, or null when it has one. User atoms become markers. */
function constTerm(n: Node): Term | null {
  switch (n.k) {
    case 'lit':
      return n.term;
    case 'uatom':
      return userAtom(n.name);
    case 'tuple': {
      const el = n.elems.map(constTerm);
      return el.every((e) => e !== null) ? tuple(...(el as Term[])) : null;
    }
    case 'list': {
      const el = n.elems.map(constTerm);
      if (!el.every((e) => e !== null)) return null;
      if (n.tail === null) return el as Term[];
      const tail = constTerm(n.tail);
      return tail === null ? null : new ImproperList(el as Term[], tail);
    }
    case 'map': {
      const pairs: Array<[Term, Term]> = [];
      for (const [k, v] of n.pairs) {
        const kt = constTerm(k);
        const vt = constTerm(v);
        if (kt === null || vt === null) return null;
        pairs.push([kt, vt]);
      }
      return new ErlMap(pairs);
    }
    default:
      return null;
  }
}

function headTerm(n: Node, vars: Map<string, Term>, src: string): Term {
  switch (n.k) {
    case 'wild':
      return atom('_');
    case 'var': {
      let v = vars.get(n.name);
      if (v === undefined) {
        v = atom(`$${vars.size + 1}`);
        vars.set(n.name, v);
      }
      return v;
    }
    case 'lit':
      return n.term;
    case 'uatom':
      return userAtom(n.name);
    case 'tuple':
      return tuple(...n.elems.map((e) => headTerm(e, vars, src)));
    case 'list': {
      const el = n.elems.map((e) => headTerm(e, vars, src));
      return n.tail === null ? el : new ImproperList(el, headTerm(n.tail, vars, src));
    }
    case 'map':
      // Keys are literals (checked by the parser); a duplicate key keeps the last, as Elixir warns and does.
      return new ErlMap(dedupe(n.pairs.map(([k, v]) => [constTerm(k)!, headTerm(v, vars, src)])));
    default:
      throw new SpecError('this is not a pattern', src, n.pos, PATTERN_HINT);
  }
}

function dedupe(pairs: Array<[Term, Term]>): Array<[Term, Term]> {
  const seen = new Map<string, number>();
  const out: Array<[Term, Term]> = [];
  for (const p of pairs) {
    const key = keyOf(p[0]);
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, out.length);
      out.push(p);
    } else {
      out[at] = p;
    }
  }
  return out;
}

/** A string that is equal for equal literal terms (enough for map keys we built ourselves). */
function keyOf(t: Term): string {
  return JSON.stringify(t, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `big:${v}`;
    if (v instanceof ErlFloat) return `float:${v.value}`;
    if (v !== null && typeof v === 'object' && 'name' in v && Object.keys(v).length === 1) return `atom:${String((v as { name: string }).name)}`;
    return v;
  });
}

const AND = atom('andalso');
const OR = atom('orelse');

/** Elixir operator → match-spec function. */
const GUARD_OPS: Record<string, string> = {
  '==': '==',
  '!=': '/=',
  '===': '=:=',
  '!==': '=/=',
  '<': '<',
  '>': '>',
  '<=': '=<',
  '>=': '>=',
  '+': '+',
  '-': '-',
  '*': '*',
  '/': '/',
  and: 'andalso',
  or: 'orelse',
  not: 'not',
  neg: '-',
};

type GuardFn = (args: Term[]) => Term;
const call =
  (name: string): GuardFn =>
  (args) =>
    tuple(atom(name), ...args);

/** Guard functions by `name/arity`, with Elixir's argument order. */
const GUARD_FUNCTIONS: Record<string, GuardFn> = {
  'is_atom/1': call('is_atom'),
  'is_binary/1': call('is_binary'),
  'is_float/1': call('is_float'),
  'is_function/1': call('is_function'),
  'is_integer/1': call('is_integer'),
  'is_list/1': call('is_list'),
  'is_map/1': call('is_map'),
  'is_number/1': call('is_number'),
  'is_pid/1': call('is_pid'),
  'is_port/1': call('is_port'),
  'is_reference/1': call('is_reference'),
  'is_tuple/1': call('is_tuple'),
  // Match specs have no is_boolean: it is exactly "true or false".
  'is_boolean/1': ([x]) => tuple(OR, tuple(atom('=:='), x!, atom('true')), tuple(atom('=:='), x!, atom('false'))),
  'is_nil/1': ([x]) => tuple(atom('=:='), x!, atom('nil')),
  // Elixir's definition of is_struct/1.
  'is_struct/1': ([x]) =>
    tuple(AND, tuple(atom('is_map'), x!), tuple(atom('is_map_key'), atom('__struct__'), x!), tuple(atom('is_atom'), tuple(atom('map_get'), atom('__struct__'), x!))),
  // Elixir writes the map first; Erlang the key first.
  'is_map_key/2': ([m, k]) => tuple(atom('is_map_key'), k!, m!),
  'map_get/2': ([m, k]) => tuple(atom('map_get'), k!, m!),
  'abs/1': call('abs'),
  'bit_size/1': call('bit_size'),
  'byte_size/1': call('byte_size'),
  'hd/1': call('hd'),
  'tl/1': call('tl'),
  'length/1': call('length'),
  'map_size/1': call('map_size'),
  'round/1': call('round'),
  'trunc/1': call('trunc'),
  'node/0': call('node'),
  'node/1': call('node'),
  'self/0': call('self'),
  'div/2': call('div'),
  'rem/2': call('rem'),
  'binary_part/3': call('binary_part'),
  // Match specs have no tuple_size: size/1 also accepts binaries, so a non-tuple must fail the guard
  // as tuple_size does: `andalso` yields false for it, and false + 0 raises.
  'tuple_size/1': ([x]) => tuple(atom('+'), tuple(AND, tuple(atom('is_tuple'), x!), tuple(atom('size'), x!)), 0),
  // elem/2 counts from 0, element/2 from 1.
  'elem/2': ([t, i]) => tuple(atom('element'), typeof i === 'number' ? i + 1 : tuple(atom('+'), i!, 1), t!),
};

/** Erlang guard BIFs callable as :erlang.f(...) with Erlang's argument order. */
const ERLANG_BIFS = new Set([
  'abs/1', 'bit_size/1', 'byte_size/1', 'element/2', 'hd/1', 'length/1', 'map_get/2', 'map_size/1', 'node/0',
  'node/1', 'round/1', 'size/1', 'tl/1', 'trunc/1', 'binary_part/3', 'is_map_key/2', 'is_atom/1', 'is_binary/1',
  'is_float/1', 'is_function/1', 'is_integer/1', 'is_list/1', 'is_map/1', 'is_number/1', 'is_pid/1', 'is_port/1',
  'is_reference/1', 'is_tuple/1', 'self/0', 'div/2', 'rem/2', 'band/2', 'bor/2', 'bxor/2', 'bnot/1', 'bsl/2', 'bsr/2',
]);

const GUARD_FUNCTION_LIST = Object.keys(GUARD_FUNCTIONS).join(', ');

const NOT_IN_MATCH_SPECS: Record<string, string> = {
  'is_bitstring/1': 'match specs cannot test for bitstrings; is_binary/1 covers byte-aligned binaries',
  'is_function/2': 'match specs cannot test a function\'s arity; use is_function/1',
  'is_exception/1': 'match specs cannot test for exceptions; match %{__exception__: true} in the pattern',
};

function guardTerm(n: Node, vars: Map<string, Term>, src: string): Term {
  const g = (e: Node): Term => guardTerm(e, vars, src);
  switch (n.k) {
    case 'wild':
      throw new SpecError('_ cannot be read in a guard', src, n.pos);
    case 'var': {
      const v = vars.get(n.name);
      if (v === undefined) {
        throw new SpecError(`undefined variable ${n.name} in the guard`, src, n.pos, 'a guard can only use variables bound by the argument patterns');
      }
      return v;
    }
    case 'lit': {
      const t = n.term;
      // Numbers and true/false/nil stand for themselves in a guard; anything else is quoted.
      if (typeof t === 'number' || typeof t === 'bigint' || t instanceof ErlFloat) return t;
      if (t === atom('true') || t === atom('false') || t === atom('nil')) return t;
      return tuple(atom('const'), t);
    }
    case 'uatom':
    case 'tuple':
    case 'list':
    case 'map': {
      const c = constTerm(n);
      if (c !== null) return tuple(atom('const'), c);
      if (n.k === 'tuple') return tuple(tuple(...n.elems.map(g)));
      if (n.k === 'list') return n.tail === null ? n.elems.map(g) : new ImproperList(n.elems.map(g), g(n.tail));
      if (n.k === 'map') return new ErlMap(n.pairs.map(([k, v]) => [constTerm(k)!, g(v)]));
      throw new SpecError('unreachable', src, n.pos);
    }
    case 'op': {
      // Unary + is the identity in Elixir; match specs have no one-argument '+'.
      if (n.op === 'pos') return g(n.args[0]!);
      const op = GUARD_OPS[n.op];
      if (op === undefined) throw new SpecError(`\`${n.op}\` is not allowed in a guard`, src, n.pos);
      return tuple(atom(op), ...n.args.map(g));
    }
    case 'call': {
      const key = `${n.name}/${n.args.length}`;
      if (n.name.startsWith(':erlang.')) {
        const bif = key.slice(':erlang.'.length);
        if (!ERLANG_BIFS.has(bif)) {
          throw new SpecError(`:erlang.${bif} cannot be called in a match spec guard`, src, n.pos, `allowed: ${[...ERLANG_BIFS].join(', ')}`);
        }
        return tuple(atom(bif.slice(0, bif.lastIndexOf('/'))), ...n.args.map(g));
      }
      const f = GUARD_FUNCTIONS[key];
      if (f === undefined) {
        const why = NOT_IN_MATCH_SPECS[key];
        if (why !== undefined) throw new SpecError(`${key} is not supported: ${why}`, src, n.pos);
        throw new SpecError(`unknown function in guard: ${key}`, src, n.pos, `guards may call ${GUARD_FUNCTION_LIST}`);
      }
      return f(n.args.map(g));
    }
    case 'in': {
      const left = g(n.left);
      let t: Term;
      if (n.right.k === 'range') {
        t = rangeTest(left, n.right, src);
      } else {
        // Elixir expands `in` at compile time, so the list must be written out (its elements may be variables).
        const list = n.right.k === 'list' && n.right.tail === null ? n.right : null;
        if (list === null) {
          throw new SpecError('`in` needs a literal list or range on its right', src, n.right.pos, 'e.g. status in [:paid, :shipped] or qty in 1..10');
        }
        const tests = list.elems.map((e) => tuple(atom('=:='), left, g(e)));
        t = tests.length === 0 ? atom('false') : tests.length === 1 ? tests[0]! : tuple(OR, ...tests);
      }
      return n.negate ? tuple(atom('not'), t) : t;
    }
    case 'range':
      throw new SpecError('a range is only allowed on the right of `in`', src, n.pos, 'e.g. qty in 1..10');
  }
}

/** `x in a..b` with integer literals: Elixir's own expansion (is_integer, >=, =<), or false when empty of steps. */
function rangeTest(left: Term, r: Node & { k: 'range' }, src: string): Term {
  const from = r.from.k === 'lit' ? r.from.term : null;
  const to = r.to.k === 'lit' ? r.to.term : null;
  const isInt = (t: Term | null): t is number | bigint => typeof t === 'number' || typeof t === 'bigint';
  if (!isInt(from) || !isInt(to)) {
    throw new SpecError('a range in a guard needs integer literals', src, r.pos, 'e.g. qty in 1..10');
  }
  // A decreasing range (10..1) contains the same integers in Elixir 1.14 (its step is -1).
  const [lo, hi] = from <= to ? [from, to] : [to, from];
  return tuple(AND, tuple(atom('is_integer'), left), tuple(atom('>='), left, lo), tuple(atom('=<'), left, hi));
}

// ----------------------------------------------------------------------------------------------
// FORMATTING
// ----------------------------------------------------------------------------------------------

function formatSpecError(reason: string, spec: string, offset: number, hint?: string): string {
  const at = Math.max(0, Math.min(offset, spec.length));
  const lines = [`${reason} at column ${at + 1}`, `  ${spec}`, `  ${' '.repeat([...spec.slice(0, at)].length)}^`];
  if (hint !== undefined) lines.push(`  ${hint}`);
  return lines.join('\n');
}
