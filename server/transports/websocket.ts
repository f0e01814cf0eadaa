/**
 * The WebSocket adapter: RFC 6455 framing over the `node:net` socket that
 * `node:http` hands over on an upgrade, feeding a {@linkcode Session}. It
 * speaks the same JSON frames as TCP (protocol v1), one frame per WebSocket
 * message, under the same limits: the line limit applies to each message
 * (refused from its header, before it is buffered), flood control spaces
 * messages out and stops reading the socket meanwhile (as TCP does), and the
 * send-queue bound applies to the socket's buffered bytes (`writableLength`,
 * the `bufferedAmount` of this side): over it the peer is dropped as a slow
 * consumer; over a quarter of it the shared {@linkcode Pressure} slows the
 * senders whose lines reached it, as for TCP.
 *
 * Why our own framing and not `Deno.upgradeWebSocket`: measured on the same
 * box, Deno's WebSocket sent ~20 k frames/s in a broadcast (one socket write
 * per message, processes mostly idle), the same broadcast framed here and
 * written as one buffer per receiver per turn ~660 k/s (docs/performance.md).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type net from "node:net";
import { TokenBucket } from "../core/flood.ts";
import type { Hub } from "../core/hub.ts";
import { Session, type Transport } from "../core/session.ts";
import type { Pressure } from "./pressure.ts";
import type { ConnectionLimits } from "./tcp.ts";

const fatalDecoder = new TextDecoder("utf-8", { fatal: true });
/** Longest pause of processing while some receiver is backlogged (as TCP). */
const PRESSURE_WAIT_MS = 20;
/** How often a backlogged socket's buffered bytes are looked at, in ms. */
const POLL_MS = 10;
/** Without progress for this long, a backlogged socket stops holding others back. */
const STALL_MS = 100;
/** Longest wait for the buffered bytes to go out when closing, in ms. */
const CLOSE_FLUSH_MS = 5000;
/** Reading the socket pauses while this many messages wait for flood control. */
const PAUSE_AT = 16;
/**
 * Hard bound on messages waiting (reading has paused long before, so only
 * one socket read's worth can pass PAUSE_AT): past it the peer gets `flood`.
 */
export const MAX_INBOX_FRAMES = 4096;
/** Largest control-frame payload (RFC 6455 §5.5). */
const MAX_CONTROL = 125;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/**
 * Frames a payload as one unmasked server frame (RFC 6455 §5.2).
 *
 * @param opcode 0x1 text, 0x8 close, 0xA pong, …
 * @param payload the bytes
 * @param into where to write (at `offset`); `undefined` only measures
 * @param offset where in `into`
 * @returns the frame's length in bytes
 */
function writeFrame(
  opcode: number,
  payload: Uint8Array,
  into?: Uint8Array,
  offset = 0,
): number {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  if (into) {
    into[offset] = 0x80 | opcode;
    if (head === 2) into[offset + 1] = n;
    else if (head === 4) {
      into[offset + 1] = 126;
      into[offset + 2] = n >>> 8;
      into[offset + 3] = n & 0xff;
    } else {
      into[offset + 1] = 127;
      new DataView(into.buffer, into.byteOffset).setBigUint64(offset + 2, BigInt(n));
    }
    into.set(payload, offset + head);
  }
  return head + n;
}

// A broadcast hands every receiver the same bytes: frame them once, not once
// per WebSocket receiver.
let lastBytes: Uint8Array | undefined;
let lastWire: Uint8Array = new Uint8Array();

/**
 * Turns `\n`-terminated JSON lines into WebSocket text frames, one per line.
 *
 * @param bytes one or more JSON lines
 * @returns the frames, back to back
 */
export function wsFramesOf(bytes: Uint8Array): Uint8Array {
  if (bytes === lastBytes) return lastWire;
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    if (i > start) lines.push(bytes.subarray(start, i));
    start = i + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  let size = 0;
  for (const line of lines) size += writeFrame(OP_TEXT, line);
  const wire = new Uint8Array(size);
  let at = 0;
  for (const line of lines) at += writeFrame(OP_TEXT, line, wire, at);
  lastBytes = bytes;
  lastWire = wire;
  return wire;
}

