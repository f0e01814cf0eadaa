/**
 * The durable {@linkcode Store}: an SQLite database through `node:sqlite`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { nickKey, nickSkeletons } from "../../protocol/text.ts";
import {
  type AccountRecord,
  type AuditRecord,
  type BanRecord,
  type Batch,
  MAX_AUDIT_ROWS,
  type RoomRecord,
  type RoomSettings,
  type SearchQuery,
  searchTerms,
  type SessionRecord,
  type Store,
  type StoredMessage,
} from "./store.ts";

/**
 * `PRAGMA application_id` of a chat database: "chat" in ASCII. A file with
 * another non-zero id belongs to another program and is refused untouched.
 * (SQLite's own file format documentation describes the field.)
 */
export const APPLICATION_ID = 0x63686174;

/**
 * The schema, as forward migrations: step `i` takes a database from
 * `PRAGMA user_version` `i` to `i + 1`. A new table or column is a new step
 * appended here, never an edit of an old one. A file whose version is higher
 * than this list is long was written by a newer chat and is refused.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: messages, rooms, sessions (the schema before versioning).
  `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  room TEXT,
  from_nick TEXT NOT NULL,
  to_nick TEXT,
  from_key TEXT NOT NULL,
  to_key TEXT,
  text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id);
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_key, id) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS messages_from ON messages (from_key, id) WHERE room IS NULL;
CREATE TABLE IF NOT EXISTS rooms (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  topic TEXT NOT NULL DEFAULT '',
  topic_by TEXT,
  topic_ts INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  nick TEXT NOT NULL,
  rooms TEXT NOT NULL,
  current TEXT,
  seen INTEGER NOT NULL
);
`,
  // 2: private history belongs to identities, not nicknames (issue 11). Rows
  // from before have no identity and are never replayed privately.
  `
ALTER TABLE messages ADD COLUMN from_id TEXT;
ALTER TABLE messages ADD COLUMN to_id TEXT;
CREATE INDEX messages_to_id ON messages (to_id, id) WHERE room IS NULL;
CREATE INDEX messages_from_id ON messages (from_id, id) WHERE room IS NULL;
ALTER TABLE sessions ADD COLUMN identity TEXT;
ALTER TABLE sessions ADD COLUMN floor INTEGER NOT NULL DEFAULT 0;
  `,
  // 3: full-text search of message text (FTS5, an external-content index of
  // messages.text kept in step by triggers, so pruning removes from it too).
  `
CREATE VIRTUAL TABLE messages_fts USING fts5(
  text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
`,
  // 4: accounts, room settings and operators, bans, the moderation audit table.
  `
CREATE TABLE accounts (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  password TEXT NOT NULL,
  operator INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE TABLE room_settings (
  room TEXT PRIMARY KEY,
  founder TEXT,
  topic_lock INTEGER NOT NULL DEFAULT 0,
  invite_only INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE room_ops (
  room TEXT NOT NULL,
  account TEXT NOT NULL,
  PRIMARY KEY (room, account)
);
CREATE TABLE bans (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  by_nick TEXT NOT NULL,
  ts INTEGER NOT NULL,
  expires INTEGER
);
ALTER TABLE sessions ADD COLUMN account TEXT;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  scope TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
`,
  // 5: the confusable skeletons of each account's nickname (nickSkeletons), so
  // a registered nickname reserves its look-alikes. Filled in by the store when
  // it opens a file (a migration cannot compute them) and on every save.
  `
ALTER TABLE accounts ADD COLUMN shape_l TEXT;
ALTER TABLE accounts ADD COLUMN shape_u TEXT;
CREATE INDEX accounts_shape_l ON accounts (shape_l);
CREATE INDEX accounts_shape_u ON accounts (shape_u);
`,
  // 6: notices (IRC's NOTICE) are kept as notices, so history replays them as such.
  `
ALTER TABLE messages ADD COLUMN notice INTEGER NOT NULL DEFAULT 0;
`,
  // 7: the search index is filled once per commit (SqliteStore.commit: one
  // INSERT … SELECT over the batch's ids, in the same transaction) instead of
  // by a trigger per row. FTS5 writes its pending terms out as a new segment at
  // every statement of a transaction, so a row-by-row trigger cost ~17 µs per
  // message, 2/3 of the insert path; the delete and update triggers stay.
  `
DROP TRIGGER messages_fts_insert;
`,
  // 8: secret rooms (IRC's +s), hidden from those outside them.
  `
ALTER TABLE room_settings ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;
`,
  // 9: moderated rooms (IRC's +m): only operators and voiced members talk.
  `
ALTER TABLE room_settings ADD COLUMN moderated INTEGER NOT NULL DEFAULT 0;
`,
];

/** Tables of schema version 1: an unmarked file holding exactly these is a chat database from before versioning. */
const LEGACY_TABLES = new Set(["messages", "rooms", "sessions", "sqlite_sequence"]);

