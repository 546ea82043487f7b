/**
 * Short, single-line rendering of a term for error messages (reasons of exits and badrpc).
 * Stopgap until the inspect module lands; then this delegates to it.
 */

import { Atom, BitBinary, ErlFloat, ErlMap, ExportFun, Fun, ImproperList, Pid, Port, Reference, Tuple, type Term } from './terms.js';

export function renderTerm(t: Term, depth = 0): string {
  if (depth > 8) return '...';
  const r = (x: Term): string => renderTerm(x, depth + 1);
  if (typeof t === 'number' || typeof t === 'bigint') return String(t);
  if (t instanceof ErlFloat) return Number.isInteger(t.value) ? `${t.value}.0` : String(t.value);
  if (t instanceof Atom) return /^[a-z][A-Za-z0-9_@]*$/.test(t.name) ? t.name : `'${t.name.replace(/'/g, "\\'")}'`;
  if (t instanceof Tuple) return `{${t.elements.map(r).join(', ')}}`;
  if (Array.isArray(t)) return `[${t.slice(0, 50).map(r).join(', ')}${t.length > 50 ? ', ...' : ''}]`;
  if (t instanceof ImproperList) return `[${t.elements.map(r).join(', ')} | ${r(t.tail)}]`;
  if (Buffer.isBuffer(t)) {
    const s = t.subarray(0, 200).toString('utf8');
    return `<<"${s.replace(/"/g, '\\"')}${t.length > 200 ? '...' : ''}">>`;
  }
  if (t instanceof BitBinary) return `<<${t.bitSize} bits>>`;
  if (t instanceof ErlMap) return `#{${t.entries.map(([k, v]) => `${r(k)} => ${r(v)}`).join(', ')}}`;
  if (t instanceof Pid) return `<${t.node.name}.${t.id}.${t.serial}>`;
  if (t instanceof Port) return `#Port<${t.node.name}.${t.id}>`;
  if (t instanceof Reference) return `#Ref<${t.node.name}.${t.ids.join('.')}>`;
  if (t instanceof ExportFun) return `fun ${t.module.name}:${t.fun.name}/${t.arity}`;
  if (t instanceof Fun) return `#Fun<${t.module.name}.${t.index}>`;
  return '#Term<>';
}
