/**
 * Renders any Erlang term as Elixir 1.14's `inspect/2` prints it, on one line:
 *
 *   inspect(decode(bytes))                      // %{name: "x", pids: [#PID<0.120.0>], t: {:ok, 1.0}}
 *   inspect(term, { limit: 3 })                 // [1, 2, 3, ...]
 *   inspect(term, { printableLimit: 5 })        // "hello" <> ...
 *
 * The output is checked against the real `inspect/2` on thousands of terms (test/inspect.test.ts). Where the
 * BEAM prints from state this process cannot see, the rendering is a documented stand-in:
 *
 * - **Other nodes' pids, ports and refs.** Elixir writes a node-table index only the printing node knows
 *   (`#PID<8432.120.0>`). Here identifiers of `localNode` print with `0` as there, and those of any other
 *   node print with the node's name in that place: `#PID<app@host.120.0>`. Without `localNode` every
 *   identifier prints as local, which is exact for terms from one node and ambiguous for several.
 * - **Local funs.** Elixir prints `#Function<3.1234/1 in MyMod.handle/2>`; the name part comes from the
 *   module's code, not from the term. Without `funName` this prints `#Function<3.1234/1 in MyMod>`, the
 *   form Elixir itself uses when a fun has no name.
 * - **User structs.** Their own `Inspect` implementations cannot run here, so every struct without one of
 *   the known standard-library renderers prints in the default `%Mod{field: value}` form. Elixir lists
 *   fields in definition order and prints a plain map when the keys do not match the struct; pass
 *   `structFields` to supply that order (e.g. from `Mod.__info__(:struct)`), otherwise fields follow the
 *   map's order.
 * - **Maps** print in the order their entries arrived, which for terms decoded from the BEAM is the
 *   order the BEAM holds them in.
 * - Where Elixir would raise (`charlists: 'as_charlists'` on a list that is not chardata, or a list
 *   only printable up to `printableLimit` whose remainder is not chardata) this prints the plain list.
 *
 * Nesting depth is bounded by `limit` (each level takes one off, as in Elixir), so the default limit prints
 * any term; `limit: Infinity` on a term thousands of levels deep throws a RangeError that says so.
 */

import {
  Atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  Fun,
  ImproperList,
  LocalTerm,
  Pid,
  Port,
  Reference,
  Tuple,
  type Term,
} from './terms.js';
import { inspectAtomKey, inspectAtomLiteral, inspectAtomRemoteCall } from './inspect/atom.js';
import { formatFloat } from './inspect/float.js';
import { STDLIB_STRUCTS, type StructRenderers } from './inspect/structs.js';
import { escapeBytes, isAsciiPrintableList, isPrintableBinary } from './inspect/text.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

export interface InspectOptions {
  /** Items shown of lists, tuples, maps and struct fields, and bytes of non-printable binaries; nested
   *  collections share what is left, as in Elixir. Default 50; `Infinity` for `:infinity`. */
  limit?: number;
  /** Characters shown of strings and charlists. Default 4096; `Infinity` for `:infinity`. */
  printableLimit?: number;
  /** Default 'infer': a list of printable ASCII codes prints as a charlist. */
  charlists?: 'infer' | 'as_lists' | 'as_charlists';
  /** Elixir >= 1.15 writes charlists as `~c"abc"`; 1.14 writes `'abc'`. Default false (1.14). */
  charlistSigil?: boolean;
  /** Default 'infer': a printable UTF-8 binary prints as a string. */
  binaries?: 'infer' | 'as_binaries' | 'as_strings';
  /** The node whose pids, ports and refs print with node index 0 (see the module comment). */
  localNode?: Atom;
  /** The name of a local fun (`:erlang.fun_info(f, :name)`), when the caller can find it out. */
  funName?: (fun: Fun) => Atom | undefined;
  /** A struct module's fields in definition order (without `__struct__`); null when the module defines
   *  no struct (it then prints as a plain map); undefined when unknown (fields follow the map). */
  structFields?: (module: Atom) => readonly Atom[] | null | undefined;
}

