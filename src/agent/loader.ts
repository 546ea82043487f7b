/**
 * Gets the agent (src/agent/elixir_scope_agent.erl) onto a target node, and off it again.
 *
 *   const { action, md5 } = await loadAgent(remote);      // 'loaded' | 'joined' | 'replaced'
 *   ... AgentSession.start(local, remote, limits, onMessage) ...
 *   await unloadAgentIfUnused(remote);                    // true: the node is as it was
 *
 * The source is compiled ON THE TARGET over rpc — erl_scan:string, erl_parse:parse_form per form,
 * compile:forms, code:load_binary — so nothing is written to the target's disk and the object code
 * always matches the target's OTP release. The compiled binary is kept here per (source md5, OTP
 * release): a second load on a node of the same release skips the compiler (which also makes a
 * node without the `compiler` application loadable, once another node of its release compiled it).
 *
 * Purging is always soft: old code still running in a process (a relay of an older ElixirScope)
 * makes us refuse with AgentError OLD_CODE_IN_USE, never kill it.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RemoteNode } from '../erlang/remoteNode.js';
import { Atom, ExportFun, Tuple, atom, isAtom, isTuple, type Term } from '../erlang/terms.js';
import { inspect } from '../erlang/inspect.js';

export const AGENT_MODULE = 'elixir_scope_agent';
/** The protocol version this engine speaks (element 1 of elixir_scope_agent:version()). */
export const AGENT_PROTOCOL_VERSION = 1;

/** Anything that went wrong with the agent; `code` is stable, the message says what to do. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The agent's error term, when there is one. */
    readonly reason?: Term,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export interface LoadResult {
  module: string;
  version: number;
  md5: string;
  action: 'loaded' | 'joined' | 'replaced';
}

interface AgentSource {
  text: string;
  md5: string;
}

let sourceCache: AgentSource | undefined;

/** The agent's source, read once. From dist/src/agent/loader.js the .erl is three levels up. */
export function agentSource(): AgentSource {
  if (!sourceCache) {
    const text = readFileSync(new URL('../../../src/agent/elixir_scope_agent.erl', import.meta.url), 'utf8');
    sourceCache = { text, md5: createHash('md5').update(text).digest('hex') };
  }
  return sourceCache;
}

/** Compiled binaries: `${md5}/${otpRelease}` → beam. Object code depends on the compiler's release. */
const binaryCache = new Map<string, Buffer>();

const A_FALSE = atom('false');
const A_TRUE = atom('true');

/** Loads the agent on `remote`, or joins the copy that is there (same md5), or replaces an older one. */
export async function loadAgent(remote: RemoteNode): Promise<LoadResult> {
  const { md5 } = agentSource();
  const loaded = await remote.rpc('code', 'is_loaded', [atom(AGENT_MODULE)]);
  let action: LoadResult['action'] = 'loaded';
  if (loaded !== A_FALSE) {
    const theirs = await remote.rpc(AGENT_MODULE, 'version', []);
    if (isTuple(theirs, 2) && Buffer.isBuffer(theirs.elements[1]) && theirs.elements[1].toString('utf8') === md5) {
      return { module: AGENT_MODULE, version: AGENT_PROTOCOL_VERSION, md5, action: 'joined' };
    }
    action = 'replaced';
  }
  const release = await remote.rpc('erlang', 'system_info', [atom('otp_release')]);
  const releaseText = Array.isArray(release) ? String.fromCharCode(...(release as number[])) : inspect(release);
  const key = `${md5}/${releaseText}`;
  let beam = binaryCache.get(key);
  if (!beam) {
    beam = await compileOnTarget(remote);
    binaryCache.set(key, beam);
  }
  // code:load_binary hard-purges any old code (killing processes still in it): soft-purge first,
  // and refuse if that fails. When replacing, the current code becomes old code, which the other
  // engine's relays keep running until they stop.
  await softPurgeOrRefuse(remote);
  const res = await remote.rpc('code', 'load_binary', [atom(AGENT_MODULE), charlist('elixir_scope_agent.erl'), beam]);
  if (!(isTuple(res, 2) && res.elements[0] === atom('module'))) {
    throw new AgentError(
      'LOAD_FAILED',
      `Loading the agent on ${remote.name} failed: code:load_binary returned ${inspect(res)}. ` +
        `Expected {module, elixir_scope_agent}; check the node's logs (an on_load or sticky-directory policy may refuse it).`,
      res,
    );
  }
  const version = await remote.rpc(AGENT_MODULE, 'version', []);
  if (!(isTuple(version, 2) && Buffer.isBuffer(version.elements[1]) && version.elements[1].toString('utf8') === md5)) {
    throw new AgentError('LOAD_FAILED', `The agent loaded on ${remote.name} reports version ${inspect(version)}, expected md5 ${md5}.`, version);
  }
  return { module: AGENT_MODULE, version: AGENT_PROTOCOL_VERSION, md5, action };
}

