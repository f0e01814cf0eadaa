/**
 * Pure statistics for `chat bench`: a latency histogram with bounded memory,
 * percentiles, rates and the delivered fraction. No I/O, no clocks.
 *
 * @module
 */

/**
 * Relative width of one histogram bucket: 1 %. A percentile read from the
 * histogram is the upper edge of its bucket, so it is at most 1 % above the
 * true value (and never below it).
 */
export const BUCKET_GROWTH = 1.01;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

/**
 * Latency samples in microseconds, counted in log-spaced buckets (1 % wide),
 * so that millions of deliveries cost a few kilobytes. The maximum is kept
 * exactly.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./stats.ts";
 * const h = new LatencyHistogram();
 * for (const us of [100, 200, 300, 400]) h.record(us);
 * h.percentile(50); // 202 (200 µs, rounded up to its bucket's edge)
 * h.max; // 400
 * ```
 */
export class LatencyHistogram {
  #counts: number[] = [];
  #count = 0;
  #max = 0;

  /** How many samples were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The largest sample in µs (0 when empty). */
  get max(): number {
    return this.#max;
  }

  /**
   * Records one sample.
   *
   * @param micros latency in µs; values below 1 count as 1
   * @param times how many deliveries had this latency (default 1)
   */
  record(micros: number, times = 1): void {
    const us = Math.max(1, micros);
    const index = Math.ceil(Math.log(us) / LOG_GROWTH - 1e-9);
    while (this.#counts.length <= index) this.#counts.push(0);
    this.#counts[index]! += times;
    this.#count += times;
    if (us > this.#max) this.#max = us;
  }

  /**
   * The nearest-rank percentile: the smallest bucket edge at or below which
   * `p` % of the samples lie (capped at the exact maximum).
   *
   * @param p the percentile, 0 to 100
   * @returns µs, or 0 when there are no samples
   * @throws {RangeError} when `p` is outside 0–100
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`Cannot take percentile ${p}: not in 0–100`);
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, Math.ceil(BUCKET_GROWTH ** i));
    }
    return this.#max;
  }

  /**
   * Adds another histogram's samples to this one.
   *
   * @param other the histogram to merge in
   */
  merge(other: LatencyHistogram): void {
    other.#counts.forEach((n, i) => {
      if (n > 0) {
        while (this.#counts.length <= i) this.#counts.push(0);
        this.#counts[i]! += n;
      }
    });
    this.#count += other.#count;
    if (other.#max > this.#max) this.#max = other.#max;
  }
}

/** Raw counts of one bench run, as the load generator collected them. */
export interface BenchCounts {
  /** Messages the senders wrote. */
  sent: number;
  /** Deliveries expected: each message times the receivers that should get it. */
  expected: number;
  /** Deliveries seen (tokens found by receivers). */
  delivered: number;
  /** Milliseconds from the first send to the last send. */
  sendMs: number;
  /** Milliseconds from the first send to the last delivery. */
  deliverMs: number;
  /** Delivery latencies. */
  latency: LatencyHistogram;
}

/** The figures `chat bench` reports (also its `--json` output, plus the run's settings). */
export interface BenchSummary {
  /** Messages the senders wrote. */
  messages: number;
  /** Messages per second over the sending period. */
  messagesPerSecond: number;
  /** Deliveries seen by receivers. */
  deliveries: number;
  /** Deliveries per second, from the first send to the last delivery. */
  deliveriesPerSecond: number;
  /** `deliveries / expected`, 0–1 (1 when nothing was expected). */
  deliveredFraction: number;
  /** Latency percentiles and maximum in milliseconds. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/**
 * Events per second.
 *
 * @param count how many
 * @param ms over how many milliseconds
 * @returns the rate, 0 for an empty period
 *
 * @example
 * ```ts
 * import { rate } from "./stats.ts";
 * rate(500, 250); // 2000
 * ```
 */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

/**
 * The share of expected deliveries that arrived.
 *
 * @param delivered deliveries seen
 * @param expected deliveries expected
 * @returns 0–1 (more than 1 only if the server duplicated messages); 1 when
 * nothing was expected
 *
 * @example
 * ```ts
 * import { deliveredFraction } from "./stats.ts";
 * deliveredFraction(990, 1000); // 0.99
 * ```
 */
export function deliveredFraction(delivered: number, expected: number): number {
  return expected > 0 ? delivered / expected : 1;
}

/**
 * Turns raw counts into the reported figures.
 *
 * @param counts what the run collected
 * @returns rates, delivered fraction and latency in ms (3 decimals)
 *
 * @example
 * ```ts
 * import { LatencyHistogram, summarize } from "./stats.ts";
 * const latency = new LatencyHistogram();
 * latency.record(1000, 4);
 * summarize({ sent: 2, expected: 4, delivered: 4, sendMs: 1000, deliverMs: 2000, latency });
 * // { messages: 2, messagesPerSecond: 2, deliveries: 4, deliveriesPerSecond: 2, … }
 * ```
 */
export function summarize(counts: BenchCounts): BenchSummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    messages: counts.sent,
    messagesPerSecond: Math.round(rate(counts.sent, counts.sendMs)),
    deliveries: counts.delivered,
    deliveriesPerSecond: Math.round(rate(counts.delivered, counts.deliverMs)),
    deliveredFraction: deliveredFraction(counts.delivered, counts.expected),
    latencyMs: {
      p50: ms(counts.latency.percentile(50)),
      p90: ms(counts.latency.percentile(90)),
      p99: ms(counts.latency.percentile(99)),
      max: ms(counts.latency.max),
    },
  };
}