/** Why {@linkcode SqliteStore} refused a file; the message is one line for the command line. */
export class ForeignDatabaseError extends Error {
  /** @param message what is wrong with the file */
  constructor(message: string) {
    super(message);
    this.name = "ForeignDatabaseError";
  }
}

/**
 * Checks that `db` is a chat database (or a new, empty file) and brings its
 * schema up to date, in one transaction per step. Writes nothing to a file
 * it refuses.
 *
 * @throws {ForeignDatabaseError} for another program's file, or one of a
 * newer chat
 */
function migrate(db: DatabaseSync): void {
  const appId = Number(db.prepare("PRAGMA application_id").get()?.application_id ?? 0);
  let version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw new ForeignDatabaseError(
      `it belongs to another program (application_id 0x${appId.toString(16)}); left untouched`,
    );
  }
  if (appId === 0) {
    const tables = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'",
    ).all().map((row) => String(row.name));
    const ours = tables.length > 0 && tables.every((t) => LEGACY_TABLES.has(t)) &&
      tables.includes("messages");
    if (tables.length > 0 && !ours) {
      throw new ForeignDatabaseError(
        `it is not a chat database (it has tables ${tables.slice(0, 5).join(", ")}${
          tables.length > 5 ? ", …" : ""
        }); left untouched`,
      );
    }
    // An unmarked chat file from before versioning holds schema 1.
    if (ours && version === 0) version = 1;
  }
  if (version > MIGRATIONS.length) {
    throw new ForeignDatabaseError(
      `it was written by a newer chat (schema ${version}, this one knows ${MIGRATIONS.length}); left untouched`,
    );
  }
  db.exec("PRAGMA journal_mode = WAL");
  for (; version < MIGRATIONS.length; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
  if (appId === 0) {
    // A chat file from before versioning, already at the newest schema.
    db.exec(`PRAGMA user_version = ${version}`);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
  }
}

/** Pages of write-ahead log (4 KiB each by default) that force a checkpoint while commits go on. */
const WAL_CHECKPOINT_PAGES = 10_000;
/** Bytes of write-ahead log file kept after a checkpoint (`PRAGMA journal_size_limit`). */
const WAL_KEEP_BYTES = 4 * 1024 * 1024;
/** A checkpoint runs once no batch of messages was committed for this long (ms). */
const CHECKPOINT_IDLE_MS = 1000;

/**
 * Rows one INSERT statement adds. Binding a batch's rows into one statement
 * costs ~2.8 µs per message against ~4.1 µs row by row (node:sqlite, 12
 * columns, measured in batches of 50).
 */
const INSERT_ROWS = 32;
/**
 * Messages committed but not yet in the search index after which the next
 * commit indexes them. FTS5 writes a new index segment (and merges segments)
 * at every statement that adds to it, so it pays per statement, not per row:
 * ~16 µs per message in statements of 10, ~4–6 in 50s, ~2.7 from 200 on
 * (measured on 20,000 messages). A commit holds a few messages, so indexing
 * each commit's rows cost more than the insert itself.
 */
const INDEX_BACKLOG = 1000;
/** The search index catches up once no batch of messages was committed for this long (ms). */
const INDEX_IDLE_MS = 250;

/**
 * Runs `action` once `quietMs` have passed since the last {@linkcode touch}:
 * one timer (unref'd, so it never keeps the process alive), looked at when
 * it fires and re-armed for the rest of the wait, rather than reset at every
 * touch (a touch per commit).
 */
