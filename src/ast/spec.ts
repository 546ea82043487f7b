/**
 * `--instrument SPEC`: what to instrument inside which functions (syntax in docs/ast.md).
 *
 *   parseInstrumentSpec('Shop.Cart.total/1:locals=items,sum;lines=42,55')
 *   → { module: 'Elixir.Shop.Cart', fun: 'total', arity: 1, locals: ['items', 'sum'], lines: [42, 55], ... }
 *
 * Only Elixir modules: instrumentation rewrites Elixir source, which an Erlang module does not have.
 * Nothing here creates atoms or talks to a node; names stay strings until the plan checks them
 * against the module's own functions.
 */

export type Level = 'function_boundaries' | 'lines' | 'locals' | 'expressions';
export const LEVELS: readonly Level[] = ['function_boundaries', 'lines', 'locals', 'expressions'];

export interface ProbeSpec {
  line: number;
  /** `probe=` runs before the line, `probe_after=` after it. */
  when: 'before' | 'after';
  /** The Elixir code, as written (also the event's label). */
  code: string;
}

export interface InstrumentSpec {
  /** The spec as given. */
  text: string;
  /** `Elixir.Shop.Cart`. */
  module: string;
  /** `Shop.Cart`, as the user wrote it. */
  moduleName: string;
  /** Undefined: every function of the module. */
  fun: string | undefined;
  /** Undefined: every arity of `fun`. */
  arity: number | undefined;
  /** Undefined when no `level=` was given (the other options then say what to add). */
  level: Level | undefined;
  locals: string[] | '*' | undefined;
  lines: number[] | '*' | undefined;
  expr: number[] | '*' | undefined;
  probes: ProbeSpec[];
}

/** A spec that cannot be parsed: says what is wrong, points at it, and says what was expected. */
export class SpecError extends Error {
  readonly code = 'BAD_INSTRUMENT_SPEC';
  constructor(
    readonly spec: string,
    readonly offset: number,
    readonly problem: string,
    readonly expected: string,
  ) {
    super(`bad --instrument spec: ${problem}\n  ${spec}\n  ${' '.repeat(Math.max(0, offset))}^\n${expected}`);
    this.name = 'SpecError';
  }
}

const SYNTAX =
  'expected TARGET[:OPTION;OPTION...] with TARGET = Module | Module.fun | Module.fun/arity (an Elixir module, e.g. Shop.Cart.total/1)\n' +
  'and OPTION one of level=function_boundaries|lines|locals|expressions, locals=a,b|*, lines=42,55|*, expr=42|*, probe=42:CODE, probe_after=42:CODE';

const OPTION_KEYS = ['level', 'locals', 'lines', 'expr', 'probe', 'probe_after'] as const;
const MODULE_SEGMENT = /^[A-Z][A-Za-z0-9_]*$/;
const FUN_NAME = /^[a-z_][A-Za-z0-9_]*[?!]?$/;
const VAR_NAME = /^[a-z_][A-Za-z0-9_]*$/;

export function parseInstrumentSpec(text: string): InstrumentSpec {
  const fail = (offset: number, problem: string, expected: string = SYNTAX): never => {
    throw new SpecError(text, offset, problem, expected);
  };
  if (text.trim() === '') fail(0, 'the spec is empty');
  if (text.startsWith(':') || /^[a-z][A-Za-z0-9_]*(:|\.|$)/.test(text)) {
    const name = /^:?([a-z][A-Za-z0-9_@]*)/.exec(text)?.[1] ?? text;
    fail(
      0,
      `'${name}' is an Erlang module; AST instrumentation needs Elixir source`,
      'instrument an Elixir module (Shop.Cart), or trace the Erlang module at runtime with --trace instead',
    );
  }
  const colon = text.indexOf(':');
  const target = colon < 0 ? text : text.slice(0, colon);
  const spec: InstrumentSpec = {
    text,
    module: '',
    moduleName: '',
    fun: undefined,
    arity: undefined,
    level: undefined,
    locals: undefined,
    lines: undefined,
    expr: undefined,
    probes: [],
  };
  parseTarget(target, spec, fail);
  if (colon < 0) return spec;
  if (colon === text.length - 1) fail(colon + 1, 'nothing after the ":"', 'expected options after ":", e.g. Shop.Cart.total/1:lines=*');
  for (const [opt, at] of splitOptions(text, colon + 1)) parseOption(opt, at, spec, fail);
  return spec;
}

type Fail = (offset: number, problem: string, expected?: string) => never;

