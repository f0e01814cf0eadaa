/**
 * The IRC gateway: a protocol adapter that lets IRC clients (irssi, weechat,
 * HexChat, bots) into the same rooms, private messages and history as every
 * other user. It turns IRC commands into client frames for the one session
 * core ({@linkcode Session}, the hub, the command registry: every rule on
 * nicknames, rooms and text is the core's) and renders the frames the core
 * sends as IRC lines. Bytes move through the TCP transport's line reader,
 * flood control and send queue ({@linkcode TcpConnection}).
 *
 * Reference: RFC 1459, RFC 2812 and the Modern IRC documentation for
 * commands and numerics; the IRCv3 specifications for capabilities.
 * docs/irc.md has the mapping, the numerics and the deviations.
 *
 * @module
 */

import {
  type ClientFrame,
  type ClientTags,
  type ErrorCode,
  escapeTagValue,
  escapeUnseen,
  formatIrcLine,
  IRC_CLIENT_TAGS_BYTES,
  IRC_LINE_BYTES,
  type IrcMessage,
  JOIN_HISTORY,
  type LineErrorCode,
  MAX_JOINED_ROOMS,
  MAX_NICK_LENGTH,
  MAX_TOPIC_LENGTH,
  nickKey,
  parseIrcLine,
  sanitizeText,
  type ServerFrame,
  splitUtf8,
} from "../../protocol/mod.ts";
import type { Hub } from "../core/hub.ts";
import type { Deliverable, FrameRenderer } from "../core/outbound.ts";
import type { Room } from "../core/room.ts";
import { readHistory } from "../core/commands.ts";
import { type HistoryWindow, Session, type Transport } from "../core/session.ts";
import type { StoredMessage } from "../store/store.ts";
import type { LineHandler, LineProtocol, TcpConnection } from "./tcp.ts";

const encoder = new TextEncoder();
const CRLF = "\r\n";

/** Capabilities offered in `CAP LS` (IRCv3 capability negotiation). */
export const IRC_CAPS: readonly string[] = [
  "account-notify",
  "away-notify",
  "batch",
  "draft/chathistory",
  "echo-message",
  "message-tags",
  "multi-prefix",
  "sasl",
  "server-time",
  "userhost-in-names",
];

/** Capability bits that change how shared lines look (one renderer per combination). */
const TAG_TIME = 1;
const TAG_MSGID = 2;

/** Options for {@linkcode IrcGateway}. */
export interface IrcGatewayOptions {
  /** The program version shown in 002 and 004, e.g. `0.1.0`. */
  version: string;
  /** Lines of the message of the day. @default {a short description} */
  motd?: readonly string[];
}

/**
 * The gateway's shared state: the renderers (one per set of capabilities
 * that changes shared lines), and what IRC knows of each user that the core
 * does not (username, real name, away message).
 */
export class IrcGateway implements LineProtocol {
  /** The shared chat state. */
  readonly hub: Hub;
  /** The server name in every numeric's source. */
  readonly serverName: string;
  /** Program version, e.g. `0.1.0`. */
  readonly version: string;
  /** When the gateway started (ms since epoch). */
  readonly createdAt: number = Date.now();
  /** The message of the day. */
  readonly motd: readonly string[];
  /** TAGMSGs relayed so far: their msgids are `t1`, `t2`… (chat messages have numbers). */
  tagMessages = 0;
  readonly #renderers = new Map<number, IrcRenderer>();
  readonly #clients = new WeakMap<Session, IrcClient>();
  // Usernames of IRC users by nickname key, for the source of lines about
  // someone who already left (kept after they quit; bounded).
  readonly #users = new Map<string, string>();

  /**
   * @param hub the shared chat state
   * @param options version and MOTD
   */
  constructor(hub: Hub, options: IrcGatewayOptions) {
    this.hub = hub;
    this.serverName = hub.name;
    this.version = options.version;
    this.motd = options.motd ??
      [`${hub.name} ${options.version}: one chat for terminal, nc, JSON, web and IRC users.`];
  }

  /**
   * The handler of a new IRC connection, for {@linkcode TcpConnection}.
   *
   * @param connection the accepted connection
   * @returns its IRC client
   */
  accept(connection: TcpConnection): LineHandler {
    return new IrcClient(this, connection);
  }

  /**
   * The line that refuses a connection before it registers (too many
   * connections, shutting down): an IRC `ERROR` (RFC 2812 3.7.4), as on any
   * other close, so IRC clients show the reason instead of a JSON frame.
   *
   * @param why the reason, e.g. `server is full, try again later`
   * @returns `ERROR :Closing link: chat (WHY)` and CRLF
   */
  refusal(why: string): string {
    return `ERROR :Closing link: ${this.host} (${why})${CRLF}`;
  }

  /** The renderer for a set of capability bits (shared by all clients with those bits). */
  renderer(bits: number): IrcRenderer {
    let renderer = this.#renderers.get(bits);
    if (!renderer) this.#renderers.set(bits, renderer = new IrcRenderer(this, bits));
    return renderer;
  }

  /** Registers a client's session (for WHO, WHOIS, AWAY). */
  bind(session: Session, client: IrcClient): void {
    this.#clients.set(session, client);
  }

  /** The IRC client behind a session, if it is one. */
  clientOf(session: Session): IrcClient | undefined {
    return this.#clients.get(session);
  }

  /**
   * Notes the username of an IRC user's nickname.
   *
   * @param nick the nickname
   * @param user the USER name
   */
  noteUser(nick: string, user: string): void {
    if (this.#users.size >= 10_000) this.#users.clear();
    this.#users.set(nickKey(nick), user);
  }

  /**
   * The username shown for a session: its USER name for IRC clients, the
   * wire format (`text`, `json`) for others.
   */
  userOf(session: Session | undefined, nick: string): string {
    const client = session && this.#clients.get(session);
    if (client) return client.user;
    if (session) return session.format;
    return this.#users.get(nickKey(nick)) ?? "chat";
  }

  /** The host shown for every user (addresses are not disclosed). */
  get host(): string {
    return "chat";
  }

  /** `nick!user@host` of a nickname (online or recently gone). */
  source(nick: string): string {
    return `${nick}!${this.userOf(this.hub.find(nick), nick)}@${this.host}`;
  }
}

function isoTime(ts: number): string {
  return new Date(ts).toISOString();
}

/**
 * Renders the frames many receivers share (room messages, joins, parts,
 * quits, topics, renames) as IRC lines for clients with one set of tag
 * capabilities. `Outbound` caches the result per renderer.
 */
export class IrcRenderer implements FrameRenderer {
  readonly #gateway: IrcGateway;
  readonly #bits: number;

  /**
   * @param gateway the gateway
   * @param bits which tags to add (server-time, msgid)
   */
  constructor(gateway: IrcGateway, bits: number) {
    this.#gateway = gateway;
    this.#bits = bits;
  }

  /** @inheritdoc */
  render(frame: ServerFrame): Uint8Array | null {
    const text = this.lines(frame);
    return text === "" ? null : encoder.encode(text);
  }

