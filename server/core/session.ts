/**
 * One client's session, whatever its transport: handshake, state, frame
 * dispatch and delivery. Transports (TCP JSON, TCP plain text, later TLS and
 * WebSocket) are thin adapters that feed it lines and give it a
 * {@linkcode Transport} to send through.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import {
  type ClientFrame,
  decodeClientFrame,
  encodeFrame,
  type ErrorCode,
  formatPlainText,
  FrameError,
  JOIN_HISTORY,
  type LineErrorCode,
  MAX_HISTORY_PAGE,
  nickKey,
  parseInput,
  PROTOCOL_VERSION,
  quoteValue,
  type ServerFrame,
} from "../../protocol/mod.ts";
import { addressKey } from "./address.ts";
import { handleFrame } from "./commands.ts";
import type { TokenBucket } from "./flood.ts";
import { hashToken, type Hub, type NickResult } from "./hub.ts";
import { type Deliverable, Outbound, OutboundRun, type WireFormat } from "./outbound.ts";

/**
 * How a session's frames are framed: JSON Lines, plain text, or by a
 * protocol adapter (`irc`: the IRC gateway renders frames itself).
 */
export type SessionFormat = WireFormat | "irc";
import type { Room } from "./room.ts";
import type { AccountRecord, StoredMessage } from "../store/store.ts";

/**
 * Which messages of a room a history read wants (see
 * {@linkcode Session.historyRecords}): those with ids between `after` and
 * `before` (both excluded) and, when given, times between `afterTs` and
 * `beforeTs` (ms since epoch, both excluded); of those the newest `limit`,
 * or with `oldest` the oldest `limit`, oldest first.
 */
export interface HistoryWindow {
  /** Ids below this one. @default {Infinity} */
  before?: number;
  /** Ids above this one. @default {0} */
  after?: number;
  /**
   * Times below this one. Times are looked up among the newest
   * `MAX_HISTORY_PAGE` messages below `before` (the store has no index by time).
   */
  beforeTs?: number;
  /** Times above this one (looked up as `beforeTs` is). */
  afterTs?: number;
  /** Most messages, a whole number from 1 to `MAX_HISTORY_PAGE`. */
  limit: number;
  /** Take the oldest `limit` of the window rather than the newest. @default {false} */
  oldest?: boolean;
}

/** What a session needs from its connection. */
export interface Transport {
  /** Peer address for logs, e.g. `127.0.0.1:50312`. */
  readonly remote: string;
  /**
   * The peer's host (IP address), for the password rule and address bans.
   * Absent: treated as a remote peer.
   */
  readonly hostname?: string;
  /**
   * Whether the channel is encrypted (TLS). Passwords travel only over a
   * secure channel or from this machine (see `isLocalPeer`). Absent: false.
   */
  readonly secure?: boolean;
  /** Queues bytes for the peer (bounded: an overflow ends the session). */
  send(bytes: Uint8Array): void;
  /** Sends what is queued, then closes. */
  close(): void;
  /** Bytes queued and not yet written (absent: long replies are not paced). */
  readonly backlog?: number;
  /**
   * Calls back once at most `bytes` are queued; never after the connection
   * failed. Long replies continue from here (see `Session.reply`).
   */
  whenBelow?(bytes: number, callback: () => void): void;
  /**
   * Flow control: while this peer's send queue is over its high-water mark,
   * the identity it is known by in the server's `Pressure`; otherwise
   * `undefined` (absent: never reported).
   */
  readonly backlogged?: object | undefined;
  /**
   * Flow control: this peer's lines just reached a receiver whose queue is
   * `backlogged`; pause reading from this peer until that queue has caught
   * up (for a bounded time). Absent: the transport paces itself.
   */
  holdFor?(backlogged: object): void;
  /**
   * Renders frames itself (a protocol adapter such as IRC): when present,
   * every frame for the session goes here instead of through `send`.
   */
  deliver?(out: Deliverable): void;
}

/** Chat lines: during a resume's catch-up they come from the store, not live. */
const CHAT_LINES: ReadonlySet<ServerFrame["type"]> = new Set(["message", "action", "private"]);
/** Messages read from the store per query while producing a long reply. */
const PAGE = 100;

/** Where a session is in its life. */
export type SessionState = "handshake" | "naming" | "active" | "closed";

const encoder = new TextEncoder();

/**
 * A client's session. JSON sessions start with a `hello` frame; plain-text
 * sessions start with their nickname line. Either way the session is
 * `active` once it holds a nickname, and `closed` after {@linkcode end}.
 */
