/**
 * The web client's front door on a chat port. A connection whose first line
 * is an HTTP request line (`tcp.ts` tells it from a chat line) comes here
 * with the bytes read so far:
 *
 * - `GET /ws` with `Upgrade: websocket`: the handshake (RFC 6455 §4.2) is
 *   checked and answered here, on the same `Deno.TcpConn` (or TLS over it),
 *   and the connection becomes a {@linkcode WsConnection}: frames go out
 *   through the same send queue, limits and flow control as TCP.
 * - anything else (the page, uploads, downloads, a `/ws` without upgrade):
 *   the connection's bytes are relayed, both ways, to the `node:http` server
 *   of `http.ts`, listening on a loopback port of its own. It learns the
 *   real peer (and whether it came over TLS) from {@linkcode WebDoor.peerAt}
 *   by the relay's local port, never from anything the client sends.
 *
 * Browsers open a fresh connection for a WebSocket, so looking at each
 * connection's first request is enough; an upgrade later on a kept-alive
 * connection is refused by `http.ts` with a 400 that says so.
 *
 * Limits: a connection's first request head may be at most
 * {@linkcode MAX_HEAD_BYTES} (431) and must arrive within the handshake
 * timeout, at most {@linkcode HEAD_TIMEOUT_MS} (408: slowloris); relayed
 * connections count against the server's limits
 * ({@linkcode WebDoorHost.refusal}, {@linkcode WebDoorHost.maxRelaysPerAddress}:
 * 503) and are closed after the idle timeout without a byte either way;
 * later requests on a kept-alive connection are under `node:http`'s own
 * limits (header size, keep-alive timeout).
 *
 * @module
 */

import type { ByteConn } from "../../tls/node_conn.ts";
import { addressKey } from "../core/address.ts";
import type { Hub } from "../core/hub.ts";
import type { Pressure } from "./pressure.ts";
import { concat } from "./send_queue.ts";
import type { ConnectionLimits } from "./tcp.ts";
import { acceptKey, WsConnection } from "./websocket.ts";

/** Largest WebSocket request head (request line and headers), in bytes. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Longest wait for a connection's whole first request head, at most, in ms. */
export const HEAD_TIMEOUT_MS = 10_000;
/** Relay buffer per direction, in bytes. */
const RELAY_CHUNK = 64 * 1024;

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** The peer of a relayed connection, for `http.ts`. */
export interface RelayedPeer {
  /** The peer's address. */
  hostname: string;
  /** The peer's port. */
  port: number;
  /** Whether it came in over TLS (the page is then `https`). */
  secure: boolean;
}

/** What the door needs from the chat server it belongs to. */
export interface WebDoorHost {
  /** The shared chat state. */
  readonly hub: Hub;
  /** Limits every connection enforces. */
  readonly limits: ConnectionLimits;
  /** Flow control shared with the TCP connections. */
  readonly pressure: Pressure;
  /** Longest wait for a connection's first request head, in ms (see HEAD_TIMEOUT_MS). */
  readonly headTimeoutMs: number;
  /** A relayed connection without a byte either way for this long is closed, in ms; 0: never. */
  readonly relayIdleMs: number;
  /** Most relayed (page, upload, download) connections per address; 0: unlimited. */
  readonly maxRelaysPerAddress: number;
  /** Why a new connection from this address is refused, or `undefined`. */
  refusal(hostname: string): string | undefined;
  /** Counts a new WebSocket connection in. */
  adopt(connection: WsConnection): void;
  /** Counts a finished one out. */
  release(connection: WsConnection): void;
}

/** A parsed request head. */
interface RequestHead {
  method: string;
  path: string;
  version: string;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Map<string, string>;
  /** Bytes after the head (the first WebSocket frames, if any). */
  rest: Uint8Array;
}

