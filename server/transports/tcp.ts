/**
 * The TCP adapter: moves bytes between one connection (a `Deno.TcpConn`, or
 * any {@linkcode ByteConn} such as a TLS socket, see `tls.ts`) and a
 * {@linkcode Session}. Detects the wire format from the first line (`{` means
 * JSON Lines, anything else plain text), applies the line limit and flood
 * control on the way in, and the bounded send queue on the way out.
 *
 * @module
 */

import {
  escapeTelnet,
  IAC,
  type LineErrorCode,
  LineReader,
  TelnetFilter,
} from "../../protocol/mod.ts";

import type { ByteConn } from "../../tls/node_conn.ts";
import { TokenBucket } from "../core/flood.ts";
import type { Hub } from "../core/hub.ts";
import type { Pressure } from "./pressure.ts";
import { MIN_READ, nextReadBuffer, QueuedConnection } from "./queued_connection.ts";
import { concat } from "./send_queue.ts";
import { BROWSER_PROMPT_DELAY_MS } from "./web_door.ts";
import { Session, type Transport } from "../core/session.ts";

/** Limits a connection enforces; see `ServerOptions` for their meaning. */
export interface ConnectionLimits {
  /** Longest line in bytes (0: unlimited). */
  maxLineBytes: number;
  /** Send queue bound in bytes (0: unlimited). */
  sendQueueBytes: number;
  /** Flood control burst, in lines. */
  floodBurst: number;
  /** Flood control rate, lines per second (0: off). */
  floodRate: number;
  /**
   * The web client's port: a browser that opens the chat port is redirected
   * there. Without it, HTTP requests get a 400 and an explanation.
   */
  webPort?: number | undefined;
  /** The web client's scheme on `webPort`. @default {"http"} */
  webScheme?: "http" | "https";
  /**
   * The web client on this port: a connection whose first line is an HTTP
   * request line is handed over here (see {@linkcode WebHandoff}) instead
   * of getting a chat session. Without it, see `webPort`.
   */
  web?: WebHandoff | undefined;
  /**
   * With `web`: whether a host has opened the web client here lately. A
   * silent connection from one is asked for a nickname only after
   * `BROWSER_PROMPT_DELAY_MS` (web_door.ts), as it may be a browser's spare
   * socket that a prompt would spoil.
   */
  browsedFrom?: ((hostname: string) => boolean) | undefined;
}

/**
 * Takes over a connection whose first line is an HTTP request line, with
 * every byte read from it so far (`head`, starting at the request line):
 * from then on the connection is the callee's to serve and close.
 */
export type WebHandoff = (conn: ByteConn, head: Uint8Array) => void;

/**
 * What consumes a connection's lines: a chat session, or a protocol adapter
 * over one (the IRC gateway).
 */
export interface LineHandler {
  /** The chat session behind it. */
  readonly session: Session;
  /** Handles one line, without its terminator. Never throws. */
  receiveLine(line: string): void;
  /**
   * A line that could not be read. The handler says why to its peer and,
   * when it cannot go on, ends the session.
   */
  lineError(code: LineErrorCode): void;
}

/** Makes the line handler of a new connection (see {@linkcode TcpConnection}). */
export type LineHandlerFactory = (connection: TcpConnection) => LineHandler;

/**
 * A protocol other than the chat protocol on a port of its own (IRC): it
 * makes each connection's line handler, and words a refusal sent before
 * there is one (too many connections), in its own format.
 */
export interface LineProtocol {
  /** The line handler of a new connection. */
  accept: LineHandlerFactory;
  /**
   * The bytes that refuse a connection before its first line, e.g. IRC's
   * `ERROR :Closing link: HOST (WHY)` with its CRLF.
   *
   * @param why the reason, e.g. `server is full, try again later`
   */
  refusal(why: string): string;
}

const encoder = new TextEncoder();
/**
 * Longest pause of a reader while some receiver's queue is backlogged (see
 * `Pressure`): long enough for a healthy receiver to drain, short enough that
 * a peer that never reads only slows the others until it is dropped.
 */
