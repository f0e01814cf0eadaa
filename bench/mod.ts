/**
 * `chat bench`: a load generator for a chat server, built into the program
 * (like `redis-benchmark` or `nats bench`). N clients join, S of them send
 * messages at a rate (or as fast as the server takes them), and every client
 * counts the messages it receives and how long each took.
 *
 * Each message carries a token `~B<sender>:<seq>:<sent µs>~`, the format of
 * `shared/bench/chatbench.c`, so receivers can match deliveries in either
 * wire format without parsing frames. Senders and receivers share this
 * process's clock, so latency is end to end: sender's write to receiver's
 * read, including the server and this process's own scheduling.
 *
 * @module
 */

import { parseArgs } from "@chat/args";
import { type BenchSummary, LatencyHistogram, rate, summarize } from "./stats.ts";

export * from "./stats.ts";

/** Options for {@linkcode bench}. */
export interface BenchOptions {
  /** Server address. @default {"127.0.0.1"} */
  hostname?: string;
  /** Server port. @default {8080} */
  port?: number;
  /** Clients that join (senders included). @default {100} */
  clients?: number;
  /** How many of the clients send. @default {10} */
  senders?: number;
  /**
   * Messages per second per sender; 0 means blast: as fast as the server
   * takes them, each sender keeping at most `window` messages in flight.
   * @default {10}
   */
  rate?: number;
  /** Message text size in bytes (at least the token, ~30 B). @default {64} */
  size?: number;
  /** Seconds of sending. @default {5} */
  duration?: number;
  /**
   * Rooms to spread the clients over: client `i` joins room `i mod rooms`
   * (a fresh `#b<tag>r<k>` per run) and talks there, so sender `s` reaches
   * the other members of room `s mod rooms` only: the team-shaped load
   * (docs/performance.md, "Many rooms"). 0: everyone talks in the lobby.
   * @default {0}
   */
  rooms?: number;
  /** Wire format: `json` (protocol v1) or `text` (plain text). @default {"json"} */
  mode?: "json" | "text";
  /**
   * Connect over WebSocket (`ws://HOST:PORT/ws`: the chat port serves the
   * web client too) instead of TCP; implies `json` frames, one per WebSocket
   * message.
   * @default {false}
   */
  ws?: boolean;
  /** Blast mode: most messages a sender has in flight. @default {64} */
  window?: number;
  /** Most milliseconds to wait for the last deliveries after sending. @default {5000} */
  drainMs?: number;
  /** Called about once a second with live counts. */
  onProgress?: (progress: BenchProgress) => void;
  /** Stops the run early (the figures so far are still reported). */
  signal?: AbortSignal;
}

/** Live counts, for a progress line. */
export interface BenchProgress {
  /** Seconds since sending began. */
  elapsedS: number;
  /** Messages sent so far. */
  sent: number;
  /** Deliveries seen so far. */
  delivered: number;
  /** Deliveries per second over the last interval. */
  deliveriesPerSecond: number;
}

/** What {@linkcode bench} returns: the settings, the figures and the connection losses. */
export interface BenchResult extends BenchSummary {
  /** Clients that joined. */
  clients: number;
  /** Clients that sent. */
  senders: number;
  /** Messages per second per sender, 0 for blast. */
  rate: number;
  /** Message text size in bytes. */
  size: number;
  /** Seconds of sending asked for. */
  duration: number;
  /** Wire format used. */
  mode: "json" | "text";
  /** Whether the clients spoke WebSocket. */
  ws: boolean;
  /** Rooms the clients were spread over (0: the lobby). */
  rooms: number;
  /** Clients the server disconnected during the run. */
  disconnected: number;
}

const DEFAULTS = {
  hostname: "127.0.0.1",
  port: 8080,
  clients: 100,
  senders: 10,
  rate: 10,
  size: 64,
  duration: 5,
  rooms: 0,
  mode: "json" as "json" | "text",
  ws: false,
  window: 64,
  drainMs: 5000,
};

