/**
 * The chat's shared state: who is online under which nickname, and fan-out.
 * Knows nothing about sockets; sessions reach their peers through a
 * {@linkcode Transport}.
 *
 * @module
 */

import {
  checkNick,
  DEFAULT_TEXT_LIMITS,
  describeNickProblem,
  type ErrorCode,
  nickKey,
  normalizeNick,
  type ServerFrame,
  type TextLimits,
} from "../protocol/mod.ts";
import { Outbound } from "./outbound.ts";
import type { Session } from "./session.ts";

/** A log line sink (the server writes these to stderr). */
export type Logger = (line: string) => void;

/** Options for {@linkcode Hub}. */
export interface HubOptions {
  /** Text limits applied to every message. @default {DEFAULT_TEXT_LIMITS} */
  limits?: TextLimits;
  /** Where connect/nickname/rename/disconnect lines go. @default {no logging} */
  log?: Logger;
  /** Server name sent in `welcome`. @default {"chat"} */
  name?: string;
}

/** Outcome of {@linkcode Hub.setNick}. */
export type NickResult =
  | { ok: true; nick: string; previous: string | undefined }
  | { ok: false; code: ErrorCode; message: string };

/**
 * Registered sessions by nickname key (NFKC + lower case, see `nickKey`), so
 * that uniqueness and renames are one map operation each.
 */
export class Hub {
  /** Text limits for messages. */
  readonly limits: TextLimits;
  /** Server name for `welcome`. */
  readonly name: string;
  /** Log line sink. */
  readonly log: Logger;
  readonly #byKey = new Map<string, Session>();

  /** @param options see {@linkcode HubOptions} */
  constructor(options: HubOptions = {}) {
    this.limits = options.limits ?? DEFAULT_TEXT_LIMITS;
    this.name = options.name ?? "chat";
    this.log = options.log ?? (() => {});
  }

  /** How many sessions have a nickname. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Every registered session. */
  sessions(): IterableIterator<Session> {
    return this.#byKey.values();
  }

  /**
   * Gives a session a nickname, or changes it. Renaming to another case of
   * one's own nickname is allowed.
   *
   * @param session the session
   * @param requested the nickname as typed
   * @returns the normalised nickname and the previous one, or a
   * `nick_taken` / `nick_invalid` error
   */
  setNick(session: Session, requested: string): NickResult {
    const nick = normalizeNick(requested);
    const problem = checkNick(nick);
    if (problem) {
      return { ok: false, code: "nick_invalid", message: describeNickProblem(nick, problem) };
    }
    const key = nickKey(nick);
    const holder = this.#byKey.get(key);
    if (holder && holder !== session) {
      return {
        ok: false,
        code: "nick_taken",
        message: `nickname ${JSON.stringify(nick)} is taken`,
      };
    }
    const previous = session.nick;
    if (previous !== undefined) this.#byKey.delete(nickKey(previous));
    this.#byKey.set(key, session);
    return { ok: true, nick, previous };
  }

  /**
   * Finds a registered session by nickname, without regard to case.
   *
   * @param nick a nickname
   * @returns the session, if online
   */
  find(nick: string): Session | undefined {
    return this.#byKey.get(nickKey(normalizeNick(nick)));
  }

  /**
   * Removes a session's nickname (on disconnect).
   *
   * @param session the session
   * @returns whether it was registered
   */
  remove(session: Session): boolean {
    if (session.nick === undefined) return false;
    const key = nickKey(session.nick);
    if (this.#byKey.get(key) !== session) return false;
    this.#byKey.delete(key);
    return true;
  }

  /**
   * Sends a frame to every registered session but one. The frame is encoded
   * once per wire format, whatever the number of receivers.
   *
   * @param frame the frame
   * @param except the sender, who does not get it back
   */
  broadcast(frame: ServerFrame, except?: Session): void {
    const out = new Outbound(frame);
    for (const session of this.#byKey.values()) {
      if (session !== except) session.deliver(out);
    }
  }

  /** Nicknames online, sorted without regard to case. */
  nicks(): string[] {
    return [...this.#byKey.values()].map((s) => s.nick!).sort((a, b) =>
      a.localeCompare(b, undefined, { sensitivity: "base" })
    );
  }
}
