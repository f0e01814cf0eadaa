/**
 * Frames of protocol v1 (JSON Lines): their types, the decoder that validates
 * what a peer sends, and the encoder. See docs/protocol.md for every frame
 * with an example session.
 *
 * @module
 */

/** Frames a client sends. */
export type ClientFrame =
  | {
    type: "hello";
    version: number;
    nick?: string;
    client?: string;
    /** A resume token from an earlier `welcome`. */
    resume?: string;
    /** With `resume`: the highest message id seen, to replay what was missed. */
    last_id?: number;
    /** With `nick`: log in to that account in the same round trip. */
    password?: string;
  }
  | { type: "nick"; nick: string }
  /**
   * `room` defaults to the current room; `ref` is echoed in the `ack`.
   * `notice`: send it as a notice (IRC's NOTICE: receivers never answer it
   * automatically, e.g. no away reply).
   */
  | {
    type: "say";
    text: string;
    room?: string;
    ref?: string;
    notice?: boolean;
    /** Client-only tags to relay (see `ChatLine.tags`); set by the IRC gateway, not read from JSON. */
    tags?: ClientTags;
  }
  | { type: "me"; text: string; room?: string; ref?: string; tags?: ClientTags }
  /** `notice` as on `say`. */
  | { type: "msg"; to: string; text: string; ref?: string; notice?: boolean; tags?: ClientTags }
  /**
   * A line as a person typed it (the web client): `/command args` is parsed
   * by the command registry as a plain-text line is; other text is a `say`.
   * `room` and `ref` apply to the resulting say, me, msg, reply, topic,
   * who or history frame.
   */
  | { type: "input"; text: string; room?: string; ref?: string }
  /** A private message to the last user who sent you one. */
  | { type: "reply"; text: string; ref?: string }
  | { type: "join"; room: string }
  /** `reason` is shown to the room (IRC's PART message). */
  | { type: "part"; room?: string; reason?: string }
  | { type: "rooms" }
  /** Without `text`: asks for the topic; with it: sets it. */
  | { type: "topic"; room?: string; text?: string }
  | { type: "who"; room?: string }
  /** Older messages of a room: ids below `before` (default: below what was shown). */
  | { type: "history"; room?: string; before?: number; limit?: number }
  | { type: "help" }
  /** Marks you away with `text` (shown in `who`, told once to whoever messages you); without: back. */
  | { type: "away"; text?: string }
  /** What the server knows about an online user. */
  | { type: "whois"; nick: string }
  /**
   * Full-text search of the messages you may see (your rooms, your private
   * conversations), newest first: ids below `before`, at most `limit`
   * (default 20, at most 100).
   */
  | { type: "search"; text: string; room?: string; before?: number; limit?: number }
  | { type: "quit"; reason?: string }
  | { type: "ping"; token?: string }
  | { type: "pong"; token?: string }
  /** Registers the current nickname as an account. */
  | { type: "register"; password: string }
  /** Logs in to an account (default: the current nickname's). */
  | { type: "login"; nick?: string; password: string }
  | { type: "logout" }
  /** Changes the logged-in account's password. */
  | { type: "password"; old: string; new: string }
  /** Room moderation; `room` defaults to the current room. */
  | { type: "kick"; nick: string; room?: string; reason?: string }
  /**
   * `target`: a nickname, an account, an address or a CIDR prefix
   * (`10.1.0.0/16`, `2001:db8::/48`); `duration` in seconds (absent: until unbanned).
   */
  | { type: "ban"; target: string; room?: string; duration?: number; reason?: string }
  | { type: "unban"; target: string; room?: string }
  /** Lists a room's bans (room operators); answered with `bans`. */
  | { type: "bans"; room?: string }
  /** Server-wide ban by account or address (server operators). */
  | { type: "serverban"; target: string; duration?: number; reason?: string }
  | { type: "serverunban"; target: string }
  /** Lists the server-wide bans (server operators); answered with `bans` without `room`. */
  | { type: "serverbans" }
  | { type: "mute"; nick: string; room?: string; duration?: number }
  | { type: "unmute"; nick: string; room?: string }
  | { type: "op"; nick: string; room?: string }
  | { type: "deop"; nick: string; room?: string }
  /** Lets someone talk in a moderated room (IRC's voice, `+v`); `devoice` takes it back. */
  | { type: "voice"; nick: string; room?: string }
  | { type: "devoice"; nick: string; room?: string }
  | { type: "invite"; nick: string; room?: string }
  /**
   * Sets a room mode: `topic_lock` (only operators set the topic),
   * `invite_only`, `secret` (hidden from non-members' `rooms`, `who` and
   * `whois`; IRC's `+s`) or `moderated` (only operators and those given a
   * `voice` talk; IRC's `+m`).
   */
  | { type: "mode"; mode: RoomMode; on: boolean; room?: string };

