/**
 * The WebSocket adapter: moves frames between one server-side `WebSocket`
 * and a {@linkcode Session}. It speaks the same JSON frames as TCP (protocol
 * v1), one frame per WebSocket message, under the same limits: the line
 * limit applies to each message, flood control spaces them out, and the send
 * queue bound applies to the socket's `bufferedAmount` (over it the peer is
 * dropped as a slow consumer; over a quarter of it the shared
 * {@linkcode Pressure} slows every reader, as with TCP).
 *
 * @module
 */

import { TokenBucket } from "../core/flood.ts";
import type { Hub } from "../core/hub.ts";
import { Session, type Transport } from "../core/session.ts";
import type { Pressure } from "./pressure.ts";
import type { ConnectionLimits } from "./tcp.ts";

const decoder = new TextDecoder();
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
/** Longest pause of processing while some receiver is backlogged (as TCP). */
const PRESSURE_WAIT_MS = 20;
/** How often a backlogged socket's `bufferedAmount` is looked at, in ms. */
const POLL_MS = 10;
/** Without progress for this long, a backlogged socket stops holding others back. */
const STALL_MS = 100;
/** Longest wait for the buffered bytes to go out when closing, in ms. */
const CLOSE_FLUSH_MS = 5000;
/**
 * Most frames waiting to be processed (flood control spaces them out, and
 * unlike a TCP socket a WebSocket cannot stop reading): past it the peer is
 * told so and dropped.
 */
export const MAX_INBOX_FRAMES = 256;

// A broadcast hands every receiver the same bytes: split and decode them
// once, not once per WebSocket receiver.
let lastBytes: Uint8Array | undefined;
let lastFrames: string[] = [];

/**
 * Splits `\n`-terminated JSON lines into one string per frame (each becomes
 * one WebSocket message).
 *
 * @param bytes one or more JSON lines
 * @returns the lines without their terminators
 */
export function framesOf(bytes: Uint8Array): string[] {
  if (bytes === lastBytes) return lastFrames;
  const frames: string[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    if (i > start) frames.push(decoder.decode(bytes.subarray(start, i)));
    start = i + 1;
  }
  if (start < bytes.length) frames.push(decoder.decode(bytes.subarray(start)));
  lastBytes = bytes;
  lastFrames = frames;
  return frames;
}

/** The peer's address as the HTTP server saw it. */
export interface PeerAddress {
  hostname: string;
  port: number;
}

/**
 * One upgraded WebSocket connection. The session speaks JSON from the start
 * (there is no plain-text mode over WebSocket).
 */
export class WsConnection implements Transport {
  /** When the connection was accepted (ms since epoch). */
  readonly openedAt: number = Date.now();
  /** When any frame last arrived (ms since epoch). */
  lastActivity: number = Date.now();
  /** Whether the idle check has sent a ping since the last activity. */
  pinged = false;
  /** Peer host, for per-address limits. */
  readonly hostname: string;
  /** Peer address, `host:port` (`[v6]:port`), for logs. */
  readonly remote: string;
  readonly #ws: WebSocket;
  readonly #hub: Hub;
  readonly #limits: ConnectionLimits;
  readonly #pressure: Pressure | undefined;
  readonly #onFinished: ((connection: WsConnection) => void) | undefined;
  readonly #session: Session;
  readonly #bucket: TokenBucket;
  readonly #highWater: number;
  readonly #inbox: string[] = [];
  #draining = false;
  #raised = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #closed = false;
  #finished = false;

  /**
   * @param ws the server side of an upgraded WebSocket (not yet open)
   * @param hub the shared chat state
   * @param limits what this connection enforces
   * @param peer the peer's address
   * @param pressure flow control shared by the server's connections, if any
   * @param onFinished called once when the connection has closed
   */
  constructor(
    ws: WebSocket,
    hub: Hub,
    limits: ConnectionLimits,
    peer: PeerAddress,
    pressure?: Pressure,
    onFinished?: (connection: WsConnection) => void,
  ) {
    this.#ws = ws;
    this.#hub = hub;
    this.#limits = limits;
    this.#pressure = pressure;
    this.#onFinished = onFinished;
    this.hostname = peer.hostname;
    this.remote = peer.hostname.includes(":")
      ? `[${peer.hostname}]:${peer.port}`
      : `${peer.hostname}:${peer.port}`;
    this.#bucket = new TokenBucket(limits.floodBurst, limits.floodRate);
    this.#highWater = limits.sendQueueBytes === 0
      ? 256 * 1024
      : Math.floor(limits.sendQueueBytes / 4);
    this.#session = new Session(hub, this, "json");
    ws.onmessage = (event) => this.#message(event.data);
    ws.onclose = () => this.#gone("connection lost");
    ws.onerror = () => this.#gone("connection lost");
  }

