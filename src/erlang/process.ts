/**
 * A process on our side of the link: a pid other nodes can send to, link to and monitor.
 *
 *   const p = local.spawn();
 *   p.send(remotePid, tuple(atom('hello'), p.pid));
 *   const reply = await p.receive((m) => isTuple(m, 2), 1000);
 *   const ref = p.monitor(remotePid);   // {:DOWN, ref, :process, pid, reason} arrives on exit
 *   p.exit(atom('shutdown'));            // linked pids get the exit signal, monitors fire
 *
 * Semantics follow the BEAM: exit signals from links kill the process unless it traps exits (then
 * they arrive as {:EXIT, from, reason}); `normal` is ignored by a non-trapping process; `kill` sent
 * with exit/2 cannot be trapped. Links use the OTP 23.3+ protocol with UNLINK_ID and its ack.
 */

import type { ProcRef, Signal } from './controlMessages.js';
import { ProcessExitedError, ReceiveTimeoutError } from './errors.js';
import { Mailbox } from './mailbox.js';
import { Atom, atom, Pid, Reference, Tuple, type Term } from './terms.js';

/** Where a message can go: a pid, an alias, a local registered name, or a name on a node. */
export type Destination = Pid | Reference | Atom | string | [Atom | string, Atom | string] | Tuple;

/** A monitor target: a pid, a local name, or a `[name, node]` pair. */
export type MonitorTarget = Pid | Atom | string | [Atom | string, Atom | string] | Tuple;

/** What a process needs from its node; LocalNode implements it. */
export interface ProcessHost {
  readonly nodeAtom: Atom;
  makeRef(): Reference;
  /** Routes a message; `from` is the sender (for SEND_SENDER / REG_SEND). */
  route(from: Pid, to: Destination, msg: Term): void;
  /** Delivers a signal to the process or node it is addressed to. */
  signal(targetNode: Atom, sig: Signal): void;
  registerName(name: Atom, p: LocalProcess): void;
  addAlias(ref: Reference, p: LocalProcess): void;
  removeAlias(ref: Reference): void;
  processExited(p: LocalProcess): void;
  render(t: Term): string;
}

interface LinkInfo {
  pid: Pid;
  active: boolean;
  unlinkId: number | bigint | undefined;
}

interface MonitorOut {
  ref: Reference;
  /** What the DOWN message names: the pid, or `{name, node}`. */
  object: Term;
  /** What the MONITOR_P carried: pid or name. */
  target: ProcRef;
  node: Atom;
}

interface MonitorIn {
  ref: Reference;
  from: Pid;
  target: ProcRef;
}

const A_EXIT = atom('EXIT');
const A_DOWN = atom('DOWN');
const A_PROCESS = atom('process');
const A_NORMAL = atom('normal');
const A_KILL = atom('kill');
const A_KILLED = atom('killed');

let unlinkCounter = 0;

export class LocalProcess {
  private readonly mailbox = new Mailbox();
  private trapping = false;
  private exitReason: Term | undefined;
  private resolveExited!: (reason: Term) => void;
  /** Resolves with the exit reason once the process has exited. */
  readonly exited: Promise<Term>;
  /** @internal */ readonly links = new Map<string, LinkInfo>();
  /** @internal */ readonly monitorsOut = new Map<string, MonitorOut>();
  /** @internal */ readonly monitorsIn = new Map<string, MonitorIn>();
  /** @internal */ readonly aliases = new Set<Reference>();
  /** @internal */ registeredName: Atom | undefined;
  /**
   * @internal When set, messages go to this function instead of the mailbox (used by the group
   * leader and served names, which react to each message instead of receiving in a loop).
   */
  handler: ((msg: Term) => void) | undefined;

  constructor(
    private readonly host: ProcessHost,
    readonly pid: Pid,
  ) {
    this.exited = new Promise((r) => (this.resolveExited = r));
  }

  get alive(): boolean {
    return this.exitReason === undefined;
  }

  /** The exit reason, once exited. */
  get reason(): Term | undefined {
    return this.exitReason;
  }

  get name(): Atom | undefined {
    return this.registeredName;
  }

  /** Messages waiting in the mailbox. */
  get queueLength(): number {
    return this.mailbox.size;
  }

  /**
   * The oldest message matching `pred` (default: any). Rejects with ReceiveTimeoutError after
   * `timeoutMs`, or with ProcessExitedError if the process exits while waiting.
   */
  receive(pred: (m: Term) => boolean = () => true, timeoutMs?: number): Promise<Term> {
    return this.mailbox.take(pred, timeoutMs, () => new ReceiveTimeoutError(this.host.render(this.pid), timeoutMs ?? 0));
  }

  send(to: Destination, msg: Term): void {
    this.checkAlive();
    this.host.route(this.pid, to, msg);
  }

  register(name: string | Atom): void {
    this.checkAlive();
    this.host.registerName(typeof name === 'string' ? atom(name) : name, this);
  }

  /** Makes exit signals arrive as {:EXIT, from, reason} messages instead of killing us. */
  trapExits(on = true): void {
    this.trapping = on;
  }

  get trapsExits(): boolean {
    return this.trapping;
  }

  link(pid: Pid): void {
    this.checkAlive();
    if (pid.key === this.pid.key) return;
    const l = this.links.get(pid.key);
    if (l?.active) return;
    this.links.set(pid.key, { pid, active: true, unlinkId: undefined });
    this.host.signal(pid.node, { kind: 'link', from: this.pid, to: pid });
  }

  unlink(pid: Pid): void {
    this.checkAlive();
    const l = this.links.get(pid.key);
    if (!l?.active) return;
    unlinkCounter = (unlinkCounter + 1) % Number.MAX_SAFE_INTEGER || 1;
    l.active = false;
    l.unlinkId = unlinkCounter;
    this.host.signal(pid.node, { kind: 'unlink_id', id: unlinkCounter, from: this.pid, to: pid });
  }

