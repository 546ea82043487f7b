/**
 * The instrumentation transformer: a module's quoted form in, the same module with probe points
 * out, to be compiled and hot-loaded on the target (docs/ast.md).
 *
 *   const { quoted, report } = instrumentModule(fileQuoted, {
 *     module: 'Elixir.Shop.Cart',
 *     functions: [{ name: 'total', arity: 1, levels: { boundaries: true, lines: '*' } }],
 *   });
 *
 * Every probe point is one `persistent_term:get/2` when nobody listens and a `send/2` to the relay
 * when someone does, through two private functions added to the module (see emit): points whose
 * payload costs nothing to build (a line, a result, a callee) call `__elixir_scope_emit__/4`, which
 * does both; points whose payload would allocate (locals, expression values) or run code (probes)
 * keep the lookup inline and build the payload only when someone listens, then call
 * `__elixir_scope_send__/5`. Shared functions instead of the whole `case` at every point halve the
 * compile time of an instrumented module (docs/performance.md). Injected code calls only the BEAM (`:erlang`, `:persistent_term`) and that
 * function of the module itself, never ElixirScope, so purging the agent can never leave a process
 * inside an instrumented function calling code that is gone. Injected variables are hygienic (context
 * ElixirScope) and injected nodes carry the user's line, so stacktraces keep the user's lines.
 *
 * Function boundaries wrap a clause body in `try`, which would turn the body's last call into a
 * non-last call and make a tail-recursive loop grow its stack (and add the function's frame to the
 * stacktrace of whatever the call raises). So every real call in tail position (see realCall) is
 * taken out of the protected part: the body returns `{:"$es_tail_N", args...}` instead of calling,
 * and the `else` of the `try` (which is not protected) makes the call, as a last call, after a
 * `tail_call` event naming the callee. The price: a function ending in a real call reports
 * `tail_call`, not `return`, since its frame is gone before the result exists.
 */

import { Atom, Tuple, atom, type Term } from '../erlang/terms.js';
import {
  A_NIL,
  asCall,
  asClauses,
  asNode,
  asRemoteCall,
  asVar,
  block,
  call,
  clause,
  firstLine,
  genMeta,
  hvar,
  isKeywordList,
  kw,
  kwGet,
  kwKeys,
  kwPut,
  meta,
  metaLine,
  patternVars,
  remote,
  renderLabel,
  statementBindings,
  statements,
  tupleOf,
} from './quoted.js';
import { defForm, findModule, functionKeys, headOf, moduleFunctions, type FunctionInfo } from './module.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC: plans and results
// ----------------------------------------------------------------------------------------------

/** Lines to act on: a list, or `'*'` for every line of the function. */
export type LineSelection = number[] | '*';

export interface Probe {
  line: number;
  when: 'before' | 'after';
  /** The event's label: the probe's source text. */
  label: string;
  /** The probe's code, parsed on the target (`Code.string_to_quoted`). */
  quoted: Term;
}

/** What to instrument in one function. */
export interface Levels {
  /** `call` on entry, `return`/`exception`/`tail_call` on exit. False when the runtime side traces the function (hybrid). */
  boundaries: boolean;
  /** A `line` event before each selected line runs. */
  lines?: LineSelection;
  /** `locals` events: these names (or every binding), after the selected lines (`'*'`: after each expression). */
  locals?: { names: string[] | '*'; at: LineSelection };
  /** `expr` events: values of the expressions (each pipe step, the branch taken) on these lines. */
  expr?: LineSelection;
  probes?: Probe[];
}

export interface FunctionPlan {
  name: string;
  arity: number;
  levels: Levels;
}

export interface ModulePlan {
  /** `Elixir.Shop.Cart`. */
  module: string;
  /** Functions to instrument; with `all`, these override it for the functions they name. */
  functions?: FunctionPlan[];
  /** Levels for every def/defp of the module not named in `functions`. */
  all?: Levels;
}

export interface InstrumentedFunction {
  name: string;
  arity: number;
  kind: 'def' | 'defp';
  clauses: number;
  /** Tail calls to the module's own functions that stay last calls. */
  tailCalls: number;
  /** Probe points injected (events that can fire), by kind. */
  points: Record<EventKind, number>;
}

export interface InstrumentReport {
  module: string;
  functions: InstrumentedFunction[];
  /** What was asked for and could not be done, in words (e.g. a line with no expression starting on it). */
  notes: string[];
}

export interface InstrumentResult {
  /** The instrumented `defmodule` alone (other modules of the same file are left out). */
  quoted: Term;
  functions: InstrumentedFunction[];
  report: InstrumentReport;
}

export type EventKind = 'call' | 'return' | 'exception' | 'tail_call' | 'line' | 'locals' | 'expr' | 'probe';

/** A plan the source cannot satisfy (the module is not in it, a function it does not define). */
export class InstrumentError extends Error {
  readonly code = 'INSTRUMENT_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'InstrumentError';
  }
}

// ----------------------------------------------------------------------------------------------
// PUBLIC: the transformer
// ----------------------------------------------------------------------------------------------

