/**
 * Durable state behind one interface: messages (room and private) with their
 * ids, rooms with their topics, and resumable sessions. {@linkcode MemoryStore}
 * keeps them in memory (`--db :memory:`); `SqliteStore` (sqlite.ts)
 * keeps them in an SQLite file.
 *
 * Every method is synchronous: the hub batches writes into one
 * {@linkcode Store.commit} per batch of reads and acknowledges messages only
 * after it returns.
 *
 * @module
 */

import { nickSkeletons } from "../../protocol/text.ts";

/** A message as stored. */
export interface StoredMessage {
  /** Server-assigned id, strictly increasing, never reused. */
  id: number;
  /** Server time, ms since epoch. */
  ts: number;
  /** What it is. */
  kind: "message" | "action" | "private";
  /** Room key (`#dev`) for room messages; `null` for private ones. */
  room: string | null;
  /** Sender's nickname. */
  from: string;
  /** Recipient's nickname, for private messages; otherwise `null`. */
  to: string | null;
  /**
   * Sender's identity (`s:SESSION` today, `a:ACCOUNT` once accounts exist);
   * `null` for messages stored before identities (never replayed privately).
   */
  fromId: string | null;
  /** Recipient's identity, for private messages; otherwise `null`. */
  toId: string | null;
  /** The text, already sanitised. */
  text: string;
  /** True for a notice (IRC's NOTICE); absent otherwise. */
  notice?: boolean;
}

/** A room as stored. */
export interface RoomRecord {
  /** Display name, e.g. `#Dev`. */
  name: string;
  /** Topic; empty when none. */
  topic: string;
  /** Who set the topic. */
  topicBy: string | null;
  /** When (ms since epoch). */
  topicTs: number | null;
}

/** A resumable session as stored. */
export interface SessionRecord {
  /** SHA-256 (hex) of the resume token; the token itself is never stored. */
  tokenHash: string;
  /**
   * Who the session is: `s:SESSIONID` (a random id made with the session) or,
   * once accounts exist, `a:ACCOUNTID`. Private history belongs to it.
   */
  identity: string;
  /**
   * The highest message id committed when the session began: a resume never
   * replays anything at or below it, whatever `last_id` it claims.
   */
  floor: number;
  /** Nickname to reclaim. */
  nick: string;
  /** Rooms to rejoin (display names), in join order. */
  rooms: string[];
  /** The current room, if any. */
  current: string | null;
  /** Last time the session was active (ms since epoch). */
  seen: number;
  /** The account it was logged in to (restored on resume); absent or `null`: a guest. */
  account?: string | null;
}

/** What one {@linkcode Store.commit} writes, all or nothing. */
export interface Batch {
  /** New messages, ids ascending. */
  messages: StoredMessage[];
  /** Rooms created or whose topic changed. */
  rooms: RoomRecord[];
  /** Sessions created or changed. */
  sessions: SessionRecord[];
  /** Token hashes of sessions that ended for good (`/quit`). */
  dropSessions: string[];
  /** Keys of rooms that expired (empty, without history). */
  dropRooms?: string[];
}

/** Which stored messages a search may return (decided in server/core/visibility.ts). */
export interface SearchScope {
  /** Room keys whose messages may be returned. */
  rooms: readonly string[];
  /** Private messages from or to this identity may be returned; `null`: none. */
  privateKey: string | null;
}

/** A {@linkcode Store.search} request. */
export interface SearchQuery extends SearchScope {
  /** The words to find, as typed (see {@linkcode searchTerms}). */
  text: string;
  /** Ids below this one; `Infinity` for the newest. */
  before: number;
  /** Most messages. */
  limit: number;
}

/**
 * The words of a search or of message text, as full-text search compares
 * them: runs of letters and digits, lower case, without diacritics (what
 * SQLite FTS5's `unicode61 remove_diacritics 2` tokenizer does).
 *
 * @param text any text
 * @returns the words, in order (empty when there are none)
 *
 * @example
 * ```ts
 * import { searchTerms } from "./store.ts";
 * searchTerms("Déjà vu, again!"); // ["deja", "vu", "again"]
 * ```
 */
export function searchTerms(text: string): string[] {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().match(/[\p{L}\p{N}]+/gu) ??
    [];
}