/**
 * Deletes and soft-purges the agent when no relay of any version runs on `remote`. Resolves true
 * when the node no longer has the module (current or old), false when something still uses it.
 */
export async function unloadAgentIfUnused(remote: RemoteNode): Promise<boolean> {
  const loaded = await remote.rpc('code', 'is_loaded', [atom(AGENT_MODULE)]);
  if (loaded !== A_FALSE) {
    const n = await remote.rpc(AGENT_MODULE, 'relay_count', []);
    if (n !== 0) return false;
    // Old code first (code:delete refuses while old code exists), then current → old, then old.
    if ((await remote.rpc('code', 'soft_purge', [atom(AGENT_MODULE)])) !== A_TRUE) return false;
    await remote.rpc('code', 'delete', [atom(AGENT_MODULE)]);
  }
  return (await remote.rpc('code', 'soft_purge', [atom(AGENT_MODULE)])) === A_TRUE;
}

async function softPurgeOrRefuse(remote: RemoteNode): Promise<void> {
  const purged = await remote.rpc('code', 'soft_purge', [atom(AGENT_MODULE)]);
  if (purged !== A_TRUE) {
    throw new AgentError(
      'OLD_CODE_IN_USE',
      `An even older copy of the agent is still running on ${remote.name} (a session of another ElixirScope ` +
        `has not ended), so loading ours would have to kill it. Nothing was changed. Wait for that session ` +
        `to end (or end it), then attach again.`,
    );
  }
}

/** erl_scan / erl_parse / compile on the target; returns the object code. */
async function compileOnTarget(remote: RemoteNode): Promise<Buffer> {
  const compiler = await remote.rpc('code', 'ensure_loaded', [atom('compile')]);
  if (!(isTuple(compiler, 2) && compiler.elements[0] === atom('module'))) {
    throw new AgentError(
      'NO_COMPILER',
      `The node ${remote.name} has no compiler application (code:ensure_loaded(compile) returned ` +
        `${inspect(compiler)}), so the agent cannot be compiled there. Releases often leave it out: add ` +
        `:compiler to the release's applications (extra_applications in mix.exs, or the relx release), or ` +
        `attach once to another node of the same OTP release from this engine so the compiled agent is reused.`,
      compiler,
    );
  }
  const { text, md5 } = agentSource();
  // version/0 reports the md5 of the file as written; the placeholder atom is replaced by it.
  const src = text.replace("'$es_source_md5'", `<<"${md5}">>`);
  const scanned = await remote.rpc('erl_scan', 'string', [charlist(src)]);
  if (!(isTuple(scanned, 3) && isAtom(scanned.elements[0], 'ok') && Array.isArray(scanned.elements[1]))) {
    throw compileError(remote, 'erl_scan:string', scanned);
  }
  const forms = splitForms(scanned.elements[1] as Term[]);
  // One rpc for every form: lists:map(fun erl_parse:parse_form/1, FormTokens).
  const parsed = await remote.rpc('lists', 'map', [new ExportFun(atom('erl_parse'), atom('parse_form'), 1), forms]);
  if (!Array.isArray(parsed)) throw compileError(remote, 'erl_parse:parse_form', parsed);
  const absForms: Term[] = [];
  for (const p of parsed) {
    if (!(isTuple(p, 2) && isAtom(p.elements[0], 'ok'))) throw compileError(remote, 'erl_parse:parse_form', p);
    absForms.push(p.elements[1]!);
  }
  const compiled = await remote.rpc('compile', 'forms', [absForms, [atom('binary'), atom('return_errors')]]);
  if (isTuple(compiled, 3) && isAtom(compiled.elements[0], 'ok') && Buffer.isBuffer(compiled.elements[2])) {
    return compiled.elements[2];
  }
  throw compileError(remote, 'compile:forms', compiled);
}

function compileError(remote: RemoteNode, step: string, got: Term): AgentError {
  return new AgentError(
    'COMPILE_FAILED',
    `Compiling the agent on ${remote.name} failed at ${step}: ${inspect(got, { limit: 20 })}. Expected the ` +
      `agent's source to compile on any OTP ≥ 24; this is a bug in ElixirScope or an unsupported OTP release.`,
    got,
  );
}

/** A JavaScript string as an Erlang charlist (code points). */
function charlist(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** Tokens → one token list per form (each ends with its `dot` token). */
function splitForms(tokens: Term[]): Term[][] {
  const forms: Term[][] = [];
  let cur: Term[] = [];
  for (const t of tokens) {
    cur.push(t);
    if (t instanceof Tuple && t.elements[0] instanceof Atom && t.elements[0].name === 'dot') {
      forms.push(cur);
      cur = [];
    }
  }
  return forms;
}
