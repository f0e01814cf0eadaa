/**
 * The client's side of a connection: dialling, the hello/nickname handshake
 * and frame I/O over JSON Lines. Pings are answered here, as soon as they
 * arrive, so a user still typing a nickname does not time out.
 *
 * @module
 */

import {
  type ClientFrame,
  decodeServerFrame,
  DEFAULT_MAX_LINE_BYTES,
  encodeFrame,
  LineReader,
  PROTOCOL_VERSION,
  type ServerFrame,
} from "../protocol/mod.ts";
import type { ByteConn } from "../tls/node_conn.ts";
import { dialTls, type TrustPolicy } from "./tls.ts";

/** An `error` frame. */
export type ErrorFrame = Extract<ServerFrame, { type: "error" }>;
/** A `welcome` frame. */
export type WelcomeFrame = Extract<ServerFrame, { type: "welcome" }>;

/** Anything frames can be sent to and received from (a fake, in tests). */
export interface FrameChannel {
  /** Sends one frame. Rejects when the connection is gone. */
  send(frame: ClientFrame): Promise<void>;
  /** The next frame from the server, or `undefined` once the connection ended. */
  receive(): Promise<ServerFrame | undefined>;
}

/** Options for {@linkcode Connection.dial}. */
export interface DialOptions {
  /**
   * Longest line accepted from the server, in bytes; longer ones are dropped
   * and reported as a local `error` frame.
   * @default {32768}
   */
  maxLineBytes?: number;
  /**
   * Connect over TLS and check the server against this policy (see
   * `client/tls.ts`); a mismatch throws `TrustError`.
   * @default {plain TCP}
   */
  tls?: TrustPolicy | undefined;
}

/**
 * The one-line reason of a network error, as shown to users: `connection
 * refused` for a refused connection, otherwise the error's message with a
 * lower-case start and without Rust's `(os error N)` suffix.
 *
 * @param error what `Deno.connect` (or a read) threw
 * @returns e.g. `connection refused`
 */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/\s*\(os error -?\d+\)$/, "");
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** A TCP connection to a chat server that speaks frames. */
export class Connection implements FrameChannel, Disposable {
  readonly #conn: ByteConn;
  readonly #reader: LineReader;
  readonly #maxLineBytes: number;
  readonly #frames: ServerFrame[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  #closed = false;
  /** Whether a frame arrived yet: lines for people before the first one are skipped. */
  #framed = false;
  #writing: Promise<void> = Promise.resolve();

