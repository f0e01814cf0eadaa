// Server side of the daily-use commands through real sockets: refused lines
// carry their ref, /away, /whois, /quit REASON, and a restart that
// announces no one leaving and no resumed session coming back.

import assert from "@chat/assert";
import { startTestServer, TestClient } from "./test_util.ts";

Deno.test("a refused say, me or msg carries the ref of the frame", async () => {
  await using server = await startTestServer(["--max-text", "10"]);
  await using alice = await TestClient.joinJson(server.port, "alice");
  await alice.sendFrame({ type: "say", text: "this is far too long", ref: "r1" });
  const tooLong = await alice.expectFrame((f) => f.type === "error");
  assert.deepEqual(tooLong.type === "error" && [tooLong.code, tooLong.ref], [
    "text_too_long",
    "r1",
  ]);
  await alice.sendFrame({ type: "msg", to: "nobody", text: "hi", ref: "r2" });
  const noNick = await alice.expectFrame((f) => f.type === "error");
  assert.deepEqual(noNick.type === "error" && [noNick.code, noNick.ref], ["no_such_nick", "r2"]);
  await alice.sendFrame({ type: "me", text: "waves", ref: "r3" });
  const ack = await alice.expectFrame((f) => f.type === "ack" || f.type === "error");
  assert.equal(ack.type === "ack" && ack.ref, "r3");
  // A frame without a ref gets an error without one.
  await alice.sendFrame({ type: "join", room: "bad room!" });
  const bad = await alice.expectFrame((f) => f.type === "error");
  assert.equal(bad.type === "error" && "ref" in bad, false);
});

Deno.test("/away shows in /who and answers the first private message of each sender once", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await using carol = await TestClient.joinText(server.port, "carol");
  await alice.send("/away at lunch");
  await alice.lines.expect("* you are away: at lunch");
  await carol.send("/who");
  await carol.lines.expect("* online (3): alice (away), bob, carol");
  await bob.sendFrame({ type: "who" });
  const who = await bob.expectFrame((f) => f.type === "who");
  assert.deepEqual(who.type === "who" && who.away, { alice: "at lunch" });

  await bob.sendFrame({ type: "msg", to: "alice", text: "one", ref: "1" });
  const away = await bob.expectFrame((f) => f.type === "away");
  assert.deepEqual(away, { type: "away", nick: "alice", text: "at lunch" });
  await alice.lines.expect("[private] bob: one");
  await bob.sendFrame({ type: "msg", to: "alice", text: "two", ref: "2" });
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "2");
  await alice.lines.expect("[private] bob: two");
  await carol.send("/msg alice three");
  await carol.lines.expect("* alice is away: at lunch");
  // Only once per sender: bob's second message got no second answer.
  await bob.sendFrame({ type: "ping", token: "sync" });
  await bob.expectFrame((f) => f.type === "pong");
  assert.equal(bob.lines.seen.filter((l) => l.includes('"type":"away"')).length, 1);

  await alice.send("/away");
  await alice.lines.expect("* you are back");
  await carol.send("/who");
  await carol.lines.expect("* online (3): alice, bob, carol");
});

Deno.test("/whois shows rooms, idle time and away message; unknown nick is an error", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinJson(server.port, "alice");
  await using bob = await TestClient.joinText(server.port, "bob");
  await alice.sendFrame({ type: "join", room: "#dev" });
  await alice.sendFrame({ type: "away", text: "brb" });
  await alice.expectFrame((f) => f.type === "away");
  await bob.send("/whois ALICE");
  await bob.lines.expect("* alice: in #lobby, #dev");
  await bob.lines.expect(/^ {2}connected \d{4}-\d\d-\d\d \d\d:\d\d UTC, idle \d+s$/);
  await bob.lines.expect("  away: brb");
  await alice.sendFrame({ type: "whois", nick: "bob" });
  const whois = await alice.expectFrame((f) => f.type === "whois");
  if (whois.type !== "whois") throw new Error("not a whois frame");
  assert.deepEqual(whois.rooms, ["#lobby"]);
  assert.ok(whois.idle >= 0 && whois.connected <= Date.now());
  assert.equal(whois.away, undefined);
  await bob.send("/whois nobody");
  await bob.lines.expect('! no one called "nobody" is online');
});

Deno.test("/quit REASON is shown to the others", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await alice.send("/quit gone home");
  const left = await bob.expectFrame((f) => f.type === "left");
  if (left.type !== "left") throw new Error("not a left frame");
  assert.equal(left.reason, "quit");
  assert.equal(left.message, "gone home");
  await using carol = await TestClient.joinText(server.port, "carol");
  await using dave = await TestClient.joinJson(server.port, "dave");
  await dave.sendFrame({ type: "quit", reason: "bye \u001b[31mall" });
  await carol.lines.expect("* dave left the chat (bye all)");
});

function resumeToken(client: TestClient): string {
  const welcome = client.lines.seen.map((l) => JSON.parse(l)).find((f) => f.type === "welcome");
  return welcome.resume;
}

Deno.test("a restart announces neither the leaving nor the resumed return; a drop announces both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_daily_test_" });
  try {
    const db = `${dir}/chat.db`;
    let token: string;
    {
      await using server = await startTestServer(["--db", db]);
      // alice first: the server ends connections in the order they came, so
      // bob is still there when alice's ends and would see her leave.
      await using alice = await TestClient.joinJson(server.port, "alice");
      await using bob = await TestClient.joinJson(server.port, "bob");
      await alice.expectFrame((f) => f.type === "joined" && f.nick === "bob");
      token = resumeToken(alice);
      const stopped = server.stop("SIGTERM");
      await bob.expectFrame((f) => f.type === "bye");
      assert.equal((await stopped).code, 0);
      assert.deepEqual(
        bob.lines.seen.filter((l) => l.includes('"type":"left"')),
        [],
        "the shutdown's bye says it all: no left notice per member",
      );
    }
    await using server = await startTestServer(["--db", db, "--port", "0"]);
    await using bob = await TestClient.joinJson(server.port, "bob");
    await using alice = await TestClient.connect(server.port);
    await alice.sendFrame({ type: "hello", version: 1, nick: "alice", resume: token });
    const welcome = await alice.expectFrame((f) => f.type === "welcome");
    assert.equal(welcome.type === "welcome" && welcome.resumed, true);
    await alice.sendFrame({ type: "say", text: "back", ref: "b" });
    await bob.expectFrame((f) => f.type === "message" && f.text === "back");
    assert.equal(bob.lines.seen.some((l) => l.includes('"type":"joined"')), false);

    // A drop while the server runs: bob saw alice leave, so her return is announced.
    alice.close();
    await bob.expectFrame((f) => f.type === "left" && f.nick === "alice");
    await using again = await TestClient.connect(server.port);
    await again.sendFrame({ type: "hello", version: 1, nick: "alice", resume: token });
    await again.expectFrame((f) => f.type === "welcome");
    await bob.expectFrame((f) => f.type === "joined" && f.nick === "alice");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