export function instrumentModule(quoted: Term, plan: ModulePlan): InstrumentResult {
  const found = findModule(quoted, plan.module);
  if (found === undefined) throw new InstrumentError(`the source has no defmodule ${plan.module.replace(/^Elixir\./, '')}; expected the source file of that module`);
  if (found.form === 'defprotocol') {
    throw new InstrumentError(
      `${plan.module.replace(/^Elixir\./, '')} is a protocol: its module is generated by Elixir (and replaced when protocols are consolidated), so it is not instrumented; instrument its implementations (the defimpl modules, e.g. ${plan.module.replace(/^Elixir\./, '')}.Integer) instead`,
    );
  }
  const fns = moduleFunctions(found.body);
  const keys = functionKeys(fns);
  const wanted = new Map<string, Levels>();
  for (const f of plan.functions ?? []) {
    const info = fns.find((x) => x.name === f.name && (x.arity === f.arity || x.generatedArities.includes(f.arity)));
    if (info === undefined || (info.kind !== 'def' && info.kind !== 'defp')) {
      throw new InstrumentError(`${plan.module.replace(/^Elixir\./, '')} has no function ${f.name}/${f.arity} in its source`);
    }
    // A generated arity delegates to the real one: instrumenting the real one covers both.
    wanted.set(`${info.name}/${info.arity}`, f.levels);
  }
  const modAtom = atom(plan.module);
  const notes: string[] = [];
  const done: InstrumentedFunction[] = [];
  const stats = new Map<string, InstrumentedFunction>();
  const hits = new Map<string, Set<number>>();
  const stmts = statements(found.body);
  const macroSources = requiredModules(found.body);
  const diverging = neverReturning(found.body, keys);
  const emitter = { emit: false, send: false };
  const newStmts = stmts.map((stmt, i) => {
    const f = defForm(stmt, i);
    if (f === undefined || !f.hasBody || (f.kind !== 'def' && f.kind !== 'defp')) return stmt;
    const key = `${f.name}/${f.arity}`;
    const levels = wanted.get(key) ?? plan.all;
    if (levels === undefined) return withoutQuoteColumns(stmt);
    let st = stats.get(key);
    if (st === undefined) {
      st = { name: f.name, arity: f.arity, kind: f.kind, clauses: 0, tailCalls: 0, points: emptyPoints() };
      stats.set(key, st);
      hits.set(key, new Set());
      done.push(st);
    }
    st.clauses++;
    const fx = new FunctionTransformer(modAtom, f.name, f.arity, keys, levels, st, hits.get(key)!, macroSources, diverging, emitter);
    return withoutQuoteColumns(fx.clause(stmt as Tuple));
  });
  for (const [key, levels] of wanted) {
    const hit = hits.get(key);
    if (hit !== undefined) notes.push(...unmatchedLines(key, levels, hit));
  }
  // The probe points' shared functions, each added only when a point calls it (an unused defp warns).
  if (emitter.emit) newStmts.push(emitFunction(modAtom, metaLine(found.node) ?? 1));
  if (emitter.send) newStmts.push(sendFunction(metaLine(found.node) ?? 1));
  const d = asCall(found.node)!;
  const doKw = d.args[1] as Tuple[];
  const bodyMeta = asNode(found.body)?.meta ?? [];
  const newBody = newStmts.length === 1 && asCall(found.body, '__block__') === undefined ? newStmts[0]! : call('__block__', bodyMeta, newStmts);
  // A nested module is compiled alone: give it its full name (aliases of the enclosing module are not carried over).
  const nameNode = found.nested ? modAtom : d.args[0]!;
  // A defimpl stays one (it adds the protocol's behaviour and __impl__/1): only its do block changes.
  const out =
    found.form === 'defimpl'
      ? new Tuple([atom('defimpl'), d.meta, [...d.args.slice(0, -1), kwPut(d.args.at(-1) as Tuple[], 'do', newBody)]])
      : new Tuple([atom('defmodule'), d.meta, [nameNode, kwPut(doKw, 'do', newBody)]]);
  if (found.nested) notes.push(`${plan.module} is nested in another module: it is compiled alone, without the enclosing module's aliases and imports`);
  const report: InstrumentReport = { module: plan.module, functions: done, notes };
  return { quoted: out, functions: done, report };
}

/** The functions the probe points call (see the header). */
const EMIT_FN = '__elixir_scope_emit__';
const SEND_FN = '__elixir_scope_send__';

/** The message to the relay, from hygienic variables of the shared functions. */
function esAstMessage(gm: Term[], k: Term, m: Term, l: Term, p: Term): Term {
  return tupleOf(gm, [A_ES_AST, remote(A_ERLANG, 'self', gm, []), remote(A_ERLANG, 'monotonic_time', gm, []), k, m, l, p]);
}

/** `defp __elixir_scope_send__(relay, kind, mfa, line, payload)`: the send, for points that looked up the relay themselves. */
function sendFunction(line: number): Term {
  const gm = genMeta(line);
  const [r, k, m, l, p] = ['es_relay', 'es_kind', 'es_mfa', 'es_line', 'es_payload'].map((n) => hvar(n, line)) as [Tuple, Tuple, Tuple, Tuple, Tuple];
  return call('defp', gm, [call(SEND_FN, gm, [r, k, m, l, p]), kw([['do', remote(A_ERLANG, 'send', gm, [r, esAstMessage(gm, k, m, l, p)])]])]);
}

/**
 * `defp __elixir_scope_emit__(kind, mfa, line, payload)`: if the relay listens (its pid in the
 * persistent term), send it `{:es_ast, self(), monotonic_time, kind, mfa, line, payload}`.
 */
function emitFunction(mod: Atom, line: number): Term {
  const gm = genMeta(line);
  const [k, m, l, p, relay] = ['es_kind', 'es_mfa', 'es_line', 'es_payload', 'es_relay'].map((n) => hvar(n, line)) as [Tuple, Tuple, Tuple, Tuple, Tuple];
  const msg = esAstMessage(gm, k, m, l, p);
  const body = call('case', gm, [
    remote(A_PT, 'get', gm, [new Tuple([A_PT_KEY, mod]), A_NIL]),
    kw([['do', [clause(gm, [A_NIL], A_OK), clause(gm, [relay], remote(A_ERLANG, 'send', gm, [relay, msg]))]]]),
  ]);
  return call('defp', gm, [call(EMIT_FN, gm, [k, m, l, p]), kw([['do', body]])]);
}

function emptyPoints(): Record<EventKind, number> {
  return { call: 0, return: 0, exception: 0, tail_call: 0, line: 0, locals: 0, expr: 0, probe: 0 };
}

