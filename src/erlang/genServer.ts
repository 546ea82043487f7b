/**
 * GenServer.call / cast to processes on other nodes, and serving calls that they make to us.
 *
 * A call monitors its target first and uses the monitor reference as the reply tag, exactly as
 * gen:call does: a target that is not there answers with DOWN/noproc at once, a target that dies
 * or whose node goes away mid-call ends the wait with its exit reason, and nothing hangs until the
 * timeout unless the server is really busy.
 *
 * `serve(name, handler)` registers `name` on our node. Target processes reach it with
 * `GenServer.call({name, our_node}, request)`; since OTP 24 they tag the call `[alias | Ref]` and
 * expect the reply sent to that alias (ALIAS_SEND); older tags get a plain send to the caller.
 */

import { CallExitError, CallTimeoutError, ReceiveTimeoutError } from './errors.js';
import { aliasOfTag } from './controlMessages.js';
import type { LocalNode } from './node.js';
import { isDown, nameAndNode, type LocalProcess } from './process.js';
import { Atom, Pid, Reference, Tuple, atom, type Term } from './terms.js';

/** A pid, a local registered name, or a `[name, node]` pair / `{name, node}` tuple. */
export type GenServerTarget = Pid | Atom | string | [Atom | string, Atom | string] | Tuple;

/** Who called: reply to `pid`, tagged with `tag`. */
export interface CallFrom {
  pid: Pid;
  tag: Term;
}

export type ServeHandler = (request: Term, from: CallFrom) => Term | Promise<Term>;

export interface ServeOptions {
  /** Receives `GenServer.cast` requests. */
  onCast?: (request: Term) => void;
  /** Receives every other message sent to the name. */
  onInfo?: (message: Term) => void;
}

export interface ServedName {
  readonly name: string;
  /** The pid currently serving (it changes if a handler throws and the server restarts). */
  readonly pid: Pid;
  stop(): void;
}

const A_GEN_CALL = atom('$gen_call');
const A_GEN_CAST = atom('$gen_cast');
const A_HANDLER_ERROR = atom('handler_error');

function describe(local: LocalNode, to: GenServerTarget): string {
  if (to instanceof Pid) return local.render(to);
  const [name, node] = nameAndNode(to, local.nodeAtom);
  return `${name.name} on ${node.name}`;
}

/** How one `$gen_call` ended: the server's reply, or the exit reason its monitor reported. */
export type CallOutcome = { reply: Term } | { exit: Term };

/**
 * One `$gen_call` from `caller`, as gen:call makes it: monitor the target, use the monitor
 * reference as the reply tag, then wait for `{Ref, Reply}` or the DOWN. The monitor is removed when
 * `caller` exits, which each user does once it has its answer. Rejects with ReceiveTimeoutError.
 */
export async function genCall(caller: LocalProcess, to: Pid | [Atom, Atom], request: Term, timeoutMs: number): Promise<CallOutcome> {
  const ref = caller.monitor(to);
  caller.send(to, new Tuple([A_GEN_CALL, new Tuple([caller.pid, ref]), request]));
  const msg = (await caller.receive((x) => isReplyTo(x, ref) || isDown(x, ref), timeoutMs)) as Tuple;
  return msg.size === 5 ? { exit: msg.elements[4]! } : { reply: msg.elements[1]! };
}

function isReplyTo(msg: Term, ref: Reference): boolean {
  return msg instanceof Tuple && msg.size === 2 && msg.elements[0] instanceof Reference && msg.elements[0].key === ref.key;
}

export async function genServerCall(local: LocalNode, to: GenServerTarget, request: Term, timeoutMs = 5000): Promise<Term> {
  const caller = local.spawn();
  const target = describe(local, to);
  try {
    let outcome: CallOutcome;
    try {
      outcome = await genCall(caller, to instanceof Pid ? to : nameAndNode(to, local.nodeAtom), request, timeoutMs);
    } catch (err) {
      if (err instanceof ReceiveTimeoutError) throw new CallTimeoutError(target, timeoutMs);
      throw err;
    }
    if ('exit' in outcome) throw new CallExitError(target, outcome.exit, local.render(outcome.exit));
    return outcome.reply;
  } finally {
    if (caller.alive) caller.exit();
  }
}

export function genServerCast(local: LocalNode, to: GenServerTarget, request: Term): void {
  local.send(to instanceof Pid ? to : nameAndNode(to, local.nodeAtom), new Tuple([A_GEN_CAST, request]));
}

export function serve(local: LocalNode, name: string, handler: ServeHandler, opts: ServeOptions = {}): ServedName {
  let stopped = false;
  let current: LocalProcess;

  const start = (): void => {
    const p = local.spawn();
    current = p;
    p.register(name);
    p.handler = (msg) => {
      if (msg instanceof Tuple && msg.size === 3 && msg.elements[0] === A_GEN_CALL) {
        const from = msg.elements[1];
        if (!(from instanceof Tuple) || from.size !== 2 || !(from.elements[0] instanceof Pid)) return;
        const callFrom: CallFrom = { pid: from.elements[0], tag: from.elements[1]! };
        // Like a crashing gen_server: callers see the exit through their monitor at once instead
        // of waiting for their timeout; then the name is served again by a fresh process.
        const crash = (err: unknown): void => {
          const text = err instanceof Error ? err.message : String(err);
          local.warn(`handler for ${name} threw: ${text}`);
          if (!p.alive) return;
          p.exit(new Tuple([A_HANDLER_ERROR, Buffer.from(text, 'utf8')]));
          if (!stopped && !local.isClosed) start();
        };
        Promise.resolve()
          .then(() => handler(msg.elements[2]!, callFrom))
          .then((reply) => {
            if (!p.alive) return;
            const alias = aliasOfTag(callFrom.tag);
            // Throws if the reply cannot be encoded: that is the handler's fault, handled as a crash.
            p.send(alias ?? callFrom.pid, new Tuple([callFrom.tag, reply]));
          })
          .catch(crash);
        return;
      }
      if (msg instanceof Tuple && msg.size === 2 && msg.elements[0] === A_GEN_CAST) {
        opts.onCast?.(msg.elements[1]!);
        return;
      }
      opts.onInfo?.(msg);
    };
  };
  start();

  return {
    name,
    get pid() {
      return current.pid;
    },
    stop: () => {
      stopped = true;
      if (current.alive) current.exit();
    },
  };
}

