/**
 * The web client's HTTP server: serves the page (in `web/`, embedded in the
 * program), takes uploads (`POST /upload`) and serves them back
 * (`GET /files/ID/NAME`). Built on `node:http`, behind the front door of the
 * chat ports (`web_door.ts`), which answers WebSocket handshakes itself and
 * relays every other connection here, on loopback.
 *
 * Every response carries `X-Content-Type-Options: nosniff` and a
 * `Referrer-Policy`; the page a strict Content-Security-Policy (scripts and
 * styles from this server only, no inline script). Assets are revalidated
 * with an `ETag`; uploads never change, so they are cached for a year.
 *
 * @module
 */

import indexHtml from "../../web/index.html" with { type: "bytes" };
import appJs from "../../web/app.js" with { type: "bytes" };
import styleCss from "../../web/style.css" with { type: "bytes" };
import iconSvg from "../../web/icon.svg" with { type: "bytes" };
import { createHash } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import { Readable } from "node:stream";
import { roomKey } from "../../protocol/mod.ts";
import { hashToken, type Hub } from "../core/hub.ts";
import { cleanFileName, type FileStore, INLINE_IMAGE_TYPES } from "../store/files.ts";
import { concat } from "./send_queue.ts";
import { plainReply, type RelayedPeer, upgradeRefusal } from "./web_door.ts";
import type { PeerAddress } from "./websocket.ts";

/** The page's Content-Security-Policy: nothing inline, nothing from elsewhere. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Uploaded files are never a document that runs anything. */
const FILE_CSP = "default-src 'none'; img-src 'self'; sandbox";

interface Asset {
  body: Uint8Array;
  type: string;
  etag: string;
}

function asset(body: Uint8Array, type: string): Asset {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return { body, type, etag };
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", asset(indexHtml, "text/html; charset=utf-8")],
  ["/app.js", asset(appJs, "text/javascript; charset=utf-8")],
  ["/style.css", asset(styleCss, "text/css; charset=utf-8")],
  ["/icon.svg", asset(iconSvg, "image/svg+xml")],
]);

const COMMON_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** What the web server needs from the chat server it belongs to. */
export interface WebHost {
  /** The shared chat state. */
  readonly hub: Hub;
  /** Where uploads go. */
  readonly files: FileStore;
  /** Largest upload in bytes; 0: uploads are off. */
  readonly maxUploadBytes: number;
}

/** Options for {@linkcode WebServer.listen}. */
export interface WebServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /**
   * Behind the front door: the real peer of a relayed connection, by the
   * connection's remote (the relay's local) port. Requests on connections it
   * does not know are refused.
   */
  peers?: (port: number) => RelayedPeer | undefined;
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body + "\n", {
    status,
    headers: { ...COMMON_HEADERS, "content-type": "text/plain; charset=utf-8", ...extra },
  });
}

/**
 * Whether a browser's `Origin` is this server (same scheme, host and port as
 * the request's `Host`). Requests without `Origin` (non-browser clients) pass.
 *
 * @param request the request
 * @returns true when allowed
 */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  try {
    return new URL(origin).host === new URL(request.url).host;
  } catch {
    return false;
  }
}

/** Guesses an image type from the first bytes; only the inline types count. */
export function sniffImage(data: Uint8Array): string | undefined {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, j) => data[i + j] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "image/webp";
  return undefined;
}

/**
 * Formats a byte count for people: `512 B`, `12.3 KB`, `4.5 MB`.
 *
 * @param bytes the size
 * @returns the text
 */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** The running web front door. */
export class WebServer {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** `http`: TLS (HTTPS, WSS) ends at the front door, which says so per relayed connection. */
  readonly scheme = "http";
  readonly #host: WebHost;
  readonly #server: http.Server;
  readonly #peers: ((port: number) => RelayedPeer | undefined) | undefined;