  /**
   * The lines of a frame, each with CR LF; `""` when it has no IRC form.
   *
   * @param frame a frame
   * @param batch a batch reference tag to add, if any
   */
  lines(frame: ServerFrame, batch?: string): string {
    const g = this.#gateway;
    switch (frame.type) {
      case "message":
      case "action":
      case "private":
        return this.chat(frame, batch);
      case "joined":
        return this.#line(
          { source: g.source(frame.nick), command: "JOIN", params: [frame.room ?? ""] },
          frame.ts,
          false,
        );
      case "left":
        if (frame.reason === "part") {
          return this.#line(
            {
              source: g.source(frame.nick),
              command: "PART",
              params: frame.message ? [frame.room ?? "", frame.message] : [frame.room ?? ""],
            },
            frame.ts,
            frame.message !== undefined,
          );
        }
        return this.#line({
          source: g.source(frame.nick),
          command: "QUIT",
          params: [quitReason(frame.reason, frame.message)],
        }, frame.ts);
      case "topic":
        return this.#line({
          source: frame.by === undefined ? g.serverName : g.source(frame.by),
          command: "TOPIC",
          params: [frame.room, frame.topic],
        }, frame.ts);
      case "renamed":
        return this.#line(
          { source: g.source(frame.from), command: "NICK", params: [frame.to] },
          frame.ts,
        );
      default:
        return "";
    }
  }

  /**
   * A chat line as PRIVMSGs (NOTICEs for a notice): one per line of the
   * text, each split to fit 512 bytes.
   */
  chat(
    frame: Extract<ServerFrame, { type: "message" | "action" | "private" }>,
    batch?: string,
  ): string {
    const target = frame.type === "private" ? frame.to : frame.room ?? "";
    const source = this.#gateway.source(frame.from);
    const head = `:${source} ${frame.notice ? "NOTICE" : "PRIVMSG"} ${target} :`;
    const action = frame.type === "action";
    const budget = IRC_LINE_BYTES - 2 - encoder.encode(head).length - (action ? 9 : 0);
    let out = "";
    let k = 0;
    for (const line of frame.text.split("\n")) {
      for (const piece of splitUtf8(line === "" ? " " : line, Math.max(16, budget))) {
        const tags: string[] = [];
        if (batch !== undefined) tags.push(`batch=${batch}`);
        if (this.#bits & TAG_TIME) tags.push(`time=${isoTime(frame.ts)}`);
        if (this.#bits & TAG_MSGID && frame.id !== undefined) {
          tags.push(`msgid=${k === 0 ? frame.id : `${frame.id}.${k}`}`);
        }
        if (this.#bits & TAG_MSGID && frame.tags) tags.push(clientTagItems(frame.tags));
        k++;
        out += (tags.length ? `@${tags.join(";")} ` : "") + head +
          (action ? `\x01ACTION ${piece}\x01` : piece) + CRLF;
      }
    }
    return out;
  }

  #line(message: IrcMessage, ts: number | undefined, trailing = true): string {
    if (this.#bits & TAG_TIME) message.tags = { time: isoTime(ts ?? Date.now()) };
    return formatIrcLine(message, trailing) + CRLF;
  }
}

/** Client-only tags as the items of a tag section: `+a=1;+b` (values escaped). */
function clientTagItems(tags: ClientTags): string {
  return Object.entries(tags).map(([k, v]) => v === "" ? k : `${k}=${escapeTagValue(v)}`).join(
    ";",
  );
}

/** A client-only tag's name: `+`, an optional vendor (`example.com/`), letters, digits, `-`. */
const CLIENT_TAG = /^\+(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9-]+$/;

/**
 * The client-only tags of a line (IRCv3 message-tags): those whose names
 * start with `+`; other tags from a client are never relayed.
 */
function clientTagsOf(tags: Record<string, string> | undefined): ClientTags | undefined {
  if (!tags) return undefined;
  let out: ClientTags | undefined;
  for (const [k, v] of Object.entries(tags)) {
    // A NUL has no escape in message-tags: such a tag cannot be relayed.
    if (CLIENT_TAG.test(k) && !v.includes("\0")) (out ??= {})[k] = v;
  }
  return out;
}

/** `quit` with `bye` → `Quit: bye`; other reasons as they are. */
function quitReason(reason: string, message: string | undefined): string {
  if (reason === "quit") return message ? `Quit: ${message}` : "Quit";
  return message ? `${reason}: ${message}` : reason;
}

/** What was sent, waiting for its ack to be echoed (echo-message). */
interface PendingEcho {
  kind: "message" | "action";
  room: string;
  text: string;
  notice: boolean;
  tags: ClientTags | undefined;
}

/** The command being handled, for turning the core's errors into numerics. */
interface Context {
  command: string;
  target?: string;
  /** JOIN: the session's own `joined` was seen (a `room` frame then means NAMES). */
  joined?: boolean;
  /** NOTICE: errors are never answered (RFC 2812 §3.3.2). */
  quiet?: boolean;
  /** CHATHISTORY: the subcommand, which its FAIL lines name. */
  sub?: string;
}

/** Most rooms one NAMES lists (`TARGMAX`). */
const IRC_NAMES_TARGETS = 10;

/**
 * Most messages one CHATHISTORY request returns (`CHATHISTORY=` in
 * ISUPPORT); the reply goes out as the client reads it.
 */
export const IRC_CHATHISTORY_MAX = 100;

const PRE_REGISTRATION = new Set([
  "CAP",
  "NICK",
  "USER",
  "PASS",
  "PING",
  "PONG",
  "QUIT",
  "AUTHENTICATE",
]);
const MAX_PENDING_ECHOES = 256;

/**
 * One IRC connection: registration (NICK, USER, CAP), then IRC commands to
 * client frames and frames back to IRC lines.
 */
export class IrcClient implements LineHandler, Transport {
  /** The chat session behind this client. */
  readonly session: Session;
  /** The USER name (`~` prefixed as identd-less servers do). */
  user = "~u";
  /** The real name from USER. */
  realname = "";
  /** Enabled capabilities. */
  readonly caps = new Set<string>();
  readonly #gateway: IrcGateway;
  readonly #connection: TcpConnection;
  #nick: string | undefined; // the NICK before registration
  #gotUser = false;
  #negotiating = false;
  #renderer: IrcRenderer;
  #context: Context | undefined;
  #historyBatch: string | undefined;
  #batches = 0;
  #echoes = new Map<string, PendingEcho>();
  #echoSeq = 0;
  #errors = 0; // error frames seen: tells whether the core refused a frame
  #tags: Record<string, string> | undefined; // the tags of the line being handled
  #password: string | undefined; // from PASS, used at registration
  #sasl: string | undefined; // SASL PLAIN payload so far (base64), while one is in progress
  #loggingIn = false; // a login runs: its errors become 904 / 464, not FAIL lines
  #welcomeDeferred = false; // logged in by SASL before CAP END: the burst waits for it
  // Quits already shown, by nickname key: someone who shared several rooms
  // with this client leaves each of them, but IRC shows one QUIT.
  readonly #quits = new Map<string, number>();

  /**
   * @param gateway the gateway
   * @param connection the TCP connection
   */
  constructor(gateway: IrcGateway, connection: TcpConnection) {
    this.#gateway = gateway;
    this.#connection = connection;
    this.session = new Session(gateway.hub, this, "irc");
    this.#renderer = gateway.renderer(0);
    gateway.bind(this.session, this);
  }

  /** @inheritdoc */
  get remote(): string {
    return this.#connection.remote;
  }

  /** @inheritdoc */
  get hostname(): string {
    return this.#connection.hostname;
  }

  /** @inheritdoc */
  get secure(): boolean {
    return this.#connection.secure;
  }

  /** @inheritdoc */
  send(bytes: Uint8Array): void {
    this.#connection.send(bytes);
  }

  /** @inheritdoc */
  close(): void {
    this.#connection.close();
  }

  /** @inheritdoc */
  get backlog(): number {
    return this.#connection.backlog;
  }

  /** @inheritdoc */
  whenBelow(bytes: number, callback: () => void): void {
    this.#connection.whenBelow(bytes, callback);
  }

  /** @inheritdoc */
  get backlogged(): object | undefined {
    return this.#connection.backlogged;
  }

  /** @inheritdoc */
  holdFor(backlogged: object): void {
    this.#connection.holdFor(backlogged);
  }

  /** The nickname in numerics: the registered one, or `*`. */
  get nick(): string {
    return this.session.nick ?? "*";
  }

  // ---- input ----

  /** @inheritdoc */
  receiveLine(line: string): void {
    const parsed = parseIrcLine(line, IRC_CLIENT_TAGS_BYTES);
    if (!parsed.ok) {
      if (parsed.problem === "tags_too_long") this.#num("417", ["Input line was too long"]);
      return; // empty lines and junk are ignored, as IRC servers do
    }
    const { command, params } = parsed.message;
    this.#tags = parsed.message.tags;
    if (this.session.state !== "active" && !PRE_REGISTRATION.has(command)) {
      this.#num("451", ["You have not registered"]);
      return;
    }
    const handler = COMMANDS[command];
    if (!handler) {
      this.#num("421", [command, "Unknown command"]);
      return;
    }
    try {
      handler(this, params);
    } finally {
      this.#context = undefined;
      this.#tags = undefined;
    }
  }

  /** @inheritdoc */
  lineError(code: LineErrorCode): void {
    if (code === "invalid_utf8") {
      // UTF8ONLY (IRCv3): refuse the line, say so, keep the connection.
      this.#raw(
        `:${this.#gateway.serverName} FAIL * INVALID_UTF8 :Message rejected, it is not valid UTF-8`,
      );
      return;
    }
    // The line reader skips the rest of an overlong line: the stream stays in step.
    this.#num("417", ["Input line was too long"]);
  }

  /** Sends a frame to the core in the context of an IRC command. */
  #frame(frame: ClientFrame, context: Context): void {
    this.#context = context;
    this.session.receiveFrame(frame);
  }

  // ---- output ----

  /** @inheritdoc */
  deliver(out: Deliverable): void {
    const parts = out.parts;
    if (parts.length === 1) {
      const frame = parts[0]!.frame;
      if (!isShared(frame)) return this.#own(frame);
      const ctx = this.#context;
      if (ctx?.command === "JOIN" && frame.type === "joined" && frame.nick === this.session.nick) {
        ctx.joined = true; // the `room` frame that follows is answered with NAMES
      }
      if (!this.#wants(frame)) return;
    } else {
      for (const part of parts) {
        if (!this.#wants(part.frame)) {
          // Something in the run is not for us: take the frames one at a time.
          for (const p of parts) if (this.#wants(p.frame)) this.#push(p.rendered(this.#renderer));
          return;
        }
      }
    }
    this.#push(out.rendered(this.#renderer));
  }

  /** Whether a shared frame is shown (one QUIT per user; no self-echo without echo-message). */
  #wants(frame: ServerFrame): boolean {
    if (frame.type === "left" && frame.reason !== "part") {
      const key = nickKey(frame.nick);
      const seen = this.#quits.get(key);
      if (seen !== undefined && Math.abs(frame.ts - seen) < 60_000) return false;
      if (this.#quits.size >= 64) this.#quits.delete(this.#quits.keys().next().value!);
      this.#quits.set(key, frame.ts);
    } else if (frame.type === "joined" && this.#quits.size > 0) {
      this.#quits.delete(nickKey(frame.nick));
    } else if (
      frame.type === "private" && frame.from === this.session.nick && frame.to !== frame.from
    ) {
      return this.caps.has("echo-message");
    }
    return true;
  }

  #push(bytes: Uint8Array | null): void {
    if (bytes) this.#connection.send(bytes);
  }

  #raw(line: string): void {
    this.#connection.send(encoder.encode(line + CRLF));
  }

  /** Sends a numeric (or any server reply) to this client; the last parameter is trailing. */
  #num(command: string, params: string[], trailing = true): void {
    this.#push(this.#numLine(command, params, trailing));
  }

  /**
   * A numeric as the bytes of its line (with CRLF), for {@linkcode #num} and
   * paced replies. Its middle parameters (targets, masks, commands: often a
   * value the client sent and the server refused) are shown with their
   * controls and invisible characters as `<U+XXXX>`; the trailing text is
   * the server's own or already clean.
   */
  #numLine(command: string, params: string[], trailing = true): Uint8Array {
    const shown = params.map((p, i) => trailing && i === params.length - 1 ? p : escapeUnseen(p));
    return encoder.encode(
      formatIrcLine(
        { source: this.#gateway.serverName, command, params: [this.nick, ...shown] },
        trailing,
      ) + CRLF,
    );
  }

  /** Frames for this session only: replies, errors, acks, history. */
  #own(frame: ServerFrame): void {
    const ctx = this.#context;
    switch (frame.type) {
      case "welcome":
        this.#welcome();
        return;
      case "error":
        this.#error(frame.code, frame.message);
        return;
      case "ack": {
        const echo = frame.ref === undefined ? undefined : this.#echoes.get(frame.ref);
        if (!echo) return;
        this.#echoes.delete(frame.ref!);
        this.#push(this.#renderer.render({
          type: echo.kind,
          id: frame.id,
          room: echo.room,
          from: this.session.nick!,
          text: echo.text,
          ts: frame.ts,
          ...(echo.notice ? { notice: true as const } : {}),
          ...(echo.tags ? { tags: echo.tags } : {}),
        }));
        return;
      }
      case "room":
        if (ctx?.command === "JOIN" && ctx.joined && frame.room !== null) {
          const room = this.#gateway.hub.room(frame.room);
          if (room) {
            if (room.topic) this.#topicReply(room);
            // As the client reads (a big room's NAMES can outgrow the send
            // queue); queued before the join's history replay, so in order.
            this.session.reply(this.#namesLines(room));
          }
        }
        return;
      case "who":
        return; // NAMES and WHO read the rooms directly
      case "whois":
        return this.#whoisReply(frame);
      case "away":
        if (frame.nick !== this.session.nick) {
          if (ctx?.quiet) return;
          return this.#num("301", [frame.nick, frame.text ?? ""]);
        }
        if (frame.text === undefined) this.#num("305", ["You are no longer marked as being away"]);
        else this.#num("306", ["You have been marked as being away"]);
        return;
      case "topic":
        if (frame.by !== undefined) return this.#push(this.#renderer.render(frame));
        {
          const room = this.#gateway.hub.room(frame.room);
          if (room?.topic) this.#topicReply(room);
          else this.#num("331", [frame.room, "No topic is set"]);
        }
        return;
      case "message":
      case "action":
      case "private":
        if (!frame.history) {
          if (this.#wants(frame)) this.#push(this.#renderer.render(frame));
          return;
        }
        this.#historyLine(frame);
        return;
      case "history":
        if (this.#historyBatch !== undefined) {
          this.#raw(`BATCH -${this.#historyBatch}`);
          this.#historyBatch = undefined;
        }
        return;
      case "bye":
        this.#raw(`ERROR :Closing link: ${this.#gateway.host} (${frame.reason})`);
        return;
      case "ping":
        this.#raw(`PING :${frame.token ?? this.#gateway.serverName}`);
        return;
      case "left":
        if (frame.nick === this.session.nick && frame.reason !== "part") {
          // Removed by a kick or ban: IRC clients know they left a channel from a KICK.
          if (frame.by !== undefined) {
            const why = frame.reason === "ban"
              ? (frame.message ? `banned: ${frame.message}` : "banned")
              : (frame.message || frame.by);
            this.#raw(formatIrcLine({
              source: this.#gateway.source(frame.by),
              command: "KICK",
              params: [frame.room ?? "", frame.nick, why],
            }, true));
          }
          return;
        }
        if (this.#wants(frame)) this.#push(this.#renderer.render(frame));
        return;
      case "renamed":
        if (this.#wants(frame)) this.#push(this.#renderer.render(frame));
        return;
      case "account":
        if (frame.account !== null) {
          this.#num("900", [
            this.#gateway.source(frame.nick),
            frame.account,
            `You are now logged in as ${frame.account}`,
          ]);
        } else this.#num("901", [this.#gateway.source(frame.nick), "You are now logged out"]);
        this.#accountNotify(frame.account);
        return;
      case "moderation":
        return this.#moderation(frame);
      case "invited":
        this.#raw(`:${this.#gateway.source(frame.by)} INVITE ${this.nick} ${frame.room}`);
        return;
      default:
        return; // pong, rooms, help: IRC has its own replies
    }
  }

  /** A moderation action as IRC shows it: KICK, or a channel MODE. */
  #moderation(frame: Extract<ServerFrame, { type: "moderation" }>): void {
    if (frame.room === undefined) return;
    const by = this.#gateway.source(frame.by);
    const mask = (t: string) => t.includes("!") || t.includes("@") ? t : `${t}!*@*`;
    const mode: Record<string, string | undefined> = {
      op: `+o ${frame.target}`,
      deop: `-o ${frame.target}`,
      ban: `+b ${mask(frame.target)}`,
      unban: `-b ${mask(frame.target)}`,
      topic_lock: "+t",
      topic_unlock: "-t",
      invite_only: "+i",
      invite_open: "-i",
      secret: "+s",
      public: "-s",
      moderated: "+m",
      unmoderated: "-m",
      voice: `+v ${frame.target}`,
      devoice: `-v ${frame.target}`,
    };
    if (frame.action === "kick") {
      this.#raw(formatIrcLine({
        source: by,
        command: "KICK",
        params: [frame.room, frame.target, frame.reason || frame.by],
      }, true));
    } else if (mode[frame.action] !== undefined) {
      this.#raw(`:${by} MODE ${frame.room} ${mode[frame.action]}`);
    }
    // mute, unmute, invite: no IRC line (a muted user's messages get 404)
  }

  /** Sends a line once to each IRC peer with `cap` that shares a room with this client. */
  #tellPeers(cap: string, line: Uint8Array): void {
    const told = new Set<Session>([this.session]);
    for (const room of this.session.rooms.values()) {
      for (const member of room.members()) {
        if (told.has(member)) continue;
        told.add(member);
        const client = this.#gateway.clientOf(member);
        if (client?.caps.has(cap)) client.send(line);
      }
    }
  }

  /** account-notify (IRCv3): tells peers sharing a room that this user logged in or out. */
  #accountNotify(account: string | null): void {
    const line = encoder.encode(
      `:${this.#gateway.source(this.nick)} ACCOUNT ${account ?? "*"}${CRLF}`,
    );
    this.#tellPeers("account-notify", line);
  }

  /**
   * A replayed message (join history): sent to clients that show times
   * (server-time) and do not fetch history themselves (draft/chathistory),
   * in a `chathistory` batch when they speak batch.
   */
  #historyLine(frame: Extract<ServerFrame, { type: "message" | "action" | "private" }>): void {
    if (!this.caps.has("server-time") || this.caps.has("draft/chathistory")) return;
    if (this.#historyBatch === undefined && this.caps.has("batch") && frame.type !== "private") {
      this.#historyBatch = `h${++this.#batches}`;
      this.#raw(`BATCH +${this.#historyBatch} chathistory ${frame.room}`);
    }
    this.#raw(this.#renderer.chat(frame, this.#historyBatch).slice(0, -2));
  }

  #error(code: ErrorCode, message: string): void {
    this.#errors++;
    const ctx = this.#context;
    if (ctx?.quiet || this.#loggingIn) return;
    const target = ctx?.target ?? "*";
    if (ctx?.command === "CHATHISTORY") {
      // The core's refusal of a history read: the room is not there for this
      // client, or it may not read it (banned, invite-only); or a bad limit.
      const fail = code === "usage" || code === "bad_frame" ? "INVALID_PARAMS" : "INVALID_TARGET";
      return this.#chathistoryFail(ctx.sub ?? "", fail, message);
    }
    switch (code) {
      case "nick_invalid":
        return this.#num("432", [target, "Erroneous nickname: " + message]);
      case "nick_taken":
        return this.#num("433", [target, "Nickname is already in use"]);
      case "no_such_nick":
        this.#num("401", [target, "No such nick/channel"]);
        if (ctx?.command === "WHOIS") this.#num("318", [target, "End of /WHOIS list"]);
        return;
      case "no_such_room":
        if (ctx?.command === "NAMES") return this.#num("366", [target, "End of /NAMES list"]);
        return this.#num("403", [target, "No such channel"]);
      case "room_invalid":
        return this.#num("403", [target, "No such channel: " + message]);
      case "not_in_room":
        if (ctx?.command === "PRIVMSG") return this.#num("404", [target, "Cannot send to channel"]);
        return this.#num("442", [target, "You're not on that channel"]);
      case "too_many_rooms":
        if (ctx?.command === "JOIN") {
          return this.#num("405", [target, "You have joined too many channels"]);
        }
        break;
      case "nick_registered":
        return this.#num("433", [target, "Nickname is registered: log in with SASL or PASS"]);
      case "permission_denied":
        if (ctx?.target?.startsWith("#")) {
          return this.#num("482", [ctx.target, "You're not channel operator"]);
        }
        break;
      case "banned":
        if (ctx?.command === "JOIN") return this.#num("474", [target, "Cannot join channel (+b)"]);
        break;
      case "invite_only":
        if (ctx?.command === "JOIN") return this.#num("473", [target, "Cannot join channel (+i)"]);
        break;
      case "muted":
        if (ctx?.command === "PRIVMSG") return this.#num("404", [target, "Cannot send to channel"]);
        break;
      case "empty_text":
        return this.#num("412", ["No text to send"]);
      case "not_registered":
        return this.#num("451", ["You have not registered"]);
      case "timeout": // the handshake or idle timeout: the close that follows says why
        return this.#raw(`ERROR :Closing link: ${this.#gateway.host} (${message})`);
    }
    this.#raw(formatIrcLine({
      source: this.#gateway.serverName,
      command: "FAIL",
      params: [escapeUnseen(ctx?.command ?? "*"), code.toUpperCase(), message],
    }, true));
  }

  // ---- registration ----

  /** CAP: capability negotiation (IRCv3 Capability Negotiation, 302). */
  cap(params: string[]): void {
    const sub = (params[0] ?? "").toUpperCase();
    const nick = this.nick;
    const server = this.#gateway.serverName;
    switch (sub) {
      case "LS":
        if (this.session.state !== "active") this.#negotiating = true;
        this.#raw(
          `:${server} CAP ${nick} LS :${
            IRC_CAPS.map((c) => c === "sasl" && params[1] === "302" ? "sasl=PLAIN" : c).join(" ")
          }`,
        );
        return;
      case "LIST":
        this.#raw(`:${server} CAP ${nick} LIST :${[...this.caps].join(" ")}`);
        return;
      case "REQ": {
        if (this.session.state !== "active") this.#negotiating = true;
        const wanted = (params[1] ?? "").split(" ").filter((c) => c !== "");
        const ok = wanted.length > 0 && wanted.every((c) => IRC_CAPS.includes(c.replace(/^-/, "")));
        if (!ok) {
          this.#raw(`:${server} CAP ${nick} NAK :${escapeUnseen(params[1] ?? "")}`);
          return;
        }
        for (const c of wanted) {
          if (c.startsWith("-")) this.caps.delete(c.slice(1));
          else this.caps.add(c);
        }
        this.#renderer = this.#gateway.renderer(
          (this.caps.has("server-time") ? TAG_TIME : 0) |
            (this.caps.has("message-tags") ? TAG_MSGID : 0),
        );
        this.#raw(`:${server} CAP ${nick} ACK :${wanted.join(" ")}`);
        return;
      }
      case "END":
        this.#negotiating = false;
        if (this.#welcomeDeferred) {
          this.#welcomeDeferred = false;
          this.#welcome();
        }
        this.#tryRegister();
        return;
      default:
        this.#num("410", [params[0] ?? "", "Invalid CAP command"]);
    }
  }

  /** NICK: before registration, checked by the core's rules; after, a rename. */
  nickCommand(params: string[]): void {
    const requested = params[0];
    if (requested === undefined || requested === "") return this.#num("431", ["No nickname given"]);
    if (this.session.state === "active") {
      this.#frame({ type: "nick", nick: requested }, { command: "NICK", target: requested });
      this.#gateway.noteUser(this.session.nick!, this.user);
      return;
    }
    const result = this.#gateway.hub.checkNick(this.session, requested);
    if (!result.ok && result.code === "nick_registered") {
      // Maybe theirs: SASL or PASS may log in to it before registration ends.
      this.#nick = requested;
      this.#tryRegister();
      return;
    }
    if (!result.ok) {
      this.#context = { command: "NICK", target: requested };
      this.#error(result.code, result.message);
      return;
    }
    this.#nick = result.nick;
    this.#tryRegister();
  }

  /** USER: username and real name. */
  userCommand(params: string[]): void {
    if (this.session.state === "active" || this.#gotUser) {
      return this.#num("462", ["You may not reregister"]);
    }
    if (params.length < 4 || params[0] === "") {
      return this.#num("461", ["USER", "Not enough parameters"]);
    }
    this.user = "~" + params[0]!.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 10) || "~u";
    this.realname = params[3]!;
    this.#gotUser = true;
    this.#tryRegister();
  }

  #tryRegister(): void {
    if (this.session.state === "active" || this.#negotiating || !this.#gotUser) return;
    if (this.#loggingIn) return; // registration ends when the login has
    const nick = this.#nick;
    if (nick === undefined) return;
    const password = this.#password;
    if (password !== undefined) {
      // PASS: log in to the nickname's account (the core's login and its limits).
      this.#password = undefined;
      this.#login(nick, password, (ok) => {
        if (!ok) this.#num("464", ["Password incorrect"]);
        this.#tryRegister();
      });
      return;
    }
    this.#context = { command: "NICK", target: nick };
    if (!this.session.register(nick)) this.#nick = undefined;
    else this.#gateway.noteUser(this.session.nick!, this.user);
  }

  /**
   * Logs in through the core (`Accounts.login`: the password rule, login
   * limits, scrypt off the event loop). Its error frames are not shown: the
   * caller answers with the IRC numeric.
   */
  #login(nick: string, password: string, done: (ok: boolean) => void): void {
    this.#loggingIn = true;
    this.#gateway.hub.accounts.login(this.session, nick, password).then(
      (ok) => ok,
      () => false,
    ).then((ok) => {
      this.#loggingIn = false;
      if (this.session.state !== "closed") done(ok);
    });
  }

  /** AUTHENTICATE: SASL PLAIN (IRCv3 sasl-3.1), checked by the core's login. */
  authenticate(params: string[]): void {
    const arg = params[0] ?? "";
    const fail = (numeric = "904", text = "SASL authentication failed") => {
      this.#sasl = undefined;
      this.#num(numeric, [text]);
    };
    if (!this.caps.has("sasl")) return fail();
    if (this.session.account !== undefined) return fail("907", "You have already authenticated");
    if (arg === "*") return fail("906", "SASL authentication aborted");
    if (this.#sasl === undefined) {
      if (arg.toUpperCase() !== "PLAIN") {
        this.#num("908", ["PLAIN", "are available SASL mechanisms"], true);
        return fail();
      }
      this.#sasl = "";
      this.#raw("AUTHENTICATE +");
      return;
    }
    if (arg !== "+") this.#sasl += arg;
    if (this.#sasl.length > 1200) return fail("905", "SASL message too long");
    if (arg.length === 400) return; // more chunks follow
    let fields: string[];
    try {
      fields = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(this.#sasl), (c) => c.charCodeAt(0)),
      ).split("\0");
    } catch {
      return fail();
    }
    this.#sasl = undefined;
    const [authzid = "", authcid = "", password = ""] = fields;
    if (fields.length !== 3 || authcid === "" || (authzid !== "" && authzid !== authcid)) {
      return fail();
    }
    this.#login(authcid, password, (ok) => {
      if (ok) this.#num("903", ["SASL authentication successful"]);
      else fail();
    });
  }

  /** PASS: the account password, used when registration completes. */
  pass(params: string[]): void {
    if (this.session.state === "active") return this.#num("462", ["You may not reregister"]);
    if (!params[0]) return this.#num("461", ["PASS", "Not enough parameters"]);
    this.#password = params[0];
  }

  #welcome(): void {
    if (this.#negotiating) {
      this.#welcomeDeferred = true; // SASL logged in before CAP END
      return;
    }
    const g = this.#gateway;
    const hub = g.hub;
    this.#num("001", [`Welcome to the ${hub.name} IRC gateway, ${g.source(this.nick)}`]);
    this.#num("002", [`Your host is ${g.serverName}, running version chat-${g.version}`]);
    this.#num("003", [`This server was created ${new Date(g.createdAt).toUTCString()}`]);
    this.#num("004", [g.serverName, `chat-${g.version}`, "i", "bimnostv"], false);
    const tokens = [
      "AWAYLEN=300",
      "CASEMAPPING=rfc8265",
      `CHANLIMIT=#:${MAX_JOINED_ROOMS}`,
      "CHANMODES=b,,,imnst",
      "CHANNELLEN=33",
      "CHANTYPES=#",
      `CHATHISTORY=${IRC_CHATHISTORY_MAX}`,
      `NETWORK=${hub.name}`,
      `NICKLEN=${MAX_NICK_LENGTH}`,
      "PREFIX=(ov)@+",
      `TARGMAX=JOIN:,PART:,PRIVMSG:4,NOTICE:4,TAGMSG:1,NAMES:${IRC_NAMES_TARGETS},WHOIS:1`,
      `TOPICLEN=${MAX_TOPIC_LENGTH}`,
      "UTF8ONLY",
    ];
    for (let i = 0; i < tokens.length; i += 12) {
      this.#num("005", [...tokens.slice(i, i + 12), "are supported by this server"]);
    }
    this.lusers();
    this.motd();
  }

  // ---- commands ----

  /** LUSERS: counts of users and channels. */
  lusers(): void {
    const hub = this.#gateway.hub;
    const users = String(hub.size);
    this.#num("251", [`There are ${users} users and 0 invisible on 1 servers`]);
    this.#num("252", ["0", "operator(s) online"]);
    this.#num("254", [String(hub.rooms().length), "channels formed"]);
    this.#num("255", [`I have ${users} clients and 0 servers`]);
    this.#num("265", [users, users, `Current local users ${users}, max ${users}`]);
    this.#num("266", [users, users, `Current global users ${users}, max ${users}`]);
  }

  /** MOTD: the message of the day. */
  motd(): void {
    const g = this.#gateway;
    this.#num("375", [`- ${g.serverName} Message of the day - `]);
    for (const line of g.motd) this.#num("372", [`- ${line}`]);
    this.#num("376", ["End of /MOTD command."]);
  }

  /** PING: answered at once. */
  ping(params: string[]): void {
    if (params.length === 0) return this.#num("409", ["No origin specified"]);
    const server = this.#gateway.serverName;
    this.#raw(
      formatIrcLine({ source: server, command: "PONG", params: [server, params[0]!] }, true),
    );
  }

  /** JOIN #a,#b (keys ignored: no channel has one); `JOIN 0` parts every channel. */
  join(params: string[]): void {
    const list = params[0];
    if (!list) return this.#num("461", ["JOIN", "Not enough parameters"]);
    if (list === "0") {
      for (const room of [...this.session.rooms.values()]) {
        this.#frame({ type: "part", room: room.name }, { command: "PART", target: room.name });
      }
      return;
    }
    for (const name of list.split(",")) {
      if (name === "") continue;
      if (!name.startsWith("#")) {
        this.#num("403", [name, "No such channel"]);
        continue;
      }
      if (this.#gateway.hub.room(name)?.has(this.session)) continue;
      this.#frame({ type: "join", room: name }, { command: "JOIN", target: name });
    }
  }

  /** PART #a,#b [reason]. */
  part(params: string[]): void {
    const [list, reason] = params;
    if (!list) return this.#num("461", ["PART", "Not enough parameters"]);
    for (const name of list.split(",")) {
      if (name === "") continue;
      const frame: ClientFrame = reason
        ? { type: "part", room: name, reason }
        : { type: "part", room: name };
      this.#frame(frame, { command: "PART", target: name });
    }
  }

  /** PRIVMSG and NOTICE to rooms and people; CTCP ACTION is an action. */
  message(params: string[], notice: boolean): void {
    const command = notice ? "NOTICE" : "PRIVMSG";
    if (params.length === 0 || params[0] === "") {
      if (!notice) this.#num("411", [`No recipient given (${command})`]);
      return;
    }
    if (params.length < 2 || params[1] === "") {
      if (!notice) this.#num("412", ["No text to send"]);
      return;
    }
    let text = params[1]!;
    let kind: "say" | "me" = "say";
    if (text.startsWith("\x01")) {
      // deno-lint-ignore no-control-regex -- CTCP is delimited by \x01
      const m = /^\x01ACTION(?: ([\s\S]*?))?\x01?$/.exec(text);
      if (!m) return; // other CTCP requests (VERSION, PING…) have no chat form
      kind = "me";
      text = m[1] ?? "";
    }
    const hub = this.#gateway.hub;
    const tags = clientTagsOf(this.#tags);
    const head = `:${this.#gateway.source(this.nick)} ${command} `;
    for (const target of params[0]!.split(",").slice(0, 4)) {
      if (target === "") continue;
      // What cannot be relayed in one line once the sender's source is added
      // is refused, not truncated or split (as ergo does; message-tags'
      // length tests accept either).
      if (encoder.encode(`${head}${target} :${params[1]}`).length > IRC_LINE_BYTES - 2) {
        this.#num("417", ["Input line was too long"]);
        continue;
      }
      const ctx: Context = { command: "PRIVMSG", target, ...(notice ? { quiet: true } : {}) };
      if (target.startsWith("#")) {
        const ref = String(++this.#echoSeq);
        const room = hub.room(target);
        const frame: ClientFrame = kind === "say"
          ? {
            type: "say",
            room: target,
            text,
            ref,
            ...(notice ? { notice } : {}),
            ...(tags ? { tags } : {}),
          }
          : { type: "me", room: target, text, ref, ...(tags ? { tags } : {}) };
        const before = this.#errors;
        this.#frame(frame, ctx);
        if (this.#errors === before && room && this.caps.has("echo-message")) {
          if (this.#echoes.size >= MAX_PENDING_ECHOES) {
            this.#echoes.delete(this.#echoes.keys().next().value!);
          }
          this.#echoes.set(ref, {
            kind: kind === "say" ? "message" : "action",
            room: room.name,
            text: cleanForEcho(text),
            notice: notice && kind === "say",
            tags,
          });
        }
        continue;
      }
      this.#frame({
        type: "msg",
        to: target,
        text: kind === "me" ? `* ${text}` : text,
        ...(notice && kind === "say" ? { notice } : {}),
        ...(tags ? { tags } : {}),
      }, ctx);
    }
  }

  /**
   * TAGMSG target (IRCv3 message-tags): client-only tags alone, such as
   * `+typing`, relayed to the IRC users of the room (or the person) who
   * negotiated `message-tags`, and echoed with `echo-message`; nobody else
   * gets anything (no other transport has a form for it, and nothing is
   * stored). Membership, mutes and `+m` apply as for PRIVMSG, and so does
   * delivery (`Hub.relay`): in order after earlier messages, under flood
   * control, per-receiver flow control and the slow-consumer rule.
   */
  tagmsg(params: string[]): void {
    const target = params[0];
    if (!target) return this.#num("461", ["TAGMSG", "Not enough parameters"]);
    const tags = clientTagsOf(this.#tags);
    if (!tags) return; // nothing a receiver could use
    const g = this.#gateway;
    const hub = g.hub;
    let receivers: Iterable<Session>;
    let name: string;
    if (target.startsWith("#")) {
      const room = hub.room(target);
      if (!room) return this.#num("403", [target, "No such channel"]);
      if (!room.has(this.session) || hub.moderation.speakRefusal(this.session, room)) {
        return this.#num("404", [room.name, "Cannot send to channel"]);
      }
      receivers = room.members();
      name = room.name;
    } else {
      const person = hub.find(target);
      if (!person) return this.#num("401", [target, "No such nick/channel"]);
      receivers = hub.personOf(person);
      name = person.nick!;
    }
    const msgid = `t${++g.tagMessages}`;
    const rest = ` :${g.source(this.nick)} TAGMSG ${name}${CRLF}`;
    const plain = encoder.encode(`@msgid=${msgid};${clientTagItems(tags)}${rest}`);
    let timed: Uint8Array | undefined;
    const lineFor = (client: IrcClient) =>
      client.caps.has("server-time")
        ? timed ??= encoder.encode(
          `@time=${isoTime(Date.now())};msgid=${msgid};${clientTagItems(tags)}${rest}`,
        )
        : plain;
    // Delivered as a PRIVMSG to the same target is: after what was sent
    // before it, through each receiver's send queue, holding this sender
    // while a receiver it reached is behind.
    hub.relay(this.session, receivers, (member) => {
      const client = g.clientOf(member);
      if (!client?.caps.has("message-tags")) return false;
      client.send(lineFor(client));
      return true;
    });
    if (this.caps.has("echo-message") && this.caps.has("message-tags")) this.send(lineFor(this));
  }

  /** TOPIC #room [text]. */
  topic(params: string[]): void {
    const room = params[0];
    if (!room) return this.#num("461", ["TOPIC", "Not enough parameters"]);
    const frame: ClientFrame = params.length > 1
      ? { type: "topic", room, text: params[1]! }
      : { type: "topic", room };
    this.#frame(frame, { command: "TOPIC", target: room });
  }

  #topicReply(room: Room): void {
    this.#num("332", [room.name, room.topic]);
    if (room.topicBy !== undefined) {
      this.#num(
        "333",
        [room.name, room.topicBy, String(Math.floor((room.topicTs ?? 0) / 1000))],
        false,
      );
    }
  }

  /**
   * 353 lines for a room's members, then 366 (unless `end` is false: NAMES
   * of several rooms), made one at a time for `Session.reply`.
   */
  *#namesLines(room: Room, end = true): Generator<Uint8Array> {
    const moderation = this.#gateway.hub.moderation;
    const nicks = [...room.members()].sort((a, b) =>
      a.nick!.localeCompare(b.nick!, undefined, { sensitivity: "base" })
    ).map((m) => {
      // Highest prefix first; every prefix with multi-prefix (IRCv3).
      const op = moderation.isRoomOp(m, room) ? "@" : "";
      const voice = moderation.isVoiced(m, room) ? "+" : "";
      const prefix = this.caps.has("multi-prefix") ? op + voice : op || voice;
      return prefix +
        (this.caps.has("userhost-in-names") ? this.#gateway.source(m.nick!) : m.nick!);
    });
    // RFC 2812 §5.1: "@" marks a secret channel, "=" a public one.
    const symbol = moderation.settings(room).secret ? "@" : "=";
    const head = `:${this.#gateway.serverName} 353 ${this.nick} ${symbol} ${room.name} :`;
    const budget = IRC_LINE_BYTES - 2 - encoder.encode(head).length;
    let line = "";
    for (const nick of nicks) {
      if (line !== "" && encoder.encode(line + " " + nick).length > budget) {
        yield encoder.encode(head + line + CRLF);
        line = "";
      }
      line = line === "" ? nick : line + " " + nick;
    }
    if (line !== "") yield encoder.encode(head + line + CRLF);
    if (end) yield this.#numLine("366", [room.name, "End of /NAMES list"]);
  }

  /**
   * NAMES [#room,…]: the members of each room (at most `TARGMAX` NAMES
   * rooms), then one 366 naming the list as asked (Modern IRC). Paced by the
   * client's reading, like every long reply (`Session.reply`).
   */
  namesCommand(params: string[]): void {
    this.session.reply(this.#namesReply(params));
  }

  *#namesReply(params: string[]): Generator<Uint8Array> {
    if (!params[0]) return yield this.#numLine("366", ["*", "End of /NAMES list"]);
    const names = params[0].split(",").filter((n) => n !== "");
    const visible = (name: string) => {
      const room = this.#gateway.hub.room(name);
      return room && !this.#gateway.hub.moderation.hiddenFrom(room, this.session)
        ? room
        : undefined;
    };
    if (names.length === 1) {
      const room = visible(names[0]!);
      if (room) return yield* this.#namesLines(room);
    }
    for (const name of names.slice(0, IRC_NAMES_TARGETS)) {
      const room = visible(name);
      if (room) yield* this.#namesLines(room, false);
    }
    yield this.#numLine("366", [params[0], "End of /NAMES list"]);
  }

  /**
   * LIST: every room with its member count and topic, paced by the
   * client's reading (`Session.reply`): thousands of rooms never overflow
   * its send queue.
   */
  list(params: string[]): void {
    this.session.reply(this.#listReply(params));
  }

  *#listReply(params: string[]): Generator<Uint8Array> {
    const only = params[0]?.split(",").map((n) => n.toLowerCase());
    yield this.#numLine("321", ["Channel", "Users  Name"]);
    const moderation = this.#gateway.hub.moderation;
    for (const room of this.#gateway.hub.rooms()) {
      if (only && !only.includes(room.key)) continue;
      if (moderation.hiddenFrom(room, this.session)) continue;
      yield this.#numLine("322", [room.name, String(room.size), room.topic]);
    }
    yield this.#numLine("323", ["End of /LIST"]);
  }

  #whoLine(channel: string, session: Session): Uint8Array {
    const g = this.#gateway;
    const client = g.clientOf(session);
    const flags = session.away !== undefined ? "G" : "H";
    return this.#numLine("352", [
      channel,
      g.userOf(session, session.nick!),
      g.host,
      g.serverName,
      session.nick!,
      flags,
      `0 ${client?.realname || `chat ${session.format} user`}`,
    ]);
  }

  /** WHO #room | nick, paced by the client's reading (`Session.reply`). */
  who(params: string[]): void {
    this.session.reply(this.#whoReply(params));
  }

  *#whoReply(params: string[]): Generator<Uint8Array> {
    const mask = params[0] ?? "*";
    const hub = this.#gateway.hub;
    if (mask.startsWith("#")) {
      const room = hub.room(mask);
      const shown = room && !hub.moderation.hiddenFrom(room, this.session) ? room : undefined;
      for (const member of shown?.members() ?? []) {
        if (member.state !== "closed") yield this.#whoLine(shown!.name, member);
      }
    } else {
      const session = hub.find(mask);
      const room = session &&
        [...session.rooms.values()].find((r) => !hub.moderation.hiddenFrom(r, this.session));
      if (session) yield this.#whoLine(room?.name ?? "*", session);
    }
    yield this.#numLine("315", [mask, "End of WHO list"]);
  }

  /** WHOIS [server] nick: the core's `whois`. */
  whois(params: string[]): void {
    const target = params.length > 1 ? params[1]! : params[0];
    if (!target) return this.#num("431", ["No nickname given"]);
    this.#frame({ type: "whois", nick: target }, { command: "WHOIS", target });
  }

  #whoisReply(frame: Extract<ServerFrame, { type: "whois" }>): void {
    const g = this.#gateway;
    const session = g.hub.find(frame.nick);
    const nick = frame.nick;
    const realname = (session && g.clientOf(session)?.realname) ||
      `chat ${session?.format ?? ""} user`;
    this.#num("311", [nick, g.userOf(session, nick), g.host, "*", realname]);
    if (frame.rooms.length > 0) this.#num("319", [nick, frame.rooms.join(" ")]);
    this.#num("312", [nick, g.serverName, `chat ${g.version}`]);
    if (frame.away !== undefined) this.#num("301", [nick, frame.away]);
    this.#num("317", [
      nick,
      String(Math.floor(frame.idle / 1000)),
      String(Math.floor(frame.connected / 1000)),
      "seconds idle, signon time",
    ]);
    this.#num("318", [nick, "End of /WHOIS list"]);
  }

  /** AWAY [message]: the core's `away`; the change is told to away-notify peers. */
  awayCommand(params: string[]): void {
    const text = params[0] ?? "";
    const before = this.session.away;
    this.#frame({ type: "away", text }, { command: "AWAY" });
    if (this.session.away === before) return;
    const line = encoder.encode(
      formatIrcLine({
        source: this.#gateway.source(this.nick),
        command: "AWAY",
        params: this.session.away === undefined ? [] : [this.session.away],
      }, true) + CRLF,
    );
    this.#tellPeers("away-notify", line);
  }

  /**
   * MODE: a channel's modes (`+n`, and `+t`, `+i` when set), its ban list,
   * and changes through the core's moderation (`+o/-o nick`, `+b/-b mask`,
   * `+t/-t`, `+i/-i`), each checked by the core's permission policy.
   * A user's own mode is `+i`.
   */
  mode(params: string[]): void {
    const target = params[0];
    if (!target) return this.#num("461", ["MODE", "Not enough parameters"]);
    const hub = this.#gateway.hub;
    if (target.startsWith("#")) {
      const room = hub.room(target);
      if (!room) return this.#num("403", [target, "No such channel"]);
      const change = params[1];
      if (change === undefined) {
        const settings = hub.moderation.settings(room);
        const modes = "+n" + (settings.topicLock ? "t" : "") + (settings.inviteOnly ? "i" : "") +
          (settings.secret ? "s" : "") + (settings.moderated ? "m" : "");
        return this.#num("324", [room.name, modes], false);
      }
      if (/^[+-]?b$/.test(change) && params.length === 2) {
        return this.#num("368", [room.name, "End of channel ban list"]);
      }
      let sign = "+";
      let arg = 2;
      for (const ch of change) {
        if (ch === "+" || ch === "-") {
          sign = ch;
          continue;
        }
        const on = sign === "+";
        const ctx: Context = { command: "MODE", target: room.name };
        const param = () => params[arg++];
        let frame: ClientFrame | undefined;
        if (ch === "o") {
          const nick = param();
          if (nick) frame = { type: on ? "op" : "deop", nick, room: room.name };
        } else if (ch === "b") {
          // `nick!*@*` names a nickname, `*!*@10.1.0.0/16` an address or prefix.
          const mask = param()?.replace(/!\*@\*$/, "").replace(/^\*!\*@/, "");
          if (mask) frame = { type: on ? "ban" : "unban", target: mask, room: room.name };
        } else if (ch === "v") {
          const nick = param();
          if (nick) frame = { type: on ? "voice" : "devoice", nick, room: room.name };
        } else if (ch === "t" || ch === "i" || ch === "s" || ch === "m") {
          frame = {
            type: "mode",
            mode: ch === "t"
              ? "topic_lock"
              : ch === "i"
              ? "invite_only"
              : ch === "s"
              ? "secret"
              : "moderated",
            on,
            room: room.name,
          };
        } else if (ch !== "n") {
          this.#num("472", [ch, "is unknown mode char to me"]);
          continue;
        }
        if (frame) this.#frame(frame, ctx);
      }
      return;
    }
    if (hub.find(target) !== this.session) {
      return this.#num("502", ["Can't change mode for other users"]);
    }
    if (params[1] === undefined) return this.#num("221", ["+i"], false);
    // Accepted and ignored: every chat user is invisible to WHO masks already.
  }

  /** KICK #room nick [reason]: the core's kick. */
  kick(params: string[]): void {
    const [channel, nicks, reason] = params;
    if (!channel || !nicks) return this.#num("461", ["KICK", "Not enough parameters"]);
    for (const nick of nicks.split(",")) {
      if (nick === "") continue;
      const frame: ClientFrame = reason
        ? { type: "kick", nick, room: channel, reason }
        : { type: "kick", nick, room: channel };
      this.#frame(frame, { command: "KICK", target: channel });
    }
  }

  /** QUIT [reason]. */
  quit(params: string[]): void {
    const reason = params[0];
    this.#frame(reason ? { type: "quit", reason } : { type: "quit" }, { command: "QUIT" });
  }

  /** INVITE nick #room: the core's invite (the target gets `INVITE`, or the core's notice). */
  invite(params: string[]): void {
    const [nick, channel] = params;
    if (!nick || !channel) return this.#num("461", ["INVITE", "Not enough parameters"]);
    const hub = this.#gateway.hub;
    const target = hub.find(nick);
    if (!target) return this.#num("401", [nick, "No such nick/channel"]);
    const room = hub.room(channel);
    if (!room) return this.#num("403", [channel, "No such channel"]);
    if (!room.has(this.session)) return this.#num("442", [room.name, "You're not on that channel"]);
    if (room.has(target)) {
      return this.#num("443", [target.nick!, room.name, "is already on channel"]);
    }
    const before = this.#errors;
    this.#frame({ type: "invite", nick: target.nick!, room: room.name }, {
      command: "INVITE",
      target: room.name,
    });
    if (this.#errors === before) this.#num("341", [target.nick!, room.name], false);
  }

  /** ISON nick…: which of them are online. */
  ison(params: string[]): void {
    const hub = this.#gateway.hub;
    const online = params.flatMap((p) => p.split(" ")).filter((n) => n !== "").map((n) =>
      hub.find(n)?.nick
    )
      .filter((n) => n !== undefined);
    this.#num("303", [online.join(" ")]);
  }

  /** USERHOST nick…. */
  userhost(params: string[]): void {
    const g = this.#gateway;
    const replies = params.slice(0, 5).map((n) => g.hub.find(n)).filter((s) => s !== undefined).map(
      (s) => `${s.nick}=${s.away !== undefined ? "-" : "+"}${g.userOf(s, s.nick!)}@${g.host}`,
    );
    this.#num("302", [replies.join(" ")]);
  }

  /**
   * CHATHISTORY LATEST|BEFORE|AFTER target ref limit (IRCv3
   * draft/chathistory): a page of a room's history in a batch, read through
   * the core's history path (`readHistory`: the checks and the cut of a
   * `history` frame). Refs are `*`, `msgid=ID` or `timestamp=ISO` (times are
   * searched among the newest `MAX_HISTORY_PAGE`, 1000, messages); the
   * core's refusals are `FAIL CHATHISTORY INVALID_TARGET` or `INVALID_PARAMS`.
   */
  chathistory(params: string[]): void {
    const [sub = "", target = "", ref = "", rawLimit = ""] = params.map((p, i) =>
      i === 0 ? p.toUpperCase() : p
    );
    if (sub === "TARGETS") {
      this.#raw(`BATCH +t${++this.#batches} draft/chathistory-targets`);
      this.#raw(`BATCH -t${this.#batches}`);
      return;
    }
    if (!["LATEST", "BEFORE", "AFTER"].includes(sub)) {
      return this.#chathistoryFail(sub, "INVALID_PARAMS", "unsupported subcommand");
    }
    const batch = `c${++this.#batches}`;
    // Private conversations have no CHATHISTORY here: an empty batch.
    if (!target.startsWith("#")) return this.session.reply(this.#chathistoryLines(batch, target));
    const limit = Math.min(IRC_CHATHISTORY_MAX, Number(rawLimit) || JOIN_HISTORY);
    const window = chathistoryWindow(sub, ref, limit);
    this.#context = { command: "CHATHISTORY", target, sub };
    // The core decides who may read the room (refusals reach #error) and cuts the page.
    const page = readHistory(this.session, target, typeof window === "string" ? { limit } : window);
    if (!page) return;
    if (typeof window === "string") return this.#chathistoryFail(sub, "INVALID_PARAMS", window);
    // 100 long messages are ~1 MB of lines: paced like every long reply.
    this.session.reply(this.#chathistoryLines(batch, page.room.name, page.messages));
  }

  #chathistoryFail(sub: string, code: string, text: string): void {
    this.#raw(
      `:${this.#gateway.serverName} FAIL CHATHISTORY ${code} ${escapeUnseen(sub) || "*"} :${text}`,
    );
  }

  *#chathistoryLines(
    batch: string,
    target: string,
    messages: Iterable<StoredMessage> = [],
  ): Generator<Uint8Array> {
    yield encoder.encode(`BATCH +${batch} chathistory ${target}${CRLF}`);
    for (const record of messages) {
      const frame = this.#gateway.hub.frameOf(record, true);
      if (frame.type === "message" || frame.type === "action" || frame.type === "private") {
        yield encoder.encode(
          this.#renderer.chat(frame, this.caps.has("batch") ? batch : undefined),
        );
      }
    }
    yield encoder.encode(`BATCH -${batch}${CRLF}`);
  }
}

