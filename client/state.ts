/**
 * What the terminal client knows about its session, without any I/O: its
 * nickname, its rooms and current room, the resume state (token, last seen
 * id), and which message ids it has shown already, so that nothing is shown
 * twice across a reconnect.
 *
 * @module
 */

import { type ClientFrame, nickKey, ResumeState, roomKey } from "../protocol/mod.ts";
import type { ServerFrame } from "../protocol/mod.ts";

/** How many shown message ids are remembered for de-duplication. */
export const SEEN_IDS = 10_000;

/**
 * The client's session as the server last described it, fed every frame in
 * order by {@linkcode ClientState.observe}.
 *
 * @example
 * ```ts
 * import { ClientState } from "./state.ts";
 * const state = new ClientState("alice");
 * state.observe({ type: "welcome", version: 1, nick: "alice", server: "chat", online: 1, room: "#lobby" });
 * state.observe({ type: "room", room: "#dev", topic: "", members: 1 });
 * state.currentRoom; // "#dev"
 * ```
 */
export class ClientState {
  /** Token and last seen id for the next `hello`. */
  readonly resume: ResumeState = new ResumeState();
  #nick: string;
  #currentRoom: string | null = null;
  /** Rooms by key, with the name as the server spells it; in join order. */
  readonly #rooms = new Map<string, string>();
  readonly #seen = new Set<number>();

  /** @param nick the nickname asked for (until a `welcome` says otherwise) */
  constructor(nick: string) {
    this.#nick = nick;
  }

  /** The nickname. */
  get nick(): string {
    return this.#nick;
  }

  /** The current room, or `null` when in none. */
  get currentRoom(): string | null {
    return this.#currentRoom;
  }

  /** The rooms the session is in, in the order they were joined. */
  get rooms(): string[] {
    return [...this.#rooms.values()];
  }

  /**
   * Notes a server frame and says whether to show it.
   *
   * A frame is not shown when it is a live (non-history) message already
   * shown (same id), or the user's own room message coming back in a resume
   * replay (the server never echoes those live; the client showed it when it
   * was sent, or never shows own lines when piped).
   *
   * @param frame the frame, in the order received
   * @returns whether to show it
   */
  observe(frame: ServerFrame): boolean {
    this.resume.observe(frame);
    switch (frame.type) {
      case "welcome":
        this.#nick = frame.nick;
        if (!frame.resumed) this.#rooms.clear();
        if (frame.room !== undefined) this.#setCurrent(frame.room);
        return true;
      case "room":
        this.#setCurrent(frame.room);
        return true;
      case "joined":
        if (this.#isMe(frame.nick) && frame.room !== undefined) this.#add(frame.room);
        return true;
      case "left":
        if (this.#isMe(frame.nick) && frame.room !== undefined) {
          this.#rooms.delete(roomKey(frame.room));
        }
        return true;
      case "renamed":
        if (this.#isMe(frame.from)) this.#nick = frame.to;
        return true;
      case "ack":
        this.#remember(frame.id);
        return true;
      case "message":
      case "action":
      case "private":
        if (frame.history || frame.id === undefined) return true;
        if (this.#seen.has(frame.id)) return false;
        this.#remember(frame.id);
        return frame.type === "private" || !this.#isMe(frame.from);
      default:
        return true;
    }
  }

  /**
   * Notes a frame the client sends (a `quit` ends resuming).
   *
   * @param frame the frame
   */
  sent(frame: ClientFrame): void {
    this.resume.sent(frame);
  }

  /**
   * What to send after a fresh (not resumed) `welcome` on a reconnect, to
   * get back into the rooms the session was in: a `join` per room the server
   * did not put it in, then one for the room that was current.
   *
   * @param before the rooms before the reconnect ({@linkcode rooms})
   * @param current the current room before the reconnect
   * @returns the frames, possibly none
   */
  rejoin(before: readonly string[], current: string | null): ClientFrame[] {
    const missing = before.filter((name) => !this.#rooms.has(roomKey(name)));
    const frames: ClientFrame[] = missing.map((name) => ({ type: "join", room: name }));
    // Each join makes its room current: end on the room that was current.
    const after = missing.at(-1) ?? this.#currentRoom;
    if (current !== null && (after === null || roomKey(after) !== roomKey(current))) {
      frames.push({ type: "join", room: current });
    }
    return frames;
  }

  #isMe(nick: string): boolean {
    return nickKey(nick) === nickKey(this.#nick);
  }

  #setCurrent(room: string | null): void {
    this.#currentRoom = room;
    if (room !== null) this.#add(room);
  }

  #add(room: string): void {
    const key = roomKey(room);
    if (!this.#rooms.has(key)) this.#rooms.set(key, room);
  }

  #remember(id: number): void {
    this.#seen.add(id);
    if (this.#seen.size > SEEN_IDS) {
      // Sets iterate in insertion order: drop the oldest.
      this.#seen.delete(this.#seen.values().next().value!);
    }
  }
}