/** A registered account: its nickname is reserved for it. */
export interface AccountRecord {
  /** The nickname's comparison key (`nickKey`): the account's identity. */
  key: string;
  /** The nickname as registered, e.g. `Alice`. */
  name: string;
  /** The password hash with its parameters (see `server/core/password.ts`); never the password. */
  password: string;
  /** Server operator (granted with `chat admin grant`). */
  operator: boolean;
  /** When it was registered (ms since epoch). */
  created: number;
}

/** A room's moderation settings: founder, operators and modes. */
export interface RoomSettings {
  /** The room's key, e.g. `#dev`. */
  room: string;
  /** Account key of the registered user who created the room, if any. */
  founder: string | null;
  /** Only room operators may set the topic. */
  topicLock: boolean;
  /** Only invited users (and operators) may join. */
  inviteOnly: boolean;
  /** Hidden from those outside it (room lists, `who`, `whois`; IRC's `+s`). */
  secret: boolean;
  /** Only operators and voiced members may talk (IRC's `+m`). */
  moderated: boolean;
  /** Account keys of the room's operators (the founder is implied). */
  ops: string[];
}

/** A ban: of an account or an address (IPv6 per /64), in one room or server-wide. */
export interface BanRecord {
  /** Assigned by the store. */
  id: number;
  /** `*` for a server-wide ban, else the room key. */
  scope: string;
  /** What `value` is. */
  kind: "account" | "address";
  /**
   * An account key, or the network an address ban covers: `10.0.0.7`,
   * `10.1.0.0/16`, `2001:db8::/64` (`formatNetwork`; rows from before
   * prefixes may hold `2001:db8:0:0::/64`, read as the same network).
   */
  value: string;
  /** Why; may be empty. */
  reason: string;
  /** Who banned (nickname). */
  by: string;
  /** When (ms since epoch). */
  ts: number;
  /** When it ends (ms since epoch); `null`: never. */
  expires: number | null;
}

/** Audit lines a database keeps (the newest; see `SqliteStore`). */
export const MAX_AUDIT_ROWS = 1_000_000;

/** One line of the moderation audit table. */
export interface AuditRecord {
  /** When (ms since epoch). */
  ts: number;
  /** Who did it: a nickname, or `admin` for `chat admin`. */
  actor: string;
  /** e.g. `kick`, `ban`, `op`, `grant`. */
  action: string;
  /** `*` for the server, else the room key. */
  scope: string;
  /** Whom or what it was done to. */
  target: string;
  /** Reason, duration and other details; may be empty. */
  detail: string;
}

/**
 * Accounts, room settings, bans and the audit table. These writes are rare
 * and each is written at once, in its own transaction (not batched with the
 * messages), so an account or a ban exists once the call returns.
 */
export interface TrustStore {
  /** An account by key. */
  account(key: string): AccountRecord | undefined;
  /**
   * The account whose nickname looks like `name` (the same confusable
   * skeleton, {@linkcode nickSkeletons}), if any: a registered nickname
   * reserves its look-alikes too.
   */
  accountLike(name: string): AccountRecord | undefined;
  /** Every account, by key. */
  accounts(): AccountRecord[];
  /** Creates or replaces an account. */
  saveAccount(account: AccountRecord): void;
  /** Deletes an account and its room operator rights. @returns whether it existed */
  deleteAccount(key: string): boolean;
  /** Every room's settings. */
  roomSettings(): RoomSettings[];
  /** Creates or replaces a room's settings (and its operator list). */
  saveRoomSettings(settings: RoomSettings): void;
  /** Every ban, expired ones included until removed. */
  bans(): BanRecord[];
  /** Adds a ban. @returns its id */
  addBan(ban: Omit<BanRecord, "id">): number;
  /** Removes a ban by id. */
  removeBan(id: number): void;
  /** Appends a line to the audit table. */
  audit(entry: AuditRecord): void;
  /** The newest `limit` audit lines, oldest first. */
  auditLog(limit: number): AuditRecord[];
}

