/**
 * `elixir-scope info`: connect to a node as a hidden node and describe it. The first thing a person
 * runs against a node they are about to debug, so its errors must say exactly what is wrong.
 *
 * Safe on production: it only reads `erlang:system_info/1`, `application:get_key/2` and `nodes/1`.
 */

import { resolveCookie } from '../../erlang/cookie.js';
import { LocalNode } from '../../erlang/node.js';
import { atom, Atom, isTuple, type Term } from '../../erlang/terms.js';
import { withLocalHost } from '../../erlang/nodeName.js';
import { durationOption, EXIT_OK, requiredString, stringOption, type Command } from '../usage.js';

export interface NodeInfo {
  node: string;
  otp_release: string;
  erts_version: string;
  elixir_version: string | null;
  schedulers: number;
  schedulers_online: number;
  process_count: number;
  /** Visible nodes the target is connected to. */
  nodes: string[];
  /** Hidden nodes the target is connected to, other than ourselves. */
  hidden_nodes: string[];
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'connect to a node and print its OTP, ERTS and Elixir versions, schedulers, processes and peers',
  help: `Usage: elixir-scope info --node NAME [--cookie COOKIE] [--json] [--timeout 5s]

Connects to NAME as a hidden Erlang node (the target does not list it in nodes()) and prints the node's
OTP release, ERTS version, Elixir version (or none), schedulers, process count and connected nodes.

Options:
  --node NAME       the target, name@host (a bare name means name@<this host>)
  --cookie COOKIE   the distribution cookie; default: $ELIXIR_SCOPE_COOKIE, then ~/.erlang.cookie
  --json            print one JSON object: otp_release, erts_version, elixir_version (null when none),
                    schedulers, schedulers_online, process_count, nodes, hidden_nodes
  --timeout DUR     how long to wait for the connection and for each answer (default 5s)
  -h, --help        show this help

Exit codes: 0 ok, 1 failure (no EPMD, no such node, wrong cookie, refused, timed out), 2 usage error.
`,
  options: {
    node: { type: 'string' },
    cookie: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  async run(values, _positionals, io) {
    const target = withLocalHost(requiredString(values, 'node', 'info'));
    const timeoutMs = durationOption(values, 'timeout', 'info', 5000);
    const { cookie } = await resolveCookie({ flag: stringOption(values, 'cookie'), env: io.env });
    const info = await fetchNodeInfo(target, cookie, timeoutMs);
    if (values.json === true) {
      io.stdout.write(JSON.stringify(info) + '\n');
    } else {
      io.stdout.write(formatInfo(info));
    }
    return EXIT_OK;
  },
};

export async function fetchNodeInfo(target: string, cookie: string, timeoutMs: number): Promise<NodeInfo> {
  const local = await LocalNode.start({ cookie });
  try {
    const peer = await local.connect(target, { timeoutMs });
    const call = (m: string, f: string, args: Term[]): Promise<Term> => peer.rpc(m, f, args, { timeoutMs });
    const [otp, erts, elixir, schedulers, online, procs, visible, hidden] = await Promise.all([
      call('erlang', 'system_info', [atom('otp_release')]),
      call('erlang', 'system_info', [atom('version')]),
      call('application', 'get_key', [atom('elixir'), atom('vsn')]),
      call('erlang', 'system_info', [atom('schedulers')]),
      call('erlang', 'system_info', [atom('schedulers_online')]),
      call('erlang', 'system_info', [atom('process_count')]),
      call('erlang', 'nodes', [atom('visible')]),
      call('erlang', 'nodes', [atom('hidden')]),
    ]);
    const self = local.name;
    return {
      node: target,
      otp_release: text(otp),
      erts_version: text(erts),
      // application:get_key/2 answers {ok, Vsn} when Elixir is loaded, undefined otherwise.
      elixir_version: isTuple(elixir, 2) ? text(elixir.elements[1]!) : null,
      schedulers: int(schedulers),
      schedulers_online: int(online),
      process_count: int(procs),
      nodes: atomNames(visible),
      hidden_nodes: atomNames(hidden).filter((n) => n !== self),
    };
  } finally {
    await local.close();
  }
}

export function formatInfo(info: NodeInfo): string {
  const rows: Array<[string, string]> = [
    ['Node', info.node],
    ['OTP release', info.otp_release],
    ['ERTS', info.erts_version],
    ['Elixir', info.elixir_version ?? 'none'],
    ['Schedulers', `${info.schedulers} (${info.schedulers_online} online)`],
    ['Processes', String(info.process_count)],
    ['Nodes', info.nodes.length > 0 ? info.nodes.join(', ') : 'none'],
    ['Hidden nodes', info.hidden_nodes.length > 0 ? info.hidden_nodes.join(', ') : 'none'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** A charlist or binary answer as text. */
function text(t: Term): string {
  if (Array.isArray(t) && t.every((c) => typeof c === 'number')) return String.fromCodePoint(...(t as number[]));
  if (Buffer.isBuffer(t)) return t.toString('utf8');
  throw new Error(`expected a string from the node, got ${describe(t)}`);
}

function int(t: Term): number {
  if (typeof t === 'number') return t;
  throw new Error(`expected an integer from the node, got ${describe(t)}`);
}

function atomNames(t: Term): string[] {
  if (!Array.isArray(t)) throw new Error(`expected a list of node names, got ${describe(t)}`);
  return t.map((n) => (n instanceof Atom ? n.name : String(n)));
}

function describe(t: Term): string {
  return t === null || typeof t !== 'object' ? String(t) : t.constructor.name;
}
