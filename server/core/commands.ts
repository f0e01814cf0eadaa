/**
 * What the server does with each client frame. Plain-text lines reach these
 * handlers through the same command registry (`protocol/commands.ts`) that
 * generates `/help`, so both kinds of client get the same behaviour.
 *
 * @module
 */

import {
  type BanInfo,
  type ClientFrame,
  type ClientTags,
  commandHelp,
  JOIN_HISTORY,
  MAX_AWAY_LENGTH,
  MAX_HISTORY_PAGE,
  MAX_JOINED_ROOMS,
  MAX_SEARCH_LENGTH,
  MAX_SEARCH_PAGE,
  MAX_TOPIC_LENGTH,
  nickKey,
  normalizeRoom,
  parseInput,
  quoteValue,
  sanitizeText,
  SEARCH_PAGE,
  type SearchResult,
  type ServerFrame,
} from "../../protocol/mod.ts";
import { searchTerms, type StoredMessage } from "../store/store.ts";
import type { Room } from "./room.ts";
import { type Need, permit } from "./policy.ts";
import type { HistoryWindow, Session } from "./session.ts";
import { visibleTo } from "./visibility.ts";

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
  "login",
]);

/** Frame types whose effect waits for the end-of-turn commit. */
const BATCHED: ReadonlySet<ClientFrame["type"]> = new Set([
  "input",
  "say",
  "me",
  "msg",
  "reply",
  "ping",
  "pong",
]);

const utf8 = new TextEncoder();

/**
 * The text without its leading and trailing newlines. A loop, not
 * `/^\n+|\n+$/g`: that regular expression tries its second branch at every
 * position of every message, ~2.5 µs per 64-byte message (3 % of the server's
 * time in the fan-out benchmark).
 */
function trimNewlines(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 10) start++;
  while (end > start && text.charCodeAt(end - 1) === 10) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

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
  const text = trimNewlines(sanitizeText(raw));
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
  // A secret room is not there for those outside it.
  if (!room || session.hub.moderation.hiddenFrom(room, session)) {
    session.error("no_such_room", `there is no room ${quoteValue(normalizeRoom(name))}`);
    return undefined;
  }
  if (mustBeIn && !room.has(session)) {
    session.error("not_in_room", `you are not in ${room.name}: /join ${room.name} first`);
    return undefined;
  }
  return room;
}

function roomMessage(kind: "message" | "action") {
  return (
    session: Session,
    frame: { text: string; room?: string; ref?: string; notice?: boolean; tags?: ClientTags },
  ) => {
    if (!acceptRef(session, frame.ref)) return;
    const room = targetRoom(session, frame.room, true);
    if (!room) return;
    const text = acceptText(session, frame.text);
    if (text === undefined) return;
    session.lastActive = Date.now();
    session.hub.post(session, {
      kind,
      room,
      text,
      ...(frame.ref !== undefined ? { ref: frame.ref } : {}),
      ...(kind === "message" && frame.notice ? { notice: true } : {}),
      ...(frame.tags ? { tags: frame.tags } : {}),
    });
  };
}

function privateMessage(
  session: Session,
  to: string,
  raw: string,
  ref: string | undefined,
  notice = false,
  tags?: ClientTags,
): void {
  if (!acceptRef(session, ref)) return;
  const target = session.hub.find(to);
  if (!target) {
    session.error("no_such_nick", `no one called ${quoteValue(to)} is online`);
    return;
  }
  const text = acceptText(session, raw);
  if (text === undefined) return;
  session.lastActive = Date.now();
  session.hub.post(session, {
    kind: "private",
    to: target.nick!,
    toId: target.identity,
    text,
    ...(ref !== undefined ? { ref } : {}),
    ...(notice ? { notice: true } : {}),
    ...(tags ? { tags } : {}),
  });
  // An away user's message answers the first private message from each
  // sender; never a notice (RFC 2812 §3.3.2: no automatic reply to a NOTICE).
  if (target.away !== undefined && target !== session && !notice) {
    const told = target.awayTold ??= new Set();
    const key = nickKey(session.nick!);
    if (!told.has(key)) {
      told.add(key);
      session.send({ type: "away", nick: target.nick!, text: target.away });
    }
  }
}

