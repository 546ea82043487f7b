/**
 * Crash safety of the store: a child process writes a recording without end and is killed with
 * SIGKILL at a random flush; the recording must then open with every event up to the last flush
 * the child reported (or the one it was finishing), each intact, and say it was interrupted. Then
 * damaged files: a torn last block (truncated), a flipped byte in a block's columns or payload, an
 * unknown format version, and a disk that fills up while writing.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, truncate, writeFile, open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encode } from '../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../src/erlang/terms.js';
import { parseBatch } from '../src/capture/batchParser.js';
import { RecordingWriter, nodeFs, type StoreFs } from '../src/store/writer.js';
import { openRecording } from '../src/store/reader.js';
import { RecordingFormatError, RecordingWriteError } from '../src/store/format.js';
import { makeTempDir, removeDir } from './support/erlScript.js';

const CHILD = fileURLToPath(new URL('./support/recordingChild.js', import.meta.url));

function checkEvents(dir: string, expectCount: number): void {
  const rec = openRecording(dir);
  try {
    assert.equal(rec.count, expectCount);
    for (let id = 0; id < rec.count; id += 97) {
      const args = rec.event(id).payload() as Term[];
      assert.deepEqual(args, [id], `event ${id}`);
    }
    if (rec.count > 0) assert.deepEqual(rec.event(rec.count - 1).payload(), [rec.count - 1]);
  } finally {
    rec.close();
  }
}

test('kill -9 while writing: every event up to the last flush is readable', async () => {
  for (let round = 0; round < 3; round++) {
    const dir = await makeTempDir('store-crash');
    try {
      const child = spawn(process.execPath, [CHILD, join(dir, 'REC'), '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let flushed = -1;
      let flushing = -1;
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const killAt = 3 + Math.floor(Math.random() * 20);
      let reports = 0;
      let buf = '';
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const [what, n] = buf.slice(0, nl).split(' ');
          buf = buf.slice(nl + 1);
          // Lines read after the kill were still written before the child died: they count too.
          if (what === 'flushing') flushing = Number(n);
          if (what === 'flushed') {
            flushed = Number(n);
            if (++reports === killAt) child.kill('SIGKILL');
          }
        }
      });
      await exited;
      assert.ok(flushed > 0, `the child never flushed: ${err}`);
      const rec = openRecording(join(dir, 'REC'));
      const count = rec.count;
      assert.equal(rec.meta.status, 'interrupted');
      assert.ok(rec.meta.errors.some((e) => e.includes('not closed')), rec.meta.errors.join('\n'));
      rec.close();
      // The kill may land after the next flush finished but before its line was read.
      assert.ok(count === flushed || count === flushing, `read ${count}, child reported flushed ${flushed} (then flushing ${flushing})`);
      checkEvents(join(dir, 'REC'), count);
    } finally {
      await removeDir(dir);
    }
  }
});

const SELF = new Pid(Atom.of('t@host'), 42, 0, 1);

function batchBin(first: number, n: number): Buffer {
  const evs: Term[] = [];
  for (let i = 0; i < n; i++) {
    const k = first + i;
    evs.push(new Tuple([Atom.of('trace_ts'), SELF, Atom.of('call'), new Tuple([Atom.of('m'), Atom.of('f'), [k]]), k]));
  }
  return encode(evs);
}

/** A closed recording of `blocks` blocks of `per` events; returns the block boundaries in the file. */
async function writeBlocks(dir: string, blocks: number, per: number, fs?: StoreFs): Promise<{ writer: RecordingWriter; ends: number[] }> {
  const w = await RecordingWriter.create(
    dir,
    { node: 't@host', otpRelease: '25', elixirVersion: null, agentVersion: 1, monoStart: '0', nativePerSec: 1e9, request: null },
    fs === undefined ? {} : { fs },
  );
  const ends: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const batch = parseBatch(w.ctx, batchBin(b * per, per));
    const none = new Uint32Array(batch.count).fill(0xffffffff);
    w.append(batch, none, none.slice());
    await w.flush();
    ends.push((await stat(join(dir, 'events.esr'))).size);
  }
  return { writer: w, ends };
}

test('a torn last block (file cut mid-block) opens with the blocks before it', async () => {
  const dir = await makeTempDir('store-torn');
  try {
    const { writer, ends } = await writeBlocks(dir, 4, 300);
    await writer.close('complete', 'stopped');
    const file = join(dir, 'events.esr');
    for (const cut of [ends[3]! - 1, ends[2]! + 100, ends[2]! + 20, ends[2]! + 1]) {
      await truncate(file, cut);
      const rec = openRecording(dir);
      assert.equal(rec.count, 900, `cut at ${cut}`);
      assert.equal(rec.meta.status, 'interrupted');
      assert.ok(rec.meta.errors.some((e) => e.includes('torn')), rec.meta.errors.join('\n'));
      assert.ok(rec.meta.errors.some((e) => e.includes('1200 stored events but only 900')), rec.meta.errors.join('\n'));
      rec.close();
    }
    checkEvents(dir, 900);
  } finally {
    await removeDir(dir);
  }
});

