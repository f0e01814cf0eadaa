// Durable history end to end: the real server on a temporary SQLite file,
// stopped, restarted and SIGKILLed.

import assert from "@chat/assert";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../server/store/sqlite.ts";
import { startTestServer, TestClient } from "./test_util.ts";

async function tempDb(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "chat_history_test_" });
  return {
    path: `${dir}/chat.db`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Sends `count` messages from a JSON client and waits for every ack; returns the ids. */
async function sendAcked(client: TestClient, prefix: string, count: number): Promise<number[]> {
  for (let i = 0; i < count; i++) {
    await client.sendFrame({ type: "say", text: `${prefix}${i}`, ref: `${prefix}${i}` });
  }
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const ack = await client.expectFrame((f) => f.type === "ack");
    assert.equal(ack.type === "ack" && ack.ref, `${prefix}${i}`);
    if (ack.type === "ack") ids.push(ack.id);
  }
  return ids;
}

Deno.test("history: a restart on the same --db brings back rooms, topics and messages", async (t) => {
  await using db = await tempDb();
  let ids: number[] = [];
  {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await TestClient.joinJson(server.port, "alice");
    ids = await sendAcked(alice, "m", 60);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, "ids increase");
    await alice.sendFrame({ type: "join", room: "#Dev" });
    await alice.sendFrame({ type: "topic", text: "kept across restarts" });
    await alice.expectFrame((f) => f.type === "topic" && f.by === "alice");
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }
  await using server = await startTestServer(["--db", db.path]);
  await using bob = await TestClient.joinText(server.port, "bob");

  await t.step("a new client gets the last 50 as history, with their time", async () => {
    const first = await bob.lines.expect(/^\[\d\d:\d\d\] alice: m\d+$/);
    assert.match(first, /alice: m10$/);
    await bob.lines.expect(/^\[\d\d:\d\d\] alice: m59$/);
    await bob.lines.expect("* 50 earlier messages in #lobby; /history for more");
  });

  await t.step("/history pages further back by id", async () => {
    await bob.send("/history 6");
    await bob.lines.expect(/alice: m4$/);
    await bob.lines.expect(/alice: m9$/);
    await bob.lines.expect("* 6 earlier messages in #lobby; /history for more");
    await bob.send("/history");
    await bob.lines.expect(/alice: m0$/);
    await bob.lines.expect("* 4 earlier messages in #lobby");
    await bob.send("/history");
    await bob.lines.expect("* no earlier messages in #lobby");
    await bob.send("/history 1001");
    await bob.lines.expect("! usage: /history [N] (N is a whole number from 1 to 1000)");
  });

  await t.step("rooms and topics are back, and new ids continue upwards", async () => {
    await bob.send("/rooms");
    await bob.lines.expect("  #Dev (0): kept across restarts");
    await using carol = await TestClient.joinJson(server.port, "carol");
    const replay = await carol.expectFrame((f) => f.type === "history");
    assert.equal(replay.type === "history" && replay.count, 50);
    const [next] = await sendAcked(carol, "n", 1);
    assert.ok(next! > ids.at(-1)!);
  });
});

Deno.test("history: SIGKILL at random moments loses no acknowledged message", async () => {
  await using db = await tempDb();
  const acked = new Map<number, string>();
  for (let round = 0; round < 20; round++) {
    const server = await startTestServer(["--db", db.path, "--quiet"]);
    const clients = await Promise.all(
      ["a", "b"].map((n) => TestClient.joinJson(server.port, `${n}${round}`)),
    );
    // Pipeline a burst from each client, kill the server somewhere inside it.
    await Promise.all(clients.map(async (c, k) => {
      for (let i = 0; i < 100; i++) {
        await c.sendFrame({ type: "say", text: `r${round}c${k}m${i}`, ref: `r${round}c${k}m${i}` });
      }
    }));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
    await server.stop("SIGKILL");
    for (const c of clients) {
      await c[Symbol.asyncDispose]();
      for (const line of c.lines.seen) {
        const frame = JSON.parse(line);
        if (frame.type === "ack") acked.set(frame.id, frame.ref);
      }
    }
    // Opening the file recovers the WAL exactly as the next server start will.
    let sqlite = new DatabaseSync(db.path);
    try {
      assert.equal(sqlite.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
      // The search index lags the messages by up to a thousand (it is filled in batches) and
      // the store catches it up when it opens the file: after any kill, it then holds exactly
      // the stored rows (FTS5's check throws if the index and the table disagree).
      sqlite.close();
      new SqliteStore(db.path).close();
      sqlite = new DatabaseSync(db.path);
      sqlite.exec("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)");
      const rows = sqlite.prepare("SELECT id, text FROM messages ORDER BY id").all();
      const stored = new Map(rows.map((r) => [Number(r.id), String(r.text)]));
      for (const [id, ref] of acked) assert.equal(stored.get(id), ref, `acked id ${id} kept`);
      const order = rows.map((r) => Number(r.id));
      for (let i = 1; i < order.length; i++) assert.ok(order[i]! > order[i - 1]!);
    } finally {
      sqlite.close();
    }
  }
  assert.ok(acked.size > 0, "some messages were acknowledged");
  // And the server itself comes back with them.
  await using server = await startTestServer(["--db", db.path]);
  await using reader = await TestClient.joinJson(server.port, "reader");
  await reader.sendFrame({ type: "history", limit: 1000 });
  const end = await reader.expectFrame((f) => f.type === "history" && f.count > 0);
  assert.ok(end.type === "history" && end.count > 0);
});
