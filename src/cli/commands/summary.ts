/**
 * `elixir-scope summary REC`: what a recording holds, before reading it: the node, when and how long,
 * why it stopped, what was asked for, and every count (received, stored, dropped by reason, by kind),
 * the busiest processes, and the problems met while recording.
 */

import type { EventKind } from '../../capture/event.js';
import type { ProcessInfo, Recording } from '../../store/types.js';
import { Renderer } from '../render/format.js';
import { EXIT_OK, type Command, type CommandIO, type ParsedValues } from '../usage.js';
import { withRecording } from './queryArgs.js';

const TOP_PROCESSES = 10;

export const summaryCommand: Command = {
  name: 'summary',
  summary: "describe a recording: node, time span, why it stopped, counts by kind, drops by reason",
  help: `Usage: elixir-scope summary REC [--json]

Describes the recording in directory REC: the traced node and its OTP and Elixir versions, when it
started and how long it ran, whether it is complete or was interrupted (the node went away, the
engine was killed) and why it stopped, what was asked for, the events received, stored and dropped
(by reason) and by kind, the ${TOP_PROCESSES} processes with the most events, and any problem met
while recording.

Options:
  --json       print one JSON object: node, status, stop_reason, started_at (ISO 8601),
               duration_ms (first to last event), counts {received, stored, dropped, truncated,
               by_kind}, processes (how many), top_processes, request, errors
  -h, --help   show this help

Exit codes: 0 ok, 1 unreadable recording, 2 usage error.
`,
  options: { json: { type: 'boolean' } },
  positionals: true,
  run(values, positionals, io) {
    return withRecording(positionals, 'summary', (rec) => executeSummary(rec, values, io));
  },
};

interface Summary {
  node: string;
  otp_release: string;
  elixir_version: string | null;
  agent_version: number;
  status: string;
  stop_reason: string | null;
  started_at: string;
  duration_ms: number;
  counts: {
    received: number;
    stored: number;
    dropped: Record<string, number>;
    dropped_total: number;
    truncated: number;
    by_kind: Partial<Record<EventKind, number>>;
  };
  processes: number;
  top_processes: Array<{ pid: string; name: string | null; events: number }>;
  request: unknown;
  errors: string[];
}

function summarize(rec: Recording, r: Renderer): Summary {
  const m = rec.meta;
  const c = m.counts;
  const dropped: Record<string, number> = {
    buffer_full: c.dropped.buffer_full,
    after_stop: c.dropped.after_stop,
    malformed: c.dropped.malformed,
  };
  if (c.dropped.write_failed !== undefined) dropped['write_failed'] = c.dropped.write_failed;
  if (c.dropped.missing_batches !== undefined) dropped['missing_batches'] = c.dropped.missing_batches;
  for (const [k, v] of Object.entries(c.dropped.agent)) dropped[`agent_${k}`] = v;
  const procs = rec.processes();
  const top = topProcesses(procs, TOP_PROCESSES);
  const lastTs = rec.count > 0 ? rec.event(rec.count - 1).ts : 0;
  return {
    node: m.node,
    otp_release: m.otpRelease,
    elixir_version: m.elixirVersion,
    agent_version: m.agentVersion,
    status: m.status,
    stop_reason: m.stopReason,
    started_at: new Date(m.startedAt).toISOString(),
    duration_ms: Math.round(lastTs / 1e6),
    counts: {
      received: c.received,
      stored: rec.count,
      dropped,
      // missing_batches counts batches, not events: it is listed but not added in.
      dropped_total: Object.entries(dropped).reduce((n, [k, v]) => (k === 'missing_batches' ? n : n + v), 0),
      truncated: c.truncated,
      by_kind: c.byKind,
    },
    processes: procs.length,
    top_processes: top.map((p) => ({ pid: r.pidText(p.pid), name: r.nameOf(p.pid), events: p.count })),
    request: m.request,
    errors: m.errors,
  };
}

/** The `n` processes with the most events, most first (a partial selection, not a full sort). */
function topProcesses(procs: ProcessInfo[], n: number): ProcessInfo[] {
  const top: ProcessInfo[] = [];
  for (const p of procs) {
    if (top.length < n) {
      top.push(p);
      top.sort((a, b) => b.count - a.count);
    } else if (p.count > top[n - 1]!.count) {
      top[n - 1] = p;
      top.sort((a, b) => b.count - a.count);
    }
  }
  return top;
}

export async function executeSummary(rec: Recording, values: ParsedValues, io: CommandIO): Promise<number> {
  const r = new Renderer(rec);
  const s = summarize(rec, r);
  if (values.json === true) {
    io.stdout.write(JSON.stringify(s) + '\n');
    return EXIT_OK;
  }
  const n = (x: number): string => x.toLocaleString('en-US');
  const kinds = Object.entries(s.counts.by_kind)
    .filter(([, v]) => (v ?? 0) > 0)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([k, v]) => `${k} ${n(v ?? 0)}`)
    .join(', ');
  const drops = Object.entries(s.counts.dropped)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  const lines = [
    `Recording ${rec.dir}`,
    `  node       ${s.node} (OTP ${s.otp_release}${s.elixir_version === null ? ', no Elixir' : `, Elixir ${s.elixir_version}`}, agent v${s.agent_version})`,
    `  started    ${s.started_at}, events over ${(s.duration_ms / 1000).toFixed(3)} s`,
    `  status     ${s.status}${s.stop_reason === null ? '' : ` (stopped: ${s.stop_reason})`}`,
    `  events     ${n(s.counts.stored)} stored of ${n(s.counts.received)} received`,
    `  by kind    ${kinds || 'none'}`,
    `  dropped    ${n(s.counts.dropped_total)}${drops ? ` (${drops})` : ''}`,
  ];
  if (s.counts.truncated > 0) lines.push(`  truncated  ${n(s.counts.truncated)} terms cut to the size limit`);
  lines.push(`  processes  ${n(s.processes)}`);
  for (const p of s.top_processes) lines.push(`    ${n(p.events).padStart(10)}  ${p.pid}${p.name === null ? '' : ` (${p.name})`}`);
  for (const e of s.errors) lines.push(`  problem    ${e}`);
  io.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}
