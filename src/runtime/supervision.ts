/**
 * Reads the traced node's supervision trees (elixir_scope_agent:supervision_tree/1) into the plain
 * form a recording's meta keeps (SupervisionSnapshot), so that the Cinema can group processes that
 * started before the recording by the supervisor chain they run under.
 *
 *   const snap = await readSupervision(remote);       // the agent must be loaded
 *   writer.setStopSupervision(snap);
 *
 * Safe on a live node: the agent only reads, asks each supervisor with a short timeout and skips
 * a busy one (docs/agent-protocol.md, "Supervision tree").
 */

import type { RemoteNode } from '../erlang/remoteNode.js';
import { inspect } from '../erlang/inspect.js';
import { Atom, ErlMap, isAtom, isTuple, Pid, type Term } from '../erlang/terms.js';
import { AGENT_MODULE } from '../agent/loader.js';
import type { SupervisionEntry, SupervisionSkip, SupervisionSnapshot } from '../store/types.js';

export interface SupervisionOptions {
  /** Most ms one supervisor may take to answer before it is skipped. Default 500. */
  timeoutMs?: number;
  /** Most entries returned; past it the snapshot says `truncated`. Default 20,000. */
  maxEntries?: number;
  /** Most ms the whole walk may spend asking; supervisors left after it are skipped. Default 5,000. */
  budgetMs?: number;
}

export const SUPERVISION_DEFAULTS: Required<SupervisionOptions> = { timeoutMs: 500, maxEntries: 20_000, budgetMs: 5000 };

const SKIPS: readonly SupervisionSkip[] = ['timeout', 'busy', 'suspended', 'noproc', 'not_a_supervisor', 'too_many', 'budget', 'error'];

/** Asks the agent for the trees; rejects with what the agent said when it refuses. */
export async function readSupervision(remote: RemoteNode, opts: SupervisionOptions = {}): Promise<SupervisionSnapshot> {
  const o = { ...SUPERVISION_DEFAULTS, ...opts };
  const args = new ErlMap([
    [Atom.of('timeout'), o.timeoutMs],
    [Atom.of('max_entries'), o.maxEntries],
    [Atom.of('budget_ms'), o.budgetMs],
  ]);
  // The agent stops asking after budgetMs, and one last supervisor may take timeoutMs more.
  const reply = await remote.rpc(AGENT_MODULE, 'supervision_tree', [args], { timeoutMs: o.budgetMs + o.timeoutMs * 2 + 5000 });
  if (!(isTuple(reply, 2) && isAtom(reply.elements[0], 'ok') && reply.elements[1] instanceof ErlMap)) {
    throw new Error(`elixir_scope_agent:supervision_tree/1 on ${remote.name} answered ${inspect(reply)}; expected {:ok, %{entries: [...]}}`);
  }
  const m = reply.elements[1];
  const raw = m.getAtom('entries');
  const entries: SupervisionEntry[] = [];
  for (const e of Array.isArray(raw) ? raw : []) {
    if (e instanceof ErlMap) entries.push(entryOf(e));
  }
  return {
    takenAt: Date.now(),
    node: remote.name,
    creation: remote.creation,
    truncated: isAtom(m.getAtom('truncated'), 'true'),
    entries,
  };
}

/** `<0.150.0>`: the node is the snapshot's. */
export function pidText(p: Pid): string {
  return `<0.${p.id}.${p.serial}>`;
}

function entryOf(e: ErlMap): SupervisionEntry {
  const pid = e.getAtom('pid');
  const parent = e.getAtom('parent');
  const id = e.getAtom('id');
  const name = e.getAtom('name');
  const skipped = e.getAtom('skipped');
  const skip = skipped instanceof Atom ? SKIPS.find((s) => s === skipped.name) ?? 'error' : undefined;
  return {
    app: atomName(e.getAtom('app')),
    pid: pid instanceof Pid ? pidText(pid) : null,
    parent: parent instanceof Pid ? pidText(parent) : null,
    // A top supervisor has no parent and no child id; any other id prints as Elixir would.
    id: parent instanceof Pid && id !== undefined ? inspect(id) : null,
    type: isAtom(e.getAtom('type'), 'supervisor') ? 'supervisor' : 'worker',
    name: name instanceof Atom && name.name !== 'undefined' ? inspect(name) : null,
    ...(skip !== undefined ? { skipped: skip } : {}),
  };
}

function atomName(t: Term | undefined): string {
  return t instanceof Atom ? t.name : inspect(t ?? Atom.of('undefined'));
}