/**
 * The history window of a CHATHISTORY request (IRCv3 draft/chathistory):
 * `LATEST *` the newest `limit`; `BEFORE ref` the newest `limit` before it;
 * `AFTER ref` the oldest `limit` after it; `LATEST ref` the newest `limit`
 * after it. A ref is `msgid=ID` or `timestamp=ISO`.
 *
 * @returns the window, or why the request is invalid
 */
function chathistoryWindow(sub: string, ref: string, limit: number): HistoryWindow | string {
  if (ref === "*") {
    return sub === "LATEST" ? { limit } : "reference must be * for LATEST only";
  }
  const m = /^(msgid|timestamp)=(.+)$/.exec(ref);
  if (!m) return "reference must be *, msgid= or timestamp=";
  let bound: number;
  if (m[1] === "msgid") {
    bound = parseInt(m[2]!, 10);
    if (!Number.isFinite(bound)) return "bad msgid";
    return sub === "BEFORE"
      ? { before: bound, limit }
      : { after: bound, limit, oldest: sub === "AFTER" };
  }
  bound = Date.parse(m[2]!);
  if (Number.isNaN(bound)) return "bad timestamp";
  return sub === "BEFORE"
    ? { beforeTs: bound, limit }
    : { afterTs: bound, limit, oldest: sub === "AFTER" };
}

