/**
 * Distribution control messages: the tuples that say what a frame means (send, link, exit,
 * monitor, ...), parsed into a typed `Signal` and built back from one.
 *
 * Sequential-trace tokens (the *_TT forms) are decoded and dropped: we never trace. When the peer
 * negotiated EXIT_PAYLOAD, SEND_SENDER or ALIAS we send the newer forms, as an OTP node would.
 */

import { Atom, ImproperList, isAtom, Pid, Reference, Tuple, atom, type Term } from './terms.js';
import { DFLAG } from './flags.js';

export const CTRL = {
  LINK: 1,
  SEND: 2,
  EXIT: 3,
  UNLINK: 4,
  NODE_LINK: 5,
  REG_SEND: 6,
  GROUP_LEADER: 7,
  EXIT2: 8,
  SEND_TT: 12,
  EXIT_TT: 13,
  REG_SEND_TT: 16,
  EXIT2_TT: 18,
  MONITOR_P: 19,
  DEMONITOR_P: 20,
  MONITOR_P_EXIT: 21,
  SEND_SENDER: 22,
  SEND_SENDER_TT: 23,
  PAYLOAD_EXIT: 24,
  PAYLOAD_EXIT_TT: 25,
  PAYLOAD_EXIT2: 26,
  PAYLOAD_EXIT2_TT: 27,
  PAYLOAD_MONITOR_P_EXIT: 28,
  SPAWN_REQUEST: 29,
  SPAWN_REQUEST_TT: 30,
  SPAWN_REPLY: 31,
  SPAWN_REPLY_TT: 32,
  ALIAS_SEND: 33,
  ALIAS_SEND_TT: 34,
  UNLINK_ID: 35,
  UNLINK_ID_ACK: 36,
} as const;

/** A process addressed by pid or by registered name (monitors by name carry the atom). */
export type ProcRef = Pid | Atom;

export type Signal =
  | { kind: 'send'; from: Pid | undefined; to: Pid; msg: Term }
  | { kind: 'reg_send'; from: Pid; name: Atom; msg: Term }
  | { kind: 'alias_send'; from: Pid; alias: Reference; msg: Term }
  | { kind: 'link'; from: Pid; to: Pid }
  | { kind: 'unlink_id'; id: number | bigint; from: Pid; to: Pid }
  | { kind: 'unlink_id_ack'; id: number | bigint; from: Pid; to: Pid }
  /** An exit signal because a link broke. */
  | { kind: 'exit'; from: Pid; to: Pid; reason: Term }
  /** An exit signal from erlang:exit/2. */
  | { kind: 'exit2'; from: Pid; to: Pid; reason: Term }
  | { kind: 'monitor'; from: Pid; target: ProcRef; ref: Reference }
  | { kind: 'demonitor'; from: Pid; target: ProcRef; ref: Reference }
  /** `sender`: the pid behind `target` when we send it (a name target does not say), for ordering. */
  | { kind: 'monitor_exit'; target: ProcRef; to: Pid; ref: Reference; reason: Term; sender?: Pid }
  /** Understood but nothing to do (GROUP_LEADER, NODE_LINK). */
  | { kind: 'ignored'; op: number }
  | { kind: 'unknown'; op: number };

export class MalformedControlError extends Error {}

const EMPTY_ATOM = atom('');

