/**
 * `elixir-scope revert`: put back the original code of instrumented modules on a node, now.
 *
 * The session that instrumented a module reverts it when it ends; this is for when that session is
 * elsewhere (another terminal, a stuck engine): the agent asks the owning session's relay to revert,
 * and each module's md5 is checked against the one it had before.
 *
 * Safe on production: a revert waits for processes to leave the instrumented code rather than kill
 * them (a blocked revert is reported, and retried by the agent until it succeeds).
 */

import { resolveCookie } from '../../erlang/cookie.js';
import { LocalNode } from '../../erlang/node.js';
import { atom, isAtom, Tuple } from '../../erlang/terms.js';
import { withLocalHost } from '../../erlang/nodeName.js';
import { instrumentedModules, moduleName, revertInstrumented } from '../../agent/client.js';
import { display } from '../../ast/live.js';
import { durationOption, EXIT_OK, requiredString, stringOption, UsageError, type Command } from '../usage.js';

function strings(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export const revertCommand: Command = {
  name: 'revert',
  summary: 'put back the original code of modules instrumented on a node (all, or those named)',
  help: `Usage: elixir-scope revert --node NAME [--module M]... [--list] [--json]

Lists the modules instrumented on NAME (by any ElixirScope session) and puts their original code back,
exactly: each module's md5 is the one it had before it was instrumented. The sessions that own them
keep recording whatever else they trace.

Options:
  --node NAME       the target, name@host (a bare name means name@<this host>)
  --cookie COOKIE   the distribution cookie; default: $ELIXIR_SCOPE_COOKIE, then ~/.erlang.cookie
  --module M        only this module (Shop.Cart), repeatable; default: every instrumented module
  --list            only list what is instrumented; revert nothing
  --json            print JSON: [{module, md5}] reverted, or the list
  --timeout DUR     how long to wait for the node (default 5s)
  -h, --help        show this help

Exit codes: 0 ok (also when nothing was instrumented), 1 failure, 2 usage error.
`,
  options: {
    node: { type: 'string' },
    cookie: { type: 'string' },
    module: { type: 'string', multiple: true },
    list: { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  async run(values, _positionals, io) {
    const target = withLocalHost(requiredString(values, 'node', 'revert'));
    const timeoutMs = durationOption(values, 'timeout', 'revert', 5000);
    const only = strings(values.module).map((m) => {
      const full = moduleName(m);
      if (!full.startsWith('Elixir.')) throw new UsageError(`${m} is not an Elixir module; only Elixir modules are instrumented`, 'revert');
      return full;
    });
    const { cookie } = await resolveCookie({ flag: stringOption(values, 'cookie'), env: io.env });
    const local = await LocalNode.start({ cookie });
    try {
      const remote = await local.connect(target, { timeoutMs });
      const loaded = await remote.rpc('code', 'is_loaded', [atom('elixir_scope_agent')], { timeoutMs });
      const present = loaded instanceof Tuple && isAtom(loaded.elements[0], 'file');
      const now = present ? await instrumentedModules(remote) : [];
      if (values.list === true) {
        if (values.json === true) io.stdout.write(JSON.stringify(now.map((m) => ({ module: display(m.module), md5_before: m.md5Before, blocked: m.blocked }))) + '\n');
        else if (now.length === 0) io.stdout.write(`nothing is instrumented on ${target}\n`);
        else for (const m of now) io.stdout.write(`${display(m.module)}  (original md5 ${m.md5Before ?? '?'})${m.blocked ? '  revert waiting for processes to leave its code' : ''}\n`);
        return EXIT_OK;
      }
      const missing = only.filter((m) => !now.some((n) => n.module === m));
      if (missing.length > 0) {
        throw new UsageError(`not instrumented on ${target}: ${missing.map(display).join(', ')} (instrumented: ${now.map((n) => display(n.module)).join(', ') || 'nothing'})`, 'revert');
      }
      const reverted = now.length === 0 ? [] : await revertInstrumented(remote, only.length > 0 ? only : 'all');
      if (values.json === true) {
        io.stdout.write(
          JSON.stringify(
            reverted.map((r) => {
              const before = now.find((n) => n.module === r.module)?.md5Before ?? null;
              return { module: display(r.module), md5: r.md5, md5_before: before, exact: before === r.md5 };
            }),
          ) + '\n',
        );
      } else if (reverted.length === 0) {
        io.stdout.write(`nothing is instrumented on ${target}\n`);
      } else {
        for (const r of reverted) {
          const before = now.find((n) => n.module === r.module)?.md5Before ?? null;
          io.stdout.write(`${display(r.module)}  put back, md5 ${r.md5}${before === r.md5 ? ' (identical to before)' : before === null ? '' : ` (before: ${before})`}\n`);
        }
      }
      return EXIT_OK;
    } finally {
      await local.close();
    }
  },
};