export class Session {
  /** How this peer's bytes are framed. */
  readonly format: SessionFormat;
  /** The shared chat state. */
  readonly hub: Hub;
  /** When the session began (ms since epoch). */
  readonly connectedAt: number = Date.now();
  #transport: Transport;
  #state: SessionState;
  #nick: string | undefined;
  /** Before a nickname: the last one asked for and refused as registered (for `/login PASSWORD`). */
  #refusedRegistered: string | undefined;
  /** Rooms the session is in, by key, in join order. */
  readonly rooms: Map<string, Room> = new Map();
  #current: Room | undefined;
  #lastPrivateFrom: string | undefined;
  /** Per room key: the lowest id shown, where `/history` continues. */
  #cursors: Map<string, number> | undefined; // created on first use

  #tokenHash: string | undefined;
  #identity: string | undefined; // made on first use
  /** Replies still being produced, in order (see reply()). */
  #replies: Iterator<ServerFrame | Uint8Array>[] | undefined;
  #pumping = false;
  #replied: PromiseWithResolvers<void> | undefined;
  /** Room creations left to this connection (see `HubOptions.roomQuota`); made on first use. */
  roomBucket: TokenBucket | undefined;
  /** A resume is replaying from the store: live chat lines are not sent (the store has them). */
  #catchingUp = false;
  /** The highest message id when the session began; resumes replay only above it. */
  #floor = 0;
  /** The away message, while away. */
  away: string | undefined;
  /** Who was told the away message already (nick keys), reset by each `away`. */
  awayTold: Set<string> | undefined;
  /** When the session last sent a message (ms since epoch), for `whois` idle time. */
  lastActive: number = Date.now();
  /** The `ref` of the frame being handled, carried by any error it gets. */
  replyRef: string | undefined;
  #account: string | undefined;
  #operator = false;

  /**
   * @param hub the shared chat state
   * @param transport how to reach the peer
   * @param format `json`, `text`, or `irc` (the transport renders frames,
   * registers with {@linkcode register}, and joins no room by itself)
   */
  constructor(hub: Hub, transport: Transport, format: SessionFormat) {
    this.hub = hub;
    this.#transport = transport;
    this.format = format;
    this.#state = format === "json" ? "handshake" : "naming";
  }

  /** The nickname, once registered. */
  get nick(): string | undefined {
    return this.#nick;
  }

  /**
   * While the session has no nickname yet: the nickname it last asked for
   * and was refused with `nick_registered`, so `/login PASSWORD` logs in to
   * that account. `undefined` otherwise.
   */
  get refusedRegistered(): string | undefined {
    return this.#state === "naming" ? this.#refusedRegistered : undefined;
  }

  /** The account key (`nickKey` of its nickname) when logged in. */
  get account(): string | undefined {
    return this.#account;
  }

  /** Whether the logged-in account is a server operator. */
  get operator(): boolean {
    return this.#operator;
  }

  /** The peer's host, if the transport knows it. */
  get hostname(): string | undefined {
    return this.#transport.hostname;
  }

  /** Whether the transport is encrypted. */
  get secure(): boolean {
    return this.#transport.secure ?? false;
  }

  /** The current room: where plain text and frames without `room` go. */
  get current(): Room | undefined {
    return this.#current;
  }

  /** Who last sent this session a private message (for `/reply`). */
  get lastPrivateFrom(): string | undefined {
    return this.#lastPrivateFrom;
  }

  /**
   * Who this session is, for private history: `s:` and a random id made with
   * the session (kept across resumes). An account, once logged in, can make
   * it `a:ACCOUNTID` with {@linkcode adoptIdentity}.
   */
  get identity(): string {
    return this.#identity ??= "s:" + randomBytes(12).toString("base64url");
  }

  /**
   * Makes the session act as another identity from now on (e.g. `a:42`
   * after a login): private messages sent and received from then on belong
   * to it, and a resume replays that identity's private history.
   *
   * @param identity `a:ACCOUNTID` or `s:SESSIONID`
   */
  adoptIdentity(identity: string): void {
    this.#identity = identity;
    this.persist();
  }

  /** SHA-256 of the resume token (JSON sessions, once registered). */
  get tokenHash(): string | undefined {
    return this.#tokenHash;
  }