/** Turns a control tuple (and the payload term that followed it, if any) into a Signal. */
export function parseControl(ctrl: Term, payload: Term | undefined): Signal {
  if (!(ctrl instanceof Tuple) || ctrl.size === 0 || typeof ctrl.elements[0] !== 'number') {
    throw new MalformedControlError('the control message is not a tuple starting with an integer');
  }
  const e = ctrl.elements;
  const op = e[0] as number;
  const need = (n: number): void => {
    if (e.length < n) throw new MalformedControlError(`control message ${op} has ${e.length} elements, expected ${n}`);
  };
  const withPayload = (): Term => {
    if (payload === undefined) throw new MalformedControlError(`control message ${op} lacks its payload term`);
    return payload;
  };
  switch (op) {
    case CTRL.SEND:
    case CTRL.SEND_TT:
      need(3);
      return { kind: 'send', from: undefined, to: pid(e[2], op), msg: withPayload() };
    case CTRL.SEND_SENDER:
    case CTRL.SEND_SENDER_TT:
      need(3);
      return { kind: 'send', from: optionalPid(e[1]), to: pid(e[2], op), msg: withPayload() };
    case CTRL.REG_SEND:
    case CTRL.REG_SEND_TT:
      need(4);
      return { kind: 'reg_send', from: pid(e[1], op), name: atomOf(e[3], op), msg: withPayload() };
    case CTRL.ALIAS_SEND:
    case CTRL.ALIAS_SEND_TT:
      need(3);
      return { kind: 'alias_send', from: pid(e[1], op), alias: ref(e[2], op), msg: withPayload() };
    case CTRL.LINK:
      need(3);
      return { kind: 'link', from: pid(e[1], op), to: pid(e[2], op) };
    case CTRL.UNLINK_ID:
    case CTRL.UNLINK_ID_ACK:
      need(4);
      return {
        kind: op === CTRL.UNLINK_ID ? 'unlink_id' : 'unlink_id_ack',
        id: int(e[1], op),
        from: pid(e[2], op),
        to: pid(e[3], op),
      };
    case CTRL.EXIT:
      need(4);
      return { kind: 'exit', from: pid(e[1], op), to: pid(e[2], op), reason: e[3]! };
    case CTRL.EXIT_TT:
      need(5);
      return { kind: 'exit', from: pid(e[1], op), to: pid(e[2], op), reason: e[4]! };
    case CTRL.PAYLOAD_EXIT:
    case CTRL.PAYLOAD_EXIT_TT:
      need(3);
      return { kind: 'exit', from: pid(e[1], op), to: pid(e[2], op), reason: withPayload() };
    case CTRL.EXIT2:
      need(4);
      return { kind: 'exit2', from: pid(e[1], op), to: pid(e[2], op), reason: e[3]! };
    case CTRL.EXIT2_TT:
      need(5);
      return { kind: 'exit2', from: pid(e[1], op), to: pid(e[2], op), reason: e[4]! };
    case CTRL.PAYLOAD_EXIT2:
    case CTRL.PAYLOAD_EXIT2_TT:
      need(3);
      return { kind: 'exit2', from: pid(e[1], op), to: pid(e[2], op), reason: withPayload() };
    case CTRL.MONITOR_P:
    case CTRL.DEMONITOR_P:
      need(4);
      return {
        kind: op === CTRL.MONITOR_P ? 'monitor' : 'demonitor',
        from: pid(e[1], op),
        target: procRef(e[2], op),
        ref: ref(e[3], op),
      };
    case CTRL.MONITOR_P_EXIT:
      need(5);
      return { kind: 'monitor_exit', target: procRef(e[1], op), to: pid(e[2], op), ref: ref(e[3], op), reason: e[4]! };
    case CTRL.PAYLOAD_MONITOR_P_EXIT:
      need(4);
      return { kind: 'monitor_exit', target: procRef(e[1], op), to: pid(e[2], op), ref: ref(e[3], op), reason: withPayload() };
    case CTRL.GROUP_LEADER:
    case CTRL.NODE_LINK:
      return { kind: 'ignored', op };
    default:
      return { kind: 'unknown', op };
  }
}

