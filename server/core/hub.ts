/**
 * The chat's shared state: who is online under which nickname, the rooms,
 * and the message pipeline (id, commit, then fan-out and ack). Knows nothing
 * about sockets; sessions reach their peers through a `Transport`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  checkNick,
  type ClientTags,
  DEFAULT_TEXT_LIMITS,
  describeNickProblem,
  type ErrorCode,
  isRoomName,
  LOBBY,
  MAX_RESUME_REPLAY,
  MAX_ROOMS,
  nickKey,
  nickSkeletons,
  normalizeNick,
  normalizeRoom,
  quoteValue,
  roomKey,
  type ServerFrame,
  type TextLimits,
} from "../../protocol/mod.ts";
import { Outbound, OutboundRun } from "./outbound.ts";
import { type AccountOptions, Accounts } from "./accounts.ts";
import { Moderation } from "./moderation.ts";
import { TokenBucket } from "./flood.ts";
import { Room } from "./room.ts";
import type { Session } from "./session.ts";
import {
  type Batch,
  MemoryStore,
  type SearchScope,
  type SessionRecord,
  type Store,
  type StoredMessage,
} from "../store/store.ts";

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
  /** Where messages, rooms and sessions are kept. @default {a new MemoryStore} */
  store?: Store;
  /** Most rooms the server keeps. @default {MAX_ROOMS} */
  maxRooms?: number;
  /**
   * Rooms with more members than this do not announce joins and leaves (in a
   * crowd they drown the conversation, and each one is a message to every
   * member). 0: always announce.
   * @default {DEFAULT_ANNOUNCE_LIMIT}
   */
  announceLimit?: number;
  /**
   * Milliseconds a resume token stays valid after its session was last seen
   * (connected, or saved); older tokens are refused and pruned. 0: never.
   * @default {DEFAULT_RESUME_EXPIRY_MS}
   */
  resumeExpiryMs?: number;
  /**
   * Bytes a session's send queue may hold before a long reply (history,
   * resume, `/rooms`, `/who`) waits for the peer to read. Keep it below a
   * quarter of the send queue (where flow control starts).
   * @default {DEFAULT_REPLY_BUDGET_BYTES}
   */
  replyBudgetBytes?: number;
  /** Most messages one resume replays before `resume_truncated`. @default {MAX_RESUME_REPLAY} */
  resumeReplay?: number;
  /** Registration, login limits and the password rule. @default {see AccountOptions} */
  accounts?: Partial<AccountOptions>;
  /**
   * Rooms one connection may create at once; three times as many per
   * address (IPv4, or IPv6 /64). 0: no quota.
   * @default {DEFAULT_ROOM_QUOTA}
   */
  roomQuota?: number;
  /** Milliseconds in which each room-creation bucket gains one room back. @default {60000} */
  roomRefillMs?: number;
  /**
   * Milliseconds after which a room that is empty and has no stored message
   * is deleted (its topic with it). 0: never.
   * @default {3600000}
   */
  roomExpiryMs?: number;
}

/** Default for {@linkcode HubOptions.roomQuota}. */
export const DEFAULT_ROOM_QUOTA = 10;
/** Rooms one address may hold at once: a tenth of the server's cap, so others always have room. */
const ADDRESS_SHARE = 0.1;

/** Default for {@linkcode HubOptions.replyBudgetBytes}: 64 KiB. */
export const DEFAULT_REPLY_BUDGET_BYTES = 64 * 1024;

/** Default for {@linkcode HubOptions.resumeExpiryMs}: 7 days. */
export const DEFAULT_RESUME_EXPIRY_MS = 7 * 86_400_000;
/** Most departed sessions remembered for announcing their resume. */
export const MAX_DEPARTED = 10_000;

/** Default for {@linkcode HubOptions.announceLimit}. */
export const DEFAULT_ANNOUNCE_LIMIT = 500;

/** Outcome of {@linkcode Hub.setNick}. */
export type NickResult =
  | { ok: true; nick: string; previous: string | undefined }
  | { ok: false; code: ErrorCode; message: string };

/** Outcome of {@linkcode Hub.openRoom}. */
export type RoomResult =
  | { ok: true; room: Room; created?: boolean }
  | { ok: false; code: ErrorCode; message: string };

