/**
 * An in-memory `Recording` for unit tests of the queries and views. Payloads are real ETF bytes
 * (encodeBody), so `payload()` decodes exactly as the store's events do.
 *
 *   const b = new RecordingBuilder('shop@vm');
 *   const cart = b.pid(150);
 *   b.call(cart, 1_000, 'Elixir.Shop.Cart', 'add', [1, 2]);   // parent: the innermost open call
 *   b.ret(cart, 2_000, atom('ok'));                           // link: the call it closes
 *   const rec = b.build();
 *
 * The builder keeps a call stack per pid, as the store's writer does, so `parent` and the `link` of
 * returns come out as the contract (src/capture/event.ts) describes. Runtime and AST calls share
 * it (docs/ast.md):
 *
 *   b.call(cart, 1_000, 'Elixir.Shop.Cart', 'total', [items]);
 *   b.locals(cart, 1_100, 12, [['sum', 3]]);                  // AST, inside total/1, line 12
 *   b.astCall(cart, 1_200, 'Elixir.Shop.Cart', 'loop', [1], 20);
 *   b.tailCall(cart, 1_300, 21, 'Elixir.Shop.Cart', 'loop', 1);
 */

import { EVENT_KINDS, type EventKind, type EventSource, type Mfa, type StoredEvent } from '../../src/capture/event.js';
import { decodeBody, encodeBody } from '../../src/erlang/etf/index.js';
import { atom, Atom, Pid, Tuple, type EncodableTerm, type Term } from '../../src/erlang/terms.js';
import { inspect } from '../../src/erlang/inspect.js';
import type { ProcessInfo, Recording, RecordingMeta } from '../../src/store/types.js';

interface RawEvent {
  id: number;
  ts: number;
  kind: EventKind;
  source: EventSource;
  pid: Pid;
  mfa: Mfa | null;
  peer: Pid | null;
  link: number | null;
  parent: number | null;
  payload: Buffer | undefined;
  aux: Buffer | undefined;
}

export interface EventSpec {
  ts: number;
  kind: EventKind;
  pid: Pid;
  mfa?: Mfa | null;
  peer?: Pid | null;
  link?: number | null;
  parent?: number | null;
  payload?: EncodableTerm;
  aux?: EncodableTerm;
  source?: EventSource;
}

export class RecordingBuilder {
  private readonly events: RawEvent[] = [];
  private readonly stacks = new Map<string, number[]>();
  readonly node: Atom;

  constructor(node = 'shop@vm') {
    this.node = atom(node);
  }

  pid(id: number, serial = 0): Pid {
    return new Pid(this.node, id, serial, 1);
  }

  /** Appends one event as given; parent defaults to the innermost open call on its pid. */
  add(spec: EventSpec): number {
    const id = this.events.length;
    const stack = this.stackOf(spec.pid);
    this.events.push({
      id,
      ts: spec.ts,
      kind: spec.kind,
      source: spec.source ?? 'runtime',
      pid: spec.pid,
      mfa: spec.mfa ?? null,
      peer: spec.peer ?? null,
      link: spec.link ?? null,
      parent: spec.parent !== undefined ? spec.parent : (stack[stack.length - 1] ?? null),
      payload: spec.payload === undefined ? undefined : encodeBody(spec.payload),
      aux: spec.aux === undefined ? undefined : encodeBody(spec.aux),
    });
    return id;
  }

  call(pid: Pid, ts: number, module: string, fun: string, args: EncodableTerm[]): number {
    const id = this.add({ ts, kind: 'call', pid, mfa: { module, fun, arity: args.length }, payload: args });
    this.stackOf(pid).push(id);
    return id;
  }

  ret(pid: Pid, ts: number, result: EncodableTerm): number {
    return this.close(pid, ts, 'return', result);
  }

  raise(pid: Pid, ts: number, cls: string, reason: Term): number {
    return this.close(pid, ts, 'exception', new Tuple([atom(cls), reason]));
  }

  send(from: Pid, ts: number, to: Pid | null, msg: EncodableTerm, dest?: EncodableTerm): number {
    return this.add({ ts, kind: to === null ? 'send_to_dead' : 'send', pid: from, peer: to, payload: msg, aux: dest });
  }

  receive(pid: Pid, ts: number, msg: EncodableTerm, sendId: number | null): number {
    return this.add({ ts, kind: 'receive', pid, payload: msg, link: sendId });
  }

  /** A clause of an instrumented function entered (AST call; `line` is its head's line). */
  astCall(pid: Pid, ts: number, module: string, fun: string, args: EncodableTerm[], line: number): number {
    const id = this.add({ ts, kind: 'call', source: 'ast', pid, mfa: { module, fun, arity: args.length }, payload: args, aux: line });
    this.stackOf(pid).push(id);
    return id;
  }