/** Room modes a room operator can set with the `mode` frame. */
export type RoomMode = "topic_lock" | "invite_only" | "secret" | "moderated";

/** What a `moderation` frame reports. */
export type ModerationAction =
  | "kick"
  | "ban"
  | "unban"
  | "mute"
  | "unmute"
  | "op"
  | "deop"
  | "invite"
  | "topic_lock"
  | "topic_unlock"
  | "invite_only"
  | "invite_open"
  | "secret"
  | "public"
  | "voice"
  | "devoice"
  | "moderated"
  | "unmoderated";

/** One entry of the `help` frame. */
export interface CommandHelp {
  /** e.g. `/msg NICK TEXT` */
  usage: string;
  /** one line of what it does */
  summary: string;
}

/** Fields every stored chat line carries (`message`, `action`, `private`). */
export interface ChatLine {
  /** Server-assigned id, strictly increasing. */
  id?: number;
  /** Sender's nickname. */
  from: string;
  /** The text, cleaned by the server. */
  text: string;
  /** Server time, ms since the epoch. */
  ts: number;
  /** Present on replayed history. */
  history?: true;
  /**
   * Present on a notice (`message` and `private` only): IRC's NOTICE, sent
   * with `say`/`msg` `notice: true`. Per RFC 2812 §3.3.2, nothing answers a
   * notice automatically (no away reply).
   */
  notice?: true;
  /**
   * Client-only tags the sender attached (IRCv3 message-tags: names start
   * with `+`, e.g. `{"+draft/reply":"41"}`), relayed with live messages
   * only: history does not keep them.
   */
  tags?: ClientTags;
}

/**
 * IRCv3 client-only tags (https://ircv3.net/specs/extensions/message-tags):
 * name (starting with `+`) to unescaped value (`""` for none). At most
 * 4094 bytes on the wire, with their escaping.
 */
export type ClientTags = Record<string, string>;

