/**
 * The messages between processes, in time order:
 *
 *   Messages among #PID<0.150.0> (Shop.Cart), #PID<0.151.0> (Shop.Inventory): 2
 *   #12  +0.100000s  #PID<0.150.0> (Shop.Cart) → #PID<0.151.0> (Shop.Inventory)  {:reserve, "sku-1", 2}  received #14 after 31µs
 *   #15  +0.100040s  #PID<0.151.0> (Shop.Inventory) → #PID<0.150.0> (Shop.Cart)  {:ok, 8}  not received
 */

import type { FlowMessage } from '../../store/query.js';
import type { Pid } from '../../erlang/terms.js';
import { destination, eventJson } from './event.js';
import { formatDuration, type Renderer } from './format.js';

export function flowText(pids: readonly Pid[], messages: readonly FlowMessage[], r: Renderer): string {
  const out = [`Messages among ${pids.map((p) => r.pid(p)).join(', ')}: ${messages.length}`];
  if (messages.length === 0) out.push('  (no traced messages between them)');
  const idWidth = Math.max(0, ...messages.map((m) => String(m.send.id).length)) + 1;
  for (const m of messages) {
    const s = m.send;
    const arrow = s.kind === 'send_to_dead' ? '→✗' : '→';
    let fate: string;
    if (m.receive !== null) fate = `received #${m.receive.id} after ${formatDuration(m.latencyNs ?? 0)}`;
    else if (s.kind === 'send_to_dead') fate = 'receiver was dead';
    else fate = 'no receive recorded';
    out.push(
      `${`#${s.id}`.padEnd(idWidth)}  ${r.ts(s.ts)}  ${r.pid(s.pid)} ${arrow} ${destination(s, r)}  ${r.term(s.payload())}  ${fate}`,
    );
  }
  return out.join('\n') + '\n';
}

export function flowJson(pids: readonly Pid[], messages: readonly FlowMessage[], r: Renderer): Record<string, unknown> {
  return {
    pids: pids.map((p) => r.pidText(p)),
    messages: messages.map((m) => ({
      send: eventJson(m.send, r),
      receive: m.receive === null ? null : eventJson(m.receive, r),
      latencyNs: m.latencyNs,
      inside: m.inside,
    })),
  };
}
