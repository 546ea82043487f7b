/**
 * The call tree of one process, with durations:
 *
 *   Calls of #PID<0.150.0> (Shop.Cart): 4 calls
 *   Shop.Cart.handle_call/3  120µs  #38
 *   ├─ Shop.Cart.add/3  12.3µs  #39
 *   │  └─ Shop.Pricing.price/1  2.1µs  #40
 *   └─ Shop.Cart.total/1  raised error: :badarith after 3µs  #45
 *
 * Events of instrumented code inside a call (line, locals, expr, probe) are listed among its
 * children in id order, marked `·`; a call that ended in a tail call says where it went:
 *
 *   Shop.Cart.total/1  40µs  #50
 *   ├─ · LINE 12 Shop.Cart.total/1: sum = 3  #52
 *   └─ Shop.Cart.loop/2  tail call → Shop.Cart.loop/2 after 2µs  #53
 */

import type { CallNode, CallTree } from '../../store/query.js';
import type { StoredEvent } from '../../capture/event.js';
import { Atom, Tuple } from '../../erlang/terms.js';
import { calleeText, eventJson, eventText } from './event.js';
import { formatDuration, formatMfa, type Renderer } from './format.js';

export function callTreeText(tree: CallTree, r: Renderer): string {
  const out: string[] = [`Calls of ${r.pid(tree.pid)}: ${tree.calls} call${tree.calls === 1 ? '' : 's'}`];
  if (tree.calls === 0) out.push('  (no traced calls)');
  const walk = (node: CallNode, prefix: string, branch: string): void => {
    out.push(`${prefix}${branch}${nodeText(node, r)}`);
    const childPrefix = prefix + (branch === '├─ ' ? '│  ' : branch === '' ? '' : '   ');
    const items = byId(node.children, node.inner);
    items.forEach((c, i) => {
      const lastChild = i === items.length - 1 && node.omitted === 0;
      const b = lastChild ? '└─ ' : '├─ ';
      if ('call' in c) walk(c, childPrefix, b);
      else out.push(`${childPrefix}${b}${innerText(c, r)}`);
    });
    if (node.omitted > 0) out.push(`${childPrefix}└─ … ${node.omitted} more call${node.omitted === 1 ? '' : 's'} below --max-depth`);
  };
  for (const item of byId(tree.roots, tree.inner)) {
    if ('call' in item) walk(item, '', '');
    else out.push(innerText(item, r));
  }
  return out.join('\n') + '\n';
}

export function callTreeJson(tree: CallTree, r: Renderer): Record<string, unknown> {
  const node = (n: CallNode): Record<string, unknown> => ({
    id: n.call.id,
    ts: n.call.ts,
    mfa: n.call.mfa === null ? null : formatMfa(n.call.mfa),
    args: r.args(n.call.payload()),
    status: n.status,
    end: n.end === null ? null : eventJson(n.end, r),
    durationNs: n.durationNs,
    omitted: n.omitted,
    children: n.children.map(node),
    inner: n.inner.map((e) => eventJson(e, r)),
  });
  return {
    pid: r.pidText(tree.pid),
    name: r.nameOf(tree.pid),
    calls: tree.calls,
    roots: tree.roots.map(node),
    inner: tree.inner.map((e) => eventJson(e, r)),
  };
}

/** Calls and AST events merged in id order (both lists are already in id order). */
function byId(calls: readonly CallNode[], inner: readonly StoredEvent[]): Array<CallNode | StoredEvent> {
  const out: Array<CallNode | StoredEvent> = [];
  let i = 0;
  let j = 0;
  while (i < calls.length || j < inner.length) {
    if (j >= inner.length || (i < calls.length && calls[i]!.call.id < inner[j]!.id)) out.push(calls[i++]!);
    else out.push(inner[j++]!);
  }
  return out;
}

function innerText(e: StoredEvent, r: Renderer): string {
  return `· ${eventText(e, r)}  #${e.id}`;
}

function nodeText(n: CallNode, r: Renderer): string {
  const mfa = n.call.mfa === null ? '?' : formatMfa(n.call.mfa);
  let how: string;
  if (n.end === null) how = 'unfinished';
  else if (n.status === 'tail_call') how = `tail call → ${calleeText(n.end.payload(), r)} after ${formatDuration(n.durationNs ?? 0)}`;
  else if (n.status === 'raised') {
    const p = n.end.payload();
    const cls = p instanceof Tuple && p.elements[0] instanceof Atom ? p.elements[0].name : 'error';
    const reason = p instanceof Tuple && p.elements.length === 2 ? p.elements[1] : p;
    how = `raised ${cls}: ${r.term(reason)} after ${formatDuration(n.durationNs ?? 0)}`;
  } else how = formatDuration(n.durationNs ?? 0);
  return `${mfa}  ${how}  #${n.call.id}`;
}
