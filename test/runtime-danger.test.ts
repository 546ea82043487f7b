/** Refusals of dangerous trace requests, and what --force can and cannot override. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDangers, dangerousModule, DangerError, DANGEROUS_MODULES, findDangers, type TraceRequest } from '../src/runtime/danger.js';
import { parseFunctionSpec as f, parseModuleSpec as m } from '../src/runtime/traceSpec.js';

test('the documented list covers the modules the relay and the distribution use', () => {
  for (const mod of ['erlang', 'lists', 'Elixir.Enum', 'elixir_scope_agent', 'erts_internal', 'prim_inet', 'prim_file', 'dist_util', 'net_kernel', 'gen', 'proc_lib', 'sys']) {
    assert.ok(dangerousModule(mod) !== undefined, mod);
  }
  assert.equal(dangerousModule('Elixir.Shop.Cart'), undefined);
  assert.equal(dangerousModule('primes'), undefined);
  for (const d of DANGEROUS_MODULES) assert.ok(d.why.length > 10, d.module);
});

test('own code, and dangerous modules with an argument filter, are allowed', () => {
  const req: TraceRequest = {
    calls: [
      m('Shop.Cart'),
      f('Shop.Cart.add/2'),
      f(':lists.reverse([:marker | _])'),
      f('Enum.map([1 | _], _)'),
      f(':erlang.send(:my_proc, _)'),
      f('Enum.map(list, _) when length(list) > 1000'),
    ],
    processes: { which: { pid: '<0.1.0>' }, flags: ['send', 'receive', 'call'] },
  };
  assert.deepEqual(findDangers(req), []);
  assert.deepEqual(checkDangers(req, false), []);
  assert.deepEqual(findDangers({ calls: [], processes: { which: 'all', flags: ['call', 'procs'] } }), []);
});

test('every refusal says why and what to do instead', () => {
  const req: TraceRequest = {
    calls: [m(':lists'), f(':lists.reverse/1'), f('Enum.map/2'), f('Enum.map(_, _)'), f(':erlang.send/2'), f(':prim_inet.send/3')],
    processes: { which: 'all', flags: ['call', 'send', 'receive'] },
  };
  const r = findDangers(req);
  assert.deepEqual(
    r.map((x) => x.subject),
    [':lists (every function)', ':lists.reverse/1', 'Enum.map/2', 'Enum.map(_, _)', ':erlang.send/2', ':prim_inet.send/3', 'send on all processes', 'receive on all processes'],
  );
  assert.ok(r.every((x) => x.forcible && /--force/.test(x.instead)));
  assert.equal(r[1]!.instead, "add an argument filter, e.g. --function ':lists.reverse(:marker)' or a guard with when, or --force");
  assert.match(r[4]!.reason, /feedback loop/);
  assert.match(r[6]!.instead, /--pid or --name/);

  assert.throws(() => checkDangers(req, false), (e: unknown) => e instanceof DangerError && e.refusals.length === 8 && /^refused: :lists \(every function\): /.test(e.message));
  // Forced: allowed, and the overridden refusals come back to be printed as warnings.
  assert.equal(checkDangers(req, true).length, 8);
  for (const which of ['new', 'existing'] as const) {
    assert.equal(findDangers({ calls: [], processes: { which, flags: ['send'] } }).length, 1, which);
  }
});

test('the agent itself cannot be traced, even forced', () => {
  const req: TraceRequest = { calls: [m('elixir_scope_agent'), f('elixir_scope_agent.request(:x, _, _)')] };
  const r = findDangers(req);
  assert.equal(r.length, 2);
  assert.ok(r.every((x) => !x.forcible));
  assert.throws(() => checkDangers(req, true), DangerError);
});
