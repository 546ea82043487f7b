/**
 * A stand-in EPMD for failure tests only: it answers PORT_PLEASE2 for one name with a port of our
 * choosing (a closed port, or a listener that never speaks), so that "connection refused" and
 * "handshake timed out" can be produced on demand. Real nodes are used for everything else.
 */

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TestListener {
  port: number;
  close(): Promise<void>;
}

export async function startFakeEpmd(nodeName: string, nodePort: number): Promise<TestListener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const req = buf.subarray(2, 2 + buf.readUInt16BE(0));
      if (req[0] === 122 /* PORT_PLEASE2_REQ */) {
        const name = req.subarray(1).toString('utf8');
        if (name !== nodeName) {
          socket.end(Buffer.from([119, 1]));
          return;
        }
        const n = Buffer.from(name, 'utf8');
        const resp = Buffer.alloc(12 + n.length + 2);
        let o = 0;
        resp[o++] = 119; // PORT2_RESP
        resp[o++] = 0; // ok
        resp.writeUInt16BE(nodePort, o); o += 2;
        resp[o++] = 77; // normal node
        resp[o++] = 0; // tcp/ipv4
        resp.writeUInt16BE(6, o); o += 2; // highest version
        resp.writeUInt16BE(6, o); o += 2; // lowest version
        resp.writeUInt16BE(n.length, o); o += 2;
        n.copy(resp, o); o += n.length;
        resp.writeUInt16BE(0, o); // no extra
        socket.end(resp);
      } else if (req[0] === 110 /* NAMES_REQ */) {
        const text = Buffer.from(`name ${nodeName} at port ${nodePort}\n`);
        const head = Buffer.alloc(4);
        head.writeUInt32BE((server.address() as AddressInfo).port);
        socket.end(Buffer.concat([head, text]));
      } else {
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return listening(server, sockets);
}

/** A TCP listener that accepts connections and never says anything (a wedged or firewalled peer). */
export async function startSilentListener(): Promise<TestListener> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return listening(server, sockets);
}

/** Its port, and a close that also drops the connections it still holds. */
function listening(server: Server, sockets: Set<Socket>): TestListener {
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens right now (bound and released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