/** A message to store and deliver; see {@linkcode Hub.post}. */
export interface Draft {
  /** What it is. */
  kind: "message" | "action" | "private";
  /** For room messages. */
  room?: Room;
  /** For private messages: the recipient's nickname. */
  to?: string;
  /** For private messages: the recipient's identity (see `Session.identity`). */
  toId?: string;
  /** Sanitised text. */
  text: string;
  /** Client reference echoed in the `ack`. */
  ref?: string;
  /** A notice (IRC's NOTICE; see `ChatLine.notice`). */
  notice?: boolean;
  /** Client-only tags, relayed live and not stored (see `ChatLine.tags`). */
  tags?: ClientTags;
}

/** A message waiting to be committed, then delivered and acknowledged. */
interface PendingMessage {
  kind: "message";
  record: StoredMessage;
  sender: Session;
  ref: string | undefined;
  /** Client-only tags: on the live frames, not in the store. */
  tags?: ClientTags;
}

/** A room notice (join, leave, topic) waiting to be delivered in order. */
interface PendingNotice {
  kind: "notice";
  /** The room's key. */
  key: string;
  frame: ServerFrame;
  /** A member who does not get it (the one who joined). */
  except: Session | undefined;
}

type Pending = PendingMessage | PendingNotice;

function roomOf(p: Pending): string | null {
  return p.kind === "message" ? p.record.room : p.key;
}

function ackOf(record: StoredMessage, ref: string | undefined): ServerFrame {
  return ref === undefined
    ? { type: "ack", id: record.id, ts: record.ts }
    : { type: "ack", id: record.id, ts: record.ts, ref };
}

/**
 * The SHA-256 of a resume token, hex: what the store keeps.
 *
 * @param token a resume token
 * @returns its hash
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Registered sessions by nickname key (NFKC + lower case, see `nickKey`), so
 * that uniqueness and renames are one map operation each; rooms by room key.
 */
export class Hub {
  /** Text limits for messages. */
  readonly limits: TextLimits;
  /** Server name for `welcome`. */
  readonly name: string;
  /** Log line sink. */
  readonly log: Logger;
  /** The store. */
  readonly store: Store;
  readonly #maxRooms: number;
  readonly #announceLimit: number;
  /** See {@linkcode HubOptions.resumeExpiryMs}. */
  readonly resumeExpiryMs: number;
  /** See {@linkcode HubOptions.replyBudgetBytes}. */
  readonly replyBudgetBytes: number;
  /** See {@linkcode HubOptions.resumeReplay}. */
  readonly resumeReplay: number;
  readonly #byKey = new Map<string, Session>();
  /** The same sessions by their look-alike keys (`nickSkeletons`): no two look alike. */
  readonly #bySkeleton = new Map<string, Session>();
  readonly #byToken = new Map<string, Session>();
  /** Logged-in sessions by account key: one account may be online on several connections. */
  readonly #byAccount = new Map<string, Set<Session>>();
  /** Accounts: register, login, logout, password (see accounts.ts). */
  readonly accounts: Accounts;
  /** Operators, bans, mutes, invites and room modes (see moderation.ts). */
  readonly moderation: Moderation;
  readonly #rooms = new Map<string, Room>();
  readonly #roomQuota: number;
  readonly #roomRefillMs: number;
  /** See {@linkcode HubOptions.roomExpiryMs}. */
  readonly roomExpiryMs: number;
  /** Room-creation buckets by address key; forgotten once full again. */
  readonly #addressBuckets = new Map<string, TokenBucket>();
  /** Rooms alive that each address created (for its share of the cap). */
  readonly #roomsByAddress = new Map<string, number>();
  readonly #dropRooms = new Set<string>();
  #nextId: number;
  #pending: Pending[] = [];
  readonly #dirtyRooms = new Set<Room>();
  readonly #dirtySessions = new Map<string, SessionRecord>();
  readonly #dropSessions = new Set<string>();
  #flushScheduled = false;
  #closed = false;
  /** Set by {@linkcode Hub.stopping}: the server is shutting down. */
  #stopping = false;
  /** Identities of resumable sessions whose leaving was announced, oldest first. */
  readonly #departed = new Set<string>();

  /**
   * Notes that a resumable session's leaving was announced to its rooms, so
   * that its resume announces its return. Bounded: the oldest are forgotten
   * past {@linkcode MAX_DEPARTED}.
   *
   * @param identity the session's identity
   */
  noteDeparted(identity: string): void {
    this.#departed.add(identity);
    if (this.#departed.size > MAX_DEPARTED) {
      this.#departed.delete(this.#departed.values().next().value!);
    }
  }