  astRet(pid: Pid, ts: number, result: EncodableTerm, line: number): number {
    return this.close(pid, ts, 'return', result, line);
  }

  astRaise(pid: Pid, ts: number, cls: string, reason: Term, line: number): number {
    return this.close(pid, ts, 'exception', new Tuple([atom(cls), reason]), line);
  }

  /** The innermost open call ends in a tail call to module.fun/arity. */
  tailCall(pid: Pid, ts: number, line: number, module: string, fun: string, arity: number): number {
    return this.close(pid, ts, 'tail_call', new Tuple([atom(module), atom(fun), arity]), line);
  }

  /** AST `line` in the innermost open call (its MFA is the event's). */
  line(pid: Pid, ts: number, line: number): number {
    return this.add({ ts, kind: 'line', source: 'ast', pid, mfa: this.openMfa(pid), payload: atom('nil'), aux: line });
  }

  /** AST `locals`: bindings `[name, value]` after `line` ran, in the innermost open call. */
  locals(pid: Pid, ts: number, line: number, bindings: Array<[string, EncodableTerm]>): number {
    const payload = bindings.map(([n, v]) => new Tuple([atom(n), v as Term]));
    return this.add({ ts, kind: 'locals', source: 'ast', pid, mfa: this.openMfa(pid), payload, aux: line });
  }

  /** AST `expr` or `probe`: `{label, value}` at `line`, in the innermost open call. */
  labelled(pid: Pid, ts: number, kind: 'expr' | 'probe', line: number, label: string, value: EncodableTerm): number {
    const payload = new Tuple([Buffer.from(label, 'utf8'), value as Term]);
    return this.add({ ts, kind, source: 'ast', pid, mfa: this.openMfa(pid), payload, aux: line });
  }

  private openMfa(pid: Pid): Mfa {
    const stack = this.stackOf(pid);
    const top = stack[stack.length - 1];
    if (top === undefined) throw new Error(`test fixture: an AST event on ${pid.id} needs an open call (its function)`);
    return this.events[top]!.mfa!;
  }

  private close(pid: Pid, ts: number, kind: 'return' | 'exception' | 'tail_call', payload: EncodableTerm, line?: number): number {
    const stack = this.stackOf(pid);
    const callId = stack.pop();
    if (callId === undefined) throw new Error(`test fixture: ${kind} on ${pid.id} with no open call`);
    const call = this.events[callId]!;
    const source = line === undefined ? 'runtime' : 'ast';
    return this.add({ ts, kind, source, pid, mfa: call.mfa, payload, aux: line, link: callId, parent: call.parent });
  }

  private stackOf(pid: Pid): number[] {
    let s = this.stacks.get(pid.key);
    if (s === undefined) {
      s = [];
      this.stacks.set(pid.key, s);
    }
    return s;
  }

  build(dir = '/tmp/memory-recording'): MemoryRecording {
    return new MemoryRecording(dir, this.node.name, this.events.slice());
  }
}

class MemoryEvent implements StoredEvent {
  constructor(private readonly raw: RawEvent) {}
  get id(): number {
    return this.raw.id;
  }
  get ts(): number {
    return this.raw.ts;
  }
  get kind(): EventKind {
    return this.raw.kind;
  }
  get source(): EventSource {
    return this.raw.source;
  }
  get pid(): Pid {
    return this.raw.pid;
  }
  get mfa(): Mfa | null {
    return this.raw.mfa;
  }
  get peer(): Pid | null {
    return this.raw.peer;
  }
  get link(): number | null {
    return this.raw.link;
  }
  get parent(): number | null {
    return this.raw.parent;
  }
  payload(): Term | undefined {
    return this.raw.payload === undefined ? undefined : decodeBody(this.raw.payload, 0).term;
  }
  aux(): Term | undefined {
    return this.raw.aux === undefined ? undefined : decodeBody(this.raw.aux, 0).term;
  }
  payloadBytes(): Uint8Array | undefined {
    return this.raw.payload;
  }
}

export class MemoryRecording implements Recording {
  readonly meta: RecordingMeta;
  private readonly byPid = new Map<string, number[]>();
  private readonly pidsByKey = new Map<string, Pid>();
  /** How many times event() was called: lets tests check that a query did not scan. */
  reads = 0;

