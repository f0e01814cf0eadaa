/**
 * Flow control between fast senders and receivers that fall behind: send
 * queues over a high-water mark raise the pressure, and connections pause
 * reading while it lasts, for a bounded time.
 *
 * @module
 */

/**
 * The set of send queues over their high-water mark, shared by every
 * connection of a server. Without it a sender that blasts can fill a healthy
 * but momentarily slower receiver's queue to its limit, and that receiver is
 * dropped as a slow consumer. With it, reading from senders pauses while any
 * queue is backlogged, so the kernel's TCP flow control slows the senders
 * instead. A pause never lasts longer than the caller's wait: a peer that
 * never reads still fills its queue, is dropped, and no one waits for it.
 *
 * @example
 * ```ts
 * import { Pressure } from "./pressure.ts";
 * const pressure = new Pressure();
 * const queue = {};
 * pressure.raise(queue);
 * const paused = pressure.relieved(1000);
 * pressure.lower(queue); // `paused` resolves now
 * await paused;
 * ```
 */
export class Pressure {
  readonly #backlogged = new Set<object>();
  #waiters: (() => void)[] = [];

  /** Whether any queue is over its high-water mark. */
  get active(): boolean {
    return this.#backlogged.size > 0;
  }

  /**
   * Marks a queue as over its high-water mark.
   *
   * @param queue the queue (any object identity)
   */
  raise(queue: object): void {
    this.#backlogged.add(queue);
  }

  /**
   * Marks a queue as drained enough, or gone.
   *
   * @param queue the queue
   */
  lower(queue: object): void {
    if (!this.#backlogged.delete(queue) || this.#backlogged.size > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Waits until no queue is backlogged, or `maxWaitMs` passed.
   *
   * @param maxWaitMs longest wait in milliseconds
   * @returns when reading may go on
   */
  relieved(maxWaitMs: number): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
