/**
 * What the server does with each client frame. Plain-text lines reach these
 * handlers through the same command registry (`protocol/commands.ts`) that
 * generates `/help`, so both kinds of client get the same behaviour.
 *
 * @module
 */

import {
  type ClientFrame,
  commandHelp,
  JOIN_HISTORY,
  MAX_HISTORY_PAGE,
  MAX_JOINED_ROOMS,
  MAX_TOPIC_LENGTH,
  normalizeRoom,
  sanitizeText,
} from "../../protocol/mod.ts";
import type { Session } from "./session.ts";

type Handler<T extends ClientFrame["type"]> = (
  session: Session,
  frame: Extract<ClientFrame, { type: T }>,
) => void;

/** Frame types a session may send before it holds a nickname. */
const BEFORE_REGISTRATION: ReadonlySet<ClientFrame["type"]> = new Set([
  "nick",
  "quit",
  "help",
  "ping",
  "pong",
]);

/** Frame types whose effect waits for the end-of-turn commit. */
const BATCHED: ReadonlySet<ClientFrame["type"]> = new Set([
  "say",
  "me",
  "msg",
  "reply",
  "ping",
  "pong",
]);

const utf8 = new TextEncoder();

/**
 * Cleans and checks message text against the hub's limits.
 *
 * @returns the text to send, or `undefined` after sending the error
 */
function acceptText(session: Session, raw: string): string | undefined {
  const { maxTextBytes, maxTextLines } = session.hub.limits;
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (raw.length * 3 > maxTextBytes && utf8.encode(raw).length > maxTextBytes) {
    session.error("text_too_long", `message is longer than ${maxTextBytes} bytes`);
    return undefined;
  }
  const text = sanitizeText(raw).replace(/^\n+|\n+$/g, "");
  if (text.trim() === "") {
    session.error("empty_text", "message is empty");
    return undefined;
  }
  let lines = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
  if (lines > maxTextLines) {
    session.error("text_too_long", `message has more than ${maxTextLines} lines`);
    return undefined;
  }
  return text;
}

const MAX_REF_LENGTH = 64;

function acceptRef(session: Session, ref: string | undefined): boolean {
  if (ref === undefined || ref.length <= MAX_REF_LENGTH) return true;
  session.error("bad_frame", `field "ref" is longer than ${MAX_REF_LENGTH} characters`);
  return false;
}

/** The room a frame names, or the current room; sends the error when none. */
function targetRoom(session: Session, name: string | undefined, mustBeIn: boolean) {
  if (name === undefined) {
    if (!session.current) session.error("not_in_room", "you are in no room: /join #ROOM first");
    return session.current;
  }
  const room = session.hub.room(name);
  if (!room) {
    session.error("no_such_room", `there is no room ${JSON.stringify(normalizeRoom(name))}`);
    return undefined;
  }
  if (mustBeIn && !room.has(session)) {
    session.error("not_in_room", `you are not in ${room.name}: /join ${room.name} first`);
    return undefined;
  }
  return room;
}

function roomMessage(kind: "message" | "action") {
  return (session: Session, frame: { text: string; room?: string; ref?: string }) => {
    if (!acceptRef(session, frame.ref)) return;
    const room = targetRoom(session, frame.room, true);
    if (!room) return;
    const text = acceptText(session, frame.text);
    if (text === undefined) return;
    session.hub.post(session, {
      kind,
      room,
      text,
      ...(frame.ref !== undefined ? { ref: frame.ref } : {}),
    });
  };
}

function privateMessage(session: Session, to: string, raw: string, ref: string | undefined): void {
  if (!acceptRef(session, ref)) return;
  const target = session.hub.find(to);
  if (!target) {
    session.error("no_such_nick", `no one called ${JSON.stringify(to)} is online`);
    return;
  }
  const text = acceptText(session, raw);
  if (text === undefined) return;
  session.hub.post(session, {
    kind: "private",
    to: target.nick!,
    toId: target.identity,
    text,
    ...(ref !== undefined ? { ref } : {}),
  });
}

