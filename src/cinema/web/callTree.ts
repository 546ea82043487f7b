/**
 * The call tree of the selected process (GET /api/calltree, the CLI's `calls --json`): an
 * expandable tree with each call's duration and how it ended (returned, raised, unfinished), and
 * the same calls as a flame chart (flame.ts). Clicking a call selects its call event.
 *
 * A process that ran a loop can have tens of thousands of root calls: roots are put in the page a
 * few hundred at a time and children only when their parent is opened.
 */

import type { Store } from './store.js';
import { FlameChart } from './flame.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC: the API's shapes
// ----------------------------------------------------------------------------------------------

export type CallStatus = 'returned' | 'raised' | 'unfinished';

/** One call as `calls --json` prints it. */
export interface CallNodeJson {
  id: number;
  ts: number;
  mfa: string | null;
  args: string;
  status: CallStatus;
  /** The return or exception event (as `history --json`), or null while unfinished. */
  end: { id: number; ts: number; kind: string; result?: string; class?: string; reason?: string } | null;
  durationNs: number | null;
  omitted: number;
  children: CallNodeJson[];
}

export interface CallTreeJson {
  pid: string;
  name: string | null;
  calls: number;
  roots: CallNodeJson[];
}

/** `12.3µs`, `4.5ms`, `1.2s`: three significant digits, as the CLI prints durations. */
export function formatDuration(ns: number): string {
  const trim = (x: number): string => String(Number(x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)));
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  if (ns < 1_000_000) return `${trim(ns / 1_000)}µs`;
  if (ns < 1_000_000_000) return `${trim(ns / 1_000_000)}ms`;
  return `${trim(ns / 1_000_000_000)}s`;
}

/** How a call ended, in words: `12µs`, `raised error: :badarith after 3µs`, `unfinished`. */
export function callOutcome(n: CallNodeJson): string {
  if (n.status === 'unfinished' || n.end === null) return 'unfinished';
  const d = formatDuration(n.durationNs ?? 0);
  if (n.status === 'raised') return `raised ${n.end.class ?? 'error'}: ${n.end.reason ?? '?'} after ${d}`;
  return d;
}

/** The innermost call in `roots` open at event `id` (its call id <= id <= its end id), with its ancestors. */
export function callPathAt(roots: readonly CallNodeJson[], id: number): CallNodeJson[] {
  const path: CallNodeJson[] = [];
  let level: readonly CallNodeJson[] = roots;
  for (;;) {
    // Calls of one level are in id order and do not overlap: the last one starting at or before id.
    let lo = 0;
    let hi = level.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (level[mid]!.id <= id) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return path;
    const n = level[found]!;
    if (n.end !== null && n.end.id < id) return path;
    path.push(n);
    level = n.children;
  }
}

/** Whether events `from .. to - 1` include one of these processes'. */
export function touches(store: Store, pids: readonly number[], from: number, to: number): boolean {
  const col = store.cols.pid;
  for (let i = from; i < to; i++) if (pids.includes(col[i]!)) return true;
  return false;
}

// ----------------------------------------------------------------------------------------------
// PUBLIC: the panel
// ----------------------------------------------------------------------------------------------

const ROOTS_PER_STEP = 300;

export function mountCallTree(host: HTMLElement, store: Store): CallTreePanel {
  return new CallTreePanel(host, store);
}

export class CallTreePanel {
  readonly root: HTMLElement;
  readonly flame: FlameChart;
  private readonly header: HTMLElement;
  private readonly tree: HTMLElement;
  private pid: number | null = null;
  private data: CallTreeJson | null = null;
  private shownRoots = 0;
  private readonly rowsById = new Map<number, HTMLElement>();
  /** The call behind each tree item that has children, for building them when it is opened. */
  private readonly nodes = new WeakMap<HTMLElement, { node: CallNodeJson; depth: number }>();
  private generation = 0;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingScroll: HTMLElement | null = null;

