/**
 * LocalNode: our hidden Erlang node. It owns the connections to other nodes, our local processes
 * and their registered names, and routes every message and signal between them.
 *
 *   const local = await LocalNode.start({ cookie });
 *   const peer = await local.connect('my_app@vm');
 *   await peer.rpc('erlang', 'node', []);                  // → atom my_app@vm
 *   const p = local.spawn();
 *   await local.genServerCall([atom('my_server'), atom('my_app@vm')], atom('ping'));
 *   local.serve('elixir_scope_engine', async (request) => reply);
 *   await local.close();
 *
 * We stay hidden (no PUBLISHED flag): the target lists us in nodes(hidden), never in nodes(), and
 * we never become part of its global name space. With `register: true` we also register with EPMD
 * and accept connections from BEAM nodes (net_kernel:connect_node/1).
 */

import { EventEmitter } from 'node:events';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Connection } from './connection.js';
import type { Signal } from './controlMessages.js';
import { epmdNames, epmdPortPlease, epmdRegister, type EpmdRegistration } from './epmd.js';
import {
  ConnectionRefusedError,
  ConnectTimeoutError,
  DistError,
  NodeClosedError,
  NodeNotFoundError,
} from './errors.js';
import { OUR_FLAGS } from './flags.js';
import { genServerCall, genServerCast, serve, type GenServerTarget, type ServeHandler, type ServeOptions, type ServedName } from './genServer.js';
import { clientHandshake, serverHandshake, type HandshakeResult } from './handshake.js';
import { parseNodeName, randomLocalName, withLocalHost } from './nodeName.js';
import { LocalProcess, nameAndNode, type Destination, type ProcessHost } from './process.js';
import { RemoteNode } from './remoteNode.js';
import { renderTerm } from './render.js';
import { Atom, atom, Pid, Reference, type Term } from './terms.js';

export interface LocalNodeOptions {
  /** Our node name; `name` alone gets this host appended. Default: elixir_scope_<random>@<host>. */
  name?: string;
  /** The distribution cookie. Only ever used as an input of the handshake digest. */
  cookie: string;
  /** Register with EPMD and accept incoming connections. Default false. */
  register?: boolean;
  /** net_ticktime in ms: a peer silent this long is declared down. Default 60 000 (OTP's). */
  tickTimeMs?: number;
  /** Default timeout of connect() (EPMD lookup + TCP + handshake). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** EPMD port; default $ERL_EPMD_PORT or 4369. */
  epmdPort?: number;
  /** Largest incoming message accepted (one frame or a reassembled fragmented one). Default 1 GiB. */
  maxMessageBytes?: number;
  /** Where diagnostics go (unknown control messages, refused incoming handshakes). Default: stderr. */
  warn?: (message: string) => void;
}

export interface ConnectOptions {
  timeoutMs?: number;
}

const A_NOCONNECTION = atom('noconnection');
const A_NOPROC = atom('noproc');
const A_SHUTDOWN = atom('shutdown');

/**
 * Events: 'nodeup' (name: string), 'nodedown' (name: string, reason: string),
 * 'warning' (message: string).
 */
export class LocalNode extends EventEmitter implements ProcessHost {
  readonly nodeAtom: Atom;
  private readonly procs = new Map<string, LocalProcess>();
  private readonly names = new Map<Atom, LocalProcess>();
  private readonly aliasTable = new Map<string, LocalProcess>();
  /** Monitors other processes hold on ours: ref key → our monitored process. */
  private readonly monitoredBy = new Map<string, LocalProcess>();
  private readonly conns = new Map<string, Connection>();
  private readonly remotes = new Map<string, RemoteNode>();
  private readonly connecting = new Map<string, Promise<RemoteNode>>();
  private nextPid = 1;
  private nextSerial = 0;
  private refCounter = 0;
  private readonly refSalt = randomBytes(8);
  private server: Server | undefined;
  private registration: EpmdRegistration | undefined;
  private closed = false;
  private systemProcess!: LocalProcess;
  private readonly tickTimeMs: number;
  private readonly maxMessageBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly epmdPort: number | undefined;
  private readonly warnFn: (message: string) => void;