/** One control or data frame of the server's own (close with a code). */
function closeFrame(code: number): Uint8Array {
  const payload = new Uint8Array([code >>> 8, code & 0xff]);
  const out = new Uint8Array(writeFrame(OP_CLOSE, payload));
  writeFrame(OP_CLOSE, payload, out);
  return out;
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
  /** When any byte last arrived (ms since epoch). */
  lastActivity: number = Date.now();
  /** Whether the idle check has sent a ping since the last activity. */
  pinged = false;
  /** Peer host, for per-address limits. */
  readonly hostname: string;
  /** Peer address, `host:port` (`[v6]:port`), for logs. */
  readonly remote: string;
  /** Whether the socket is TLS (the web client over HTTPS): passwords may travel. */
  readonly secure: boolean;
  readonly #socket: net.Socket;
  readonly #hub: Hub;
  readonly #limits: ConnectionLimits;
  readonly #pressure: Pressure | undefined;
  readonly #onFinished: ((connection: WsConnection) => void) | undefined;
  readonly #session: Session;
  readonly #bucket: TokenBucket;
  readonly #highWater: number;
  readonly #inbox: string[] = [];
  /** Unparsed bytes (at most one frame header plus one message's worth). */
  #buffer: Uint8Array = new Uint8Array();
  /** Fragments of a message not finished yet. */
  #fragments: Uint8Array[] | undefined;
  #fragmentBytes = 0;
  #draining = false;
  #paused = false;
  #raised = false;
  /** Backlogged receivers the lines of this peer reached since its last pause check. */
  #holds: Set<object> | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #closed = false;
  #finished = false;

  /**
   * @param socket the upgraded socket (the 101 answer already written)
   * @param head bytes that arrived with the upgrade request
   * @param hub the shared chat state
   * @param limits what this connection enforces
   * @param peer the peer's address
   * @param pressure flow control shared by the server's connections, if any
   * @param onFinished called once when the connection has closed
   */
  constructor(
    socket: net.Socket,
    head: Uint8Array,
    hub: Hub,
    limits: ConnectionLimits,
    peer: PeerAddress,
    pressure?: Pressure,
    onFinished?: (connection: WsConnection) => void,
  ) {
    this.#socket = socket;
    this.#hub = hub;
    this.#limits = limits;
    this.#pressure = pressure;
    this.#onFinished = onFinished;
    this.hostname = peer.hostname;
    this.remote = peer.hostname.includes(":")
      ? `[${peer.hostname}]:${peer.port}`
      : `${peer.hostname}:${peer.port}`;
    this.secure = "encrypted" in socket && (socket as { encrypted?: boolean }).encrypted === true;
    this.#bucket = new TokenBucket(limits.floodBurst, limits.floodRate);
    this.#highWater = limits.sendQueueBytes === 0
      ? 256 * 1024
      : Math.floor(limits.sendQueueBytes / 4);
    this.#session = new Session(hub, this, "json");
    try {
      socket.setNoDelay(true);
      socket.setKeepAlive(true);
    } catch { /* already closed */ }
    socket.on("data", (chunk: Buffer) => this.#data(chunk));
    socket.on("error", () => {});
    socket.on("close", () => this.#gone("connection lost"));
    if (head.length > 0) this.#data(head);
  }

  /** The session (JSON from the first frame). */
  get session(): Session {
    return this.#session;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes buffered for the peer and not yet written. @inheritdoc */
  get backlog(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  /**
   * Calls back once at most `bytes` are buffered (looked at every 10 ms);
   * never after the connection closed. @inheritdoc
   */
  whenBelow(bytes: number, callback: () => void): void {
    if (this.#closed) return;
    if (this.#socket.writableLength <= bytes) {
      queueMicrotask(() => {
        if (!this.#closed) callback();
      });
      return;
    }
    const timer = setInterval(() => {
      if (this.#closed) clearInterval(timer);
      else if (this.#socket.writableLength <= bytes) {
        clearInterval(timer);
        callback();
      }
    }, POLL_MS);
  }

  /**
   * Sends JSON lines, one WebSocket text message per frame. @inheritdoc
   *
   * @param bytes one or more `\n`-terminated JSON lines
   */
  send(bytes: Uint8Array): void {
    if (this.#closed || this.#closing) return;
    const wire = wsFramesOf(bytes);
    const buffered = this.#socket.writableLength;
    const max = this.#limits.sendQueueBytes;
    if (max !== 0 && buffered + wire.length > max) {
      // Inside someone's broadcast loop: drop this peer after it.
      queueMicrotask(() => this.#abort("send queue exceeded"));
      return;
    }
    this.#socket.write(wire);
    if (buffered + wire.length > this.#highWater && !this.#raised) this.#raise();
  }

  /** Sends what is buffered (for a bounded time) and a close frame, then closes. */
  close(): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#socket.end(closeFrame(1000));
    setTimeout(() => this.#closeNow(), CLOSE_FLUSH_MS).unref?.();
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

  /** Parses frames (RFC 6455 §5.2) from what arrived. */
  #data(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.lastActivity = Date.now();
    this.pinged = false;
    // A plain Uint8Array view (a Buffer's slice() would not copy).
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const buf = this.#buffer.length === 0 ? bytes : concat(this.#buffer, bytes);
    let off = 0;
    const max = this.#limits.maxLineBytes;
    while (buf.length - off >= 2 && !this.#closing) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if ((b1 & 0x80) === 0 || (b0 & 0x70) !== 0) return this.#protocolError(1002);
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = (buf[off + 2]! << 8) | buf[off + 3]!;
        head = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        const big = new DataView(buf.buffer, buf.byteOffset + off + 2, 8).getBigUint64(0);
        len = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
        head = 10;
      }
      const control = opcode >= 0x8;
      if (control && (len > MAX_CONTROL || !fin)) return this.#protocolError(1002);
      // Over the line limit: refused from the header, never buffered.
      if (!control && max !== 0 && this.#fragmentBytes + len > max) {
        this.#session.lineError("line_too_long");
        this.#session.end("line too long");
        return;
      }
      if (buf.length - off < head + 4 + len) break;
      const mask = buf.subarray(off + head, off + head + 4);
      const payload = buf.slice(off + head + 4, off + head + 4 + len);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      off += head + 4 + len;
      if (control) {
        this.#control(opcode, payload);
        continue;
      }
      if (opcode === OP_CONTINUATION) {
        if (!this.#fragments) return this.#protocolError(1002);
      } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
        if (this.#fragments) return this.#protocolError(1002);
        this.#fragments = [];
      } else return this.#protocolError(1002);
      this.#fragments!.push(payload);
      this.#fragmentBytes += payload.length;
      if (!fin) continue;
      const parts = this.#fragments!;
      this.#fragments = undefined;
      this.#fragmentBytes = 0;
      const message = parts.length === 1 ? parts[0]! : parts.reduce(concat);
      let text: string;
      try {
        text = fatalDecoder.decode(message);
      } catch {
        this.#session.lineError("invalid_utf8");
        continue;
      }
      if (this.#inbox.length >= MAX_INBOX_FRAMES) {
        this.#session.error("flood", `more than ${MAX_INBOX_FRAMES} messages waiting: slow down`);
        this.#session.end("flooding");
        return;
      }
      this.#inbox.push(text);
    }
    this.#buffer = off === buf.length ? new Uint8Array() : buf.slice(off);
    if (this.#inbox.length >= PAUSE_AT && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    if (this.#inbox.length > 0 && !this.#draining) this.#drain();
  }

  #control(opcode: number, payload: Uint8Array): void {
    if (opcode === OP_PING) {
      const out = new Uint8Array(writeFrame(OP_PONG, payload));
      writeFrame(OP_PONG, payload, out);
      this.#socket.write(out);
    } else if (opcode === OP_CLOSE) {
      this.#session.end("connection closed");
      this.close();
    } else if (opcode !== OP_PONG) this.#protocolError(1002);
  }

  #protocolError(code: number): void {
    this.#hub.log(`drop ${this.#session.nick ?? this.remote}: WebSocket protocol error`);
    this.#closing = true;
    this.#session.end("protocol error");
    this.#socket.end(closeFrame(code));
  }

  /** Hands waiting messages to the session, paced by flood control and pressure. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      let handled = 0;
      while (this.#inbox.length > 0 && !this.#closing) {
        const wait = this.#bucket.take();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#closing) break;
        this.#session.receiveLine(this.#inbox.shift()!);
        // As TCP after each read: let a backlogged receiver catch up.
        if (++handled % PAUSE_AT === 0 && this.#pressure?.active) {
          // As TCP: wait for the backlogged receivers these lines reached
          // (known once the hub has delivered, a microtask later).
          await null;
          const holds = this.#holds;
          this.#holds = undefined;
          if (holds) await this.#pressure.relievedOf(holds, PRESSURE_WAIT_MS);
        }
      }
    } finally {
      this.#draining = false;
      if (this.#paused && !this.#closed) {
        this.#paused = false;
        this.#socket.resume();
      }
    }
  }

  /** @inheritdoc */
  get backlogged(): object | undefined {
    return this.#raised ? this : undefined;
  }

  /** @inheritdoc */
  holdFor(backlogged: object): void {
    (this.#holds ??= new Set()).add(backlogged);
  }

  #raise(): void {
    if (!this.#pressure) return;
    this.#raised = true;
    this.#pressure.raise(this);
    let last = this.#socket.writableLength;
    let stillSince = Date.now();
    this.#poll = setInterval(() => {
      const now = this.#socket.writableLength;
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
    this.#closeNow();
  }

  #gone(reason: string): void {
    this.#closing = true;
    this.#session.end(reason);
    this.#closeNow();
  }

  #closeNow(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#closing = true;
      this.#relieve();
      this.#inbox.length = 0;
      try {
        this.#socket.destroy();
      } catch { /* already closed */ }
    }
    if (!this.#finished) {
      this.#finished = true;
      this.#onFinished?.(this);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * For the upgrade: the `Sec-WebSocket-Accept` value of a key (RFC 6455 §4.2.2).
 *
 * @param key the request's `Sec-WebSocket-Key`
 * @returns base64 of SHA-1 of the key and the RFC's GUID
 */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
}
