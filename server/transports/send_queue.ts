/**
 * A connection's bounded outbound byte queue, flushed in as few writes as
 * possible.
 *
 * @module
 */

import type { Pressure } from "./pressure.ts";

/**
 * Where a {@linkcode SendQueue} writes, and whom it tells when it gives up.
 * An object rather than three callbacks: a server holds thousands of queues,
 * and one reference per queue costs less than three closures.
 */
export interface SendQueueSink {
  /** Writes some bytes; resolves with how many were written (may be fewer). */
  writeSome(bytes: Uint8Array): Promise<number>;
  /** Called once when a push would pass `maxBytes`; the push is refused. */
  queueOverflowed?(): void;
  /** Called once when a write fails; the queue then refuses every push. */
  writeFailed?(error: unknown): void;
}

/** Options for {@linkcode SendQueue}. */
export interface SendQueueOptions {
  /**
   * Most bytes queued (including a write in flight). 0 means unlimited.
   * @default {1048576}
   */
  maxBytes?: number;
  /**
   * Flow control shared by a server's queues: this queue raises it while more
   * than `highWaterBytes` are queued, and lowers it once at most half are.
   */
  pressure?: Pressure;
  /**
   * Queued bytes above which this queue raises `pressure`.
   * @default {a quarter of maxBytes, or 256 KiB when unlimited}
   */
  highWaterBytes?: number;
}

/** Default for {@linkcode SendQueueOptions.maxBytes}: 1 MiB. */
export const DEFAULT_SEND_QUEUE_BYTES = 1024 * 1024;

const UNLIMITED_HIGH_WATER = 256 * 1024;

// The next turn of the event loop, through a MessageChannel: its message is
// an I/O event, so the runtime polls its I/O (and renews its budget) before
// the task runs, ~40 µs later. A 0 ms setTimeout waited ~2.5 ms; with
// setImmediate, fan-out receivers were dropped (their writes starved). One
// channel serves the whole process; its port is unref'd whenever no task
// waits, so it never keeps a process alive. (A channel per hop, closed
// after it, was ~3.5 % of the short-lived garbage in the latency scenario:
// each new port is wrapped for node:worker_threads once that is loaded.)
let channel: MessageChannel | undefined;
let nextTasks: (() => void)[] = [];
let spareTasks: (() => void)[] = [];
/** Deno's MessagePort can stop keeping the event loop alive (not in the DOM types). */
type RefPort = MessagePort & { ref(): void; unref(): void };
function nextTurn(task: () => void): void {
  if (channel === undefined) {
    channel = new MessageChannel();
    channel.port1.onmessage = runNextTasks;
  } else if (nextTasks.length === 0) (channel.port1 as RefPort).ref();
  nextTasks.push(task);
  channel.port2.postMessage(null);
}
function runNextTasks(): void {
  const tasks = nextTasks;
  nextTasks = spareTasks;
  for (const task of tasks) task();
  tasks.length = 0;
  spareTasks = tasks;
  if (nextTasks.length === 0) (channel!.port1 as RefPort).unref();
}

/**
 * Most writes all send queues together start before the event loop gets a
 * new turn: past it, the others wait for the next turn (see `nextTurn`), in
 * push order, with whatever was pushed to them meanwhile. Deno polls a
 * `conn.write` once inside the call, under the runtime's (tokio's) budget of
 * 128 I/O operations per turn; past it that poll comes back pending and the
 * write completes much later, often hundreds of milliseconds. In the rooms
 * scenario (2000 receivers in 20 rooms, 1000 messages/s) a bare Deno
 * broadcaster then delivered with p99 4-22 s and chat with 1.7-2.8 s
 * (docs/performance.md, "Many rooms"). Below 128, so that a room of 100
 * (the fan-out scenario) never waits.
 */
export const WRITES_PER_TURN = 120;

/**
 * Bytes waiting to be written to one peer. Pushes made in the same turn of
 * the event loop are joined and written with one call, at the end of the
 * turn (one microtask starts the writes of every queue pushed to in that
 * turn); while a write is in flight, new pushes collect for the next one.
 * A peer that does not read makes the queue grow until `maxBytes`, when the
 * push is refused and the sink's `queueOverflowed` runs: the caller drops
 * that peer (slow consumer), nobody else waits for it. Between the
 * high-water mark and the limit the queue raises the shared
 * {@linkcode Pressure}, so readers slow down before anyone is dropped.
 *
 * @example
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 * const written: Uint8Array[] = [];
 * const queue = new SendQueue({ writeSome: async (b) => (written.push(b.slice()), b.length) });
 * queue.push(new Uint8Array([1]));
 * queue.push(new Uint8Array([2]));
 * await queue.drained(); // written: one write of [1, 2]
 * ```
 */
