/**
 * One chat room: its members online, its topic and fan-out to them. Knows
 * nothing about sockets or storage.
 *
 * @module
 */

import { roomKey } from "../../protocol/mod.ts";
import type { Deliverable } from "./outbound.ts";
import type { Session } from "./session.ts";

/**
 * A room. Its name keeps the case it was created with; rooms are compared by
 * {@linkcode roomKey} (lower case).
 *
 * @example
 * ```ts
 * import { Room } from "./room.ts";
 * const room = new Room("#Dev");
 * room.key; // "#dev"
 * ```
 */
export class Room {
  /** Display name, e.g. `#Dev`. */
  readonly name: string;
  /** Comparison key, e.g. `#dev`. */
  readonly key: string;
  /** The topic; empty when none. */
  topic = "";
  /** Who set the topic, if anyone. */
  topicBy: string | undefined;
  /** When the topic was set (ms since epoch). */
  topicTs: number | undefined;
  readonly #members = new Set<Session>();
  /** Since when the room has had no member (ms since epoch); `undefined` while it has one. */
  emptySince: number | undefined = Date.now();
  /** Address key of the connection that created it, while it counts against that address's share. */
  creator: string | undefined;

  /** @param name a valid room name (see `isRoomName`) */
  constructor(name: string) {
    this.name = name;
    this.key = roomKey(name);
  }

  /** Members online. */
  get size(): number {
    return this.#members.size;
  }

  /** The members online. */
  members(): IterableIterator<Session> {
    return this.#members.values();
  }

  /**
   * Whether a session is a member.
   *
   * @param session the session
   */
  has(session: Session): boolean {
    return this.#members.has(session);
  }

  /**
   * Adds a member.
   *
   * @param session the session
   * @returns false when it already was one
   */
  add(session: Session): boolean {
    if (this.#members.has(session)) return false;
    this.#members.add(session);
    this.emptySince = undefined;
    return true;
  }

  /**
   * Removes a member.
   *
   * @param session the session
   * @returns whether it was one
   */
  remove(session: Session): boolean {
    if (!this.#members.delete(session)) return false;
    if (this.#members.size === 0) this.emptySince = Date.now();
    return true;
  }

  /**
   * Sends prepared frames, encoded once per wire format, to every member
   * outside a set.
   *
   * @param out the frames, e.g. an `Outbound` or `OutboundRun`
   * @param except members who do not get them (the senders)
   * @returns the `backlogged` identities of members whose send queue is over
   * its high-water mark after the delivery (for flow control), if any
   */
  broadcast(out: Deliverable, except: ReadonlySet<Session>): object[] | undefined {
    let behind: object[] | undefined;
    for (const session of this.#members) {
      if (except.has(session)) continue;
      session.deliver(out);
      const backlogged = session.backlogged;
      if (backlogged !== undefined) (behind ??= []).push(backlogged);
    }
    return behind;
  }

  /** Member nicknames (once each: an account's connections share one), sorted without regard to case. */
  nicks(): string[] {
    return [...new Set([...this.#members].map((s) => s.nick!))].sort((a, b) =>
      a.localeCompare(b, undefined, { sensitivity: "base" })
    );
  }
}