const PRESSURE_WAIT_MS = 20;
/** How long a silent new connection waits before it is asked for a nickname. */
const PROMPT_DELAY_MS = 300;
const PROMPT = encoder.encode("* nickname?\n");
const HTTP_REQUEST = /^[A-Z]{3,7} (\S+) HTTP\/\d\.\d$/;
/**
 * Longest first line looked at as a possible HTTP request line, in bytes
 * (longer: a chat line, which the line limit then judges). Browsers keep
 * URLs far shorter; `node:http` refuses heads over 16 KiB anyway.
 */
const MAX_REQUEST_LINE = 8192;
const latin1 = new TextDecoder("latin1");

/**
 * Looks at the first bytes of a connection: `"http"` once they hold a whole
 * HTTP request line (`GET /path HTTP/1.1`), `"chat"` once they cannot be one
 * (a first byte other than `A`-`Z`, a control byte or non-ASCII byte, no
 * request-line shape, or over MAX_REQUEST_LINE), `"wait"` while they still
 * may be one. A chat line is read as a whole line anyway, so waiting for
 * its end delays nothing.
 *
 * @param bytes everything read from the connection so far
 * @returns the verdict
 */
export function sniffRequestLine(bytes: Uint8Array): "http" | "chat" | "wait" {
  if (bytes.length === 0) return "wait";
  if (bytes[0]! < 0x41 || bytes[0]! > 0x5a) return "chat";
  const end = bytes.indexOf(10);
  const scan = end === -1 ? bytes.length : end;
  for (let i = 0; i < scan; i++) {
    const b = bytes[i]!;
    if ((b < 0x20 && b !== 13) || b > 0x7e) return "chat";
  }
  if (end === -1) return bytes.length > MAX_REQUEST_LINE ? "chat" : "wait";
  const line = latin1.decode(bytes.subarray(0, end > 0 && bytes[end - 1] === 13 ? end - 1 : end));
  return HTTP_REQUEST.test(line) ? "http" : "chat";
}
const HTTP_REPLY = encoder.encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" +
    "Content-Length: 71\r\n\r\nThis is a chat server, not a web server: connect with `chat client`.\r\n",
);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One accepted TCP connection (its send queue: {@linkcode QueuedConnection}). */
export class TcpConnection extends QueuedConnection implements Transport {
  readonly #hub: Hub;
  readonly #limits: ConnectionLimits;
  readonly #pressure: Pressure | undefined;
  readonly #onFinished: ((connection: TcpConnection) => void) | undefined;
  #session: Session | undefined;
  /** The first byte the peer sent (`{` means JSON), once it sent one. */
  #firstByte: number | undefined;
  /** Set once the peer sent a Telnet command: it then gets 0xFF escaped. */
  #telnet: TelnetFilter | undefined;
  /** An HTTP request on the chat port: its path and header lines so far. */
  #http: { path: string; headers: string[] } | undefined;
  #handler: LineHandler | undefined;
  /** The bytes read so far while the first line may be an HTTP request (see `web`). */
  #sniffed: Uint8Array | undefined;
  #closing = false;
  #closed = false;
  /** The timer that prompts a silent peer for its nickname (see #startPrompt). */
  #prompt: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param conn an accepted connection: TCP, or TLS over TCP
   * @param hub the shared chat state
   * @param limits what this connection enforces
   * @param pressure flow control shared by the server's connections, if any
   * @param onFinished called once when {@linkcode serve} has finished (one
   * function shared by the server, rather than a promise chain per connection)
   * @param makeHandler the protocol spoken on this port (e.g. IRC); without
   * one, the first line chooses JSON Lines or plain text
   */
  constructor(
    conn: ByteConn,
    hub: Hub,
    limits: ConnectionLimits,
    pressure?: Pressure,
    onFinished?: (connection: TcpConnection) => void,
    makeHandler?: LineHandlerFactory,
  ) {
    super(conn, limits, pressure);
    this.#hub = hub;
    this.#limits = limits;
    this.#pressure = pressure;
    this.#onFinished = onFinished;
    if (makeHandler) {
      this.#handler = makeHandler(this);
      this.#session = this.#handler.session;
    } else if (limits.web) this.#sniffed = new Uint8Array();
  }