/** Frames the server sends. */
// `id` and `room` are always sent by this server on message, action, private,
// joined and left frames; they are optional in the type because frames built
// locally (the client's echo of its own line) and v1 peers may lack them.
export type ServerFrame =
  | {
    type: "welcome";
    version: number;
    nick: string;
    server: string;
    online: number;
    /** The current room. */
    room?: string | null;
    /** Token for `hello.resume` (JSON sessions only). */
    resume?: string;
    /** Present and true when a `hello.resume` succeeded. */
    resumed?: boolean;
    /** The account the session is logged in to, if any. */
    account?: string;
  }
  | ({ type: "message"; room?: string } & ChatLine)
  | ({ type: "action"; room?: string } & ChatLine)
  | ({ type: "private"; to: string } & ChatLine)
  | { type: "joined"; nick: string; room?: string; ts: number }
  /**
   * `reason`: `part`, `quit`, `connection lost`, … or, sent only to the one
   * removed, `kick` or `ban`. `message`: the text of a `/quit REASON`, of a
   * part's `reason`, or the operator's reason for a kick or ban. `by` (kick
   * and ban only): the operator's nickname. `until` (a timed ban only): when
   * it ends, ms since epoch.
   */
  | {
    type: "left";
    nick: string;
    room?: string;
    reason: string;
    message?: string;
    by?: string;
    until?: number;
    ts: number;
  }
  | { type: "renamed"; from: string; to: string; ts: number }
  /**
   * Answer to `who`, possibly in pages: `total` nicknames in all; `offset`
   * (absent on the first page) is where this page starts; `more`: another
   * page follows. `away`: the away message of each listed nickname that is
   * away (absent when none is). `ops`: the listed nicknames that are
   * operators of the room (a room's `who` only; absent when none is).
   */
  | {
    type: "who";
    room?: string;
    nicks: string[];
    away?: Record<string, string>;
    ops?: string[];
    total?: number;
    offset?: number;
    more?: boolean;
  }
  /** Your current room changed (after a join, a switch or a part); `null`: none. */
  | { type: "room"; room: string | null; topic: string; members: number }
  /** Answer to `rooms`, paged like `who`. */
  | { type: "rooms"; rooms: RoomInfo[]; total?: number; offset?: number; more?: boolean }
  /**
   * A resume replayed its limit of missed messages: those up to `last_id`
   * were sent; those from above `last_id` to below `live_from` were not
   * (resume again with `last_id`, or page rooms with `history`); from
   * `live_from` on, messages arrive live.
   */
  | { type: "resume_truncated"; last_id: number; live_from: number }
  | { type: "topic"; room: string; topic: string; by?: string; ts?: number }
  /** Sent to the sender once its message is committed to the store. */
  | { type: "ack"; id: number; ts: number; ref?: string }
  /** Ends a history replay: `count` messages were sent; `more`: older ones exist. */
  | { type: "history"; room: string; count: number; more: boolean }
  | { type: "help"; commands: CommandHelp[] }
  /** `ref`: the `ref` of the `say`/`me`/`msg`/`reply` that was refused. */
  | { type: "error"; code: ErrorCode; message: string; ref?: string }
  /**
   * `nick` is away (`text`) or back (no `text`): the answer to your `away`,
   * or, once per away message, to your private message to an away user.
   */
  | { type: "away"; nick: string; text?: string }
  /** Answer to `whois`: rooms, when connected (ms since epoch), idle ms, away message. */
  | {
    type: "whois";
    nick: string;
    rooms: string[];
    connected: number;
    idle: number;
    away?: string;
  }
  /**
   * Answer to `search`: the matches, newest first, each a `message`,
   * `action` or `private` frame marked `history`; `more`: older matches
   * exist (ask again with `before` = the last result's id).
   */
  | {
    type: "search_results";
    text: string;
    room?: string;
    results: SearchResult[];
    more: boolean;
  }
  | { type: "bye"; reason: string }
  | { type: "ping"; token?: string }
  | { type: "pong"; token?: string }
  /**
   * Your account changed: `registered`, `login`, `logout` or `password`.
   * `account` is `null` after a logout; `operator` is true for server operators.
   */
  | {
    type: "account";
    event: "registered" | "login" | "logout" | "password";
    account: string | null;
    nick: string;
    operator?: boolean;
  }
  /**
   * A moderation action, announced to the room (`room` absent: server-wide).
   * After `kick` and `ban` the target has left the room (it gets its own
   * `left` with `by`, not this frame). `until`: when a
   * timed ban or mute ends (ms since epoch).
   */
  | {
    type: "moderation";
    action: ModerationAction;
    room?: string;
    target: string;
    by: string;
    reason?: string;
    until?: number;
    ts: number;
  }
  /** Someone invited you to a room. */
  | { type: "invited"; room: string; by: string; ts: number }
  /**
   * Answer to `bans` (a room's, `room` set) or `serverbans` (no `room`),
   * oldest first, paged like `who`.
   */
  | {
    type: "bans";
    room?: string;
    bans: BanInfo[];
    total?: number;
    offset?: number;
    more?: boolean;
  };

