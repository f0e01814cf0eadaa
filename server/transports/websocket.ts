/**
 * The WebSocket adapter: RFC 6455 framing over an accepted connection (a
 * `Deno.TcpConn`, or TLS over one), feeding a {@linkcode Session}. The front
 * door (`web_door.ts`) does the handshake and hands the connection over. It
 * speaks the same JSON frames as TCP (protocol v1), one frame per WebSocket
 * message, under the same limits and through the same {@linkcode SendQueue}
 * as TCP: the line limit applies to each message (refused from its header,
 * before it is buffered), flood control spaces messages out and stops
 * reading the connection meanwhile, the send-queue bound drops a slow
 * consumer (the queue's bytes are this side's `bufferedAmount`), and over a
 * quarter of it the shared {@linkcode Pressure} slows the senders whose
 * messages reached it.
 *
 * Why our own framing and not `Deno.upgradeWebSocket`: measured on the same
 * box, Deno's WebSocket sent ~20 k frames/s in a broadcast (one socket write
 * per message, processes mostly idle), the same broadcast framed here and
 * written as one buffer per receiver per turn ~660 k/s. And why a
 * `Deno.TcpConn` rather than the `node:net` socket of a `node:http` upgrade:
 * through that socket `chat bench --ws` delivered 0.35× TCP text fan-out,
 * through the send queue onto the Deno connection as much as TCP
 * (docs/performance.md, "WebSocket fan-out beside TCP").
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ByteConn } from "../../tls/node_conn.ts";
import { TokenBucket } from "../core/flood.ts";
import type { Hub } from "../core/hub.ts";
import { Session, type Transport } from "../core/session.ts";
import type { Pressure } from "./pressure.ts";
import { MIN_READ, nextReadBuffer, QueuedConnection } from "./queued_connection.ts";
import { concat } from "./send_queue.ts";
import type { ConnectionLimits } from "./tcp.ts";

const fatalDecoder = new TextDecoder("utf-8", { fatal: true });
/** Longest pause of reading while some receiver is backlogged (as TCP). */
const PRESSURE_WAIT_MS = 20;
/** Longest wait for the queued bytes to go out when closing, in ms. */
const CLOSE_FLUSH_MS = 5000;
const EMPTY = new Uint8Array();
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
// per WebSocket receiver. The senders of a run of room messages get those
// messages one by one, interleaved with their acks (see `Hub`), so the last
// few framings are kept, not only the last one.
const RECENT = 16;
const recentBytes: (Uint8Array | undefined)[] = new Array(RECENT).fill(undefined);
const recentWire: Uint8Array[] = new Array(RECENT).fill(new Uint8Array());
let recentNext = 0;

/**
 * Turns `\n`-terminated JSON lines into WebSocket text frames, one per line.
 * The result of the last few calls is reused when the same bytes (the same
 * array, unchanged: send-queue callers never change what they push) come
 * again.
 *
 * @param bytes one or more JSON lines
 * @returns the frames, back to back
 */
export function wsFramesOf(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < RECENT; i++) if (recentBytes[i] === bytes) return recentWire[i]!;
  let size = 0;
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    if (i > start) size += frameSize(i - start);
    start = i + 1;
  }
  if (start < bytes.length) size += frameSize(bytes.length - start);
  const wire = new Uint8Array(size);
  let at = 0;
  start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
    if (i > start) at += writeFrame(OP_TEXT, bytes.subarray(start, i), wire, at);
    start = i + 1;
  }
  if (start < bytes.length) writeFrame(OP_TEXT, bytes.subarray(start), wire, at);
  recentBytes[recentNext] = bytes;
  recentWire[recentNext] = wire;
  recentNext = (recentNext + 1) % RECENT;
  return wire;
}

/** The length of a server frame with `n` payload bytes (RFC 6455 §5.2). */
function frameSize(n: number): number {
  return (n < 126 ? 2 : n < 65536 ? 4 : 10) + n;
}