export function inspect(term: Term, opts: InspectOptions = {}): string {
  const ctx: Ctx = {
    printableLimit: checkLimit('printableLimit', opts.printableLimit ?? 4096),
    charlists: opts.charlists ?? 'infer',
    charlistSigil: opts.charlistSigil ?? false,
    binaries: opts.binaries ?? 'infer',
    localNode: opts.localNode,
    funName: opts.funName,
    structFields: opts.structFields,
  };
  const limit = checkLimit('limit', opts.limit ?? 50);
  try {
    return render(term, limit, ctx);
  } catch (e) {
    // Nesting costs a few stack frames per level; a finite limit bounds it (each level takes one off), an
    // unbounded one on a term thousands of levels deep does not.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new RangeError(
        `inspect: the term is nested too deeply to print with limit ${limit} (the call stack ran out); ` +
          'pass a smaller limit, such as the default 50',
        { cause: e },
      );
    }
    throw e;
  }
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

interface Ctx {
  printableLimit: number;
  charlists: 'infer' | 'as_lists' | 'as_charlists';
  charlistSigil: boolean;
  binaries: 'infer' | 'as_binaries' | 'as_strings';
  localNode: Atom | undefined;
  funName: InspectOptions['funName'];
  structFields: InspectOptions['structFields'];
}

function renderersFor(ctx: Ctx): StructRenderers {
  return {
    term: (t, limit) => render(t, limit, ctx),
    // Inspect.MapSet forces charlists: :as_lists for everything inside the set, not only the top list.
    list: (items, limit, asLists) => {
      const inner: Ctx = asLists ? { ...ctx, charlists: 'as_lists' } : ctx;
      return renderList(items, null, limit, inner);
    },
    fields: (name, map, fields, limit) => renderFields(name, map, fields, limit, ctx),
  };
}

function checkLimit(name: string, n: number): number {
  if (n === Infinity || (Number.isInteger(n) && n >= 0)) return n;
  throw new RangeError(`inspect: ${name} must be a non-negative integer or Infinity, got ${n}`);
}

function render(t: Term, limit: number, ctx: Ctx): string {
  if (typeof t === 'number') return Number.isInteger(t) ? String(t) : formatFloat(t);
  if (typeof t === 'bigint') return t.toString();
  if (t instanceof Atom) return inspectAtomLiteral(t.name);
  if (Array.isArray(t)) return renderList(t, null, limit, ctx);
  if (t instanceof Tuple) return container('{', t.elements, '}', limit, (e, l) => render(e, l, ctx));
  if (Buffer.isBuffer(t)) return renderBinary(t, limit, ctx);
  if (t instanceof ErlMap) return renderMap(t, limit, ctx);
  if (t instanceof ErlFloat) return formatFloat(t.value);
  if (t instanceof ImproperList) return renderList(t.elements, t.tail, limit, ctx);
  if (t instanceof BitBinary) return renderBits(t.bytes, t.bits, limit);
  if (t instanceof Pid) return `#PID<${nodeIndex(t.node, ctx)}.${t.id}.${t.serial}>`;
  if (t instanceof Port) return `#Port<${nodeIndex(t.node, ctx)}.${t.id}>`;
  if (t instanceof Reference) {
    // ref_to_list writes the id words most significant first, the reverse of the wire order.
    return `#Reference<${nodeIndex(t.node, ctx)}.${[...t.ids].reverse().join('.')}>`;
  }
  if (t instanceof ExportFun) {
    return `&${inspectAtomLiteral(t.module.name)}.${inspectAtomRemoteCall(t.fun.name)}/${t.arity}`;
  }
  if (t instanceof Fun) return renderFun(t, ctx);
  if (t instanceof LocalTerm) {
    // Only the node that made it can decode it; Elixir there would print the term inside.
    return `#LocalTerm<${t.bytes.length} bytes>`;
  }
  throw new TypeError(`inspect: not an Erlang term: ${describe(t)}`);
}

function describe(t: unknown): string {
  if (t === null) return 'null';
  if (typeof t === 'object') return `an object of class ${t.constructor?.name ?? 'unknown'}`;
  return `a ${typeof t} (${String(t)})`;
}

function nodeIndex(node: Atom, ctx: Ctx): string {
  return ctx.localNode === undefined || node === ctx.localNode ? '0' : node.name;
}

/**
 * Inspect.Algebra.container_doc: each item gets the limit left after counting itself, `...` stands for
 * what the limit cuts off, and an improper tail is joined to the last item with ` | `.
 */
