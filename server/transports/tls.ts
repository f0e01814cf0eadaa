/**
 * TLS on an accepted TCP connection: the chat server accepts on its TLS port
 * with `Deno.listen`, through the same accept loop as plain TCP (limits,
 * back-off when `accept()` fails), then starts a server-side `node:tls`
 * session over the connection with the {@linkcode TlsIdentity}'s current
 * certificate. {@linkcode acceptTls} wraps that in a
 * {@linkcode NodeSocketConn} for the same {@linkcode TcpConnection} as plain
 * TCP: the same JSON Lines / plain text protocol, limits and session core,
 * inside TLS.
 *
 * Why `node:tls` over the Deno connection, and not `Deno.listenTls`: a
 * reloaded certificate must reach new connections without closing the
 * listening socket. `Deno.listenTls` fixes its certificate at bind time, and
 * a second listener on the same port needs `reusePort`, which Deno 2.9.6
 * still refuses without `--unstable-net` (measured); closing and rebinding
 * refuses (or resets) connections that arrive in between. Here each new
 * connection reads {@linkcode TlsIdentity.secureContext} when it arrives, so
 * a reload is one assignment and open connections keep the session they
 * have. And why not `node:net` for accepting: under Deno 2.9.6 a
 * `net.Server` that hits EMFILE stops accepting for good, without an
 * `error` event (measured with `ulimit -n 64`), while `Deno.listen` reports
 * the error and recovers.
 *
 * For another front door on a TLS port (HTTPS, WSS, IRC over TLS):
 * {@linkcode serverTls} gives the TLS stream of an accepted connection, to
 * hand to `node:http` or to look at its first bytes (an HTTP request or a
 * chat line) before routing it.
 *
 * @module
 */

import tls from "node:tls";
import type { TlsIdentity } from "../../tls/certificate.ts";
import { connDuplex, NodeSocketConn } from "../../tls/node_conn.ts";

/**
 * Starts the server side of TLS on an accepted connection, with the
 * identity's certificate as it is now. The handshake runs as the peer sends
 * its hello; reading from the stream waits for it, and a failed handshake
 * shows up as an `error` event.
 *
 * @param conn an accepted TCP connection (now owned by the returned stream)
 * @param identity where the certificate comes from
 * @returns the TLS stream
 */
export function serverTls(conn: Deno.TcpConn, identity: TlsIdentity): tls.TLSSocket {
  return new tls.TLSSocket(connDuplex(conn) as unknown as import("node:net").Socket, {
    isServer: true,
    secureContext: identity.secureContext,
  });
}

/**
 * An accepted connection as a chat transport connection over TLS.
 *
 * @param conn an accepted TCP connection
 * @param identity where the certificate comes from
 * @returns the connection to admit
 */
export function acceptTls(conn: Deno.TcpConn, identity: TlsIdentity): NodeSocketConn {
  return new NodeSocketConn(serverTls(conn, identity), conn);
}