/** The control tuple (and payload) that carries `sig` to a peer with the negotiated `flags`. */
export function buildControl(sig: Signal, flags: bigint): { ctrl: Tuple; payload?: Term } {
  const t = (...xs: Term[]): Tuple => new Tuple(xs);
  const has = (f: bigint): boolean => (flags & f) !== 0n;
  switch (sig.kind) {
    case 'send':
      if (sig.from !== undefined && has(DFLAG.SEND_SENDER)) return { ctrl: t(CTRL.SEND_SENDER, sig.from, sig.to), payload: sig.msg };
      return { ctrl: t(CTRL.SEND, EMPTY_ATOM, sig.to), payload: sig.msg };
    case 'reg_send':
      return { ctrl: t(CTRL.REG_SEND, sig.from, EMPTY_ATOM, sig.name), payload: sig.msg };
    case 'alias_send':
      return { ctrl: t(CTRL.ALIAS_SEND, sig.from, sig.alias), payload: sig.msg };
    case 'link':
      return { ctrl: t(CTRL.LINK, sig.from, sig.to) };
    case 'unlink_id':
      return { ctrl: t(CTRL.UNLINK_ID, sig.id, sig.from, sig.to) };
    case 'unlink_id_ack':
      return { ctrl: t(CTRL.UNLINK_ID_ACK, sig.id, sig.from, sig.to) };
    case 'exit':
      if (has(DFLAG.EXIT_PAYLOAD)) return { ctrl: t(CTRL.PAYLOAD_EXIT, sig.from, sig.to), payload: sig.reason };
      return { ctrl: t(CTRL.EXIT, sig.from, sig.to, sig.reason) };
    case 'exit2':
      if (has(DFLAG.EXIT_PAYLOAD)) return { ctrl: t(CTRL.PAYLOAD_EXIT2, sig.from, sig.to), payload: sig.reason };
      return { ctrl: t(CTRL.EXIT2, sig.from, sig.to, sig.reason) };
    case 'monitor':
      return { ctrl: t(CTRL.MONITOR_P, sig.from, sig.target, sig.ref) };
    case 'demonitor':
      return { ctrl: t(CTRL.DEMONITOR_P, sig.from, sig.target, sig.ref) };
    case 'monitor_exit':
      if (has(DFLAG.EXIT_PAYLOAD)) {
        return { ctrl: t(CTRL.PAYLOAD_MONITOR_P_EXIT, sig.target, sig.to, sig.ref), payload: sig.reason };
      }
      return { ctrl: t(CTRL.MONITOR_P_EXIT, sig.target, sig.to, sig.ref, sig.reason) };
    case 'ignored':
    case 'unknown':
      throw new Error(`cannot build control message of kind ${sig.kind}`);
  }
}

/** An OTP 24+ alias reply tag `[alias | Ref]` → Ref; anything else → undefined. */
export function aliasOfTag(tag: Term): Reference | undefined {
  if (tag instanceof ImproperList && tag.elements.length === 1 && isAtom(tag.elements[0], 'alias') && tag.tail instanceof Reference) {
    return tag.tail;
  }
  return undefined;
}

function pid(t: Term | undefined, op: number): Pid {
  if (t instanceof Pid) return t;
  throw new MalformedControlError(`control message ${op}: expected a pid`);
}

function optionalPid(t: Term | undefined): Pid | undefined {
  return t instanceof Pid ? t : undefined;
}

function ref(t: Term | undefined, op: number): Reference {
  if (t instanceof Reference) return t;
  throw new MalformedControlError(`control message ${op}: expected a reference`);
}

function atomOf(t: Term | undefined, op: number): Atom {
  if (t instanceof Atom) return t;
  throw new MalformedControlError(`control message ${op}: expected an atom`);
}

function procRef(t: Term | undefined, op: number): ProcRef {
  if (t instanceof Pid || t instanceof Atom) return t;
  throw new MalformedControlError(`control message ${op}: expected a pid or a registered name`);
}

function int(t: Term | undefined, op: number): number | bigint {
  if (typeof t === 'number' || typeof t === 'bigint') return t;
  throw new MalformedControlError(`control message ${op}: expected an integer`);
}