  /** Is there an active link to `pid`? */
  isLinkedTo(pid: Pid): boolean {
    return this.links.get(pid.key)?.active === true;
  }

  /** Monitors a process; {:DOWN, ref, :process, object, reason} arrives when it goes away. */
  monitor(target: MonitorTarget): Reference {
    this.checkAlive();
    const ref = this.host.makeRef();
    let procRef: ProcRef;
    let node: Atom;
    let object: Term;
    if (target instanceof Pid) {
      procRef = target;
      node = target.node;
      object = target;
    } else {
      const [name, n] = nameAndNode(target, this.host.nodeAtom);
      procRef = name;
      node = n;
      object = new Tuple([name, n]);
    }
    this.monitorsOut.set(ref.key, { ref, object, target: procRef, node });
    this.host.signal(node, { kind: 'monitor', from: this.pid, target: procRef, ref });
    return ref;
  }

  /** Removes a monitor; with `flush`, also drops a DOWN for it already in the mailbox. */
  demonitor(ref: Reference, opts: { flush?: boolean } = {}): void {
    const m = this.monitorsOut.get(ref.key);
    if (m) {
      this.monitorsOut.delete(ref.key);
      this.host.signal(m.node, { kind: 'demonitor', from: this.pid, target: m.target, ref });
    }
    if (opts.flush) this.mailbox.drop((msg) => isDown(msg, ref));
  }

  /** Sends an exit signal to another process, like erlang:exit/2. */
  exitSignal(to: Pid, reason: Term): void {
    this.checkAlive();
    this.host.signal(to.node, { kind: 'exit2', from: this.pid, to, reason });
  }

  /** A reference that, while this process lives, routes messages sent to it here (OTP 24 aliases). */
  alias(): Reference {
    this.checkAlive();
    const ref = this.host.makeRef();
    this.aliases.add(ref);
    this.host.addAlias(ref, this);
    return ref;
  }

  unalias(ref: Reference): void {
    if (this.aliases.delete(ref)) this.host.removeAlias(ref);
  }

  /** Ends this process with `reason` (default `normal`): links and monitors fire. */
  exit(reason: Term = A_NORMAL): void {
    this.die(reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Called by the node (signals addressed to this process)
  // ---------------------------------------------------------------------------------------------

  /** @internal */
  deliver(msg: Term): void {
    if (!this.alive) return;
    if (this.handler) this.handler(msg);
    else this.mailbox.put(msg);
  }

  /** @internal An exit signal arrived; `viaLink` for link breaks, false for exit/2. */
  exitSignalArrived(from: Pid, reason: Term, viaLink: boolean): void {
    if (!this.alive) return;
    if (!viaLink && reason === A_KILL) {
      this.die(A_KILLED);
      return;
    }
    if (this.trapping) {
      this.deliver(new Tuple([A_EXIT, from, reason]));
      return;
    }
    if (reason === A_NORMAL && from.key !== this.pid.key) return;
    this.die(reason);
  }

  /** @internal A monitor we hold fired. */
  monitorFired(ref: Reference, reason: Term): void {
    const m = this.monitorsOut.get(ref.key);
    if (!m) return;
    this.monitorsOut.delete(ref.key);
    this.deliver(new Tuple([A_DOWN, ref, A_PROCESS, m.object, reason]));
  }

  private die(reason: Term): void {
    if (!this.alive) return;
    this.exitReason = reason;
    this.mailbox.close(() => new ProcessExitedError(this.host.render(this.pid), reason, this.host.render(reason)));
    for (const l of this.links.values()) {
      if (l.active) this.host.signal(l.pid.node, { kind: 'exit', from: this.pid, to: l.pid, reason });
    }
    this.links.clear();
    for (const m of this.monitorsIn.values()) {
      this.host.signal(m.from.node, { kind: 'monitor_exit', target: m.target, to: m.from, ref: m.ref, reason, sender: this.pid });
    }
    this.monitorsIn.clear();
    for (const m of this.monitorsOut.values()) {
      this.host.signal(m.node, { kind: 'demonitor', from: this.pid, target: m.target, ref: m.ref });
    }
    this.monitorsOut.clear();
    for (const a of this.aliases) this.host.removeAlias(a);
    this.aliases.clear();
    this.host.processExited(this);
    this.resolveExited(reason);
  }

  private checkAlive(): void {
    if (!this.alive) {
      throw new ProcessExitedError(this.host.render(this.pid), this.exitReason!, this.host.render(this.exitReason!));
    }
  }
}

/** `{:DOWN, ref, ...}` for this ref? */
export function isDown(msg: Term, ref: Reference): boolean {
  return msg instanceof Tuple && msg.size === 5 && msg.elements[0] === A_DOWN && msg.elements[1] instanceof Reference && msg.elements[1].key === ref.key;
}

/** Normalises a name target (`'name'`, atom, `[name, node]`, `{name, node}`) to atoms. */
export function nameAndNode(target: Exclude<MonitorTarget, Pid> | Atom | string, local: Atom): [Atom, Atom] {
  const toAtom = (x: Term | string): Atom => {
    if (typeof x === 'string') return atom(x);
    if (x instanceof Atom) return x;
    throw new TypeError('a registered name or node must be an atom or a string');
  };
  if (typeof target === 'string' || target instanceof Atom) return [toAtom(target), local];
  if (Array.isArray(target)) return [toAtom(target[0]), toAtom(target[1])];
  if (target instanceof Tuple && target.size === 2) return [toAtom(target.elements[0]!), toAtom(target.elements[1]!)];
  throw new TypeError('expected a pid, a name, or a [name, node] pair');
}

