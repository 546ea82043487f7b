/**
 * A child process for the crash-safety test (test/store-crash.test.ts): writes a recording in DIR
 * without end, flushing every FLUSH batches, and prints `flushed <stored>` after each flush has
 * resolved (and `flushing <count>` before it starts), until it is killed (kill -9 by the test). Each batch is 500 encoded trace events with
 * distinct payloads, so the test can check every event it reads back.
 *
 *   node dist/test/support/recordingChild.js DIR [FLUSH]
 */

import { encode } from '../../src/erlang/etf/index.js';
import { Atom, Pid, Tuple, type Term } from '../../src/erlang/terms.js';
import { parseBatch } from '../../src/capture/batchParser.js';
import { RecordingWriter } from '../../src/store/writer.js';

const CHILD_NODE = 'child@test';
const CHILD_MONO_START = -1_000_000n;

/** Batch `b` of the child: events numbered b * 500 + i carry that number in their payload. */
function childBatch(b: number): Buffer {
  const self = new Pid(Atom.of(CHILD_NODE), 100 + (b % 7), 0, 1);
  const evs: Term[] = [];
  for (let i = 0; i < 500; i++) {
    const n = b * 500 + i;
    evs.push(new Tuple([Atom.of('trace_ts'), self, Atom.of('call'), new Tuple([Atom.of('m'), Atom.of('f'), [n]]), -1_000_000 + n]));
  }
  return encode(evs);
}

async function main(): Promise<void> {
  const [dir, flushS] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: recordingChild DIR [FLUSH]');
  const every = Number(flushS ?? '4');
  const w = await RecordingWriter.create(dir, {
    node: CHILD_NODE,
    otpRelease: '25',
    elixirVersion: null,
    agentVersion: 1,
    monoStart: String(CHILD_MONO_START),
    nativePerSec: 1_000_000_000,
    request: null,
  });
  for (let b = 0; ; b++) {
    const batch = parseBatch(w.ctx, childBatch(b));
    const none = new Uint32Array(batch.count).fill(0xffffffff);
    w.append(batch, none, none.slice());
    if ((b + 1) % every === 0) {
      process.stdout.write(`flushing ${w.count}\n`);
      await w.flush();
      process.stdout.write(`flushed ${w.flushedCount}\n`);
      // Keep appending while the parent decides when to kill: the kill lands between flushes or
      // in the middle of the next one.
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