function container<T>(
  open: string,
  items: readonly T[],
  close: string,
  limit: number,
  each: (item: T, limit: number) => string,
  tail?: { value: Term; render: (t: Term, limit: number) => string },
): string {
  if (items.length === 0) return open + close;
  const parts: string[] = [];
  let left = limit;
  for (let i = 0; i < items.length; i++) {
    if (left === 0) {
      parts.push('...');
      break;
    }
    left = left - 1;
    if (tail !== undefined && i === items.length - 1) {
      parts.push(`${each(items[i]!, left)} | ${tail.render(tail.value, left)}`);
    } else {
      parts.push(each(items[i]!, left));
    }
  }
  return open + parts.join(', ') + close;
}

// ---- lists -------------------------------------------------------------------------------------

function renderList(items: Term[], tail: Term | null, limit: number, ctx: Ctx): string {
  if (items.length === 0 && tail === null) return '[]';
  const improper = tail !== null;
  if (
    ctx.charlists === 'as_charlists' ||
    (ctx.charlists === 'infer' && isAsciiPrintableList(items, improper, ctx.printableLimit))
  ) {
    const text = chardataToUtf8(items, tail);
    if (text !== null) {
      const quote = ctx.charlistSigil ? 0x22 : 0x27;
      const { text: escaped, truncated } = escapeBytes(text, quote, ctx.printableLimit);
      const quoted = ctx.charlistSigil ? `~c"${escaped}"` : `'${escaped}'`;
      return truncated ? `${quoted} ++ ...` : quoted;
    }
  }
  const each = isKeyword(items, tail)
    ? (e: Term, l: number) => keywordPair(e as Tuple, l, ctx)
    : (e: Term, l: number) => render(e, l, ctx);
  return container('[', items, ']', limit, each, improper ? { value: tail, render: (t, l) => render(t, l, ctx) } : undefined);
}

function isKeywordKey(k: Term | undefined): k is Atom {
  return k instanceof Atom && !k.name.startsWith('Elixir.');
}

function isKeyword(items: Term[], tail: Term | null): boolean {
  if (tail !== null) return false;
  for (const e of items) if (!(e instanceof Tuple) || e.elements.length !== 2 || !isKeywordKey(e.elements[0])) return false;
  return true;
}

function keywordPair(pair: Tuple, limit: number, ctx: Ctx): string {
  return `${inspectAtomKey((pair.elements[0] as Atom).name)} ${render(pair.elements[1]!, limit, ctx)}`;
}

/**
 * IO.chardata_to_string: code points, UTF-8 binaries and nested lists, flattened to UTF-8; null where
 * Elixir would raise.
 */
function chardataToUtf8(items: Term[], tail: Term | null): Buffer | null {
  const chunks: Buffer[] = [];
  const points: number[] = [];
  const flush = (): void => {
    if (points.length > 0) chunks.push(Buffer.from(String.fromCodePoint(...points.splice(0)), 'utf8'));
  };
  const walk = (list: Term[], rest: Term | null, depth: number): boolean => {
    if (depth > 1000) return false;
    for (const e of list) {
      if (typeof e === 'number') {
        if (e < 0 || e > 0x10ffff || (e >= 0xd800 && e <= 0xdfff)) return false;
        points.push(e);
        if (points.length >= 8192) flush();
      } else if (Buffer.isBuffer(e)) {
        if (!isPrintableBinaryOrValidUtf8(e)) return false;
        flush();
        chunks.push(e);
      } else if (Array.isArray(e)) {
        if (!walk(e, null, depth + 1)) return false;
      } else if (e instanceof ImproperList) {
        if (!walk(e.elements, e.tail, depth + 1)) return false;
      } else return false;
    }
    if (rest !== null) {
      if (!Buffer.isBuffer(rest) || !isPrintableBinaryOrValidUtf8(rest)) return false;
      flush();
      chunks.push(rest);
    }
    return true;
  };
  if (!walk(items, tail, 0)) return null;
  flush();
  return Buffer.concat(chunks);
}

