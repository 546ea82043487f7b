/**
 * The Erlang term model: how every BEAM term is represented in TypeScript.
 *
 * Lossless is the rule. A term decoded from the External Term Format and encoded again gives back the
 * same bytes, so nothing here may collapse two Erlang terms into one JavaScript value:
 *
 *   Erlang                     TypeScript
 *   integer                    number when it is a safe integer (|n| < 2^53), bigint beyond
 *   float                      ErlFloat (so that 1.0 never becomes the integer 1; -0.0 is kept)
 *   atom                       Atom, interned: Atom.of('ok') === Atom.of('ok')
 *   tuple                      Tuple
 *   [] and proper lists        Term[] (a charlist is a number[]; STRING_EXT decodes to one)
 *   improper list              ImproperList
 *   binary                     Buffer (a byte-aligned binary)
 *   bitstring                  BitBinary (the last byte holds `bits` significant high bits, 1..7)
 *   map                        ErlMap, entries kept in the order they arrived
 *   pid, port, reference       Pid, Port, Reference
 *   fun, external fun          Fun, ExportFun
 *
 * For convenience the encoder also accepts a JavaScript string (encoded as a UTF-8 binary, as Elixir
 * writes "text"), a boolean (the atoms true and false) and a non-integral number (a float). The
 * decoder never produces these.
 *
 * This module imports nothing of ElixirScope: src/erlang is a library of its own.
 */

export type Term =
  | number
  | bigint
  | ErlFloat
  | Atom
  | Tuple
  | Term[]
  | ImproperList
  | Buffer
  | BitBinary
  | ErlMap
  | Pid
  | Port
  | Reference
  | Fun
  | ExportFun
  | LocalTerm;

/** What the encoder accepts: every Term, plus JavaScript conveniences. */
export type EncodableTerm =
  | Term
  | string
  | boolean
  | EncodableTerm[]
  | ImproperList
  | Tuple;

// ----------------------------------------------------------------------------------------------
// Atoms
// ----------------------------------------------------------------------------------------------

/**
 * An atom. Atoms are interned so that comparison is `===`; never construct one with `new`.
 * The table only grows with atoms that were really seen or written, as on the BEAM.
 */
export class Atom {
  private static readonly table = new Map<string, Atom>();

  private constructor(readonly name: string) {}

  static of(name: string): Atom {
    let a = Atom.table.get(name);
    if (a === undefined) {
      a = new Atom(name);
      Atom.table.set(name, a);
    }
    return a;
  }

  toString(): string {
    return this.name;
  }
}

export const atom = (name: string): Atom => Atom.of(name);

export const ATOM_TRUE = Atom.of('true');
export const ATOM_FALSE = Atom.of('false');
export const ATOM_NIL = Atom.of('nil');
export const ATOM_OK = Atom.of('ok');
export const ATOM_ERROR = Atom.of('error');
export const ATOM_UNDEFINED = Atom.of('undefined');

// ----------------------------------------------------------------------------------------------
// Numbers
// ----------------------------------------------------------------------------------------------

/** An Erlang float. Kept apart from integers so that `1.0` stays a float. */
export class ErlFloat {
  constructor(readonly value: number) {}

  valueOf(): number {
    return this.value;
  }
}

export const float = (value: number): ErlFloat => new ErlFloat(value);