/** The text as the core stores it (what the other receivers see). */
function cleanForEcho(text: string): string {
  return sanitizeText(text, false).trim();
}

/** Frames that reach many receivers (rendered once per renderer). */
function isShared(frame: ServerFrame): boolean {
  switch (frame.type) {
    case "message":
    case "action":
      return !frame.history;
    case "left":
      return frame.by === undefined; // a kick's or ban's goes to the one removed only
    case "joined":
    case "renamed":
      return true;
    case "topic":
      return frame.by !== undefined;
    default:
      return false;
  }
}

type Command = (client: IrcClient, params: string[]) => void;

/** IRC commands by name. */
const COMMANDS: Record<string, Command> = {
  CAP: (c, p) => c.cap(p),
  NICK: (c, p) => c.nickCommand(p),
  USER: (c, p) => c.userCommand(p),
  PASS: (c, p) => c.pass(p),
  AUTHENTICATE: (c, p) => c.authenticate(p),
  KICK: (c, p) => c.kick(p),
  PING: (c, p) => c.ping(p),
  PONG: () => {},
  QUIT: (c, p) => c.quit(p),
  JOIN: (c, p) => c.join(p),
  PART: (c, p) => c.part(p),
  PRIVMSG: (c, p) => c.message(p, false),
  NOTICE: (c, p) => c.message(p, true),
  TAGMSG: (c, p) => c.tagmsg(p),
  TOPIC: (c, p) => c.topic(p),
  NAMES: (c, p) => c.namesCommand(p),
  LIST: (c, p) => c.list(p),
  WHO: (c, p) => c.who(p),
  WHOIS: (c, p) => c.whois(p),
  AWAY: (c, p) => c.awayCommand(p),
  MODE: (c, p) => c.mode(p),
  INVITE: (c, p) => c.invite(p),
  LUSERS: (c) => c.lusers(),
  MOTD: (c) => c.motd(),
  ISON: (c, p) => c.ison(p),
  USERHOST: (c, p) => c.userhost(p),
  CHATHISTORY: (c, p) => c.chathistory(p),
};
