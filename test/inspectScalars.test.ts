/**
 * Floats and atoms, the two scalar kinds with real layout rules, against the real inspect/2 in bulk:
 * random doubles over the whole range (float formatting) and random atoms drawn from many scripts
 * (quoting as a literal, as a keyword key and as a remote call name, i.e. Elixir's identifier rules).
 */

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from '../src/erlang/inspect.js';
import { Atom, ErlFloat, ExportFun, tuple } from '../src/erlang/terms.js';
import { runElixirScript, SCALARS_SCRIPT } from './support/elixirScript.js';

const COUNT = 20_000;
const SEED = 7;

let floats: Array<{ value: number; elixir: string }> = [];
let atoms: Array<{ name: string; literal: string; keyword: string; capture: string }> = [];

before(async () => {
  const { stdout } = await runElixirScript(SCALARS_SCRIPT, [String(COUNT), String(SEED)]);
  const text = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');
  for (const line of stdout.toString('utf8').split('\n')) {
    const [kind, ...fields] = line.split(' ');
    if (kind === 'F') floats.push({ value: Buffer.from(fields[0]!, 'base64').readDoubleBE(0), elixir: text(fields[1]!) });
    else if (kind === 'A') {
      const [name, literal, keyword, capture] = fields.map(text) as [string, string, string, string];
      atoms.push({ name, literal, keyword, capture });
    }
  }
});

function report(mismatches: string[], total: number, what: string): void {
  assert.equal(mismatches.length, 0, `${mismatches.length} of ${total} ${what} differ:\n${mismatches.slice(0, 25).join('\n')}`);
}

test(`${COUNT} random floats print as inspect/2 prints them`, () => {
  assert.equal(floats.length, COUNT);
  const bad: string[] = [];
  for (const { value, elixir } of floats) {
    const ours = inspect(new ErlFloat(value));
    if (ours !== elixir) bad.push(`  ${value}: elixir ${elixir}, ours ${ours}`);
  }
  report(bad, floats.length, 'floats');
});

test(`${COUNT} random atoms from many scripts are quoted exactly where inspect/2 quotes them`, () => {
  assert.equal(atoms.length, COUNT);
  const bad: string[] = [];
  let quoted = 0;
  for (const a of atoms) {
    const atom = Atom.of(a.name);
    const ours = [inspect(atom), inspect([tuple(atom, 1)]), inspect(new ExportFun(Atom.of('m'), atom, 0))];
    const want = [a.literal, a.keyword, a.capture];
    if (ours.join('\n') !== want.join('\n')) bad.push(`  ${JSON.stringify(a.name)}: elixir ${want.join(' | ')}; ours ${ours.join(' | ')}`);
    if (a.literal.startsWith(':"')) quoted++;
  }
  report(bad, atoms.length, 'atoms');
  // The sample must exercise both sides of the rule, or it proves little.
  assert.ok(quoted > COUNT / 10 && quoted < COUNT * 0.9, `${quoted} of ${COUNT} atoms were quoted`);
});
