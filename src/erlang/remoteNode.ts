/**
 * A node we are connected to. It is a view of one connection: once that connection goes down the
 * object stays down (connect() again for a new one).
 *
 *   const peer = await local.connect('my_app@vm');
 *   peer.on('down', (reason) => ...);
 *   const release = await peer.rpc('erlang', 'system_info', [atom('otp_release')]);
 *   const { result, output } = await peer.rpcWithOutput('io', 'format', ["hi~n", []]);
 */

import { EventEmitter } from 'node:events';
import type { Connection } from './connection.js';
import { flagNames } from './flags.js';
import type { LocalNode } from './node.js';
import { rpcCall, type RpcOptions, type RpcResult } from './rpc.js';
import type { Atom, Term } from './terms.js';

/** Events: 'down' (reason: string). */
export class RemoteNode extends EventEmitter {
  private downReason: string | undefined;

  constructor(
    private readonly local: LocalNode,
    /** @internal */ readonly connection: Connection,
  ) {
    super();
  }

  get name(): string {
    return this.connection.peerName.name;
  }

  get nodeAtom(): Atom {
    return this.connection.peerName;
  }

  /** The peer's creation (incarnation number). */
  get creation(): number {
    return this.connection.peerCreation;
  }

  /** The negotiated capability flags (intersection of both sides). */
  get flags(): bigint {
    return this.connection.flags;
  }

  get flagNames(): string[] {
    return flagNames(this.connection.flags);
  }

  get connected(): boolean {
    return this.downReason === undefined && this.connection.isUp;
  }

  /** Why the connection went down, once it has. */
  get reason(): string | undefined {
    return this.downReason;
  }

  /** Calls M:F(A) on the node through rex. Rejects with RpcTimeoutError, BadRpcError or NodeDownError. */
  async rpc(module: string | Atom, fun: string | Atom, args: Term[], opts: RpcOptions = {}): Promise<Term> {
    return (await rpcCall(this.local, this, module, fun, args, opts)).result;
  }

  /** Like rpc, and also returns what the call printed (our group leader collects it). */
  rpcWithOutput(module: string | Atom, fun: string | Atom, args: Term[], opts: RpcOptions = {}): Promise<RpcResult> {
    return rpcCall(this.local, this, module, fun, args, opts);
  }

  /** Closes this connection; links and monitors across it fire with noconnection. */
  disconnect(): void {
    this.connection.close('disconnected by us');
  }

  /** @internal */
  markDown(reason: string): void {
    if (this.downReason !== undefined) return;
    this.downReason = reason;
    this.emit('down', reason);
  }
}
