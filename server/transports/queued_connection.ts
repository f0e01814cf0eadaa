/**
 * What the TCP and WebSocket transports share: an accepted connection, its
 * bounded {@linkcode SendQueue} (the connection is its own queue's sink), the
 * peer's address, and the flow-control hooks the session core calls.
 *
 * @module
 */

import type { ByteConn } from "../../tls/node_conn.ts";
import type { Pressure } from "./pressure.ts";
import { SendQueue, type SendQueueSink } from "./send_queue.ts";
import type { ConnectionLimits } from "./tcp.ts";

// Every idle connection holds one pending read into its buffer: start small
// (it doubles whenever a read fills it, up to MAX_READ).
/** First read buffer of a connection, in bytes. */
export const MIN_READ = 128;
// One read's lines are fanned out before flow control can act, so the largest
// read bounds how much a sender can push into each receiver's queue at once:
// with 64 KiB, ten blasting JSON senders passed a 1 MiB queue in one round
// and healthy receivers were dropped (27-37 % delivered); with 16 KiB, 100 %.
/** Largest read buffer of a connection, in bytes. */
export const MAX_READ = 16 * 1024;

/**
 * The buffer for the next read: twice as large when the last read of `n`
 * bytes filled `buf` and it is under {@linkcode MAX_READ}, else `buf`.
 *
 * @param buf the buffer just read into
 * @param n how many bytes that read gave
 * @returns the buffer to read into next
 */
export function nextReadBuffer(buf: Uint8Array<ArrayBuffer>, n: number): Uint8Array<ArrayBuffer> {
  return n === buf.length && buf.length < MAX_READ ? new Uint8Array(buf.length * 2) : buf;
}

/**
 * A connection that writes through a send queue. It is its own queue's
 * sink: thousands of idle connections each save the closures that
 * callbacks would cost. Subclasses read, and say how to drop the peer
 * ({@linkcode abort}).
 */
export abstract class QueuedConnection implements SendQueueSink {
  /** When the connection was accepted (ms since epoch). */
  readonly openedAt: number = Date.now();
  /** When any byte last arrived (ms since epoch). */
  lastActivity: number = Date.now();
  /** Whether the idle check has sent a ping since the last activity. */
  pinged = false;
  /** The connection: TCP, or TLS over TCP. */
  protected readonly conn: ByteConn;
  /** What goes out to the peer. */
  protected readonly queue: SendQueue;
  /** Backlogged receivers this peer's lines reached since the last {@linkcode takeHolds}. */
  #holds: Set<object> | undefined;

  /**
   * @param conn an accepted connection (Nagle off, keep-alive on)
   * @param limits its send-queue bound
   * @param pressure flow control shared by the server's connections, if any
   */
  protected constructor(conn: ByteConn, limits: ConnectionLimits, pressure?: Pressure) {
    this.conn = conn;
    try {
      conn.setNoDelay?.(true);
      conn.setKeepAlive?.(true);
    } catch { /* already closed */ }
    this.queue = new SendQueue(this, {
      maxBytes: limits.sendQueueBytes,
      ...(pressure ? { pressure } : {}),
    });
  }

  /** Whether the connection has closed. */
  abstract get closed(): boolean;

  /**
   * Drops the peer at once (slow consumer, failed write): log, end the
   * session, close without flushing.
   *
   * @param reason for the log and the `left` notice
   */
  protected abstract abort(reason: string): void;

  /** For the send queue: writes to the socket. @inheritdoc */
  writeSome(bytes: Uint8Array): Promise<number> {
    return this.conn.write(bytes);
  }

  /** For the send queue: the peer is a slow consumer. @inheritdoc */
  queueOverflowed(): void {
    // An overflow happens inside someone's broadcast loop: drop this peer
    // after that loop, so the others get the message before its `left`.
    queueMicrotask(() => this.abort("send queue exceeded"));
  }

  /** For the send queue: the socket is gone. @inheritdoc */
  writeFailed(): void {
    this.abort("write failed");
  }

  /** Peer address, `host:port` (`[v6]:port`); built on demand, for logs. */
  get remote(): string {
    const { hostname, port } = this.conn.remoteAddr;
    return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  }

  /** Peer host, for per-address limits. */
  get hostname(): string {
    return this.conn.remoteAddr.hostname;
  }

  /** Whether the connection is TLS (passwords are accepted over it). */
  get secure(): boolean {
    return this.conn.secure ?? false;
  }

  /** Bytes queued and not yet written. */
  get backlog(): number {
    return this.queue.bytes;
  }

  /** The queue's identity in the server's `Pressure` while it is backlogged. */
  get backlogged(): object | undefined {
    return this.queue.backlogged ? this.queue : undefined;
  }

  /** This peer's lines reached a backlogged receiver (see `Transport.holdFor`). */
  holdFor(backlogged: object): void {
    (this.#holds ??= new Set()).add(backlogged);
  }

  /** Calls back once at most `bytes` are queued; never after the close. */
  whenBelow(bytes: number, callback: () => void): void {
    if (!this.closed) this.queue.whenBelow(bytes, callback);
  }

  /**
   * The receivers to wait for before reading on (see `Pressure.relievedOf`),
   * and starts a new set.
   *
   * @returns the backlogged receivers reached since the last call, if any
   */
  protected takeHolds(): Set<object> | undefined {
    const holds = this.#holds;
    this.#holds = undefined;
    return holds;
  }
}