/** One entry of the `bans` frame. */
export interface BanInfo {
  /**
   * An account (`bob`), or an address ban's network: `10.0.0.7`,
   * `10.1.0.0/16`, `2001:db8::/64` (IPv6 always with its length).
   */
  target: string;
  kind: "account" | "address";
  /** The operator who banned. */
  by: string;
  /** Absent when none was given. */
  reason?: string;
  /** When, ms since epoch. */
  ts: number;
  /** When a timed ban ends, ms since epoch; absent: until lifted. */
  until?: number;
}

/** One match of a `search`: a stored chat line as its frame, marked `history`. */
export type SearchResult = Extract<ServerFrame, { type: "message" | "action" | "private" }>;

/** One entry of the `rooms` frame. */
export interface RoomInfo {
  /** e.g. `#dev` */
  name: string;
  /** members online */
  members: number;
  /** empty when none */
  topic: string;
}

/** Any frame. */
export type Frame = ClientFrame | ServerFrame;

/** Machine-readable error codes carried by `error` frames. */
export type ErrorCode =
  | "bad_json"
  | "bad_frame"
  | "unknown_type"
  | "version_unsupported"
  | "line_too_long"
  | "invalid_utf8"
  | "text_too_long"
  | "empty_text"
  | "nick_taken"
  | "nick_invalid"
  | "not_registered"
  | "already_registered"
  | "no_such_nick"
  | "unknown_command"
  | "usage"
  | "send_queue_exceeded"
  | "too_many_connections"
  | "timeout"
  | "not_chat"
  | "room_invalid"
  | "no_such_room"
  | "not_in_room"
  | "too_many_rooms"
  | "room_quota"
  | "no_reply_target"
  | "resume_failed"
  | "storage_failed"
  | "flood"
  | "nick_registered"
  | "account_required"
  | "registration_closed"
  | "registration_quota"
  | "insecure_transport"
  | "login_failed"
  | "login_throttled"
  | "login_locked"
  | "password_invalid"
  | "not_logged_in"
  | "already_registered_account"
  | "permission_denied"
  | "no_such_account"
  | "banned"
  | "too_many_bans"
  | "muted"
  | "invite_only"
  | "busy";

/** A frame that could not be decoded; carries the error code to send back. */
export class FrameError extends Error {
  /** Machine-readable reason. */
  readonly code: ErrorCode;