const HANDLERS: { [T in ClientFrame["type"]]: Handler<T> } = {
  hello(session) {
    session.error("already_registered", "hello was already sent");
  },
  nick(session, frame) {
    const result = session.hub.setNick(session, frame.nick);
    if (!result.ok) {
      session.error(result.code, result.message);
      return;
    }
    if (result.previous === result.nick) return;
    session.rename(result.nick);
    session.hub.log(`rename ${result.previous} -> ${result.nick} (${session.remote})`);
    session.hub.tellPeers(session, {
      type: "renamed",
      from: result.previous!,
      to: result.nick,
      ts: Date.now(),
    });
  },
  say: roomMessage("message"),
  me: roomMessage("action"),
  msg(session, frame) {
    privateMessage(session, frame.to, frame.text, frame.ref);
  },
  reply(session, frame) {
    const to = session.lastPrivateFrom;
    if (to === undefined) {
      session.error("no_reply_target", "no one has sent you a private message yet");
      return;
    }
    privateMessage(session, to, frame.text, frame.ref);
  },
  join(session, frame) {
    const result = session.hub.openRoom(frame.room);
    if (!result.ok) {
      session.error(result.code, result.message);
      return;
    }
    if (!result.room.has(session) && session.rooms.size >= MAX_JOINED_ROOMS) {
      session.error("too_many_rooms", `you are in ${MAX_JOINED_ROOMS} rooms already: /part one`);
      return;
    }
    session.enterRoom(result.room);
  },
  part(session, frame) {
    const room = targetRoom(session, frame.room, true);
    if (room) session.leaveRoom(room, "part");
  },
  rooms(session) {
    session.send({
      type: "rooms",
      rooms: session.hub.rooms().map((r) => ({ name: r.name, members: r.size, topic: r.topic })),
    });
  },
  topic(session, frame) {
    const room = targetRoom(session, frame.room, frame.text !== undefined);
    if (!room) return;
    if (frame.text === undefined) {
      session.send({ type: "topic", room: room.name, topic: room.topic });
      return;
    }
    const topic = sanitizeText(frame.text, false).trim();
    if ([...topic].length > MAX_TOPIC_LENGTH) {
      session.error("text_too_long", `topic is longer than ${MAX_TOPIC_LENGTH} characters`);
      return;
    }
    room.topic = topic;
    room.topicBy = session.nick!;
    room.topicTs = Date.now();
    session.hub.saveRoom(room);
    session.hub.announce(room, {
      type: "topic",
      room: room.name,
      topic,
      by: session.nick!,
      ts: room.topicTs,
    });
  },
  who(session, frame) {
    if (frame.room === undefined && !session.current) {
      session.send({ type: "who", nicks: session.hub.nicks() });
      return;
    }
    const room = targetRoom(session, frame.room, false);
    if (room) session.send({ type: "who", room: room.name, nicks: room.nicks() });
  },
  history(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (!room) return;
    const limit = frame.limit ?? JOIN_HISTORY;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
      session.error("usage", `history limit must be a whole number from 1 to ${MAX_HISTORY_PAGE}`);
      return;
    }
    session.replayHistory(room, frame.before ?? session.historyCursor(room), limit, true);
  },
  help(session) {
    session.send({ type: "help", commands: commandHelp() });
  },
  quit(session, frame) {
    session.forget();
    session.end(frame.reason ? `quit: ${sanitizeText(frame.reason, false)}` : "quit", "goodbye");
  },
  ping(session, frame) {
    session.send(
      frame.token === undefined ? { type: "pong" } : { type: "pong", token: frame.token },
    );
  },
  pong() {
    // Any traffic counts as activity; the transport already noted it.
  },
};

/**
 * Dispatches a frame to its handler, after the one central check: a session
 * without a nickname may only pick one, ask for help, ping or quit.
 *
 * @param session the sender
 * @param frame a validated frame
 */
export function handleFrame(session: Session, frame: ClientFrame): void {
  if (session.state !== "active" && !BEFORE_REGISTRATION.has(frame.type)) {
    session.error("not_registered", "choose a nickname first");
    return;
  }
  // Messages are committed in batches at the end of the turn; anything else
  // a peer may see (joins, parts, topics, renames, quits) first commits what
  // is pending, so everyone sees events in the order they were sent.
  if (!BATCHED.has(frame.type)) session.hub.flush();
  (HANDLERS[frame.type] as Handler<typeof frame.type>)(session, frame as never);
}
