// Private history belongs to identities, not nicknames; resume tokens rotate
// on every resume and expire when idle (issue 11). Real server, real sockets.

import assert from "@chat/assert";
import { ResumeState, type ServerFrame } from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

async function welcomed(
  port: number,
  hello: unknown,
): Promise<{ client: TestClient; welcome: Extract<ServerFrame, { type: "welcome" }> }> {
  const client = await TestClient.connect(port);
  await client.sendFrame(hello);
  const welcome = await client.expectFrame((f) => f.type === "welcome");
  if (welcome.type !== "welcome") throw new Error("not a welcome");
  return { client, welcome };
}

function privates(client: TestClient): string[] {
  return client.lines.seen.map((l) => JSON.parse(l) as ServerFrame)
    .filter((f) => f.type === "private").map((f) => f.type === "private" ? f.text : "");
}

Deno.test("identity: a new holder of a freed nickname never gets the previous owner's private messages", async () => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const alice = await welcomed(server.port, { type: "hello", version: 1, nick: "alice" });
  await bob.sendFrame({ type: "msg", to: "alice", text: "the secret", ref: "s" });
  await alice.client.expectFrame((f) => f.type === "private" && f.text === "the secret");
  await alice.client.sendFrame({ type: "quit" });
  await alice.client.lines.expectEnd();
  await alice.client[Symbol.asyncDispose]();

  // Mallory takes the freed nickname, then drops and resumes from id 0.
  const mallory = await welcomed(server.port, { type: "hello", version: 1, nick: "alice" });
  assert.equal(mallory.welcome.resumed, undefined);
  const token = mallory.welcome.resume!;
  await mallory.client[Symbol.asyncDispose]();
  await bob.expectFrame((f) => f.type === "left" && f.nick === "alice");
  await bob.sendFrame({ type: "say", text: "after mallory left", ref: "m" });
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "m");

  const again = await welcomed(server.port, {
    type: "hello",
    version: 1,
    nick: "x",
    resume: token,
    last_id: 0,
  });
  assert.ok(again.welcome.resumed && again.welcome.nick === "alice");
  await again.client.expectFrame((f) => f.type === "message" && f.text === "after mallory left");
  await bob.sendFrame({ type: "msg", to: "alice", text: "to the new alice" });
  await again.client.expectFrame((f) => f.type === "private" && f.text === "to the new alice");
  assert.deepEqual(privates(again.client), ["to the new alice"]);
  await again.client[Symbol.asyncDispose]();
});

Deno.test("identity: the same person resuming gets private messages to and from them, once", async () => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const state = new ResumeState();
  const alice = await welcomed(server.port, state.hello("alice"));
  state.observe(alice.welcome);
  await alice.client.sendFrame({ type: "msg", to: "bob", text: "seen before", ref: "a" });
  await alice.client.expectFrame((f) => f.type === "ack" && f.ref === "a");
  for (const line of alice.client.lines.seen) state.observe(JSON.parse(line));
  await alice.client[Symbol.asyncDispose]();
  await bob.expectFrame((f) => f.type === "left" && f.nick === "alice");
  // Someone else takes "alice" meanwhile and is messaged: not our alice's.
  const other = await welcomed(server.port, { type: "hello", version: 1, nick: "alice" });
  await bob.sendFrame({ type: "msg", to: "alice", text: "for the impostor", ref: "i" });
  await other.client.expectFrame((f) => f.type === "private" && f.text === "for the impostor");
  await other.client.sendFrame({ type: "nick", nick: "carol" });
  await other.client.expectFrame((f) => f.type === "renamed");

  const back = await welcomed(server.port, state.hello("alice"));
  assert.ok(back.welcome.resumed && back.welcome.nick === "alice");
  await bob.sendFrame({ type: "msg", to: "alice", text: "welcome back" });
  await back.client.expectFrame((f) => f.type === "private" && f.text === "welcome back");
  assert.deepEqual(privates(back.client), ["welcome back"]);
  await back.client[Symbol.asyncDispose]();
  await other.client[Symbol.asyncDispose]();
});

Deno.test("identity: the resume token rotates on every resume; the old one is dead", async (t) => {
  await using server = await startTestServer();
  const first = await welcomed(server.port, { type: "hello", version: 1, nick: "alice" });
  const t1 = first.welcome.resume!;
  await first.client[Symbol.asyncDispose]();

  const second = await welcomed(server.port, {
    type: "hello",
    version: 1,
    nick: "alice",
    resume: t1,
    last_id: 0,
  });
  const t2 = second.welcome.resume!;
  await t.step("the welcome of a resume carries a new token", () => {
    assert.ok(second.welcome.resumed);
    assert.equal(typeof t2, "string");
    assert.notEqual(t2, t1);
  });
  await second.client[Symbol.asyncDispose]();

  await t.step("the old token is refused", async () => {
    await using stale = await TestClient.connect(server.port);
    await stale.sendFrame({ type: "hello", version: 1, nick: "zed", resume: t1, last_id: 0 });
    await stale.expectFrame((f) => f.type === "error" && f.code === "resume_failed");
    const w = await stale.expectFrame((f) => f.type === "welcome");
    assert.ok(w.type === "welcome" && !w.resumed && w.nick === "zed");
  });

  await t.step("the new one works, and rotates again", async () => {
    const third = await welcomed(server.port, {
      type: "hello",
      version: 1,
      nick: "x",
      resume: t2,
      last_id: 0,
    });
    assert.ok(third.welcome.resumed && third.welcome.nick === "alice");
    assert.ok(third.welcome.resume !== t2 && third.welcome.resume !== t1);
    await third.client[Symbol.asyncDispose]();
  });
});

Deno.test("identity: a token idle for longer than --resume-expiry is refused", async () => {
  await using server = await startTestServer(["--resume-expiry", "1"]);
  const first = await welcomed(server.port, { type: "hello", version: 1, nick: "alice" });
  const token = first.welcome.resume!;
  await first.client[Symbol.asyncDispose]();
  await server.log.expect(/disconnect alice/);
  // Waiting out the expiry is the point of this test, not a synchronisation.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await using late = await TestClient.connect(server.port);
  await late.sendFrame({ type: "hello", version: 1, nick: "bob", resume: token, last_id: 0 });
  await late.expectFrame((f) => f.type === "error" && f.code === "resume_failed");
  const w = await late.expectFrame((f) => f.type === "welcome");
  assert.ok(w.type === "welcome" && !w.resumed && w.nick === "bob");
});
