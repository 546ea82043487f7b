/**
 * For the AST instrumentation tests: a small Elixir module compiled with elixirc into a temporary
 * folder (so there is a .beam and a source file, as in a real project), and a hand-built probe
 * inserted into a function of its quoted form — built here in TypeScript, so the quoted form makes
 * the whole trip target → engine → target as ETF.
 *
 *   const dir = compileDemo();                      // EsAst.Demo (+ Gone, Bare) in a temp folder
 *   const src = await session.astSource(DEMO);
 *   const q = insertProbe(src.quoted, 'add', 2, 1, 'c', variable('c'), 3);
 *   await session.instrument([{ module: DEMO, quoted: q }]);
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tuple, atom, isAtom, isTuple, type Term } from '../../src/erlang/terms.js';

export const DEMO = 'Elixir.EsAst.Demo';
/** Compiled with debug_info; its source file is deleted after compiling. */
export const GONE = 'Elixir.EsAst.Gone';
/** Compiled without debug_info; its source file is deleted after compiling. */
export const BARE = 'Elixir.EsAst.Bare';
/** A module with a module nested in it, in one file. */
export const OUTER = 'Elixir.EsAst.Outer';
export const INNER = 'Elixir.EsAst.Outer.Inner';

/** Line numbers below are used by the tests: `c = a + b` is line 3, `c * 2` line 4. */
export const DEMO_SOURCE = `defmodule EsAst.Demo do
  def add(a, b) do
    c = a + b
    c * 2
  end

  def inc(x), do: x + 1

  # Blocks in a receive inside this module's code until told to go.
  def wait do
    receive do
      :go -> :done
    end
  end

  # A fun of this module's code: a process calling it later runs the code it was made by.
  def make_waiter, do: fn -> receive do :go -> :done end end

  # Terms an ETF codec could get wrong: a charlist, a list of small integers, a float that is whole, a bignum.
  def consts, do: {'chars', [1, 2, 255], 1.0, 123_456_789_012_345_678_901_234_567_890, "bin", -0.5}
end
`;

const GONE_SOURCE = `defmodule EsAst.Gone do
  def twice(x), do: x * 2
end
`;

const BARE_SOURCE = `defmodule EsAst.Bare do
  def thrice(x), do: x * 3
end
`;

export const NESTED_SOURCE = `defmodule EsAst.Outer do
  defmodule Inner do
    def f(x), do: x + 100
  end

  def g(x), do: Inner.f(x) * 2
end
`;

/** Compiles the modules into a new temporary folder; returns it. */
export function compileDemo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'es-ast-'));
  writeFileSync(join(dir, 'demo.ex'), DEMO_SOURCE);
  writeFileSync(join(dir, 'nested.ex'), NESTED_SOURCE);
  writeFileSync(join(dir, 'gone.ex'), GONE_SOURCE);
  writeFileSync(join(dir, 'bare.ex'), BARE_SOURCE);
  elixirc(dir, ['demo.ex', 'gone.ex', 'nested.ex']);
  elixirc(dir, ['--no-debug-info', 'bare.ex']);
  rmSync(join(dir, 'gone.ex'));
  rmSync(join(dir, 'bare.ex'));
  return dir;
}

function elixirc(dir: string, args: string[]): void {
  const r = spawnSync('elixirc', ['-o', dir, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`elixirc ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

// ----------------------------------------------------------------------------------------------
// Quoted terms
// ----------------------------------------------------------------------------------------------

const A = atom;

/** A variable as the parser writes one from the source (context nil), e.g. `c`. */
export function variable(name: string): Tuple {
  return new Tuple([A(name), [], A('nil')]);
}

/** A variable of ours (context ElixirScope): never clashes with the user's. */
function ours(name: string): Tuple {
  return new Tuple([A(name), [], A('ElixirScope')]);
}

/** `:mod.fun(args)` */
function remoteCall(mod: string, fun: string, args: Term[]): Tuple {
  return new Tuple([new Tuple([A('.'), [], [A(mod), A(fun)]]), [], args]);
}

/** `{a, b, c, ...}` (two-element tuples are literals in quoted form; others are `{:{}, [], elems}`). */
function tupleAst(elems: Term[]): Term {
  return elems.length === 2 ? new Tuple(elems) : new Tuple([A('{}'), [], elems]);
}

const MODULE = new Tuple([A('__MODULE__'), [], A('nil')]);

/**
 * The probe of docs/ast.md:
 *   case :persistent_term.get({:elixir_scope_ast, __MODULE__}, nil) do
 *     nil -> :ok
 *     relay -> send(relay, {:es_ast, self(), :erlang.monotonic_time(), :probe, {__MODULE__, fun, arity}, line, {label, value}})
 *   end
 */
export function probe(fun: string, arity: number, line: number, label: string, value: Term): Tuple {
  const relay = ours('relay');
  const msg = tupleAst([
    A('es_ast'),
    new Tuple([A('self'), [], []]),
    remoteCall('erlang', 'monotonic_time', []),
    A('probe'),
    tupleAst([MODULE, A(fun), arity]),
    line,
    tupleAst([Buffer.from(label, 'utf8'), value]),
  ]);
  const clauses = [
    new Tuple([A('->'), [], [[A('nil')], A('ok')]]),
    new Tuple([A('->'), [], [[relay], new Tuple([A('send'), [], [relay, msg]])]]),
  ];
  return new Tuple([A('case'), [], [remoteCall('persistent_term', 'get', [new Tuple([A('elixir_scope_ast'), MODULE]), A('nil')]), [new Tuple([A('do'), clauses])]]]);
}

/**
 * Returns `quoted` with `probe(...)` inserted into the body of `def fun/arity` before expression
 * number `at` (0: first). Throws when the function is not there: the test would prove nothing.
 */
export function insertProbe(quoted: Term, fun: string, arity: number, at: number, label: string, value: Term, line: number): Term {
  let found = 0;
  const p = probe(fun, arity, line, label, value);
  const walk = (t: Term): Term => {
    if (t instanceof Tuple) {
      const [tag, meta, args] = t.elements;
      if (isAtom(tag, 'def') && Array.isArray(args) && args.length === 2) {
        const head = args[0];
        const kw = args[1];
        if (isTuple(head, 3) && isAtom(head.elements[0], fun) && Array.isArray(head.elements[2]) && head.elements[2].length === arity && Array.isArray(kw)) {
          const doPair = kw[0];
          if (isTuple(doPair, 2) && isAtom(doPair.elements[0], 'do')) {
            found++;
            const body = doPair.elements[1]!;
            const isBlock = isTuple(body, 3) && isAtom(body.elements[0], '__block__');
            const items = isBlock ? [...(body.elements[2] as Term[])] : [body];
            items.splice(at, 0, p);
            const newBody = new Tuple([A('__block__'), isBlock ? body.elements[1]! : [], items]);
            return new Tuple([tag!, meta!, [head, [new Tuple([A('do'), newBody]), ...kw.slice(1)]]]);
          }
        }
      }
      return new Tuple(t.elements.map(walk));
    }
    if (Array.isArray(t)) return t.map(walk);
    return t;
  };
  const out = walk(quoted);
  if (found !== 1) throw new Error(`def ${fun}/${arity} found ${found} times in the quoted module`);
  return out;
}
