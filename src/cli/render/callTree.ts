/**
 * The call tree of one process, with durations:
 *
 *   Calls of #PID<0.150.0> (Shop.Cart): 4 calls
 *   Shop.Cart.handle_call/3  120µs  #38
 *   ├─ Shop.Cart.add/3  12.3µs  #39
 *   │  └─ Shop.Pricing.price/1  2.1µs  #40
 *   └─ Shop.Cart.total/1  raised error: :badarith after 3µs  #45
 */

import type { CallNode, CallTree } from '../../store/query.js';
import { Atom, Tuple } from '../../erlang/terms.js';
import { eventJson } from './event.js';
import { formatDuration, formatMfa, type Renderer } from './format.js';

export function callTreeText(tree: CallTree, r: Renderer): string {
  const out: string[] = [`Calls of ${r.pid(tree.pid)}: ${tree.calls} call${tree.calls === 1 ? '' : 's'}`];
  if (tree.calls === 0) out.push('  (no traced calls)');
  const walk = (node: CallNode, prefix: string, branch: string): void => {
    out.push(`${prefix}${branch}${nodeText(node, r)}`);
    const childPrefix = prefix + (branch === '├─ ' ? '│  ' : branch === '' ? '' : '   ');
    node.children.forEach((c, i) => {
      const lastChild = i === node.children.length - 1 && node.omitted === 0;
      walk(c, childPrefix, lastChild ? '└─ ' : '├─ ');
    });
    if (node.omitted > 0) out.push(`${childPrefix}└─ … ${node.omitted} more call${node.omitted === 1 ? '' : 's'} below --max-depth`);
  };
  for (const root of tree.roots) walk(root, '', '');
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
  });
  return { pid: r.pidText(tree.pid), name: r.nameOf(tree.pid), calls: tree.calls, roots: tree.roots.map(node) };
}

function nodeText(n: CallNode, r: Renderer): string {
  const mfa = n.call.mfa === null ? '?' : formatMfa(n.call.mfa);
  let how: string;
  if (n.end === null) how = 'unfinished';
  else if (n.status === 'raised') {
    const p = n.end.payload();
    const cls = p instanceof Tuple && p.elements[0] instanceof Atom ? p.elements[0].name : 'error';
    const reason = p instanceof Tuple && p.elements.length === 2 ? p.elements[1] : p;
    how = `raised ${cls}: ${r.term(reason)} after ${formatDuration(n.durationNs ?? 0)}`;
  } else how = formatDuration(n.durationNs ?? 0);
  return `${mfa}  ${how}  #${n.call.id}`;
}
