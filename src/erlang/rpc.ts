/**
 * rpc through `rex`, the rpc server every distributed node runs.
 *
 * We send `{'$gen_call', {Caller, Ref}, {call, M, F, A, GroupLeader}}` to `{rex, Node}` and wait
 * for `{Ref, Reply}`. Ref is a monitor on rex, so a node that dies mid-call ends the wait at once
 * (noconnection) instead of at the timeout. Each call has its own short-lived caller process: a
 * reply that comes after the timeout goes to a dead pid and is dropped, never into a later call.
 * Our group leader collects what the called code prints.
 */

import { BadRpcError, NodeDownError, ReceiveTimeoutError, RpcTimeoutError, CallExitError } from './errors.js';
import { startGroupLeader } from './groupLeader.js';
import type { LocalNode } from './node.js';
import { genCall, type CallOutcome } from './genServer.js';
import type { RemoteNode } from './remoteNode.js';
import { Atom, Tuple, atom, isAtom, type Term } from './terms.js';

export interface RpcOptions {
  /** Default 15 000 ms. */
  timeoutMs?: number;
}

export interface RpcResult {
  result: Term;
  /** What the call wrote to its group leader (io:format, IO.puts, ...). */
  output: string;
}

export const DEFAULT_RPC_TIMEOUT_MS = 15_000;

const A_CALL = atom('call');
const A_REX = atom('rex');
const A_NOCONNECTION = atom('noconnection');

export async function rpcCall(
  local: LocalNode,
  remote: RemoteNode,
  module: string | Atom,
  fun: string | Atom,
  args: Term[],
  opts: RpcOptions = {},
): Promise<RpcResult> {
  const m = typeof module === 'string' ? atom(module) : module;
  const f = typeof fun === 'string' ? atom(fun) : fun;
  const mfa = `${m.name}:${f.name}/${args.length}`;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  if (!remote.connected) throw new NodeDownError(remote.name, remote.reason ?? 'not connected');
  const caller = local.spawn();
  const gl = startGroupLeader(local, remote);
  try {
    let outcome: CallOutcome;
    try {
      // rex is a gen_server: monitoring it means a node that dies mid-call ends the wait at once.
      outcome = await genCall(caller, [A_REX, remote.nodeAtom], new Tuple([A_CALL, m, f, args, gl.pid]), timeoutMs);
    } catch (err) {
      if (err instanceof ReceiveTimeoutError) throw new RpcTimeoutError(remote.name, mfa, timeoutMs);
      throw err;
    }
    if ('exit' in outcome) {
      if (outcome.exit === A_NOCONNECTION) throw new NodeDownError(remote.name, `connection lost during rpc ${mfa}`);
      throw new CallExitError(`rex on ${remote.name}`, outcome.exit, local.render(outcome.exit));
    }
    const reply = outcome.reply;
    if (reply instanceof Tuple && reply.size === 2 && isAtom(reply.elements[0], 'badrpc')) {
      const reason = reply.elements[1]!;
      throw new BadRpcError(remote.name, mfa, reason, local.render(reason));
    }
    await gl.settled();
    return { result: reply, output: gl.output() };
  } finally {
    // Exiting removes the monitor on rex; the group leader goes with the call.
    if (caller.alive) caller.exit();
    gl.stop();
  }
}
