/**
 * ElixirScope's Erlang library: the term model, the External Term Format, Elixir-style rendering,
 * and a hidden distribution node that talks to real BEAM nodes. It imports nothing else of
 * ElixirScope.
 *
 *   import { LocalNode, atom } from './erlang/index.js';
 *   const local = await LocalNode.start({ cookie });
 *   const peer = await local.connect('my_app@vm', { timeoutMs: 5000 });
 *   const release = await peer.rpc('erlang', 'system_info', [atom('otp_release')]);
 *   await local.close();
 *
 * docs/distribution.md describes how the node works (flags, framing, limits).
 */

export * from './terms.js';
export { decode, decodeAt, decodeBody, encode, encodeBody, EtfError } from './etf/index.js';
export { inspect, type InspectOptions } from './inspect.js';
export { resolveCookie, type ResolvedCookie } from './cookie.js';

export { LocalNode, type LocalNodeOptions, type ConnectOptions } from './node.js';
export { RemoteNode } from './remoteNode.js';
export { LocalProcess, type Destination, type MonitorTarget } from './process.js';
export { type RpcOptions, type RpcResult, DEFAULT_RPC_TIMEOUT_MS } from './rpc.js';
export { type GenServerTarget, type CallFrom, type ServeHandler, type ServeOptions, type ServedName } from './genServer.js';
export { epmdNames, epmdPortPlease, epmdRegister, type EpmdNodeInfo, type EpmdRegistration, type EpmdOptions } from './epmd.js';
export { DFLAG, OUR_FLAGS, MANDATORY_25, MANDATORY_26, flagNames, missingFlags } from './flags.js';
export { parseNodeName, localShortHost, randomLocalName, type NodeName } from './nodeName.js';
export * from './errors.js';
