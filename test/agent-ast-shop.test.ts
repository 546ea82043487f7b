/**
 * AST instrumentation on a Mix-built app (examples/shop, started with `mix run`): whether the
 * source check can be trusted for modules Mix compiled, and a probe in a module the running app
 * calls, reverted to the exact original.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadAgent, unloadAgentIfUnused } from '../src/agent/loader.js';
import { LocalNode } from '../src/erlang/node.js';
import { inspect } from '../src/erlang/inspect.js';
import { Tuple, atom, type Term } from '../src/erlang/terms.js';
import { removeCopy, type ShopNode, startBuiltShop } from './support/exampleApp.js';
import { kind, record, type Engine } from './support/agentHarness.js';
import { insertProbe, variable } from './support/astNodeProbe.js';

describe('agent AST instrumentation on the Mix-built shop app', () => {
  let dir: string;
  let shop: ShopNode;
  let eng: Engine;

  before(async () => {
    ({ dir, shop } = await startBuiltShop());
    const local = await LocalNode.start({ cookie: shop.cookie });
    eng = { local, remote: await local.connect(shop.name), close: () => local.close() };
    await loadAgent(eng.remote);
  });
  after(async () => {
    await unloadAgentIfUnused(eng.remote);
    await eng.close();
    await shop.stop();
    removeCopy(dir);
  });

  it('the source check says true or unknown for every module, never false; unknown only where Logger embeds Mix settings', async () => {
    const modules = await eng.remote.rpc('application', 'get_key', [atom('shop'), atom('modules')]);
    assert.ok(modules instanceof Tuple);
    const names = (modules.elements[1] as Term[]).map((m) => inspect(m));
    assert.ok(names.length >= 10, names.join(' '));
    const rec = await record(eng);
    const verdicts: string[] = [];
    for (const name of names) {
      const src = await rec.session.astSource(`Elixir.${name}`);
      assert.equal(src.origin, 'source', name);
      if (src.origin !== 'source') continue;
      const usesLogger = /\bLogger\.\w+\(/.test(readFileSync(src.file, 'utf8'));
      verdicts.push(`${name}: ${String(src.sourceMatches)}`);
      assert.equal(src.sourceMatches, usesLogger ? 'unknown' : true, `${name} (uses Logger: ${usesLogger})`);
    }
    await rec.session.stop();
    assert.ok(verdicts.some((v) => v.endsWith('unknown')), verdicts.join(', '));
  });

  it('a probe in Shop.Pricing.tax/1 reports while the app runs; the revert gives back the exact original', async () => {
    const md5 = async (): Promise<string> => {
      const b = await eng.remote.rpc('erlang', 'get_module_info', [atom('Elixir.Shop.Pricing'), atom('md5')]);
      return Buffer.isBuffer(b) ? b.toString('hex') : inspect(b);
    };
    const before = await md5();
    const rec = await record(eng);
    const src = await rec.session.astSource('Elixir.Shop.Pricing');
    if (src.origin !== 'source') throw new Error('expected the source of Shop.Pricing');
    const [r] = await rec.session.instrument([{ module: 'Elixir.Shop.Pricing', quoted: insertProbe(src.quoted, 'tax', 1, 0, 'cents', variable('cents'), 116) }]);
    assert.equal(r!.md5Before, before);
    assert.deepEqual(r!.warnings, []);
    assert.notEqual(await md5(), before);
    const quoted = await eng.remote.rpc('Elixir.Shop.Pricing', 'tax', [10_000]);
    assert.equal(quoted, 800);
    await rec.session.revert(['Elixir.Shop.Pricing']);
    assert.equal(await md5(), before);
    await rec.session.stop();
    const probes = rec.events.filter((e) => kind(e) === 'es_ast') as Tuple[];
    assert.ok(probes.length >= 1);
    assert.ok(probes.some((e) => inspect(new Tuple(e.elements.slice(3))) === '{:probe, {Shop.Pricing, :tax, 1}, 116, {"cents", 10000}}'), probes.map((e) => inspect(e)).join('\n'));
    assert.doesNotMatch(shop.output(), /^warning: /m);
  });
});