/** Lines the plan named that got no probe point (nothing starts on them), as notes. */
function unmatchedLines(key: string, levels: Levels, hit: Set<number>): string[] {
  const asked = new Set<number>();
  for (const sel of [levels.lines, levels.expr, levels.locals?.at]) if (Array.isArray(sel)) for (const l of sel) asked.add(l);
  for (const p of levels.probes ?? []) asked.add(p.line);
  return [...asked].filter((l) => !hit.has(l)).sort((a, b) => a - b).map((l) => `${key}: no expression starts on line ${l}, so nothing is recorded there`);
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: one function
// ----------------------------------------------------------------------------------------------

const A_ES_AST = atom('es_ast');
const A_PT_KEY = atom('elixir_scope_ast');
const A_ERLANG = atom('erlang');
const A_PT = atom('persistent_term');
/**
 * Kinds whose payload is nil, a literal or one value already held (a call's argument list is a few
 * cons cells, an exception's pair is rare): built whether or not anyone listens. The others wait.
 */
const FREE_PAYLOAD = new Set<EventKind>(['line', 'return', 'tail_call', 'call', 'exception']);
const A_OK = atom('ok');
const A_RET = atom('$es_ret');

const A_KERNEL = atom('Elixir.Kernel');
/** The module of a tail call known only at run time (a fun call). */
const A_DYNAMIC = atom('$dynamic');

/**
 * Kernel functions (name/arity) that compile to a real call. Not here: operators and guards (BIF
 * instructions, run in the caller's frame), macros, and exit/1 and throw/1 (a raising BIF's
 * stacktrace starts with the function that called it, last call or not, so keeping them inside the
 * try changes no frame, and the exception is recorded).
 */
const KERNEL_CALLS = new Set([
  'apply/2', 'apply/3', 'send/2', 'spawn/1', 'spawn/3', 'spawn_link/1', 'spawn_link/3', 'spawn_monitor/1', 'spawn_monitor/3',
  'struct/1', 'struct/2', 'struct!/1', 'struct!/2', 'get_in/2', 'put_in/3', 'update_in/3', 'get_and_update_in/3', 'pop_in/2',
  'inspect/1', 'inspect/2', 'make_ref/0', 'put_elem/3', 'function_exported?/3', 'macro_exported?/3', 'binary_slice/2', 'binary_slice/3',
]);

/** `:erlang` functions the compiler turns into instructions (guard BIFs, operators): not calls. */
const ERLANG_INLINE = new Set([
  'abs', 'bit_size', 'byte_size', 'ceil', 'element', 'float', 'floor', 'hd', 'is_atom', 'is_binary', 'is_bitstring', 'is_boolean',
  'is_float', 'is_function', 'is_integer', 'is_list', 'is_map', 'is_map_key', 'is_number', 'is_pid', 'is_port', 'is_record',
  'is_reference', 'is_tuple', 'length', 'map_get', 'map_size', 'node', 'round', 'self', 'size', 'tl', 'trunc', 'tuple_size',
  'binary_part', 'max', 'min', '+', '-', '*', '/', 'div', 'rem', 'band', 'bor', 'bxor', 'bnot', 'bsl', 'bsr', 'not', 'and', 'or',
  'xor', '==', '/=', '=<', '<', '>=', '>', '=:=', '=/=',
]);
/** `:erlang` functions that raise: their stacktrace names their caller either way, so they stay inside (the exception is recorded). */
const ERLANG_RAISE = new Set(['error', 'exit', 'throw', 'raise', 'nif_error']);

/** Forms whose tail positions are the tails of their branches. */
const BRANCHING = new Set(['case', 'cond', 'if', 'unless', 'receive', 'with', 'try', '__block__']);

class FunctionTransformer {
  private counter = 0;
  private readonly mfa: Tuple;
  /** The line of the statement being instrumented: a body nested in it on that same line reports nothing of its own. */
  private outer: number | undefined;

  constructor(
    private readonly mod: Atom,
    fun: string,
    arity: number,
    private readonly moduleFns: Set<string>,
    private readonly levels: Levels,
    private readonly stats: InstrumentedFunction,
    /** Lines that got a probe point, to tell the user about lines that got none. */
    private readonly hit: Set<number>,
    /** Modules the source requires or imports (as written): a remote call into one of them may be a macro. */
    private readonly macroSources: Set<string> = new Set(),
    /** The module's functions that can only raise (see neverReturning). */
    private readonly diverging: Set<string> = new Set(),
    /** Which shared functions the points call, so the module gets them. */
    private readonly emitter: { emit: boolean; send: boolean } = { emit: false, send: false },
  ) {
    this.mfa = tupleOf([], [mod, atom(fun), arity]);
  }

  private fresh(prefix: string, line: number | undefined): Tuple {
    return hvar(`es_${prefix}${this.counter++}`, line);
  }

  private markHit(line: number): void {
    this.hit.add(line);
  }

  // -- the probe point -------------------------------------------------------------------------

  /**
   * A point whose payload is free to build (a line, a value already held, a literal):
   * `__elixir_scope_emit__(kind, mfa, line, payload)`. Otherwise (locals and expression values
   * allocate; `pre`, a probe's own code, must run only when someone listens):
   * `case :persistent_term.get({:elixir_scope_ast, Mod}, nil) do nil -> :ok; relay -> pre;
   * __elixir_scope_send__(relay, kind, mfa, line, payload) end`. `lineTerm`: a line known only at run time.
   */
  private emit(kind: EventKind, line: number, payload: Term, pre: Term[] = [], lineTerm?: Term): Term {
    this.stats.points[kind]++;
    const gm = genMeta(line);
    const lt = lineTerm ?? (typeof line === 'number' ? line : A_NIL);
    if (pre.length === 0 && FREE_PAYLOAD.has(kind)) {
      this.emitter.emit = true;
      return call(EMIT_FN, gm, [atom(kind), this.mfa, lt, payload]);
    }
    this.emitter.send = true;
    const relay = hvar('es_relay', line);
    const get = remote(A_PT, 'get', gm, [new Tuple([A_PT_KEY, this.mod]), A_NIL]);
    return call('case', gm, [
      get,
      kw([['do', [clause(gm, [A_NIL], A_OK), clause(gm, [relay], block(gm, [...pre, call(SEND_FN, gm, [relay, atom(kind), this.mfa, lt, payload])]))]]]),
    ]);
  }

  // -- a clause ---------------------------------------------------------------------------------

  clause(def: Tuple): Term {
    const d = asCall(def)!;
    const defLine = metaLine(def) ?? 0;
    const head = headOf(d.args[0]!)!;
    const headLine = kwGet(head.meta, 'line');
    const line = typeof headLine === 'number' ? headLine : defLine;
    let bodyKw = d.args[1]!;
    let body: Term;
    const keys = kwKeys(bodyKw);
    if (keys.length === 1 && keys[0] === 'do') body = kwGet(bodyKw, 'do')!;
    else {
      // `def f do ... rescue ... end` is a try around the body: make it one, so the body is a single expression.
      body = call('try', meta(line), [bodyKw]);
    }
    const scope: string[] = [];
    for (const a of head.args) {
      const dflt = asCall(a, '\\\\');
      for (const v of patternVars(dflt !== undefined ? dflt.args[0]! : a)) if (!scope.includes(v)) scope.push(v);
    }
    if (this.hasInner()) body = this.body(body, scope, true, line);
    let args = head.args;
    if (this.levels.boundaries) {
      const argVars = head.args.map(() => this.fresh('arg', line));
      args = head.args.map((a, i) => {
        const dflt = asCall(a, '\\\\');
        if (dflt !== undefined) return call('\\\\', dflt.meta, [call('=', meta(line), [dflt.args[0]!, argVars[i]!]), dflt.args[1]!]);
        return call('=', meta(line), [a, argVars[i]!]);
      });
      body = block(meta(line), [this.emit('call', line, argVars), this.boundaries(body, line)]);
    }
    bodyKw = kw([['do', body]]);
    const newCall = new Tuple([atom(head.name), head.meta, args]);
    const newHead = head.guard !== undefined ? call('when', asCall(d.args[0]!)!.meta, [newCall, head.guard]) : newCall;
    return new Tuple([atom(d.name), d.meta, [newHead, bodyKw]]);
  }

  private hasInner(): boolean {
    const l = this.levels;
    return l.lines !== undefined || l.locals !== undefined || l.expr !== undefined || (l.probes?.length ?? 0) > 0;
  }

  // -- boundaries -------------------------------------------------------------------------------

  private boundaries(body: Term, line: number): Term {
    const gm = genMeta(line);
    const tails: Array<{ tag: Atom; vars: Tuple[]; callee: (vars: Term[]) => Term; line: number; build: (args: Term[]) => Term }> = [];
    const retLines = new Set<number>();
    // First pass: which lines can the value come from? One line: no need to carry it at run time.
    this.tails(body, true, line, (leaf, l) => {
      if (this.tailable(leaf) === undefined) retLines.add(l);
      return leaf;
    });
    const carry = retLines.size > 1;
    const lastLineOfBody = firstLine(statements(body).at(-1)!) ?? line;
    const newBody = this.tails(body, true, line, (leaf, l, canTail) => {
      const sc = canTail ? this.tailable(leaf) : undefined;
      if (sc !== undefined) {
        const tag = atom(`$es_tail_${tails.length}`);
        const vars = sc.args.map(() => this.fresh('t', l));
        tails.push({ tag, vars, callee: sc.callee, line: l, build: sc.build });
        this.stats.tailCalls++;
        return tupleOf(genMeta(l), [tag, ...sc.args]);
      }
      return carry ? tupleOf(genMeta(l), [A_RET, l, leaf]) : leaf;
    });
    const kind = this.fresh('kind', line);
    const reason = this.fresh('reason', line);
    const stack = new Tuple([atom('__STACKTRACE__'), meta(line), A_NIL]);
    const catchClause = clause(gm, [kind, reason], block(gm, [
      this.emit('exception', line, new Tuple([kind, reason])),
      remote(A_ERLANG, 'raise', meta(line), [kind, reason, stack]),
    ]));
    const elseClauses: Term[] = [];
    for (const t of tails) {
      const tm = genMeta(t.line);
      elseClauses.push(clause(tm, [tupleOf(tm, [t.tag, ...t.vars])], block(tm, [this.emit('tail_call', t.line, t.callee(t.vars)), t.build(t.vars)])));
    }
    if (carry) {
      const l = this.fresh('l', line);
      const v = this.fresh('v', line);
      elseClauses.push(clause(gm, [tupleOf(gm, [A_RET, l, v])], block(gm, [this.emitDynamicLine('return', l, v, line), v])));
    }
    const v = this.fresh('v', lastLineOfBody);
    elseClauses.push(clause(gm, [v], block(gm, [this.emit('return', lastLineOfBody, v), v])));
    return call('try', gm, [kw([['do', newBody], ['catch', [catchClause]], ['else', elseClauses]])]);
  }

  /** A return whose line is known only at run time (several exits on different lines). */
  private emitDynamicLine(kind: EventKind, lineVar: Term, payload: Term, line: number): Term {
    return this.emit(kind, line, payload, [], lineVar);
  }

  /**
   * Rewrites each tail position of `t` with `leaf(expr, line, canTail)`. `canTail` is false where a
   * call is not a last call anyway (inside a user `try`'s protected body): moving it out would
   * move it out of the user's `rescue`.
   */
  private tails(t: Term, canTail: boolean, line: number, leaf: (e: Term, line: number, canTail: boolean) => Term): Term {
    const l = metaLine(t) ?? line;
    const c = asCall(t);
    if (c === undefined || !BRANCHING.has(c.name)) return leaf(t, l, canTail);
    const mapClauses = (cl: Term, can: boolean): Term => {
      const cs = asClauses(cl);
      if (cs === undefined) return cl;
      return cs.map((x) => clause(x.meta, x.left, this.tails(x.body, can, metaLine(call('->', x.meta, [])) ?? l, leaf)));
    };
    const mapKw = (kwl: Term, f: (key: string, v: Term) => Term): Term => {
      if (!isKeywordList(kwl)) return kwl;
      return kwl.map((e) => new Tuple([e.elements[0]!, f((e.elements[0] as Atom).name, e.elements[1]!)]));
    };
    switch (c.name) {
      case '__block__': {
        if (c.args.length === 0) return leaf(t, l, canTail);
        const last = c.args.length - 1;
        return call('__block__', c.meta, c.args.map((s, i) => (i === last ? this.tails(s, canTail, firstLine(s) ?? l, leaf) : s)));
      }
      case 'case':
        if (c.args.length !== 2) return leaf(t, l, canTail);
        return call('case', c.meta, [c.args[0]!, mapKw(c.args[1]!, (k, v) => (k === 'do' ? mapClauses(v, canTail) : v))]);
      case 'cond':
        if (c.args.length !== 1) return leaf(t, l, canTail);
        return call('cond', c.meta, [mapKw(c.args[0]!, (k, v) => (k === 'do' ? mapClauses(v, canTail) : v))]);
      case 'receive':
        if (c.args.length !== 1) return leaf(t, l, canTail);
        return call('receive', c.meta, [mapKw(c.args[0]!, (k, v) => (k === 'do' || k === 'after' ? mapClauses(v, canTail) : v))]);
      case 'if':
      case 'unless': {
        if (c.args.length !== 2 || !isKeywordList(c.args[1]!)) return leaf(t, l, canTail);
        return call(c.name, c.meta, [c.args[0]!, mapKw(c.args[1]!, (k, v) => (k === 'do' || k === 'else' ? this.tails(v, canTail, firstLine(v) ?? l, leaf) : v))]);
      }
      case 'with': {
        const opts = c.args.at(-1);
        if (opts === undefined || !isKeywordList(opts)) return leaf(t, l, canTail);
        return call('with', c.meta, [
          ...c.args.slice(0, -1),
          mapKw(opts, (k, v) => (k === 'do' ? this.tails(v, canTail, firstLine(v) ?? l, leaf) : k === 'else' ? mapClauses(v, canTail) : v)),
        ]);
      }
      case 'try': {
        const opts = c.args[0];
        if (c.args.length !== 1 || opts === undefined || !isKeywordList(opts)) return leaf(t, l, canTail);
        // With `after`, nothing in the try is a last call, and its value is only known after `after` ran.
        if (kwKeys(opts).includes('after')) return leaf(t, l, canTail);
        // With `else`, the protected body's value is what the user's else clauses match, not the try's value.
        const hasElse = kwKeys(opts).includes('else');
        return call('try', c.meta, [
          mapKw(opts, (k, v) => {
            if (k === 'do') return hasElse ? v : this.tails(v, false, firstLine(v) ?? l, leaf);
            if (k === 'rescue' || k === 'catch' || k === 'else') return mapClauses(v, canTail);
            return v;
          }),
        ]);
      }
      default:
        return leaf(t, l, canTail);
    }
  }

  /**
   * A real call (one the compiler makes a last call in tail position), with the values to carry out
   * of the protected part (`args`: what must be evaluated where the original evaluated it), how to
   * make the call from them, and the `tail_call` payload. Real: a function of this module (locally,
   * through __MODULE__ or its own name), a Kernel function that is not a BIF instruction, a remote
   * call into an Erlang module or into an Elixir module the source does not require or import
   * (only those could be macros), a remote call on a module in a variable, a fun call on a
   * variable; or the end of a pipe into one of these. Operators and guard BIFs are not (the
   * function's frame stays while they run anyway), nor macros: their arguments may not be values.
   */
  private realCall(t: Term, piped: Term[] = []): { args: Term[]; callee: (vars: Term[]) => Term; build: (args: Term[]) => Term } | undefined {
    const pipe = asCall(t, '|>');
    // `a |> f(b)` is `f(a, b)`: the piped value is the first argument.
    if (pipe !== undefined && pipe.args.length === 2 && piped.length === 0) return this.realCall(pipe.args[1]!, [pipe.args[0]!]);
    const n = asNode(t);
    if (n === undefined || !Array.isArray(n.args)) return undefined;
    const args = [...piped, ...n.args];
    const arity = args.length;
    const mfa = (m: Term, f: string): Tuple => tupleOf([], [m, atom(f), arity]);
    const same = (as: Term[]): Term => new Tuple([n.form, n.meta, as]);
    if (n.form instanceof Atom) {
      const fun = n.form.name;
      if (this.moduleFns.has(`${fun}/${arity}`)) return { args, callee: () => mfa(this.mod, fun), build: same };
      if (KERNEL_CALLS.has(`${fun}/${arity}`)) return { args, callee: () => mfa(A_KERNEL, fun), build: same };
      return undefined;
    }
    const dot = asCall(n.form, '.');
    if (dot === undefined) return undefined;
    if (dot.args.length === 1) {
      // `f.(x)`: the fun is carried too (it may be bound in the protected part); only a variable, so
      // evaluating it before the arguments changes nothing.
      if (asVar(dot.args[0]!) === undefined) return undefined;
      return {
        args: [dot.args[0]!, ...args],
        callee: () => tupleOf([], [A_DYNAMIC, atom('fun'), arity]),
        build: (vs) => new Tuple([new Tuple([atom('.'), dot.meta, [vs[0]!]]), n.meta, vs.slice(1)]),
      };
    }
    const r = asRemoteCall(t);
    if (r === undefined) return undefined;
    const tv = asVar(r.target);
    if (tv !== undefined && tv.name === '__MODULE__') return this.moduleFns.has(`${r.fun}/${arity}`) ? { args, callee: () => mfa(this.mod, r.fun), build: same } : undefined;
    if (tv !== undefined) {
      // `map.key` reads a field; `mod.f()` (with parens) calls.
      if (kwGet(n.meta, 'no_parens') === atom('true')) return undefined;
      return {
        args: [r.target, ...args],
        callee: (vs) => tupleOf([], [vs[0]!, atom(r.fun), arity]),
        build: (vs) => new Tuple([new Tuple([atom('.'), r.dotMeta, [vs[0]!, atom(r.fun)]]), n.meta, vs.slice(1)]),
      };
    }
    const alias = aliasNameOf(r.target);
    if (alias === this.mod.name || r.target === this.mod) return this.moduleFns.has(`${r.fun}/${arity}`) ? { args, callee: () => mfa(this.mod, r.fun), build: same } : undefined;
    if (alias !== undefined) {
      if (alias === 'Elixir.Kernel') return KERNEL_CALLS.has(`${r.fun}/${arity}`) ? { args, callee: () => mfa(A_KERNEL, r.fun), build: same } : undefined;
      if (alias === 'Elixir.Kernel.SpecialForms' || this.mayBeMacro(alias)) return undefined;
      // The alias as written: the compiler resolves it (aliases in scope included) to the module atom.
      return { args, callee: () => mfa(r.target, r.fun), build: same };
    }
    if (r.target instanceof Atom && !r.target.name.startsWith('Elixir.')) {
      if (r.target === A_ERLANG && (ERLANG_INLINE.has(r.fun) || ERLANG_RAISE.has(r.fun))) return undefined;
      return { args, callee: () => mfa(r.target, r.fun), build: same };
    }
    return undefined;
  }

  /**
   * What the compiler makes a last call in tail position: a real call; or, in `1 + f(x)` where f can
   * only raise, the call of f (the compiler sees that the addition is never reached, and drops the
   * frame: the original's stacktrace then lacks this function). Only when the other operands are
   * variables or literals, so nothing runs between the operands and the call that did not before.
   */
  private tailable(t: Term): ReturnType<FunctionTransformer['realCall']> {
    const direct = this.realCall(t);
    if (direct !== undefined || this.diverging.size === 0) return direct;
    const n = asNode(t);
    if (n === undefined || !(n.form instanceof Atom) || !Array.isArray(n.args) || NOT_CALLS.has(n.form.name) || LAZY.has(n.form.name)) return undefined;
    const args = n.args;
    const at = args.findIndex((a) => {
      const c = asNode(a);
      return c !== undefined && c.form instanceof Atom && Array.isArray(c.args) && this.diverging.has(`${c.form.name}/${c.args.length}`);
    });
    if (at < 0 || !args.every((a, i) => i === at || isSimple(a))) return undefined;
    const inner = this.realCall(args[at]!);
    if (inner === undefined) return undefined;
    return { args: inner.args, callee: inner.callee, build: (vs) => new Tuple([n.form, n.meta, args.map((a, i) => (i === at ? inner.build(vs) : a))]) };
  }

  /** Whether an alias names (or ends like) a module the source requires or imports. */
  private mayBeMacro(alias: string): boolean {
    const last = alias.slice(alias.lastIndexOf('.') + 1);
    for (const m of this.macroSources) if (m === alias || m.slice(m.lastIndexOf('.') + 1) === last) return true;
    return false;
  }

  // -- inside the body: lines, locals, expressions, probes -------------------------------------

  private want(sel: LineSelection | undefined, line: number): boolean {
    return sel !== undefined && (sel === '*' || sel.includes(line));
  }

  /** Instruments a body (a block or one expression); `tail`: its value is the function's value. */
  private body(body: Term, scope: string[], tail: boolean, line: number): Term {
    const stmts = statements(body);
    const bm = asNode(body)?.meta ?? meta(line);
    const outerLine = this.outer;
    const out: Term[] = [];
    let sc = [...scope];
    let prevLine: number | undefined;
    for (let i = 0; i < stmts.length; i++) {
      const stmt = stmts[i]!;
      // The last statement gives the body's value; in tail position its call may also be a last call.
      const isLast = i === stmts.length - 1;
      const isTail = tail && isLast;
      const l = firstLine(stmt) ?? line;
      // `if c, do: a, else: b` or `fn x -> x end` on the line of their statement: that statement speaks for the line.
      const nested = l === outerLine;
      const newLine = l !== prevLine && !nested;
      prevLine = l;
      const pre: Term[] = [];
      if (newLine) {
        if (this.want(this.levels.lines, l)) {
          pre.push(this.emit('line', l, A_NIL));
          this.markHit(l);
        }
        for (const p of this.levels.probes ?? []) if (p.when === 'before' && p.line === l) pre.push(this.probe(p));
      }
      this.outer = l;
      let s = this.descend(stmt, sc, isTail, l);
      this.outer = outerLine;
      if (nested) {
        sc = union(sc, statementBindings(stmt));
        out.push(s);
        continue;
      }
      if (this.want(this.levels.expr, l)) s = this.pipeSteps(s, l);
      sc = union(sc, statementBindings(stmt));
      const post: Term[] = [];
      const lastOnLine = i === stmts.length - 1 || (firstLine(stmts[i + 1]!) ?? l) !== l;
      if (this.levels.locals !== undefined && lastOnLine && this.want(this.levels.locals.at, l)) {
        const names = this.levels.locals.names === '*' ? sc : sc.filter((n) => (this.levels.locals!.names as string[]).includes(n));
        post.push(this.emit('locals', l, names.map((n) => new Tuple([atom(n), new Tuple([atom(n), meta(l), A_NIL])]))));
        this.markHit(l);
      }
      const after = lastOnLine ? (this.levels.probes ?? []).filter((p) => p.when === 'after' && p.line === l) : [];
      // A literal's value is its label: nothing to learn from recording it.
      const wantValue = this.want(this.levels.expr, l) && !isStructural(stmt) && asNode(stmt) !== undefined;
      if (post.length === 0 && after.length === 0 && !wantValue) {
        out.push(...pre, s);
        continue;
      }
      if (isTail && (isStructural(stmt) || this.tailable(stmt) !== undefined)) {
        // The value comes from a branch (instrumented on its own) or a tail call that must stay last:
        // what is "after" this expression is recorded just before it.
        out.push(...pre, ...post, ...after.map((p) => this.probe(p)), s);
        continue;
      }
      const v = this.fresh('v', l);
      const label = renderLabel(stmt, l);
      if (wantValue) this.markHit(l);
      out.push(
        ...pre,
        wantValue || isLast ? call('=', meta(l), [v, s]) : s,
        ...(wantValue ? [this.emit('expr', l, new Tuple([Buffer.from(label, 'utf8'), v]))] : []),
        ...post,
        ...after.map((p) => this.probe(p)),
      );
      if (isLast) out.push(v);
    }
    return block(bm, out);
  }

  private probe(p: Probe): Term {
    this.markHit(p.line);
    const v = this.fresh('p', p.line);
    const k = this.fresh('pk', p.line);
    const r = this.fresh('pr', p.line);
    const code = relined(p.quoted, p.line);
    // A probe that raises must not harm the function it observes: its value is then {:es_probe_error, kind, reason}.
    const guarded = call('try', genMeta(p.line), [
      kw([
        ['do', code],
        ['catch', [clause(genMeta(p.line), [k, r], tupleOf(genMeta(p.line), [atom('es_probe_error'), k, r]))]],
      ]),
    ]);
    return this.emit('probe', p.line, new Tuple([Buffer.from(p.label, 'utf8'), v]), [call('=', meta(p.line), [v, guarded])]);
  }

  /** Instruments the bodies inside one statement (branches, fn bodies, comprehensions). */
  private descend(t: Term, scope: string[], tail: boolean, line: number): Term {
    const c = asCall(t);
    if (c === undefined) return this.descendArgs(t, scope, line);
    const l = metaLine(t) ?? line;
    const exprHere = this.want(this.levels.expr, l);
    switch (c.name) {
      case 'quote':
        return t;
      case '__block__':
        return this.body(t, scope, tail, l);
      case 'case': {
        if (c.args.length !== 2) break;
        let subject = this.descend(c.args[0]!, scope, false, l);
        const sv = exprHere ? this.fresh('s', l) : undefined;
        if (sv !== undefined) subject = call('=', meta(l), [sv, subject]);
        return call('case', c.meta, [subject, this.mapBranches(c.args[1]!, scope, tail, l, 'case', sv)]);
      }
      case 'cond':
        if (c.args.length !== 1) break;
        return call('cond', c.meta, [this.mapBranches(c.args[0]!, scope, tail, l, 'cond', atom('true'))]);
      case 'receive':
        if (c.args.length !== 1) break;
        return call('receive', c.meta, [this.mapBranches(c.args[0]!, scope, tail, l, 'receive', undefined)]);
      case 'if':
      case 'unless': {
        if (c.args.length !== 2 || !isKeywordList(c.args[1]!)) break;
        const cv = exprHere ? this.fresh('c', l) : undefined;
        const cond = cv !== undefined ? call('=', meta(l), [cv, c.args[0]!]) : c.args[0]!;
        const kwl = c.args[1]!.map((e) => {
          const k = (e.elements[0] as Atom).name;
          if (k !== 'do' && k !== 'else') return e;
          let b = this.body(e.elements[1]!, scope, tail, firstLine(e.elements[1]!) ?? l);
          if (cv !== undefined) {
            b = block(meta(l), [this.emit('expr', l, new Tuple([Buffer.from(`${c.name} ${renderLabel(c.args[0]!, l)}: ${k}`, 'utf8'), cv])), b]);
            this.markHit(l);
          }
          return new Tuple([e.elements[0]!, b]);
        });
        return call(c.name, c.meta, [cond, kwl]);
      }
      case 'with': {
        const opts = c.args.at(-1);
        if (opts === undefined || !isKeywordList(opts)) break;
        let sc = [...scope];
        for (const w of c.args.slice(0, -1)) {
          const arrow = asCall(w, '<-');
          if (arrow !== undefined && arrow.args.length === 2) sc = union(sc, patternVars(arrow.args[0]!));
          else sc = union(sc, statementBindings(w));
        }
        const kwl = opts.map((e) => {
          const k = (e.elements[0] as Atom).name;
          if (k === 'do') {
            let b = this.body(e.elements[1]!, sc, tail, firstLine(e.elements[1]!) ?? l);
            if (exprHere) {
              b = block(meta(l), [this.emit('expr', l, new Tuple([Buffer.from('with: do', 'utf8'), A_NIL])), b]);
              this.markHit(l);
            }
            return new Tuple([e.elements[0]!, b]);
          }
          if (k === 'else') return (this.mapBranches([e], scope, tail, l, 'with else', undefined, 'else') as Tuple[])[0]!;
          return e;
        });
        return call('with', c.meta, [...c.args.slice(0, -1), kwl]);
      }
      case 'try': {
        const opts = c.args[0];
        if (c.args.length !== 1 || opts === undefined || !isKeywordList(opts)) break;
        const hasAfter = kwKeys(opts).includes('after');
        const kwl = opts.map((e) => {
          const k = (e.elements[0] as Atom).name;
          const v = e.elements[1]!;
          if (k === 'do' || k === 'after') return new Tuple([e.elements[0]!, this.body(v, scope, false, firstLine(v) ?? l)]);
          const cs = asClauses(v);
          if (cs === undefined) return e;
          return new Tuple([
            e.elements[0]!,
            cs.map((x) => clause(x.meta, x.left, this.body(x.body, union(scope, x.left.flatMap(patternVars)), tail && !hasAfter, clauseLine(x) ?? l))),
          ]);
        });
        return call('try', c.meta, [kwl]);
      }
      case 'for': {
        const opts = c.args.at(-1);
        if (opts === undefined || !isKeywordList(opts)) break;
        // The body is compiled to a function of its own: a local of the enclosing scope the body
        // does not use would become one more argument of it (its arity in stacktraces changes).
        const used = usedVars(kwGet(opts, 'do') ?? A_NIL);
        let sc = scope.filter((v) => used.has(v));
        for (const g of c.args.slice(0, -1)) {
          // `<<len::8, c::utf8 <- s>>`: the generator is the last segment, and the pattern is a binary's
          // (`utf8`, `binary`, `size(len)` are types, not variables).
          const segs = asCall(g, '<<>>')?.args;
          const bin = segs !== undefined ? asCall(segs.at(-1) ?? A_NIL, '<-') : undefined;
          const arrow = asCall(g, '<-') ?? bin;
          if (arrow !== undefined && arrow.args.length === 2) {
            sc = union(sc, patternVars(bin !== undefined ? call('<<>>', [], [...segs!.slice(0, -1), arrow.args[0]!]) : arrow.args[0]!));
          }
        }
        const kwl = opts.map((e) => {
          if ((e.elements[0] as Atom).name !== 'do') return e;
          const v = e.elements[1]!;
          const cs = asClauses(v);
          if (cs !== undefined) return new Tuple([e.elements[0]!, cs.map((x) => clause(x.meta, x.left, this.body(x.body, union(sc, x.left.flatMap(patternVars)), false, clauseLine(x) ?? l)))]);
          return new Tuple([e.elements[0]!, this.body(v, sc, false, firstLine(v) ?? l)]);
        });
        return call('for', c.meta, [...c.args.slice(0, -1), kwl]);
      }
      case 'fn': {
        const cs = asClauses(c.args);
        if (cs === undefined) break;
        // An fn's last call stays a last call: a recursive fn loop must stay flat too. Its locals are
        // only those it already uses: recording another would capture it, and the fun's arity (in
        // stacktraces) would change.
        return call('fn', c.meta, cs.map((x) => {
          const used = usedVars(x.body);
          return clause(x.meta, x.left, this.body(x.body, union(scope.filter((v) => used.has(v)), x.left.flatMap(patternVars)), true, clauseLine(x) ?? l));
        }));
      }
      default:
        break;
    }
    return this.descendArgs(t, scope, line);
  }

  /** Looks for fn, case, ... nested in a call's arguments (not in patterns: a pattern holds none). */
  private descendArgs(t: Term, scope: string[], line: number): Term {
    const n = asNode(t);
    if (n !== undefined) {
      if (n.form instanceof Atom && (n.form.name === 'quote' || n.form.name === '=')) {
        if (n.form.name === '=' && Array.isArray(n.args) && n.args.length === 2) {
          return new Tuple([n.form, n.meta, [n.args[0]!, this.descend(n.args[1]!, scope, false, line)]]);
        }
        return t;
      }
      if (!Array.isArray(n.args)) return t;
      const form = n.form instanceof Atom ? n.form : this.descendArgs(n.form, scope, line);
      return new Tuple([form, n.meta, n.args.map((a) => this.descend(a, scope, false, metaLine(a) ?? line))]);
    }
    if (t instanceof Tuple) return new Tuple(t.elements.map((e) => this.descend(e, scope, false, line)));
    if (Array.isArray(t)) return t.map((e) => this.descend(e, scope, false, line));
    return t;
  }

  /** The clauses of a `do:` (and `after:`) keyword list, each body instrumented, with the branch recorded. */
  private mapBranches(kwl: Term, scope: string[], tail: boolean, line: number, what: string, value: Term | undefined, key = 'do'): Term {
    if (!isKeywordList(kwl)) return kwl;
    const record = this.want(this.levels.expr, line);
    return kwl.map((e) => {
      const k = (e.elements[0] as Atom).name;
      const cs = asClauses(e.elements[1]!);
      if (cs === undefined || (k !== key && k !== 'after')) return e;
      return new Tuple([
        e.elements[0]!,
        cs.map((x, i) => {
          let b = this.body(x.body, union(scope, x.left.flatMap(patternVars)), tail, clauseLine(x) ?? line);
          if (record) {
            const label = `${k === 'after' ? `${what} after` : `${what} clause ${i + 1}`}: ${x.left.map((p) => renderLabel(p, line)).join(', ')}`;
            b = block(meta(line), [this.emit('expr', line, new Tuple([Buffer.from(label, 'utf8'), value ?? A_NIL])), b]);
            this.markHit(line);
          }
          return clause(x.meta, x.left, b);
        }),
      ]);
    });
  }

  /**
   * `a |> f(b) |> g()` → `p0 = a; (expr "a"); p1 = f(p0, b); (expr "|> f(b)"); g(p1)`: each step's
   * value is recorded; the last step stays the expression's value (recorded as the whole pipe's, or a
   * tail call kept last).
   */
  private pipeSteps(t: Term, line: number): Term {
    const m = asCall(t, '=');
    if (m !== undefined && m.args.length === 2) {
      const right = this.pipeSteps(m.args[1]!, line);
      return right === m.args[1] ? t : call('=', m.meta, [m.args[0]!, right]);
    }
    const steps: Term[] = [];
    let cur = t;
    for (;;) {
      const p = asCall(cur, '|>');
      if (p === undefined || p.args.length !== 2) break;
      steps.unshift(p.args[1]!);
      cur = p.args[0]!;
    }
    if (steps.length === 0) return t;
    const out: Term[] = [];
    let prev = this.fresh('pipe', line);
    out.push(call('=', meta(line), [prev, cur]), this.emit('expr', line, new Tuple([Buffer.from(renderLabel(cur, line), 'utf8'), prev])));
    for (let i = 0; i < steps.length; i++) {
      const applied = pipeInto(steps[i]!, prev);
      if (applied === undefined) return t;
      if (i === steps.length - 1) {
        out.push(applied);
        break;
      }
      const next = this.fresh('pipe', line);
      out.push(call('=', meta(line), [next, applied]), this.emit('expr', line, new Tuple([Buffer.from(`|> ${renderLabel(steps[i]!, line)}`, 'utf8'), next])));
      prev = next;
    }
    return call('__block__', meta(line), out);
  }
}

// ----------------------------------------------------------------------------------------------
// PRIVATE: helpers
// ----------------------------------------------------------------------------------------------

/** Where a clause's body starts: its first line, or the `->`'s line when the body is a literal (which has none). */
function clauseLine(x: { meta: Term[]; body: Term }): number | undefined {
  const own = kwGet(x.meta, 'line');
  return firstLine(x.body) ?? (typeof own === 'number' ? own : undefined);
}

/** Special forms and macros whose arguments are not all evaluated, in order, before they act. */
const NOT_CALLS = new Set(['case', 'cond', 'if', 'unless', 'receive', 'with', 'try', 'for', 'fn', 'quote', 'unquote', '__block__', '=', '&', '^', '::', '<<>>', '%{}', '%', '{}', '__aliases__', '|>', '.', 'raise', 'reraise', 'throw', 'exit']);
const LAZY = new Set(['&&', '||', 'and', 'or']);

function isSimple(t: Term): boolean {
  if (asVar(t) !== undefined) return true;
  return !(t instanceof Tuple) && !Array.isArray(t);
}

/**
 * The module's def/defp (name/arity) that can only raise: every clause ends in raise/reraise/throw/
 * exit/:erlang.error (or a call of another such function), found as the compiler finds them, by
 * assuming all do and dropping those with a clause that can return, until none is dropped.
 */
function neverReturning(body: Term, keys: Set<string>): Set<string> {
  const clauses = new Map<string, Term[]>();
  for (const [i, stmt] of statements(body).entries()) {
    const f = defForm(stmt, i);
    if (f === undefined || !f.hasBody || (f.kind !== 'def' && f.kind !== 'defp')) continue;
    const d = asCall(stmt)!;
    const kwl = d.args[1]!;
    // `def f do ... rescue ... end` may return from its rescue.
    if (kwKeys(kwl).some((k) => k !== 'do')) {
      clauses.set(`${f.name}/${f.arity}`, [A_OK]);
      continue;
    }
    const list = clauses.get(`${f.name}/${f.arity}`) ?? [];
    list.push(kwGet(kwl, 'do')!);
    clauses.set(`${f.name}/${f.arity}`, list);
  }
  const set = new Set([...clauses.keys()].filter((k) => keys.has(k)));
  const raises = (t: Term): boolean => {
    const c = asCall(t);
    if (c !== undefined) {
      switch (c.name) {
        case '__block__':
          return c.args.some(raises);
        case 'raise':
        case 'reraise':
        case 'throw':
        case 'exit':
          return true;
        case '=':
          return c.args.length === 2 && raises(c.args[1]!);
        case 'case': {
          const cs = asClauses(kwGet(c.args[1] ?? [], 'do') ?? A_NIL);
          return raises(c.args[0]!) || (cs !== undefined && cs.every((x) => raises(x.body)));
        }
        case 'if':
        case 'unless': {
          const kwl = c.args[1] ?? [];
          const a = kwGet(kwl, 'do');
          const b = kwGet(kwl, 'else');
          return raises(c.args[0]!) || (a !== undefined && b !== undefined && raises(a) && raises(b));
        }
        default:
          if (NOT_CALLS.has(c.name)) return false;
          if (set.has(`${c.name}/${c.args.length}`)) return true;
          return (LAZY.has(c.name) ? c.args.slice(0, 1) : c.args).some(raises);
      }
    }
    const r = asRemoteCall(t);
    if (r !== undefined) return (r.target === A_ERLANG && ERLANG_RAISE.has(r.fun)) || r.args.some(raises);
    return false;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const k of [...set]) {
      if (!clauses.get(k)!.every(raises)) {
        set.delete(k);
        changed = true;
      }
    }
  }
  return set;
}

