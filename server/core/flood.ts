/**
 * Flood control: a token bucket per connection.
 *
 * @module
 */

/**
 * A token bucket (burst `capacity`, refilled at `rate` tokens per second).
 * The server takes one token per line before handling it and, when none is
 * left, pauses reading from that connection for the returned delay: a flood
 * is slowed down, never dropped, and order is kept.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./flood.ts";
 * let now = 0;
 * const bucket = new TokenBucket(2, 1, () => now);
 * bucket.take(); // 0
 * bucket.take(); // 0
 * bucket.take(); // 1000 (ms to wait)
 * ```
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #rate: number;
  readonly #now: () => number;
  #tokens: number;
  #updated: number;

  /**
   * @param capacity burst size in tokens (lines)
   * @param rate tokens per second; 0 disables the bucket (never waits)
   * @param now clock in milliseconds
   */
  constructor(
    capacity: number,
    rate: number,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#capacity = Math.max(1, capacity);
    this.#rate = rate;
    this.#now = now;
    this.#tokens = this.#capacity;
    this.#updated = now();
  }

  /**
   * Takes one token.
   *
   * @returns 0 when a token was available, else the milliseconds to wait
   * before the token (already taken, on credit) may be used
   */
  take(): number {
    if (this.#rate <= 0) return 0;
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens * 1000 / this.#rate);
  }

  /**
   * Takes one token only if one is there (a quota, not a delay).
   *
   * @returns 0 when a token was taken, else the milliseconds until one is
   * there (nothing was taken)
   */
  tryTake(): number {
    if (this.#rate <= 0) return 0;
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) * 1000 / this.#rate);
  }

  /** Adds the tokens earned since the last update, up to the burst. */
  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (now - this.#updated) * this.#rate / 1000,
    );
    this.#updated = now;
  }

  /** Gives back a token taken by {@linkcode tryTake} (up to the burst). */
  untake(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + 1);
  }

  /** Whether the bucket is full again (it can be forgotten). */
  get full(): boolean {
    if (this.#rate <= 0) return true;
    return this.#tokens + (this.#now() - this.#updated) * this.#rate / 1000 >= this.#capacity;
  }
}
