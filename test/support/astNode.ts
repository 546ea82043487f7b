/**
 * A real Elixir node for the AST transformer's tests, without the agent: source is parsed on the
 * node (`Code.string_to_quoted`), transformed here, compiled and loaded with `Code.compile_quoted`,
 * and the `es_ast` events come straight to a mailbox of ours, whose pid the test puts in the
 * persistent term the instrumented code reads.
 *
 *   const n = await AstNode.start();
 *   const q = await n.quote(SOURCE);
 *   await n.compile(instrumentModule(q, plan).quoted);
 *   await n.listen('Elixir.Demo');
 *   await n.call('Elixir.Demo', 'run', [3]);
 *   const events = await n.events(5);
 */

import { LocalNode } from '../../src/erlang/node.js';
import type { RemoteNode } from '../../src/erlang/remoteNode.js';
import type { LocalProcess } from '../../src/erlang/process.js';
import { Atom, Tuple, atom, isTuple, type Term } from '../../src/erlang/terms.js';
import { startNode, type BeamNode } from './beam.js';

export interface AstEvent {
  kind: string;
  pid: Term;
  ts: Term;
  mfa: string;
  line: Term;
  payload: Term;
}

export class AstNode {
  private constructor(
    readonly node: BeamNode,
    readonly local: LocalNode,
    readonly remote: RemoteNode,
    readonly inbox: LocalProcess,
  ) {}

  static async start(): Promise<AstNode> {
    const node = await startNode({ kind: 'elixir' });
    const local = await LocalNode.start({ cookie: node.cookie });
    const remote = await local.connect(node.name);
    // Recompiling a module is the point of these tests: no "redefining module" warning for it.
    await remote.rpc('Elixir.Code', 'compiler_options', [[new Tuple([atom('ignore_module_conflict'), atom('true')])]]);
    return new AstNode(node, local, remote, local.spawn());
  }

  async stop(): Promise<void> {
    await this.local.close();
    await this.node.stop();
  }

  /** The quoted form of `source`, parsed on the node as the agent parses a source file. */
  async quote(source: string, file = 'demo.ex'): Promise<Term> {
    const opts = [
      new Tuple([atom('columns'), atom('true')]),
      new Tuple([atom('token_metadata'), atom('true')]),
      new Tuple([atom('file'), Buffer.from(file)]),
    ];
    const r = await this.remote.rpc('Elixir.Code', 'string_to_quoted', [Buffer.from(source), opts]);
    if (!isTuple(r, 2) || r.elements[0] !== atom('ok')) throw new Error(`string_to_quoted failed: ${this.local.render(r)}`);
    return r.elements[1]!;
  }

  /** Compiles and loads quoted code; resolves to the modules it defined. Compile errors reject. */
  async compile(quoted: Term, file = 'demo.ex'): Promise<string[]> {
    return (await this.compileBinaries(quoted, file)).map(([m]) => m);
  }

  /** As compile, with each module's object code. */
  async compileBinaries(quoted: Term, file = 'demo.ex'): Promise<Array<[string, Buffer]>> {
    const r = await this.remote.rpc('Elixir.Code', 'compile_quoted', [quoted, Buffer.from(file)]);
    if (!Array.isArray(r)) throw new Error(`compile_quoted returned ${this.local.render(r)}`);
    return r.map((e) => [((e as Tuple).elements[0] as Atom).name, (e as Tuple).elements[1] as Buffer]);
  }

  /** Points the module's probe points at our mailbox. */
  async listen(module: string): Promise<void> {
    await this.remote.rpc('persistent_term', 'put', [new Tuple([atom('elixir_scope_ast'), atom(module)]), this.inbox.pid]);
  }

  async unlisten(module: string): Promise<void> {
    await this.remote.rpc('persistent_term', 'erase', [new Tuple([atom('elixir_scope_ast'), atom(module)])]);
  }

  async call(module: string, fun: string, args: Term[], timeoutMs = 120_000): Promise<Term> {
    return this.remote.rpc(module, fun, args, { timeoutMs });
  }

  /**
   * Evaluates Elixir on the node, over rpc, so that every event the code sent is in our mailbox when
   * this resolves; the value rendered as `inspect/1` prints it.
   */
  async evalElixir(code: string, timeoutMs?: number): Promise<string> {
    const r = await this.remote.rpc('Elixir.Code', 'eval_string', [Buffer.from(code)], timeoutMs === undefined ? {} : { timeoutMs });
    return this.local.render((r as Tuple).elements[0]!);
  }

  /** The next `count` es_ast events (waits up to `timeoutMs` for each). */
  async events(count: number, timeoutMs = 5000): Promise<AstEvent[]> {
    const out: AstEvent[] = [];
    for (let i = 0; i < count; i++) out.push(toEvent(await this.inbox.receive((m) => isTuple(m, 7), timeoutMs)));
    return out;
  }

  /**
   * Every event already here. After an rpc returns, every event the called code sent from the rpc's
   * own process is here too: the distribution link keeps one sender's messages in order, and the
   * reply was sent after them.
   */
  async drain(): Promise<AstEvent[]> {
    const out: AstEvent[] = [];
    while (this.inbox.queueLength > 0) out.push(toEvent(await this.inbox.receive((m) => isTuple(m, 7), 1000)));
    return out;
  }

  /** What the node printed on stdout/stderr so far (compiler warnings land here). */
  output(): string {
    return this.node.output();
  }
}

function toEvent(m: Term): AstEvent {
  const t = m as Tuple;
  const [tag, pid, ts, kind, mfa, line, payload] = t.elements;
  if (tag !== atom('es_ast')) throw new Error('not an es_ast event');
  const [mod, fun, ar] = (mfa as Tuple).elements;
  return {
    kind: (kind as Atom).name,
    pid: pid!,
    ts: ts!,
    mfa: `${(mod as Atom).name.replace(/^Elixir\./, '')}.${(fun as Atom).name}/${String(ar)}`,
    line: line!,
    payload: payload!,
  };
}
