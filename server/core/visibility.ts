/**
 * Who may see which stored messages: the one place that decides it, for
 * search (and any later reader of stored messages on a user's behalf).
 *
 * @module
 */

import type { SearchScope } from "../store/store.ts";
import type { Room } from "./room.ts";
import type { Session } from "./session.ts";

/**
 * The stored messages a session may see: the rooms it is in now (all of
 * their kept history, as `/history` shows to members), and the private
 * messages it sent or received. With `room`, only that room (which the
 * caller checked the session is in), and no private messages.
 *
 * Private conversations are matched by identity (`Session.identity`), not
 * by nickname: whoever takes a nickname later does not find its messages.
 *
 * @param session an active session
 * @param room narrow the scope to one room
 * @returns the scope for `Store.search`
 */
export function visibleTo(session: Session, room?: Room): SearchScope {
  if (room !== undefined) return { rooms: [room.key], privateKey: null };
  return { rooms: [...session.rooms.keys()], privateKey: session.identity };
}