/** The names of the user's variables (context nil) that appear in `t`. */
function usedVars(t: Term, out: Set<string> = new Set()): Set<string> {
  const v = asVar(t);
  if (v !== undefined) {
    if (v.context === A_NIL) out.add(v.name);
    return out;
  }
  if (t instanceof Tuple) for (const e of t.elements) usedVars(e, out);
  else if (Array.isArray(t)) for (const e of t) usedVars(e, out);
  return out;
}

function union(a: string[], b: string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

/**
 * The source was parsed with `columns: true` (for labels), elixirc parses without: a `quote` would
 * then return its nodes with `column:` metadata the original never had (Corpus.Quoting). Columns
 * change nothing else the compiler emits, so they go from inside every quote of a def/defp (a
 * macro's quotes only shape code compiled elsewhere, and are left as they are).
 */
function withoutQuoteColumns(t: Term, inQuote = false): Term {
  const n = asNode(t);
  if (n !== undefined) {
    const q = inQuote || (n.form instanceof Atom && n.form.name === 'quote');
    const m = q ? n.meta.filter((e) => !(e instanceof Tuple && e.elements.length === 2 && e.elements[0] === atom('column'))) : n.meta;
    return new Tuple([withoutQuoteColumns(n.form, q), m, Array.isArray(n.args) ? n.args.map((a) => withoutQuoteColumns(a, q)) : n.args]);
  }
  if (t instanceof Tuple) return new Tuple(t.elements.map((e) => withoutQuoteColumns(e, inQuote)));
  if (Array.isArray(t)) return t.map((e) => withoutQuoteColumns(e, inQuote));
  return t;
}

/** Every module the body requires or imports (anywhere in it: they are lexical), by full alias as written. */
function requiredModules(body: Term): Set<string> {
  const out = new Set<string>();
  const walk = (t: Term): void => {
    const c = asCall(t);
    // `use X` requires X too, but a module used is rarely called for its macros by name afterwards
    // (`use GenServer` then `GenServer.call/2`): only an explicit require or import counts.
    if (c !== undefined && (c.name === 'require' || c.name === 'import') && c.args.length >= 1) {
      const name = aliasNameOf(c.args[0]!) ?? (c.args[0] instanceof Atom ? c.args[0].name : undefined);
      if (name !== undefined) out.add(name);
      const as = c.args[1] !== undefined ? kwGet(c.args[1], 'as') : undefined;
      const asName = as !== undefined ? aliasNameOf(as) : undefined;
      if (asName !== undefined) out.add(asName);
    }
    if (t instanceof Tuple) for (const e of t.elements) walk(e);
    else if (Array.isArray(t)) for (const e of t) walk(e);
  };
  walk(body);
  return out;
}

function aliasNameOf(t: Term): string | undefined {
  const a = asCall(t, '__aliases__');
  if (a === undefined || !a.args.every((s) => s instanceof Atom)) return undefined;
  const segs = (a.args as Atom[]).map((s) => s.name);
  if (segs[0] === 'Elixir') segs.shift();
  return `Elixir.${segs.join('.')}`;
}

/** Forms whose value comes from one of their branches. */
function isStructural(t: Term): boolean {
  const c = asCall(t);
  return c !== undefined && BRANCHING.has(c.name) && c.name !== '__block__';
}

/** `f(b)` with `v` piped in: `f(v, b)`; undefined when the step is not a call. */
function pipeInto(step: Term, v: Term): Term | undefined {
  const n = asNode(step);
  if (n === undefined || !Array.isArray(n.args)) return undefined;
  if (n.form instanceof Atom && ['fn', '__block__', '&', '|>', '=', '__aliases__'].includes(n.form.name)) return undefined;
  return new Tuple([n.form, n.meta, [v, ...n.args]]);
}

/** A probe's code with every line set to the probe's line (it was parsed as line 1 of its own text). */
function relined(t: Term, line: number): Term {
  const n = asNode(t);
  if (n !== undefined) {
    const m = n.meta.map((e) => (e instanceof Tuple && e.elements.length === 2 && e.elements[0] === atom('line') ? new Tuple([atom('line'), line]) : e));
    return new Tuple([relined(n.form, line), m, Array.isArray(n.args) ? n.args.map((a) => relined(a, line)) : n.args]);
  }
  if (t instanceof Tuple) return new Tuple(t.elements.map((e) => relined(e, line)));
  if (Array.isArray(t)) return t.map((e) => relined(e, line));
  return t;
}

export { type FunctionInfo };
