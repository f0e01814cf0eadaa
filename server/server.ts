/**
 * The chat server: accept loop, connection limits, timeouts and shutdown.
 *
 * @module
 */

import {
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_TEXT_BYTES,
  DEFAULT_MAX_TEXT_LINES,
  encodeFrame,
  IRC_MAX_LINE_BYTES,
  MAX_RESUME_REPLAY,
  roomKey,
} from "../protocol/mod.ts";
import {
  DEFAULT_ANNOUNCE_LIMIT,
  DEFAULT_REPLY_BUDGET_BYTES,
  DEFAULT_RESUME_EXPIRY_MS,
  DEFAULT_ROOM_QUOTA,
  Hub,
  type Logger,
} from "./core/hub.ts";
import { Pressure } from "./transports/pressure.ts";
import { DEFAULT_SEND_QUEUE_BYTES } from "./transports/send_queue.ts";
import { MemoryStore, type Store } from "./store/store.ts";
import {
  type ConnectionLimits,
  type LineProtocol,
  sniffRequestLine,
  TcpConnection,
} from "./transports/tcp.ts";
import { IrcGateway } from "./transports/irc.ts";
import { WebServer } from "./transports/http.ts";
import { HEAD_TIMEOUT_MS, plainReply, WebDoor } from "./transports/web_door.ts";
import type { WsConnection } from "./transports/websocket.ts";
import { DEFAULT_MAX_UPLOAD_BYTES, type FileMeta, FileStore } from "./store/files.ts";
import { acceptTls } from "./transports/tls.ts";
import type { TlsIdentity } from "../tls/certificate.ts";
import type { ByteConn } from "../tls/node_conn.ts";
import { addressKey } from "./core/address.ts";
import { LOGIN_LIMIT_DEFAULTS } from "./core/login_limit.ts";

export { addressKey };

/** A connection of any transport, as the accept loops and timeouts see it. */
type Connection = TcpConnection | WsConnection;

