/**
 * One client's session, whatever its transport: handshake, state, frame
 * dispatch and delivery. Transports (TCP JSON, TCP plain text, later TLS and
 * WebSocket) are thin adapters that feed it lines and give it a
 * {@linkcode Transport} to send through.
 *
 * @module
 */

import {
  type ClientFrame,
  decodeClientFrame,
  type ErrorCode,
  formatPlainText,
  FrameError,
  type LineErrorCode,
  parseInput,
  PROTOCOL_VERSION,
  type ServerFrame,
} from "../protocol/mod.ts";
import { handleFrame } from "./commands.ts";
import type { Hub } from "./hub.ts";
import { Outbound, type WireFormat } from "./outbound.ts";

/** What a session needs from its connection. */
export interface Transport {
  /** Peer address for logs, e.g. `127.0.0.1:50312`. */
  readonly remote: string;
  /** Queues bytes for the peer (bounded: an overflow ends the session). */
  send(bytes: Uint8Array): void;
  /** Sends what is queued, then closes. */
  close(): void;
}

/** Where a session is in its life. */
export type SessionState = "handshake" | "naming" | "active" | "closed";

const encoder = new TextEncoder();

/**
 * A client's session. JSON sessions start with a `hello` frame; plain-text
 * sessions start with their nickname line. Either way the session is
 * `active` once it holds a nickname, and `closed` after {@linkcode end}.
 */
export class Session {
  /** How this peer's bytes are framed. */
  readonly format: WireFormat;
  /** The shared chat state. */
  readonly hub: Hub;
  /** When the session began (ms since epoch). */
  readonly connectedAt: number = Date.now();
  #transport: Transport;
  #state: SessionState;
  #nick: string | undefined;

  /**
   * @param hub the shared chat state
   * @param transport how to reach the peer
   * @param format `json` or `text`
   */
  constructor(hub: Hub, transport: Transport, format: WireFormat) {
    this.hub = hub;
    this.#transport = transport;
    this.format = format;
    this.#state = format === "json" ? "handshake" : "naming";
  }

  /** The nickname, once registered. */
  get nick(): string | undefined {
    return this.#nick;
  }

  /** The session's state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The peer address. */
  get remote(): string {
    return this.#transport.remote;
  }

  /**
   * Handles one line from the peer: a JSON frame, or in plain-text mode a
   * nickname, message or /command. Bad input gets an error back; it never
   * throws.
   *
   * @param line the line, without its terminator
   */
  receiveLine(line: string): void {
    if (this.#state === "closed") return;
    if (this.format === "json") {
      try {
        this.receiveFrame(decodeClientFrame(line));
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.error(error.code, error.message);
      }
      return;
    }
    if (this.#state === "naming") {
      this.#claimNick(line.trim());
      return;
    }
    if (line.trim() === "") return;
    const parsed = parseInput(line);
    if (parsed.ok) this.receiveFrame(parsed.frame);
    else this.error(parsed.code, parsed.message);
  }

  /**
   * Reports a line the transport could not deliver (too long, bad UTF-8).
   *
   * @param code why
   */
  lineError(code: LineErrorCode): void {
    this.error(
      code,
      code === "line_too_long"
        ? `line is longer than ${this.hub.limits.maxLineBytes} bytes`
        : "line is not valid UTF-8",
    );
  }

  /**
   * Handles one decoded frame.
   *
   * @param frame a validated client frame
   */
  receiveFrame(frame: ClientFrame): void {
    if (this.#state === "closed") return;
    if (this.#state === "handshake") {
      if (frame.type !== "hello") {
        this.error("not_registered", 'send a "hello" frame first');
        return;
      }
      if (frame.version !== PROTOCOL_VERSION) {
        this.error(
          "version_unsupported",
          `protocol version ${frame.version} is not supported; this server speaks ${PROTOCOL_VERSION}`,
        );
        this.end("unsupported protocol version");
        return;
      }
      this.#state = "naming";
      if (frame.nick !== undefined) this.#claimNick(frame.nick);
      return;
    }
    if (this.#state === "naming" && frame.type === "nick") {
      this.#claimNick(frame.nick);
      return;
    }
    handleFrame(this, frame);
  }

  /**
   * Queues a frame prepared for many receivers.
   *
   * @param out the frame and its cached encodings
   */
  deliver(out: Outbound): void {
    if (this.#state === "closed") return;
    const bytes = out.bytes(this.format);
    if (bytes) this.#transport.send(bytes);
  }

  /**
   * Sends a frame to this session only.
   *
   * @param frame the frame
   */
  send(frame: ServerFrame): void {
    if (this.#state === "closed") return;
    if (this.format === "text" && frame.type === "private") {
      // Plain-text rendering of a private message depends on the viewer.
      const text = formatPlainText(frame, this.#nick)!;
      this.#transport.send(encoder.encode(text + "\n"));
      return;
    }
    this.deliver(new Outbound(frame));
  }

  /**
   * Sends an error frame (plain text: a line starting with `! `).
   *
   * @param code machine-readable reason
   * @param message one human sentence
   */
  error(code: ErrorCode, message: string): void {
    this.send({ type: "error", code, message });
  }

  /**
   * Renames the session after the hub accepted the nickname.
   *
   * @param nick the new nickname
   */
  rename(nick: string): void {
    this.#nick = nick;
  }

  /**
   * Ends the session: optionally says why to the peer (a `bye` frame), tells
   * everyone else it left, logs, and closes the transport after flushing.
   * Calling it again does nothing.
   *
   * @param reason why, for logs and the `left` notice
   * @param bye text of a `bye` frame to the peer first, if any
   */
  end(reason: string, bye?: string): void {
    if (this.#state === "closed") return;
    if (bye !== undefined) this.send({ type: "bye", reason: bye });
    this.#state = "closed";
    if (this.hub.remove(this)) {
      this.hub.log(`disconnect ${this.#nick} (${this.remote}): ${reason}`);
      this.hub.broadcast({ type: "left", nick: this.#nick!, reason, ts: Date.now() });
    } else {
      this.hub.log(`disconnect ${this.remote}: ${reason}`);
    }
    this.#transport.close();
  }

  #claimNick(requested: string): void {
    const result = this.hub.setNick(this, requested);
    if (!result.ok) {
      const retry = this.format === "text" ? ", choose another:" : "";
      this.error(result.code, result.message + retry);
      return;
    }
    this.#nick = result.nick;
    this.#state = "active";
    this.hub.log(`nick ${result.nick} (${this.remote})`);
    this.send({
      type: "welcome",
      version: PROTOCOL_VERSION,
      nick: result.nick,
      server: this.hub.name,
      online: this.hub.size,
    });
    this.hub.broadcast({ type: "joined", nick: result.nick, ts: Date.now() }, this);
  }
}