  private constructor(
    host: WebHost,
    server: http.Server,
    peers?: (port: number) => RelayedPeer | undefined,
  ) {
    this.#host = host;
    this.#server = server;
    this.#peers = peers;
    const address = server.address() as net.AddressInfo;
    this.addr = { transport: "tcp", hostname: address.address, port: address.port };
  }

  /**
   * Binds and starts serving, on `node:http`. HTTPS is the front door's
   * (`web_door.ts` ends TLS, and reloads the certificate per connection on
   * SIGHUP); an upgrade that reaches this server is refused.
   *
   * @param host the chat server it belongs to
   * @param options address, port, the front door's peers
   * @returns the running web server
   * @throws {Error} `EADDRINUSE` when the port is taken
   */
  static async listen(host: WebHost, options: WebServerOptions): Promise<WebServer> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const web = new WebServer(host, server, options.peers);
    server.on("request", (req, res) => web.#request(req, res));
    server.on("upgrade", (req, socket) => web.#upgrade(req, socket as net.Socket));
    server.on("clientError", (_error, socket) => {
      try {
        (socket as net.Socket).end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      } catch { /* gone */ }
    });
    return web;
  }

  /** Stops accepting and closes every HTTP connection (WebSockets are closed by the caller). */
  async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections?.();
    });
  }

  /** Adapts a `node:http` request to {@linkcode WebServer.#handle} and back. */
  async #request(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const relayed = this.#peers?.(req.socket.remotePort ?? 0);
    if (this.#peers && !relayed) {
      req.socket.destroy(); // not from the front door
      return;
    }
    const peer = relayed ?? peerOf(req.socket);
    const scheme = relayed ? (relayed.secure ? "https" : "http") : this.scheme;
    let response: Response;
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      }
      const url = new URL(req.url ?? "/", `${scheme}://${req.headers.host ?? "localhost"}`);
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const request = new Request(url, {
        method: req.method ?? "GET",
        headers,
        ...(hasBody
          ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" }
          : {}),
      } as RequestInit);
      response = await this.#handle(request, peer);
    } catch (error) {
      this.#host.hub.log(`http error: ${error instanceof Error ? error.message : error}`);
      response = text(400, "bad request");
    }
    const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => out[name] = value);
    if (body) out["content-length"] = String(body.length);
    res.writeHead(response.status, out);
    res.end(req.method === "HEAD" ? undefined : body);
  }

  #handle(request: Request, peer: PeerAddress): Response | Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/ws") {
      return text(426, "this is the chat's WebSocket endpoint", { upgrade: "websocket" });
    }
    void peer;
    if (path === "/upload") return this.#upload(request, url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "method not allowed", { allow: "GET, HEAD" });
    }
    if (path.startsWith("/files/")) return this.#download(path);
    const found = ASSETS.get(path === "/index.html" ? "/" : path);
    if (!found) return text(404, "not found");
    const headers: Record<string, string> = {
      ...COMMON_HEADERS,
      "content-type": found.type,
      "cache-control": "no-cache",
      etag: found.etag,
    };
    if (path === "/" || path === "/index.html") headers["content-security-policy"] = PAGE_CSP;
    if (request.headers.get("if-none-match") === found.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(request.method === "HEAD" ? null : found.body.slice(), { headers });
  }

  /**
   * An upgrade on a kept-alive connection: the front door only looks at a
   * connection's first request (browsers open a new one for a WebSocket).
   * A bad one gets the same answer as at the door; a good one a 400 that
   * says to open a new connection.
   */
  #upgrade(req: http.IncomingMessage, socket: net.Socket): void {
    const headers = new Map<string, string>();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const refusal = upgradeRefusal({
      method: req.method ?? "",
      path: req.url ?? "",
      version: req.httpVersion,
      headers,
    }) ?? { status: "400 Bad Request", why: "open the WebSocket on a new connection" };
    socket.end(plainReply(refusal.status, refusal.why, refusal.extra));
  }

  async #upload(request: Request, url: URL): Promise<Response> {
    const host = this.#host;
    if (request.method !== "POST") return text(405, "POST a file here", { allow: "POST" });
    if (!sameOrigin(request)) return text(403, "cross-origin upload refused");
    if (host.maxUploadBytes === 0) return text(403, "uploads are turned off on this server");
    const auth = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "");
    const session = auth ? host.hub.byToken(hashToken(auth[1]!)) : undefined;
    if (!session || session.state !== "active") {
      return text(401, "sign in first: send your session's resume token as a Bearer token");
    }
    const roomName = url.searchParams.get("room") ?? session.current?.name ?? "";
    const room = roomName === "" ? undefined : session.rooms.get(roomKey(roomName));
    if (!room) return text(403, `you are not in ${roomName || "a room"}`);
    const length = Number(request.headers.get("content-length") ?? NaN);
    if (Number.isFinite(length) && length > host.maxUploadBytes) {
      await request.body?.cancel();
      return text(413, `files may be at most ${humanSize(host.maxUploadBytes)}`);
    }
    const data = await readAtMost(request, host.maxUploadBytes);
    if (data === undefined) {
      return text(413, `files may be at most ${humanSize(host.maxUploadBytes)}`);
    }
    if (data.length === 0) return text(400, "the file is empty");
    const name = cleanFileName(url.searchParams.get("name") ?? "file");
    const image = sniffImage(data);
    let meta;
    try {
      meta = await host.files.put(data, {
        name,
        type: image && INLINE_IMAGE_TYPES.has(image) ? image : "application/octet-stream",
        size: data.length,
        from: session.nick!,
        room: room.name,
        ts: Date.now(),
      });
    } catch (error) {
      host.hub.log(`upload failed: ${error instanceof Error ? error.message : error}`);
      return text(500, "the file could not be stored");
    }
    const link = `${url.origin}/files/${meta.id}/${encodeURIComponent(name)}`;
    const message = `${name} (${humanSize(data.length)}) ${link}`;
    const ref = url.searchParams.get("ref") ?? undefined;
    const posted = host.hub.post(session, {
      kind: "message",
      room,
      text: message,
      ...(ref !== undefined && ref.length <= 64 ? { ref } : {}),
    });
    // The file lives as long as this message does (pruning deletes both).
    await host.files.link(meta.id, posted).catch((error) =>
      host.hub.log(`upload link failed: ${error instanceof Error ? error.message : error}`)
    );
    host.hub.log(`upload ${session.nick} ${room.name} ${name} ${data.length} bytes`);
    return new Response(JSON.stringify({ url: link, text: message, type: meta.type }), {
      status: 201,
      headers: { ...COMMON_HEADERS, "content-type": "application/json" },
    });
  }

  async #download(path: string): Promise<Response> {
    const [, , id = ""] = path.split("/");
    const found = await this.#host.files.get(id);
    if (!found) return text(404, "no such file");
    const { meta, data } = found;
    const inline = INLINE_IMAGE_TYPES.has(meta.type);
    return new Response(data.slice(), {
      headers: {
        ...COMMON_HEADERS,
        "content-type": inline ? meta.type : "application/octet-stream",
        "content-disposition": `${inline ? "inline" : "attachment"}; filename*=UTF-8''${
          encodeURIComponent(meta.name)
        }`,
        "content-security-policy": FILE_CSP,
        "cache-control": "private, max-age=31536000, immutable",
      },
    });
  }
}

/** Reads a request body, giving up (and cancelling it) past `max` bytes. */
async function readAtMost(request: Request, max: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > max) return undefined; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return concat(chunks);
}

/** The peer of a socket, for logs and per-address limits. */
function peerOf(socket: net.Socket): PeerAddress {
  return {
    hostname: (socket.remoteAddress ?? "").replace(/^::ffff:(?=\d+\.)/, ""),
    port: socket.remotePort ?? 0,
  };
}