  /** The session (JSON from the first frame). */
  get session(): Session {
    return this.#session;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes the socket has buffered and not yet sent (`bufferedAmount`). @inheritdoc */
  get backlog(): number {
    return this.#closed ? 0 : this.#ws.bufferedAmount;
  }

  /**
   * Calls back once at most `bytes` are buffered (looked at every 10 ms);
   * never after the connection closed. @inheritdoc
   */
  whenBelow(bytes: number, callback: () => void): void {
    if (this.#closed) return;
    if (this.#ws.bufferedAmount <= bytes) {
      queueMicrotask(() => {
        if (!this.#closed) callback();
      });
      return;
    }
    const timer = setInterval(() => {
      if (this.#closed) clearInterval(timer);
      else if (this.#ws.bufferedAmount <= bytes) {
        clearInterval(timer);
        callback();
      }
    }, POLL_MS);
  }

  /**
   * Sends JSON lines, one WebSocket message per frame. @inheritdoc
   *
   * @param bytes one or more `\n`-terminated JSON lines
   */
  send(bytes: Uint8Array): void {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) return;
    const buffered = this.#ws.bufferedAmount;
    const max = this.#limits.sendQueueBytes;
    if (max !== 0 && buffered + bytes.length > max) {
      // Inside someone's broadcast loop: drop this peer after it.
      queueMicrotask(() => this.#abort("send queue exceeded"));
      return;
    }
    try {
      for (const frame of framesOf(bytes)) this.#ws.send(frame);
    } catch {
      queueMicrotask(() => this.#abort("write failed"));
      return;
    }
    if (buffered + bytes.length > this.#highWater && !this.#raised) this.#raise();
  }

  /** Sends what is buffered (for a bounded time), then closes. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#flushThenClose(Date.now() + CLOSE_FLUSH_MS);
  }

  /**
   * Ends the connection: says why (through the session), then closes.
   *
   * @param reason for the log and the `left` notice
   * @param bye text for a `bye` frame
   */
  end(reason: string, bye?: string): void {
    this.#session.end(reason, bye);
    this.close();
  }

  #flushThenClose(deadline: number): void {
    if (this.#closed) return;
    if (
      this.#ws.readyState === WebSocket.OPEN && this.#ws.bufferedAmount > 0 &&
      Date.now() < deadline
    ) {
      setTimeout(() => this.#flushThenClose(deadline), POLL_MS);
      return;
    }
    this.#closeNow(1000);
  }

  #message(data: unknown): void {
    if (this.#closing) return;
    this.lastActivity = Date.now();
    this.pinged = false;
    let text: string;
    if (typeof data === "string") text = data;
    else if (data instanceof ArrayBuffer) {
      try {
        text = fatalDecoder.decode(data);
      } catch {
        this.#session.lineError("invalid_utf8");
        return;
      }
    } else return;
    const max = this.#limits.maxLineBytes;
    if (max !== 0 && text.length * 3 > max && encoder.encode(text).length > max) {
      this.#session.lineError("line_too_long");
      this.#session.end("line too long");
      return;
    }
    if (this.#inbox.length >= MAX_INBOX_FRAMES) {
      this.#session.error("flood", `more than ${MAX_INBOX_FRAMES} frames waiting: slow down`);
      this.#session.end("flooding");
      return;
    }
    this.#inbox.push(text);
    if (!this.#draining) this.#drain();
  }

  /** Hands waiting frames to the session, paced by flood control and pressure. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#inbox.length > 0 && !this.#closing) {
        const wait = this.#bucket.take();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#closing) break;
        this.#session.receiveLine(this.#inbox.shift()!);
        if (this.#pressure?.active) await this.#pressure.relieved(PRESSURE_WAIT_MS);
      }
    } finally {
      this.#draining = false;
    }
  }

  #raise(): void {
    if (!this.#pressure) return;
    this.#raised = true;
    this.#pressure.raise(this);
    let last = this.#ws.bufferedAmount;
    let stillSince = Date.now();
    this.#poll = setInterval(() => {
      const now = this.#ws.bufferedAmount;
      if (now <= this.#highWater / 2 || this.#closed) return this.#relieve();
      if (now < last) stillSince = Date.now();
      else if (Date.now() - stillSince > STALL_MS) return this.#relieve(); // stalled peer
      last = now;
    }, POLL_MS);
  }

  #relieve(): void {
    if (!this.#raised) return;
    this.#raised = false;
    clearInterval(this.#poll);
    this.#poll = undefined;
    this.#pressure?.lower(this);
  }

  #abort(reason: string): void {
    if (this.#closed) return;
    this.#hub.log(`drop ${this.#session.nick ?? this.remote}: ${reason}`);
    this.#closing = true;
    this.#session.end(reason);
    this.#closeNow(1008);
  }

  #gone(reason: string): void {
    this.#closing = true;
    this.#session.end(reason);
    this.#closeNow(1000);
  }

  #closeNow(code: number): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#closing = true;
      this.#relieve();
      this.#inbox.length = 0;
      try {
        this.#ws.close(code);
      } catch { /* already closed */ }
    }
    if (!this.#finished) {
      this.#finished = true;
      this.#onFinished?.(this);
    }
  }
}
