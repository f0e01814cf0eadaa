// The database file is ours, or we refuse it: a foreign or newer SQLite file
// makes `chat server --db FILE` exit non-zero with one line, and the file is
// left byte for byte as it was.
import assert from "@chat/assert";
import { DatabaseSync } from "node:sqlite";
import { APPLICATION_ID, MIGRATIONS, SqliteStore } from "../server/store/sqlite.ts";
import { MAIN, SERVER_PERMISSIONS, startTestServer, TestClient } from "./test_util.ts";

/** Runs `chat server --db path` expecting it to refuse the file. */
async function refused(path: string): Promise<{ code: number; stderr: string }> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const permissions = SERVER_PERMISSIONS.map((p) =>
    /^--allow-(read|write)=/.test(p) ? `${p},${dir}` : p
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, "server", "--port", "0", "--db", path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function digest(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))).join(",");
}

Deno.test("chat server --db refuses another program's SQLite file and leaves it untouched", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("a file with tables of its own", async () => {
      const path = `${dir}/other.db`;
      const db = new DatabaseSync(path);
      db.exec("CREATE TABLE messages (x); CREATE TABLE invoices (id INTEGER, total REAL)");
      db.close();
      const before = await digest(path);
      const { code, stderr } = await refused(path);
      assert.notEqual(code, 0);
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /not a chat database.*invoices.*left untouched/);
      assert.equal(await digest(path), before);
    });
    await t.step("a file marked by another program", async () => {
      const path = `${dir}/marked.db`;
      const db = new DatabaseSync(path);
      db.exec("PRAGMA application_id = 1234");
      db.close();
      const before = await digest(path);
      const { code, stderr } = await refused(path);
      assert.notEqual(code, 0);
      assert.match(stderr.trim(), /another program \(application_id 0x4d2\)/);
      assert.equal(await digest(path), before);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat server --db refuses a file from a newer chat, adopts one from before versioning", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("newer schema", async () => {
      const path = `${dir}/newer.db`;
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
      db.close();
      const before = await digest(path);
      const { code, stderr } = await refused(path);
      assert.notEqual(code, 0);
      assert.match(stderr.trim(), /written by a newer chat/);
      assert.equal(stderr.trim().split("\n").length, 1);
      assert.equal(await digest(path), before);
    });
    await t.step("unmarked file with the first schema keeps its history", async () => {
      const path = `${dir}/legacy.db`;
      const db = new DatabaseSync(path);
      db.exec(MIGRATIONS[0]!);
      db.exec(
        "INSERT INTO messages (ts, kind, room, from_nick, from_key, text) " +
          `VALUES (${Date.now()}, 'message', '#lobby', 'old', 'old', 'from before')`,
      );
      db.close();
      {
        await using server = await startTestServer(["--db", path]);
        await using c = await TestClient.joinText(server.port, "alice");
        await c.lines.expect(/from before/);
      }
      const check = new DatabaseSync(path);
      assert.equal(check.prepare("PRAGMA application_id").get()?.application_id, APPLICATION_ID);
      assert.equal(check.prepare("PRAGMA user_version").get()?.user_version, MIGRATIONS.length);
      check.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the audit table keeps its newest lines only (any room operator can add to it)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_store_schema_test_" });
  try {
    const store = new SqliteStore(`${dir}/chat.db`, 5);
    for (let i = 0; i < 12; i++) {
      store.audit({
        ts: i,
        actor: "guest",
        action: "ban",
        scope: "#mine",
        target: `t${i}`,
        detail: "",
      });
    }
    assert.deepEqual(store.auditLog(100).map((a) => a.target), ["t7", "t8", "t9", "t10", "t11"]);
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