  /**
   * Notes the sender of a private message to this session, for `/reply`.
   *
   * @param nick the sender
   */
  notePrivate(nick: string): void {
    if (nick !== this.#nick) this.#lastPrivateFrom = nick;
  }

  /** The session's state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The peer address. */
  get remote(): string {
    return this.#transport.remote;
  }

  /** The key the peer's address counts under for quotas (IPv4, or IPv6 /64). */
  get address(): string {
    return addressKey(this.#transport.hostname ?? this.#transport.remote);
  }

  /**
   * Handles one line from the peer: a JSON frame, or in plain-text mode a
   * nickname, message or /command. Bad input gets an error back; it never
   * throws.
   *
   * @param line the line, without its terminator
   */
  receiveLine(line: string): void {
    if (this.#state === "closed") return;
    if (this.format === "json") {
      try {
        this.receiveFrame(decodeClientFrame(line));
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.error(error.code, error.message);
      }
      return;
    }
    if (this.#state === "naming" && !line.trimStart().startsWith("/")) {
      this.#claimNick(line.trim());
      return;
    }
    if (line.trim() === "") return;
    const parsed = parseInput(line);
    if (parsed.ok) this.receiveFrame(parsed.frame);
    else this.error(parsed.code, parsed.message);
  }

  /**
   * Reports a line the transport could not deliver (too long, bad UTF-8).
   *
   * @param code why
   */
  lineError(code: LineErrorCode): void {
    this.error(
      code,
      code === "line_too_long"
        ? `line is longer than ${this.hub.limits.maxLineBytes} bytes`
        : "line is not valid UTF-8",
    );
  }

  /**
   * Handles one decoded frame.
   *
   * @param frame a validated client frame
   */
  receiveFrame(frame: ClientFrame): void {
    if (this.#state === "closed") return;
    if (this.#state === "handshake") {
      if (frame.type !== "hello") {
        this.error("not_registered", 'send a "hello" frame first');
        return;
      }
      if (frame.version !== PROTOCOL_VERSION) {
        this.error(
          "version_unsupported",
          `protocol version ${frame.version} is not supported; this server speaks ${PROTOCOL_VERSION}`,
        );
        this.end("unsupported protocol version");
        return;
      }
      this.#state = "naming";
      if (frame.resume !== undefined && this.#resume(frame.resume, frame.last_id)) return;
      if (frame.nick !== undefined && frame.password !== undefined) {
        void this.hub.accounts.login(this, frame.nick, frame.password);
      } else if (frame.password !== undefined) {
        this.error("usage", '"hello" with "password" needs "nick" too');
      } else if (frame.nick !== undefined) this.#claimNick(frame.nick);
      return;
    }
    if (this.#state === "naming" && frame.type === "nick") {
      this.#claimNick(frame.nick);
      return;
    }
    handleFrame(this, frame);
  }

  /**
   * Flow control: the identity of this session's send queue in the server's
   * `Pressure` while it is over its high-water mark, else `undefined`.
   */
  get backlogged(): object | undefined {
    return this.#transport.backlogged;
  }

  /**
   * Flow control: this session's messages reached a receiver that is behind
   * (see {@linkcode backlogged}); its transport pauses reading from it until
   * that receiver caught up. Only the receivers a sender feeds hold it back.
   *
   * @param backlogged the receiver's {@linkcode backlogged} identity
   */
  holdFor(backlogged: object): void {
    this.#transport.holdFor?.(backlogged);
  }

  /**
   * Queues a frame (or a run of room messages) prepared for many receivers.
   *
   * @param out the frames and their cached encodings
   */
  deliver(out: Deliverable): void {
    if (this.#state === "closed") return;
    if (this.#catchingUp) {
      // The catch-up reads these chat lines from the store; send the rest.
      const parts = out instanceof OutboundRun ? out.parts : [out as Outbound];
      for (const part of parts) if (!CHAT_LINES.has(part.frame.type)) this.#deliverNow(part);
      return;
    }
    this.#deliverNow(out);
  }

  #deliverNow(out: Deliverable): void {
    if (this.#transport.deliver) return this.#transport.deliver(out);
    const elsewhere = this.format === "text" && out.roomKey !== undefined &&
      this.#current?.key !== out.roomKey;
    const bytes = out.bytes(this.format as WireFormat, elsewhere);
    if (bytes) this.#transport.send(bytes);
  }

  /**
   * Sends a frame to this session only.
   *
   * @param frame the frame
   */
  send(frame: ServerFrame): void {
    if (this.#state === "closed") return;
    if (this.#catchingUp && CHAT_LINES.has(frame.type)) return; // the catch-up has it
    this.#sendNow(frame);
  }

  /**
   * Sends frames to this session only, in order: what {@linkcode send} does
   * for each, as one chunk for a JSON peer (a sender's acks for a run of its
   * messages: one push and one encode, not one per message).
   *
   * @param frames the frames
   */
  sendAll(frames: readonly ServerFrame[]): void {
    if (frames.length === 1 || this.format !== "json" || this.#transport.deliver) {
      for (const frame of frames) this.send(frame);
      return;
    }
    if (this.#state === "closed") return;
    let text = "";
    for (const frame of frames) {
      if (!(this.#catchingUp && CHAT_LINES.has(frame.type))) text += encodeFrame(frame);
    }
    if (text !== "") this.#transport.send(encoder.encode(text));
  }

  #sendNow(frame: ServerFrame): void {
    if (
      this.format === "text" &&
      (frame.type === "private" || frame.type === "away" || frame.type === "search_results" ||
        (frame.type === "left" && frame.by !== undefined))
    ) {
      // Plain-text rendering of these depends on the viewer.
      const text = formatPlainText(frame, this.#nick)!;
      this.#transport.send(encoder.encode(text + "\n"));
      return;
    }
    this.#deliverNow(new Outbound(frame));
  }

  /** Whether a long reply is still being produced (the transport holds the next line back). */
  get replying(): boolean {
    return this.#replies !== undefined;
  }

  /** Resolves once no reply is being produced (or the session closed). */
  replied(): Promise<void> {
    if (this.#replies === undefined) return Promise.resolve();
    return (this.#replied ??= Promise.withResolvers()).promise;
  }

  /**
   * Sends a reply produced a frame at a time, after any reply still going
   * out. Frames are taken from `frames` only while the transport's backlog is
   * under the hub's reply budget; past it, production pauses until the peer
   * has read the backlog down to half (pull: a reply never overflows the send
   * queue, however long, and never costs the asker the connection). Live
   * traffic is not held back meanwhile and stays under the slow-consumer rule.
   *
   * @param frames the reply; iterated lazily. A protocol adapter that words
   * its own replies (IRC's LIST, WHO, NAMES) gives the bytes of each line
   * instead, sent to the transport as they are
   */
  reply(frames: Iterable<ServerFrame | Uint8Array>): void {
    if (this.#state === "closed") return;
    (this.#replies ??= []).push(frames[Symbol.iterator]());
    if (!this.#pumping) this.#pump();
  }

  #pump(): void {
    this.#pumping = false;
    const transport = this.#transport;
    const budget = this.hub.replyBudgetBytes;
    while (this.#replies !== undefined && this.#state !== "closed") {
      if (
        transport.whenBelow !== undefined && transport.backlog !== undefined &&
        transport.backlog > budget
      ) {
        this.#pumping = true;
        transport.whenBelow(budget / 2, () => this.#pump());
        return;
      }
      const job = this.#replies[0]!;
      const step = job.next();
      if (step.done) {
        this.#replies.shift();
        if (this.#replies.length === 0) this.#replies = undefined;
      } else if (step.value instanceof Uint8Array) {
        transport.send(step.value);
      } else {
        this.#sendNow(step.value);
      }
    }
    this.#endReplies();
  }

  #endReplies(): void {
    this.#replies = undefined;
    this.#catchingUp = false;
    const replied = this.#replied;
    this.#replied = undefined;
    replied?.resolve();
  }

  /**
   * Sends an error frame (plain text: a line starting with `! `).
   *
   * @param code machine-readable reason
   * @param message one human sentence
   * @param ref the `ref` of the refused frame (default: the one being handled)
   */
  error(code: ErrorCode, message: string, ref: string | undefined = this.replyRef): void {
    this.send(
      ref === undefined ? { type: "error", code, message } : { type: "error", code, message, ref },
    );
  }

  /**
   * Changes the nickname through the hub (by its rules) and tells the
   * session's peers (`renamed`) when it changed. Does not persist the
   * session; callers do once their change is complete.
   *
   * @param requested the nickname as typed
   * @returns the hub's outcome (an error is not sent: callers decide)
   */
  changeNick(requested: string): NickResult {
    const result = this.hub.setNick(this, requested);
    if (result.ok && result.previous !== undefined && result.previous !== result.nick) {
      this.#nick = result.nick;
      this.hub.log(`rename ${result.previous} -> ${result.nick} (${this.remote})`);
      this.hub.tellPeers(this, {
        type: "renamed",
        from: result.previous,
        to: result.nick,
        ts: Date.now(),
      });
    }
    return result;
  }

  /**
   * Joins a room (or switches to it when already in it) and makes it the
   * current room. A new member is announced to the room and gets the room's
   * last messages as history.
   *
   * @param room the room
   * @param options `quiet`: no `joined` notice, no history (used by resume)
   */
  enterRoom(room: Room, options: { quiet?: boolean } = {}): void {
    const isNew = room.add(this);
    this.rooms.set(room.key, room);
    this.#current = room;
    // Another connection of the same account is there already: no notice.
    const shared = this.#siblingIn(room);
    if (isNew && !options.quiet && !shared) {
      const joined = {
        type: "joined",
        nick: this.#nick!,
        room: room.name,
        ts: Date.now(),
      } as const;
      if (this.hub.announces(room)) this.hub.announce(room, joined, this);
      // The lobby join at connect time is implied by `welcome`.
      if (this.#state === "active") this.send(joined);
    }
    if (this.#state !== "active") return;
    this.send({ type: "room", room: room.name, topic: room.topic, members: room.size });
    if (isNew && !options.quiet) this.replayHistory(room, Infinity, JOIN_HISTORY, false);
    this.persist();
  }

  /**
   * Leaves a room; when it was the current room, the most recently joined
   * remaining room becomes current.
   *
   * @param room a room the session is in
   * @param reason `part`, `kick`, `ban`, or why the session ended
   * @param announce tell the remaining members
   * @param message the text of a `/quit REASON` (or a part's, kick's or ban's
   * reason), carried by the `left` notices
   * @param removal for `kick` and `ban`: who removed the session and, for a
   * timed ban, when it ends (ms since epoch); carried by its `left` as `by`
   * and `until`
   */
  leaveRoom(
    room: Room,
    reason: string,
    announce = true,
    message?: string,
    removal?: { by: string; until?: number | null },
  ): void {
    // Counted with the leaving member, as a join counts the joining one.
    const announced = announce && this.hub.announces(room) && !this.#siblingIn(room);
    if (!room.remove(this)) return;
    this.rooms.delete(room.key);
    this.#cursors?.delete(room.key);
    this.hub.moderation.roomLeft(this, room);
    // One notice for the room and for the one leaving.
    const left = {
      type: "left",
      nick: this.#nick!,
      room: room.name,
      reason,
      ...(message ? { message } : {}),
      ...(removal ? { by: removal.by } : {}),
      ...(removal?.until != null ? { until: removal.until } : {}),
      ts: Date.now(),
    } as const;
    if (announced) this.hub.announce(room, left);
    if (this.#state !== "active") return;
    this.send(left);
    if (this.#current === room) {
      this.#current = [...this.rooms.values()].at(-1);
      const current = this.#current;
      this.send(
        current
          ? { type: "room", room: current.name, topic: current.topic, members: current.size }
          : { type: "room", room: null, topic: "", members: 0 },
      );
    }
    this.persist();
  }

  /**
   * Sends a page of a room's history (marked `history: true`), then a
   * `history` frame with the count. `/history` continues below the lowest
   * id shown.
   *
   * @param room the room
   * @param before ids below this; `Infinity` for the newest
   * @param limit most messages
   * @param always send the closing `history` frame even when empty
   */
  replayHistory(room: Room, before: number, limit: number, always: boolean): void {
    const { floor, more } = this.hub.historyStart(room, before, limit);
    if (floor !== undefined) (this.#cursors ??= new Map()).set(room.key, floor);
    else if (before !== Infinity) (this.#cursors ??= new Map()).set(room.key, 0);
    if (floor === undefined && !always) return;
    this.reply(this.#historyFrames(room, floor, before, limit, more));
  }

  *#historyFrames(
    room: Room,
    floor: number | undefined,
    before: number,
    limit: number,
    more: boolean,
  ): Generator<ServerFrame> {
    let count = 0;
    if (floor !== undefined) {
      for (
        const record of this.historyRecords(room, { after: floor - 1, before, limit, oldest: true })
      ) {
        yield this.hub.frameOf(record, true);
        count++;
      }
    }
    yield { type: "history", room: room.name, count, more };
  }

  /**
   * The messages of a room's history in a window, oldest first, read from
   * the store a page at a time as they are iterated: how every history read
   * (the `history` frame, the join replay, IRC's CHATHISTORY) cuts its page.
   * Whether the session may read the room is checked before (commands.ts
   * `readHistory`, or the `read` need of the `history` frame).
   *
   * @param room the room
   * @param window which messages
   */
  *historyRecords(room: Room, window: HistoryWindow): Generator<StoredMessage> {
    const store = this.hub.store;
    const { limit, oldest = false } = window;
    const before = window.before ?? Infinity;
    const after = window.after ?? 0;
    if (window.beforeTs !== undefined || window.afterTs !== undefined) {
      const above = window.afterTs ?? -Infinity;
      const below = window.beforeTs ?? Infinity;
      const found = store.page(room.key, before, MAX_HISTORY_PAGE).filter((r) =>
        r.id > after && r.ts > above && r.ts < below
      );
      yield* oldest ? found.slice(0, limit) : found.slice(-limit);
      return;
    }
    let from = after + 1;
    if (!oldest) {
      const floor = store.floor(room.key, before, limit);
      if (floor === undefined) return;
      from = Math.max(floor, from);
    }
    let count = 0;
    while (count < limit) {
      const want = Math.min(PAGE, limit - count);
      const page = store.ascending(room.key, from, before, want);
      yield* page;
      count += page.length;
      if (page.length < want) break;
      from = page[page.length - 1]!.id + 1;
    }
  }

  /**
   * Where `/history` continues in a room: below the lowest id shown so far.
   *
   * @param room the room
   */
  historyCursor(room: Room): number {
    return this.#cursors?.get(room.key) ?? Infinity;
  }

  /** Queues the resumable state (nick, rooms) for the store. JSON sessions only. */
  persist(): void {
    if (this.#tokenHash === undefined || this.#state !== "active") return;
    this.hub.saveSession({
      tokenHash: this.#tokenHash,
      identity: this.identity,
      floor: this.#floor,
      nick: this.#nick!,
      rooms: [...this.rooms.values()].map((r) => r.name),
      current: this.#current?.name ?? null,
      seen: Date.now(),
      account: this.#account ?? null,
    });
  }

  /** Makes the resume token stop working (after `/quit`). */
  forget(): void {
    if (this.#tokenHash !== undefined) this.hub.dropSession(this.#tokenHash);
    this.#tokenHash = undefined;
  }

  /**
   * Ends a ghost session that a resumed one replaces: no `left` notices (the
   * new session takes its place in every room at once).
   */
  replaced(): void {
    if (this.#state === "closed") return;
    this.send({ type: "bye", reason: "session resumed on another connection" });
    this.#state = "closed";
    this.#endReplies();
    this.hub.remove(this);
    for (const room of this.rooms.values()) room.remove(this);
    this.rooms.clear();
    this.hub.log(`ghost ${this.#nick} (${this.remote}) replaced`);
    this.#transport.close();
  }

  /**
   * Ends the session: optionally says why to the peer (a `bye` frame), tells
   * everyone else it left, logs, and closes the transport after flushing.
   * Calling it again does nothing.
   *
   * @param reason why, for logs and the `left` notice
   * @param bye text of a `bye` frame to the peer first, if any
   * @param message the text of a `/quit REASON`, shown to the others
   */
  end(reason: string, bye?: string, message?: string): void {
    if (this.#state === "closed") return;
    // Deliver what this session (and anyone) sent before it goes away.
    this.hub.flush();
    if (bye !== undefined) this.send({ type: "bye", reason: bye });
    this.persist();
    this.#state = "closed";
    this.#endReplies();
    if (this.hub.remove(this)) {
      if (this.#tokenHash !== undefined && this.rooms.size > 0) {
        this.hub.noteDeparted(this.identity);
      }
      this.hub.log(
        `disconnect ${this.#nick} (${this.remote}): ${reason}${message ? `: ${message}` : ""}`,
      );
      for (const room of [...this.rooms.values()]) this.leaveRoom(room, reason, true, message);
    } else {
      this.hub.log(`disconnect ${this.remote}: ${reason}`);
    }
    this.#transport.close();
  }

  /**
   * Registers a session of a protocol adapter (`irc`) under a nickname, by
   * the same rules as every other session; sends `welcome` on success. IRC
   * sessions start in no room: IRC clients join channels themselves.
   *
   * @param requested the nickname as typed
   * @returns whether it was taken (otherwise an error frame was sent)
   */
  register(requested: string): boolean {
    if (this.#state !== "naming") return false;
    this.#claimNick(requested);
    return this.#nick !== undefined;
  }

  /** Whether another connection of this session's account is in a room. */
  #siblingIn(room: Room): boolean {
    for (const other of this.hub.siblings(this)) if (room.has(other)) return true;
    return false;
  }

  /**
   * Binds the session to an account after a successful login or
   * registration: the session takes the account's nickname (shared with the
   * account's other connections) and joins the rooms they are in. Before a
   * nickname was chosen this completes the handshake.
   *
   * @param account the account
   * @param event what to report in the `account` frame
   */
  adoptAccount(account: AccountRecord, event: "login" | "registered"): void {
    if (this.#state === "closed") return;
    this.#account = account.key;
    this.#operator = account.operator;
    this.hub.bindAccount(this);
    // Private history from now on belongs to the account, on every connection.
    this.#identity = `a:${account.key}`;
    this.hub.log(`${event} ${account.name} (${this.remote})`);
    if (this.#state === "naming") {
      this.#claimNick(account.name);
      if (this.state === "active") this.#sendAccount(event);
      return;
    }
    if (nickKey(this.#nick!) !== account.key) this.changeNick(account.name);
    this.#followSiblings();
    this.#sendAccount(event);
    this.persist();
  }

  /**
   * Ends the login: the session continues as a guest under a free nickname
   * (the account's nickname stays reserved).
   *
   * @param guestNick the nickname to continue under
   */
  dropAccount(guestNick: string): void {
    if (this.#account === undefined) return;
    this.hub.unbindAccount(this);
    this.#account = undefined;
    this.#operator = false;
    this.#identity = undefined; // a guest again: a fresh identity, not the account's
    this.changeNick(guestNick);
    this.send({ type: "account", event: "logout", account: null, nick: this.#nick! });
    this.persist();
  }

  #sendAccount(event: "login" | "registered"): void {
    this.send({
      type: "account",
      event,
      account: this.#account!,
      nick: this.#nick!,
      ...(this.#operator ? { operator: true } : {}),
    });
  }

  /** Joins the rooms the account's other connections are in. */
  #followSiblings(): void {
    const current = this.#current;
    for (const sibling of this.hub.siblings(this)) {
      for (const room of sibling.rooms.values()) {
        if (!this.rooms.has(room.key)) this.enterRoom(room);
      }
    }
    if (current && this.#current !== current) {
      this.#current = current;
      this.send({ type: "room", room: current.name, topic: current.topic, members: current.size });
    }
  }

  #claimNick(requested: string): void {
    const result = this.hub.setNick(this, requested);
    if (!result.ok) {
      if (result.code === "nick_registered") this.#refusedRegistered = requested;
      const retry = this.format === "text" && result.code !== "nick_registered"
        ? ", choose another:"
        : "";
      this.error(result.code, result.message + retry);
      return;
    }
    if (this.#account === undefined && this.hub.accounts.requireAccount) {
      this.hub.releaseNick(this, result.nick);
      this.error(
        "account_required",
        `this server admits accounts only: /login NICK PASSWORD (JSON: "hello" with "nick" and "password")`,
      );
      return;
    }
    const ban = this.hub.moderation.serverBanOf(this);
    if (ban) {
      this.hub.releaseNick(this, result.nick);
      this.error("banned", ban);
      this.end("banned", ban);
      return;
    }
    this.#nick = result.nick;
    this.#floor = this.hub.lastId;
    this.hub.log(`nick ${result.nick} (${this.remote})`);
    const lobby = this.format === "irc" ? undefined : this.hub.lobby;
    if (lobby) this.enterRoom(lobby);
    this.#state = "active";
    this.#welcome(false, this.format === "json" ? this.#newToken() : undefined);
    if (lobby) this.replayHistory(lobby, Infinity, JOIN_HISTORY, false);
    if (this.#account !== undefined) this.#followSiblings();
    this.persist();
  }

  /** Makes and binds a resume token; only its hash is kept. */
  #newToken(): string {
    const token = randomBytes(24).toString("base64url");
    this.#tokenHash = hashToken(token);
    this.hub.bindToken(this);
    return token;
  }

  #welcome(resumed: boolean, token: string | undefined): void {
    this.send({
      type: "welcome",
      version: PROTOCOL_VERSION,
      nick: this.#nick!,
      server: this.hub.name,
      online: this.hub.size,
      room: this.#current?.name ?? null,
      ...(token !== undefined ? { resume: token } : {}),
      ...(resumed ? { resumed: true } : {}),
      ...(this.#account !== undefined ? { account: this.#account } : {}),
    });
  }

  /**
   * Resumes an earlier session: reclaims its nickname (replacing a ghost
   * session holding the same token at once), rejoins its rooms and replays
   * every stored message with an id above `lastId` in those rooms or private
   * to or from it.
   *
   * @returns false when the token is unknown or the nickname is held by
   * someone else (an error was sent; the hello continues as a fresh one)
   */
  #resume(token: string, lastId: number | undefined): boolean {
    const tokenHash = hashToken(token);
    const ghost = this.hub.byToken(tokenHash);
    const record = this.hub.sessionRecord(tokenHash);
    if (!record) {
      this.error("resume_failed", "resume token is not valid (expired, or the session quit)");
      return false;
    }
    const holder = this.hub.find(record.nick);
    const sameAccount = record.account != null && holder?.account === record.account;
    if (holder && holder !== ghost && !sameAccount) {
      this.error(
        "resume_failed",
        `nickname ${quoteValue(record.nick)} is taken by someone else`,
      );
      return false;
    }
    ghost?.replaced();
    if (record.account != null) {
      const account = this.hub.store.account(record.account);
      if (account) {
        this.#account = account.key;
        this.#operator = account.operator;
        this.hub.bindAccount(this);
      }
    }
    const result = this.hub.setNick(this, record.nick);
    if (!result.ok) {
      if (this.#account !== undefined) this.hub.unbindAccount(this);
      this.#account = undefined;
      this.#operator = false;
      this.error("resume_failed", result.message);
      return false;
    }
    this.#nick = result.nick;
    this.#identity = record.identity;
    this.#floor = record.floor;
    // Rotate: the token just used stops working; the welcome carries the next.
    this.hub.dropSession(tokenHash);
    const next = this.#newToken();
    this.hub.log(`resume ${result.nick} (${this.remote})${ghost ? ", ghost replaced" : ""}`);
    // A resumed session announces nothing, unless this server told the rooms
    // it left (its connection dropped while the server kept running): a
    // replaced ghost was in the rooms a moment ago, and after a server
    // restart nobody saw it go.
    const quiet = !this.hub.takeDeparted(record.identity);
    for (const name of record.rooms) {
      const room = this.hub.openRoom(name);
      if (room.ok) this.enterRoom(room.room, { quiet: true });
      if (room.ok && !quiet && this.hub.announces(room.room)) {
        this.hub.announce(
          room.room,
          { type: "joined", nick: result.nick, room: room.room.name, ts: Date.now() },
          this,
        );
      }
    }
    const current = record.current === null ? undefined : this.hub.room(record.current);
    if (current && this.rooms.has(current.key)) this.#current = current;
    this.#state = "active";
    this.#welcome(true, next);
    if (lastId === undefined) {
      if (this.#current) this.replayHistory(this.#current, Infinity, JOIN_HISTORY, false);
    } else {
      // Never below what the session could have seen, never past what exists.
      const after = Math.min(Math.max(lastId, this.#floor), this.hub.lastId);
      this.#catchingUp = true;
      this.reply(this.#catchUp(after));
    }
    this.persist();
    return true;
  }

  /**
   * Replays what a resumed session missed, from the store, a page at a time:
   * messages above `after` in its rooms and private to or from its identity.
   * Live chat lines are held back meanwhile (they are in the store before
   * anyone gets them, so the replay reaches them); the replay ends, and live
   * delivery resumes, in the same turn as the query that found nothing more.
   * After `hub.resumeReplay` messages it stops with `resume_truncated`.
   */
  *#catchUp(after: number): Generator<ServerFrame> {
    let last = after;
    let sent = 0;
    const cap = this.hub.resumeReplay;
    while (this.#state !== "closed") {
      const rooms = [...this.rooms.keys()];
      if (sent >= cap) {
        if (this.hub.store.since(last, rooms, this.identity, 1).length > 0) {
          // Live from here; this frame goes out in the same turn.
          this.#catchingUp = false;
          yield { type: "resume_truncated", last_id: last, live_from: this.hub.store.lastId() + 1 };
        }
        break;
      }
      const page = this.hub.store.since(last, rooms, this.identity, Math.min(PAGE, cap - sent));
      // Caught up: live delivery takes over in the turn of this query.
      if (page.length === 0) break;
      for (const record of page) {
        yield this.hub.frameOf(record);
        last = record.id;
        sent++;
      }
    }
    this.#catchingUp = false;
  }
}