  /**
   * Connects with `TCP_NODELAY` set (chat lines are small and latency
   * matters).
   *
   * @param hostname server host
   * @param port server port
   * @param options see {@linkcode DialOptions}
   * @returns the connection, already reading
   * @throws whatever `Deno.connect` throws (see {@linkcode describeNetworkError}),
   * and `TrustError` when TLS finds another server than the trusted one
   */
  static async dial(
    hostname: string,
    port: number,
    options: DialOptions = {},
  ): Promise<Connection> {
    if (options.tls) return new Connection(await dialTls(hostname, port, options.tls), options);
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal: only latency suffers.
    }
    return new Connection(conn, options);
  }

  /**
   * Wraps an open connection and starts reading from it.
   *
   * @param conn a connected TCP (or TLS) stream
   * @param options see {@linkcode DialOptions}
   */
  constructor(conn: ByteConn, options: DialOptions = {}) {
    this.#conn = conn;
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#reader = new LineReader({ maxLineBytes: this.#maxLineBytes });
    this.#pump();
  }

  /**
   * Sends one frame as one write (repeated only when the kernel takes part of
   * it). Sends are queued, so concurrent callers never interleave bytes.
   *
   * @param frame the frame
   */
  send(frame: ClientFrame): Promise<void> {
    const bytes = new TextEncoder().encode(encodeFrame(frame));
    const write = this.#writing.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    });
    this.#writing = write.catch(() => {});
    return write;
  }

  /** The next frame, or `undefined` once the server closed (or we did). */
  async receive(): Promise<ServerFrame | undefined> {
    while (this.#frames.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#frames.shift();
  }

  /** Closes the connection; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer side of the read loop.
    }
    this.#end();
  }

  /** Same as {@linkcode Connection.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #pump(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#lines(this.#reader.push(buffer.subarray(0, n)));
      }
      this.#lines(this.#reader.end());
    } catch {
      // Reset, or closed by us: either way the stream is over.
    }
    this.#end();
  }

  #lines(results: ReturnType<LineReader["push"]>): void {
    for (const result of results) {
      let frame: ServerFrame;
      if (!result.ok) {
        frame = {
          type: "error",
          code: result.code,
          message: result.code === "line_too_long"
            ? `the server sent a line over ${this.#maxLineBytes} bytes; it was dropped`
            : "the server sent a line that is not UTF-8; it was dropped",
        };
      } else {
        try {
          frame = decodeServerFrame(result.line);
          this.#framed = true;
        } catch {
          // Before its first frame a server may write lines for people (the
          // `* nickname?` prompt, `! server is full`): not an error.
          if (!this.#framed) continue;
          frame = {
            type: "error",
            code: "bad_json",
            message: "the server sent a line that is not a frame; it was dropped",
          };
        }
      }
      if (frame.type === "ping") {
        const pong: ClientFrame = frame.token === undefined
          ? { type: "pong" }
          : { type: "pong", token: frame.token };
        this.send(pong).catch(() => {});
        continue;
      }
      this.#frames.push(frame);
    }
    this.#wake();
  }

  #end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** Options for {@linkcode register}. */
export interface RegisterOptions {
  /** The first nickname to try. */
  nick: string;
  /**
   * The first frame to send, e.g. a resume from `ResumeState.hello()`.
   * @default {a fresh `hello` with {@linkcode RegisterOptions.nick}}
   */
  hello?: ClientFrame;
  /**
   * Called when the server refuses a nickname (`nick_taken`, `nick_invalid`,
   * `usage`); shows the refusal and resolves to the next nickname to try, or
   * `undefined` to give up (end of input, Ctrl+C).
   */
  retry(refusal: ErrorFrame): Promise<string | undefined>;
  /** Other frames seen before `welcome` (e.g. an error about the server). */
  onFrame?(frame: ServerFrame): void;
}

/** Outcome of {@linkcode register}. */
export type Registration =
  /** The server accepted a nickname. */
  | { status: "welcome"; welcome: WelcomeFrame }
  /** The user gave up before a nickname was accepted (`quit` was sent). */
  | { status: "gave_up" }
  /** The connection ended first; `error` is the server's last error, if any. */
  | { status: "closed"; error?: ErrorFrame };

const NICK_REFUSALS: ReadonlySet<string> = new Set([
  "nick_taken",
  "nick_invalid",
  "nick_registered",
  "usage",
]);

/**
 * The handshake: sends `hello` with a nickname, then a `nick` frame after
 * each refusal, until `welcome` arrives, the user gives up or the connection
 * ends.
 *
 * @param channel the connection
 * @param options the first nickname and how to get the next one
 * @returns what happened
 */
export async function register(
  channel: FrameChannel,
  options: RegisterOptions,
): Promise<Registration> {
  let lastError: ErrorFrame | undefined;
  try {
    await channel.send(
      options.hello ?? { type: "hello", version: PROTOCOL_VERSION, nick: options.nick },
    );
  } catch {
    // The receive below sees the end of the connection.
  }
  while (true) {
    const frame = await channel.receive();
    if (frame === undefined) {
      return lastError === undefined
        ? { status: "closed" }
        : { status: "closed", error: lastError };
    }
    if (frame.type === "welcome") return { status: "welcome", welcome: frame };
    if (frame.type === "error" && NICK_REFUSALS.has(frame.code)) {
      const next = await options.retry(frame);
      try {
        if (next === undefined) {
          await channel.send({ type: "quit" });
          return { status: "gave_up" };
        }
        await channel.send({ type: "nick", nick: next });
      } catch {
        // As above: the end of the connection shows up in receive().
      }
      continue;
    }
    if (frame.type === "error") {
      // Reported once, if the server then closes (e.g. too_many_connections).
      lastError = frame;
      continue;
    }
    options.onFrame?.(frame);
  }
}