function isPrintableBinaryOrValidUtf8(b: Buffer): boolean {
  // Node's decoder replaces bad sequences with U+FFFD, so a clean round trip means valid UTF-8.
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

// ---- binaries ----------------------------------------------------------------------------------

function renderBinary(b: Buffer, limit: number, ctx: Ctx): string {
  if (ctx.binaries === 'as_strings' || (ctx.binaries === 'infer' && isPrintableBinary(b, ctx.printableLimit))) {
    const { text, truncated } = escapeBytes(b, 0x22, ctx.printableLimit);
    return truncated ? `"${text}" <> ...` : `"${text}"`;
  }
  return renderBits(b, 0, limit);
}

/** `<<1, 2, 3>>`; a last partial byte of `bits` bits prints as `value::size(bits)`. */
function renderBits(bytes: Buffer, bits: number, limit: number): string {
  if (bytes.length === 0) return '<<>>';
  const whole = bits === 0 ? bytes.length : bytes.length - 1;
  const parts: string[] = [];
  let left = limit;
  for (let i = 0; i < whole; i++) {
    if (left === 0) {
      parts.push('...');
      return `<<${parts.join(', ')}>>`;
    }
    parts.push(String(bytes[i]));
    left--;
  }
  if (bits !== 0) {
    parts.push(left === 0 ? '...' : `${bytes[whole]! >> (8 - bits)}::size(${bits})`);
  }
  return `<<${parts.join(', ')}>>`;
}

// ---- maps and structs --------------------------------------------------------------------------

function renderMap(m: ErlMap, limit: number, ctx: Ctx): string {
  const mod = m.getAtom('__struct__');
  if (mod instanceof Atom) {
    const special = STDLIB_STRUCTS.get(mod.name);
    const out = special?.(m, limit, renderersFor(ctx)) ?? renderStruct(mod, m, limit, ctx);
    if (out !== null) return out;
  }
  return renderPlainMap(m, limit, ctx);
}

function renderPlainMap(m: ErlMap, limit: number, ctx: Ctx): string {
  const keyword = m.entries.every(([k]) => isKeywordKey(k));
  const each = keyword
    ? ([k, v]: [Term, Term], l: number) => `${inspectAtomKey((k as Atom).name)} ${render(v, l, ctx)}`
    : ([k, v]: [Term, Term], l: number) => `${render(k, l, ctx)} => ${render(v, l, ctx)}`;
  return container('%{', m.entries, '}', limit, each);
}

/** Inspect.Any: `%Mod{f: v}`, or null (print as a plain map) when the map does not fit the struct. */
function renderStruct(mod: Atom, m: ErlMap, limit: number, ctx: Ctx): string | null {
  const known = ctx.structFields?.(mod);
  let fields: Atom[];
  if (known === null) return null;
  if (known === undefined) {
    fields = [];
    for (const [k] of m.entries) {
      if (!(k instanceof Atom)) return null;
      if (k.name !== '__struct__' && k.name !== '__exception__') fields.push(k);
    }
  } else {
    const expected = new Set(known.filter((f) => f.name !== '__struct__'));
    if (m.size !== expected.size + 1) return null;
    for (const f of expected) if (m.get(f) === undefined) return null;
    fields = [...expected].filter((f) => f.name !== '__exception__');
  }
  return renderFields(inspectAtomLiteral(mod.name), m, fields, limit, ctx);
}

function renderFields(name: string, m: ErlMap, fields: Atom[], limit: number, ctx: Ctx): string {
  return container(`%${name}{`, fields, '}', limit, (f, l) => {
    const v = m.get(f);
    return `${inspectAtomKey(f.name)} ${v === undefined ? 'nil' : render(v, l, ctx)}`;
  });
}

// ---- funs --------------------------------------------------------------------------------------

function renderFun(f: Fun, ctx: Ctx): string {
  const name = ctx.funName?.(f);
  let suffix = '';
  if (name !== undefined) {
    const parent = anonymousFunParent(name.name);
    suffix = parent ? `.${inspectAtomRemoteCall(parent.name)}/${parent.arity}` : `.${inspectAtomRemoteCall(name.name)}`;
  }
  return `#Function<${f.index}.${f.oldUniq}/${f.arity} in ${inspectAtomLiteral(f.module.name)}${suffix}>`;
}

/** `-handle_call/3-fun-0-` is an anonymous fun inside handle_call/3: Elixir names the parent function. */
function anonymousFunParent(name: string): { name: string; arity: string } | null {
  if (!name.startsWith('-')) return null;
  const pieces = name.slice(1).split('/');
  const trailing = pieces.pop()!.split('-');
  if (pieces.length === 0 || trailing.length !== 4 || trailing[3] !== '') return null;
  return { name: pieces.join('/'), arity: trailing[0]! };
}