/** The `away` messages of the away users among `sessions`, by nickname; undefined when none. */
function awayOf(sessions: Iterable<Session>): Record<string, string> | undefined {
  let away: Record<string, string> | undefined;
  for (const s of sessions) if (s.away !== undefined) (away ??= {})[s.nick!] = s.away;
  return away;
}

/** Rooms per `rooms` page. */
const ROOMS_PAGE = 100;
/** Nicknames per `who` page. */
const WHO_PAGE = 200;

/** Page fields: `total` always; `offset` after the first page; `more` before the last. */
function pageOf(total: number, offset: number, size: number) {
  return {
    total,
    ...(offset > 0 ? { offset } : {}),
    ...(offset + size < total ? { more: true } : {}),
  };
}

/** The `rooms` answer, a page at a time (member counts as of each page). */
function* roomPages(rooms: readonly Room[]): Generator<ServerFrame> {
  const total = rooms.length;
  for (let offset = 0; offset === 0 || offset < total; offset += ROOMS_PAGE) {
    const page = rooms.slice(offset, offset + ROOMS_PAGE);
    yield {
      type: "rooms",
      rooms: page.map((r) => ({ name: r.name, members: r.size, topic: r.topic })),
      ...pageOf(total, offset, page.length),
    };
  }
}

/** Bans per `bans` page. */
const BANS_PAGE = 100;

/** The `bans` answer, a page at a time. */
function* banPages(room: string | undefined, bans: readonly BanInfo[]): Generator<ServerFrame> {
  const total = bans.length;
  for (let offset = 0; offset === 0 || offset < total; offset += BANS_PAGE) {
    const page = bans.slice(offset, offset + BANS_PAGE);
    yield {
      type: "bans",
      ...(room !== undefined ? { room } : {}),
      bans: page,
      ...pageOf(total, offset, page.length),
    };
  }
}

/** The room operators among `sessions`, by nickname; undefined when none. */
function opsOf(sessions: Iterable<Session>, room: Room): Set<string> | undefined {
  let ops: Set<string> | undefined;
  for (const s of sessions) {
    if (s.hub.moderation.isRoomOp(s, room)) (ops ??= new Set()).add(s.nick!);
  }
  return ops;
}

/**
 * The `who` answer, a page at a time; each page has the away messages of
 * its nicknames and which of them are operators of the room.
 */
function* whoPages(
  room: string | undefined,
  nicks: readonly string[],
  awayAll: Record<string, string> | undefined,
  opsAll?: Set<string>,
): Generator<ServerFrame> {
  const total = nicks.length;
  for (let offset = 0; offset === 0 || offset < total; offset += WHO_PAGE) {
    const page = nicks.slice(offset, offset + WHO_PAGE);
    let away: Record<string, string> | undefined;
    if (awayAll) {
      for (const n of page) if (awayAll[n] !== undefined) (away ??= {})[n] = awayAll[n];
    }
    const ops = opsAll && page.filter((n) => opsAll.has(n));
    yield {
      type: "who",
      ...(room !== undefined ? { room } : {}),
      nicks: page,
      ...(away ? { away } : {}),
      ...(ops?.length ? { ops } : {}),
      ...pageOf(total, offset, page.length),
    };
  }
}

/** A one-line reason (quit, part): cleaned, at most MAX_AWAY_LENGTH characters. */
function shortText(raw: string | undefined): string {
  return raw === undefined
    ? ""
    : [...sanitizeText(raw, false).trim()].slice(0, MAX_AWAY_LENGTH).join("");
}

/**
 * What each frame needs of its sender, checked by {@linkcode permit} before
 * the handler runs: the one place permissions are decided (see policy.ts).
 */
const NEEDS: { readonly [T in ClientFrame["type"]]: Need } = {
  hello: "none",
  nick: "guest",
  input: "none",
  say: "speak",
  me: "speak",
  msg: "none",
  reply: "none",
  join: "join",
  part: "none",
  rooms: "none",
  topic: "topic",
  who: "none",
  history: "read",
  help: "none",
  away: "none",
  whois: "none",
  search: "none",
  quit: "none",
  ping: "none",
  pong: "none",
  register: "guest",
  login: "none",
  logout: "account",
  password: "account",
  kick: "room-op",
  ban: "room-op",
  unban: "room-op",
  bans: "room-op",
  mute: "room-op",
  unmute: "room-op",
  op: "room-op",
  deop: "room-op",
  voice: "room-op",
  devoice: "room-op",
  invite: "invite",
  mode: "room-op",
  serverban: "server-op",
  serverunban: "server-op",
  serverbans: "server-op",
};

