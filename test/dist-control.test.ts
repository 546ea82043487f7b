/**
 * Control messages in every form a peer may send (old, *_TT with trace token, PAYLOAD_*), and the
 * forms we send depending on the negotiated flags.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildControl, CTRL, parseControl, aliasOfTag, MalformedControlError } from '../src/erlang/controlMessages.js';
import { DFLAG, OUR_FLAGS } from '../src/erlang/flags.js';
import { atom, ImproperList, Pid, Reference, termEquals, tuple } from '../src/erlang/terms.js';

const a = new Pid(atom('a@h'), 1, 0, 1);
const b = new Pid(atom('b@h'), 2, 0, 1);
const ref = new Reference(atom('a@h'), 1, [1, 2, 3]);
const token = tuple(atom('trace'), 1);
const why = atom('why');

describe('control messages', () => {
  it('parses the plain, *_TT and PAYLOAD_* forms of sends and exits to the same signal', () => {
    const sends = [
      parseControl(tuple(CTRL.SEND, atom(''), b), why),
      parseControl(tuple(CTRL.SEND_TT, atom(''), b, token), why),
      parseControl(tuple(CTRL.SEND_SENDER, a, b), why),
      parseControl(tuple(CTRL.SEND_SENDER_TT, a, b, token), why),
    ];
    for (const s of sends) assert.ok(s.kind === 'send' && s.to === b && s.msg === why);
    assert.equal((sends[2] as { from: Pid }).from, a);
    assert.deepEqual(parseControl(tuple(CTRL.REG_SEND_TT, a, atom(''), atom('rex'), token), why), { kind: 'reg_send', from: a, name: atom('rex'), msg: why });
    assert.deepEqual(parseControl(tuple(CTRL.ALIAS_SEND_TT, a, ref, token), why), { kind: 'alias_send', from: a, alias: ref, msg: why });
    const exits = [
      parseControl(tuple(CTRL.EXIT, a, b, why), undefined),
      parseControl(tuple(CTRL.EXIT_TT, a, b, token, why), undefined),
      parseControl(tuple(CTRL.PAYLOAD_EXIT, a, b), why),
      parseControl(tuple(CTRL.PAYLOAD_EXIT_TT, a, b, token), why),
    ];
    for (const e of exits) assert.deepEqual(e, { kind: 'exit', from: a, to: b, reason: why });
    const exit2s = [
      parseControl(tuple(CTRL.EXIT2, a, b, why), undefined),
      parseControl(tuple(CTRL.EXIT2_TT, a, b, token, why), undefined),
      parseControl(tuple(CTRL.PAYLOAD_EXIT2, a, b), why),
      parseControl(tuple(CTRL.PAYLOAD_EXIT2_TT, a, b, token), why),
    ];
    for (const e of exit2s) assert.deepEqual(e, { kind: 'exit2', from: a, to: b, reason: why });
    for (const m of [parseControl(tuple(CTRL.MONITOR_P_EXIT, a, b, ref, why), undefined), parseControl(tuple(CTRL.PAYLOAD_MONITOR_P_EXIT, a, b, ref), why)]) {
      assert.deepEqual(m, { kind: 'monitor_exit', target: a, to: b, ref, reason: why });
    }
    assert.deepEqual(parseControl(tuple(CTRL.UNLINK_ID, 2n ** 63n, a, b), undefined), { kind: 'unlink_id', id: 2n ** 63n, from: a, to: b });
    assert.deepEqual(parseControl(tuple(CTRL.SPAWN_REQUEST, ref, a, a, tuple(), []), []), { kind: 'unknown', op: CTRL.SPAWN_REQUEST });
  });

  it('rejects malformed control messages with a reason', () => {
    assert.throws(() => parseControl(atom('x'), undefined), MalformedControlError);
    assert.throws(() => parseControl(tuple(CTRL.LINK, a), undefined), /expected 3/);
    assert.throws(() => parseControl(tuple(CTRL.SEND, atom(''), atom('notapid')), why), /expected a pid/);
    assert.throws(() => parseControl(tuple(CTRL.SEND, atom(''), b), undefined), /payload/);
  });

  it('builds the newest forms the peer negotiated, and the old ones otherwise', () => {
    const exit = { kind: 'exit', from: a, to: b, reason: why } as const;
    assert.ok(termEquals(buildControl(exit, OUR_FLAGS).ctrl, tuple(CTRL.PAYLOAD_EXIT, a, b)));
    assert.equal(buildControl(exit, OUR_FLAGS).payload, why);
    assert.ok(termEquals(buildControl(exit, OUR_FLAGS & ~DFLAG.EXIT_PAYLOAD).ctrl, tuple(CTRL.EXIT, a, b, why)));
    const send = { kind: 'send', from: a, to: b, msg: why } as const;
    assert.ok(termEquals(buildControl(send, OUR_FLAGS).ctrl, tuple(CTRL.SEND_SENDER, a, b)));
    assert.ok(termEquals(buildControl(send, OUR_FLAGS & ~DFLAG.SEND_SENDER).ctrl, tuple(CTRL.SEND, atom(''), b)));
  });

  it('recognises OTP 24 alias reply tags', () => {
    assert.equal(aliasOfTag(new ImproperList([atom('alias')], ref)), ref);
    assert.equal(aliasOfTag(ref), undefined);
  });
});
