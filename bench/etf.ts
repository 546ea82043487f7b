/**
 * `npm run bench -- etf [--batches N] [--seconds S]`
 *
 * Decode and encode throughput of the ETF codec on (a) trace batches captured from a real node
 * (bench/support/etfWorkload.ts) and (b) synthetic payload terms, and the BEAM's own binary_to_term /
 * term_to_binary on the same bytes, measured by erl in the same run. Each number is the median pass
 * over the whole set, after a warm-up. MB is 10^6 bytes of ETF; a trace batch's "terms" are its
 * trace messages. Decoding is measured "streaming" (each term dropped at once: the engine's case)
 * and "retained" (a pass keeps all its terms, so the garbage collector's work counts), on both sides.
 */

import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../src/erlang/etf/index.js';
import type { Term } from '../src/erlang/terms.js';
import { makeTempDir, removeDir, runErlScript, splitRecords } from '../test/support/erlScript.js';
import { result, medianPass } from './support/report.js';
import { WORKLOAD } from './support/etfWorkload.js';

interface SetResult {
  /** Each decoded term dropped at once. */
  decodeMs: number;
  /** All the terms of a pass kept alive until its end. */
  decodeRetainedMs: number;
  encodeMs: number;
}

export async function run(args: string[]): Promise<void> {
  const batches = numberArg(args, '--batches', 200);
  const seconds = numberArg(args, '--seconds', 3);
  const dir = await makeTempDir('bench-etf');
  try {
    process.stdout.write(`capturing ${batches} trace batches and measuring the BEAM (${seconds} s per measurement)...\n`);
    await runErlScript(WORKLOAD, [dir, String(batches), String(Math.round(seconds * 1000))]);
    const beam = parseBeam(await readFile(join(dir, 'beam.txt'), 'utf8'));
    const trace = splitRecords(await readFile(join(dir, 'trace_batches.bin')));
    const synthetic = splitRecords(await readFile(join(dir, 'synthetic.bin')));

    const traceEvents = trace.reduce((n, b) => n + (decode(b) as Term[]).length, 0);
    const traceBytes = trace.reduce((n, b) => n + b.length, 0);
    const synthBytes = synthetic.reduce((n, b) => n + b.length, 0);
    process.stdout.write(
      `node ${process.version}, OTP ${beam.get('otp_release')} (erts ${beam.get('erts_version')}), ` +
        `${cpus().length} cpu(s): ${cpus()[0]?.model ?? 'unknown'}\n` +
        `trace: ${trace.length} batches, ${traceEvents} events, ${traceBytes} bytes; ` +
        `synthetic: ${synthetic.length} terms, ${synthBytes} bytes\n`,
    );

    const t = measureSet(trace, seconds);
    const s = measureSet(synthetic, seconds);
    const beamSet = (set: string): SetResult => ({
      decodeMs: ns(beam, `${set}_decode_ns`),
      decodeRetainedMs: ns(beam, `${set}_decode_retained_ns`),
      encodeMs: ns(beam, `${set}_encode_ns`),
    });
    const beamT = beamSet('trace');
    const beamS = beamSet('synthetic');

    report('trace', t, beamT, traceBytes, traceEvents);
    report('synthetic', s, beamS, synthBytes, synthetic.length);
  } finally {
    await removeDir(dir);
  }
}

function report(set: string, ours: SetResult, beam: SetResult, bytes: number, terms: number): void {
  const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
  const tps = (ms: number): number => terms / (ms / 1000);
  result(`etf_decode_${set}_mb_s`, mbps(ours.decodeMs), 'MB/s');
  result(`etf_decode_${set}_terms_s`, tps(ours.decodeMs), 'terms/s');
  result(`etf_encode_${set}_mb_s`, mbps(ours.encodeMs), 'MB/s');
  result(`etf_encode_${set}_terms_s`, tps(ours.encodeMs), 'terms/s');
  result(`beam_binary_to_term_${set}_mb_s`, mbps(beam.decodeMs), 'MB/s');
  result(`beam_term_to_binary_${set}_mb_s`, mbps(beam.encodeMs), 'MB/s');
  result(`etf_decode_${set}_vs_beam`, beam.decodeMs / ours.decodeMs, 'x');
  result(`etf_encode_${set}_vs_beam`, beam.encodeMs / ours.encodeMs, 'x');
  result(`etf_decode_${set}_retained_mb_s`, mbps(ours.decodeRetainedMs), 'MB/s');
  result(`beam_binary_to_term_${set}_retained_mb_s`, mbps(beam.decodeRetainedMs), 'MB/s');
  result(`etf_decode_${set}_retained_vs_beam`, beam.decodeRetainedMs / ours.decodeRetainedMs, 'x');
}

/** Median milliseconds of a decode pass and an encode pass over the whole set. */
function measureSet(records: Buffer[], seconds: number): SetResult {
  // The encoder must give back the BEAM's bytes (OTP 25 writes minor version 1, OTP 26+ 2).
  const terms = records.map((b) => decode(b));
  const minorVersion: 1 | 2 = encode(terms[0]!, { minorVersion: 1 }).equals(records[0]!) ? 1 : 2;
  records.forEach((b, i) => {
    if (!encode(terms[i]!, { minorVersion }).equals(b)) throw new Error(`record ${i} does not re-encode to the same bytes`);
  });
  let sink = 0;
  let last: Term = 0;
  const decodeMs = medianPass(() => {
    for (let i = 0; i < records.length; i++) last = decode(records[i]!);
  }, seconds);
  const decodeRetainedMs = medianPass(() => {
    const out = new Array<Term>(records.length);
    for (let i = 0; i < records.length; i++) out[i] = decode(records[i]!);
    sink += out.length;
  }, seconds);
  const encodeMs = medianPass(() => {
    for (let i = 0; i < terms.length; i++) sink += encode(terms[i]!, { minorVersion }).length;
  }, seconds);
  if (sink < 0 || last === undefined) process.stdout.write('');
  return { decodeMs, decodeRetainedMs, encodeMs };
}

function parseBeam(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v) m.set(k, v);
  }
  return m;
}

function ns(beam: Map<string, string>, key: string): number {
  const v = Number(beam.get(key));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`the BEAM measurement ${key} is missing`);
  return v / 1e6;
}

function numberArg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}