/** Runs an account flow in the background; a failure reaches the session as an error. */
function background(session: Session, work: Promise<unknown>): void {
  work.catch((error) => {
    session.hub.log(`account flow failed: ${error instanceof Error ? error.message : error}`);
    session.error("storage_failed", "that did not work; please try again");
  });
}

const HANDLERS: { [T in ClientFrame["type"]]: Handler<T> } = {
  hello(session) {
    session.error("already_registered", "hello was already sent");
  },
  nick(session, frame) {
    const result = session.changeNick(frame.nick);
    if (!result.ok) session.error(result.code, result.message);
    else if (result.previous !== result.nick) session.persist();
  },
  say: roomMessage("message"),
  me: roomMessage("action"),
  input(session, frame) {
    // A line as typed, parsed by the same registry as plain-text lines.
    const parsed = parseInput(frame.text);
    if (!parsed.ok) return session.error(parsed.code, parsed.message);
    const inner = parsed.frame;
    if (inner.type === "input" || inner.type === "hello") return;
    if ((inner.type === "say" || inner.type === "me") && frame.room !== undefined) {
      inner.room = frame.room;
    }
    if (
      frame.ref !== undefined &&
      (inner.type === "say" || inner.type === "me" || inner.type === "msg" ||
        inner.type === "reply")
    ) inner.ref = frame.ref;
    if (
      (inner.type === "topic" || inner.type === "who" || inner.type === "history") &&
      inner.room === undefined && frame.room !== undefined
    ) inner.room = frame.room;
    handleFrame(session, inner);
  },
  msg(session, frame) {
    privateMessage(session, frame.to, frame.text, frame.ref, frame.notice === true, frame.tags);
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
    const result = session.hub.openRoom(frame.room, session);
    if (!result.ok) {
      session.error(result.code, result.message);
      return;
    }
    if (!result.room.has(session) && session.rooms.size >= MAX_JOINED_ROOMS) {
      session.error("too_many_rooms", `you are in ${MAX_JOINED_ROOMS} rooms already: /part one`);
      return;
    }
    if (result.created) session.hub.moderation.roomCreated(result.room, session);
    // Rooms follow the account: its other connections join too.
    for (const other of session.hub.siblings(session)) {
      if (!result.room.has(other) && other.rooms.size < MAX_JOINED_ROOMS) {
        other.enterRoom(result.room);
      }
    }
    session.enterRoom(result.room);
  },
  part(session, frame) {
    const room = targetRoom(session, frame.room, true);
    if (!room) return;
    const reason = shortText(frame.reason) || undefined;
    for (const other of session.hub.siblings(session)) other.leaveRoom(room, "part", true, reason);
    session.leaveRoom(room, "part", true, reason);
  },
  rooms(session) {
    const moderation = session.hub.moderation;
    session.reply(roomPages(session.hub.rooms().filter((r) => !moderation.hiddenFrom(r, session))));
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
      session.reply(whoPages(undefined, session.hub.nicks(), awayOf(session.hub.sessions())));
      return;
    }
    const room = targetRoom(session, frame.room, false);
    if (!room) return;
    session.reply(
      whoPages(room.name, room.nicks(), awayOf(room.members()), opsOf(room.members(), room)),
    );
  },
  away(session, frame) {
    const text = frame.text === undefined ? "" : sanitizeText(frame.text, false).trim();
    if ([...text].length > MAX_AWAY_LENGTH) {
      session.error("text_too_long", `away message is longer than ${MAX_AWAY_LENGTH} characters`);
      return;
    }
    session.away = text === "" ? undefined : text;
    session.awayTold = undefined;
    session.send(
      session.away === undefined
        ? { type: "away", nick: session.nick! }
        : { type: "away", nick: session.nick!, text: session.away },
    );
  },
  whois(session, frame) {
    const target = session.hub.find(frame.nick);
    if (!target) {
      session.error("no_such_nick", `no one called ${quoteValue(frame.nick)} is online`);
      return;
    }
    session.send({
      type: "whois",
      nick: target.nick!,
      rooms: [...target.rooms.values()].filter((r) =>
        !session.hub.moderation.hiddenFrom(r, session)
      )
        .map((r) => r.name),
      connected: target.connectedAt,
      idle: Math.max(0, Date.now() - target.lastActive),
      ...(target.away !== undefined ? { away: target.away } : {}),
    });
  },
  search(session, frame) {
    if ([...frame.text].length > MAX_SEARCH_LENGTH) {
      session.error("text_too_long", `search text is longer than ${MAX_SEARCH_LENGTH} characters`);
      return;
    }
    if (searchTerms(frame.text).length === 0) {
      session.error("usage", "search for at least one word: /search TEXT [#ROOM]");
      return;
    }
    const limit = frame.limit ?? SEARCH_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_PAGE) {
      session.error("usage", `search limit must be a whole number from 1 to ${MAX_SEARCH_PAGE}`);
      return;
    }
    let room;
    if (frame.room !== undefined) {
      room = targetRoom(session, frame.room, true);
      if (!room) return;
    }
    const scope = visibleTo(session, room);
    const { messages, more } = session.hub.search(
      frame.text,
      scope,
      frame.before ?? Infinity,
      limit,
    );
    // One frame, so at most about the reply budget of it (long messages,
    // quotes that JSON escapes): past it the answer says `more`, and the
    // client pages on with `before`, as for any other older matches.
    const results: SearchResult[] = [];
    let bytes = 0;
    for (const m of messages) {
      const result = session.hub.frameOf(m, true) as SearchResult;
      bytes += JSON.stringify(result).length;
      if (results.length > 0 && bytes > session.hub.replyBudgetBytes) break;
      results.push(result);
    }
    session.send({
      type: "search_results",
      text: frame.text,
      ...(room ? { room: room.name } : {}),
      results,
      more: more || results.length < messages.length,
    });
  },
  history(session, frame) {
    const room = historyRoom(session, frame);
    if (!room) return;
    const limit = frame.limit ?? JOIN_HISTORY;
    session.replayHistory(room, frame.before ?? session.historyCursor(room), limit, true);
  },
  help(session) {
    session.reply([{ type: "help", commands: commandHelp() }]);
  },
  quit(session, frame) {
    session.forget();
    session.end("quit", "goodbye", shortText(frame.reason) || undefined);
  },
  ping(session, frame) {
    session.send(
      frame.token === undefined ? { type: "pong" } : { type: "pong", token: frame.token },
    );
  },
  pong() {
    // Any traffic counts as activity; the transport already noted it.
  },
  register(session, frame) {
    background(session, session.hub.accounts.register(session, frame.password));
  },
  login(session, frame) {
    background(session, session.hub.accounts.login(session, frame.nick, frame.password));
  },
  logout(session) {
    session.hub.accounts.logout(session);
  },
  password(session, frame) {
    background(session, session.hub.accounts.changePassword(session, frame.old, frame.new));
  },
  kick(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.kick(session, room, frame.nick, frame.reason);
  },
  ban(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.ban(session, room, frame.target, frame.duration, frame.reason);
  },
  unban(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.unban(session, room, frame.target);
  },
  serverban(session, frame) {
    session.hub.moderation.ban(session, undefined, frame.target, frame.duration, frame.reason);
  },
  serverunban(session, frame) {
    session.hub.moderation.unban(session, undefined, frame.target);
  },
  bans(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.reply(banPages(room.name, session.hub.moderation.list(room)));
  },
  serverbans(session) {
    session.reply(banPages(undefined, session.hub.moderation.list(undefined)));
  },
  mute(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.mute(session, room, frame.nick, frame.duration);
  },
  unmute(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.unmute(session, room, frame.nick);
  },
  op(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.setOp(session, room, frame.nick, true);
  },
  deop(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.setOp(session, room, frame.nick, false);
  },
  voice(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.setVoice(session, room, frame.nick, true);
  },
  devoice(session, frame) {
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.setVoice(session, room, frame.nick, false);
  },
  invite(session, frame) {
    const room = targetRoom(session, frame.room, true);
    if (room) session.hub.moderation.invite(session, room, frame.nick);
  },
  mode(session, frame) {
    if (!["topic_lock", "invite_only", "secret", "moderated"].includes(frame.mode)) {
      session.error(
        "bad_frame",
        'field "mode" must be "topic_lock", "invite_only", "secret" or "moderated"',
      );
      return;
    }
    const room = targetRoom(session, frame.room, false);
    if (room) session.hub.moderation.setMode(session, room, frame.mode, frame.on);
  },
};