class WhenQuiet {
  readonly #quietMs: number;
  readonly #action: () => void;
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param quietMs how long nothing may have happened, in milliseconds
   * @param action what to run then
   */
  constructor(quietMs: number, action: () => void) {
    this.#quietMs = quietMs;
    this.#action = action;
  }

  /** Something happened: the wait starts again. */
  touch(): void {
    this.#last = performance.now();
    if (this.#timer === undefined) this.#arm(this.#quietMs);
  }

  /** Stops the wait, if any. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      const quiet = performance.now() - this.#last;
      if (quiet < this.#quietMs) this.#arm(this.#quietMs - quiet);
      else this.#action();
    }, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}

const COLUMNS = "id, ts, kind, room, from_nick, to_nick, from_id, to_id, text, notice";
const INSERT_COLUMNS =
  "INSERT INTO messages (id, ts, kind, room, from_nick, to_nick, from_key, to_key, from_id, to_id, text, notice) VALUES ";
const INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

type Row = Record<string, unknown>;

/** Values one message binds to INSERT_ROW. */
const ROW_VALUES = 12;

/** Writes the {@linkcode ROW_VALUES} values of `m`, in INSERT_COLUMNS order, into `out` from `at`. */
function putRow(m: StoredMessage, out: (string | number | null)[], at: number): void {
  out[at] = m.id;
  out[at + 1] = m.ts;
  out[at + 2] = m.kind;
  out[at + 3] = m.room;
  out[at + 4] = m.from;
  out[at + 5] = m.to;
  out[at + 6] = nickKey(m.from);
  out[at + 7] = m.to === null ? null : nickKey(m.to);
  out[at + 8] = m.fromId;
  out[at + 9] = m.toId;
  out[at + 10] = m.text;
  out[at + 11] = m.notice ? 1 : 0;
}

function toMessage(row: Row): StoredMessage {
  return {
    id: Number(row.id),
    ts: Number(row.ts),
    kind: row.kind as StoredMessage["kind"],
    room: (row.room as string | null) ?? null,
    from: String(row.from_nick),
    to: (row.to_nick as string | null) ?? null,
    fromId: (row.from_id as string | null) ?? null,
    toId: (row.to_id as string | null) ?? null,
    text: String(row.text),
    ...(Number(row.notice) !== 0 ? { notice: true } : {}),
  };
}

function toAccount(row: Row): AccountRecord {
  return {
    key: String(row.key),
    name: String(row.name),
    password: String(row.password),
    operator: Number(row.operator) !== 0,
    created: Number(row.created),
  };
}

/** Computes the look-alike keys of accounts saved before schema step 5. */
function fillAccountShapes(db: DatabaseSync): void {
  const missing = db.prepare("SELECT key, name FROM accounts WHERE shape_l IS NULL").all();
  if (missing.length === 0) return;
  const update = db.prepare("UPDATE accounts SET shape_l = ?, shape_u = ? WHERE key = ?");
  for (const row of missing) update.run(...nickSkeletons(String(row.name)), String(row.key));
}

/**
 * A {@linkcode Store} in an SQLite file (WAL mode). One connection, used
 * synchronously from the server's single thread.
 *
 * @example
 * ```ts ignore
 * import { SqliteStore } from "./sqlite.ts";
 * const store = new SqliteStore("chat.db");
 * store.lastId();
 * store.close();
 * ```
 */
export class SqliteStore implements Store {
  /** @inheritdoc */
  readonly durable = true;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #index: StatementSync;
  readonly #upsertRoom: StatementSync;
  readonly #upsertSession: StatementSync;
  readonly #deleteSession: StatementSync;
  readonly #page: StatementSync;
  readonly #since: StatementSync;
  readonly #search: StatementSync;
  readonly #ascending: StatementSync;
  readonly #floor: StatementSync;
  #lastId: number;
  /**
   * The search index holds every message up to this id; those above it wait
   * for the next catch-up (see INDEX_BACKLOG), which a search, a prune and
   * close() run first.
   */
  #indexed: number;
  readonly #indexWhenIdle = new WhenQuiet(INDEX_IDLE_MS, () => this.#indexNow());
  /** The write-ahead log, opened at the first commit of messages; null: not available, commits fsync themselves. */
  #wal: Deno.FsFile | null | undefined;
  readonly #path: string;
  readonly #maxAuditRows: number;
  #syncing = false;
  #unsynced = false;
  #closed = false;
  readonly #checkpointWhenIdle = new WhenQuiet(CHECKPOINT_IDLE_MS, () => {
    if (this.#closed) return;
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* busy (a reader elsewhere): the next one, or the automatic one, catches up */ }
  });

