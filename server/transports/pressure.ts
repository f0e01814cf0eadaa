/**
 * Flow control between fast senders and receivers that fall behind: send
 * queues over a high-water mark raise the pressure, and a connection whose
 * lines reached such a queue pauses reading until that queue has caught up,
 * for a bounded time.
 *
 * @module
 */

/** A relievedOf() wait. */
interface Waiter {
  queues: ReadonlySet<object>;
  wake: () => void;
}

/**
 * The set of send queues over their high-water mark, shared by every
 * connection of a server. Without it a sender that blasts can fill a healthy
 * but momentarily slower receiver's queue to its limit, and that receiver is
 * dropped as a slow consumer. With it, a sender whose messages reached a
 * backlogged queue pauses reading ({@linkcode relievedOf}) until that queue
 * is drained enough, so the kernel's TCP flow control slows that sender
 * instead. Only the receivers a sender feeds hold it back: a backlog in one
 * room does not pause the senders of another (before, any backlog anywhere
 * paused every reader: {@linkcode relieved}). A pause never lasts longer
 * than the caller's wait: a peer that never reads still fills its queue, is
 * dropped, and no one waits for it.
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
  // relievedOf() waits: each wakes once none of its queues is backlogged.
  #targeted: Waiter[] = [];

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
    if (!this.#backlogged.delete(queue)) return;
    if (this.#targeted.length > 0) this.#wakeTargeted(queue);
    if (this.#backlogged.size > 0) return;
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

  /**
   * Whether a queue is over its high-water mark.
   *
   * @param queue the queue
   */
  isRaised(queue: object): boolean {
    return this.#backlogged.has(queue);
  }

  /**
   * Waits until none of `queues` is backlogged, or `maxWaitMs` passed: what
   * a sender does after its lines reached those queues.
   *
   * @param queues the queues (identities passed to {@linkcode raise})
   * @param maxWaitMs longest wait in milliseconds
   * @returns when reading may go on
   */
  relievedOf(queues: ReadonlySet<object>, maxWaitMs: number): Promise<void> {
    if (!this.#anyRaised(queues)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        queues,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#targeted = this.#targeted.filter((w) => w !== waiter);
        resolve();
      }, maxWaitMs);
      this.#targeted.push(waiter);
    });
  }

  #anyRaised(queues: ReadonlySet<object>): boolean {
    for (const queue of queues) if (this.#backlogged.has(queue)) return true;
    return false;
  }

  #wakeTargeted(lowered: object): void {
    const still: Waiter[] = [];
    for (const waiter of this.#targeted) {
      if (waiter.queues.has(lowered) && !this.#anyRaised(waiter.queues)) waiter.wake();
      else still.push(waiter);
    }
    this.#targeted = still;
  }
}