/** Persistence for the hub. Methods throw on storage failure. */
export interface Store extends TrustStore {
  /** Whether data outlives the process. */
  readonly durable: boolean;
  /** The highest id ever committed (0 when none); ids are never reused. */
  lastId(): number;
  /** Writes a batch in one transaction. */
  commit(batch: Batch): void;
  /**
   * Messages of a room with ids below `before`, the newest `limit` of them,
   * oldest first.
   */
  page(room: string, before: number, limit: number): StoredMessage[];
  /**
   * Messages of a room with ids from `from` (included) up to `before`
   * (excluded), oldest first, at most `limit`.
   */
  ascending(room: string, from: number, before: number, limit: number): StoredMessage[];
  /**
   * The lowest id among the newest `limit` messages of a room below
   * `before`; `undefined` when there is none.
   */
  floor(room: string, before: number, limit: number): number | undefined;
  /**
   * Messages with ids above `after` in any of `rooms` (keys) or private to or
   * from `identity` (see {@linkcode SessionRecord.identity}), oldest first,
   * at most `limit`.
   */
  since(after: number, rooms: readonly string[], identity: string, limit: number): StoredMessage[];
  /**
   * Messages in the query's scope holding every word of `text` (whole words,
   * any order, see {@linkcode searchTerms}), with ids below `before`,
   * newest first, at most `limit`.
   */
  search(query: SearchQuery): StoredMessage[];
  /** Every stored room. */
  rooms(): RoomRecord[];
  /** A stored session by token hash. */
  session(tokenHash: string): SessionRecord | undefined;
  /**
   * Deletes messages older than `before` (ms since epoch) and beyond the
   * newest `maxRows`, at most `chunk` messages per call, and sessions not
   * seen since `sessionsBefore` (ms since epoch; their tokens expire), and
   * the least recently seen sessions beyond the newest `maxSessions`.
   *
   * @returns how many messages were deleted
   */
  prune(
    before: number,
    maxRows: number,
    chunk: number,
    sessionsBefore: number,
    maxSessions?: number,
  ): number;
  /** Releases the store. */
  close(): void;
}

/**
 * A {@linkcode Store} in memory: nothing survives the process.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./store.ts";
 * const store = new MemoryStore();
 * store.commit({ messages: [], rooms: [{ name: "#a", topic: "", topicBy: null, topicTs: null }], sessions: [], dropSessions: [] });
 * store.rooms().length; // 1
 * ```
 */
export class MemoryStore implements Store {
  /** @inheritdoc */
  readonly durable = false;
  #messages: StoredMessage[] = [];
  #lastId = 0;
  readonly #rooms = new Map<string, RoomRecord>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #accounts = new Map<string, AccountRecord>();
  readonly #settings = new Map<string, RoomSettings>();
  readonly #bans = new Map<number, BanRecord>();
  #banId = 0;
  readonly #audit: AuditRecord[] = [];

  /** @inheritdoc */
  account(key: string): AccountRecord | undefined {
    const a = this.#accounts.get(key);
    return a && { ...a };
  }

  /** @inheritdoc */
  accountLike(name: string): AccountRecord | undefined {
    const [lower, upper] = nickSkeletons(name);
    for (const a of this.#accounts.values()) {
      const [l, u] = nickSkeletons(a.name);
      if (l === lower || u === upper) return { ...a };
    }
    return undefined;
  }

