/**
 * Typed errors of the distribution library.
 *
 * Every error a user can meet carries a stable string `code` (for programs and for the CLI's exit
 * handling) and a message that says what went wrong, what was expected and what to do about it.
 * No message ever contains the cookie: the constructors below never receive it.
 */

import type { Term } from './terms.js';

/** Base class: `code` is stable across releases, `message` is for people. */
export class DistError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The node name is not `alive@host`. */
export class BadNodeNameError extends DistError {
  constructor(readonly nodeName: string) {
    super(
      'BAD_NODE_NAME',
      `"${nodeName}" is not a node name: expected name@host (for example my_app@localhost or my_app@10.0.0.5).`,
    );
  }
}

/** Nothing answers on the EPMD port of a host. */
export class EpmdUnreachableError extends DistError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause?: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    // A host that does not resolve is a typo in the node name far more often than a missing epmd.
    const unresolved = code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    super(
      'EPMD_UNREACHABLE',
      unresolved
        ? `Cannot resolve the host ${host} (${describeCause(cause)}). Expected the part after @ in the ` +
            `node name to be a host name this machine can look up: check the spelling, or use an IP ` +
            `address (long names, --name) or this machine's short host name (--sname).`
        : `Cannot reach EPMD on ${host}:${port} (${describeCause(cause)}). Expected the Erlang port mapper ` +
            `daemon to be listening there: is a distributed node running on ${host} (started with --sname or ` +
            `--name)? Is epmd started, or does the node use another ERL_EPMD_PORT?`,
      { cause },
    );
  }
}

/** EPMD answered but does not know the node; `known` lists the names it does know. */
export class NodeNotFoundError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly host: string,
    readonly known: ReadonlyArray<{ name: string; port: number }>,
  ) {
    const list = known.length === 0 ? 'none' : known.map((n) => `${n.name}@${host}`).join(', ');
    super(
      'NODE_NOT_FOUND',
      `No node named ${nodeName} is registered with EPMD on ${host}. Nodes registered there: ${list}. ` +
        `Check the name (short names need --sname, long names --name) and that the node is running.`,
    );
  }
}

/** The TCP connection to the node's distribution port was refused. */
export class ConnectionRefusedError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly host: string,
    readonly port: number,
    cause?: unknown,
  ) {
    super(
      'CONNECTION_REFUSED',
      `Connection to ${nodeName} at ${host}:${port} failed (${describeCause(cause)}). EPMD lists the node ` +
        `on that port but nothing accepted the connection: the node may have just stopped, or a firewall ` +
        `blocks the distribution port.`,
      { cause },
    );
  }
}

/** Connecting or the handshake took longer than allowed. */
export class ConnectTimeoutError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly phase: 'epmd' | 'connect' | 'handshake',
    readonly timeoutMs: number,
  ) {
    super(
      phase === 'handshake' ? 'HANDSHAKE_TIMEOUT' : 'CONNECT_TIMEOUT',
      `Timed out after ${timeoutMs} ms during the ${phase} phase of connecting to ${nodeName}. Expected an ` +
        `answer within that time: check that the node is responsive and reachable, or raise the timeout.`,
    );
  }
}

/** The peer refused our challenge reply: the cookies differ. */
export class WrongCookieError extends DistError {
  constructor(
    readonly nodeName: string,
    detail: string,
  ) {
    super(
      'WRONG_COOKIE',
      `${nodeName} rejected the authentication (${detail}). Expected both nodes to share one cookie: pass ` +
        `the target's cookie with --cookie or ELIXIR_SCOPE_COOKIE, or check ~/.erlang.cookie.`,
    );
  }
}

export type HandshakeRejection =
  | 'not_allowed'
  | 'nok'
  | 'alive'
  | 'missing_flags'
  | 'version'
  | 'protocol';

/** The handshake was refused for a reason other than the cookie. */
export class HandshakeRejectedError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly reason: HandshakeRejection,
    readonly detail: string,
    /** Names of the capability flags that were missing, when `reason` is `missing_flags`. */
    readonly missingFlags: readonly string[] = [],
  ) {
    super('HANDSHAKE_REJECTED', `Handshake with ${nodeName} rejected: ${detail}`);
  }
}