/**
 * Parses an HTTP/1.x request head (RFC 9112 §2-§5).
 *
 * @param bytes the bytes, starting with the request line
 * @returns the head, `undefined` while its end has not arrived, or `null`
 * when it is not a well-formed head
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead | undefined | null {
  let end = -1;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10) {
      end = i + 2;
      break;
    }
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) {
      end = i + 3;
      break;
    }
  }
  if (end === -1) return undefined;
  const lines = latin1.decode(bytes.subarray(0, end)).split(/\r?\n/);
  const request = /^([A-Z]+) (\S+) HTTP\/(\d\.\d)$/.exec(lines[0] ?? "");
  if (!request) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const header = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!header) return null;
    const name = header[1]!.toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? header[2]! : `${before}, ${header[2]}`);
  }
  return {
    method: request[1]!,
    path: request[2]!,
    version: request[3]!,
    headers,
    rest: bytes.slice(end),
  };
}

/** Whether a comma-separated header value holds a token (case-insensitive). */
function hasToken(value: string | undefined, token: string): boolean {
  return value?.split(",").some((t) => t.trim().toLowerCase() === token) ?? false;
}

/**
 * Why a WebSocket handshake is refused (RFC 6455 §4.2.1, and the `Origin`
 * rule: a browser's page from another site may not open it), or `undefined`
 * when it is acceptable.
 *
 * @param head the request head (an `Upgrade: websocket` request)
 * @returns the status line and a one-line reason, or `undefined`
 */
export function upgradeRefusal(
  head: Pick<RequestHead, "method" | "path" | "version" | "headers">,
): { status: string; why: string; extra?: string } | undefined {
  const h = head.headers;
  if (head.path.split("?")[0] !== "/ws") {
    return { status: "404 Not Found", why: "WebSocket only at /ws" };
  }
  if (head.method !== "GET" || head.version !== "1.1") {
    return { status: "400 Bad Request", why: "a WebSocket handshake is a GET over HTTP/1.1" };
  }
  if (!hasToken(h.get("connection"), "upgrade") || !h.get("host")) {
    return {
      status: "400 Bad Request",
      why: "a WebSocket handshake needs Host and Connection: Upgrade",
    };
  }
  const key = h.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return { status: "400 Bad Request", why: "Sec-WebSocket-Key must be 16 bytes in base64" };
  }
  if (h.get("sec-websocket-version") !== "13") {
    return {
      status: "426 Upgrade Required",
      why: "only WebSocket version 13 is spoken here",
      extra: "Sec-WebSocket-Version: 13\r\n",
    };
  }
  const origin = h.get("origin");
  if (origin !== undefined) {
    let same = false;
    try {
      same = new URL(origin).host === h.get("host");
    } catch { /* not a URL */ }
    if (!same) {
      return { status: "403 Forbidden", why: `cross-origin WebSocket refused (${origin})` };
    }
  }
  return undefined;
}

