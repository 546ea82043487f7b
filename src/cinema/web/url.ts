/**
 * The moment in the URL hash, so a link can be shared and a reload restores it:
 * `#t=<eventId>&p=<pid>&z=<t0>-<t1>` (t0/t1 in ns since the recording's start, integers).
 * The token stays in the query string, never in the hash, so the hash can be pasted into a bug
 * report without leaking access (the receiver opens it on their own server URL).
 */

export interface Moment {
  id: number | null;
  pid: number | null;
  view: { t0: number; t1: number } | null;
}

/** Parses a hash; parts that are malformed are reported in `problems` and left null. */
export function parseMoment(hash: string): { moment: Moment; problems: string[] } {
  const problems: string[] = [];
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const int = (key: string, what: string): number | null => {
    const v = q.get(key);
    if (v === null || v === '') return null;
    if (!/^\d+$/.test(v)) {
      problems.push(`#${key}=${v}: expected ${what} (a whole number >= 0)`);
      return null;
    }
    return Number(v);
  };
  const id = int('t', 'an event id');
  const pid = int('p', 'a process index');
  let view: Moment['view'] = null;
  const z = q.get('z');
  if (z !== null && z !== '') {
    const m = /^(-?\d+(?:\.\d+)?)-(-?\d+(?:\.\d+)?)$/.exec(z);
    if (m === null || Number(m[2]) <= Number(m[1])) problems.push(`#z=${z}: expected <t0>-<t1> in ns with t0 < t1`);
    else view = { t0: Number(m[1]), t1: Number(m[2]) };
  }
  return { moment: { id, pid, view }, problems };
}

export function formatMoment(m: Moment): string {
  const parts: string[] = [];
  if (m.id !== null) parts.push(`t=${m.id}`);
  if (m.pid !== null) parts.push(`p=${m.pid}`);
  if (m.view !== null) parts.push(`z=${Math.floor(m.view.t0)}-${Math.ceil(m.view.t1)}`);
  return '#' + parts.join('&');
}
