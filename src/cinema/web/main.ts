/**
 * The Cinema page's shell: loads the recording into the store, lays out the timeline, the scrubber
 * and the panel area, keeps the moment in the URL hash, and follows a live recording.
 *
 * Panels (inspector, sequence, call tree, event list, source) are separate modules, each exporting
 * `mountX(el, store)`. They are imported one by one so that a panel that fails to load shows its
 * error in its own region instead of taking the whole page down.
 */

import { Api } from './api.js';
import { Store } from './store.js';
import { formatMoment, parseMoment } from './url.js';
import { mountTimeline, type TimelineHandle } from './timeline.js';
import { mountScrubber, type ScrubberHandle } from './scrubber.js';

// ----------------------------------------------------------------------------------------------
// PUBLIC
// ----------------------------------------------------------------------------------------------

/** What every panel module exports under its own name (mountInspector, mountSequence...). */
export type MountPanel = (el: HTMLElement, store: Store) => void;

/** The panels, where they go, and the module + export that draws each. */
export const PANELS: readonly { key: string; title: string; region: 'left' | 'right'; module: string; mount: string }[] = [
  { key: 'events', title: 'Events', region: 'left', module: './eventList.js', mount: 'mountEventList' },
  { key: 'calls', title: 'Call tree', region: 'left', module: './callTree.js', mount: 'mountCallTree' },
  { key: 'sequence', title: 'Sequence', region: 'left', module: './sequence.js', mount: 'mountSequence' },
  { key: 'inspector', title: 'Inspector', region: 'right', module: './inspector.js', mount: 'mountInspector' },
  { key: 'source', title: 'Source', region: 'right', module: './source.js', mount: 'mountSource' },
];

/** Exposed for tests and the benchmark (window.elixirScope). */
export interface PageHandle {
  store: Store;
  /** Frames the timeline has drawn so far. */
  frames(): number;
  timeline: TimelineHandle | null;
  scrubber: ScrubberHandle | null;
}

declare global {
  interface Window {
    elixirScope?: PageHandle;
  }
}

// ----------------------------------------------------------------------------------------------
// PRIVATE
// ----------------------------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function showFatal(message: string): void {
  const box = el('div', { class: 'fatal', role: 'alert' }, message);
  document.body.replaceChildren(box);
}

/** Tabs over a region: one visible panel at a time, each mounted the first time it is shown. */
function mountRegion(host: HTMLElement, store: Store, panels: typeof PANELS): void {
  const bar = el('div', { class: 'tabs', role: 'tablist' });
  const body = el('div', { class: 'tab-body' });
  host.append(bar, body);
  const bodies = new Map<string, HTMLElement>();
  const show = (key: string): void => {
    for (const [k, b] of bodies) b.hidden = k !== key;
    for (const t of bar.querySelectorAll<HTMLButtonElement>('button')) t.setAttribute('aria-selected', String(t.dataset['key'] === key));
  };
  for (const p of panels) {
    const tab = el('button', { role: 'tab', 'data-key': p.key, type: 'button' }, p.title);
    tab.addEventListener('click', () => show(p.key));
    // Keep the page's keys (space plays) working after a tab is clicked.
    tab.addEventListener('mousedown', (ev) => ev.preventDefault());
    bar.append(tab);
    const b = el('div', { class: `panel panel-${p.key}`, role: 'tabpanel', 'data-panel': p.key });
    bodies.set(p.key, b);
    body.append(b);
    void loadPanel(b, store, p);
  }
  if (panels[0] !== undefined) show(panels[0].key);
}

async function loadPanel(host: HTMLElement, store: Store, p: (typeof PANELS)[number]): Promise<void> {
  try {
    // A variable specifier: each panel is its own module and may be missing or broken alone.
    const mod = (await import(p.module)) as Record<string, unknown>;
    const mount = mod[p.mount];
    if (typeof mount !== 'function') throw new Error(`${p.module} does not export ${p.mount}(el, store)`);
    (mount as MountPanel)(host, store);
  } catch (err) {
    console.error(`elixir-scope: the ${p.title} panel could not start`, err);
    host.replaceChildren(el('div', { class: 'panel-error' }, `The ${p.title} panel could not start: ${String(err)}`));
  }
}

