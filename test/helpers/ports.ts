/**
 * The two ways a test gets a port. Whatever can bind port 0 does so and reports the port the kernel
 * chose (gitward: `listen: 127.0.0.1:0` and its `server.listening` line; in-process servers:
 * `listen(0)` and `address()`). For a server that cannot, listenLoopback binds port 0 here and hands
 * the socket over (nginx), and unboundPort draws one for a server that can do neither (sshd). Never
 * a port probed with listen(0) and released: another process can take it before the server binds.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

/** A listening TCP socket on 127.0.0.1 whose port the kernel chose (port 0, read back). */
export interface LoopbackListener {
  readonly port: number;
  /** Its file descriptor, to hand to a child in `spawn`'s `stdio` (the child then owns a copy). */
  readonly fd: number;
  /** Closes this process's copy (a child that inherited the socket keeps listening on it). */
  close(): void;
}

/**
 * Binds 127.0.0.1 port 0 and keeps the socket listening, for a server that cannot bind port 0 and
 * report it itself (nginx): the child inherits the socket, so the port is never released and no
 * other process can take it between the choice and the server's start.
 */
export function listenLoopback(): Promise<LoopbackListener> {
  return new Promise((resolve, reject) => {
    // pauseOnConnect: this process never serves a connection that reaches the socket before the child takes over.
    const srv = net.createServer({ pauseOnConnect: true });
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, backlog: 511 }, () => {
      const { port } = srv.address() as net.AddressInfo;
      // Node has no public accessor for a server's descriptor; libuv keeps it on the handle.
      const fd = (srv as unknown as { _handle: { fd: number } })._handle.fd;
      if (!(fd >= 0)) reject(new Error('no file descriptor for the listening socket'));
      else resolve({ port, fd, close: () => srv.close() });
    });
  });
}

/** The lowest port unboundPort draws (below it sit the well-known and registered services' ports). */
const UNBOUND_PORT_MIN = 10_000;

/**
 * A port for a server that can neither bind port 0 and report the port nor take over a bound socket
 * (sshd): drawn at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range), which
 * the kernel never hands out for a port-0 bind or an outgoing connection, so only another fixed-port
 * listener can hold it. Nothing is bound and released here: the server's own bind decides, and the
 * caller draws again when the server exits with "Address already in use".
 */
export function unboundPort(): number {
  let low = 32_768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: keep Linux's default start of the range
  }
  if (!(low > UNBOUND_PORT_MIN + 1000))
    throw new Error(`ephemeral ports start at ${low}: no room below them for a fixed port`);
  return UNBOUND_PORT_MIN + crypto.randomInt(low - UNBOUND_PORT_MIN);
}