/** Normalises an integer: a bigint inside the safe range becomes a number. */
export function integer(n: number | bigint): number | bigint {
  if (typeof n === 'bigint' && n >= -MAX_SAFE && n <= MAX_SAFE) return Number(n);
  return n;
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// ----------------------------------------------------------------------------------------------
// Compound terms
// ----------------------------------------------------------------------------------------------

export class Tuple {
  constructor(readonly elements: Term[]) {}

  get size(): number {
    return this.elements.length;
  }

  /** Element by zero-based index, like `elem/2`. */
  at(i: number): Term | undefined {
    return this.elements[i];
  }
}

export const tuple = (...elements: Term[]): Tuple => new Tuple(elements);

/** A list whose tail is not `[]`, e.g. `[1 | 2]`. `elements` is never empty. */
export class ImproperList {
  constructor(
    readonly elements: Term[],
    readonly tail: Term,
  ) {}
}

/** A bitstring whose size is not a whole number of bytes: the last byte holds `bits` (1..7) bits. */
export class BitBinary {
  constructor(
    readonly bytes: Buffer,
    readonly bits: number,
  ) {}

  get bitSize(): number {
    return (this.bytes.length - 1) * 8 + this.bits;
  }
}

/**
 * An Erlang map. Entries are kept in arrival order so that re-encoding gives the same bytes (the BEAM
 * writes small maps sorted by key and large maps in hash order). `get` compares keys structurally.
 */
export class ErlMap {
  constructor(readonly entries: Array<[Term, Term]>) {}

  get size(): number {
    return this.entries.length;
  }

  get(key: Term): Term | undefined {
    for (const [k, v] of this.entries) if (termEquals(k, key)) return v;
    return undefined;
  }

  /** Shortcut for atom keys, the common case (`%{name: ...}`, struct fields). */
  getAtom(name: string): Term | undefined {
    return this.get(Atom.of(name));
  }
}

// ----------------------------------------------------------------------------------------------
// Identifiers
// ----------------------------------------------------------------------------------------------

/** A process identifier. `creation` is the node incarnation (32 bits since OTP 23). */
export class Pid {
  constructor(
    readonly node: Atom,
    readonly id: number,
    readonly serial: number,
    readonly creation: number,
  ) {}

  /** A stable key for maps and sets. */
  get key(): string {
    return `${this.node.name}|${this.id}|${this.serial}|${this.creation}`;
  }
}

/** A port identifier. Since OTP 24 the id may exceed 32 bits (V4_PORT_EXT carries 64). */
export class Port {
  constructor(
    readonly node: Atom,
    readonly id: bigint,
    readonly creation: number,
  ) {}

  get key(): string {
    return `${this.node.name}|${this.id}|${this.creation}`;
  }
}

/** A reference: up to five 32-bit words (three on older nodes, more for aliases on OTP 24+). */
export class Reference {
  constructor(
    readonly node: Atom,
    readonly creation: number,
    readonly ids: readonly number[],
  ) {}

  get key(): string {
    return `${this.node.name}|${this.creation}|${this.ids.join('.')}`;
  }
}

/** A closure (NEW_FUN_EXT). Fields are those of the wire format; `freeVars` is the environment. */
export class Fun {
  constructor(
    readonly arity: number,
    readonly uniq: Buffer, // 16 bytes: MD5 of the module's code
    readonly index: number,
    readonly module: Atom,
    readonly oldIndex: number,
    readonly oldUniq: number,
    readonly pid: Pid,
    readonly freeVars: Term[],
  ) {}
}

/** An external fun, `&Mod.fun/arity` (EXPORT_EXT). */
export class ExportFun {
  constructor(
    readonly module: Atom,
    readonly fun: Atom,
    readonly arity: number,
  ) {}
}

/**
 * A term encoded with the `local` option (LOCAL_EXT, OTP 26+). Its bytes are only meaningful to the
 * node instance that made it, so it is kept opaque and re-encoded exactly.
 */
export class LocalTerm {
  constructor(readonly bytes: Buffer) {}
}

// ----------------------------------------------------------------------------------------------
// Structural equality (Erlang's =:=)
// ----------------------------------------------------------------------------------------------

/**
 * Exact equality, as Erlang's `=:=`: `1 =:= 1.0` is false. Bigints and numbers compare by value.
 * Iterative, with an explicit stack of pairs still to compare: the codec accepts terms nested a
 * million deep, and comparing them must not overflow the JavaScript stack either.
 */
export function termEquals(a: Term, b: Term): boolean {
  const stack: Term[] = [a, b];
  while (stack.length > 0) {
    const y = stack.pop()!;
    const x = stack.pop()!;
    if (!shallowEquals(x, y, stack)) return false;
  }
  return true;
}

/** Compares x and y at the top level; pushes pairs of children that must also be equal. */
function shallowEquals(a: Term, b: Term, pending: Term[]): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof a === 'bigint') {
    return (typeof b === 'number' || typeof b === 'bigint') && BigInt(a) === BigInt(b);
  }
  if (typeof b === 'number' || typeof b === 'bigint') return false;
  // Bitwise, as OTP 27's =:= (0.0 and -0.0 differ): a lossless codec must tell them apart.
  if (a instanceof ErlFloat) return b instanceof ErlFloat && Object.is(a.value, b.value);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) pending.push(a[i]!, b[i]!);
    return true;
  }
  if (a instanceof Tuple) {
    if (!(b instanceof Tuple) || a.elements.length !== b.elements.length) return false;
    for (let i = 0; i < a.elements.length; i++) pending.push(a.elements[i]!, b.elements[i]!);
    return true;
  }
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (a instanceof BitBinary) return b instanceof BitBinary && a.bits === b.bits && a.bytes.equals(b.bytes);
  if (a instanceof ImproperList) {
    if (!(b instanceof ImproperList)) return false;
    pending.push(a.elements, b.elements, a.tail, b.tail);
    return true;
  }
  if (a instanceof ErlMap) {
    if (!(b instanceof ErlMap) || a.size !== b.size) return false;
    // Map keys are compared by get(), which recurses only as deep as the keys themselves nest.
    for (const [k, v] of a.entries) {
      const other = b.get(k);
      if (other === undefined) return false;
      pending.push(v, other);
    }
    return true;
  }
  if (a instanceof Pid) return b instanceof Pid && a.key === b.key;
  if (a instanceof Port) return b instanceof Port && a.key === b.key;
  if (a instanceof Reference) return b instanceof Reference && a.key === b.key;
  if (a instanceof ExportFun) {
    return b instanceof ExportFun && a.module === b.module && a.fun === b.fun && a.arity === b.arity;
  }
  if (a instanceof Fun) {
    if (
      !(b instanceof Fun) ||
      a.module !== b.module ||
      a.index !== b.index ||
      a.arity !== b.arity ||
      !a.uniq.equals(b.uniq) ||
      a.pid.key !== b.pid.key
    ) {
      return false;
    }
    pending.push(a.freeVars, b.freeVars);
    return true;
  }
  if (a instanceof LocalTerm) return b instanceof LocalTerm && a.bytes.equals(b.bytes);
  return false;
}

// ----------------------------------------------------------------------------------------------
// Small helpers used across the library
// ----------------------------------------------------------------------------------------------

export const isAtom = (t: unknown, name?: string): t is Atom =>
  t instanceof Atom && (name === undefined || t.name === name);

export const isTuple = (t: unknown, size?: number): t is Tuple =>
  t instanceof Tuple && (size === undefined || t.elements.length === size);

/** A binary's bytes as UTF-8 text (for Elixir strings). */
export const binaryToString = (b: Buffer): string => b.toString('utf8');