/** Keeps `location.hash` = the store's moment, and applies a hash typed or pasted by the user. */
function syncHash(store: Store): void {
  let writing = false;
  let pending = 0;
  const write = (): void => {
    // Batched to one write per frame: dragging the view changes it 60 times a second.
    if (pending !== 0) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      const h = formatMoment({ id: store.sel.id, pid: store.sel.pid, view: store.view });
      if (h !== location.hash) {
        writing = true;
        history.replaceState(null, '', h);
        writing = false;
      }
    });
  };
  const apply = (): void => {
    if (writing) return;
    const { moment, problems } = parseMoment(location.hash);
    for (const p of problems) console.warn(`elixir-scope: ignored part of the link: ${p}`);
    if (moment.view !== null) store.setView(moment.view, 'url');
    try {
      if (moment.id !== null) store.select({ id: moment.id, pid: moment.pid ?? undefined }, 'url');
      else if (moment.pid !== null) store.select({ pid: moment.pid }, 'url');
    } catch (err) {
      console.warn(`elixir-scope: the link names a moment this recording does not have: ${String(err)}`);
    }
  };
  apply();
  store.on('select', write);
  store.on('view', write);
  window.addEventListener('hashchange', apply);
}

async function start(): Promise<void> {
  let api: Api;
  try {
    api = Api.fromLocation();
  } catch (err) {
    showFatal(String(err instanceof Error ? err.message : err));
    return;
  }
  const status = document.getElementById('status');
  if (status !== null) status.textContent = 'loading the recording…';
  let store: Store;
  try {
    store = await Store.load(api);
  } catch (err) {
    showFatal(`Could not load the recording: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const app = document.getElementById('app');
  if (app === null) throw new Error('index.html has no #app element');

  const title = el('header', { class: 'top' },
    el('strong', {}, 'ElixirScope'),
    ' ',
    el('span', { class: 'node' }, String(store.meta.meta['node'] ?? '')),
    ' ',
    el('span', { id: 'status', class: 'status' }, statusText(store, store.live)),
  );
  // A live recording's count changes with every grow; the header says what the page holds now.
  let ended = '';
  const refreshStatus = (): void => {
    const s = document.getElementById('status');
    if (s !== null && !s.textContent?.includes('live stream closed')) s.textContent = statusText(store, store.live && ended === '') + ended;
  };
  store.on('grow', refreshStatus);
  store.on('meta', refreshStatus);
  store.on('end', () => {
    ended = ' (recording ended)';
    refreshStatus();
  });
  const timelineHost = el('section', { class: 'timeline-host', 'aria-label': 'timeline' });
  const scrubberHost = el('section', { class: 'scrubber-host', 'aria-label': 'scrubber' });
  const left = el('section', { class: 'region region-left' });
  const right = el('section', { class: 'region region-right' });
  const panels = el('div', { class: 'panels' }, left, right);
  app.replaceChildren(title, timelineHost, scrubberHost, panels);

  let timeline: TimelineHandle | null = null;
  let scrubber: ScrubberHandle | null = null;
  try {
    timeline = mountTimeline(timelineHost, store);
  } catch (err) {
    console.error('elixir-scope: the timeline could not start', err);
    timelineHost.textContent = `The timeline could not start: ${String(err)}`;
  }
  try {
    scrubber = mountScrubber(scrubberHost, store);
  } catch (err) {
    console.error('elixir-scope: the scrubber could not start', err);
    scrubberHost.textContent = `The scrubber could not start: ${String(err)}`;
  }
  mountRegion(left, store, PANELS.filter((p) => p.region === 'left'));
  mountRegion(right, store, PANELS.filter((p) => p.region === 'right'));
  syncHash(store);
  window.elixirScope = { store, frames: () => timeline?.frames() ?? 0, timeline, scrubber };
  if (store.live) {
    store.followLive((why) => {
      const s = document.getElementById('status');
      if (s !== null) s.textContent += ` — live stream closed: ${why}`;
    });
  }
}

function statusText(store: Store, live: boolean): string {
  return `${store.count.toLocaleString('en')} events, ${store.meta.processes.length.toLocaleString('en')} processes${live ? ' (live)' : ''}`;
}

void start();
