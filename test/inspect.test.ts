/**
 * inspect() against the real inspect/2 of Elixir 1.14: an Elixir script writes, for several hundred
 * hand-picked terms and a few thousand random ones (fixed seed), the term's external format and what
 * inspect/2 prints under ten option sets; each term is decoded here and must print identically.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '../src/erlang/etf/index.js';
import { inspect, type InspectOptions } from '../src/erlang/inspect.js';
import { Atom, ErlMap, Fun, Tuple, termEquals, type Term } from '../src/erlang/terms.js';
import { readInspectCorpus, writeInspectCorpus, type CorpusRecord } from './support/elixirScript.js';

const RANDOM_COUNT = 2500;
const SEED = 20261123;
/** `elixir script.exs` runs without distribution, so its own identifiers belong to this node. */
const SCRIPT_NODE = Atom.of('nonode@nohost');
const OTHER_NODE = 'other@vm';

/** The option sets of the corpus script, by the names it writes. */
const OPTION_SETS: Record<string, InspectOptions> = {
  default: {},
  limit3: { limit: 3 },
  plimit5: { printableLimit: 5 },
  as_lists: { charlists: 'as_lists' },
  as_binaries: { binaries: 'as_binaries' },
  as_strings: { binaries: 'as_strings' },
  as_charlists: { charlists: 'as_charlists' },
  infinity: { limit: Infinity, printableLimit: Infinity },
  limit1: { limit: 1 },
  limit0: { limit: 0 },
};

let dir = '';
let records: CorpusRecord[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'es-inspect-'));
  const file = await writeInspectCorpus(dir, RANDOM_COUNT, SEED);
  records = readInspectCorpus(await readFile(file));
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  compared: number;
  raised: number;
  mismatches: string[];
}

/** What inspect/2 read from the script's loaded code: fun names and struct field orders. */
function optionsFromMeta(meta: Term): Pick<InspectOptions, 'funName' | 'structFields'> {
  assert.ok(meta instanceof ErlMap);
  const funs = (meta.getAtom('funs') as Term[]).map((t) => (t as Tuple).elements as [Term, Term]);
  const structs = (meta.getAtom('structs') as Term[]).map((t) => (t as Tuple).elements as [Term, Term]);
  return {
    funName: (f: Fun) => {
      const hit = funs.find(([g]) => termEquals(g, f));
      return hit === undefined ? undefined : (hit[1] as Atom);
    },
    structFields: (mod: Atom) => {
      const hit = structs.find(([m]) => m === mod);
      if (hit === undefined) return undefined;
      return Array.isArray(hit[1]) ? (hit[1] as Atom[]) : null;
    },
  };
}

function compare(prefix: string, expected: (rec: CorpusRecord, text: string) => string): Outcome {
  const out: Outcome = { compared: 0, raised: 0, mismatches: [] };
  for (const rec of records.filter((r) => r.id.startsWith(prefix))) {
    const term = decodeRecord(rec, rec.etf);
    const extra = optionsFromMeta(decodeRecord(rec, rec.meta));
    for (const [name, result] of rec.results) {
      const opts = OPTION_SETS[name];
      assert.ok(opts, `the corpus has an option set this test does not know: ${name}`);
      const ours = inspect(term, { ...opts, ...extra, localNode: SCRIPT_NODE });
      if (!result.ok) {
        // inspect/2 raised (e.g. :as_charlists on a list that is not chardata); ours printed something.
        out.raised++;
        assert.equal(typeof ours, 'string');
        continue;
      }
      out.compared++;
      const want = expected(rec, result.text);
      if (ours !== want) {
        out.mismatches.push(`${rec.id} [${name}]\n  elixir: ${clip(want)}\n  ours:   ${clip(ours)}`);
      }
    }
  }
  return out;
}

/** Decodes with the record's id in any error, so a decoder fault names the term that showed it. */
function decodeRecord(rec: CorpusRecord, bytes: Buffer): Term {
  try {
    return decode(bytes);
  } catch (e) {
    throw new Error(`decoding ${rec.id} (bytes ${bytes.toString('hex').slice(0, 200)}) failed: ${(e as Error).message}`, { cause: e });
  }
}

const clip = (s: string): string => (s.length > 400 ? `${s.slice(0, 400)}... (${s.length} chars)` : s);

function assertNoMismatch(o: Outcome): void {
  assert.equal(
    o.mismatches.length,
    0,
    `${o.mismatches.length} of ${o.compared} renderings differ from inspect/2:\n${o.mismatches.slice(0, 25).join('\n')}`,
  );
}

test('hand-picked terms print exactly as inspect/2 prints them, under every option set', () => {
  const o = compare('hand:', (_, text) => text);
  const terms = records.filter((r) => r.id.startsWith('hand:')).length;
  assert.ok(terms >= 400, `expected at least 400 hand-picked terms, the corpus has ${terms}`);
  assertNoMismatch(o);
  // Only the deliberately invalid charlists make inspect/2 raise; the rest is compared.
  assert.ok(o.raised < 60, `inspect/2 raised ${o.raised} times`);
});

test(`${RANDOM_COUNT} random terms (seed ${SEED}) print exactly as inspect/2 prints them`, () => {
  const o = compare('random:', (_, text) => text);
  assert.equal(records.filter((r) => r.id.startsWith('random:')).length, RANDOM_COUNT);
  assertNoMismatch(o);
});

test("another node's pids, refs and ports print with its name where inspect/2 prints a node index", () => {
  const o = compare('remote:', (_, text) =>
    text.replace(/#(PID|Reference|Port)<(\d+)\./g, (m, kind: string, index: string) =>
      index === '0' ? m : `#${kind}<${OTHER_NODE}.`,
    ),
  );
  assert.ok(o.compared >= 50, `only ${o.compared} remote renderings were compared`);
  assertNoMismatch(o);
});

test('a standard-library struct whose fields do not fit prints its fields where inspect/2 prints an Inspect.Error', () => {
  const broken = records.filter((r) => r.id.startsWith('broken:'));
  assert.equal(broken.length, 4);
  for (const rec of broken) {
    const term = decode(rec.etf);
    const elixir = rec.results.get('default')!;
    assert.ok(elixir.ok && elixir.text.startsWith('#Inspect.Error<'), `${rec.id}: inspect/2 printed ${elixir.text}`);
    const ours = inspect(term, optionsFromMeta(decode(rec.meta)));
    // The plain map, exactly as the error message of inspect/2 shows the term it could not print.
    assert.match(ours, /^%\{__struct__: /, `${rec.id}: ${ours}`);
    assert.ok(elixir.text.includes(`while inspecting:\n\n      ${ours}\n`), `${rec.id}: ${ours} is not in ${elixir.text}`);
  }
});