/** Options for {@linkcode ChatServer}. Every limit is documented in docs/operations.md. */
export interface ServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** TCP port; 0 picks a free one. @default {8080} */
  port?: number;
  /** Whether to serve plain (unencrypted) TCP on `port` at all. @default {true} */
  plainTcp?: boolean;
  /**
   * Serve the same protocol inside TLS too, on `tls.port` (0 picks a free
   * one) of `hostname`, with `tls.identity`'s certificate. Only
   * {@linkcode ChatServer.open} reads this. @default {no TLS}
   */
  tls?: { port: number; identity: TlsIdentity };
  /**
   * Serve IRC clients too, on this port of `hostname` (0 picks a free one;
   * see docs/irc.md). Only {@linkcode ChatServer.open} reads this.
   * @default {no IRC}
   */
  ircPort?: number;
  /**
   * Serve IRC over TLS too, on this port, with the `tls` certificate (so
   * only with `tls`). Only {@linkcode ChatServer.open} reads this.
   * @default {no IRC over TLS}
   */
  ircTlsPort?: number;
  /** Program version that IRC clients are told (002, 004). @default {"0"} */
  version?: string;
  /** Longest line in bytes; longer: error, then disconnect. 0: unlimited. @default {32768} */
  maxLineBytes?: number;
  /** Longest message text in bytes. @default {8192} */
  maxTextBytes?: number;
  /** Most lines in one message. @default {100} */
  maxTextLines?: number;
  /** Per-connection send queue in bytes; over it the client is dropped. 0: unlimited. @default {1048576} */
  sendQueueBytes?: number;
  /** Flood control burst, in lines. @default {10} */
  floodBurst?: number;
  /** Flood control rate in lines per second; 0 disables it. @default {5} */
  floodRate?: number;
  /** Most connections at once; 0: unlimited. @default {10000} */
  maxClients?: number;
  /** Most connections per address (IPv6: per /64); 0: unlimited. @default {32} */
  maxPerIp?: number;
  /** Milliseconds to complete hello and nickname; 0: no limit. @default {30000} */
  handshakeTimeoutMs?: number;
  /** Milliseconds without traffic before closing; a ping goes out at half. 0: no limit. @default {120000} */
  idleTimeoutMs?: number;
  /** Log line sink (connects, nicknames, renames, disconnects). @default {no logging} */
  log?: Logger;
  /** Where history, rooms and sessions are kept (see `openStore`). @default {a new MemoryStore} */
  store?: Store;
  /** Messages older than this many days are pruned; 0: no age limit. @default {30} */
  historyDays?: number;
  /** Only the newest this many messages are kept; 0: no limit. @default {1000000} */
  historyMaxRows?: number;
  /** Rooms over this many members do not announce joins and leaves; 0: always. @default {500} */
  announceLimit?: number;
  /** How often pruning runs, in ms. @default {60000} */
  pruneIntervalMs?: number;
  /** Milliseconds a resume token lives after its session was last seen; 0: forever. @default {604800000} */
  resumeExpiryMs?: number;
  /** Most messages one resume replays before it says `resume_truncated`. @default {10000} */
  resumeReplay?: number;
  /** `open`: anyone may register their nickname; `closed`: only `chat admin` creates accounts. @default {"open"} */
  registration?: "open" | "closed";
  /** Accounts one address may register at once (one back per `registerRefillMs`); 0: no quota. @default {5} */
  registerQuota?: number;
  /** Milliseconds in which an address's registration quota gains one account back. @default {3600000} */
  registerRefillMs?: number;
  /** Refuse guests: only logged-in users get a nickname. @default {false} */
  requireAccount?: boolean;
  /** Accept passwords over plain TCP from other machines (not only TLS and 127.0.0.1/::1). @default {false} */
  allowPlainPasswords?: boolean;
  /** Failed logins per account and per address before delays start. @default {3} */
  loginFreeAttempts?: number;
  /** First delay after the free attempts, in ms; doubles per failure. @default {1000} */
  loginDelayMs?: number;
  /** Failed logins after which the account or address is locked; 0: never. @default {10} */
  loginLockAfter?: number;
  /** How long a lock lasts, in ms (and how long failures are remembered). @default {900000} */
  loginLockMs?: number;
  /** Rooms one connection may create at once (three times as many per address); 0: no quota. @default {10} */
  roomQuota?: number;
  /** Milliseconds in which a room-creation quota gains one room back. @default {60000} */
  roomRefillMs?: number;
  /** Milliseconds after which an empty room without history is deleted; 0: never. @default {3600000} */
  roomExpiryMs?: number;
  /** Most resume tokens kept; beyond it the least recently seen are pruned. 0: no cap. @default {100000} */
  maxResumeTokens?: number;
  /**
   * Serve the web client (the page, and its WebSocket at `/ws`) on the chat
   * ports themselves: plain TCP serves HTTP and WS, the TLS port HTTPS and
   * WSS; a connection's first line tells HTTP from chat. Only
   * {@linkcode ChatServer.open} reads this. @default {false}
   */
  web?: boolean;
  /**
   * Serve the web client (and the chat, as on `port`) on this port of
   * `hostname` too; 0 picks a free one. Only {@linkcode ChatServer.open}
   * reads this. @default {no such port}
   */
  httpPort?: number;
  /**
   * Serve the web client over HTTPS (and WSS, and the chat inside TLS) on
   * this port too, with the TLS certificate (`tls.identity`; reloads reach
   * new connections); 0 picks a free one. Only {@linkcode ChatServer.open}
   * reads this, and only with `tls`. @default {no such port}
   */
  httpsPort?: number;
  /** Largest upload from the web client in bytes; 0 turns uploads off. @default {10485760} */
  maxUploadBytes?: number;
  /** Folder for uploads (beside the database). @default {in memory, at most 64 MiB} */
  uploadDir?: string;
}

/** The defaults of every {@linkcode ServerOptions} limit. */
export const SERVER_DEFAULTS = Object.freeze({
  hostname: "127.0.0.1",
  port: 8080,
  version: "0",
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  maxTextBytes: DEFAULT_MAX_TEXT_BYTES,
  maxTextLines: DEFAULT_MAX_TEXT_LINES,
  sendQueueBytes: DEFAULT_SEND_QUEUE_BYTES,
  floodBurst: 10,
  floodRate: 5,
  maxClients: 10_000,
  maxPerIp: 32,
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  announceLimit: DEFAULT_ANNOUNCE_LIMIT,
  historyDays: 30,
  historyMaxRows: 1_000_000,
  pruneIntervalMs: 60_000,
  resumeExpiryMs: DEFAULT_RESUME_EXPIRY_MS,
  resumeReplay: MAX_RESUME_REPLAY,
  registration: "open" as "open" | "closed",
  registerQuota: 5,
  registerRefillMs: 3_600_000,
  requireAccount: false,
  allowPlainPasswords: false,
  loginFreeAttempts: LOGIN_LIMIT_DEFAULTS.freeAttempts,
  loginDelayMs: LOGIN_LIMIT_DEFAULTS.delayMs,
  loginLockAfter: LOGIN_LIMIT_DEFAULTS.lockAfter,
  loginLockMs: LOGIN_LIMIT_DEFAULTS.lockMs,
  roomQuota: DEFAULT_ROOM_QUOTA,
  roomRefillMs: 60_000,
  roomExpiryMs: 3_600_000,
  maxResumeTokens: 100_000,
  maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES,
});