/** One frame of the server's own (a pong, a close). */
function frameOf(opcode: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(writeFrame(opcode, payload));
  writeFrame(opcode, payload, out);
  return out;
}

const CLOSE_NORMAL = frameOf(OP_CLOSE, new Uint8Array([1000 >>> 8, 1000 & 0xff]));
const CLOSE_PROTOCOL_ERROR = frameOf(OP_CLOSE, new Uint8Array([1002 >>> 8, 1002 & 0xff]));

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The peer's address, as the front door saw it. */
export interface PeerAddress {
  hostname: string;
  port: number;
}

/**
 * One upgraded WebSocket connection. The session speaks JSON from the start
 * (there is no plain-text mode over WebSocket). It is its own send queue's
 * sink, as a {@linkcode TcpConnection} is.
 */
export class WsConnection extends QueuedConnection implements Transport {
  readonly #hub: Hub;
  readonly #limits: ConnectionLimits;
  readonly #pressure: Pressure | undefined;
  readonly #onFinished: ((connection: WsConnection) => void) | undefined;
  readonly #session: Session;
  /** Bytes that arrived with the upgrade request, parsed first. */
  #head: Uint8Array | undefined;
  /** Unparsed bytes (at most one frame header plus one message's worth). */
  #buffer: Uint8Array = new Uint8Array();
  /** Fragments of a message not finished yet. */
  #fragments: Uint8Array[] | undefined;
  #fragmentBytes = 0;
  #closing = false;
  #closed = false;

  /**
   * @param conn the connection (the 101 answer already written): a
   * `Deno.TcpConn`, or TLS over one (see `tls.ts`)
   * @param head bytes that arrived after the upgrade request
   * @param hub the shared chat state
   * @param limits what this connection enforces
   * @param pressure flow control shared by the server's connections, if any
   * @param onFinished called once when {@linkcode serve} has finished
   */
  constructor(
    conn: ByteConn,
    head: Uint8Array,
    hub: Hub,
    limits: ConnectionLimits,
    pressure?: Pressure,
    onFinished?: (connection: WsConnection) => void,
  ) {
    super(conn, limits, pressure);
    this.#head = head.length > 0 ? head : undefined;
    this.#hub = hub;
    this.#limits = limits;
    this.#pressure = pressure;
    this.#onFinished = onFinished;
    this.#session = new Session(hub, this, "json");
  }