  /**
   * Whether a resuming session's leaving was announced (and forgets it).
   *
   * @param identity the session's identity
   * @returns true when its rooms saw it leave
   */
  takeDeparted(identity: string): boolean {
    return this.#departed.delete(identity);
  }

  /**
   * Whether joins and leaves in a room are announced to its members: not in
   * rooms over the announce limit, and not once the server is shutting down.
   *
   * @param room the room, its members counted with the one joining or leaving
   */
  announces(room: Room): boolean {
    if (this.#stopping) return false;
    return this.#announceLimit === 0 || room.size <= this.#announceLimit;
  }

  /**
   * Notes that the server is shutting down: the sessions it ends from now on
   * leave their rooms without `left` notices. Everyone is told the server is
   * going (a `bye`), and after a restart resumed sessions come back without
   * `joined` notices, so a `left` per member would only say they went away
   * for good (and cost every room's members one frame per member).
   */
  stopping(): void {
    this.#stopping = true;
  }

  /** @param options see {@linkcode HubOptions} */
  constructor(options: HubOptions = {}) {
    this.limits = options.limits ?? DEFAULT_TEXT_LIMITS;
    this.name = options.name ?? "chat";
    this.log = options.log ?? (() => {});
    this.store = options.store ?? new MemoryStore();
    this.#maxRooms = options.maxRooms ?? MAX_ROOMS;
    this.#announceLimit = options.announceLimit ?? DEFAULT_ANNOUNCE_LIMIT;
    this.resumeExpiryMs = options.resumeExpiryMs ?? DEFAULT_RESUME_EXPIRY_MS;
    this.replyBudgetBytes = options.replyBudgetBytes ?? DEFAULT_REPLY_BUDGET_BYTES;
    this.resumeReplay = options.resumeReplay ?? MAX_RESUME_REPLAY;
    this.#roomQuota = options.roomQuota ?? DEFAULT_ROOM_QUOTA;
    this.#roomRefillMs = options.roomRefillMs ?? 60_000;
    this.roomExpiryMs = options.roomExpiryMs ?? 3_600_000;
    for (const record of this.store.rooms()) {
      const room = new Room(record.name);
      room.topic = record.topic;
      room.topicBy = record.topicBy ?? undefined;
      room.topicTs = record.topicTs ?? undefined;
      this.#rooms.set(room.key, room);
    }
    if (!this.#rooms.has(LOBBY)) {
      const lobby = new Room(LOBBY);
      this.#rooms.set(lobby.key, lobby);
      this.saveRoom(lobby);
    }
    this.#nextId = this.store.lastId() + 1;
    this.accounts = new Accounts(this, options.accounts);
    this.moderation = new Moderation(this);
  }

  /** How many sessions have a nickname. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Every registered session. */
  sessions(): IterableIterator<Session> {
    return this.#byKey.values();
  }

  /** The lobby, where everyone starts. */
  get lobby(): Room {
    return this.#rooms.get(LOBBY)!;
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
    const result = this.checkNick(session, requested);
    if (!result.ok) return result;
    const { nick, previous } = result;
    const key = nickKey(nick);
    if (previous !== undefined && nickKey(previous) !== key) this.releaseNick(session, previous);
    // Connections of one account share its nickname; the maps hold one of them.
    const holder = this.#byKey.get(key);
    if (!holder || holder === session || holder.account !== session.account) {
      this.#byKey.set(key, session);
      for (const shape of nickSkeletons(nick)) this.#bySkeleton.set(shape, session);
    }
    return result;
  }

  /**
   * Checks a nickname as {@linkcode setNick} would, without taking it (the
   * IRC gateway checks `NICK` before registration completes).
   *
   * @param session the session that would take it
   * @param requested the nickname as typed
   * @returns the normalised nickname, or why it cannot be had
   */
  checkNick(session: Session, requested: string): NickResult {
    const nick = normalizeNick(requested);
    const problem = checkNick(nick);
    if (problem) {
      return { ok: false, code: "nick_invalid", message: describeNickProblem(nick, problem) };
    }
    const key = nickKey(nick);
    if (session.account !== key) {
      // A registered nickname reserves its look-alikes too (the skeletons of
      // protocol/text.ts), whether or not its owner is online.
      const owner = this.store.account(key) ?? this.store.accountLike(nick);
      if (owner && owner.key !== session.account) {
        return {
          ok: false,
          code: "nick_registered",
          message: owner.key === key
            ? `nickname ${
              quoteValue(nick)
            } is registered: /login ${nick} PASSWORD if it is yours, or choose another`
            : `nickname ${quoteValue(nick)} looks like the registered nickname ${
              quoteValue(owner.name)
            }: choose another`,
        };
      }
    }
    const shapes = nickSkeletons(nick);
    const holder = this.#byKey.get(key) ?? this.#bySkeleton.get(shapes[0]) ??
      this.#bySkeleton.get(shapes[1]);
    const shared = holder !== undefined && holder !== session && session.account === key &&
      holder.account === key;
    if (holder && holder !== session && !shared) {
      const same = nickKey(holder.nick!) === key;
      return {
        ok: false,
        code: "nick_taken",
        message: same
          ? `nickname ${quoteValue(nick)} is taken`
          : `nickname ${quoteValue(nick)} looks like ${quoteValue(holder.nick!)}, which is taken`,
      };
    }
    return { ok: true, nick, previous: session.nick };
  }

  /**
   * Lets go of a nickname a session holds (a rename, or a refused
   * admission): another connection of the same account takes it over.
   *
   * @param session the session
   * @param nick the nickname it held
   */
  releaseNick(session: Session, nick: string): void {
    const key = nickKey(nick);
    if (this.#byKey.get(key) !== session) return;
    const heir = this.siblings(session).find((s) =>
      s.nick !== undefined && nickKey(s.nick) === key
    );
    const shapes = nickSkeletons(nick);
    if (heir) {
      this.#byKey.set(key, heir);
      for (const shape of shapes) this.#bySkeleton.set(shape, heir);
      return;
    }
    this.#byKey.delete(key);
    for (const shape of shapes) {
      if (this.#bySkeleton.get(shape) === session) this.#bySkeleton.delete(shape);
    }
  }

  /**
   * Adds a logged-in session to its account's connections.
   *
   * @param session a session whose `account` is set
   */
  bindAccount(session: Session): void {
    if (session.account === undefined) return;
    let set = this.#byAccount.get(session.account);
    if (!set) this.#byAccount.set(session.account, set = new Set());
    set.add(session);
  }

  /**
   * Removes a session from its account's connections (logout, disconnect).
   *
   * @param session the session
   */
  unbindAccount(session: Session): void {
    if (session.account === undefined) return;
    const set = this.#byAccount.get(session.account);
    set?.delete(session);
    if (set?.size === 0) this.#byAccount.delete(session.account);
  }

  /**
   * The other live connections of a session's account.
   *
   * @param session the session
   * @returns the others (none for a guest)
   */
  siblings(session: Session): Session[] {
    if (session.account === undefined) return [];
    const set = this.#byAccount.get(session.account);
    return set ? [...set].filter((s) => s !== session) : [];
  }

  /**
   * Every live connection of an account.
   *
   * @param account an account key
   */
  connectionsOf(account: string): Session[] {
    return [...(this.#byAccount.get(account) ?? [])];
  }

  /**
   * Every connection of the person holding a session: the account's
   * connections when logged in, else the session alone.
   *
   * @param session the session
   */
  personOf(session: Session): Session[] {
    return session.account === undefined ? [session] : [session, ...this.siblings(session)];
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
   * Removes a session's nickname and resume token (on disconnect).
   *
   * @param session the session
   * @returns whether it was registered
   */
  remove(session: Session): boolean {
    if (session.tokenHash !== undefined && this.#byToken.get(session.tokenHash) === session) {
      this.#byToken.delete(session.tokenHash);
    }
    const wasSibling = this.siblings(session).length > 0;
    if (session.nick === undefined) {
      this.unbindAccount(session);
      return false;
    }
    const key = nickKey(session.nick);
    if (this.#byKey.get(key) !== session) {
      this.unbindAccount(session);
      return wasSibling;
    }
    this.releaseNick(session, session.nick);
    this.unbindAccount(session);
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

  /**
   * Sends a frame once to a session and everyone sharing a room with it.
   *
   * @param session the session
   * @param frame the frame
   */
  tellPeers(session: Session, frame: ServerFrame): void {
    const out = new Outbound(frame);
    const seen = new Set<Session>([session]);
    session.deliver(out);
    for (const room of session.rooms.values()) {
      for (const peer of room.members()) {
        if (!seen.has(peer)) {
          seen.add(peer);
          peer.deliver(out);
        }
      }
    }
  }

  /** Nicknames online, sorted without regard to case. */
  nicks(): string[] {
    return [...this.#byKey.values()].map((s) => s.nick!).sort((a, b) =>
      a.localeCompare(b, undefined, { sensitivity: "base" })
    );
  }

  /**
   * Finds an existing room, without regard to case.
   *
   * @param name a room name, `#` optional
   * @returns the room, if it exists
   */
  room(name: string): Room | undefined {
    return this.#rooms.get(roomKey(normalizeRoom(name)));
  }

  /**
   * Finds a room or creates it (and stores it).
   *
   * @param name a room name, `#` optional
   * @returns the room, or `room_invalid` / `too_many_rooms`
   */
  openRoom(name: string, creator?: Session): RoomResult {
    const normalized = normalizeRoom(name);
    if (!isRoomName(normalized)) {
      return {
        ok: false,
        code: "room_invalid",
        message: `room name ${
          quoteValue(name)
        } is invalid: use # and 1 to 32 letters, digits, - or _`,
      };
    }
    const existing = this.#rooms.get(roomKey(normalized));
    if (existing) return { ok: true, room: existing };
    if (this.#rooms.size >= this.#maxRooms) {
      return { ok: false, code: "too_many_rooms", message: "the server has too many rooms" };
    }
    const address = creator === undefined || this.#roomQuota === 0 ? undefined : creator.address;
    if (creator !== undefined && address !== undefined) {
      const refused = this.#roomQuotaRefusal(creator, address);
      if (refused) return refused;
    }
    const room = new Room(normalized);
    if (address !== undefined) {
      room.creator = address;
      this.#roomsByAddress.set(address, (this.#roomsByAddress.get(address) ?? 0) + 1);
    }
    this.#rooms.set(room.key, room);
    this.#dropRooms.delete(room.key);
    this.saveRoom(room);
    this.log(`room ${room.name} created`);
    return { ok: true, room, created: true };
  }

  /**
   * An existing room by its key.
   *
   * @param key a room key, e.g. `#dev`
   */
  roomByKey(key: string): Room | undefined {
    return this.#rooms.get(key);
  }

  /**
   * Whether `creator` may create a room now: its address's share of the cap,
   * then a token from the address's bucket and from the connection's.
   */
  #roomQuotaRefusal(creator: Session, address: string): RoomResult | undefined {
    const share = Math.max(1, Math.floor(this.#maxRooms * ADDRESS_SHARE));
    if ((this.#roomsByAddress.get(address) ?? 0) >= share) {
      return {
        ok: false,
        code: "too_many_rooms",
        message:
          `rooms created from ${address} already number ${share}, the most one address may hold`,
      };
    }
    const rate = 1000 / this.#roomRefillMs;
    let bucket = this.#addressBuckets.get(address);
    if (!bucket) {
      this.#addressBuckets.set(address, bucket = new TokenBucket(this.#roomQuota * 3, rate));
    }
    const own = creator.roomBucket ??= new TokenBucket(this.#roomQuota, rate);
    let wait = own.tryTake();
    if (wait === 0) {
      wait = bucket.tryTake();
      if (wait === 0) return undefined;
      own.untake(); // refused all the same: the connection keeps its token
    }
    return {
      ok: false,
      code: "room_quota",
      message: `you have created rooms too fast: you may create another in ${
        Math.ceil(wait / 1000)
      } s (or join an existing one)`,
    };
  }

  /**
   * Deletes rooms that have been empty for `roomExpiryMs` and hold no stored
   * message (their topic with them), and forgets full room-creation buckets.
   * The lobby never expires. Run periodically by the server.
   *
   * @param now the time, ms since epoch
   * @returns how many rooms expired
   */
  expireRooms(now: number = Date.now()): number {
    for (const [address, bucket] of this.#addressBuckets) {
      if (bucket.full) this.#addressBuckets.delete(address);
    }
    if (this.roomExpiryMs === 0) return 0;
    this.flush(); // pending messages make a room non-empty of history
    let expired = 0;
    for (const room of [...this.#rooms.values()]) {
      if (
        room.key === LOBBY || room.emptySince === undefined ||
        now - room.emptySince < this.roomExpiryMs ||
        this.store.floor(room.key, Infinity, 1) !== undefined
      ) continue;
      this.#rooms.delete(room.key);
      this.#dirtyRooms.delete(room);
      this.#dropRooms.add(room.key);
      if (room.creator !== undefined) {
        const left = (this.#roomsByAddress.get(room.creator) ?? 1) - 1;
        if (left <= 0) this.#roomsByAddress.delete(room.creator);
        else this.#roomsByAddress.set(room.creator, left);
      }
      expired++;
    }
    if (expired > 0) {
      this.log(`expired ${expired} empty rooms without history`);
      this.#schedule();
    }
    return expired;
  }

  /** Every room, sorted by name without regard to case. */
  rooms(): Room[] {
    return [...this.#rooms.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /**
   * Queues a room (new, or with a new topic) for the next commit.
   *
   * @param room the room
   */
  saveRoom(room: Room): void {
    this.#dirtyRooms.add(room);
    this.#schedule();
  }

  /**
   * Registers a live session under its resume token hash.
   *
   * @param session a session with a token
   */
  bindToken(session: Session): void {
    if (session.tokenHash !== undefined) this.#byToken.set(session.tokenHash, session);
  }

  /**
   * The live session holding a resume token, if any.
   *
   * @param tokenHash the token's hash
   */
  byToken(tokenHash: string): Session | undefined {
    return this.#byToken.get(tokenHash);
  }

  /**
   * Queues a session's resumable state (nick, rooms) for the next commit.
   *
   * @param record the state
   */
  saveSession(record: SessionRecord): void {
    this.#dropSessions.delete(record.tokenHash);
    this.#dirtySessions.set(record.tokenHash, record);
    this.#schedule();
  }

  /**
   * Forgets a session for good (after `/quit`): its token stops working.
   *
   * @param tokenHash the token's hash
   */
  dropSession(tokenHash: string): void {
    this.#dirtySessions.delete(tokenHash);
    this.#dropSessions.add(tokenHash);
    this.#schedule();
  }

  /**
   * The resumable state of a token, committed or pending.
   *
   * @param tokenHash the token's hash
   */
  sessionRecord(tokenHash: string): SessionRecord | undefined {
    if (this.#dropSessions.has(tokenHash)) return undefined;
    const record = this.#dirtySessions.get(tokenHash) ?? this.store.session(tokenHash);
    // A token whose session is still connected is not idle, however old its record.
    if (
      record && this.resumeExpiryMs > 0 && !this.#byToken.has(tokenHash) &&
      record.seen < Date.now() - this.resumeExpiryMs
    ) return undefined;
    return record;
  }

  /** The highest message id assigned so far (0 when none). */
  get lastId(): number {
    return this.#nextId - 1;
  }

  /**
   * Assigns a message its id and timestamp and queues it. Once the running
   * code yields, the queue is committed in one transaction; only then is
   * each message delivered and acknowledged to its sender (so no one ever
   * sees an id the store could lose).
   *
   * @param sender who sent it
   * @param draft the message
   * @returns the id it was given
   */
  post(sender: Session, draft: Draft): number {
    const record: StoredMessage = {
      id: this.#nextId++,
      ts: Date.now(),
      kind: draft.kind,
      room: draft.room?.key ?? null,
      from: sender.nick!,
      to: draft.to ?? null,
      fromId: sender.identity,
      toId: draft.toId ?? null,
      text: draft.text,
    };
    if (draft.notice) record.notice = true; // added, not spread in: no temporary objects
    this.#pending.push(
      draft.tags
        ? { kind: "message", record, sender, ref: draft.ref, tags: draft.tags }
        : { kind: "message", record, sender, ref: draft.ref },
    );
    this.#schedule();
    return record.id;
  }

  /**
   * Queues a notice to a room's members (joined, left, topic), delivered
   * with the messages queued around it and in the same order. Notices of one
   * turn (a join storm) then reach each member as one shared chunk.
   *
   * @param room the room
   * @param frame the notice
   * @param except a member who does not get it (e.g. the one who joined)
   */
  announce(room: Room, frame: ServerFrame, except?: Session): void {
    const notice: PendingNotice = { kind: "notice", key: room.key, frame, except };
    if (this.#closed) {
      this.#deliverRun(room.key, [notice]); // no flush is coming: deliver now
      return;
    }
    this.#pending.push(notice);
    this.#schedule();
  }

  /**
   * Relays what is not a chat message (IRC's `TAGMSG`: tags without text,
   * never stored) from a sender to receivers, under the delivery rules of a
   * message to them: what is pending is committed and delivered first (so
   * it never overtakes a message sent before it), each receiver's bounded
   * send queue takes it (the slow-consumer rule), and the sender is held by
   * each receiver it leaves backlogged (flow control, as `#deliverRun` and
   * `#deliverPrivate` hold the senders of messages). The sender's line
   * passed its connection's flood control already, as every line does.
   *
   * @param sender who sent it (skipped among `receivers`)
   * @param receivers who may get it
   * @param send queues it for one receiver; returns whether it did (a
   * receiver that cannot show it gets nothing)
   */
  relay(sender: Session, receivers: Iterable<Session>, send: (receiver: Session) => boolean): void {
    this.flush();
    for (const receiver of receivers) {
      if (receiver === sender || !send(receiver)) continue;
      const backlogged = receiver.backlogged;
      if (backlogged !== undefined) sender.holdFor(backlogged);
    }
  }

  /**
   * A stored message as the frame sessions receive.
   *
   * @param record the stored message
   * @param history mark it as replayed history
   */
  frameOf(record: StoredMessage, history = false): ServerFrame {
    // The marks are added after, not spread in: one frame object per message
    // (with spreads, ~270 B of garbage per message in the fan-out profile);
    // the keys keep their order.
    const frame: Extract<ServerFrame, { type: "message" | "action" | "private" }> =
      record.kind === "private"
        ? {
          type: "private",
          id: record.id,
          from: record.from,
          to: record.to ?? "",
          text: record.text,
          ts: record.ts,
        }
        : {
          type: record.kind,
          id: record.id,
          room: this.#rooms.get(record.room ?? "")?.name ?? record.room ?? "",
          from: record.from,
          text: record.text,
          ts: record.ts,
        };
    if (history) frame.history = true;
    if (record.notice) frame.notice = true;
    return frame;
  }

  /**
   * Commits what is queued, in one transaction, then delivers and
   * acknowledges the messages in id order. Runs once the code that queued
   * them yields; call it directly before shutting down.
   */
  flush(): void {
    this.#flushScheduled = false;
    const pending = this.#pending;
    if (
      pending.length === 0 && this.#dirtyRooms.size === 0 && this.#dirtySessions.size === 0 &&
      this.#dropSessions.size === 0 && this.#dropRooms.size === 0
    ) return;
    this.#pending = [];
    const messages = pending.filter((p) => p.kind === "message");
    const batch: Batch = {
      messages: messages.map((p) => p.record),
      rooms: [...this.#dirtyRooms].map((r) => ({
        name: r.name,
        topic: r.topic,
        topicBy: r.topicBy ?? null,
        topicTs: r.topicTs ?? null,
      })),
      sessions: [...this.#dirtySessions.values()],
      dropSessions: [...this.#dropSessions],
      ...(this.#dropRooms.size > 0 ? { dropRooms: [...this.#dropRooms] } : {}),
    };
    this.#dirtyRooms.clear();
    this.#dirtySessions.clear();
    this.#dropSessions.clear();
    this.#dropRooms.clear();
    let deliver = pending;
    try {
      this.store.commit(batch);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log(`store commit failed (${messages.length} messages lost): ${reason}`);
      for (const p of messages) {
        p.sender.error(
          "storage_failed",
          "your message could not be saved; please send it again",
          p.ref,
        );
      }
      deliver = pending.filter((p) => p.kind === "notice");
    }
    // Consecutive messages and notices to one room go out as one run: each
    // receiver's queue gets one shared chunk rather than one per frame.
    for (let i = 0; i < deliver.length;) {
      const room = roomOf(deliver[i]!);
      let end = i + 1;
      if (room !== null) {
        while (end < deliver.length && roomOf(deliver[end]!) === room) end++;
        this.#deliverRun(room, deliver.slice(i, end));
      } else {
        this.#deliverPrivate(deliver[i] as PendingMessage);
      }
      i = end;
    }
  }

  /**
   * Delivers consecutive frames to one room. Members who sent (or are
   * excepted from) none of them get the whole run as one chunk; the others
   * get, frame by frame and in order, what they would have got one at a
   * time: the others' messages, and acks for their own.
   */
  #deliverRun(key: string, run: Pending[]): void {
    const room = this.#rooms.get(key);
    const outs = run.map((p) =>
      new Outbound(p.kind === "message" ? this.#liveFrame(p) : p.frame, key)
    );
    const excepted = new Set<Session>();
    for (const p of run) {
      const who = p.kind === "message" ? p.sender : p.except;
      if (who) excepted.add(who);
    }
    const whole = outs.length === 1 ? undefined : new OutboundRun(key, outs);
    const behind = room?.broadcast(whole ?? outs[0]!, excepted);
    // Flow control: the senders of this run wait for the members it left behind.
    if (behind) {
      const senders = new Set<Session>();
      for (const p of run) if (p.kind === "message") senders.add(p.sender);
      for (const sender of senders) for (const backlogged of behind) sender.holdFor(backlogged);
    }
    // Each of them gets the frames between its own as slices of the run
    // (views into its shared bytes) and the acks of its own in between as
    // one chunk each: one push per stretch, not per frame.
    for (const session of excepted) {
      const member = room?.has(session) ?? false;
      let from = -1; // the first frame of a stretch it gets as is
      let acks: ServerFrame[] = []; // acks for its own messages since then
      for (let k = 0; k < run.length; k++) {
        const p = run[k]!;
        const own = p.kind === "message" && p.sender === session;
        const gets = !own && member && !(p.kind === "notice" && p.except === session);
        if (from !== -1 && !gets) {
          session.deliver(whole ? whole.slice(from, k) : outs[from]!);
          from = -1;
        }
        if (own) acks.push(ackOf(p.record, p.ref));
        else if (gets && from === -1) {
          if (acks.length > 0) session.sendAll(acks);
          acks = [];
          from = k;
        }
      }
      if (from !== -1) session.deliver(whole ? whole.slice(from, run.length) : outs[from]!);
      else if (acks.length > 0) session.sendAll(acks);
    }
  }

  /** A message's frame as delivered live: with its client-only tags, if any. */
  #liveFrame(p: PendingMessage): ServerFrame {
    const frame = this.frameOf(p.record);
    if (p.tags) (frame as Extract<ServerFrame, { type: "message" }>).tags = p.tags;
    return frame;
  }

  #deliverPrivate(p: PendingMessage): void {
    const { record, sender, ref } = p;
    const frame = this.#liveFrame(p);
    const target = this.find(record.to ?? "");
    // Every connection of the recipient's account gets it, and the sender's
    // other connections get a copy of what was sent.
    const receivers = new Set<Session>(target ? this.personOf(target) : []);
    for (const session of receivers) session.notePrivate(record.from);
    for (const session of this.personOf(sender)) receivers.add(session);
    for (const session of receivers) {
      session.send(frame);
      // Flow control: the sender waits for a receiver it left behind.
      const backlogged = session === sender ? undefined : session.backlogged;
      if (backlogged !== undefined) sender.holdFor(backlogged);
    }
    sender.send(ackOf(record, ref));
  }

  #schedule(): void {
    if (this.#flushScheduled || this.#closed) return;
    // One transaction for everything queued by the code running now (all the
    // lines of the reads being handled): committed, then delivered, as soon
    // as that code yields. A timer here instead cost every message a turn of
    // the event loop: p50 4.3 -> 2.8 ms, p99 6.1 -> 5.2 ms at ~200k
    // deliveries/s (compare.py latency, --db :memory:).
    this.#flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /**
   * Where a page of a room's history starts: the lowest id among the newest
   * `limit` messages below `before`, and whether older ones exist.
   *
   * @param room the room
   * @param before ids below this one (`Infinity`: the newest)
   * @param limit most messages
   * @returns `floor` (undefined when there is no message) and `more`
   */
  historyStart(room: Room, before: number, limit: number): {
    floor: number | undefined;
    more: boolean;
  } {
    const floor = this.store.floor(room.key, before, limit);
    const more = floor !== undefined && this.store.floor(room.key, floor, 1) !== undefined;
    return { floor, more };
  }

  /**
   * Full-text search of stored messages within a scope (see visibility.ts).
   *
   * @param text the words to find (see `searchTerms`)
   * @param scope the rooms and private conversations to search
   * @param before ids below this one; `Infinity` for the newest
   * @param limit most messages
   * @returns the matches, newest first, and whether older ones exist
   */
  search(
    text: string,
    scope: SearchScope,
    before: number,
    limit: number,
  ): { messages: StoredMessage[]; more: boolean } {
    const messages = this.store.search({ text, ...scope, before, limit: limit + 1 });
    const more = messages.length > limit;
    return { messages: more ? messages.slice(0, limit) : messages, more };
  }

  /**
   * Commits what is pending and closes the store. Nothing is queued after.
   */
  close(): void {
    this.flush();
    this.#closed = true;
    this.moderation.close();
    this.store.close();
  }
}