/** Most refused connections at once whose first bytes are awaited; past it, no wait. */
const MAX_REFUSING = 64;
/** Longest wait for a refused connection's first bytes (HTTP or chat?), in ms. */
const REFUSE_SNIFF_MS = 1000;

/** Messages deleted per pruning step (one short transaction each). */
const PRUNE_CHUNK = 5_000;

const encoder = new TextEncoder();

/** A listener of {@linkcode ChatServer.open} other than plain TCP could not bind. */
export class ListenError extends Error {
  /** The port that failed. */
  readonly port: number;
  /**
   * @param port the port that failed
   * @param cause what binding threw (e.g. `Deno.errors.AddrInUse`)
   */
  constructor(port: number, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.port = port;
  }
}

/**
 * A running chat server.
 *
 * @example
 * ```ts ignore
 * import { ChatServer } from "./server.ts";
 * const server = ChatServer.listen({ port: 0 });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export class ChatServer {
  /** The shared chat state. */
  readonly hub: Hub;
  /** The plain TCP address; `undefined` when plain TCP is off. */
  readonly addr: Deno.NetAddr | undefined;
  readonly #options: Required<
    Omit<
      ServerOptions,
      | "log"
      | "store"
      | "tls"
      | "web"
      | "httpPort"
      | "httpsPort"
      | "uploadDir"
      | "ircPort"
      | "ircTlsPort"
    >
  >;
  /** The web client's `node:http` server (on loopback, behind the door). */
  #webServer: WebServer | undefined;
  #door: WebDoor | undefined;
  /** Ports that serve the web client besides the chat ports (`--http-port`, `--https-port`). */
  #webListeners: { listener: Deno.TcpListener; scheme: "http" | "https" }[] = [];
  /** What plain TCP connections enforce, and where they send browsers (HTTP). */
  readonly #tcpLimits: ConnectionLimits;
  /** The same for TLS connections, which send browsers to HTTPS. */
  readonly #tlsLimits: ConnectionLimits;
  readonly #listener: Deno.TcpListener | undefined;
  #tlsListener: Deno.TcpListener | undefined;
  #irc: { gateway: IrcGateway; listener: Deno.TcpListener } | undefined;
  #ircGateway: IrcGateway | undefined;
  #ircTlsListener: Deno.TcpListener | undefined;
  readonly #connections = new Set<Connection>();
  readonly #perAddress = new Map<string, number>();
  /** Resolved when the last connection has finished, once shutting down. */
  #allFinished: PromiseWithResolvers<void> | undefined;
  readonly #finished = (connection: Connection) => this.#release(connection);
  /** Flow control: a sender pauses while a receiver its lines reached is behind (see `Pressure`). */
  readonly #pressure = new Pressure();
  readonly #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #pruneTimer: ReturnType<typeof setInterval> | undefined;
  readonly #roomSweep: ReturnType<typeof setInterval>;
  #pruneStep: ReturnType<typeof setTimeout> | undefined;
  /** Messages pruned since uploads were last swept for the ones they shared. */
  #prunedSinceSweep = 0;
  /** Uploads from the web client; each lives as long as the message that shares it. */
  readonly #files: FileStore;
  readonly #accepting: Promise<void>[] = [];
  // Resolved at the end of shutdown(), after the queues were flushed: the CLI
  // awaits this before exiting, so a signal never cuts off queued bytes.
  readonly #stopped = Promise.withResolvers<void>();
  #stopping = false;
  /** Refused connections whose first bytes are awaited (see #refuseAfterSniff). */
  #refusing = 0;

  private constructor(listener: Deno.TcpListener | undefined, options: ServerOptions) {
    const {
      tls: _tls,
      web: _web,
      httpPort: _httpPort,
      httpsPort: _httpsPort,
      uploadDir: _uploadDir,
      ircPort: _ircPort,
      ircTlsPort: _ircTlsPort,
      ...rest
    } = options;
    this.#options = { ...SERVER_DEFAULTS, plainTcp: true, ...definedOnly(rest) };
    this.#files = new FileStore(options.uploadDir, (meta) => this.#fileGone(meta));
    this.#listener = listener;
    this.addr = listener?.addr;
    this.hub = new Hub({
      limits: {
        maxLineBytes: this.#options.maxLineBytes,
        maxTextBytes: this.#options.maxTextBytes,
        maxTextLines: this.#options.maxTextLines,
      },
      ...(options.log ? { log: options.log } : {}),
      store: options.store ?? new MemoryStore(),
      announceLimit: this.#options.announceLimit,
      resumeExpiryMs: this.#options.resumeExpiryMs,
      resumeReplay: this.#options.resumeReplay,
      roomQuota: this.#options.roomQuota,
      roomRefillMs: this.#options.roomRefillMs,
      roomExpiryMs: this.#options.roomExpiryMs,
      // Long replies stay well under the level where flow control starts
      // (a quarter of the send queue), so they never slow anyone else down.
      replyBudgetBytes: this.#options.sendQueueBytes === 0
        ? DEFAULT_REPLY_BUDGET_BYTES
        : Math.min(DEFAULT_REPLY_BUDGET_BYTES, Math.floor(this.#options.sendQueueBytes / 8)),
      accounts: {
        registration: this.#options.registration,
        registerQuota: this.#options.registerQuota,
        registerRefillMs: this.#options.registerRefillMs,
        requireAccount: this.#options.requireAccount,
        allowPlainPasswords: this.#options.allowPlainPasswords,
        limits: {
          freeAttempts: this.#options.loginFreeAttempts,
          delayMs: this.#options.loginDelayMs,
          lockAfter: this.#options.loginLockAfter,
          lockMs: this.#options.loginLockMs,
        },
      },
    });
    this.#tcpLimits = { ...this.#options };
    this.#tlsLimits = { ...this.#options };
    if (
      this.#options.historyDays > 0 || this.#options.historyMaxRows > 0 ||
      this.#options.resumeExpiryMs > 0
    ) {
      this.#pruneStep = setTimeout(() => this.#prune(), 0);
      this.#pruneTimer = setInterval(() => this.#prune(), this.#options.pruneIntervalMs);
    }
    // Empty rooms without history expire; the sweep also forgets full
    // room-creation buckets, so it runs even when rooms never expire.
    const expiry = this.#options.roomExpiryMs;
    this.#roomSweep = setInterval(
      () => this.hub.expireRooms(),
      expiry > 0 ? Math.max(250, Math.min(this.#options.pruneIntervalMs, expiry / 2)) : 60_000,
    );
    const { handshakeTimeoutMs, idleTimeoutMs } = this.#options;
    const shortest = Math.min(
      handshakeTimeoutMs || Infinity,
      idleTimeoutMs ? idleTimeoutMs / 2 : Infinity,
    );
    if (shortest !== Infinity) {
      this.#sweep = setInterval(
        () => this.#checkTimeouts(),
        Math.max(50, Math.min(1000, shortest / 4)),
      );
    }
    if (listener) this.#accepting.push(this.#acceptLoop(listener));
  }

  /**
   * Binds and starts serving.
   *
   * @param options see {@linkcode ServerOptions}
   * @returns the running server
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  static listen(options: ServerOptions = {}): ChatServer {
    const listener = options.plainTcp === false ? undefined : Deno.listen({
      hostname: options.hostname ?? SERVER_DEFAULTS.hostname,
      port: options.port ?? SERVER_DEFAULTS.port,
      transport: "tcp",
    });
    return new ChatServer(listener, options);
  }

  /**
   * Binds every listener the options ask for (plain TCP unless `plainTcp`
   * is false, TLS when `tls` is given) and starts serving.
   *
   * @param options see {@linkcode ServerOptions}
   * @returns the running server
   * @throws {Deno.errors.AddrInUse} when a port is taken (nothing stays bound)
   */
  static async open(options: ServerOptions = {}): Promise<ChatServer> {
    const server = ChatServer.listen(options);
    if (options.tls) {
      try {
        server.listenTls(options.tls.port, options.tls.identity);
      } catch (error) {
        await server.shutdown(0);
        throw new ListenError(options.tls.port, error);
      }
    }
    const webs: [number | undefined, TlsIdentity | undefined][] = [
      [options.httpPort, undefined],
      [options.tls ? options.httpsPort : undefined, options.tls?.identity],
    ];
    if (options.web || webs.some(([port]) => port !== undefined)) {
      await server.serveWeb(server.#files, options.web ?? false);
    }
    for (const [port, tls] of webs) {
      if (port === undefined) continue;
      try {
        server.listenWeb(port, tls);
      } catch (error) {
        await server.shutdown(0);
        throw new ListenError(port, error);
      }
    }
    if (options.ircPort !== undefined) {
      try {
        server.listenIrc(options.ircPort);
      } catch (error) {
        await server.shutdown(0);
        throw new ListenError(options.ircPort, error);
      }
    }
    if (options.ircTlsPort !== undefined && options.tls) {
      try {
        server.listenIrcTls(options.ircTlsPort, options.tls.identity);
      } catch (error) {
        await server.shutdown(0);
        throw new ListenError(options.ircTlsPort, error);
      }
    }
    return server;
  }

  /**
   * Where the web client is served: the chat ports (when it is served on
   * them) and the extra web ports, with their schemes.
   */
  get webAddrs(): { scheme: "http" | "https"; addr: Deno.NetAddr }[] {
    const out: { scheme: "http" | "https"; addr: Deno.NetAddr }[] = [];
    if (this.#tcpLimits.web && this.addr) out.push({ scheme: "http", addr: this.addr });
    if (this.#tlsLimits.web && this.#tlsListener) {
      out.push({ scheme: "https", addr: this.#tlsListener.addr });
    }
    for (const { listener, scheme } of this.#webListeners) {
      out.push({ scheme, addr: listener.addr });
    }
    return out;
  }

  /**
   * Starts the web client: its `node:http` server on a loopback port, and
   * the front door (`web_door.ts`) that hands it browsers' connections and
   * answers their WebSocket handshakes; on the chat ports too, with `onChatPorts`.
   *
   * @param files where uploads go
   * @param onChatPorts serve it on the plain and TLS chat ports
   */
  async serveWeb(files: FileStore, onChatPorts: boolean): Promise<void> {
    if (this.#door) return;
    this.#webServer = await WebServer.listen({
      hub: this.hub,
      files,
      maxUploadBytes: this.#options.maxUploadBytes,
    }, { hostname: "127.0.0.1", port: 0, peers: (port) => this.#door?.peerAt(port) });
    const door = this.#door = new WebDoor({
      hub: this.hub,
      limits: this.#options,
      pressure: this.#pressure,
      maxRelaysPerAddress: this.#options.maxPerIp,
      headTimeoutMs: Math.min(this.#options.handshakeTimeoutMs || HEAD_TIMEOUT_MS, HEAD_TIMEOUT_MS),
      relayIdleMs: this.#options.idleTimeoutMs,
      refusal: (hostname) => this.#refusal(hostname),
      adopt: (connection) => this.#adopt(connection),
      release: this.#finished,
    }, this.#webServer.addr.port);
    if (onChatPorts) {
      this.#tcpLimits.web = door.take;
      this.#tlsLimits.web = door.take;
      this.#tcpLimits.browsedFrom = door.browsedFrom;
      this.#tlsLimits.browsedFrom = door.browsedFrom;
    }
  }

  /**
   * Serves the web client on another port of the same host (and the chat,
   * as on the chat port: the first line tells them apart), after
   * {@linkcode serveWeb}. A browser that opens a chat port without the web
   * client is redirected to the last such port of its scheme.
   *
   * @param port the port; 0 picks a free one
   * @param tls the certificate (read per new connection, so reloads apply):
   * serve HTTPS and WSS
   * @returns the bound address
   * @throws {Deno.errors.AddrInUse} when the port is taken
   * @throws {Error} before {@linkcode serveWeb}
   */
  listenWeb(port: number, tls?: TlsIdentity): Deno.NetAddr {
    const door = this.#door;
    if (!door) throw new Error("listenWeb() before serveWeb()");
    const listener = Deno.listen({ hostname: this.#options.hostname, port, transport: "tcp" });
    const scheme = tls ? "https" : "http";
    this.#webListeners.push({ listener, scheme });
    const limits = {
      ...(tls ? this.#tlsLimits : this.#tcpLimits),
      web: door.take,
      browsedFrom: door.browsedFrom,
    };
    const wrap = tls ? (conn: Deno.TcpConn) => acceptTls(conn, tls) : undefined;
    this.#accepting.push(this.#acceptLoop(listener, limits, undefined, wrap));
    if (tls) {
      this.#tlsLimits.webPort = listener.addr.port;
      this.#tlsLimits.webScheme = "https";
    } else this.#tcpLimits.webPort = listener.addr.port;
    return listener.addr;
  }

  /** The IRC gateway's address, once {@linkcode listenIrc} has bound it. */
  get ircAddr(): Deno.NetAddr | undefined {
    return this.#irc?.listener.addr;
  }

  /**
   * Serves IRC clients on another port of the same host: the IRC gateway
   * (docs/irc.md) over the same session core, limits, flood control and
   * send queues; lines may be as long as IRC allows (512 bytes plus tags).
   *
   * @param port the IRC port; 0 picks a free one
   * @returns the bound address
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listenIrc(port: number): Deno.NetAddr {
    const listener = Deno.listen({ hostname: this.#options.hostname, port, transport: "tcp" });
    const gateway = this.#gateway();
    this.#irc = { gateway, listener };
    const limits = { ...this.#tcpLimits, maxLineBytes: IRC_MAX_LINE_BYTES };
    this.#accepting.push(this.#acceptLoop(listener, limits, gateway));
    return listener.addr;
  }

  /** The IRC-over-TLS address, once {@linkcode listenIrcTls} has bound it. */
  get ircTlsAddr(): Deno.NetAddr | undefined {
    return this.#ircTlsListener?.addr;
  }

  /**
   * Serves IRC clients inside TLS (IRC's usual port 6697), with the same
   * gateway, certificate and limits as plain IRC.
   *
   * @param port the port; 0 picks a free one
   * @param identity the certificate (read per new connection, so reloads apply)
   * @returns the bound address
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listenIrcTls(port: number, identity: TlsIdentity): Deno.NetAddr {
    const gateway = this.#gateway();
    const limits = { ...this.#tlsLimits, maxLineBytes: IRC_MAX_LINE_BYTES };
    const listener = Deno.listen({ hostname: this.#options.hostname, port, transport: "tcp" });
    this.#ircTlsListener = listener;
    const wrap = (conn: Deno.TcpConn) => acceptTls(conn, identity);
    this.#accepting.push(
      this.#acceptLoop(listener, limits, gateway, wrap),
    );
    return listener.addr;
  }

  /** The one IRC gateway of this server (plain and TLS ports share it). */
  #gateway(): IrcGateway {
    return this.#ircGateway ??= new IrcGateway(this.hub, { version: this.#options.version });
  }

  /** The TLS address, once {@linkcode listenTls} has bound it. */
  get tlsAddr(): Deno.NetAddr | undefined {
    return this.#tlsListener?.addr;
  }

  /**
   * Serves the chat protocol inside TLS on another port of the same host,
   * through the same limits and session core as plain TCP.
   *
   * @param port the TLS port; 0 picks a free one
   * @param identity the certificate (read per new connection, so reloads apply)
   * @returns the bound address
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listenTls(port: number, identity: TlsIdentity): Deno.NetAddr {
    const listener = Deno.listen({ hostname: this.#options.hostname, port, transport: "tcp" });
    this.#tlsListener = listener;
    const wrap = (conn: Deno.TcpConn) => acceptTls(conn, identity);
    this.#accepting.push(this.#acceptLoop(listener, this.#tlsLimits, undefined, wrap));
    return listener.addr;
  }

  /** Open connections, registered or not. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Resolves when the server has stopped: after {@linkcode shutdown} has
   * flushed every send queue (or its grace period ran out).
   */
  get finished(): Promise<void> {
    return this.#stopped.promise;
  }

  /**
   * Stops accepting, tells every client the server is shutting down, flushes
   * their send queues (for at most `graceMs`), and closes them.
   *
   * @param graceMs longest wait for slow clients to take their last bytes
   */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.#stopping) return this.#stopped.promise;
    this.#stopping = true;
    clearInterval(this.#sweep);
    clearInterval(this.#pruneTimer);
    clearInterval(this.#roomSweep);
    clearTimeout(this.#pruneStep);
    // Commit (and deliver) what was sent before the shutdown notice.
    this.hub.flush();
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    try {
      this.#tlsListener?.close();
    } catch { /* already closed */ }
    for (const { listener } of this.#webListeners) {
      try {
        listener.close();
      } catch { /* already closed */ }
    }
    this.#door?.shutdown();
    const web = this.#webServer?.shutdown();
    try {
      this.#irc?.listener.close();
    } catch { /* already closed */ }
    try {
      this.#ircTlsListener?.close();
    } catch { /* already closed */ }
    // Leaving because the server goes is not news to the others (they get the bye too).
    this.hub.stopping();
    for (const connection of this.#connections) {
      connection.end("server shutting down", "server is shutting down");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.#allFinished = Promise.withResolvers();
    if (this.#connections.size === 0) this.#allFinished.resolve();
    await Promise.race([
      this.#allFinished.promise,
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
    await Promise.all(this.#accepting);
    await web;
    this.hub.close();
    this.#stopped.resolve();
  }

  /**
   * Accepts until shutdown, backing off while `accept()` fails. `wrap`
   * turns each accepted connection into what is admitted (TLS over it).
   */
  async #acceptLoop(
    listener: Deno.TcpListener,
    limits?: ConnectionLimits,
    protocol?: LineProtocol,
    wrap?: (conn: Deno.TcpConn) => ByteConn,
  ): Promise<void> {
    let backoff = 0;
    while (!this.#stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (error) {
        if (this.#stopping) break;
        if (error instanceof Deno.errors.BadResource) {
          // The listener is gone without a shutdown(): stop cleanly all the same.
          queueMicrotask(() => this.shutdown());
          break;
        }
        // EMFILE and friends: back off and keep serving those already here.
        backoff = Math.min(1000, backoff ? backoff * 2 : 10);
        this.hub.log(
          `accept failed: ${
            error instanceof Error ? error.message : error
          }; retrying in ${backoff} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff));
        continue;
      }
      this.admit(wrap ? wrap(conn) : conn, limits, protocol);
    }
  }

  /**
   * Serves one accepted connection (plain TCP, TLS, or whatever a front door
   * routed here) after the connection limits: over `maxClients` or
   * `maxPerIp` it gets `! REASON` (for people) and one `too_many_connections`
   * error frame (for programs), and is closed.
   *
   * @param conn the connection; its `remoteAddr` counts for `maxPerIp`
   * @param limits its limits, when they differ from the server's (IRC lines)
   * @param protocol the protocol of its port (IRC, which refuses with its own
   * `ERROR` line); default: JSON or plain text, chosen by the first line
   */
  admit(conn: ByteConn, limits?: ConnectionLimits, protocol?: LineProtocol): void {
    const refusal = this.#refusal(conn.remoteAddr.hostname);
    if (
      refusal && (limits ?? this.#tcpLimits).web && !protocol && this.#refusing < MAX_REFUSING
    ) {
      // A browser may be asking: answer in HTTP if its first bytes say so.
      this.hub.log(`refuse ${conn.remoteAddr.hostname}: ${refusal}`);
      this.#refuseAfterSniff(conn, refusal);
      return;
    }
    if (refusal) {
      this.hub.log(`refuse ${conn.remoteAddr.hostname}: ${refusal}`);
      // A port of another protocol (IRC) refuses in its own format. On the
      // chat port the wire format is not known before the first line: a
      // plain-text line for people (nc, telnet) and then the JSON frame for
      // programs (JSON clients skip what is not a frame before their welcome).
      const line = protocol
        ? protocol.refusal(refusal)
        : `! ${refusal}\n${
          encodeFrame({ type: "error", code: "too_many_connections", message: refusal })
        }`;
      conn.write(encoder.encode(line)).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* gone */ }
      });
      return;
    }
    const connection = new TcpConnection(
      conn,
      this.hub,
      limits ?? this.#tcpLimits,
      this.#pressure,
      this.#finished,
      protocol && ((c) => protocol.accept(c)),
    );
    this.#adopt(connection);
    // serve() never throws; it calls #release when done.
    connection.serve();
  }

  /**
   * Refuses a connection on a port that serves the web client: HTTP 503
   * when its first bytes (within REFUSE_SNIFF_MS) are an HTTP request,
   * else as {@linkcode admit} does for chat clients.
   */
  async #refuseAfterSniff(conn: ByteConn, refusal: string): Promise<void> {
    this.#refusing++;
    const buf = new Uint8Array(512);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const n = await Promise.race([
        conn.read(buf),
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), REFUSE_SNIFF_MS)),
      ]);
      const http = n !== null && sniffRequestLine(buf.subarray(0, n)) !== "chat";
      const line = encodeFrame({ type: "error", code: "too_many_connections", message: refusal });
      await conn.write(
        http
          ? plainReply("503 Service Unavailable", refusal, "Retry-After: 5\r\n")
          : encoder.encode(`! ${refusal}\n${line}`),
      );
    } catch {
      /* gone */
    } finally {
      clearTimeout(timer);
      this.#refusing--;
      try {
        conn.close();
      } catch { /* gone */ }
    }
  }

  /** Why a new connection from `hostname` is refused (limits), or `undefined`. */
  #refusal(hostname: string): string | undefined {
    if (this.#stopping) return "server is shutting down";
    const { maxClients, maxPerIp } = this.#options;
    const key = addressKey(hostname);
    const count = this.#perAddress.get(key) ?? 0;
    return maxClients > 0 && this.#connections.size >= maxClients
      ? "server is full, try again later"
      : maxPerIp > 0 && count >= maxPerIp
      ? `too many connections from ${key}`
      : undefined;
  }

  /** Counts an accepted connection in (limits, shutdown, timeouts). */
  #adopt(connection: Connection): void {
    const key = addressKey(connection.hostname);
    this.#connections.add(connection);
    this.#perAddress.set(key, (this.#perAddress.get(key) ?? 0) + 1);
    // The open count on connect and close lines lets an operator (and the
    // churn test) see that every connection is released.
    this.hub.log(`connect ${connection.remote} (${this.#connections.size} open)`);
  }

  #release(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    const key = addressKey(connection.hostname);
    const left = (this.#perAddress.get(key) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(key);
    else this.#perAddress.set(key, left);
    this.hub.log(`closed ${connection.remote} (${this.#connections.size} open)`);
    if (this.#connections.size === 0) this.#allFinished?.resolve();
  }

  /** Deletes one chunk of expired messages; continues soon if there are more. */
  #prune(): void {
    this.#pruneStep = undefined;
    if (this.#stopping) return;
    const { historyDays, historyMaxRows, resumeExpiryMs } = this.#options;
    const before = historyDays > 0 ? Date.now() - historyDays * 86_400_000 : 0;
    let deleted: number;
    try {
      deleted = this.hub.store.prune(
        before,
        historyMaxRows > 0 ? historyMaxRows : Number.MAX_SAFE_INTEGER,
        PRUNE_CHUNK,
        resumeExpiryMs > 0 ? Date.now() - resumeExpiryMs : 0,
        this.#options.maxResumeTokens > 0 ? this.#options.maxResumeTokens : Infinity,
      );
    } catch (error) {
      this.hub.log(`pruning failed: ${error instanceof Error ? error.message : error}`);
      return;
    }
    if (deleted > 0) this.hub.log(`pruned ${deleted} old messages`);
    this.#prunedSinceSweep += deleted;
    if (deleted === PRUNE_CHUNK) this.#pruneStep = setTimeout(() => this.#prune(), 10);
    else if (this.#prunedSinceSweep > 0) {
      // The files those messages shared go with them.
      this.#prunedSinceSweep = 0;
      this.#files.sweep().then(
        (files) => files > 0 && this.hub.log(`deleted ${files} uploads whose messages were pruned`),
        (error) =>
          this.hub.log(`upload sweep failed: ${error instanceof Error ? error.message : error}`),
      );
    }
  }

  /**
   * Whether an upload's message has left history: its id was committed and
   * the store no longer has it (pruned, or lost in a failed commit). An
   * upload without a message id (none was recorded) goes by age, with
   * `--history-days`.
   */
  #fileGone(meta: FileMeta): boolean {
    const store = this.hub.store;
    if (meta.message === undefined) {
      const days = this.#options.historyDays;
      return days > 0 && meta.ts < Date.now() - days * 86_400_000;
    }
    if (meta.message > store.lastId()) return false; // not committed yet
    return store.ascending(roomKey(meta.room), meta.message, meta.message + 1, 1).length === 0;
  }

  #checkTimeouts(): void {
    const now = Date.now();
    const { handshakeTimeoutMs, idleTimeoutMs } = this.#options;
    for (const connection of this.#connections) {
      const session = connection.session;
      if (connection.closed || session?.state === "closed") continue;
      if (
        handshakeTimeoutMs && session?.state !== "active" &&
        now - connection.openedAt > handshakeTimeoutMs
      ) {
        if (session) {
          session.error("timeout", "handshake not completed in time");
          connection.end("handshake timeout");
        } else if (connection instanceof TcpConnection) {
          connection.handshakeTimedOut();
        } else {
          connection.end("handshake timeout");
        }
        continue;
      }
      // Plain-text peers (nc, telnet) cannot answer pings: only JSON and IRC
      // sessions are held to the idle timeout; TCP keepalive covers the rest.
      if (!idleTimeoutMs || !session || session.format === "text") continue;
      const idle = now - connection.lastActivity;
      if (idle > idleTimeoutMs) {
        session?.error("timeout", `no traffic for ${Math.round(idle / 1000)} s`);
        connection.end("idle timeout");
      } else if (idle > idleTimeoutMs / 2 && !connection.pinged && session) {
        connection.pinged = true;
        session.send({ type: "ping", token: String(now) });
      }
    }
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<
    T
  >;
}