function parseTarget(target: string, spec: InstrumentSpec, fail: Fail): void {
  let rest = target;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const a = rest.slice(slash + 1);
    if (!/^\d+$/.test(a) || Number(a) > 255) fail(slash + 1, `'${a}' is not an arity`, 'expected a number from 0 to 255 after "/", e.g. Shop.Cart.total/1');
    spec.arity = Number(a);
    rest = rest.slice(0, slash);
  }
  const segs = rest.split('.');
  let offset = 0;
  const mod: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    if (MODULE_SEGMENT.test(s)) mod.push(s);
    else if (last && mod.length > 0 && FUN_NAME.test(s)) spec.fun = s;
    else if (s === '') fail(offset, 'an empty name in the target (two dots, or a dot at an end)');
    else if (last && mod.length > 0) fail(offset, `'${s}' is not a function name`, 'expected a function name like total, valid? or add!; e.g. Shop.Cart.total/1');
    else fail(offset, `'${s}' is not an Elixir module name segment`, 'expected a module like Shop.Cart (each part capitalised); Erlang modules cannot be instrumented');
    offset += s.length + 1;
  }
  if (spec.arity !== undefined && spec.fun === undefined) fail(slash, 'an arity without a function name', 'expected Module.fun/arity, e.g. Shop.Cart.total/1');
  spec.moduleName = mod.join('.');
  spec.module = `Elixir.${spec.moduleName}`;
}

/**
 * Options are separated by ";", but a probe's code may itself contain ";": a ";" only ends an
 * option when a known option name and "=" follow it.
 */
function splitOptions(text: string, start: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let from = start;
  for (let i = start; i <= text.length; i++) {
    if (i === text.length || (text[i] === ';' && startsOption(text, i + 1))) {
      out.push([text.slice(from, i), from]);
      from = i + 1;
    }
  }
  return out;
}

function startsOption(text: string, at: number): boolean {
  // `name=` (not `name ==`): an option, known or not, so an unknown one gets its own error.
  return /^\s*([a-z_]+=(?!=)|;|$)/.test(text.slice(at));
}

function parseOption(opt: string, at: number, spec: InstrumentSpec, fail: Fail): void {
  const trimmed = opt.trimStart();
  const pos = at + (opt.length - trimmed.length);
  if (trimmed === '') fail(pos, 'an empty option (two ";" in a row, or one at the end)');
  const eq = trimmed.indexOf('=');
  if (eq < 0) fail(pos, `'${trimmed}' has no "="`, `expected NAME=VALUE with NAME one of ${OPTION_KEYS.join(', ')}`);
  const key = trimmed.slice(0, eq).trim();
  const value = trimmed.slice(eq + 1);
  const vpos = pos + eq + 1;
  switch (key) {
    case 'level': {
      const v = value.trim();
      if (!(LEVELS as readonly string[]).includes(v)) fail(vpos, `unknown level '${v}'`, `expected one of ${LEVELS.join(', ')}`);
      if (spec.level !== undefined) fail(pos, 'level= is given twice');
      spec.level = v as Level;
      return;
    }
    case 'locals': {
      if (spec.locals !== undefined) fail(pos, 'locals= is given twice');
      spec.locals = parseList(value, vpos, fail, (s, p) => {
        if (!VAR_NAME.test(s)) fail(p, `'${s}' is not a variable name`, 'expected variable names like items,sum (or * for every binding)');
        if (s.startsWith('_')) fail(p, `'${s}' starts with "_": such variables are not meant to be read`, 'name a variable without a leading underscore');
        return s;
      });
      return;
    }
    case 'lines':
    case 'expr': {
      if (spec[key] !== undefined) fail(pos, `${key}= is given twice`);
      spec[key] = parseList(value, vpos, fail, (s, p) => parseLine(s, p, fail));
      return;
    }
    case 'probe':
    case 'probe_after': {
      const c = value.indexOf(':');
      if (c < 0) fail(vpos, `${key}= needs LINE:CODE`, `expected e.g. ${key}=30:length(items)`);
      const line = parseLine(value.slice(0, c).trim(), vpos, fail);
      const code = value.slice(c + 1);
      if (code.trim() === '') fail(vpos + c + 1, 'the probe has no code', `expected Elixir code after "${key}=${line}:", e.g. length(items)`);
      spec.probes.push({ line, when: key === 'probe' ? 'before' : 'after', code: code.trim() });
      return;
    }
    default:
      fail(pos, `unknown option '${key}'`, `expected one of ${OPTION_KEYS.join(', ')}`);
  }
}

function parseLine(s: string, pos: number, fail: Fail): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 10_000_000) fail(pos, `'${s}' is not a line number`, 'expected a line number like 42');
  return Number(s);
}

function parseList<T>(value: string, pos: number, fail: Fail, item: (s: string, pos: number) => T): T[] | '*' {
  if (value.trim() === '*') return '*';
  if (value.trim() === '') fail(pos, 'an empty list', 'expected comma-separated values, or * for all');
  const out: T[] = [];
  let p = pos;
  for (const part of value.split(',')) {
    const s = part.trim();
    if (s === '') fail(p, 'an empty item in the list (two commas, or one at an end)');
    out.push(item(s, p + (part.length - part.trimStart().length)));
    p += part.length + 1;
  }
  return out;
}