  constructor(
    host: HTMLElement,
    private readonly store: Store,
  ) {
    this.root = document.createElement('section');
    this.root.className = 'es-panel es-calltree';
    this.header = document.createElement('div');
    this.header.className = 'es-panel-head';
    this.tree = document.createElement('div');
    this.tree.className = 'es-calltree-tree';
    this.tree.setAttribute('role', 'tree');
    const flameHost = document.createElement('div');
    flameHost.className = 'es-flame-host';
    this.root.append(this.header, this.tree, flameHost);
    host.append(this.root);
    this.flame = new FlameChart(flameHost, (n) => this.choose(n));
    // In a hidden tab there is nothing to scroll: bring the call into view when the tab is shown.
    new ResizeObserver(() => this.scrollToSelected()).observe(this.root);
    this.tree.addEventListener('click', (ev) => this.onClick(ev));
    this.store.on('select', () => this.sync());
    this.store.on('grow', ({ from, to }) => {
      // Calls of a live recording end and begin as events arrive: reload when this process had
      // some, at most once a second (a busy node grows the recording many times a second).
      if (this.pid === null || this.reloadTimer !== undefined || !touches(this.store, [this.pid], from, to)) return;
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = undefined;
        if (this.pid !== null) void this.load(this.pid);
      }, 1000);
    });
    this.sync();
  }

  private sync(): void {
    const pid = this.store.sel.pid;
    if (pid !== this.pid) {
      this.pid = pid;
      if (pid === null) {
        this.data = null;
        this.header.textContent = 'Calls: select a process';
        this.tree.replaceChildren();
        this.flame.setTree(null);
        return;
      }
      void this.load(pid);
      return;
    }
    this.reveal();
  }

  private async load(pid: number): Promise<void> {
    const gen = ++this.generation;
    this.header.textContent = 'Calls: loading…';
    try {
      const data = await this.store.api.getJson<CallTreeJson>(`/api/calltree?pid=${pid}`);
      if (gen !== this.generation) return;
      this.data = data;
      this.header.textContent = `Calls of ${data.pid}${data.name === null ? '' : ` (${data.name})`}: ${data.calls} call${data.calls === 1 ? '' : 's'}`;
      this.tree.replaceChildren();
      this.rowsById.clear();
      this.shownRoots = 0;
      if (data.calls === 0) {
        const none = document.createElement('div');
        none.className = 'es-empty';
        none.textContent = 'no traced calls in this process (record with --module or --function to see calls)';
        this.tree.append(none);
      }
      this.showMoreRoots();
      this.flame.setTree(data);
      this.reveal();
    } catch (err) {
      if (gen !== this.generation) return;
      this.header.textContent = `Calls: could not load the call tree: ${err instanceof Error ? err.message : String(err)}`;
      this.header.classList.add('es-error');
    }
  }

  private showMoreRoots(upTo?: number): void {
    const d = this.data;
    if (d === null) return;
    this.tree.querySelector(':scope > .es-more')?.remove();
    const end = Math.min(d.roots.length, Math.max(upTo ?? 0, this.shownRoots + ROOTS_PER_STEP));
    for (let i = this.shownRoots; i < end; i++) this.tree.append(this.item(d.roots[i]!, 0));
    this.shownRoots = end;
    if (end < d.roots.length) {
      const more = document.createElement('button');
      more.type = 'button';
      more.className = 'es-more';
      more.textContent = `show ${Math.min(ROOTS_PER_STEP, d.roots.length - end)} more of ${d.roots.length - end} calls`;
      more.addEventListener('click', () => this.showMoreRoots());
      this.tree.append(more);
    }
  }

  private item(n: CallNodeJson, depth: number): HTMLElement {
    const li = document.createElement('div');
    li.className = 'es-call';
    li.setAttribute('role', 'treeitem');
    li.dataset['id'] = String(n.id);
    li.dataset['status'] = n.status;
    const row = document.createElement('div');
    row.className = `es-call-row es-${n.status}`;
    row.style.paddingLeft = `${depth * 14 + 4}px`;
    const toggle = document.createElement('span');
    toggle.className = 'es-call-toggle';
    const hasKids = n.children.length > 0 || n.omitted > 0;
    toggle.textContent = hasKids ? '▸' : ' ';
    const mfa = document.createElement('span');
    mfa.className = 'es-call-mfa';
    mfa.textContent = n.mfa ?? '?';
    const how = document.createElement('span');
    how.className = 'es-call-outcome';
    how.textContent = callOutcome(n);
    const id = document.createElement('span');
    id.className = 'es-call-id';
    id.textContent = `#${n.id}`;
    row.append(toggle, mfa, how, id);
    row.title = `${n.mfa ?? '?'}(${n.args.replace(/^\[|\]$/g, '')})`;
    li.append(row);
    this.rowsById.set(n.id, row);
    if (hasKids) {
      const kids = document.createElement('div');
      kids.className = 'es-call-children';
      kids.hidden = true;
      li.append(kids);
      this.nodes.set(li, { node: n, depth });
    }
    return li;
  }

  private expand(li: HTMLElement, open: boolean): void {
    const kids = li.querySelector<HTMLElement>(':scope > .es-call-children');
    if (kids === null) return;
    const entry = this.nodes.get(li);
    if (open && kids.childElementCount === 0 && entry !== undefined) {
      const n = entry.node;
      for (const c of n.children) kids.append(this.item(c, entry.depth + 1));
      if (n.omitted > 0) {
        const more = document.createElement('div');
        more.className = 'es-call-omitted';
        more.textContent = `… ${n.omitted} more call${n.omitted === 1 ? '' : 's'} below`;
        kids.append(more);
      }
    }
    kids.hidden = !open;
    li.classList.toggle('es-open', open);
    const t = li.querySelector(':scope > .es-call-row > .es-call-toggle');
    if (t !== null) t.textContent = open ? '▾' : '▸';
  }

  private onClick(ev: MouseEvent): void {
    const target = ev.target as HTMLElement;
    const li = target.closest<HTMLElement>('.es-call');
    if (li === null || !this.tree.contains(li)) return;
    if (target.classList.contains('es-call-toggle')) {
      this.expand(li, !li.classList.contains('es-open'));
      return;
    }
    this.store.select({ id: Number(li.dataset['id']), pid: this.pid ?? undefined });
  }

  private choose(n: CallNodeJson): void {
    this.store.select({ id: n.id, pid: this.pid ?? undefined });
  }

  private scrollToSelected(): void {
    const row = this.pendingScroll;
    if (row === null || this.root.clientHeight === 0) return;
    this.pendingScroll = null;
    row.scrollIntoView({ block: 'nearest' });
  }

  /** Marks the call open at the playhead, opening its ancestors so it can be seen. */
  private reveal(): void {
    this.tree.querySelectorAll('.es-call-row.es-selected').forEach((r) => r.classList.remove('es-selected'));
    const d = this.data;
    const id = this.store.sel.id;
    if (d === null || id === null) return this.flame.mark(null);
    const path = callPathAt(d.roots, id);
    this.flame.mark(path.at(-1) ?? null);
    if (path.length === 0) return;
    const rootIndex = d.roots.indexOf(path[0]!);
    if (rootIndex >= this.shownRoots) this.showMoreRoots(rootIndex + 1);
    for (let i = 0; i < path.length - 1; i++) {
      const row = this.rowsById.get(path[i]!.id);
      const li = row?.parentElement;
      if (li) this.expand(li, true);
    }
    const row = this.rowsById.get(path.at(-1)!.id);
    if (row !== undefined) {
      row.classList.add('es-selected');
      this.pendingScroll = row;
      this.scrollToSelected();
    }
  }
}