type HistoryFrame = Extract<ClientFrame, { type: "history" }>;

/**
 * The room a history read is about, once it is visible to the reader and
 * the frame's `limit` is valid; sends the error otherwise.
 */
function historyRoom(session: Session, frame: HistoryFrame): Room | undefined {
  const room = targetRoom(session, frame.room, false);
  if (!room) return undefined;
  const limit = frame.limit ?? JOIN_HISTORY;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
    session.error("usage", `history limit must be a whole number from 1 to ${MAX_HISTORY_PAGE}`);
    return undefined;
  }
  return room;
}

/** A page of a room's history, as {@linkcode readHistory} gives it. */
export interface HistoryPage {
  /** The room. */
  room: Room;
  /** Its messages, oldest first, read from the store as they are iterated. */
  messages: Iterable<StoredMessage>;
}

/**
 * Reads a page of a room's history for a protocol adapter that words its
 * own reply (IRC's CHATHISTORY), by the same path as a `history` frame:
 * the central checks of {@linkcode handleFrame} (registered; what is pending
 * committed first; the `read` need of policy.ts, so a ban or an invite-only
 * room keeps its history from those it keeps out), then the room visible
 * to the reader and the limit valid, then the page cut by
 * `Session.historyRecords`. A refusal is an error frame to the session
 * (`not_registered`, `banned`, `invite_only`, `no_such_room`, `usage`).
 *
 * @param session the reader
 * @param room the room's name
 * @param window which messages (`limit`: 1 to `MAX_HISTORY_PAGE`)
 * @returns the page, or `undefined` once the error frame was sent
 */
