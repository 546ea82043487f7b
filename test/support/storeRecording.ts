/**
 * Writes an in-memory recording to disk through the real pipeline: each event becomes the trace
 * message the agent would have sent (docs/agent-protocol.md), one batch is term_to_binary'd, and the
 * Ingestor parses, correlates and writes it. Links and parents on disk are then the correlator's, not
 * the test builder's, so a query test on the result checks both agree.
 */

import { encode } from '../../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../../src/erlang/terms.js';
import type { StoredEvent } from '../../src/capture/event.js';
import { Ingestor } from '../../src/capture/ingestor.js';
import { RecordingWriter } from '../../src/store/writer.js';
import type { Recording } from '../../src/store/types.js';

const a = Atom.of;
const t = (...els: Term[]): Tuple => new Tuple(els);

/** The agent's message for one event (ts is written as native time with 10^9 units per second). */
export function traceMessage(e: StoredEvent): Term {
  const ts = e.ts;
  const p = e.pid;
  const mfa = (arity: Term): Tuple => t(a(e.mfa!.module), a(e.mfa!.fun), arity);
  const payload = e.payload() as Term;
  if (e.source === 'ast') {
    // Instrumented code's own message (docs/ast.md): the kind by name, the line as aux.
    return t(a('es_ast'), p, ts, a(e.kind), mfa(e.mfa!.arity), e.aux() as Term, payload);
  }
  switch (e.kind) {
    case 'call':
      return t(a('trace_ts'), p, a('call'), mfa(payload), ts);
    case 'return':
      return t(a('trace_ts'), p, a('return_from'), mfa(e.mfa!.arity), payload, ts);
    case 'exception':
      return t(a('trace_ts'), p, a('exception_from'), mfa(e.mfa!.arity), payload, ts);
    case 'send':
    case 'send_to_dead':
      return t(a('trace_ts'), p, a(e.kind === 'send' ? 'send' : 'send_to_non_existing_process'), payload, (e.peer ?? e.aux()) as Term, ts);
    case 'receive':
      return t(a('trace_ts'), p, a('receive'), payload, ts);
    case 'spawn':
    case 'spawned':
    case 'link':
    case 'unlink':
    case 'getting_linked':
    case 'getting_unlinked':
      return e.kind === 'spawn' || e.kind === 'spawned'
        ? t(a('trace_ts'), p, a(e.kind), e.peer as Pid, payload, ts)
        : t(a('trace_ts'), p, a(e.kind), e.peer as Pid, ts);
    case 'exit':
    case 'register':
    case 'unregister':
      return t(a('trace_ts'), p, a(e.kind), payload, ts);
    case 'state_init':
      return t(a('es_state_init'), p, ts, payload);
    case 'state': {
      const [raw, reply] = (e.aux() as Tuple).elements as [Term, Term];
      return t(a('es_state'), p, ts, raw, reply, payload);
    }
    case 'limit': {
      const [name, value, action] = (payload as Tuple).elements as [Term, Term, Term];
      return t(a('es_limit'), ts, name, value, action);
    }
    case 'line':
    case 'locals':
    case 'expr':
    case 'probe':
    case 'tail_call':
      throw new Error(`event #${e.id}: a ${e.kind} event must come from instrumented code (source 'ast')`);
  }
}

/** Writes every event of `rec` to a new recording in `dir` (limit events are filed under `relay`). */
export async function writeThroughStore(rec: Recording, dir: string, relay: Pid): Promise<void> {
  const writer = await RecordingWriter.create(dir, {
    node: rec.meta.node,
    otpRelease: '25',
    elixirVersion: '1.14.0',
    agentVersion: 1,
    monoStart: '0',
    nativePerSec: 1_000_000_000,
    request: { test: true },
  }, { fsync: 'never' });
  const ing = new Ingestor({ writer, relay });
  const messages: Term[] = [];
  for (let id = 0; id < rec.count; id++) messages.push(traceMessage(rec.event(id)));
  ing.ingest(1, encode(messages));
  await ing.close('complete', 'max_events');
}
