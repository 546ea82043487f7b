/**
 * The state-at view, after the original README's `inspect_state_at/2`:
 *
 *   State for #PID<0.150.0> (Shop.Cart) at event #42 (+0.001234s):
 *     Event: #42 +0.001234s CALL Shop.Pricing.price/1 (Args: ["sku-1"])
 *     GenServer State: %{items: %{"sku-1" => 2}, owner: "ann"}
 *       set by event #40 (+0.001200s), after call {:add, "sku-1", 2}, reply :ok
 *     Previous State: %{items: %{}, owner: "ann"} (event #30, +0.000900s)
 *     Active Call: Shop.Pricing.price/1 (event #42, +0.001234s)
 *       Arguments: ["sku-1"]
 *     Called from: Shop.Cart.handle_call/3 (event #38, +0.001100s)
 *       Arguments: [...]
 *     Last message: {:"$gen_call", ...} (event #37, +0.001090s, from #PID<0.160.0>)
 *
 * When instrumented code ran in the active call (docs/ast.md), its line and locals are shown there,
 * as the README's example does:
 *
 *     Active Call: MyModule.foo/1 (event #3, +0.000123s)
 *       At line 15 (event #7, +0.000160s)
 *       Local Variables (from AST):
 *         local_var_x: 456
 *         another_var: 789
 *       Arguments (from Runtime/AST): [123]
 */

import type { LocalBinding, StateAt, StateValue } from '../../store/query.js';
import type { Pid } from '../../erlang/terms.js';
import type { StoredEvent } from '../../capture/event.js';
import { eventJson, eventText, stateCause } from './event.js';
import { formatMfa, type Renderer } from './format.js';

export function stateAtText(pid: Pid, s: StateAt, r: Renderer): string {
  const out: string[] = [];
  out.push(`State for ${r.pid(pid)} at event #${s.at.id} (${r.ts(s.at.ts)}):`);
  out.push(`  Event: ${moment(s.at, r, s.at.pid.key !== pid.key)}`);
  if (s.last === null) {
    out.push('  The process had no recorded events yet at that moment.');
    return out.join('\n') + '\n';
  }
  if (s.last.id !== s.at.id) out.push(`  Its last event: ${moment(s.last, r, false)}`);
  if (s.state === null) {
    out.push('  GenServer State: none recorded (its state is recorded only when the recording traced it)');
  } else {
    out.push(`  GenServer State: ${r.term(s.state.value)}`);
    out.push(`    ${setBy(s.state, r)}`);
  }
  if (s.previousState !== null) {
    out.push(`  Previous State: ${r.term(s.previousState.value)} (event #${s.previousState.event.id}, ${r.ts(s.previousState.event.ts)})`);
  }
  if (s.stack.length === 0) {
    out.push('  Active Call: none (no traced call was open)');
    if (s.line !== null) out.push(`  At line ${s.line.line} (event #${s.line.event.id}, ${r.ts(s.line.event.ts)}), outside any traced call`);
    if (s.locals.length > 0) {
      out.push('  Local Variables (from AST):');
      out.push(...localLines(s.locals, r, '    '));
    }
  } else {
    // Innermost first, as a stack trace reads.
    for (let i = s.stack.length - 1; i >= 0; i--) {
      const f = s.stack[i]!;
      const active = i === s.stack.length - 1;
      const mfa = f.call.mfa === null ? '?' : formatMfa(f.call.mfa);
      out.push(`  ${active ? 'Active Call' : 'Called from'}: ${mfa} (event #${f.call.id}, ${r.ts(f.call.ts)})`);
      // Recordings without instrumentation keep the plain layout; with it, the README's.
      const ast = active && (s.line !== null || s.locals.length > 0 || f.call.source === 'ast');
      if (!ast) {
        out.push(`    Arguments: ${r.args(f.args)}`);
        continue;
      }
      if (s.line !== null) out.push(`    At line ${s.line.line} (event #${s.line.event.id}, ${r.ts(s.line.event.ts)})`);
      if (s.locals.length > 0) {
        out.push('    Local Variables (from AST):');
        out.push(...localLines(s.locals, r, '      '));
      }
      out.push(`    Arguments (from Runtime/AST): ${r.args(f.args)}`);
    }
  }
  if (s.lastMessage === null) {
    out.push('  Last message: none received');
  } else {
    const m = s.lastMessage;
    const from = m.link === null ? '' : `, from ${r.pid(r.recording.event(m.link).pid)}`;
    out.push(`  Last message: ${r.term(m.payload())} (event #${m.id}, ${r.ts(m.ts)}${from})`);
  }
  return out.join('\n') + '\n';
}

export function stateAtJson(pid: Pid, s: StateAt, r: Renderer): Record<string, unknown> {
  const state = (v: StateValue | null): Record<string, unknown> | null =>
    v === null ? null : { event: v.event.id, ts: v.event.ts, value: r.term(v.value), cause: stateCause(v.event.aux(), r) || null };
  return {
    pid: r.pidText(pid),
    name: r.nameOf(pid),
    at: eventJson(s.at, r),
    last: s.last === null ? null : s.last.id,
    state: state(s.state),
    previous_state: state(s.previousState),
    stack: s.stack.map((f) => ({
      event: f.call.id,
      ts: f.call.ts,
      mfa: f.call.mfa === null ? null : formatMfa(f.call.mfa),
      args: r.args(f.args),
      source: f.call.source,
    })),
    last_message: s.lastMessage === null ? null : eventJson(s.lastMessage, r),
    locals: s.locals.map((b) => ({ name: b.name, value: r.term(b.value), event: b.event.id, line: b.line })),
    line: s.line === null ? null : { line: s.line.line, event: s.line.event.id, ts: s.line.event.ts },
  };
}

function localLines(locals: readonly LocalBinding[], r: Renderer, indent: string): string[] {
  return locals.map((b) => `${indent}${b.name}: ${r.term(b.value)}`);
}

function setBy(v: StateValue, r: Renderer): string {
  const e = v.event;
  if (e.kind === 'state_init') return `read when tracing began (event #${e.id}, ${r.ts(e.ts)})`;
  const cause = stateCause(e.aux(), r);
  return `set by event #${e.id} (${r.ts(e.ts)})${cause === '' ? '' : `, ${cause}`}`;
}

/** `#9 +0.000127s CALL Shop.Pricing.price/1 (Args: ["sku-1"])`, with the pid when it is another process. */
function moment(e: StoredEvent, r: Renderer, withPid: boolean): string {
  return `#${e.id} ${r.ts(e.ts)} ${withPid ? `${r.pid(e.pid)} ` : ''}${eventText(e, r)}`;
}