async function flipByte(file: string, at: number): Promise<void> {
  const fh = await openFile(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x40;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

test('a flipped byte: in the last block it is dropped; in a middle block the good prefix is kept', async () => {
  const dir = await makeTempDir('store-flip');
  try {
    const { writer, ends } = await writeBlocks(dir, 5, 200);
    await writer.close('complete', 'stopped');
    const file = join(dir, 'events.esr');
    const pristine = await readFile(file);
    // Payload of the last block (its end is payload): checked at open.
    await flipByte(file, ends[4]! - 10);
    let rec = openRecording(dir);
    assert.equal(rec.count, 800);
    assert.ok(rec.meta.errors.some((e) => e.includes('checksum')), rec.meta.errors.join('\n'));
    rec.close();
    // Columns of block 2 (just after its 40-byte header and dictionary): blocks 0 and 1 kept.
    await writeFile(file, pristine);
    await flipByte(file, ends[1]! + 40 + 64);
    rec = openRecording(dir);
    assert.equal(rec.count, 400);
    rec.close();
    // Header of block 3.
    await writeFile(file, pristine);
    await flipByte(file, ends[2]! + 5);
    rec = openRecording(dir);
    assert.equal(rec.count, 600);
    rec.close();
    // Payload of block 1: not checked at open (that would read everything), but on first read.
    await writeFile(file, pristine);
    await flipByte(file, ends[1]! - 10);
    rec = openRecording(dir);
    assert.equal(rec.count, 1000);
    assert.deepEqual(rec.event(0).payload(), [0]);
    assert.equal(rec.event(250).kind, 'call', 'headers of the damaged block still read');
    assert.throws(() => rec.event(250).payload(), (e: unknown) => e instanceof RecordingFormatError && /damaged/.test(e.message));
    assert.deepEqual(rec.event(450).payload(), [450]);
    rec.close();
  } finally {
    await removeDir(dir);
  }
});

test('unknown versions are refused with a clear error', async () => {
  const dir = await makeTempDir('store-version');
  try {
    const { writer } = await writeBlocks(dir, 1, 10);
    await writer.close();
    const metaPath = join(dir, 'meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { schema: number };
    await writeFile(metaPath, JSON.stringify({ ...meta, schema: 99 }));
    assert.throws(() => openRecording(dir), /schema version 99; this ElixirScope reads versions 1 to 2 only/);
    await writeFile(metaPath, JSON.stringify(meta));
    const fh = await openFile(join(dir, 'events.esr'), 'r+');
    await fh.write(Buffer.from([7, 0, 0, 0]), 0, 4, 8);
    await fh.close();
    assert.throws(() => openRecording(dir), /format version 7; this ElixirScope reads versions 1 to 2 only/);
    assert.throws(() => openRecording(join(dir, 'nope')), RecordingFormatError);
  } finally {
    await removeDir(dir);
  }
});

test('a full disk fails the writer with a clear error and keeps what was flushed (simulated)', async () => {
  // No small filesystem can be mounted without root here, so the writer's file operations are
  // wrapped: after `budget` bytes, a write stores part of its data and then fails with ENOSPC,
  // as write(2) does on a full disk.
  const dir = await makeTempDir('store-full');
  try {
    let budget = 0;
    const fullFs: StoreFs = {
      ...nodeFs,
      async open(path) {
        const f = await nodeFs.open(path);
        return {
          ...f,
          async writev(bufs, position) {
            const data = Buffer.concat(bufs);
            if (data.length <= budget) {
              budget -= data.length;
              return f.writev(bufs, position);
            }
            await f.writev([data.subarray(0, Math.max(0, budget))], position);
            budget = 0;
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          },
        };
      },
    };
    budget = 1e9;
    const { writer, ends } = await writeBlocks(dir, 3, 200, fullFs);
    budget = 1000; // the next block does not fit
    const batch = parseBatch(writer.ctx, batchBin(600, 200));
    const none = new Uint32Array(batch.count).fill(0xffffffff);
    writer.append(batch, none, none.slice());
    await assert.rejects(writer.flush(), (e: unknown) => e instanceof RecordingWriteError && /disk is full/.test(e.message) && /600 event\(s\) flushed before are kept/.test(e.message));
    assert.equal((await stat(join(dir, 'events.esr'))).size, ends[2], 'the torn block is cut off');
    // Later appends are counted, not stored; close reports the failure again.
    writer.append(parseBatch(writer.ctx, batchBin(800, 10)), none, none.slice());
    await assert.rejects(writer.close('complete', null), RecordingWriteError);
    const rec = openRecording(dir);
    assert.equal(rec.count, 600);
    assert.equal(rec.meta.counts.dropped.write_failed, 210);
    assert.ok(rec.meta.errors.some((e) => e.includes('disk is full')));
    rec.close();
    checkEvents(dir, 600);
  } finally {
    await removeDir(dir);
  }
});