  /** The session (JSON from the first frame). */
  get session(): Session {
    return this.#session;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends JSON lines, one WebSocket text message per frame. @inheritdoc
   *
   * @param bytes one or more `\n`-terminated JSON lines
   */
  send(bytes: Uint8Array): void {
    if (this.#closed || this.#closing) return;
    this.queue.push(wsFramesOf(bytes));
  }

  /** Sends what is queued and a close frame, then closes. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.queue.push(CLOSE_NORMAL);
    this.#flushThenClose();
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

  /**
   * Reads until the peer leaves or the connection is closed, as
   * {@linkcode TcpConnection.serve} does: messages are paced by flood
   * control, a long reply is read by the peer before its next message is
   * taken, and after each read a backlogged receiver is let catch up. Never
   * throws.
   *
   * @returns when the connection is finished
   */
  async serve(): Promise<void> {
    const bucket = new TokenBucket(this.#limits.floodBurst, this.#limits.floodRate);
    let buf = new Uint8Array(MIN_READ);
    let reason = "connection lost";
    try {
      while (!this.#closing) {
        let input: Uint8Array;
        if (this.#head) {
          input = this.#head;
          this.#head = undefined;
        } else {
          const n = await this.conn.read(buf);
          if (n === null) break;
          input = buf.subarray(0, n);
          buf = nextReadBuffer(buf, n);
        }
        this.lastActivity = Date.now();
        this.pinged = false;
        for (const message of this.#messages(input)) {
          if (this.#closing) break;
          const wait = bucket.take();
          if (wait > 0) await delay(wait);
          if (this.#session.replying) await this.#session.replied();
          if (this.#closing) break;
          this.#session.receiveLine(message);
        }
        if (this.#pressure?.active) {
          await null;
          const holds = this.takeHolds();
          if (holds) await this.#pressure.relievedOf(holds, PRESSURE_WAIT_MS);
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        reason = error instanceof Deno.errors.ConnectionReset
          ? "connection reset"
          : error instanceof Error
          ? error.message
          : String(error);
      }
    } finally {
      this.end(reason);
      await this.queue.drained();
      this.#closeNow();
      this.#onFinished?.(this);
    }
  }

  /**
   * Parses frames (RFC 6455 §5.2) from what arrived; answers control frames.
   *
   * @returns the complete text messages, in order
   */
  #messages(bytes: Uint8Array): string[] {
    const out: string[] = [];
    // The read buffer is reused: what stays unparsed is copied (slice).
    const buf = this.#buffer.length === 0 ? bytes : concat([this.#buffer, bytes]);
    let off = 0;
    const max = this.#limits.maxLineBytes;
    while (buf.length - off >= 2 && !this.#closing) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if ((b1 & 0x80) === 0 || (b0 & 0x70) !== 0) return this.#protocolError();
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
      if (control && (len > MAX_CONTROL || !fin)) return this.#protocolError();
      // Over the line limit: refused from the header, never buffered.
      if (!control && max !== 0 && this.#fragmentBytes + len > max) {
        this.#session.lineError("line_too_long");
        this.#session.end("line too long");
        return out;
      }
      if (buf.length - off < head + 4 + len) break;
      const mask = buf.subarray(off + head, off + head + 4);
      const payload = buf.slice(off + head + 4, off + head + 4 + len);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      off += head + 4 + len;
      if (control) {
        if (opcode === OP_PING) this.queue.push(frameOf(OP_PONG, payload));
        else if (opcode === OP_CLOSE) {
          this.#session.end("connection closed");
          this.close();
        } else if (opcode !== OP_PONG) return this.#protocolError();
        continue;
      }
      if (opcode === OP_CONTINUATION) {
        if (!this.#fragments) return this.#protocolError();
      } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
        if (this.#fragments) return this.#protocolError();
        this.#fragments = [];
      } else return this.#protocolError();
      this.#fragments!.push(payload);
      this.#fragmentBytes += payload.length;
      if (!fin) continue;
      const message = concat(this.#fragments!);
      this.#fragments = undefined;
      this.#fragmentBytes = 0;
      try {
        out.push(fatalDecoder.decode(message));
      } catch {
        this.#session.lineError("invalid_utf8");
      }
    }
    this.#buffer = off === buf.length ? EMPTY : buf.slice(off);
    return out;
  }

  /** A frame the RFC forbids: close with 1002 (the messages of this read are dropped). */
  #protocolError(): string[] {
    this.#hub.log(`drop ${this.#session.nick ?? this.remote}: WebSocket protocol error`);
    this.#closing = true;
    this.queue.push(CLOSE_PROTOCOL_ERROR);
    this.#session.end("protocol error");
    this.#flushThenClose();
    return [];
  }

  /** Closes once the queue is written, or after CLOSE_FLUSH_MS at most. */
  #flushThenClose(): void {
    this.queue.drained().then(() => this.#closeNow());
    setTimeout(() => this.#closeNow(), CLOSE_FLUSH_MS).unref?.();
  }

  /** @inheritdoc */
  protected abort(reason: string): void {
    if (this.#closed) return;
    this.#hub.log(`drop ${this.#session.nick ?? this.remote}: ${reason}`);
    this.#closing = true;
    this.#session.end(reason);
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

/**
 * For the upgrade: the `Sec-WebSocket-Accept` value of a key (RFC 6455 §4.2.2).
 *
 * @param key the request's `Sec-WebSocket-Key`
 * @returns base64 of SHA-1 of the key and the RFC's GUID
 */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
}
