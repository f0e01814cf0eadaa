// Search through real sockets, on both stores: words in any order, newest
// first, paged; and nobody finds a message they could not have seen.

import assert from "@chat/assert";
import { DatabaseSync } from "node:sqlite";
import type { ServerFrame } from "../protocol/mod.ts";
import { SqliteStore } from "../server/store/sqlite.ts";
import type { StoredMessage } from "../server/store/store.ts";
import { startTestServer, TestClient } from "./test_util.ts";

type Results = Extract<ServerFrame, { type: "search_results" }>;

async function search(client: TestClient, frame: Record<string, unknown>): Promise<Results> {
  await client.sendFrame({ type: "search", ...frame });
  const reply = await client.expectFrame((f) => f.type === "search_results" || f.type === "error");
  if (reply.type !== "search_results") throw new Error(`search refused: ${JSON.stringify(reply)}`);
  return reply;
}

async function acked(client: TestClient, frame: Record<string, unknown>, ref: string) {
  await client.sendFrame({ ...frame, ref });
  await client.expectFrame((f) => f.type === "ack" && f.ref === ref);
}

for (const store of ["sqlite", "memory"] as const) {
  Deno.test(`search (${store} store): scope, order, paging, and what nobody else may find`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "chat_search_test_" });
    try {
      await using server = await startTestServer(
        store === "sqlite" ? ["--db", `${dir}/chat.db`] : [],
      );
      await using alice = await TestClient.joinJson(server.port, "alice");
      await using bob = await TestClient.joinJson(server.port, "bob");
      await using eve = await TestClient.joinJson(server.port, "eve");
      await alice.sendFrame({ type: "join", room: "#secret" });
      await alice.expectFrame((f) => f.type === "room" && f.room === "#secret");
      await acked(alice, { type: "say", room: "#secret", text: "the launch code is banana" }, "s1");
      await acked(alice, { type: "say", room: "#lobby", text: "Banana bread for everyone" }, "l1");
      await acked(bob, { type: "say", text: "I prefer apple pie, not banana" }, "l2");
      await acked(alice, { type: "msg", to: "bob", text: "psst banana split at 5" }, "p1");
      await acked(alice, { type: "me", room: "#lobby", text: "eats a BANÁNA" }, "l3");

      await t.step("newest first, every word, any case and accent", async () => {
        const r = await search(alice, { text: "banana" });
        assert.deepEqual(r.results.map((m) => m.text), [
          "eats a BANÁNA",
          "psst banana split at 5",
          "I prefer apple pie, not banana",
          "Banana bread for everyone",
          "the launch code is banana",
        ]);
        assert.equal(r.more, false);
        assert.ok(r.results.every((m) => m.history === true && m.id !== undefined));
        const two = await search(alice, { text: "pie BANANA" });
        assert.deepEqual(two.results.map((m) => m.text), ["I prefer apple pie, not banana"]);
      });

      await t.step("paged with limit and before", async () => {
        const first = await search(alice, { text: "banana", limit: 2 });
        assert.equal(first.results.length, 2);
        assert.equal(first.more, true);
        const next = await search(alice, {
          text: "banana",
          limit: 2,
          before: first.results.at(-1)!.id,
        });
        assert.deepEqual(next.results.map((m) => m.text), [
          "I prefer apple pie, not banana",
          "Banana bread for everyone",
        ]);
      });

      await t.step("one room only", async () => {
        const r = await search(alice, { text: "banana", room: "#secret" });
        assert.equal(r.room, "#secret");
        assert.deepEqual(r.results.map((m) => m.text), ["the launch code is banana"]);
      });

      await t.step("bob sees the lobby and his own private messages, not #secret", async () => {
        const r = await search(bob, { text: "banana" });
        assert.deepEqual(r.results.map((m) => m.text), [
          "eats a BANÁNA",
          "psst banana split at 5",
          "I prefer apple pie, not banana",
          "Banana bread for everyone",
        ]);
      });

      await t.step("eve finds neither #secret nor a conversation she was not in", async () => {
        const r = await search(eve, { text: "banana" });
        assert.deepEqual(r.results.map((m) => m.text), [
          "eats a BANÁNA",
          "I prefer apple pie, not banana",
          "Banana bread for everyone",
        ]);
        assert.equal((await search(eve, { text: "launch code" })).results.length, 0);
        assert.equal((await search(eve, { text: "split" })).results.length, 0);
        await eve.sendFrame({ type: "search", text: "banana", room: "#secret" });
        const refused = await eve.expectFrame((f) => f.type === "error");
        assert.equal(refused.type === "error" && refused.code, "not_in_room");
      });

      await t.step("a new bob does not find the old bob's private messages", async () => {
        await bob.sendFrame({ type: "quit" });
        await bob.expectFrame((f) => f.type === "bye");
        await using bob2 = await TestClient.joinJson(server.port, "bob");
        const r = await search(bob2, { text: "banana" });
        assert.deepEqual(r.results.map((m) => m.text).includes("psst banana split at 5"), false);
        assert.equal((await search(bob2, { text: "split" })).results.length, 0);
        // alice, who sent it, still finds it.
        assert.equal((await search(alice, { text: "split" })).results.length, 1);
      });

      await t.step("after leaving a room, its messages are out of reach", async () => {
        await alice.sendFrame({ type: "part", room: "#secret" });
        await alice.expectFrame((f) => f.type === "left" && f.room === "#secret");
        assert.equal((await search(alice, { text: "launch" })).results.length, 0);
      });

      await t.step("query syntax is just words; bad requests get clear errors", async () => {
        assert.equal((await search(alice, { text: 'banana" OR "x' })).results.length, 0);
        assert.equal((await search(alice, { text: "NEAR(banana" })).results.length, 0);
        await alice.sendFrame({ type: "search", text: "!!!" });
        const empty = await alice.expectFrame((f) => f.type === "error");
        assert.equal(empty.type === "error" && empty.code, "usage");
        await alice.sendFrame({ type: "search", text: "banana", limit: 1000 });
        const limit = await alice.expectFrame((f) => f.type === "error");
        assert.match(limit.type === "error" ? limit.message : "", /from 1 to 100/);
      });

      await t.step("plain text /search", async () => {
        await using carol = await TestClient.joinText(server.port, "carol");
        await carol.send("/search bread");
        await carol.lines.expect('* 1 message found for "bread"');
        await carol.lines.expect(
          /^ {2}\[\d{4}-\d\d-\d\d \d\d:\d\d\] \[#lobby\] alice: Banana bread for everyone$/,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("search (sqlite): a restart keeps the index, and pruned messages leave it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_search_test_" });
  try {
    const db = `${dir}/chat.db`;
    {
      await using server = await startTestServer(["--db", db]);
      await using alice = await TestClient.joinJson(server.port, "alice");
      for (let i = 0; i < 6; i++) await acked(alice, { type: "say", text: `kiwi ${i}` }, `k${i}`);
      assert.equal((await search(alice, { text: "kiwi" })).results.length, 6);
      assert.equal((await server.stop("SIGTERM")).code, 0);
    }
    // Pruning runs at start: only the newest 3 are left, in the table and the index.
    await using server = await startTestServer(["--db", db, "--history-max-rows", "3"]);
    await using bob = await TestClient.joinJson(server.port, "bob");
    await bob.expectFrame((f) => f.type === "history");
    const r = await search(bob, { text: "kiwi" });
    assert.deepEqual(r.results.map((m) => m.text), ["kiwi 5", "kiwi 4", "kiwi 3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Commits `texts` to `store` as room messages of #fruit, one batch each, as the hub does. */
function commitEach(store: SqliteStore, texts: string[]): void {
  for (const text of texts) {
    const m: StoredMessage = {
      id: store.lastId() + 1,
      ts: Date.now(),
      kind: "message",
      room: "#fruit",
      from: "alice",
      to: null,
      fromId: "s:alice",
      toId: null,
      text,
    };
    store.commit({ messages: [m], rooms: [], sessions: [], dropSessions: [] });
  }
}

function found(store: SqliteStore, text: string): string[] {
  return store.search({ text, rooms: ["#fruit"], privateKey: null, before: Infinity, limit: 100 })
    .map((m) => m.text);
}

/** FTS5's own check: throws when the index and the messages table disagree. */
function assertIndexWhole(path: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)");
  } finally {
    db.close();
  }
}

// The index is filled in batches (SqliteStore's INDEX_BACKLOG), so it can lag
// the messages: these are the three places where the lag must not show.
Deno.test("search (sqlite store): the index lags the messages, and nobody can tell", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "chat_search_test_" });
  const texts = Array.from({ length: 10 }, (_, i) => `mango ${i}`);
  const newest = (n: number) => texts.slice(-n).reverse();
  try {
    await t.step("a search right after the commits finds every message", () => {
      const store = new SqliteStore(`${dir}/a.db`);
      commitEach(store, texts);
      assert.deepEqual(found(store, "mango"), newest(10));
      store.close();
      assertIndexWhole(`${dir}/a.db`);
    });
    await t.step("a kill before the index caught up: the next open catches it up", () => {
      const store = new SqliteStore(`${dir}/b.db`);
      commitEach(store, texts);
      // A copy of the files as they are now is what a SIGKILL would leave.
      Deno.copyFileSync(`${dir}/b.db`, `${dir}/killed.db`);
      Deno.copyFileSync(`${dir}/b.db-wal`, `${dir}/killed.db-wal`);
      store.close();
      const reopened = new SqliteStore(`${dir}/killed.db`);
      assert.deepEqual(found(reopened, "mango"), newest(10));
      reopened.close();
      assertIndexWhole(`${dir}/killed.db`);
    });
    await t.step("pruning messages the index does not hold yet leaves it whole", () => {
      const store = new SqliteStore(`${dir}/c.db`);
      commitEach(store, texts);
      assert.equal(store.prune(0, 4, 100, 0), 6);
      assert.deepEqual(found(store, "mango"), newest(4));
      store.close();
      assertIndexWhole(`${dir}/c.db`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