  /** An ES private field: util.inspect and JSON.stringify of the node never show it. */
  readonly #cookie: string;

  private constructor(
    readonly name: string,
    cookie: string,
    private creationValue: number,
    opts: LocalNodeOptions,
  ) {
    super();
    this.#cookie = cookie;
    this.nodeAtom = atom(name);
    this.tickTimeMs = opts.tickTimeMs ?? 60_000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 1 << 30;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.epmdPort = opts.epmdPort;
    this.warnFn = opts.warn ?? ((m) => process.stderr.write(`elixir-scope: ${m}\n`));
  }

  static async start(opts: LocalNodeOptions): Promise<LocalNode> {
    const name = opts.name === undefined ? randomLocalName() : withLocalHost(opts.name);
    const parsed = parseNodeName(name);
    // Creation tells incarnations of a node name apart; unregistered, any non-zero value will do.
    const creation = randomBytes(4).readUInt32BE(0) | 4;
    const node = new LocalNode(name, opts.cookie, creation >>> 0, opts);
    if (opts.register) await node.listenAndRegister(parsed.alive);
    node.systemProcess = node.spawn();
    return node;
  }

  get creation(): number {
    return this.creationValue;
  }

  /** The TCP port we accept connections on (only with `register: true`). */
  get listenPort(): number | undefined {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // -----------------------------------------------------------------------------------------------
  // Connections
  // -----------------------------------------------------------------------------------------------

  /** Connects to `nodeName` (or returns the existing connection). */
  connect(nodeName: string, opts: ConnectOptions = {}): Promise<RemoteNode> {
    if (this.closed) return Promise.reject(new NodeClosedError(this.name));
    const existing = this.remotes.get(nodeName);
    if (existing?.connected) return Promise.resolve(existing);
    const pending = this.connecting.get(nodeName);
    if (pending) return pending;
    const p = this.doConnect(nodeName, opts.timeoutMs ?? this.connectTimeoutMs).finally(() => this.connecting.delete(nodeName));
    this.connecting.set(nodeName, p);
    return p;
  }

  /** The connected node called `nodeName`, if any. */
  remote(nodeName: string): RemoteNode | undefined {
    const r = this.remotes.get(nodeName);
    return r?.connected ? r : undefined;
  }

  /** Names of the nodes we are connected to. */
  connectedNodes(): string[] {
    return [...this.conns.keys()];
  }

  private async doConnect(nodeName: string, timeoutMs: number): Promise<RemoteNode> {
    const { alive, host } = parseNodeName(nodeName);
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    const epmdOpts = { timeoutMs: left(), ...(this.epmdPort !== undefined ? { port: this.epmdPort } : {}) };
    const info = await epmdPortPlease(host, alive, epmdOpts).catch((err: unknown) => {
      throw err instanceof ConnectTimeoutError ? new ConnectTimeoutError(nodeName, 'epmd', timeoutMs) : err;
    });
    if (info === null) {
      const known = await epmdNames(host, { ...epmdOpts, timeoutMs: left() });
      throw new NodeNotFoundError(nodeName, host, known);
    }
    const sock = await openSocket(nodeName, host, info.port, left(), timeoutMs);
    const hs = await clientHandshake(sock, nodeName, {
      ourName: this.name,
      ourFlags: OUR_FLAGS,
      creation: this.creationValue,
      cookie: this.#cookie,
      timeoutMs: left(),
    });
    if (this.closed) {
      sock.destroy();
      throw new NodeClosedError(this.name);
    }
    return this.attach(sock, hs, nodeName);
  }

  private attach(sock: Socket, hs: HandshakeResult, requestedName: string): RemoteNode {
    const peer = atom(hs.peerName);
    const conn = new Connection(sock, peer, hs.flags, hs.peerCreation, hs.rest, {
      tickTimeMs: this.tickTimeMs,
      maxMessageBytes: this.maxMessageBytes,
      warn: (m) => this.warn(m),
    });
    const remote = new RemoteNode(this, conn);
    const old = this.conns.get(peer.name);
    if (old?.isUp) old.close('replaced by a new connection');
    this.conns.set(peer.name, conn);
    this.remotes.set(peer.name, remote);
    if (requestedName !== peer.name) this.remotes.set(requestedName, remote);
    conn.on('signal', (sig: Signal) => this.handleSignal(sig, conn));
    conn.on('down', (reason: string, error?: Error) => this.connectionDown(conn, reason, error, requestedName));
    this.emit('nodeup', peer.name);
    return remote;
  }

  private connectionDown(conn: Connection, reason: string, error: Error | undefined, requestedName: string): void {
    const peer = conn.peerName;
    if (this.conns.get(peer.name) === conn) this.conns.delete(peer.name);
    const remote = this.remotes.get(peer.name);
    if (remote && remote.connection === conn) {
      this.remotes.delete(peer.name);
      if (this.remotes.get(requestedName) === remote) this.remotes.delete(requestedName);
      remote.markDown(reason);
    }
    if (error) this.warn(`connection to ${peer.name} closed: ${reason}`);
    // Every link and monitor across the connection fires with noconnection, as on the BEAM.
    for (const p of [...this.procs.values()]) {
      for (const l of [...p.links.values()]) {
        if (l.pid.node === peer) {
          p.links.delete(l.pid.key);
          if (l.active) p.exitSignalArrived(l.pid, A_NOCONNECTION, true);
        }
      }
      for (const m of [...p.monitorsOut.values()]) if (m.node === peer) p.monitorFired(m.ref, A_NOCONNECTION);
      for (const m of [...p.monitorsIn.values()]) {
        if (m.from.node === peer) {
          p.monitorsIn.delete(m.ref.key);
          this.monitoredBy.delete(m.ref.key);
        }
      }
    }
    this.emit('nodedown', peer.name, reason);
  }

  private async listenAndRegister(alive: string): Promise<void> {
    const server = createServer((sock) => this.acceptIncoming(sock));
    await listenOn(server, '::').catch(() => listenOn(server, '0.0.0.0'));
    this.server = server;
    const port = this.listenPort!;
    try {
      this.registration = await epmdRegister(alive, port, {
        ...(this.epmdPort !== undefined ? { port: this.epmdPort } : {}),
        hidden: true,
      });
    } catch (err) {
      server.close();
      throw err;
    }
    this.creationValue = this.registration.creation;
    this.registration.onLost(() => {
      if (!this.closed) this.warn(`EPMD dropped the registration of ${this.name}; other nodes can no longer find us`);
    });
  }

  private acceptIncoming(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    serverHandshake(sock, {
      ourName: this.name,
      ourFlags: OUR_FLAGS,
      creation: this.creationValue,
      cookie: this.#cookie,
      timeoutMs: this.connectTimeoutMs,
    }).then(
      (hs) => {
        if (this.closed) sock.destroy();
        else this.attach(sock, hs, hs.peerName);
      },
      (err: unknown) => this.warn(`refused an incoming connection: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  // -----------------------------------------------------------------------------------------------
  // Processes
  // -----------------------------------------------------------------------------------------------

  /** A new local process with a mailbox. */
  spawn(): LocalProcess {
    if (this.closed) throw new NodeClosedError(this.name);
    const pid = new Pid(this.nodeAtom, this.nextPid, this.nextSerial, this.creationValue);
    // Keep ids within the pre-OTP 24 ranges (15 + 13 bits) so any peer accepts them.
    if (++this.nextPid >= 1 << 15) {
      this.nextPid = 1;
      this.nextSerial = (this.nextSerial + 1) % (1 << 13);
    }
    const p = new LocalProcess(this, pid);
    this.procs.set(pid.key, p);
    return p;
  }

  /** The live local process registered as `name`. */
  whereis(name: string | Atom): LocalProcess | undefined {
    return this.names.get(typeof name === 'string' ? atom(name) : name);
  }

  /** The live local process with this pid. */
  process(pid: Pid): LocalProcess | undefined {
    return this.procs.get(pid.key);
  }

  /** Sends from a node-level system process (for fire-and-forget sends). */
  send(to: Destination, msg: Term): void {
    this.systemProcess.send(to, msg);
  }

  makeRef(): Reference {
    const c = ++this.refCounter;
    return new Reference(this.nodeAtom, this.creationValue, [
      c & 0x3ffff,
      Math.floor(c / 0x40000) >>> 0,
      (this.refSalt.readUInt32BE(0) ^ this.refSalt.readUInt32BE(4)) >>> 0,
    ]);
  }

  // -----------------------------------------------------------------------------------------------
  // gen_server and rpc conveniences
  // -----------------------------------------------------------------------------------------------

  /** GenServer.call: `to` is a pid, a local name, or [name, node]. */
  genServerCall(to: GenServerTarget, request: Term, timeoutMs = 5000): Promise<Term> {
    return genServerCall(this, to, request, timeoutMs);
  }

  genServerCast(to: GenServerTarget, request: Term): void {
    genServerCast(this, to, request);
  }

  /** Answers GenServer.call/cast sent to the registered `name` on our node. */
  serve(name: string, handler: ServeHandler, opts: ServeOptions = {}): ServedName {
    return serve(this, name, handler, opts);
  }

  /** Closes every connection, unregisters from EPMD and ends all local processes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.procs.values()]) p.exit(A_SHUTDOWN);
    for (const c of [...this.conns.values()]) c.close('local node closed');
    this.registration?.close();
    if (this.server) {
      const s = this.server;
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  // -----------------------------------------------------------------------------------------------
  // ProcessHost: routing (called by LocalProcess)
  // -----------------------------------------------------------------------------------------------

  /** @internal */
  route(from: Pid, to: Destination, msg: Term): void {
    if (to instanceof Pid) {
      this.signal(to.node, { kind: 'send', from, to, msg });
    } else if (to instanceof Reference) {
      this.signal(to.node, { kind: 'alias_send', from, alias: to, msg });
    } else {
      const [name, node] = nameAndNode(to, this.nodeAtom);
      this.signal(node, { kind: 'reg_send', from, name, msg });
    }
  }

  /** @internal */
  signal(targetNode: Atom, sig: Signal): void {
    if (targetNode === this.nodeAtom) {
      // Asynchronous, as a signal is on the BEAM: no re-entrancy into the sender's code.
      queueMicrotask(() => this.handleSignal(sig, undefined));
      return;
    }
    const conn = this.conns.get(targetNode.name);
    if (conn?.isUp) {
      conn.send(sig);
      return;
    }
    if (this.closed) return;
    // Like the BEAM, a signal to an unconnected node sets up the connection first.
    this.connect(targetNode.name).then(
      (remote) => {
        try {
          remote.connection.send(sig);
        } catch (err) {
          // Only an unencodable message gets here; with a live connection the sender would have
          // seen this error thrown by send(), but it has long returned.
          this.warn(`dropped a ${sig.kind} to ${targetNode.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
      () => this.unreachable(sig),
    );
  }

  /** A signal to a node we cannot reach: links and monitors fire with noconnection. */
  private unreachable(sig: Signal): void {
    if (sig.kind === 'link') {
      this.handleSignal({ kind: 'exit', from: sig.to, to: sig.from, reason: A_NOCONNECTION }, undefined);
    } else if (sig.kind === 'monitor') {
      this.handleSignal({ kind: 'monitor_exit', target: sig.target, to: sig.from, ref: sig.ref, reason: A_NOCONNECTION }, undefined);
    }
  }

  /** @internal */
  registerName(name: Atom, p: LocalProcess): void {
    const holder = this.names.get(name);
    if (holder && holder !== p && holder.alive) {
      throw new DistError('NAME_TAKEN', `The name ${name.name} is already registered by another local process; unregister it or pick another name.`);
    }
    if (p.registeredName) this.names.delete(p.registeredName);
    p.registeredName = name;
    this.names.set(name, p);
  }

  /** @internal */
  addAlias(ref: Reference, p: LocalProcess): void {
    this.aliasTable.set(ref.key, p);
  }

  /** @internal */
  removeAlias(ref: Reference): void {
    this.aliasTable.delete(ref.key);
  }

  /** @internal */
  processExited(p: LocalProcess): void {
    this.procs.delete(p.pid.key);
    if (p.registeredName && this.names.get(p.registeredName) === p) this.names.delete(p.registeredName);
  }

  /** @internal */
  render(t: Term): string {
    return renderTerm(t);
  }

  /** @internal */
  warn(message: string): void {
    this.emit('warning', message);
    this.warnFn(message);
  }

  // -----------------------------------------------------------------------------------------------
  // Incoming signals (from a connection, or from a local process via signal())
  // -----------------------------------------------------------------------------------------------

  private handleSignal(sig: Signal, _conn: Connection | undefined): void {
    switch (sig.kind) {
      case 'send':
        this.procs.get(sig.to.key)?.deliver(sig.msg);
        return;
      case 'reg_send':
        this.names.get(sig.name)?.deliver(sig.msg);
        return;
      case 'alias_send':
        this.aliasTable.get(sig.alias.key)?.deliver(sig.msg);
        return;
      case 'link': {
        const p = this.procs.get(sig.to.key);
        if (!p) {
          this.signal(sig.from.node, { kind: 'exit', from: sig.to, to: sig.from, reason: A_NOPROC });
          return;
        }
        // An existing entry (even one waiting for an unlink ack) wins, per the link protocol.
        if (!p.links.has(sig.from.key)) p.links.set(sig.from.key, { pid: sig.from, active: true, unlinkId: undefined });
        return;
      }
      case 'unlink_id': {
        const p = this.procs.get(sig.to.key);
        if (!p) return;
        const l = p.links.get(sig.from.key);
        if (l?.active) p.links.delete(sig.from.key);
        this.signal(sig.from.node, { kind: 'unlink_id_ack', id: sig.id, from: sig.to, to: sig.from });
        return;
      }
      case 'unlink_id_ack': {
        const p = this.procs.get(sig.to.key);
        const l = p?.links.get(sig.from.key);
        if (p && l && !l.active && l.unlinkId !== undefined && BigInt(l.unlinkId) === BigInt(sig.id)) p.links.delete(sig.from.key);
        return;
      }
      case 'exit': {
        const p = this.procs.get(sig.to.key);
        const l = p?.links.get(sig.from.key);
        if (!p || !l) return;
        p.links.delete(sig.from.key);
        if (l.active) p.exitSignalArrived(sig.from, sig.reason, true);
        return;
      }
      case 'exit2':
        this.procs.get(sig.to.key)?.exitSignalArrived(sig.from, sig.reason, false);
        return;
      case 'monitor': {
        const p = sig.target instanceof Pid ? this.procs.get(sig.target.key) : this.names.get(sig.target);
        if (!p) {
          this.signal(sig.from.node, { kind: 'monitor_exit', target: sig.target, to: sig.from, ref: sig.ref, reason: A_NOPROC });
          return;
        }
        p.monitorsIn.set(sig.ref.key, { ref: sig.ref, from: sig.from, target: sig.target });
        this.monitoredBy.set(sig.ref.key, p);
        return;
      }
      case 'demonitor': {
        const p = this.monitoredBy.get(sig.ref.key);
        if (p) {
          p.monitorsIn.delete(sig.ref.key);
          this.monitoredBy.delete(sig.ref.key);
        }
        return;
      }
      case 'monitor_exit':
        this.procs.get(sig.to.key)?.monitorFired(sig.ref, sig.reason);
        return;
      case 'ignored':
      case 'unknown':
        return;
    }
  }
}

function listenOn(server: Server, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function openSocket(nodeName: string, host: string, port: number, timeoutMs: number, totalMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ConnectTimeoutError(nodeName, 'connect', totalMs));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(new ConnectionRefusedError(nodeName, host, port, err));
    });
  });
}

