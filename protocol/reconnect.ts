/**
 * What a client needs to survive a dropped connection, without any I/O: the
 * backoff schedule between attempts, and the resume state (token and last
 * seen id) that turns the next `hello` into a resume.
 *
 * The terminal client's loop is meant to be:
 *
 * ```ts ignore
 * const resume = new ResumeState();
 * for (let attempt = 0; ; attempt++) {
 *   const conn = await dial().catch(() => undefined);
 *   if (conn) {
 *     send(resume.hello(nick));           // resume when a token is known
 *     for await (const frame of frames) {
 *       resume.observe(frame);            // every server frame
 *       if (frame.type === "welcome") attempt = -1; // connected: reset backoff
 *     }
 *     if (resume.quitting) break;         // after our own /quit: no reconnect
 *   }
 *   await sleep(backoffDelay(attempt));
 * }
 * ```
 *
 * @module
 */

import type { ClientFrame, ServerFrame } from "./frames.ts";
import { PROTOCOL_VERSION } from "./limits.ts";

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** First delay, in ms. @default {1000} */
  baseMs?: number;
  /** Longest delay, in ms. @default {30000} */
  maxMs?: number;
  /** Relative jitter: the delay is scaled by a factor in [1 - jitter, 1 + jitter]. @default {0.2} */
  jitter?: number;
  /** Source of randomness in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * The wait before reconnect attempt `attempt` (0 for the first): `baseMs`
 * doubling per attempt up to `maxMs`, then scaled by a random jitter so that
 * many clients dropped at once do not return in lockstep. Never above
 * `maxMs`.
 *
 * @param attempt attempts made so far since the last successful connection
 * @param options see {@linkcode BackoffOptions}
 * @returns milliseconds to wait
 * @throws {RangeError} when `attempt` is negative or not an integer
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./reconnect.ts";
 * backoffDelay(0, { random: () => 0.5 }); // 1000
 * backoffDelay(10, { random: () => 0.5 }); // 30000
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`Cannot compute a backoff for attempt ${attempt}: it must be >= 0`);
  }
  const { baseMs = 1000, maxMs = 30_000, jitter = 0.2, random = Math.random } = options;
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const scaled = plain * (1 - jitter + 2 * jitter * random());
  return Math.round(Math.min(maxMs, Math.max(0, scaled)));
}

/**
 * Tracks what a resume needs: the token from `welcome` and the highest
 * message id seen (from `message`, `action` and `private` frames and from
 * `ack`s of our own messages; history replays are older and never raise it).
 */
export class ResumeState {
  #token: string | undefined;
  #lastId = 0;
  #quitting = false;

  /** The resume token, once welcomed over JSON. */
  get token(): string | undefined {
    return this.#token;
  }

  /** Highest message id seen (0 when none). */
  get lastId(): number {
    return this.#lastId;
  }

  /** Whether the user quit: the client must not reconnect. */
  get quitting(): boolean {
    return this.#quitting;
  }

  /**
   * Notes a frame from the server.
   *
   * @param frame any server frame
   */
  observe(frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome":
        if (frame.resume !== undefined) this.#token = frame.resume;
        break;
      case "message":
      case "action":
      case "private":
      case "ack":
        if (frame.id !== undefined && frame.id > this.#lastId) this.#lastId = frame.id;
        break;
      case "error":
        // The token no longer works: the next hello starts a fresh session.
        if (frame.code === "resume_failed") this.#token = undefined;
        break;
    }
  }

  /**
   * Notes a frame the client sends (a `quit` means: do not reconnect).
   *
   * @param frame the frame being sent
   */
  sent(frame: ClientFrame): void {
    if (frame.type === "quit") this.#quitting = true;
  }

  /**
   * The `hello` for the next connection: a resume when a token is known
   * (the server then replays every message above {@linkcode lastId}),
   * otherwise a fresh hello.
   *
   * @param nick nickname to ask for when the resume fails or there is none
   * @param client optional client name
   * @returns the frame
   */
  hello(nick: string, client?: string): ClientFrame {
    return {
      type: "hello",
      version: PROTOCOL_VERSION,
      nick,
      ...(client !== undefined ? { client } : {}),
      ...(this.#token !== undefined ? { resume: this.#token, last_id: this.#lastId } : {}),
    };
  }
}