/** A short plain-text HTTP answer that closes the connection. */
export function plainReply(status: string, why: string, extra = ""): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n` +
      `X-Content-Type-Options: nosniff\r\n${extra}Content-Length: ${
        why.length + 1
      }\r\n\r\n${why}\n`,
  );
}

/** Writes all of `bytes` (a `write` may take fewer). */
async function writeAll(conn: ByteConn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * How long a silent connection from an address that has opened the web
 * client waits for the chat port's `* nickname?` prompt, in ms (other
 * addresses wait `PROMPT_DELAY_MS` in tcp.ts, 300 ms). Browsers open spare
 * connections they send nothing on yet: Chromium keeps such an unused socket
 * up to 10 s and then sends a request on it even with unread bytes waiting
 * (net/socket/client_socket_pool.cc, `unused_idle_socket_timeout`;
 * transport_client_socket_pool.cc, `IdleSocket::IsUsable`), so a prompt on
 * it would become the start of the page's response and break it
 * (`ERR_INVALID_HTTP_RESPONSE`). Longer than those 10 s.
 */
export const BROWSER_PROMPT_DELAY_MS = 12_000;
/** How long an address counts as a browser's after its last HTTP request, in ms: a day. */
export const BROWSER_MEMORY_MS = 24 * 60 * 60 * 1000;
/** Most addresses remembered as browsers' (the oldest is forgotten first). */
export const MAX_BROWSER_ADDRESSES = 4096;

/**
 * The front door of one server's chat ports for browsers: WebSocket
 * handshakes here, the rest relayed to `node:http` on loopback.
 */
export class WebDoor {
  readonly #host: WebDoorHost;
  /** The loopback port of the `node:http` server. */
  readonly #httpPort: number;
  readonly #peers = new Map<number, RelayedPeer>();
  readonly #relays = new Set<ByteConn>();
  readonly #perAddress = new Map<string, number>();
  /** When each address last sent an HTTP request here (ms), oldest first. */
  readonly #browsers = new Map<string, number>();
  #stopping = false;

  /**
   * @param host the chat server it belongs to
   * @param httpPort the loopback port of the `node:http` server that
   * serves the page, uploads and downloads (see {@linkcode peerAt})
   */
  constructor(host: WebDoorHost, httpPort: number) {
    this.#host = host;
    this.#httpPort = httpPort;
  }

  /**
   * For `http.ts`: the real peer of a connection from the relay, by its
   * local port (the `node:http` server's remote port).
   *
   * @param port the relay's local port
   * @returns the peer, or `undefined` for a connection not from the relay
   */
  peerAt(port: number): RelayedPeer | undefined {
    return this.#peers.get(port);
  }

  /** Relayed connections open now. */
  get relayCount(): number {
    return this.#relays.size;
  }

  /**
   * Takes over a connection whose first line is an HTTP request line (a
   * {@linkcode WebHandoff}). Never throws.
   *
   * @param conn the connection (plain, or TLS over TCP)
   * @param head every byte read so far, starting at the request line
   */
  take = (conn: ByteConn, head: Uint8Array): void => {
    const key = addressKey(conn.remoteAddr.hostname);
    this.#browsers.delete(key);
    this.#browsers.set(key, Date.now());
    if (this.#browsers.size > MAX_BROWSER_ADDRESSES) {
      this.#browsers.delete(this.#browsers.keys().next().value!);
    }
    this.#route(conn, head).catch(() => closeQuietly(conn));
  };

  /**
   * Whether `hostname` sent an HTTP request to this server within the last
   * {@linkcode BROWSER_MEMORY_MS}: a silent new connection from it may be a
   * browser's spare socket (see {@linkcode BROWSER_PROMPT_DELAY_MS}).
   *
   * @param hostname a peer address as Deno reports it
   */
  browsedFrom = (hostname: string): boolean => {
    const key = addressKey(hostname);
    const at = this.#browsers.get(key);
    if (at === undefined) return false;
    if (Date.now() - at <= BROWSER_MEMORY_MS) return true;
    this.#browsers.delete(key);
    return false;
  };

  /** Stops taking connections and closes the relayed ones. */
  shutdown(): void {
    this.#stopping = true;
    for (const conn of this.#relays) closeQuietly(conn);
  }

  async #route(conn: ByteConn, first: Uint8Array): Promise<void> {
    const peer = conn.remoteAddr.hostname;
    // The whole first head, in time (slowloris) and within MAX_HEAD_BYTES.
    let bytes = first;
    let head = parseRequestHead(bytes);
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      if (head !== undefined) return;
      conn.write(plainReply("408 Request Timeout", "request head not complete in time"))
        .catch(() => {}).finally(() => closeQuietly(conn));
    }, this.#host.headTimeoutMs);
    try {
      const buf = new Uint8Array(4096);
      while (head === undefined && bytes.length <= MAX_HEAD_BYTES) {
        const n = await conn.read(buf);
        if (n === null) return closeQuietly(conn);
        bytes = concat([bytes, buf.slice(0, n)]);
        head = parseRequestHead(bytes);
      }
    } catch {
      if (!late) return closeQuietly(conn);
    } finally {
      clearTimeout(timer);
    }
    const refuse = async (status: string, why: string, extra?: string) => {
      this.#host.hub.log(`refuse ${peer}: ${why}`);
      try {
        await writeAll(conn, plainReply(status, why, extra));
      } catch { /* gone */ }
      closeQuietly(conn);
    };
    if (late) {
      this.#host.hub.log(`refuse ${peer}: request head not complete in time`);
      return;
    }
    if (head === undefined) {
      return refuse(
        "431 Request Header Fields Too Large",
        `request head over ${MAX_HEAD_BYTES} bytes`,
      );
    }
    if (head === null) return refuse("400 Bad Request", "malformed request head");
    // The page, uploads, downloads, and a /ws without upgrade (node:http answers 426).
    if (!hasToken(head.headers.get("upgrade"), "websocket")) return this.#relay(conn, bytes);
    const refusal = upgradeRefusal(head);
    if (refusal) return refuse(refusal.status, refusal.why, refusal.extra);
    await writeAll(
      conn,
      encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptKey(head.headers.get("sec-websocket-key")!)}\r\n\r\n`,
      ),
    );
    const host = this.#host;
    const connection = new WsConnection(
      conn,
      head.rest,
      host.hub,
      host.limits,
      host.pressure,
      (c) => host.release(c),
    );
    const limit = host.refusal(peer);
    if (limit) {
      host.hub.log(`refuse ${peer}: ${limit}`);
      connection.session.error("too_many_connections", limit);
      connection.close();
      return;
    }
    host.adopt(connection);
    await connection.serve();
  }

  /** Relays a connection's bytes to and from the `node:http` server. */
  async #relay(conn: ByteConn, head: Uint8Array): Promise<void> {
    const { hostname, port } = conn.remoteAddr;
    const key = addressKey(hostname);
    const refusal = this.#stopping ? "server is shutting down" : this.#host.refusal(hostname);
    const count = this.#perAddress.get(key) ?? 0;
    const max = this.#host.maxRelaysPerAddress;
    if (refusal || (max > 0 && count >= max)) {
      const why = refusal ?? `too many connections from ${key}`;
      this.#host.hub.log(`refuse ${hostname}: ${why}`);
      try {
        await writeAll(conn, plainReply("503 Service Unavailable", why, "Retry-After: 5\r\n"));
      } catch { /* gone */ }
      return closeQuietly(conn);
    }
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#httpPort });
    } catch {
      try {
        await writeAll(conn, plainReply("503 Service Unavailable", "the web server is not up"));
      } catch { /* gone */ }
      return closeQuietly(conn);
    }
    const local = (upstream.localAddr as Deno.NetAddr).port;
    this.#peers.set(local, { hostname, port, secure: conn.secure ?? false });
    this.#relays.add(conn);
    this.#perAddress.set(key, count + 1);
    let last = Date.now();
    const idleMs = this.#host.relayIdleMs;
    const idle = idleMs === 0 ? undefined : setInterval(() => {
      if (Date.now() - last > idleMs) {
        closeQuietly(conn);
        closeQuietly(upstream);
      }
    }, Math.max(50, Math.min(idleMs / 4, 10_000)));
    const pump = async (from: ByteConn, to: ByteConn, first?: Uint8Array) => {
      if (first) await writeAll(to, first);
      const buf = new Uint8Array(RELAY_CHUNK);
      for (let n; (n = await from.read(buf)) !== null;) {
        last = Date.now();
        await writeAll(to, buf.subarray(0, n));
      }
    };
    try {
      await Promise.race([
        // The browser finished sending: node:http still answers, then closes.
        pump(conn, upstream, head).then(() => upstream.closeWrite()).then(() =>
          new Promise(() => {})
        ),
        // node:http closed (Connection: close, keep-alive timeout): so does the browser's.
        pump(upstream, conn),
      ]);
    } catch {
      /* either side went away */
    } finally {
      clearInterval(idle);
      closeQuietly(upstream);
      closeQuietly(conn);
      this.#peers.delete(local);
      this.#relays.delete(conn);
      const left = (this.#perAddress.get(key) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(key);
      else this.#perAddress.set(key, left);
    }
  }
}