export function readHistory(
  session: Session,
  room: string,
  window: HistoryWindow,
): HistoryPage | undefined {
  const frame: HistoryFrame = { type: "history", room, limit: window.limit };
  if (!admitted(session, frame) || !permit(session, frame, NEEDS.history)) return undefined;
  const found = historyRoom(session, frame);
  return found && { room: found, messages: session.historyRecords(found, window) };
}

/**
 * The checks before any frame's permission: a session without a nickname
 * may only pick one, log in, ask for help, ping or quit; and a frame other
 * than a message first commits what is pending. Sends the error on refusal.
 */
function admitted(session: Session, frame: ClientFrame): boolean {
  if (session.state !== "active" && !BEFORE_REGISTRATION.has(frame.type)) {
    session.error("not_registered", "choose a nickname first");
    return false;
  }
  // Messages are committed in batches at the end of the turn; anything else
  // a peer may see (joins, parts, topics, renames, quits) first commits what
  // is pending, so everyone sees events in the order they were sent.
  if (!BATCHED.has(frame.type)) session.hub.flush();
  return true;
}

/**
 * Dispatches a frame to its handler, after the central checks: a session
 * without a nickname may only pick one, log in, ask for help, ping or quit;
 * then the frame's {@linkcode NEEDS} entry (see policy.ts).
 *
 * @param session the sender
 * @param frame a validated frame
 */
export function handleFrame(session: Session, frame: ClientFrame): void {
  if (!admitted(session, frame)) return;
  // Errors while handling a frame with a `ref` carry it, so the sender knows which line was refused.
  session.replyRef = "ref" in frame ? frame.ref : undefined;
  try {
    if (!permit(session, frame, NEEDS[frame.type])) return;
    (HANDLERS[frame.type] as Handler<typeof frame.type>)(session, frame as never);
  } finally {
    session.replyRef = undefined;
  }
}