  /** @inheritdoc */
  accounts(): AccountRecord[] {
    return [...this.#accounts.values()].sort((a, b) => a.key.localeCompare(b.key)).map((a) => ({
      ...a,
    }));
  }

  /** @inheritdoc */
  saveAccount(account: AccountRecord): void {
    this.#accounts.set(account.key, { ...account });
  }

  /** @inheritdoc */
  deleteAccount(key: string): boolean {
    for (const s of this.#settings.values()) s.ops = s.ops.filter((o) => o !== key);
    return this.#accounts.delete(key);
  }

  /** @inheritdoc */
  roomSettings(): RoomSettings[] {
    return [...this.#settings.values()].map((s) => ({ ...s, ops: [...s.ops] }));
  }

  /** @inheritdoc */
  saveRoomSettings(settings: RoomSettings): void {
    this.#settings.set(settings.room, { ...settings, ops: [...settings.ops] });
  }

  /** @inheritdoc */
  bans(): BanRecord[] {
    return [...this.#bans.values()].map((b) => ({ ...b }));
  }

  /** @inheritdoc */
  addBan(ban: Omit<BanRecord, "id">): number {
    const id = ++this.#banId;
    this.#bans.set(id, { ...ban, id });
    return id;
  }

  /** @inheritdoc */
  removeBan(id: number): void {
    this.#bans.delete(id);
  }

  /** @inheritdoc */
  audit(entry: AuditRecord): void {
    this.#audit.push({ ...entry });
    if (this.#audit.length > 10_000) this.#audit.splice(0, this.#audit.length - 10_000);
  }

  /** @inheritdoc */
  auditLog(limit: number): AuditRecord[] {
    return this.#audit.slice(-limit).map((a) => ({ ...a }));
  }

  /** @inheritdoc */
  lastId(): number {
    return this.#lastId;
  }

  /** @inheritdoc */
  commit(batch: Batch): void {
    for (const m of batch.messages) {
      this.#messages.push(m);
      this.#lastId = Math.max(this.#lastId, m.id);
    }
    for (const r of batch.rooms) this.#rooms.set(r.name.toLowerCase(), { ...r });
    for (const s of batch.sessions) this.#sessions.set(s.tokenHash, { ...s, rooms: [...s.rooms] });
    for (const t of batch.dropSessions) this.#sessions.delete(t);
    for (const key of batch.dropRooms ?? []) this.#rooms.delete(key);
  }

  /** @inheritdoc */
  page(room: string, before: number, limit: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (let i = this.#messages.length - 1; i >= 0 && out.length < limit; i--) {
      const m = this.#messages[i]!;
      if (m.id < before && m.room === room) out.push(m);
    }
    return out.reverse();
  }

  /** @inheritdoc */
  ascending(room: string, from: number, before: number, limit: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const m of this.#messages) {
      if (out.length >= limit || m.id >= before) break;
      if (m.id >= from && m.room === room) out.push(m);
    }
    return out;
  }

  /** @inheritdoc */
  floor(room: string, before: number, limit: number): number | undefined {
    return this.page(room, before, limit)[0]?.id;
  }

  /** @inheritdoc */
  since(after: number, rooms: readonly string[], identity: string, limit: number): StoredMessage[] {
    const wanted = new Set(rooms);
    const out: StoredMessage[] = [];
    for (const m of this.#messages) {
      if (out.length >= limit) break;
      if (m.id <= after) continue;
      if (m.room !== null ? wanted.has(m.room) : m.toId === identity || m.fromId === identity) {
        out.push(m);
      }
    }
    return out;
  }

  /** @inheritdoc */
  search(query: SearchQuery): StoredMessage[] {
    const terms = new Set(searchTerms(query.text));
    const rooms = new Set(query.rooms);
    const key = query.privateKey;
    const out: StoredMessage[] = [];
    if (terms.size === 0) return out;
    for (let i = this.#messages.length - 1; i >= 0 && out.length < query.limit; i--) {
      const m = this.#messages[i]!;
      if (m.id >= query.before) continue;
      const visible = m.room !== null
        ? rooms.has(m.room)
        : key !== null && (m.toId === key || m.fromId === key);
      if (!visible) continue;
      const words = new Set(searchTerms(m.text));
      if ([...terms].every((t) => words.has(t))) out.push(m);
    }
    return out;
  }

  /** @inheritdoc */
  rooms(): RoomRecord[] {
    return [...this.#rooms.values()].map((r) => ({ ...r }));
  }

  /** @inheritdoc */
  session(tokenHash: string): SessionRecord | undefined {
    const s = this.#sessions.get(tokenHash);
    return s && { ...s, rooms: [...s.rooms] };
  }

  /** @inheritdoc */
  prune(
    before: number,
    maxRows: number,
    chunk: number,
    sessionsBefore: number,
    maxSessions = Infinity,
  ): number {
    let drop = 0;
    const excess = this.#messages.length - maxRows;
    while (
      drop < this.#messages.length && drop < chunk &&
      (drop < excess || this.#messages[drop]!.ts < before)
    ) drop++;
    this.#messages = this.#messages.slice(drop);
    for (const [token, s] of this.#sessions) {
      if (s.seen < sessionsBefore) this.#sessions.delete(token);
    }
    if (this.#sessions.size > maxSessions) {
      const oldest = [...this.#sessions.values()].sort((a, b) => a.seen - b.seen);
      for (const s of oldest.slice(0, this.#sessions.size - maxSessions)) {
        this.#sessions.delete(s.tokenHash);
      }
    }
    return drop;
  }

  /** @inheritdoc */
  close(): void {}
}

/**
 * Opens the store for `--db PATH`: `:memory:` keeps nothing, anything else
 * is an SQLite file (created if missing).
 *
 * @param path `:memory:` or a file path
 * @returns the store
 * @throws {Error} when the database cannot be opened
 */
export async function openStore(path: string): Promise<Store> {
  if (path === ":memory:") return new MemoryStore();
  const { SqliteStore } = await import("./sqlite.ts");
  return new SqliteStore(path);
}
