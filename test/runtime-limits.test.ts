/** The safety limits: one table, its defaults, the CLI value syntax and the --help table. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, LIMITS, LimitValueError, limitOptions, limitsTable, parseLimits, type AgentLimits } from '../src/runtime/limits.js';

test('every AgentLimits field has exactly one row, with a reason', () => {
  const fields: Array<keyof AgentLimits> = ['maxRate', 'maxEvents', 'maxDurationMs', 'maxMailbox', 'maxTermBytes', 'batchEvents', 'flushMs'];
  assert.deepEqual(LIMITS.map((l) => l.field).sort(), [...fields].sort());
  for (const l of LIMITS) {
    assert.ok(l.reason.length > 20 && !l.reason.includes('\n'), l.name);
    assert.ok(l.default >= l.min && l.default <= l.max, l.name);
  }
  assert.deepEqual(Object.keys(limitOptions()), LIMITS.map((l) => l.name));
});

test('production defaults', () => {
  assert.deepEqual(DEFAULT_LIMITS, {
    maxRate: 20_000,
    maxEvents: 1_000_000,
    maxDurationMs: 60_000,
    maxMailbox: 50_000,
    maxTermBytes: 16_384,
    batchEvents: 500,
    flushMs: 20,
  });
  assert.deepEqual(parseLimits({}), DEFAULT_LIMITS);
});

test('values: counts with k/m and underscores, durations with units, sizes in KiB/MiB/KB', () => {
  assert.deepEqual(
    parseLimits({ 'max-rate': '5000', 'max-events': '1m', duration: '10s', 'max-term': '64KiB', batch: '1_000', flush: '500ms', 'max-mailbox': '10k' }),
    { maxRate: 5000, maxEvents: 1_000_000, maxDurationMs: 10_000, maxMailbox: 10_000, maxTermBytes: 65_536, batchEvents: 1000, flushMs: 500 },
  );
  assert.equal(parseLimits({ 'max-events': '1e6' }).maxEvents, 1_000_000);
  assert.equal(parseLimits({ 'max-events': '1000000' }).maxEvents, 1_000_000);
  assert.equal(parseLimits({ duration: '2m' }).maxDurationMs, 120_000);
  assert.equal(parseLimits({ duration: '1.5h' }).maxDurationMs, 5_400_000);
  assert.equal(parseLimits({ 'max-term': '1MiB' }).maxTermBytes, 1_048_576);
  assert.equal(parseLimits({ 'max-term': '100kB' }).maxTermBytes, 100_000);
  assert.equal(parseLimits({ 'max-term': '4096' }).maxTermBytes, 4096);
  // The last of repeated options wins.
  assert.equal(parseLimits({ 'max-rate': ['10', '20'] }).maxRate, 20);
});

test('bad values are usage errors that name the flag and give an example', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['max-rate', 'fast', /^--max-rate "fast": expected a whole number such as 5000, 10k or 1m; e\.g\. --max-rate 5000$/],
    ['duration', '60', /a duration needs a unit \(60ms or 60s\?\)/],
    ['duration', '0s', /out of range: it must be between 1ms and 24h \(limits cannot be switched off, only raised\)/],
    ['max-term', '10XB', /unknown size unit "XB"/],
    ['max-events', '1.5', /expected a whole number/],
    ['max-rate', '0', /out of range/],
    ['flush', '1h', /between 1ms and 10s/],
    ['max-term', '8', /out of range/],
  ];
  for (const [name, value, msg] of cases) {
    assert.throws(
      () => parseLimits({ [name]: value }, 'record'),
      (e: unknown) => e instanceof LimitValueError && msg.test(e.message) && e.command === 'record',
      `${name} ${value}`,
    );
  }
  assert.throws(() => parseLimits({ 'max-rate': true }), /--max-rate needs a value/);
});

test('the --help table', () => {
  assert.equal(
    limitsTable(),
    [
      '  limit          default         why',
      '  --max-rate     20000 events/s  a hot function traced by mistake stops tracing instead of eating the schedulers',
      "  --max-events   1000000 events  a recording ends before it fills the disk or the engine's memory",
      '  --duration     60s             trace flags never outlive a forgotten terminal',
      "  --max-mailbox  50000 messages  if the relay falls behind, tracing stops before its mailbox grows the node's memory",
      '  --max-term     16KiB           one huge argument or state is cut (and marked) instead of copied whole',
      '  --batch        500 events      events travel in batches so the distribution link carries few large messages',
      '  --flush        20ms            a partial batch is sent after this long, so a quiet trace still shows up at once',
      '',
    ].join('\n'),
  );
});
