/**
 * Rate limits on failed logins, per account and per address: the first few
 * failures are free, each further one doubles the wait before the next try,
 * and after enough failures the key is locked for a while. Kept in memory (a
 * restart forgets them); bounded in size.
 *
 * @module
 */

/** Settings for {@linkcode LoginLimiter}; every one is a `chat server` flag. */
export interface LoginLimits {
  /** Failures allowed before delays start (`--login-free-attempts`). @default {3} */
  freeAttempts: number;
  /** First delay in ms after the free attempts; doubles per failure (`--login-delay`). @default {1000} */
  delayMs: number;
  /** Failures after which the key is locked (`--login-lock-after`). @default {10} */
  lockAfter: number;
  /** How long a lock lasts, in ms (`--login-lock`). @default {900000} */
  lockMs: number;
}

/** The defaults of {@linkcode LoginLimits}. */
export const LOGIN_LIMIT_DEFAULTS: Readonly<LoginLimits> = Object.freeze({
  freeAttempts: 3,
  delayMs: 1000,
  lockAfter: 10,
  lockMs: 15 * 60_000,
});

/** Most keys tracked; the oldest are forgotten first beyond this. */
const MAX_KEYS = 100_000;

interface Failures {
  count: number;
  last: number;
}

/** Outcome of {@linkcode LoginLimiter.check}. */
export type LoginVerdict =
  | { ok: true }
  | { ok: false; locked: boolean; retryMs: number };

/** Failed-login counters by key (`a:alice` for an account, `ip:10.0.0.9` for an address). */
export class LoginLimiter {
  readonly #limits: LoginLimits;
  readonly #failures = new Map<string, Failures>();

  /** @param limits see {@linkcode LoginLimits} */
  constructor(limits: Partial<LoginLimits> = {}) {
    this.#limits = { ...LOGIN_LIMIT_DEFAULTS, ...limits };
  }

  /**
   * Whether a login attempt under all of these keys may be tried now.
   *
   * @param keys the account key and the address key
   * @param now the time (ms since epoch)
   * @returns ok, or how long to wait and whether it is a lock
   */
  check(keys: readonly string[], now = Date.now()): LoginVerdict {
    let worst: LoginVerdict = { ok: true };
    for (const key of keys) {
      const verdict = this.#verdict(key, now);
      if (!verdict.ok && (worst.ok || verdict.retryMs > worst.retryMs)) worst = verdict;
    }
    return worst;
  }

  /**
   * Counts a failed attempt under each key.
   *
   * @param keys the account key and the address key
   * @param now the time (ms since epoch)
   */
  fail(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) {
      const entry = this.#failures.get(key);
      this.#failures.delete(key); // re-inserted last: the map stays in age order
      this.#failures.set(key, { count: (entry?.count ?? 0) + 1, last: now });
    }
    while (this.#failures.size > MAX_KEYS) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
  }

  /**
   * Forgets the failures under a key (after a successful login).
   *
   * @param key an account key
   */
  succeed(key: string): void {
    this.#failures.delete(key);
  }

  #verdict(key: string, now: number): LoginVerdict {
    const entry = this.#failures.get(key);
    if (!entry) return { ok: true };
    const { freeAttempts, delayMs, lockAfter, lockMs } = this.#limits;
    if (now - entry.last >= lockMs) {
      this.#failures.delete(key);
      return { ok: true };
    }
    if (lockAfter > 0 && entry.count >= lockAfter) {
      return { ok: false, locked: true, retryMs: entry.last + lockMs - now };
    }
    if (entry.count < freeAttempts) return { ok: true };
    const wait = Math.min(lockMs, delayMs * 2 ** (entry.count - freeAttempts));
    const left = entry.last + wait - now;
    return left > 0 ? { ok: false, locked: false, retryMs: left } : { ok: true };
  }
}