/** A connection went down: peer closed it, tick timeout, malformed data, or we closed it. */
export class NodeDownError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly reason: string,
  ) {
    super(
      'NODE_DOWN',
      `The connection to ${nodeName} is down (${reason}). Expected the node to stay connected: check that ` +
        `it is still running, then connect again.`,
    );
  }
}

/** The peer sent bytes that do not follow the distribution protocol. */
export class ProtocolError extends DistError {
  constructor(
    readonly nodeName: string,
    detail: string,
  ) {
    super(
      'PROTOCOL_ERROR',
      `Malformed distribution data from ${nodeName}: ${detail}. The connection was closed; other ` +
        `connections are unaffected. If this repeats, report it with the OTP release of the peer.`,
    );
  }
}

/** No rpc reply within the timeout. A late reply is dropped. */
export class RpcTimeoutError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly mfa: string,
    readonly timeoutMs: number,
  ) {
    super(
      'RPC_TIMEOUT',
      `rpc ${mfa} on ${nodeName} did not answer within ${timeoutMs} ms. Expected a reply from rex: the ` +
        `call may still be running there; raise the timeout or check the node's load.`,
    );
  }
}

/** rex answered `{badrpc, Reason}`; `reason` is the term. */
export class BadRpcError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly mfa: string,
    readonly reason: Term,
    reasonText: string,
  ) {
    super(
      'BADRPC',
      `rpc ${mfa} on ${nodeName} failed: {badrpc, ${reasonText}}. Expected the function to return; check ` +
        `that the module is loaded there and the arguments are right.`,
    );
  }
}

/** A gen_server call did not get a reply in time. */
export class CallTimeoutError extends DistError {
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    super(
      'CALL_TIMEOUT',
      `gen_server call to ${target} got no reply within ${timeoutMs} ms. The server may be busy or stuck; ` +
        `raise the timeout or inspect the server's message queue.`,
    );
  }
}

/** The target of a gen_server call died, did not exist or its node went away. */
export class CallExitError extends DistError {
  constructor(
    readonly target: string,
    readonly reason: Term,
    reasonText: string,
  ) {
    super(
      'CALL_EXIT',
      `gen_server call to ${target} failed: the target exited with reason ${reasonText}` +
        (reasonText === 'noproc'
          ? ' (no process by that name or pid is alive there; check the name and that it is started).'
          : reasonText === 'noconnection'
            ? ' (the connection to its node was lost).'
            : '.'),
    );
  }
}

/** Operation on a local process that has already exited. */
export class ProcessExitedError extends DistError {
  constructor(
    readonly pid: string,
    readonly reason: Term,
    reasonText: string,
  ) {
    super(
      'PROCESS_EXITED',
      `Local process ${pid} has exited (reason ${reasonText}); spawn a new process to continue.`,
    );
  }
}

/** `receive` with a timeout saw no matching message in time. */
export class ReceiveTimeoutError extends DistError {
  constructor(
    readonly pid: string,
    readonly timeoutMs: number,
  ) {
    super(
      'RECEIVE_TIMEOUT',
      `No matching message arrived at ${pid} within ${timeoutMs} ms.`,
    );
  }
}

/** The local node has been closed. */
export class NodeClosedError extends DistError {
  constructor(readonly nodeName: string) {
    super('NODE_CLOSED', `Local node ${nodeName} is closed; start a new LocalNode to continue.`);
  }
}

/** EPMD refused to register our name (usually: the name is taken). */
export class EpmdRegisterError extends DistError {
  constructor(
    readonly nodeName: string,
    readonly result: number,
  ) {
    super(
      'EPMD_REGISTER_FAILED',
      `EPMD refused to register ${nodeName} (result ${result}). Expected the name to be free on this ` +
        `host: pick another name or stop the node that uses it.`,
    );
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code !== undefined ? code : cause.message;
  }
  return cause === undefined ? 'no details' : String(cause);
}