  /**
   * Opens (creating if needed) the database.
   *
   * @param path file path
   * @throws {ForeignDatabaseError} when the file is another program's or a
   * newer chat's (see {@linkcode MIGRATIONS})
   * @throws {Error} when the file cannot be opened or is not a database
   * @param maxAuditRows newest audit lines kept (older ones are deleted as
   * new ones come); moderation actions of any room operator add lines, so
   * the table needs a bound like every table a peer can grow
   */
  constructor(path: string, maxAuditRows: number = MAX_AUDIT_ROWS) {
    this.#path = path;
    this.#maxAuditRows = maxAuditRows;
    this.#db = new DatabaseSync(path);
    try {
      // migrate() turns on WAL: readers never block the writer, and a commit
      // is one append to the log. synchronous=FULL: every commit is fsynced
      // before it returns, so what it wrote survives a power cut as well as
      // SIGKILL (NORMAL survives SIGKILL only: in WAL mode it defers fsync to
      // checkpoints). Batches of messages are the exception, see commit().
      this.#db.exec("PRAGMA busy_timeout = 5000");
      migrate(this.#db);
      this.#db.exec("PRAGMA synchronous = FULL");
      // Checkpoints (copying the log into the database, two fsyncs) run on
      // this thread. SQLite's default, one per 1000 pages of log, cost the
      // fan-out benchmark about a third of its throughput: the search index and
      // the message indexes rewrite the same pages at every commit, and a
      // checkpoint copies each page once however often it was rewritten. So
      // checkpoint when the log reaches WAL_CHECKPOINT_PAGES (~40 MiB), or
      // once commits pause (see #checkpointWhenIdle); after one, the log file
      // is cut back to WAL_KEEP_BYTES.
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      this.#db.exec(`PRAGMA journal_size_limit = ${WAL_KEEP_BYTES}`);
      fillAccountShapes(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#insert = this.#db.prepare(INSERT_COLUMNS + INSERT_ROW);
    this.#insertMany = this.#db.prepare(
      INSERT_COLUMNS + Array(INSERT_ROWS).fill(INSERT_ROW).join(", "),
    );
    this.#index = this.#db.prepare(
      "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id BETWEEN ? AND ?",
    );
    this.#upsertRoom = this.#db.prepare(
      "INSERT INTO rooms (key, name, topic, topic_by, topic_ts) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (key) DO UPDATE SET topic = excluded.topic, topic_by = excluded.topic_by, " +
        "topic_ts = excluded.topic_ts",
    );
    this.#upsertSession = this.#db.prepare(
      "INSERT OR REPLACE INTO sessions (token_hash, identity, floor, nick, rooms, current, seen, " +
        "account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#deleteSession = this.#db.prepare("DELETE FROM sessions WHERE token_hash = ?");
    this.#page = this.#db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?`,
    );
    this.#ascending = this.#db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE room = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?`,
    );
    this.#floor = this.#db.prepare(
      "SELECT min(id) AS id FROM (SELECT id FROM messages WHERE room = ? AND id < ? " +
        "ORDER BY id DESC LIMIT ?)",
    );
    this.#since = this.#db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE id > ? AND (` +
        "room IN (SELECT value FROM json_each(?)) OR " +
        "(room IS NULL AND (to_id = ? OR from_id = ?))) ORDER BY id LIMIT ?",
    );
    // The full-text index yields matches newest first (FTS5 serves ORDER BY
    // rowid DESC itself), each then checked against the scope: the LIMIT
    // stops the scan as soon as a page is full.
    this.#search = this.#db.prepare(
      `SELECT ${COLUMNS.split(", ").map((c) => "m." + c).join(", ")} ` +
        "FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid " +
        "WHERE messages_fts MATCH ? AND f.rowid < ? AND (" +
        "m.room IN (SELECT value FROM json_each(?)) OR " +
        "(m.room IS NULL AND (m.to_id = ? OR m.from_id = ?))) ORDER BY f.rowid DESC LIMIT ?",
    );
    // AUTOINCREMENT keeps the highest id ever used in sqlite_sequence, so ids
    // are never reused even after pruning deletes every message.
    const seq = this.#db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get();
    const max = this.#db.prepare("SELECT max(id) AS id FROM messages").get();
    this.#lastId = Math.max(Number(seq?.seq ?? 0), Number(max?.id ?? 0));
    // FTS5 keeps a row per indexed message in its docsize table, and the
    // index is always filled in id order: above its highest id, nothing is
    // indexed yet (messages committed before a crash or kill). Catch up now.
    const indexed = this.#db.prepare("SELECT max(id) AS id FROM messages_fts_docsize").get();
    this.#indexed = Number(indexed?.id ?? 0);
    this.#indexNow();
  }

  /** @inheritdoc */
  lastId(): number {
    return this.#lastId;
  }

  /**
   * Commits a batch in one transaction. The messages of the batch are in the
   * write-ahead log (so they survive the process being killed) when this
   * returns; its fsync runs off the event loop (`Deno.FsFile.syncData` on
   * the log, at most one at a time, the next one covering every commit made
   * meanwhile), so the server is not stalled for the disk once per batch. A
   * power cut or kernel crash can therefore lose the batches committed since
   * the last fsync completed (typically a few milliseconds' worth); the file
   * stays consistent either way (the log's frames are checksummed). Without a
   * log file to sync (not WAL mode, or no access to it) the commit is fsynced
   * before it returns, as every other write of this store is.
   */
  commit(batch: Batch): void {
    const deferSync = batch.messages.length > 0 && this.#walFile() !== null;
    if (deferSync) this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      this.#commit(batch);
    } finally {
      if (deferSync) {
        this.#db.exec("PRAGMA synchronous = FULL");
        this.#syncWal();
        this.#checkpointWhenIdle.touch(); // checkpoints once commits pause
      }
    }
  }

  #commit(batch: Batch): void {
    this.#transaction(() => {
      this.#insertMessages(batch.messages);
      for (const r of batch.rooms) {
        this.#upsertRoom.run(r.name.toLowerCase(), r.name, r.topic, r.topicBy, r.topicTs);
      }
      for (const s of batch.sessions) {
        this.#upsertSession.run(
          s.tokenHash,
          s.identity,
          s.floor,
          s.nick,
          JSON.stringify(s.rooms),
          s.current,
          s.seen,
          s.account ?? null,
        );
      }
      for (const t of batch.dropSessions) this.#deleteSession.run(t);
      for (const key of batch.dropRooms ?? []) {
        this.#db.prepare("DELETE FROM rooms WHERE key = ?").run(key);
      }
    });
    const last = batch.messages.at(-1);
    if (last) {
      this.#lastId = Math.max(this.#lastId, last.id);
      if (this.#lastId - this.#indexed >= INDEX_BACKLOG) this.#indexNow();
      else this.#indexWhenIdle.touch();
    }
  }

  /** Inserts messages, {@linkcode INSERT_ROWS} per statement. */
  #insertMessages(messages: readonly StoredMessage[]): void {
    let i = 0;
    if (messages.length >= INSERT_ROWS) {
      const values: (string | number | null)[] = new Array(INSERT_ROWS * ROW_VALUES);
      for (; i + INSERT_ROWS <= messages.length; i += INSERT_ROWS) {
        for (let j = 0; j < INSERT_ROWS; j++) putRow(messages[i + j]!, values, j * ROW_VALUES);
        this.#insertMany.run(...values);
      }
    }
    const values: (string | number | null)[] = new Array(ROW_VALUES);
    for (; i < messages.length; i++) {
      putRow(messages[i]!, values, 0);
      this.#insert.run(...values);
    }
  }

  /**
   * Adds the messages committed since the last catch-up to the search index,
   * in one statement (see {@linkcode INDEX_BACKLOG}). Idempotent; a failure
   * (e.g. a full disk) leaves them for the next catch-up.
   */
  #indexNow(): void {
    this.#indexWhenIdle.cancel();
    if (this.#indexed >= this.#lastId || this.#closed) return;
    const to = this.#lastId;
    try {
      // Derived data, rebuilt at open if lost: no fsync of its own (in WAL
      // mode NORMAL syncs at checkpoints), unlike the store's other writes.
      this.#db.exec("PRAGMA synchronous = NORMAL");
      try {
        this.#transaction(() => this.#index.run(this.#indexed + 1, to));
        this.#indexed = to;
      } finally {
        this.#db.exec("PRAGMA synchronous = FULL");
      }
    } catch {
      // Left for the next catch-up; never thrown into a search or close().
    }
  }

  /** @inheritdoc */
  page(room: string, before: number, limit: number): StoredMessage[] {
    const bound = Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER;
    return this.#page.all(room, bound, limit).map(toMessage).reverse();
  }

  /** @inheritdoc */
  ascending(room: string, from: number, before: number, limit: number): StoredMessage[] {
    const bound = Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER;
    return this.#ascending.all(room, from, bound, limit).map(toMessage);
  }

  /** @inheritdoc */
  floor(room: string, before: number, limit: number): number | undefined {
    const bound = Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER;
    const id = this.#floor.get(room, bound, limit)?.id;
    return id === null || id === undefined ? undefined : Number(id);
  }

  /** @inheritdoc */
  since(after: number, rooms: readonly string[], identity: string, limit: number): StoredMessage[] {
    return this.#since.all(after, JSON.stringify(rooms), identity, identity, limit).map(toMessage);
  }

  /** @inheritdoc */
  search(query: SearchQuery): StoredMessage[] {
    this.#indexNow(); // so every committed message can be found
    // Each word as an FTS5 string (doubled quotes escape), so no input is query syntax.
    const terms = searchTerms(query.text);
    if (terms.length === 0) return [];
    const match = terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(" ");
    const before = Number.isFinite(query.before) ? query.before : Number.MAX_SAFE_INTEGER;
    // A null key matches no row (NULL = NULL is not true).
    return this.#search.all(
      match,
      before,
      JSON.stringify(query.rooms),
      query.privateKey,
      query.privateKey,
      query.limit,
    ).map(toMessage);
  }

  /** @inheritdoc */
  rooms(): RoomRecord[] {
    return this.#db.prepare("SELECT name, topic, topic_by, topic_ts FROM rooms").all().map((
      row,
    ) => ({
      name: String(row.name),
      topic: String(row.topic),
      topicBy: (row.topic_by as string | null) ?? null,
      topicTs: row.topic_ts === null ? null : Number(row.topic_ts),
    }));
  }

  /** @inheritdoc */
  session(tokenHash: string): SessionRecord | undefined {
    const row = this.#db.prepare(
      "SELECT token_hash, identity, floor, nick, rooms, current, seen, account FROM sessions " +
        "WHERE token_hash = ?",
    ).get(tokenHash);
    if (!row) return undefined;
    let rooms: string[] = [];
    try {
      const parsed = JSON.parse(String(row.rooms));
      if (Array.isArray(parsed)) rooms = parsed.filter((r) => typeof r === "string");
    } catch { /* a damaged row resumes with no rooms */ }
    return {
      tokenHash: String(row.token_hash),
      // A session saved before identities gets one of its own: it can never
      // match the identity-less private rows of that time.
      identity: row.identity === null
        ? `s:legacy-${String(row.token_hash).slice(0, 16)}`
        : String(row.identity),
      floor: Number(row.floor ?? 0),
      nick: String(row.nick),
      rooms,
      current: (row.current as string | null) ?? null,
      seen: Number(row.seen),
      account: (row.account as string | null) ?? null,
    };
  }

  /** @inheritdoc */
  prune(
    before: number,
    maxRows: number,
    chunk: number,
    sessionsBefore: number,
    maxSessions = Number.MAX_SAFE_INTEGER,
  ): number {
    let deleted = 0;
    // The delete trigger takes each pruned row out of the search index, so
    // the index must hold it (FTS5 external content: deleting a row it does
    // not hold damages the index).
    this.#indexNow();
    this.#transaction(() => {
      // Ids grow with time, so the oldest rows are the lowest ids.
      deleted += Number(
        this.#db.prepare(
          "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE ts < ? ORDER BY id LIMIT ?)",
        ).run(before, chunk).changes,
      );
      const cut = this.#db.prepare(
        "SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET ?",
      ).get(maxRows);
      if (cut && deleted < chunk) {
        deleted += Number(
          this.#db.prepare(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE id <= ? ORDER BY id LIMIT ?)",
          ).run(Number(cut.id), chunk - deleted).changes,
        );
      }
      this.#db.prepare("DELETE FROM sessions WHERE seen < ?").run(sessionsBefore);
      this.#db.prepare(
        "DELETE FROM sessions WHERE token_hash IN " +
          "(SELECT token_hash FROM sessions ORDER BY seen DESC LIMIT -1 OFFSET ?)",
      ).run(Number.isFinite(maxSessions) ? maxSessions : Number.MAX_SAFE_INTEGER);
    });
    return deleted;
  }

  /** The write-ahead log file, opened once; null when there is none to sync (e.g. not WAL mode). */
  #walFile(): Deno.FsFile | null {
    if (this.#wal !== undefined) return this.#wal;
    this.#wal = null;
    const mode = this.#db.prepare("PRAGMA journal_mode").get()?.journal_mode;
    if (String(mode).toLowerCase() !== "wal" || this.#path === ":memory:" || this.#path === "") {
      return null;
    }
    try {
      this.#wal = Deno.openSync(`${this.#path}-wal`, { read: true });
    } catch { /* no access: commits fsync themselves */ }
    return this.#wal;
  }

  /** fsyncs the log off the event loop; a commit made while one runs gets the next. */
  #syncWal(): void {
    const wal = this.#wal;
    if (!wal || this.#closed) return;
    if (this.#syncing) {
      this.#unsynced = true;
      return;
    }
    this.#syncing = true;
    this.#unsynced = false;
    wal.syncData().catch(() => {/* closed meanwhile: close() checkpointed and synced */})
      .finally(() => {
        this.#syncing = false;
        if (this.#unsynced) this.#syncWal();
      });
  }

  /** Runs `body` in one write transaction; rolls back and rethrows on error. */
  #transaction(body: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      body();
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* no transaction left */ }
      throw error;
    }
  }

  /** @inheritdoc */
  account(key: string): AccountRecord | undefined {
    const row = this.#db.prepare(
      "SELECT key, name, password, operator, created FROM accounts WHERE key = ?",
    ).get(key);
    return row && toAccount(row);
  }

  /** @inheritdoc */
  accountLike(name: string): AccountRecord | undefined {
    const [lower, upper] = nickSkeletons(name);
    const row = this.#db.prepare(
      "SELECT key, name, password, operator, created FROM accounts " +
        "WHERE shape_l = ? OR shape_u = ? LIMIT 1",
    ).get(lower, upper);
    return row && toAccount(row);
  }

  /** @inheritdoc */
  accounts(): AccountRecord[] {
    return this.#db.prepare(
      "SELECT key, name, password, operator, created FROM accounts ORDER BY key",
    ).all().map(toAccount);
  }

  /** @inheritdoc */
  saveAccount(a: AccountRecord): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO accounts (key, name, password, operator, created, shape_l, shape_u) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(a.key, a.name, a.password, a.operator ? 1 : 0, a.created, ...nickSkeletons(a.name));
  }

  /** @inheritdoc */
  deleteAccount(key: string): boolean {
    let changes = 0;
    this.#transaction(() => {
      this.#db.prepare("DELETE FROM room_ops WHERE account = ?").run(key);
      changes = Number(this.#db.prepare("DELETE FROM accounts WHERE key = ?").run(key).changes);
    });
    return changes > 0;
  }

  /** @inheritdoc */
  roomSettings(): RoomSettings[] {
    const ops = new Map<string, string[]>();
    for (const row of this.#db.prepare("SELECT room, account FROM room_ops").all()) {
      const list = ops.get(String(row.room)) ?? [];
      list.push(String(row.account));
      ops.set(String(row.room), list);
    }
    return this.#db.prepare(
      "SELECT room, founder, topic_lock, invite_only, secret, moderated FROM room_settings",
    )
      .all().map((row) => ({
        room: String(row.room),
        founder: (row.founder as string | null) ?? null,
        topicLock: Number(row.topic_lock) !== 0,
        inviteOnly: Number(row.invite_only) !== 0,
        secret: Number(row.secret) !== 0,
        moderated: Number(row.moderated) !== 0,
        ops: ops.get(String(row.room)) ?? [],
      }));
  }

  /** @inheritdoc */
  saveRoomSettings(s: RoomSettings): void {
    this.#transaction(() => {
      this.#db.prepare(
        "INSERT OR REPLACE INTO room_settings (room, founder, topic_lock, invite_only, secret, " +
          "moderated) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(
        s.room,
        s.founder,
        s.topicLock ? 1 : 0,
        s.inviteOnly ? 1 : 0,
        s.secret ? 1 : 0,
        s.moderated ? 1 : 0,
      );
      this.#db.prepare("DELETE FROM room_ops WHERE room = ?").run(s.room);
      const insert = this.#db.prepare(
        "INSERT OR IGNORE INTO room_ops (room, account) VALUES (?, ?)",
      );
      for (const op of s.ops) insert.run(s.room, op);
    });
  }

  /** @inheritdoc */
  bans(): BanRecord[] {
    return this.#db.prepare(
      "SELECT id, scope, kind, value, reason, by_nick, ts, expires FROM bans ORDER BY id",
    ).all().map((row) => ({
      id: Number(row.id),
      scope: String(row.scope),
      kind: row.kind === "address" ? "address" : "account",
      value: String(row.value),
      reason: String(row.reason),
      by: String(row.by_nick),
      ts: Number(row.ts),
      expires: row.expires === null ? null : Number(row.expires),
    }));
  }

  /** @inheritdoc */
  addBan(b: Omit<BanRecord, "id">): number {
    return Number(
      this.#db.prepare(
        "INSERT INTO bans (scope, kind, value, reason, by_nick, ts, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(b.scope, b.kind, b.value, b.reason, b.by, b.ts, b.expires).lastInsertRowid,
    );
  }

  /** @inheritdoc */
  removeBan(id: number): void {
    this.#db.prepare("DELETE FROM bans WHERE id = ?").run(id);
  }

  /** @inheritdoc */
  audit(e: AuditRecord): void {
    const id = Number(
      this.#db.prepare(
        "INSERT INTO audit (ts, actor, action, scope, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(e.ts, e.actor, e.action, e.scope, e.target, e.detail).lastInsertRowid,
    );
    // Ids only grow (AUTOINCREMENT): the oldest beyond the cap go.
    this.#db.prepare("DELETE FROM audit WHERE id <= ?").run(id - this.#maxAuditRows);
  }

  /** @inheritdoc */
  auditLog(limit: number): AuditRecord[] {
    return this.#db.prepare(
      "SELECT ts, actor, action, scope, target, detail FROM audit ORDER BY id DESC LIMIT ?",
    ).all(limit).map((row) => ({
      ts: Number(row.ts),
      actor: String(row.actor),
      action: String(row.action),
      scope: String(row.scope),
      target: String(row.target),
      detail: String(row.detail),
    })).reverse();
  }

  /** @inheritdoc */
  close(): void {
    if (this.#closed) return;
    this.#indexNow();
    this.#closed = true;
    this.#checkpointWhenIdle.cancel();
    try {
      // Closing the last connection checkpoints the log into the database,
      // fsyncing both, so nothing committed is left unsynced.
      this.#db.close();
    } catch { /* already closed */ }
    try {
      this.#wal?.close();
    } catch { /* already closed */ }
  }
}
