/**
 * A small, realistic recording of the example shop, built in memory: a client adds an item to a
 * GenServer cart (nested calls, a call to the inventory GenServer, state changes on both), asks for a
 * discount that raises ArithmeticError, the cart spawns a notifier that sends a message too big to
 * capture whole (truncated by the agent) and crashes, and the recording stops on a limit while a
 * client call is still open. The golden tests render it; the numbers in comments are event ids.
 */

import { atom, ErlMap, Reference, Tuple, type Term } from '../../src/erlang/terms.js';
import type { Recording } from '../../src/store/types.js';
import { RecordingBuilder } from './memoryRecording.js';

const t = (...els: Term[]): Tuple => new Tuple(els);
const map = (entries: Array<[Term, Term]>): ErlMap => new ErlMap(entries);
const bin = (s: string): Buffer => Buffer.from(s, 'utf8');
const a = atom;

export interface ShopRecording {
  rec: Recording;
  builder: RecordingBuilder;
  ids: Record<string, number>;
}

export function shopRecording(): ShopRecording {
  const b = new RecordingBuilder('shop@vm');
  const relay = b.pid(90);
  const cart = b.pid(150);
  const inventory = b.pid(151);
  const client = b.pid(160);
  const notifier = b.pid(170);
  const node = a('shop@vm');
  const ref1 = new Reference(node, 1, [11, 0, 0]);
  const ref2 = new Reference(node, 1, [12, 0, 0]);
  const ref3 = new Reference(node, 1, [13, 0, 0]);
  const ids: Record<string, number> = {};

  const cartState = (items: ErlMap, total: number): ErlMap =>
    map([
      [a('items'), items],
      [a('owner'), bin('ann')],
      [a('total'), total],
    ]);
  const emptyCart = cartState(map([]), 0);
  const fullCart = cartState(map([[bin('sku-1'), 2]]), 2500);
  const stock = (n: number): ErlMap => map([[a('stock'), map([[bin('sku-1'), n], [bin('sku-2'), 4]])]]);

  b.add({ ts: 0, kind: 'register', pid: cart, payload: a('Elixir.Shop.Cart') });
  b.add({ ts: 0, kind: 'register', pid: inventory, payload: a('Elixir.Shop.Inventory') });
  ids.cartInit = b.add({ ts: 1_000, kind: 'state_init', pid: cart, payload: emptyCart });
  b.add({ ts: 1_000, kind: 'state_init', pid: inventory, payload: stock(10) });

  // The client adds two of sku-1.
  ids.checkout = b.call(client, 90_000, 'Elixir.Shop.Client', 'checkout', [bin('ann')]);
  const addReq = t(a('$gen_call'), t(client, ref1), t(a('add'), bin('sku-1'), 2));
  ids.addSend = b.send(client, 100_000, cart, addReq);
  ids.addRecv = b.receive(cart, 120_000, addReq, ids.addSend);
  ids.handleAdd = b.call(cart, 125_000, 'Elixir.Shop.Cart', 'handle_call', [t(a('add'), bin('sku-1'), 2), t(client, ref1), emptyCart]);
  ids.addItem = b.call(cart, 126_000, 'Elixir.Shop.Cart', 'add_item', [map([]), bin('sku-1'), 2]);
  ids.price = b.call(cart, 127_000, 'Elixir.Shop.Pricing', 'price', [bin('sku-1')]);
  b.ret(cart, 129_100, 1250);
  const reserve = t(a('$gen_call'), t(cart, ref2), t(a('reserve'), bin('sku-1'), 2));
  ids.reserveSend = b.send(cart, 130_000, inventory, reserve);
  ids.reserveRecv = b.receive(inventory, 131_500, reserve, ids.reserveSend);
  b.call(inventory, 132_000, 'Elixir.Shop.Inventory', 'handle_call', [t(a('reserve'), bin('sku-1'), 2), t(cart, ref2), stock(10)]);
  b.call(inventory, 133_000, 'lists', 'keyfind', [bin('sku-1'), 1, []]);
  b.ret(inventory, 133_400, a('false'));
  b.ret(inventory, 140_000, t(a('reply'), a('ok'), stock(8)));
  ids.inventoryState = b.add({ ts: 141_000, kind: 'state', pid: inventory, payload: stock(8), aux: t(reserve, t(a('reply'), a('ok'))), link: ids.reserveRecv });
  ids.reserveReply = b.send(inventory, 141_500, cart, t(ref2, a('ok')));
  ids.replyRecv = b.receive(cart, 143_000, t(ref2, a('ok')), ids.reserveReply);
  b.ret(cart, 145_000, map([[bin('sku-1'), 2]]));
  b.ret(cart, 150_000, t(a('reply'), a('ok'), fullCart));
  ids.cartState = b.add({ ts: 151_000, kind: 'state', pid: cart, payload: fullCart, aux: t(addReq, t(a('reply'), a('ok'))), link: ids.addRecv });
  ids.okSend = b.send(cart, 151_500, client, t(ref1, a('ok')));
  ids.okRecv = b.receive(client, 153_000, t(ref1, a('ok')), ids.okSend);

  // A discount of 0 divides by zero inside the cart.
  const discountReq = t(a('$gen_call'), t(client, ref3), t(a('discount'), 0));
  ids.discountSend = b.send(client, 1_200_000, cart, discountReq);
  ids.discountRecv = b.receive(cart, 1_201_000, discountReq, ids.discountSend);
  ids.handleDiscount = b.call(cart, 1_202_000, 'Elixir.Shop.Cart', 'handle_call', [t(a('discount'), 0), t(client, ref3), fullCart]);
  ids.discount = b.call(cart, 1_203_000, 'Elixir.Shop.Pricing', 'discount', [2500, 0]);
  const arith = map([
    [a('__struct__'), a('Elixir.ArithmeticError')],
    [a('__exception__'), a('true')],
    [a('message'), bin('bad argument in arithmetic expression')],
  ]);
  ids.discountRaise = b.raise(cart, 1_203_700, 'error', arith);
  b.raise(cart, 1_204_000, 'error', arith);
  b.add({ ts: 1_204_500, kind: 'state', pid: cart, payload: fullCart, aux: t(discountReq, a('noreply')), link: ids.discountRecv });

  // A note to a mailer that is not running: sent to a name, so there is no receiver pid.
  ids.mailerSend = b.add({ ts: 1_300_000, kind: 'send', pid: client, payload: t(a('notify'), bin('ann')), aux: a('Elixir.Shop.Mailer') });

  // The cart spawns a notifier that sends a huge stock update (truncated by the agent) and crashes.
  const notifierArgs = [map([[a('owner'), bin('ann')]])];
  ids.spawn = b.add({ ts: 2_000_000, kind: 'spawn', pid: cart, peer: notifier, payload: t(a('Elixir.Shop.Notifier'), a('run'), notifierArgs) });
  ids.spawned = b.add({ ts: 2_000_100, kind: 'spawned', pid: notifier, peer: cart, link: ids.spawn, payload: t(a('Elixir.Shop.Notifier'), a('run'), notifierArgs) });
  b.add({ ts: 2_000_200, kind: 'link', pid: cart, peer: notifier });
  b.add({ ts: 2_000_300, kind: 'getting_linked', pid: notifier, peer: cart });
  ids.notifierRun = b.call(notifier, 2_001_000, 'Elixir.Shop.Notifier', 'run', notifierArgs);
  const truncated = t(a('$es_truncated'), 48_213, [t(bin('sku-1'), 8), t(bin('sku-2'), 4)]);
  ids.bulkSend = b.send(notifier, 2_002_000, inventory, t(a('bulk_update'), truncated));
  ids.bulkRecv = b.receive(inventory, 2_003_000, t(a('bulk_update'), truncated), ids.bulkSend);
  const mailErr = map([
    [a('__struct__'), a('Elixir.RuntimeError')],
    [a('__exception__'), a('true')],
    [a('message'), bin('mail server down')],
  ]);
  ids.notifierRaise = b.raise(notifier, 2_004_000, 'error', mailErr);
  const stacktrace = [t(a('Elixir.Shop.Notifier'), a('run'), 1, [t(a('file'), [...Buffer.from('lib/shop/notifier.ex')]), t(a('line'), 12)])];
  ids.crash = b.add({ ts: 2_004_500, kind: 'exit', pid: notifier, payload: t(mailErr, stacktrace) });
  ids.deadSend = b.add({ ts: 2_005_000, kind: 'send_to_dead', pid: cart, peer: notifier, payload: t(a('done'), 1) });

  ids.limit = b.add({ ts: 3_000_000, kind: 'limit', pid: relay, payload: t(a('max_events'), 40, a('stopped')) });
  return { rec: b.build('/tmp/shop-recording'), builder: b, ids };
}