  constructor(
    readonly dir: string,
    node: string,
    private readonly events: RawEvent[],
  ) {
    const byKind: Partial<Record<EventKind, number>> = {};
    for (const e of events) {
      byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
      let ids = this.byPid.get(e.pid.key);
      if (ids === undefined) {
        ids = [];
        this.byPid.set(e.pid.key, ids);
        this.pidsByKey.set(e.pid.key, e.pid);
      }
      ids.push(e.id);
    }
    this.meta = {
      schema: 2,
      node,
      otpRelease: '25',
      elixirVersion: '1.14.0',
      agentVersion: 1,
      startedAt: 0,
      monoStart: '0',
      nativePerSec: 1_000_000_000,
      request: null,
      status: 'complete',
      stopReason: null,
      endedAt: null,
      counts: {
        received: events.length,
        stored: events.length,
        dropped: { buffer_full: 0, agent: {}, after_stop: 0, malformed: 0 },
        truncated: 0,
        byKind,
      },
      errors: [],
    };
  }

  get count(): number {
    return this.events.length;
  }

  event(id: number): StoredEvent {
    const raw = this.events[id];
    if (raw === undefined) throw new RangeError(`memory recording: no event #${id}`);
    this.reads++;
    return new MemoryEvent(raw);
  }

  idsOfPid(pid: Pid): Uint32Array {
    return Uint32Array.from(this.byPid.get(pid.key) ?? []);
  }

  processes(): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    for (const [key, ids] of this.byPid) {
      let name: string | null = null;
      let initialCall: string | null = null;
      for (const id of ids) {
        const e = this.events[id]!;
        if (e.kind === 'register' && e.payload !== undefined) {
          const t = decodeBody(e.payload, 0).term;
          if (t instanceof Atom) name = t.name;
        } else if (e.kind === 'spawned' && e.payload !== undefined) {
          initialCall = inspect(decodeBody(e.payload, 0).term);
        }
      }
      out.push({ pid: this.pidsByKey.get(key)!, name, initialCall, firstId: ids[0]!, lastId: ids[ids.length - 1]!, count: ids.length });
    }
    return out;
  }

  resolvePid(text: string): Pid | undefined {
    const m = /^(?:#PID)?<(\d+)\.(\d+)\.(\d+)>$/.exec(text.trim());
    for (const info of this.processes()) {
      if (m !== null) {
        if (info.pid.node.name === this.meta.node && m[1] === '0' && info.pid.id === Number(m[2]) && info.pid.serial === Number(m[3])) {
          return info.pid;
        }
      } else if (info.name !== null && (info.name === text || info.name === `Elixir.${text}`)) {
        return info.pid;
      }
    }
    return undefined;
  }

  firstIdAtOrAfter(tsNs: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.ts < tsNs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): void {
    // Nothing to release: the events live in this object.
  }
}

/** Event kinds in code order, for tests that want every kind. */
export const ALL_KINDS = Object.keys(EVENT_KINDS) as EventKind[];

/**
 * The README's hybrid example and more, as one recording of `MyModule` on `<0.123.0>`: a runtime
 * call with AST lines, locals, an expression and a probe inside it, a nested instrumented helper
 * with locals of its own, a message to `<0.124.0>`, and an instrumented tail-recursive loop whose
 * second iteration raises. Ids are fixed (the comments say which is which); tests refer to them.
 */
export function astRecording(): { b: RecordingBuilder; main: Pid; worker: Pid } {
  const b = new RecordingBuilder('app@vm');
  const main = b.pid(123);
  const worker = b.pid(124);
  const M = 'Elixir.MyModule';
  b.call(main, 123_000, M, 'foo', [123]); // #0
  b.locals(main, 140_000, 10, [['local_var_x', 456]]); // #1
  const send = b.send(main, 150_000, worker, new Tuple([atom('work_item'), 1])); // #2
  b.receive(worker, 155_000, new Tuple([atom('work_item'), 1]), send); // #3
  b.locals(main, 160_000, 15, [['another_var', 789]]); // #4
  b.labelled(main, 165_000, 'expr', 16, 'Enum.sum(xs)', 6); // #5
  b.astCall(main, 170_000, M, 'helper', [[1, 2]], 30); // #6
  b.locals(main, 171_000, 31, [['acc', 3], ['local_var_x', 0]]); // #7
  b.astRet(main, 172_000, 3, 32); // #8
  b.labelled(main, 175_000, 'probe', 17, 'length(items)', 2); // #9
  b.line(main, 180_000, 18); // #10
  b.locals(main, 181_000, 18, [['local_var_x', 457]]); // #11
  b.ret(main, 190_000, atom('ok')); // #12
  b.astCall(main, 200_000, M, 'loop', [3, 0], 40); // #13
  b.locals(main, 201_000, 41, [['n', 3], ['acc', 0], ['first', true]]); // #14
  b.tailCall(main, 202_000, 42, M, 'loop', 2); // #15
  b.astCall(main, 203_000, M, 'loop', [2, 3], 40); // #16
  b.locals(main, 204_000, 41, [['n', 2], ['acc', 3]]); // #17
  b.astRaise(main, 205_000, 'error', atom('badarith'), 43); // #18
  return { b, main, worker };
}