export class SendQueue {
  readonly #sink: SendQueueSink;
  readonly #max: number;
  readonly #pressure: Pressure | undefined;
  readonly #highWater: number;
  #raised = false;
  #stalled = false;
  #progress = 0;
  #stallTimer: ReturnType<typeof setInterval> | undefined;
  // What waits for the next write: nothing, one chunk (the usual case, no
  // array), or several. Kept this way because a broadcast pushes once per
  // receiver, and a fresh array per write (grown to 16 slots by its first
  // push) was a large share of the server's young garbage.
  #pending: Uint8Array | Uint8Array[] | undefined;
  #writing: Uint8Array | undefined; // the write in flight
  #bytes = 0;
  #scheduled = false;
  #failed = false;
  #waiters: (() => void)[] | undefined; // created by the first drained()
  #below: number | undefined; // see whenBelow()
  #onBelow: (() => void) | undefined;
  // Bound once per queue, not once per write.
  readonly #onWritten = (n: number) => this.#written(n);
  readonly #onWriteFailed = (error: unknown) => this.#fail(error);

  /**
   * @param sink the writer, e.g. `{ writeSome: (b) => conn.write(b) }`
   * @param options limits and flow control
   */
  constructor(sink: SendQueueSink, options: SendQueueOptions = {}) {
    this.#sink = sink;
    this.#max = options.maxBytes ?? DEFAULT_SEND_QUEUE_BYTES;
    this.#pressure = options.pressure;
    this.#highWater = options.highWaterBytes ??
      (this.#max === 0 ? UNLIMITED_HIGH_WATER : Math.floor(this.#max / 4));
  }

  /** Bytes queued or in flight. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Whether this queue holds `pressure` raised now: over its high-water mark
   * and still making progress (a stalled queue lowers it, see STALL_MS).
   */
  get backlogged(): boolean {
    return this.#raised;
  }

  /**
   * Queues bytes. The queue keeps a reference: callers must not change them.
   *
   * @param bytes what to send
   * @returns `false` when refused: over `maxBytes` or after a write error
   */
  push(bytes: Uint8Array): boolean {
    if (this.#failed) return false;
    if (this.#max !== 0 && this.#bytes + bytes.length > this.#max) {
      this.#failed = true;
      this.#pending = undefined;
      this.#relieve();
      this.#sink.queueOverflowed?.();
      this.#wake();
      return false;
    }
    const pending = this.#pending;
    if (pending === undefined) this.#pending = bytes;
    else if (pending instanceof Uint8Array) this.#pending = [pending, bytes];
    else pending.push(bytes);
    this.#bytes += bytes.length;
    if (this.#bytes > this.#highWater && !this.#raised && !this.#stalled) this.#raise();
    if (!this.#scheduled && this.#writing === undefined) {
      this.#scheduled = true;
      SendQueue.#schedule(this);
    }
    return true;
  }

  /**
   * Calls `callback` once, as soon as at most `bytes` are queued (at once,
   * in a microtask, when that is already so). Never called after the queue
   * failed. One callback at a time: a new call replaces the previous one.
   * Used to produce long replies a page at a time, paced by the reader.
   *
   * @param bytes the level, in bytes
   * @param callback what to run
   */
  whenBelow(bytes: number, callback: () => void): void {
    if (this.#failed) return;
    if (this.#bytes <= bytes) {
      queueMicrotask(callback);
      return;
    }
    this.#below = bytes;
    this.#onBelow = callback;
  }

  /** Resolves once everything queued so far is written, or the queue failed. */
  drained(): Promise<void> {
    if (this.#bytes === 0 || this.#failed) return Promise.resolve();
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve));
  }

  // Queues that have pushes to write, flushed together by ONE microtask at
  // the end of the turn: a broadcast to N receivers schedules one task, not N.
  static #dirty: SendQueue[] = [];
  static #spare: SendQueue[] = [];

  static #schedule(queue: SendQueue): void {
    if (SendQueue.#dirty.push(queue) === 1) queueMicrotask(SendQueue.#flushDirty);
  }

  static #flushDirty(this: void): void {
    const queues = SendQueue.#dirty;
    SendQueue.#dirty = SendQueue.#spare;
    for (const queue of queues) {
      queue.#scheduled = false;
      if (queue.#writing === undefined) queue.#writeNext();
    }
    queues.length = 0;
    SendQueue.#spare = queues;
  }

  /** Starts writing what is pending, if anything; else wakes drained() waiters. */
  #writeNext(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined || this.#failed) {
      this.#wake();
      return;
    }
    this.#write(pending instanceof Uint8Array ? pending : joinShared(pending));
  }

  #write(buf: Uint8Array): void {
    this.#writing = buf;
    if (SendQueue.#budget === 0) {
      // The budget is spent: this write (and any after it) waits for the next turn.
      if (SendQueue.#later.push(this) - SendQueue.#laterHead === 1) nextTurn(SendQueue.#newTurn);
      return;
    }
    SendQueue.#budget--;
    try {
      this.#sink.writeSome(buf).then(this.#onWritten, this.#onWriteFailed);
    } catch (error) {
      this.#fail(error);
    }
  }

  // Writes left before the next ones wait for a new turn (see WRITES_PER_TURN),
  // and the queues whose write waits, in order: those from #laterHead on.
  static #budget = WRITES_PER_TURN;
  static #later: SendQueue[] = [];
  static #laterHead = 0;

  /** A new turn of the event loop: a full budget, and the writes that waited start. */
  static #newTurn(this: void): void {
    SendQueue.#budget = WRITES_PER_TURN;
    const later = SendQueue.#later;
    let i = SendQueue.#laterHead;
    // Up to the budget; the rest keep their places for the next turn. The
    // list is kept and its head moves: copying the rest at every turn (or
    // deferring them one by one) was most of the server's garbage in the
    // rooms scenario, where ~2000 queues wait and 120 go per turn.
    for (; i < later.length && SendQueue.#budget > 0; i++) {
      const queue = later[i]!;
      const buf = queue.#writing;
      if (buf === undefined || queue.#failed) continue;
      // What was pushed while it waited goes out in the same write.
      const pending = queue.#pending;
      queue.#pending = undefined;
      if (pending === undefined) queue.#write(buf);
      else {queue.#write(
          joinShared(pending instanceof Uint8Array ? [buf, pending] : [buf, ...pending]),
        );}
    }
    if (i === later.length) {
      later.length = 0;
      SendQueue.#laterHead = 0;
      return;
    }
    if (i >= 1024 && i * 2 >= later.length) {
      // Mostly done: move the rest to the front, in place.
      later.copyWithin(0, i);
      later.length -= i;
      i = 0;
    }
    SendQueue.#laterHead = i;
    nextTurn(SendQueue.#newTurn);
  }

  #written(n: number): void {
    const buf = this.#writing!;
    this.#writing = undefined;
    this.#bytes -= n;
    this.#progress++;
    this.#stalled = false;
    if (this.#bytes <= this.#highWater / 2) this.#relieve();
    if (this.#failed) return this.#wake();
    if (n < buf.length) this.#write(buf.subarray(n));
    else this.#writeNext();
    if (this.#onBelow !== undefined && this.#bytes <= this.#below!) {
      const callback = this.#onBelow;
      this.#onBelow = undefined;
      callback();
    }
  }

  #fail(error: unknown): void {
    this.#writing = undefined;
    this.#pending = undefined;
    if (!this.#failed) {
      this.#failed = true;
      this.#sink.writeFailed?.(error);
    }
    this.#relieve();
    this.#wake();
  }

  #raise(): void {
    if (!this.#pressure) return;
    this.#raised = true;
    this.#pressure.raise(this);
    // A queue whose writes make no progress for STALL_MS is a peer that has
    // stopped reading, not one that lags: it stops holding everyone's reads
    // back and is left to fill up and be dropped as a slow consumer.
    let seen = this.#progress;
    this.#stallTimer = setInterval(() => {
      if (this.#progress !== seen) {
        seen = this.#progress;
        return;
      }
      this.#stalled = true;
      this.#relieve();
    }, STALL_MS);
  }

  #relieve(): void {
    if (!this.#raised) return;
    this.#raised = false;
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#pressure?.lower(this);
  }

  #wake(): void {
    if (this.#bytes !== 0 && !this.#failed) return;
    const waiters = this.#waiters;
    this.#waiters = undefined;
    for (const wake of waiters ?? []) wake();
  }
}

/** Milliseconds without a completed write after which a queue counts as stalled. */
const STALL_MS = 100;

/**
 * Concatenates byte chunks; a single chunk is returned as is (not copied).
 *
 * @param chunks the chunks, in order
 * @returns one array holding all their bytes
 */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

// The last join and its parts. Receivers of the same broadcasts usually have
// the very same chunks (a room's shared runs) waiting, in the same order: they
// then share one joined copy instead of each copying every byte again (in the
// fan-out scenario 3 of 4 joins, ~75 MB of copies in a 2M-delivery run; the
// server's CPU time -16 % text, -20 % JSON). Chunks are never changed once
// queued, so sharing them is safe.
let lastParts: readonly Uint8Array[] = [];
let lastJoined: Uint8Array | undefined;

/** {@linkcode concat}, reusing the previous result when `parts` are the same chunks. */
function joinShared(parts: readonly Uint8Array[]): Uint8Array {
  if (lastJoined !== undefined && parts.length === lastParts.length) {
    let i = 0;
    while (i < parts.length && parts[i] === lastParts[i]) i++;
    if (i === parts.length) return lastJoined;
  }
  lastJoined = concat(parts);
  lastParts = parts;
  return lastJoined;
}
