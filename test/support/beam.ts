/**
 * Starts real BEAM nodes for tests, with random names and cookies, and stops them again.
 *
 *   const node = await startNode({ kind: 'elixir' });
 *   t.after(() => node.stop());
 *   await node.eval('erlang:system_info(otp_release)');   // → '"25"'
 *
 * Control channel: the node runs a small read-eval-print loop on its stdin. Each request is one
 * line, `<id> <base64 of Erlang expressions>`; each answer is one line on stdout,
 * `\x02ESR <id> ok|error <base64 of the result printed with ~p>`. Base64 keeps newlines and any
 * bytes in the expression or the result from breaking the line framing. When our side dies, the
 * node's stdin closes and the loop halts the node, so a crashed test run leaves nothing behind.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createServer } from 'node:net';
import { epmdNames } from '../../src/erlang/epmd.js';

export interface StartNodeOptions {
  kind: 'erl' | 'elixir';
  /** Default: random. */
  cookie?: string;
  /** The part before @; default: random. The host is always this machine's short host name. */
  name?: string;
  /**
   * Use a long name `name@longHost` (-name) instead of a short one; e.g. '127.0.0.1', or '::1'
   * together with extraArgs ['-proto_dist', 'inet6_tcp'] for an IPv6-only node.
   */
  longHost?: string;
  /** Extra command-line arguments (for elixir, passed through `--erl`). */
  extraArgs?: string[];
  /** Give up if the node is not up after this long; default 30 s. */
  startTimeoutMs?: number;
}

export interface BeamNode {
  /** Full node name, `name@host`. */
  name: string;
  /** The part before @. */
  shortName: string;
  host: string;
  cookie: string;
  kind: 'erl' | 'elixir';
  /** OS process id of the BEAM. */
  osPid: number;
  /** Evaluates Erlang expressions (`A = 1, A + 1`) on the node; resolves to the value printed with ~p. */
  eval(erlangExprs: string, timeoutMs?: number): Promise<string>;
  /** Evaluates Elixir code on an elixir node (`Code.eval_string`); resolves to `inspect(value)`. */
  evalElixir(code: string, timeoutMs?: number): Promise<string>;
  /** Everything the node printed that was not a control answer (for failure messages). */
  output(): string;
  /** Kills the node (SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** True once the OS process has exited. */
  readonly exited: boolean;
}

export class EvalError extends Error {}

/** The host part that `-sname` gives on this machine. */
export function shortHost(): string {
  return hostname().split('.')[0]!;
}

