// Resumable sessions end to end: a dropped TCP connection (server up), a
// ghost session, a wrong token, and a server restart on the same --db.

import assert from "@chat/assert";
import { ResumeState, type ServerFrame } from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

/** A JSON client that feeds every frame it reads into a ResumeState. */
async function joinTracked(
  port: number,
  nick: string,
  state = new ResumeState(),
): Promise<{ client: TestClient; state: ResumeState; welcome: ServerFrame }> {
  const client = await TestClient.connect(port);
  await client.sendFrame(state.hello(nick));
  const welcome = await client.expectFrame((f) => f.type === "welcome");
  return { client, state, welcome };
}

/** Every live (non-history) message id and text a client has seen so far. */
function liveMessages(client: TestClient): { id: number | undefined; text: string }[] {
  return client.lines.seen.map((l) => JSON.parse(l) as ServerFrame)
    .filter((f) => (f.type === "message" || f.type === "private") && !f.history)
    .map((f) => f.type === "message" || f.type === "private" ? { id: f.id, text: f.text } : null!);
}

function observeAll(client: TestClient, state: ResumeState): void {
  for (const line of client.lines.seen) state.observe(JSON.parse(line));
}

Deno.test("resume: after a dropped connection the client gets exactly what it missed", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");
  const first = await joinTracked(server.port, "alice");
  assert.ok(first.welcome.type === "welcome" && typeof first.welcome.resume === "string");
  await first.client.sendFrame({ type: "join", room: "#dev" });
  await bob.send("/join #dev");
  await bob.send("before the drop");
  await first.client.expectFrame((f) => f.type === "message" && f.text === "before the drop");

  await t.step("the drop is announced and missed messages pile up", async () => {
    await first.client[Symbol.asyncDispose]();
    await bob.lines.expect("* alice left #dev");
    for (const text of ["missed 1", "missed 2"]) await bob.send(text);
    await bob.send("/join #lobby");
    await bob.send("missed in the lobby");
    await bob.send("/who #dev");
    await bob.lines.expect("* online in #dev (1): bob");
  });

  observeAll(first.client, first.state);
  const again = await joinTracked(server.port, "someone-else", first.state);

  await t.step("the resumed session has its nickname, rooms and the missed messages", async () => {
    const w = again.welcome;
    assert.ok(w.type === "welcome" && w.resumed === true && w.nick === "alice");
    assert.equal(w.type === "welcome" && w.room, "#dev");
    await bob.lines.expect("* alice joined #dev");
    await bob.send("live again");
    await again.client.expectFrame((f) => f.type === "message" && f.text === "live again");
    const texts = liveMessages(again.client).map((m) => m.text);
    assert.deepEqual(texts, ["missed 1", "missed 2", "missed in the lobby", "live again"]);
    const ids = liveMessages(again.client).map((m) => m.id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!);
  });
  await again.client[Symbol.asyncDispose]();
});

Deno.test("resume: a ghost is replaced at once and a wrong token takes nothing", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const ghost = await joinTracked(server.port, "alice");
  await bob.expectFrame((f) => f.type === "joined" && f.nick === "alice");

  await t.step("a wrong token cannot take over the nickname", async () => {
    await using mallory = await TestClient.connect(server.port);
    await mallory.sendFrame({
      type: "hello",
      version: 1,
      nick: "alice",
      resume: "guess",
      last_id: 0,
    });
    await mallory.expectFrame((f) => f.type === "error" && f.code === "resume_failed");
    await mallory.expectFrame((f) => f.type === "error" && f.code === "nick_taken");
  });

  await t.step("resuming while the old connection still looks alive replaces it", async () => {
    observeAll(ghost.client, ghost.state);
    await using fresh = await TestClient.connect(server.port);
    await fresh.sendFrame(ghost.state.hello("alice"));
    const welcome = await fresh.expectFrame((f) => f.type === "welcome");
    assert.ok(welcome.type === "welcome" && welcome.nick === "alice" && welcome.resumed);
    await ghost.client.expectFrame((f) => f.type === "bye");
    await ghost.client.lines.expectEnd();
    await bob.sendFrame({ type: "say", text: "still there?" });
    await fresh.expectFrame((f) => f.type === "message" && f.text === "still there?");
    await bob.sendFrame({ type: "who" });
    const who = await bob.expectFrame((f) => f.type === "who");
    assert.deepEqual(who.type === "who" && who.nicks, ["alice", "bob"]);
    // No left/joined noise for a replaced ghost.
    assert.ok(!bob.lines.seen.some((l) => l.includes('"left"')));
  });

  await t.step("after /quit the token no longer works", async () => {
    const state = new ResumeState();
    const carol = await joinTracked(server.port, "carol", state);
    await carol.client.sendFrame({ type: "quit" });
    await carol.client.lines.expectEnd();
    observeAll(carol.client, state);
    await using back = await TestClient.connect(server.port);
    await back.sendFrame(state.hello("carol"));
    await back.expectFrame((f) => f.type === "error" && f.code === "resume_failed");
    const w = await back.expectFrame((f) => f.type === "welcome");
    assert.ok(w.type === "welcome" && !w.resumed);
    await carol.client[Symbol.asyncDispose]();
  });
  await ghost.client[Symbol.asyncDispose]();
});

Deno.test("resume: across a server restart, with no gap and no duplicate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_resume_test_" });
  try {
    const db = `${dir}/chat.db`;
    let state: ResumeState;
    {
      await using server = await startTestServer(["--db", db]);
      const alice = await joinTracked(server.port, "alice");
      state = alice.state;
      await alice.client.sendFrame({ type: "join", room: "#dev" });
      await alice.client.sendFrame({ type: "say", text: "mine", ref: "x" });
      await alice.client.expectFrame((f) => f.type === "ack" && f.ref === "x");
      await using bob = await TestClient.joinJson(server.port, "bob");
      await bob.sendFrame({ type: "msg", to: "alice", text: "seen private" });
      await alice.client.expectFrame((f) => f.type === "private" && f.text === "seen private");
      observeAll(alice.client, state);
      await alice.client[Symbol.asyncDispose]();
      await bob.sendFrame({ type: "join", room: "#dev" });
      await bob.sendFrame({ type: "say", text: "while you were away", ref: "a" });
      await bob.expectFrame((f) => f.type === "ack" && f.ref === "a");
      await server.stop("SIGKILL");
    }
    await using server = await startTestServer(["--db", db]);
    await using bob = await TestClient.joinJson(server.port, "bob");
    await bob.sendFrame({ type: "join", room: "#dev" });
    await bob.sendFrame({ type: "say", text: "after the restart", ref: "b" });
    await bob.expectFrame((f) => f.type === "ack" && f.ref === "b");
    await bob.sendFrame({ type: "say", room: "#lobby", text: "lobby after restart", ref: "c" });
    await bob.expectFrame((f) => f.type === "ack" && f.ref === "c");

    await using again = await TestClient.connect(server.port);
    await again.sendFrame(state.hello("alice"));
    const welcome = await again.expectFrame((f) => f.type === "welcome");
    assert.ok(welcome.type === "welcome" && welcome.resumed && welcome.room === "#dev");
    await bob.sendFrame({ type: "say", text: "live", ref: "d" });
    await again.expectFrame((f) => f.type === "message" && f.text === "live");
    assert.deepEqual(liveMessages(again).map((m) => m.text), [
      "while you were away",
      "after the restart",
      "lobby after restart",
      "live",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
