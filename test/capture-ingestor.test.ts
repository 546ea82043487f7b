/**
 * The Ingestor's accounting: every event that reaches it is stored or counted somewhere — dropped
 * when the buffer is full (never blocking the caller), malformed, after the stop, or lost to a write
 * error — and gaps in the agent's Seq are counted and logged. Also: ingest never waits on the disk
 * (it returns while a flush is in progress), and the timer alone gets events to disk.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { Ingestor } from '../src/capture/ingestor.js';
import { RecordingWriter, nodeFs, type StoreFs } from '../src/store/writer.js';
import { openRecording } from '../src/store/reader.js';
import { makeTempDir, removeDir } from './support/erlScript.js';

const P = new Pid(Atom.of('n@h'), 7, 0, 1);
const RELAY = new Pid(Atom.of('n@h'), 99, 0, 1);

function batch(n: number, start = 0): Buffer {
  const evs: Term[] = [];
  for (let i = 0; i < n; i++) evs.push(new Tuple([Atom.of('trace_ts'), P, Atom.of('receive'), start + i, start + i]));
  return encode(evs);
}

async function writer(dir: string, fs?: StoreFs): Promise<RecordingWriter> {
  return RecordingWriter.create(
    dir,
    { node: 'n@h', otpRelease: '25', elixirVersion: null, agentVersion: 1, monoStart: '0', nativePerSec: 1e9, request: null },
    fs === undefined ? {} : { fs },
  );
}

test('counts: stored, buffer_full, malformed, missing batches, after_stop', async () => {
  const dir = await makeTempDir('ingestor');
  try {
    const w = await writer(dir);
    const ing = new Ingestor({ writer: w, relay: RELAY, bufferEvents: 250, flushMs: 10_000, flushEvents: 1_000_000 });
    ing.ingest(1, batch(100));
    ing.ingest(2, batch(100, 100));
    ing.ingest(3, batch(100, 200)); // does not fit in 250: dropped whole, and counted
    ing.ingest(5, encode([new Tuple([Atom.of('bogus')]), 1])); // a gap, and two malformed elements
    await ing.flush();
    ing.ingest(6, batch(10, 300));
    await ing.close('complete', 'stopped');
    ing.ingest(7, batch(5, 400)); // after the end
    const c = w.meta.counts;
    assert.equal(c.received, 312);
    assert.equal(c.stored, 210);
    assert.equal(c.dropped.buffer_full, 100);
    assert.equal(c.dropped.malformed, 2);
    assert.equal(c.dropped.missing_batches, 1);
    assert.equal(c.dropped.after_stop, 5);
    assert.ok(w.meta.errors.some((e) => /batches 4\.\.4 .* never arrived/.test(e)), w.meta.errors.join('\n'));
    const rec = openRecording(dir);
    assert.equal(rec.count, 210);
    assert.deepEqual([rec.event(0).payload(), rec.event(199).payload(), rec.event(200).payload()], [0, 199, 300]);
    rec.close();
  } finally {
    await removeDir(dir);
  }
});

test('ingest never waits on the disk (memory stays bounded, drops are counted), and the timer alone writes', async () => {
  const dir = await makeTempDir('ingestor-slow');
  try {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let writes = 0;
    const slowFs: StoreFs = {
      ...nodeFs,
      async open(path) {
        const f = await nodeFs.open(path);
        return {
          ...f,
          async writev(bufs, pos) {
            if (writes++ > 0) await gate; // the file header goes through; blocks wait
            return f.writev(bufs, pos);
          },
        };
      },
    };
    const w = await writer(dir, slowFs);
    const ing = new Ingestor({ writer: w, flushMs: 5, flushEvents: 50, bufferEvents: 500 });
    ing.ingest(1, batch(100));
    await new Promise((r) => setTimeout(r, 50));
    // A flush is stuck in the disk; ingest still returns at once.
    const t0 = performance.now();
    for (let s = 2; s <= 20; s++) ing.ingest(s, batch(100, s * 100));
    assert.ok(performance.now() - t0 < 500);
    assert.equal(w.flushedCount, 0);
    release();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(w.flushedCount > 0, 'the timer flushed without being asked');
    await ing.close();
    // Memory stayed bounded while the disk was stuck: what did not fit was dropped and counted.
    const c = w.meta.counts;
    assert.ok(c.dropped.buffer_full > 0);
    assert.ok(c.dropped.buffer_full <= 2000 - 500 - 100, `dropped ${c.dropped.buffer_full}`);
    assert.equal(c.stored + c.dropped.buffer_full, 2000);
  } finally {
    await removeDir(dir);
  }
});

test('a write error reaches onWriteError once; later events are counted as write_failed', async () => {
  const dir = await makeTempDir('ingestor-fail');
  try {
    let fail = false;
    const failFs: StoreFs = {
      ...nodeFs,
      async open(path) {
        const f = await nodeFs.open(path);
        return {
          ...f,
          async writev(bufs, pos) {
            if (fail) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
            return f.writev(bufs, pos);
          },
        };
      },
    };
    const w = await writer(dir, failFs);
    const errors: Error[] = [];
    const ing = new Ingestor({ writer: w, flushMs: 5, onWriteError: (e) => errors.push(e) });
    ing.ingest(1, batch(50));
    await ing.flush();
    fail = true;
    ing.ingest(2, batch(50, 50));
    await new Promise((r) => setTimeout(r, 60));
    ing.ingest(3, batch(50, 100));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /EIO/);
    await assert.rejects(ing.close(), /50 event\(s\) flushed before are kept/);
    assert.equal(w.meta.counts.dropped.write_failed, 100);
    const rec = openRecording(dir);
    assert.equal(rec.count, 50);
    assert.equal(rec.meta.status, 'interrupted');
    rec.close();
  } finally {
    await removeDir(dir);
  }
});