  /** The session, once the first line has chosen a wire format. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @inheritdoc */
  send(bytes: Uint8Array): void {
    if (this.#closed) return;
    // UTF-8 never holds 0xFF, so this is a scan, never a copy, in practice.
    this.queue.push(this.#telnet ? escapeTelnet(bytes) : bytes);
  }

  /**
   * The handshake timeout ran out. A peer that sent part of a first line
   * (no session yet) is told why, in the format its bytes began with, before
   * the close; one that sent nothing is closed silently.
   */
  handshakeTimedOut(): void {
    if (!this.#session && this.#firstByte !== undefined) {
      new Session(this.#hub, this, this.#firstByte === 0x7b ? "json" : "text")
        .error("timeout", "handshake not completed in time");
    }
    this.end("handshake timeout");
  }

  /** Flushes the send queue, then closes. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.queue.drained().then(() => this.#closeNow());
  }

  /**
   * Ends the connection: says why (to a session, through it), or closes.
   *
   * @param reason for the log and the `left` notice
   * @param bye text for a `bye` frame
   */
  end(reason: string, bye?: string): void {
    if (this.#session) this.#session.end(reason, bye);
    else this.close();
  }

  /**
   * Reads until the peer leaves or the connection is closed. Never throws.
   *
   * @returns when the connection is finished
   */
  async serve(): Promise<void> {
    const reader = new LineReader({ maxLineBytes: this.#limits.maxLineBytes });
    const bucket = new TokenBucket(this.#limits.floodBurst, this.#limits.floodRate);
    let buf = new Uint8Array(MIN_READ);
    let reason = "connection lost";
    /** Set when the connection goes to the web client, with the bytes read. */
    let handoff: Uint8Array | undefined;
    if (this.conn.handshake) this.conn.handshake().then(() => this.#startPrompt(), () => {});
    else this.#startPrompt();
    try {
      reading: while (!this.#closing) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.lastActivity = Date.now();
        this.pinged = false;
        let input: Uint8Array = buf.subarray(0, n);
        if (this.#firstByte === undefined) {
          this.#stopPrompt();
          this.#firstByte = input[0];
        }
        // A browser on this port: its first line is an HTTP request line.
        if (this.#sniffed) {
          const sniffed = this.#sniffed.length === 0 ? input : concat([this.#sniffed, input]);
          const verdict = sniffRequestLine(sniffed);
          if (verdict === "wait") {
            this.#sniffed = sniffed === input ? input.slice() : sniffed;
            buf = nextReadBuffer(buf, n);
            continue;
          }
          this.#sniffed = undefined;
          if (verdict === "http") {
            handoff = sniffed === input ? input.slice() : sniffed;
            break;
          }
          input = sniffed;
        }
        // Telnet commands (RFC 854) never reach the line reader of a
        // plain-text peer; a JSON peer's 0xFF stays the invalid byte it is.
        if (this.#session?.format !== "json" && (this.#telnet || input.indexOf(IAC) !== -1)) {
          this.#telnet ??= new TelnetFilter();
          const { data, reply } = this.#telnet.push(input);
          if (reply) this.queue.push(reply);
          input = data;
        }
        const results = reader.push(input);
        buf = nextReadBuffer(buf, n);
        for (const result of results) {
          if (this.#closing) break reading;
          const wait = bucket.take();
          if (wait > 0) await delay(wait);
          if (!result.ok) {
            this.#lineError(result.code);
            if (result.code === "line_too_long") reason = "line too long";
            continue;
          }
          // A long reply (history, a resume) is still going out: take the
          // next line once the peer has read it (pull, not push).
          if (this.#session?.replying) {
            await this.#session.replied();
            if (this.#closing) break reading;
          }
          this.#receive(result.line);
        }
        // A receiver that this peer's lines reached is behind: let it catch up
        // before taking more input. (The hub delivers in a microtask, so the
        // holds of this read are known after one.)
        if (this.#pressure?.active) {
          await null;
          const holds = this.takeHolds();
          if (holds) await this.#pressure.relievedOf(holds, PRESSURE_WAIT_MS);
        }
      }
      for (const result of reader.end()) {
        if (result.ok && !this.#closing) this.#receive(result.line);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        reason = errorReason(error);
      }
    } finally {
      this.#stopPrompt();
      if (handoff && !this.#closing) {
        // The connection is the web client's now: released here, not closed.
        this.#closing = true;
        this.#closed = true;
        this.#onFinished?.(this);
        this.#limits.web!(this.conn, handoff);
      } else {
        this.end(reason);
        await this.queue.drained();
        this.#closeNow();
        this.#onFinished?.(this);
      }
    }
  }

  // nc and telnet users see nothing until the server speaks: ask for the
  // nickname unless the peer speaks first (a JSON client sends its hello
  // at once, and never sees this line).
  // Over TLS the delay runs from the end of the TLS handshake: a browser's
  // request cannot come sooner, and a prompt before it would spoil the
  // answer on a port that also serves the web client.
  // A silent connection from a host that has opened the web client here
  // may be a browser's spare socket: it waits longer (decided when the
  // first wait ends, so a page request on another connection meanwhile
  // counts).
  // A field and methods rather than closures in serve(): an idle connection
  // then keeps no timer or closure for a prompt it no longer needs.
  #startPrompt(): void {
    // A port of another protocol (IRC) has its handler from the start:
    // its clients speak first, and a chat prompt is not theirs.
    if (this.#closing || this.#firstByte !== undefined || this.#handler) return;
    this.#prompt = setTimeout(() => {
      if (this.#limits.web && this.#limits.browsedFrom?.(this.hostname)) {
        this.#prompt = setTimeout(() => this.#ask(), BROWSER_PROMPT_DELAY_MS - PROMPT_DELAY_MS);
      } else this.#ask();
    }, PROMPT_DELAY_MS);
  }

  #ask(): void {
    this.#prompt = undefined;
    if (this.#firstByte === undefined && !this.#closing) this.queue.push(PROMPT);
  }

  #stopPrompt(): void {
    clearTimeout(this.#prompt);
    this.#prompt = undefined;
  }

  #receive(line: string): void {
    if (this.#handler) return this.#handler.receiveLine(line);
    if (this.#http) return this.#httpHeader(line);
    if (!this.#session) {
      if (line.trim() === "") return;
      // Only a whole request line ("GET /path HTTP/1.1") counts as HTTP: a
      // plain-text user whose nickname is "GET" still gets a session.
      const request = HTTP_REQUEST.exec(line);
      if (request) {
        this.#http = { path: request[1]!, headers: [] };
        return;
      }
      this.#session = new Session(
        this.#hub,
        this,
        line.trimStart().startsWith("{") ? "json" : "text",
      );
    }
    this.#session.receiveLine(line);
  }

  /** Collects the request's headers; at their end, answers and closes. */
  #httpHeader(line: string): void {
    const http = this.#http!;
    if (line !== "" && http.headers.length < 100) {
      http.headers.push(line);
      return;
    }
    const host = http.headers.map((h) => /^host:\s*(\S+)\s*$/i.exec(h)?.[1]).find(Boolean);
    const port = this.#limits.webPort;
    // Only a plain host name or address is echoed back into the Location.
    const name = host?.replace(/:\d+$/, "");
    if (port !== undefined && name && /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(name)) {
      const path = http.path.startsWith("/") ? http.path : "/";
      const location = `${this.#limits.webScheme ?? "http"}://${name}:${port}${path}`;
      this.#hub.log(`redirect ${this.remote}: HTTP request on the chat port, to ${location}`);
      this.queue.push(encoder.encode(
        `HTTP/1.1 307 Temporary Redirect\r\nLocation: ${location}\r\nContent-Length: 0\r\n` +
          "Connection: close\r\n\r\n",
      ));
    } else {
      this.#hub.log(`reject ${this.remote}: HTTP request on the chat port`);
      this.queue.push(HTTP_REPLY);
    }
    this.close();
  }

  #lineError(code: LineErrorCode): void {
    if (this.#handler) return this.#handler.lineError(code);
    if (!this.#session) {
      // Not even a first line: binary garbage or a flood. Say why and close.
      this.#hub.log(`reject ${this.remote}: ${code.replace("_", " ")} before the handshake`);
      new Session(this.#hub, this, "text").lineError(code);
      this.close();
      return;
    }
    this.#session.lineError(code);
    // After an overlong line the rest of it is junk: there is no resynchronising.
    if (code === "line_too_long") this.#session.end("line too long");
  }

  /** @inheritdoc */
  protected abort(reason: string): void {
    if (this.#closed) return;
    this.#hub.log(`drop ${this.#session?.nick ?? this.remote}: ${reason}`);
    this.#closing = true;
    this.#session?.end(reason);
    this.#closeNow();
  }

  #closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function errorReason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "connection lost";
  return error instanceof Error ? error.message : String(error);
}