const encoder = new TextEncoder();
const READ_BUFFER = 16 * 1024;
const CONNECT_BATCH = 200;
const TILDE = 0x7e;
const LETTER_B = 0x42;
const COLON = 0x3a;
const NEWLINE = 0x0a;

/** Microseconds on this process's monotonic clock. */
function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the run needs from a client, over TCP or WebSocket. */
interface Client {
  readonly index: number;
  readonly seenFrom: Uint32Array;
  readonly delivered: number;
  readonly bytes: number;
  readonly closed: boolean;
  readonly greeted: Promise<void>;
  readLoop(): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  /** Resolves once a line holding `needle` arrives after this call (or the connection ends). */
  receive(needle: string): Promise<void>;
  close(): void;
}

/**
 * A benchmark client over WebSocket, framed here over a TCP socket (RFC 6455;
 * client frames masked with a zero key): like the TCP client it reads bytes
 * and counts tokens itself, so the two are measured the same way.
 */
class WsBenchClient implements Client {
  readonly index: number;
  readonly conn: Deno.TcpConn;
  readonly seenFrom: Uint32Array;
  delivered = 0;
  bytes = 0;
  closed = false;
  readonly greeted: Promise<void>;
  readonly #greet: () => void;
  readonly #latency: LatencyHistogram;
  #awaited: { needle: Uint8Array; found: () => void } | undefined;

  constructor(index: number, conn: Deno.TcpConn, senders: number, latency: LatencyHistogram) {
    this.index = index;
    this.conn = conn;
    this.seenFrom = new Uint32Array(senders);
    this.#latency = latency;
    const greeted = Promise.withResolvers<void>();
    this.greeted = greeted.promise;
    this.#greet = greeted.resolve;
  }

  /** Sends the upgrade request. */
  handshake(hostname: string): Promise<void> {
    return this.#writeAll(encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
  }

