/**
 * Our group leader: the process remote code writes to when we are its group leader (rpc passes
 * it to rex, so io:format and IO.puts in the called function land here).
 *
 * It answers the io protocol: output requests are collected as text and acknowledged; input
 * requests get `eof` (we have no terminal); anything else gets `{error, request}`. Requests are
 * handled one at a time in arrival order, so collected output keeps the order it was written in.
 * `{put_chars, Encoding, M, F, A}` (what io:format sends) needs M:F(A) evaluated: that runs on
 * the node that sent the request, through rpc, because only it has the formatting code.
 */

import type { LocalNode } from './node.js';
import type { LocalProcess } from './process.js';
import type { RemoteNode } from './remoteNode.js';
import { Atom, ImproperList, Pid, Tuple, atom, isAtom, type Term } from './terms.js';

export interface GroupLeader {
  readonly pid: Pid;
  /** Everything written so far. */
  output(): string;
  /** Waits until every request received so far has been answered. */
  settled(): Promise<void>;
  stop(): void;
}

const A_OK = atom('ok');
const A_ERROR = atom('error');
const A_EOF = atom('eof');
const A_IO_REPLY = atom('io_reply');

export function startGroupLeader(local: LocalNode, remote: RemoteNode | undefined): GroupLeader {
  const p: LocalProcess = local.spawn();
  const parts: string[] = [];
  let chain: Promise<void> = Promise.resolve();

  const handle = async (req: Term): Promise<Term> => {
    if (!(req instanceof Tuple) || !(req.elements[0] instanceof Atom)) return new Tuple([A_ERROR, atom('request')]);
    const op = req.elements[0].name;
    const e = req.elements;
    if (op === 'put_chars') {
      let enc = 'latin1';
      let rest = e.slice(1);
      if (rest.length === 2 || rest.length === 4) {
        enc = rest[0] instanceof Atom ? rest[0].name : 'latin1';
        rest = rest.slice(1);
      }
      if (rest.length === 1) {
        parts.push(chardataToString(rest[0]!, enc));
        return A_OK;
      }
      if (rest.length === 3 && remote) {
        const [m, f, a] = rest;
        if (!(m instanceof Atom) || !(f instanceof Atom) || !Array.isArray(a)) return new Tuple([A_ERROR, atom('request')]);
        try {
          const chars = await remote.rpc(m, f, a);
          parts.push(chardataToString(chars, enc));
          return A_OK;
        } catch (err) {
          return new Tuple([A_ERROR, atom(err instanceof Error && 'code' in err ? String(err.code).toLowerCase() : 'rpc_failed')]);
        }
      }
      return new Tuple([A_ERROR, atom('request')]);
    }
    if (op === 'requests' && Array.isArray(e[1])) {
      for (const r of e[1]) {
        const res = await handle(r);
        if (res !== A_OK) return res;
      }
      return A_OK;
    }
    if (op.startsWith('get_') && op !== 'get_geometry') {
      // {get_line, Enc, Prompt}, {get_chars, Enc, Prompt, N}, {get_until, Enc, Prompt, M, F, A}:
      // show the prompt as a terminal would, then answer end of input.
      const enc = e[1] instanceof Atom ? e[1].name : 'latin1';
      const prompt = e[2];
      if (prompt !== undefined) parts.push(prompt instanceof Atom ? prompt.name : chardataToString(prompt, enc));
      return A_EOF;
    }
    if (op === 'get_geometry' || op === 'setopts' || op === 'getopts') return new Tuple([A_ERROR, atom('enotsup')]);
    return new Tuple([A_ERROR, atom('request')]);
  };

  p.handler = (msg) => {
    // {io_request, From, ReplyAs, Request}
    if (!(msg instanceof Tuple) || msg.size !== 4 || !isAtom(msg.elements[0], 'io_request') || !(msg.elements[1] instanceof Pid)) return;
    const from = msg.elements[1];
    const replyAs = msg.elements[2]!;
    const req = msg.elements[3]!;
    chain = chain.then(async () => {
      let reply: Term;
      try {
        reply = await handle(req);
      } catch (err) {
        // Output we cannot decode: tell the writer, as a real io server does with bad data.
        local.warn(`group leader could not handle an io request: ${err instanceof Error ? err.message : String(err)}`);
        reply = new Tuple([A_ERROR, atom('put_chars')]);
      }
      if (p.alive) p.send(from, new Tuple([A_IO_REPLY, replyAs, reply]));
    });
  };

  return {
    pid: p.pid,
    output: () => parts.join(''),
    settled: () => chain,
    stop: () => p.exit(),
  };
}

/** Erlang chardata / iodata → text. `unicode`: integers are code points and binaries UTF-8. */
export function chardataToString(t: Term, encoding: string): string {
  const out: string[] = [];
  const walk = (x: Term): void => {
    if (typeof x === 'number') out.push(String.fromCodePoint(x));
    else if (Buffer.isBuffer(x)) out.push(x.toString(encoding === 'unicode' || encoding === 'utf8' ? 'utf8' : 'latin1'));
    else if (Array.isArray(x)) for (const y of x) walk(y);
    else if (x instanceof ImproperList) {
      for (const y of x.elements) walk(y);
      walk(x.tail);
    } else if (x instanceof Atom) out.push(x.name);
    else throw new TypeError('not chardata');
  };
  walk(t);
  return out.join('');
}