  /**
   * @param code the error code for the `error` frame
   * @param message a human sentence
   */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

type FieldKind = "string" | "number" | "boolean";
type Schema = Readonly<Record<string, FieldKind | `${FieldKind}?`>>;

const CLIENT_SCHEMAS: Readonly<Record<ClientFrame["type"], Schema>> = {
  hello: {
    version: "number",
    nick: "string?",
    client: "string?",
    resume: "string?",
    last_id: "number?",
    password: "string?",
  },
  nick: { nick: "string" },
  say: { text: "string", room: "string?", ref: "string?", notice: "boolean?" },
  me: { text: "string", room: "string?", ref: "string?" },
  msg: { to: "string", text: "string", ref: "string?", notice: "boolean?" },
  input: { text: "string", room: "string?", ref: "string?" },
  reply: { text: "string", ref: "string?" },
  join: { room: "string" },
  part: { room: "string?", reason: "string?" },
  rooms: {},
  topic: { room: "string?", text: "string?" },
  who: { room: "string?" },
  history: { room: "string?", before: "number?", limit: "number?" },
  help: {},
  away: { text: "string?" },
  whois: { nick: "string" },
  search: { text: "string", room: "string?", before: "number?", limit: "number?" },
  quit: { reason: "string?" },
  ping: { token: "string?" },
  pong: { token: "string?" },
  register: { password: "string" },
  login: { nick: "string?", password: "string" },
  logout: {},
  password: { old: "string", new: "string" },
  kick: { nick: "string", room: "string?", reason: "string?" },
  ban: { target: "string", room: "string?", duration: "number?", reason: "string?" },
  unban: { target: "string", room: "string?" },
  bans: { room: "string?" },
  serverban: { target: "string", duration: "number?", reason: "string?" },
  serverunban: { target: "string" },
  serverbans: {},
  mute: { nick: "string", room: "string?", duration: "number?" },
  unmute: { nick: "string", room: "string?" },
  op: { nick: "string", room: "string?" },
  deop: { nick: "string", room: "string?" },
  voice: { nick: "string", room: "string?" },
  devoice: { nick: "string", room: "string?" },
  invite: { nick: "string", room: "string?" },
  mode: { mode: "string", on: "boolean", room: "string?" },
};

/**
 * Decodes and validates one line from a client. Fields not named in the
 * frame's schema are ignored (room for additive protocol changes).
 *
 * @param line one JSON text, without its newline
 * @returns the frame; every string in it is well-formed UTF-16 (a lone
 * surrogate is replaced by U+FFFD)
 * @throws {FrameError} `bad_json` when the line is not JSON, `bad_frame` when
 * it is not an object with a string `type` or a field is missing or of the
 * wrong type, `unknown_type` for a type this version does not know
 *
 * @example
 * ```ts
 * import { decodeClientFrame } from "./frames.ts";
 * decodeClientFrame('{"type":"say","text":"hi"}'); // { type: "say", text: "hi" }
 * ```
 */
export function decodeClientFrame(line: string): ClientFrame {
  const record = parseObject(line);
  const type = record.type as string;
  if (!Object.hasOwn(CLIENT_SCHEMAS, type)) {
    throw new FrameError("unknown_type", `unknown frame type ${JSON.stringify(type)}`);
  }
  const schema = CLIENT_SCHEMAS[type as ClientFrame["type"]];
  const frame: Record<string, unknown> = { type };
  for (const [field, spec] of Object.entries(schema)) {
    const optional = spec.endsWith("?");
    const kind = optional ? spec.slice(0, -1) : spec;
    const v = record[field];
    if (v === undefined || v === null) {
      if (optional) continue;
      throw new FrameError("bad_frame", `"${type}" frame needs field "${field}"`);
    }
    if (typeof v !== kind || (kind === "number" && !Number.isFinite(v))) {
      throw new FrameError("bad_frame", `field "${field}" of "${type}" must be a ${kind}`);
    }
    // JSON may carry lone surrogates (`"\ud800"`): they become U+FFFD here,
    // so no string from a peer is ill-formed anywhere after the decoder.
    frame[field] = typeof v === "string" ? v.toWellFormed() : v;
  }
  return frame as ClientFrame;
}

/**
 * Decodes a line from the server without validating it beyond its shape
 * (the client trusts the server's frame types, not its text).
 *
 * @param line one JSON text
 * @returns the frame
 * @throws {FrameError} `bad_json` or `bad_frame`
 */
export function decodeServerFrame(line: string): ServerFrame {
  return parseObject(line) as ServerFrame;
}

/** Parses a line as a JSON object with a string `type`, or throws a FrameError. */
function parseObject(line: string): Record<string, unknown> & { type: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new FrameError("bad_json", "frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FrameError("bad_frame", "frame must be a JSON object");
  }
  if (typeof (value as { type?: unknown }).type !== "string") {
    throw new FrameError("bad_frame", 'frame has no string field "type"');
  }
  return value as Record<string, unknown> & { type: string };
}

/**
 * Encodes a frame as one JSON line, `\n`-terminated. JSON escapes every
 * control character, so the line never contains a raw newline.
 *
 * @param frame any frame
 * @returns the line
 */
export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame) + "\n";
}