export function randomName(prefix = 'es_test'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export function randomCookie(): string {
  return `C${randomBytes(12).toString('hex').toUpperCase()}`;
}

// The loop, in Erlang. It runs in its own process so that boot completes normally.
const LOOP = `
Loop = fun Loop() ->
  case io:get_line(standard_io, "") of
    eof -> erlang:halt(0);
    {error, _} -> erlang:halt(0);
    Line ->
      [IdS, B64] = string:split(string:trim(Line), " "),
      Src = unicode:characters_to_list(base64:decode(B64)),
      {Status, Out} =
        try
          {ok, Toks, _} = erl_scan:string(Src ++ " "),
          {ok, Exprs} = erl_parse:parse_exprs(Toks),
          {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
          {"ok", io_lib:format("~p", [V])}
        catch C:R:St -> {"error", io_lib:format("~p:~p ~p", [C, R, St])}
        end,
      Bin = unicode:characters_to_binary(Out),
      io:put_chars(standard_io, [2, "ESR ", IdS, " ", Status, " ", base64:encode(Bin), "\\n"]),
      Loop()
  end
end,
Loop().`;

const ERL_BOOT = `{ok, T, _} = erl_scan:string(os:getenv("ES_BEAM_LOOP")), {ok, E} = erl_parse:parse_exprs(T), spawn(fun() -> erl_eval:exprs(E, []) end).`;
const ELIXIR_BOOT = `{:ok, t, _} = :erl_scan.string(String.to_charlist(System.get_env("ES_BEAM_LOOP"))); {:ok, e} = :erl_parse.parse_exprs(t); :erl_eval.exprs(e, [])`;

export async function startNode(opts: StartNodeOptions): Promise<BeamNode> {
  const shortName = opts.name ?? randomName();
  const cookie = opts.cookie ?? randomCookie();
  const host = opts.longHost ?? shortHost();
  const nameFlag = opts.longHost !== undefined ? 'name' : 'sname';
  const extra = opts.extraArgs ?? [];
  let child: ChildProcess;
  const env = { ...process.env, ES_BEAM_LOOP: LOOP };
  if (opts.kind === 'erl') {
    child = spawn('erl', [`-${nameFlag}`, `${shortName}${opts.longHost !== undefined ? `@${host}` : ''}`, '-setcookie', cookie, '-noshell', ...extra, '-eval', ERL_BOOT], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } else {
    const args = [`--${nameFlag}`, `${shortName}${opts.longHost !== undefined ? `@${host}` : ''}`, '--cookie', cookie, '--no-halt'];
    if (extra.length > 0) args.push('--erl', extra.join(' '));
    args.push('-e', ELIXIR_BOOT);
    child = spawn('elixir', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  let out = '';
  let lineBuf = '';
  let exited = false;
  const pending = new Map<number, { resolve: (s: string) => void; reject: (e: Error) => void }>();
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      for (const p of pending.values()) p.reject(new EvalError(`node ${shortName}@${host} exited\n${out}`));
      pending.clear();
      resolve();
    });
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    lineBuf += d;
    let nl: number;
    while ((nl = lineBuf.indexOf('\n')) >= 0) {
      const line = lineBuf.slice(0, nl);
      lineBuf = lineBuf.slice(nl + 1);
      const at = line.indexOf('\x02ESR ');
      if (at < 0) {
        out += line + '\n';
        continue;
      }
      if (at > 0) out += line.slice(0, at);
      const [idS, status, b64] = line.slice(at + 5).split(' ');
      const p = pending.get(Number(idS));
      if (!p) continue;
      pending.delete(Number(idS));
      const text = Buffer.from(b64 ?? '', 'base64').toString('utf8');
      if (status === 'ok') p.resolve(text);
      else p.reject(new EvalError(text));
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  // A write after the node died must not crash the test runner.
  child.stdin!.on('error', () => undefined);

  let nextId = 1;
  const evalRaw = (src: string, timeoutMs = 30_000): Promise<string> => {
    if (exited) return Promise.reject(new EvalError(`node ${shortName}@${host} has exited`));
    const id = nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new EvalError(`eval timed out after ${timeoutMs} ms: ${src}`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      // erl_parse wants the final dot; callers write expressions as in the shell, with or without it.
      const full = /\.\s*$/.test(src) ? src : `${src}.`;
      child.stdin!.write(`${id} ${Buffer.from(full, 'utf8').toString('base64')}\n`);
    });
  };

  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
  };

  const node: BeamNode = {
    name: `${shortName}@${host}`,
    shortName,
    host,
    cookie,
    kind: opts.kind,
    osPid: child.pid ?? -1,
    eval: evalRaw,
    evalElixir: (code, timeoutMs) => {
      const b64 = Buffer.from(code, 'utf8').toString('base64');
      return evalRaw(
        `{V, _} = 'Elixir.Code':eval_string(base64:decode(<<"${b64}">>)), base64:encode('Elixir.Kernel':inspect(V, [{limit, infinity}, {printable_limit, infinity}]))`,
        timeoutMs,
      ).then(printedBase64ToText);
    },
    output: () => out,
    stop,
    get exited() {
      return exited;
    },
  };

  // Ready when EPMD lists the name and the loop answers.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (exited) throw new Error(`node ${node.name} exited during start:\n${out}`);
      let known = false;
      try {
        known = (await epmdNames(host, { timeoutMs: 2000 })).some((n) => n.name === shortName);
      } catch (err) {
        // epmd is started by the node itself: until then, "unreachable" is expected.
        if (Date.now() > deadline) throw err;
      }
      if (known) break;
      if (Date.now() > deadline) throw new Error(`node ${node.name} did not register with EPMD in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await evalRaw('ok', Math.max(1000, deadline - Date.now()));
  } catch (err) {
    await stop();
    throw err;
  }
  return node;
}

/** A base64 binary as printed by ~p (`<<"QUJD">>`, possibly split over lines) → the decoded text. */
function printedBase64ToText(printed: string): string {
  const b64 = printed.trim().replace(/^<<|>>$/g, '').replace(/"\s*"/g, '').replace(/["\s]/g, '');
  return Buffer.from(b64, 'base64').toString('utf8');
}

/**
 * An agent process on a BEAM node that runs commands sent by our tests, so a test can make a real
 * remote process link, monitor, exit or call, and read the messages it received:
 *   {cmd, From, Command} → From ! {reply, Result}; any other message is kept for `take`.
 * Commands: {link, P} {unlink, P} {monitor, Target} {demonitor, Ref} {exit, P, Why} {trap, Bool}
 * {send, To, Msg} {call, To, Req} (gen_server:call, 5 s, caught) take links {die, Why} (no reply).
 */
export const AGENT_SOURCE = `
fun(Name) ->
  Agent = fun Agent(Msgs) ->
    receive
      {cmd, From, C} ->
        {R, Msgs2} = case C of
          {link, P} -> {link(P), Msgs};
          {unlink, P} -> {unlink(P), Msgs};
          {monitor, T} -> {erlang:monitor(process, T), Msgs};
          {demonitor, R0} -> {erlang:demonitor(R0), Msgs};
          {exit, P, Why} -> {exit(P, Why), Msgs};
          {trap, B} -> {process_flag(trap_exit, B), Msgs};
          {send, To, M} -> {erlang:send(To, M), Msgs};
          {call, To, Req} -> {catch gen_server:call(To, Req, 5000), Msgs};
          take -> {lists:reverse(Msgs), []};
          links -> {element(2, process_info(self(), links)), Msgs};
          {die, Why} -> exit(Why)
        end,
        From ! {reply, R},
        Agent(Msgs2);
      Other -> Agent([Other | Msgs])
    end
  end,
  P = spawn(fun() -> Agent([]) end),
  register(Name, P),
  P
end`;

/** Starts an agent registered as `name` on `node`; resolves to its pid as printed by ~p. */
export function startAgent(node: BeamNode, name: string): Promise<string> {
  return node.eval(`(${AGENT_SOURCE})(${name})`);
}

/** A TCP port that nothing listens on (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
