/**
 * Permission checks, in one place, before a handler runs (the pattern of
 * ergo's command table: each command declares what it needs, and the
 * dispatcher checks it). Every entry of the handler registry
 * (`server/core/commands.ts`) names one {@linkcode Need}; handlers never
 * check who may act.
 *
 * @module
 */

import type { ClientFrame } from "../../protocol/mod.ts";
import type { Room } from "./room.ts";
import type { Session } from "./session.ts";

/**
 * What a frame needs of its sender:
 * - `none`: nothing.
 * - `guest`: not logged in (a logged-in user's nickname is the account's).
 * - `account`: logged in.
 * - `server-op`: a server operator (granted with `chat admin grant`).
 * - `room-op`: an operator of the frame's room (`room`, default: the
 *   current one): its founder, an op, or a server operator.
 * - `speak`: not muted in the frame's room, and, when it is moderated, an
 *   operator of it or given a voice there.
 * - `join`: not banned from the room, and invited when it is invite-only
 *   (room operators always may).
 * - `read`: reading a room's history: its members may; anyone else only
 *   under the `join` rule (so a ban or an invite-only room keeps its history
 *   from those it keeps out).
 * - `topic`: setting the topic of a topic-locked room needs `room-op`.
 * - `invite`: inviting to an invite-only room needs `room-op`.
 */
export type Need =
  | "none"
  | "guest"
  | "account"
  | "server-op"
  | "room-op"
  | "speak"
  | "join"
  | "read"
  | "topic"
  | "invite";

/** The room a frame is about: its `room` field, else the sender's current room. */
function roomOf(session: Session, frame: ClientFrame): Room | undefined {
  const name = "room" in frame ? frame.room : undefined;
  return name === undefined ? session.current : session.hub.room(name);
}

/**
 * Checks a frame's need. On refusal it sends the error frame.
 *
 * A room that does not exist passes the room checks: the handler reports
 * `no_such_room` itself.
 *
 * @param session the sender
 * @param frame the frame
 * @param need what the registry entry declares
 * @returns whether the handler may run
 */
export function permit(session: Session, frame: ClientFrame, need: Need): boolean {
  switch (need) {
    case "none":
      return true;
    case "guest":
      if (session.account === undefined) return true;
      session.error(
        "permission_denied",
        `you are logged in as ${session.account}: your nickname is your account's (/logout first)`,
      );
      return false;
    case "account":
      if (session.account !== undefined) return true;
      session.error("not_logged_in", "log in first: /login NICK PASSWORD");
      return false;
    case "server-op":
      if (session.operator) return true;
      session.error("permission_denied", "only server operators may do that");
      return false;
    case "room-op":
      return roomOp(session, roomOf(session, frame));
    case "speak": {
      const room = roomOf(session, frame);
      const refusal = room && session.hub.moderation.speakRefusal(session, room);
      if (!refusal) return true;
      session.error("muted", refusal);
      return false;
    }
    case "read":
    case "join": {
      const room = roomOf(session, frame);
      const moderation = session.hub.moderation;
      const refusal = room &&
        (need === "read"
          ? moderation.readRefusal(session, room)
          : moderation.joinRefusal(session, room));
      if (!refusal) return true;
      session.error(refusal[0], refusal[1]);
      return false;
    }
    case "topic": {
      const room = roomOf(session, frame);
      if (frame.type !== "topic" || frame.text === undefined || !room) return true;
      if (!session.hub.moderation.settings(room).topicLock) return true;
      return roomOp(session, room);
    }
    case "invite": {
      const room = roomOf(session, frame);
      if (!room || !session.hub.moderation.settings(room).inviteOnly) return true;
      return roomOp(session, room);
    }
  }
}

function roomOp(session: Session, room: Room | undefined): boolean {
  if (!room || session.hub.moderation.isRoomOp(session, room)) return true;
  session.error("permission_denied", `only operators of ${room.name} may do that`);
  return false;
}
