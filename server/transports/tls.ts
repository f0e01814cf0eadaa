/**
 * The TLS listener: accepts TCP connections with `node:net`, starts a
 * server-side `node:tls` session on each with the {@linkcode TlsIdentity}'s
 * current certificate, and hands the socket on. The chat server wraps it in
 * a {@linkcode NodeSocketConn} and serves it with the same
 * {@linkcode TcpConnection} as plain TCP: the same JSON Lines / plain text
 * protocol, limits and session core, inside TLS.
 *
 * Why `node:tls` and not `Deno.listenTls`: a reloaded certificate must reach
 * new connections without closing the listening socket. `Deno.listenTls`
 * fixes its certificate at bind time, and binding a second listener on the
 * same port needs `reusePort`, which Deno 2.9 still gates behind
 * `--unstable-net` (measured), while closing and rebinding refuses (or
 * resets) connections that arrive in between. Here each accepted socket
 * reads {@linkcode TlsIdentity.secureContext} when it arrives, so a reload
 * is one assignment and open connections keep the session they have.
 *
 * The accept path is one function, {@linkcode TlsListenOptions.onSocket}: a
 * later front door can look at the first bytes inside TLS (an HTTP request
 * or a chat line) and route the socket, without touching this module.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import type { TlsIdentity } from "../../tls/certificate.ts";

/** Options for {@linkcode TlsListener.listen}. */
export interface TlsListenOptions {
  /** Address to bind, e.g. `127.0.0.1` or `0.0.0.0`. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Where each new connection's certificate comes from. */
  identity: TlsIdentity;
  /**
   * Called once per accepted connection, at once (before the handshake
   * completes: reading waits for it, and a failed handshake shows up as a
   * read error). `secure` is the TLS stream, `tcp` the socket beneath it.
   */
  onSocket(secure: tls.TLSSocket, tcp: net.Socket): void;
  /** Called when accepting fails (e.g. out of file descriptors). */
  onError?(error: Error): void;
}

/** A bound TLS port. */
export class TlsListener {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  readonly #server: net.Server;

  private constructor(server: net.Server, addr: Deno.NetAddr) {
    this.#server = server;
    this.addr = addr;
  }

  /**
   * Binds and starts accepting.
   *
   * @param options see {@linkcode TlsListenOptions}
   * @returns the listener, once bound
   * @throws {Deno.errors.AddrInUse} when the port is taken; other bind errors as they come
   */
  static listen(options: TlsListenOptions): Promise<TlsListener> {
    const server = net.createServer((tcp) => {
      const secure = new tls.TLSSocket(tcp, {
        isServer: true,
        secureContext: options.identity.secureContext,
      });
      options.onSocket(secure, tcp);
    });
    return new Promise((resolve, reject) => {
      const failed = (error: Error & { code?: string }) => {
        reject(
          error.code === "EADDRINUSE" ? new Deno.errors.AddrInUse(error.message) : error,
        );
      };
      server.once("error", failed);
      server.listen({ host: options.hostname, port: options.port }, () => {
        server.off("error", failed);
        server.on("error", (error) => options.onError?.(error));
        const address = server.address() as net.AddressInfo;
        resolve(
          new TlsListener(server, {
            transport: "tcp",
            hostname: address.address,
            port: address.port,
          }),
        );
      });
    });
  }

  /** Stops accepting; open connections stay. Safe to call more than once. */
  close(): void {
    if (this.#server.listening) this.#server.close();
  }
}