  async readLoop(): Promise<void> {
    let buf = new Uint8Array(READ_BUFFER * 4);
    let have = 0;
    let upgraded = false;
    try {
      while (true) {
        if (have === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const n = await this.conn.read(buf.subarray(have));
        if (n === null) break;
        this.bytes += n;
        have += n;
        let off = 0;
        if (!upgraded) {
          const end = findHeaderEnd(buf, have);
          if (end < 0) continue;
          off = end;
          upgraded = true;
        }
        const now = nowMicros();
        while (have - off >= 2) {
          let len = buf[off + 1]! & 0x7f;
          let head = 2;
          if (len === 126) {
            if (have - off < 4) break;
            len = (buf[off + 2]! << 8) | buf[off + 3]!;
            head = 4;
          } else if (len === 127) {
            if (have - off < 10) break;
            len = Number(new DataView(buf.buffer, off + 2, 8).getBigUint64(0));
            head = 10;
          }
          if (have - off < head + len) break;
          this.#greet();
          if (this.#awaited && includes(buf, off + head + len, this.#awaited.needle, off + head)) {
            this.#awaited.found();
            this.#awaited = undefined;
          }
          scanTokens(buf, off + head, off + head + len, (sender, sentMicros) => {
            this.delivered++;
            if (sender < this.seenFrom.length) this.seenFrom[sender]!++;
            this.#latency.record(now - sentMicros);
          });
          off += head + len;
        }
        buf.copyWithin(0, off, have);
        have -= off;
      }
    } catch {
      // reset or closed by us
    } finally {
      this.closed = true;
      this.#greet();
      this.#awaited?.found();
    }
  }

  receive(needle: string): Promise<void> {
    return new Promise((found) => this.#awaited = { needle: encoder.encode(needle), found });
  }

  /** Sends each `\n`-terminated line as one masked text frame. */
  write(bytes: Uint8Array): Promise<void> {
    let size = 0;
    let start = 0;
    const lines: [number, number][] = [];
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, start)) {
      if (i > start) lines.push([start, i]);
      start = i + 1;
    }
    for (const [a, b] of lines) size += (b - a < 126 ? 6 : 8) + (b - a);
    const out = new Uint8Array(size);
    let at = 0;
    for (const [a, b] of lines) {
      const n = b - a;
      out[at++] = 0x81;
      if (n < 126) out[at++] = 0x80 | n;
      else {
        out[at++] = 0x80 | 126;
        out[at++] = n >> 8;
        out[at++] = n & 0xff;
      }
      at += 4; // a zero masking key: the payload goes as it is
      out.set(bytes.subarray(a, b), at);
      at += n;
    }
    return this.#writeAll(out);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let rest = bytes;
    while (rest.length > 0) rest = rest.subarray(await this.conn.write(rest));
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** The index after the blank line ending an HTTP response head, or -1. */
function findHeaderEnd(buf: Uint8Array, end: number): number {
  for (let i = 3; i < end; i++) {
    if (
      buf[i] === NEWLINE && buf[i - 1] === 0x0d && buf[i - 2] === NEWLINE && buf[i - 3] === 0x0d
    ) {
      return i + 1;
    }
  }
  return -1;
}

/** Calls `found` for every `~B<sender>:<seq>:<µs>~` token in `buf[start, end)`. */
function scanTokens(
  buf: Uint8Array,
  start: number,
  end: number,
  found: (sender: number, sentMicros: number) => void,
): void {
  let at = buf.indexOf(TILDE, start);
  while (at >= 0 && at < end) {
    if (buf[at + 1] === LETTER_B) {
      const token = parseToken(buf, at + 2, end);
      if (token) {
        found(token.sender, token.sentMicros);
        at = token.next;
      }
    }
    at = buf.indexOf(TILDE, at + 1);
  }
}

/** One benchmark client: a socket, a read loop counting tokens, and a writer. */
class BenchClient implements Client {
  readonly index: number;
  readonly conn: Deno.TcpConn;
  /** Deliveries seen from each sender, by sender index (also: highest seq seen + 1). */
  readonly seenFrom: Uint32Array;
  delivered = 0;
  /** Bytes received, whatever they were. */
  bytes = 0;
  closed = false;
  readonly #latency: LatencyHistogram;
  #greeted: (() => void) | undefined;
  readonly greeted: Promise<void>;
  #awaited: { needle: Uint8Array; found: () => void } | undefined;

  constructor(index: number, conn: Deno.TcpConn, senders: number, latency: LatencyHistogram) {
    this.index = index;
    this.conn = conn;
    this.seenFrom = new Uint32Array(senders);
    this.#latency = latency;
    this.greeted = new Promise((resolve) => this.#greeted = resolve);
  }

  /** Reads until the connection ends, counting tokens in complete lines. */
  async readLoop(): Promise<void> {
    const buf = new Uint8Array(READ_BUFFER);
    let kept = 0; // bytes of an unfinished line carried to the front of buf
    try {
      while (true) {
        if (kept === buf.length) kept = 0; // a line longer than the buffer: not ours, drop it
        const n = await this.conn.read(buf.subarray(kept));
        if (n === null) break;
        this.bytes += n;
        const end = kept + n;
        const lastNewline = buf.lastIndexOf(NEWLINE, end - 1);
        if (lastNewline < 0) {
          kept = end;
          continue;
        }
        // The first line from the server is the welcome (or an error): we are in.
        this.#greeted?.();
        this.#greeted = undefined;
        if (this.#awaited && includes(buf, lastNewline, this.#awaited.needle)) {
          this.#awaited.found();
          this.#awaited = undefined;
        }
        this.#scan(buf, lastNewline, nowMicros());
        buf.copyWithin(0, lastNewline + 1, end);
        kept = end - lastNewline - 1;
      }
    } catch {
      // reset or closed by us: either way this client is done
    } finally {
      this.closed = true;
      this.#greeted?.();
      this.#awaited?.found();
    }
  }

  /**
   * Resolves once a line holding `needle` arrives after this call (or the
   * connection ends). One wait at a time.
   */
  receive(needle: string): Promise<void> {
    return new Promise((found) => this.#awaited = { needle: encoder.encode(needle), found });
  }

  /** Finds every `~B<sender>:<seq>:<µs>~` token in `buf[0, end)`. */
  #scan(buf: Uint8Array, end: number, now: number): void {
    let at = buf.indexOf(TILDE);
    while (at >= 0 && at < end) {
      if (buf[at + 1] === LETTER_B) {
        const token = parseToken(buf, at + 2, end);
        if (token) {
          this.delivered++;
          if (token.sender < this.seenFrom.length) this.seenFrom[token.sender]!++;
          this.#latency.record(now - token.sentMicros);
          at = token.next;
        }
      }
      at = buf.indexOf(TILDE, at + 1);
    }
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let rest = bytes;
    while (rest.length > 0) rest = rest.subarray(await this.conn.write(rest));
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** Whether `needle` occurs in `buf[start, end)`. */
function includes(buf: Uint8Array, end: number, needle: Uint8Array, start = 0): boolean {
  for (let at = buf.indexOf(needle[0]!, start); at >= 0 && at + needle.length <= end;) {
    let k = 1;
    while (k < needle.length && buf[at + k] === needle[k]) k++;
    if (k === needle.length) return true;
    at = buf.indexOf(needle[0]!, at + 1);
  }
  return false;
}

/**
 * Reads the digits of a token after its `~B`: `<sender>:<seq>:<µs>~`.
 *
 * @returns the fields and the index of the closing `~`, or `undefined` when malformed
 */
function parseToken(
  buf: Uint8Array,
  start: number,
  end: number,
): { sender: number; sentMicros: number; next: number } | undefined {
  const fields = [0, 0, 0];
  let field = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (byte >= 0x30 && byte <= 0x39) {
      fields[field] = fields[field]! * 10 + (byte - 0x30);
      digits++;
    } else if (byte === COLON && digits > 0 && field < 2) {
      field++;
      digits = 0;
    } else if (byte === TILDE && digits > 0 && field === 2) {
      return { sender: fields[0]!, sentMicros: fields[2]!, next: i };
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The message text: the token, padded with `x` to `size` bytes. */
function messageText(sender: number, seq: number, size: number): string {
  const token = `~B${sender}:${seq}:${nowMicros()}~`;
  return token.length >= size ? token : token + "x".repeat(size - token.length);
}

function frameLine(mode: "json" | "text", text: string): string {
  return mode === "json" ? `{"type":"say","text":"${text}"}\n` : `${text}\n`;
}

async function connect(hostname: string, port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname, port, transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}

/**
 * Runs a benchmark against a chat server and returns the figures.
 *
 * @param options see {@linkcode BenchOptions}
 * @returns settings, rates, delivered fraction and latency
 * @throws {RangeError} for impossible settings (e.g. more senders than clients)
 * @throws {Deno.errors.ConnectionRefused} and other connect errors, when a
 * client cannot connect (e.g. "too many open files": raise `ulimit -n`)
 *
 * @example
 * ```ts ignore
 * import { bench } from "./mod.ts";
 * const result = await bench({ port: 8080, clients: 20, senders: 2, duration: 1 });
 * console.log(result.deliveriesPerSecond, result.latencyMs.p99);
 * ```
 */
export async function bench(options: BenchOptions = {}): Promise<BenchResult> {
  const o = { ...DEFAULTS, ...options };
  if (o.clients < 2) {
    throw new RangeError(`Cannot bench with ${o.clients} clients: need at least 2`);
  }
  if (o.senders < 1 || o.senders > o.clients) {
    throw new RangeError(`Cannot use ${o.senders} senders: need 1 to ${o.clients} (the clients)`);
  }
  if (o.rooms < 0 || o.rooms * 2 > o.clients) {
    throw new RangeError(
      `Cannot spread ${o.clients} clients over ${o.rooms} rooms: need at least 2 per room`,
    );
  }
  const latency = new LatencyHistogram();
  const tag = Math.random().toString(36).slice(2, 6); // keeps nicknames clear of real users
  const clients: Client[] = [];
  if (o.ws) o.mode = "json";
  const readers: Promise<void>[] = [];
  try {
    // Join in batches, so that N connects do not all hit the accept queue at once.
    for (let first = 0; first < o.clients; first += CONNECT_BATCH) {
      const batch: Promise<void>[] = [];
      for (let i = first; i < Math.min(o.clients, first + CONNECT_BATCH); i++) {
        batch.push((async () => {
          let client: Client;
          if (o.ws) {
            const ws = new WsBenchClient(i, await connect(o.hostname, o.port), o.senders, latency);
            await ws.handshake(o.hostname);
            client = ws;
          } else {
            client = new BenchClient(i, await connect(o.hostname, o.port), o.senders, latency);
          }
          clients[i] = client;
          readers.push(client.readLoop());
          const nick = `b${tag}${i}`;
          await client.write(encoder.encode(
            o.mode === "json" ? `{"type":"hello","version":1,"nick":"${nick}"}\n` : `${nick}\n`,
          ));
          await client.greeted;
          if (o.rooms > 0) {
            const room = `#b${tag}r${i % o.rooms}`;
            // The answer to a join: a `room` frame (JSON), "* now talking in #room" (text).
            const joined = client.receive(o.mode === "json" ? `"room":"${room}"` : ` in ${room}`);
            await client.write(encoder.encode(
              o.mode === "json" ? `{"type":"join","room":"${room}"}\n` : `/join ${room}\n`,
            ));
            await joined;
          }
        })());
      }
      await Promise.all(batch);
    }
    // Every join is announced to everyone already in (N²/2 lines): let those notices drain,
    // until no byte has arrived for 300 ms, before the clock starts.
    const received = () => clients.reduce((sum, c) => sum + c.bytes, 0);
    for (let last = -1, now = received(); now !== last; last = now, now = received()) {
      await sleep(300);
    }

    const counts = () => clients.reduce((sum, c) => sum + c.delivered, 0);
    const before = counts();
    const sentBy = new Array<number>(o.senders).fill(0);
    const start = performance.now();
    const stopAt = start + o.duration * 1000;
    const stopped = () => performance.now() >= stopAt || (o.signal?.aborted ?? false);
    let lastDelivery = start;

    // Progress: once a second, and it notes when deliveries last grew.
    let lastCount = before;
    let lastTick = start;
    const progress = setInterval(() => {
      const now = performance.now();
      const count = counts();
      if (count !== lastCount) lastDelivery = now;
      o.onProgress?.({
        elapsedS: (now - start) / 1000,
        sent: sentBy.reduce((a, b) => a + b, 0),
        delivered: count - before,
        deliveriesPerSecond: rate(count - lastCount, now - lastTick),
      });
      lastCount = count;
      lastTick = now;
    }, 1000);

    // In blast mode a sender waits on an observer: the first client that is not a sender, or
    // another sender when all are, so it never runs more than `window` messages ahead.
    const observerOf = (s: number) =>
      clients[o.senders < o.clients ? o.senders : (s + 1) % o.clients]!;
    const send = async (s: number) => {
      const client = clients[s]!;
      const observer = observerOf(s);
      const tickMs = 10;
      while (!stopped() && !client.closed) {
        let batch: number;
        if (o.rate > 0) {
          batch = Math.floor(((performance.now() - start) / 1000) * o.rate) - sentBy[s]!;
          if (batch <= 0) {
            await sleep(tickMs);
            continue;
          }
        } else {
          batch = o.window - (sentBy[s]! - observer.seenFrom[s]!);
          if (batch <= 0 || observer.closed) {
            await sleep(observer.closed ? tickMs : 0);
            continue;
          }
        }
        let lines = "";
        for (let k = 0; k < batch; k++) {
          lines += frameLine(o.mode, messageText(s, sentBy[s]! + k, o.size));
        }
        sentBy[s]! += batch;
        await client.write(encoder.encode(lines));
      }
    };
    await Promise.allSettled(clients.slice(0, o.senders).map((_, s) => send(s)));
    const sendMs = performance.now() - start;

    // Drain: wait until everything expected arrived, or nothing arrived for a second.
    const sent = sentBy.reduce((a, b) => a + b, 0);
    // Each message reaches the other members of its sender's room (everyone, in the lobby).
    const members = (s: number) =>
      o.rooms === 0 ? o.clients : Math.floor((o.clients - 1 - (s % o.rooms)) / o.rooms) + 1;
    const expected = sentBy.reduce((sum, n, s) => sum + n * (members(s) - 1), 0);
    const drainUntil = performance.now() + o.drainMs;
    while (performance.now() < drainUntil && !(o.signal?.aborted ?? false)) {
      const count = counts();
      if (count !== lastCount) {
        lastCount = count;
        lastDelivery = performance.now();
      }
      if (count - before >= expected || performance.now() - lastDelivery > 1000) break;
      await sleep(5);
    }
    clearInterval(progress);
    const delivered = counts() - before;
    return {
      clients: o.clients,
      senders: o.senders,
      rate: o.rate,
      size: o.size,
      duration: o.duration,
      mode: o.mode,
      ws: o.ws,
      rooms: o.rooms,
      disconnected: clients.filter((c) => c.closed).length,
      ...summarize({ sent, expected, delivered, sendMs, deliverMs: lastDelivery - start, latency }),
    };
  } finally {
    for (const client of clients) client?.close();
    await Promise.allSettled(readers);
  }
}

const USAGE = `Usage: chat bench [HOST] [PORT] [options]

Joins N clients to a chat server, has S of them send messages, and reports
deliveries/s, messages/s, latency p50/p90/p99/max and the delivered fraction.

  --clients N     clients that join, senders included        [100]
  --senders S     how many of them send                      [10]
  --rate R        messages per second per sender             [10]
  --blast         send as fast as the server takes them (instead of --rate)
  --size B        message size in bytes                      [64]
  --duration D    seconds of sending                         [5]
  --rooms N       spread the clients over N rooms (client i in
                  room i mod N) and talk there; 0: the lobby  [0]
  --mode M        json (protocol v1) or text (plain text)    [json]
  --ws            connect over WebSocket (ws://HOST:PORT/ws, on the chat
                  port itself); JSON frames
  --json          print the result as one JSON object

Run the server with flood control and per-address caps off for a bench:
  chat server --flood-rate 0 --max-per-ip 0 --max-clients 0 --quiet
Many clients need many file descriptors: raise \`ulimit -n\` first.`;

/** A command-line mistake in `chat bench` arguments. */
export class BenchUsageError extends Error {}

function whole(raw: string | undefined, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new BenchUsageError(
      `--${name} must be a whole number from ${min}, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

/**
 * Parses `chat bench` arguments.
 *
 * @param args the arguments after `bench`
 * @returns the bench options, and the output flags
 * @throws {BenchUsageError} for a bad value or a stray argument
 */
export function parseBenchArgs(
  args: string[],
): BenchOptions & { json: boolean; help: boolean } {
  const { values, positionals } = parseArgs({
    args,
    options: {
      clients: { type: "string" },
      senders: { type: "string" },
      rate: { type: "string" },
      blast: { type: "boolean" },
      size: { type: "string" },
      duration: { type: "string" },
      rooms: { type: "string" },
      mode: { type: "string" },
      ws: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 2) {
    throw new BenchUsageError(`unexpected argument ${JSON.stringify(positionals[2])}`);
  }
  if (values.blast && values.rate !== undefined) {
    throw new BenchUsageError("--rate and --blast exclude each other");
  }
  if (values.mode !== undefined && values.mode !== "json" && values.mode !== "text") {
    throw new BenchUsageError(`--mode must be json or text, got ${JSON.stringify(values.mode)}`);
  }
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0 && Number.isFinite(duration))) {
    throw new BenchUsageError(
      `--duration must be a number of seconds, got ${JSON.stringify(values.duration)}`,
    );
  }
  const options: BenchOptions & { json: boolean; help: boolean } = {
    json: values.json ?? false,
    help: values.help ?? false,
  };
  if (positionals[0] !== undefined) options.hostname = positionals[0];
  const port = whole(positionals[1], "port", 1);
  const set = <K extends keyof BenchOptions>(key: K, value: BenchOptions[K] | undefined) => {
    if (value !== undefined) (options as BenchOptions)[key] = value;
  };
  set("port", port);
  set("clients", whole(values.clients, "clients", 2));
  set("senders", whole(values.senders, "senders", 1));
  set("rate", values.blast ? 0 : whole(values.rate, "rate", 1));
  set("size", whole(values.size, "size", 1));
  set("duration", duration);
  set("rooms", whole(values.rooms, "rooms", 0));
  set("mode", values.mode as "json" | "text" | undefined);
  if (values.ws) {
    if (values.mode === "text") {
      throw new BenchUsageError("--ws speaks JSON frames: no --mode text");
    }
    options.ws = true;
  }
  return options;
}

function formatReport(r: BenchResult, target: string): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return [
    `chat bench: ${r.clients} clients, ${r.senders} senders, ${
      r.rate > 0 ? `${r.rate} msg/s each` : "blast"
    }, ${r.size} B, ${r.duration} s, ${r.mode} mode${r.ws ? " over WebSocket" : ""}${
      r.rooms > 0 ? `, ${r.rooms} rooms` : ""
    }, ${target}`,
    `  messages       ${n(r.messages)} (${n(r.messagesPerSecond)}/s)`,
    `  deliveries     ${n(r.deliveries)} (${n(r.deliveriesPerSecond)}/s)`,
    `  delivered      ${(r.deliveredFraction * 100).toFixed(2)} %${
      r.disconnected ? `  (${r.disconnected} clients disconnected)` : ""
    }`,
    `  latency ms     p50 ${r.latencyMs.p50}  p90 ${r.latencyMs.p90}  p99 ${r.latencyMs.p99}  max ${r.latencyMs.max}`,
  ].join("\n");
}

/**
 * The `chat bench` command: parses arguments, runs {@linkcode bench}, prints
 * a progress line on stderr when it is a terminal, then the report (or one
 * JSON object with `--json`) on stdout.
 *
 * @param args the arguments after `bench`
 * @returns the exit code: 0 done, 1 cannot connect or run, 2 usage error
 */
export async function runBench(args: string[]): Promise<number> {
  let options: ReturnType<typeof parseBenchArgs>;
  try {
    options = parseBenchArgs(args);
  } catch (error) {
    const e = error as Error & { code?: string };
    if (error instanceof BenchUsageError || e.code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`chat bench: ${e.message} (see chat bench --help)`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const { json, help: _, ...benchOptions } = options;
  const target = `${benchOptions.hostname ?? DEFAULTS.hostname}:${
    benchOptions.port ?? DEFAULTS.port
  }`;
  const live = Deno.stderr.isTerminal();
  const stderr = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  try {
    const result = await bench({
      ...benchOptions,
      signal: controller.signal,
      ...(live
        ? {
          onProgress: (p: BenchProgress) =>
            stderr(
              `\r\x1b[K  ${p.elapsedS.toFixed(0)} s  sent ${p.sent}  delivered ${p.delivered}  ${
                Math.round(p.deliveriesPerSecond).toLocaleString("en-US")
              } deliveries/s`,
            ),
        }
        : {}),
    });
    if (live) stderr("\r\x1b[K");
    console.log(json ? JSON.stringify(result) : formatReport(result, target));
    return 0;
  } catch (error) {
    if (live) stderr("\r\x1b[K");
    if (error instanceof RangeError) {
      console.error(`chat bench: ${error.message}`);
      return 2;
    }
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`chat bench: cannot run against ${target}: ${reason}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
  }
}
