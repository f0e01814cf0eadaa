/**
 * Bridges between Deno connections and `node:` streams, for TLS.
 * {@linkcode NodeSocketConn}: a `node:tls` socket seen as the small part of
 * `Deno.Conn` the chat transports use (`read`, `write`, `close`, addresses),
 * so one TCP transport serves plain and TLS connections alike.
 * {@linkcode connDuplex}: a `Deno.Conn` as a node `Duplex`, for `node:tls`
 * to run TLS over a connection `Deno.listen` accepted. `node:tls` is used for
 * TLS because it can swap certificates without a new listener
 * (`SecureContext` per connection) and exposes the peer's certificate
 * (`getPeerCertificate`), which `Deno.listenTls` / `Deno.connectTls` do not.
 *
 * Backpressure: reading pauses the socket once more than
 * {@linkcode NodeSocketConn.HIGH_WATER} bytes are buffered and unread, so a
 * peer can never grow this buffer without bound; `write` resolves once the
 * bytes were handed to the socket.
 *
 * @module
 */

import type { Socket } from "node:net";
import { Duplex } from "node:stream";

/** The part of `Deno.Conn` the transports and the client use. */
export interface ByteConn {
  /** Reads into `p`; resolves to the byte count, or `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes `p`; resolves to the bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Turns Nagle's algorithm off (optional). */
  setNoDelay?(noDelay?: boolean): void;
  /** Turns TCP keep-alive on (optional). */
  setKeepAlive?(keepAlive?: boolean): void;
  /** Whether the bytes travel encrypted (TLS); absent: plain. Passwords need it (or a local peer). */
  readonly secure?: boolean;
  /**
   * Resolves once the TLS handshake has completed, or the connection ended
   * before it did (absent: there is none to wait for). Timers that run
   * from the moment a peer could first speak start here.
   */
  handshake?(): Promise<void>;
}

function mapError(error: Error & { code?: string }): Error {
  if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
    return error;
  }
  switch (error.code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message);
    case "EPIPE":
      return new Deno.errors.BrokenPipe(error.message);
    default:
      return error;
  }
}

function isNodeSocket(tcp: Socket | Deno.TcpConn): tcp is Socket {
  return "remoteAddress" in tcp;
}

/** A node socket (TLS or plain) behind the {@linkcode ByteConn} interface. */
export class NodeSocketConn implements ByteConn {
  /** Unread bytes above which the socket is paused, in bytes. */
  static readonly HIGH_WATER = 64 * 1024;
  readonly remoteAddr: Deno.NetAddr;
  /** Whether the stream is TLS (not the socket beneath it). @inheritdoc */
  readonly secure: boolean;
  readonly #socket: Socket;
  readonly #tcp: Socket | Deno.TcpConn;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #destroyed = false;
  #handshake: Promise<void> | undefined;

  /**
   * @param socket the stream to read and write (e.g. a `TLSSocket`)
   * @param tcp the TCP connection underneath, for addresses and socket
   * options: a node socket (the same as `socket` for plain TCP), or the
   * `Deno.TcpConn` that {@linkcode connDuplex} wraps
   */
  constructor(socket: Socket, tcp: Socket | Deno.TcpConn = socket) {
    this.#socket = socket;
    this.#tcp = tcp;
    this.secure = (socket as unknown) !== tcp && "encrypted" in socket && socket.encrypted === true;
    this.remoteAddr = isNodeSocket(tcp)
      ? {
        transport: "tcp",
        hostname: (tcp.remoteAddress ?? "").replace(/^::ffff:(?=\d+\.)/, ""),
        port: tcp.remotePort ?? 0,
      }
      : tcp.remoteAddr;
    if (this.secure) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#handshake = promise;
      // A server-side TLSSocket says `secure` when its handshake is done.
      socket.once("secure", resolve);
      socket.once("error", resolve);
      socket.once("close", resolve);
    }
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > NodeSocketConn.HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= mapError(error);
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  /** @inheritdoc */
  handshake(): Promise<void> {
    return this.#handshake ?? Promise.resolve();
  }

  /** The stream itself (e.g. for `getPeerCertificate` on a `TLSSocket`). */
  get socket(): Socket {
    return this.#socket;
  }

  /** @inheritdoc */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#destroyed) throw new Deno.errors.BadResource("connection closed");
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#buffered -= n;
    if (this.#buffered <= NodeSocketConn.HIGH_WATER / 2 && this.#socket.isPaused()) {
      this.#socket.resume();
    }
    return n;
  }

  /** @inheritdoc */
  write(p: Uint8Array): Promise<number> {
    if (this.#destroyed) return Promise.reject(new Deno.errors.BadResource("connection closed"));
    if (this.#error) return Promise.reject(this.#error);
    // Node keeps a reference to the buffer until it is written; the callers
    // (send queue, client) do not reuse it after the promise settles.
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error) => {
        if (error) reject(mapError(error));
        else resolve(p.length);
      });
    });
  }

  /** @inheritdoc */
  close(): void {
    if (this.#destroyed) throw new Deno.errors.BadResource("connection closed");
    this.#destroyed = true;
    this.#socket.destroy();
    if (isNodeSocket(this.#tcp)) {
      if (this.#tcp !== this.#socket) this.#tcp.destroy();
    } else {
      try {
        this.#tcp.close();
      } catch { /* closed with the stream */ }
    }
    this.#notify();
  }

  /** @inheritdoc */
  setNoDelay(noDelay = true): void {
    this.#tcp.setNoDelay(noDelay);
  }

  /** @inheritdoc */
  setKeepAlive(keepAlive = true): void {
    this.#tcp.setKeepAlive(keepAlive);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** First read size of {@linkcode connDuplex}; it doubles while reads fill it, up to 16 KiB (one TLS record). */
const MIN_READ = 1024;
const MAX_READ = 16 * 1024;

/**
 * A Deno connection as a node `Duplex`. It reads only when the consumer
 * asks (one read per `_read`), so a peer cannot fill memory faster than the
 * consumer takes it; a write completes when the connection took all of it.
 *
 * @param conn the connection (closed when the stream is destroyed)
 * @returns the stream
 */
export function connDuplex(conn: Deno.Conn): Duplex {
  let size = MIN_READ;
  return new Duplex({
    read() {
      const buf = new Uint8Array(size);
      conn.read(buf).then((n) => {
        if (n === null) {
          this.push(null);
          return;
        }
        if (n === size && size < MAX_READ) size *= 2;
        this.push(buf.subarray(0, n));
      }, (error) => this.destroy(error));
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        let data = chunk;
        while (data.length > 0) data = data.subarray(await conn.write(data));
      })().then(() => callback(), callback);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      try {
        conn.close();
      } catch { /* already closed */ }
      callback(error);
    },
  });
}
