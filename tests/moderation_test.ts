// Moderation and `chat admin` end to end, against the real server
// subprocess: founders and operators, kick, a timed ban that runs out,
// invite-only rooms, topic lock, operators surviving a restart, a non-op
// refused, server operators from `chat admin`, and the audit table.

import assert from "@chat/assert";
import { DatabaseSync } from "node:sqlite";
import type { ServerFrame } from "../protocol/mod.ts";
import { runAdmin, startRemoteClient, startTestServer, TestClient } from "./test_util.ts";

const PASSWORD = "correct horse battery";

async function tempDb(): Promise<{ path: string; dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "chat_moderation_test_" });
  return {
    dir,
    path: `${dir}/chat.db`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Registers `nick` on a fresh JSON connection and leaves it logged in. */
async function registered(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.joinJson(port, nick);
  await client.sendFrame({ type: "register", password: PASSWORD });
  const f = await client.expectFrame((f) => f.type === "account" || f.type === "error", 20_000);
  assert.equal(f.type, "account", JSON.stringify(f));
  return client;
}

/** Logs in within hello. */
async function login(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.sendFrame({ type: "hello", version: 1, nick, password: PASSWORD });
  const f = await client.expectFrame((f) => f.type === "welcome" || f.type === "error", 20_000);
  assert.equal(f.type, "welcome", JSON.stringify(f));
  await client.expectFrame((f) => f.type === "account");
  return client;
}

/** A plain-text client from 127.0.0.2 (a stand-in for a peer on another machine) that sent its nickname. */
async function joinFrom127002(port: number, nick: string) {
  const remote = startRemoteClient(port, "127.0.0.2");
  await remote.send(nick);
  return remote;
}

/** alice, registered over plain text, founds #dev and is in it. */
async function founderOfDev(port: number): Promise<TestClient> {
  const alice = await TestClient.joinText(port, "alice");
  await alice.send(`/register ${PASSWORD}`);
  await alice.lines.expect(/^\* registered alice/, 20_000);
  await alice.send("/join #dev"); // alice founds #dev
  await alice.lines.expect(/now talking in #dev/);
  return alice;
}

function isError(code: string) {
  return (f: ServerFrame) => f.type === "error" && f.code === code;
}

function moderation(action: string, target?: string) {
  return (f: ServerFrame) =>
    f.type === "moderation" && f.action === action && (target === undefined || f.target === target);
}

async function joinRoom(client: TestClient, room: string): Promise<void> {
  await client.sendFrame({ type: "join", room });
  await client.expectFrame((f) => (f.type === "room" && f.room === room) || f.type === "error");
}

Deno.test("moderation: founder and ops kick, ban for a while, lock the topic, invite only", async (t) => {
  await using server = await startTestServer();
  await using alice = await registered(server.port, "alice");
  await using bob = await registered(server.port, "bob");
  await using carol = await TestClient.joinJson(server.port, "carol");
  await joinRoom(alice, "#dev"); // alice founds #dev
  await joinRoom(bob, "#dev");
  await joinRoom(carol, "#dev");

  await t.step("a non-op is refused, in JSON and plain text", async () => {
    await carol.sendFrame({ type: "kick", nick: "bob", room: "#dev" });
    const refused = await carol.expectFrame((f) => f.type === "error");
    assert.equal(refused.type === "error" && refused.code, "permission_denied");
    await using dave = await TestClient.joinText(server.port, "dave");
    await dave.send("/join #dev");
    await dave.lines.expect(/now talking in #dev/);
    await dave.send("/topiclock on");
    await dave.lines.expect("! only operators of #dev may do that");
    await dave.send("/op dave");
    await dave.lines.expect("! only operators of #dev may do that");
    // Kicked over plain text: one line in the second person, then where it is now.
    await alice.sendFrame({ type: "kick", nick: "dave", reason: "spamming" });
    await dave.lines.expect("* you were kicked from #dev by alice: spamming");
    await dave.lines.expect(/^\* now talking in #lobby/);
    assert.ok(!dave.lines.seen.some((l) => l.includes("dave was kicked")));
  });

  await t.step("kick: announced to the room, the target leaves", async () => {
    await alice.sendFrame({ type: "kick", nick: "carol", reason: "be nice" });
    const seen = await bob.expectFrame(moderation("kick", "carol"));
    assert.deepEqual(
      seen.type === "moderation" && [seen.room, seen.by, seen.reason],
      ["#dev", "alice", "be nice"],
    );
    // The target's own `left` says it was kicked, by whom and why (not a part).
    const left = await carol.expectFrame((f) => f.type === "left" && f.nick === "carol");
    assert.deepEqual(
      left.type === "left" && [left.room, left.reason, left.by, left.message],
      ["#dev", "kick", "alice", "be nice"],
    );
    await carol.expectFrame((f) => f.type === "room" && f.room === "#lobby");
    // It left before the announcement: the room's `moderation` frame is not for it.
    await carol.sendFrame({ type: "ping", token: "after-kick" });
    await carol.expectFrame((f) => f.type === "pong" && f.token === "after-kick");
    assert.ok(
      !carol.lines.seen.some((l) => l.includes('"action":"kick","room":"#dev","target":"carol"')),
    );
    await alice.sendFrame({ type: "who", room: "#dev" });
    const who = await alice.expectFrame((f) => f.type === "who");
    assert.ok(who.type === "who" && !who.nicks.includes("carol"));
  });

  await t.step("op: an op may moderate; deop takes it back", async () => {
    await alice.sendFrame({ type: "op", nick: "bob" });
    await bob.expectFrame(moderation("op", "bob"));
    await bob.sendFrame({ type: "mode", mode: "topic_lock", on: true, room: "#dev" });
    await alice.expectFrame(moderation("topic_lock"));
    await alice.sendFrame({ type: "deop", nick: "bob" });
    await bob.expectFrame(moderation("deop", "bob"));
    await bob.sendFrame({ type: "kick", nick: "alice", room: "#dev" });
    await bob.expectFrame(isError("permission_denied"));
    await alice.sendFrame({ type: "op", nick: "carol" });
    await alice.expectFrame(isError("no_such_account"));
  });

  await t.step("topic lock: only operators set the topic", async () => {
    await bob.sendFrame({ type: "topic", room: "#dev", text: "bob's topic" });
    await bob.expectFrame(isError("permission_denied"));
    await bob.sendFrame({ type: "topic", room: "#dev" });
    await bob.expectFrame((f) => f.type === "topic" && f.by === undefined);
    await alice.sendFrame({ type: "topic", room: "#dev", text: "release friday" });
    await bob.expectFrame((f) => f.type === "topic" && f.topic === "release friday");
  });

  await t.step("a timed ban removes, keeps out, and runs out by itself", async () => {
    await alice.sendFrame({ type: "ban", target: "bob", duration: 2, reason: "cool off" });
    const ban = await alice.expectFrame(moderation("ban", "bob"));
    assert.ok(ban.type === "moderation" && ban.until! > Date.now());
    const left = await bob.expectFrame((f) => f.type === "left" && f.nick === "bob");
    assert.deepEqual(
      left.type === "left" && [left.room, left.reason, left.by, left.message, left.until],
      ["#dev", "ban", "alice", "cool off", ban.type === "moderation" && ban.until],
    );
    await bob.sendFrame({ type: "join", room: "#dev" });
    const refused = await bob.expectFrame(isError("banned"));
    assert.match(
      refused.type === "error" ? refused.message : "",
      /banned from #dev for \d+ s more: cool off/,
    );
    // Nor can a banned user read the room from outside.
    await bob.sendFrame({ type: "history", room: "#dev" });
    await bob.expectFrame(isError("banned"));
    // The server lifts it when the time is up, and says so to the room.
    const expired = await alice.expectFrame(moderation("unban", "bob"), 20_000);
    assert.equal(expired.type === "moderation" && expired.by, "server");
    await bob.sendFrame({ type: "join", room: "#dev" });
    await bob.expectFrame((f) => f.type === "room" && f.room === "#dev");
  });

  await t.step("invite-only: refused without an invitation, let in with one", async () => {
    await alice.sendFrame({ type: "mode", mode: "invite_only", on: true });
    await alice.expectFrame(moderation("invite_only"));
    await carol.sendFrame({ type: "join", room: "#dev" });
    await carol.expectFrame(isError("invite_only"));
    // An invite-only room's history is for its members (bob is one).
    await carol.sendFrame({ type: "history", room: "#dev" });
    await carol.expectFrame(isError("invite_only"));
    await bob.sendFrame({ type: "history", room: "#dev", limit: 1 });
    const page = await bob.expectFrame((f) => f.type === "history" || f.type === "error");
    assert.equal(page.type, "history", JSON.stringify(page));
    await bob.sendFrame({ type: "invite", nick: "carol", room: "#dev" });
    await bob.expectFrame(isError("permission_denied"));
    await alice.sendFrame({ type: "invite", nick: "carol" });
    const invited = await carol.expectFrame((f) => f.type === "invited");
    assert.deepEqual(invited.type === "invited" && [invited.room, invited.by], ["#dev", "alice"]);
    await carol.sendFrame({ type: "join", room: "#dev" });
    await carol.expectFrame((f) => f.type === "room" && f.room === "#dev");
  });

  await t.step("a ban by account reaches an account that is offline", async () => {
    {
      await using _erin = await registered(server.port, "erin");
    }
    await server.log.expect(/disconnect erin/);
    await alice.sendFrame({ type: "ban", target: "erin", room: "#dev" });
    await bob.expectFrame(moderation("ban", "erin"));
    await using erin = await login(server.port, "erin");
    await erin.sendFrame({ type: "join", room: "#dev" });
    await erin.expectFrame(isError("banned"));
  });

  await t.step("mute: a muted member cannot talk until unmuted", async () => {
    await alice.sendFrame({ type: "mute", nick: "carol" });
    await carol.expectFrame(moderation("mute", "carol"));
    await carol.sendFrame({ type: "say", room: "#dev", text: "hello?" });
    await carol.expectFrame(isError("muted"));
    await alice.sendFrame({ type: "unmute", nick: "carol" });
    await carol.expectFrame(moderation("unmute", "carol"));
    await carol.sendFrame({ type: "say", room: "#dev", text: "thanks", ref: "t" });
    await carol.expectFrame((f) => f.type === "ack" && f.ref === "t");
  });
});

Deno.test("moderation: ops, modes and bans survive a restart; the audit table keeps every action", async () => {
  await using db = await tempDb();
  {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await registered(server.port, "alice");
    await using bob = await registered(server.port, "bob");
    await using carol = await registered(server.port, "carol");
    await joinRoom(alice, "#ops");
    await joinRoom(bob, "#ops");
    await joinRoom(carol, "#ops");
    await alice.sendFrame({ type: "op", nick: "bob" });
    await alice.expectFrame(moderation("op", "bob"));
    await alice.sendFrame({ type: "mode", mode: "topic_lock", on: true });
    await alice.expectFrame(moderation("topic_lock"));
    await alice.sendFrame({ type: "ban", target: "carol", reason: "spam" });
    await alice.expectFrame(moderation("ban", "carol"));
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }
  await using server = await startTestServer(["--db", db.path]);
  await using bob = await login(server.port, "bob");
  await using carol = await login(server.port, "carol");
  await joinRoom(bob, "#ops");
  // bob is still an operator, the topic still locked, carol still banned.
  await bob.sendFrame({ type: "topic", text: "kept" });
  await bob.expectFrame((f) => f.type === "topic" && f.topic === "kept" && f.by === "bob");
  await carol.sendFrame({ type: "join", room: "#ops" });
  await carol.expectFrame(isError("banned"));
  await bob.sendFrame({ type: "unban", target: "carol" });
  await bob.expectFrame(moderation("unban", "carol"));
  await carol.sendFrame({ type: "join", room: "#ops" });
  await carol.expectFrame((f) => f.type === "room" && f.room === "#ops");
  await carol.sendFrame({ type: "topic", text: "carol's" });
  await carol.expectFrame(isError("permission_denied"));
  const { stdout } = await runAdmin(db.path, ["audit"]);
  assert.match(stdout, /alice op #ops bob/);
  assert.match(stdout, /alice ban #ops carol \(reason: spam\)/);
  assert.match(stdout, /bob unban #ops carol/);
});

Deno.test("chat admin: create, list, grant; a server operator bans server-wide", async (t) => {
  await using db = await tempDb();

  await t.step("create and list, offline; one-line errors and exit codes", async () => {
    const created = await runAdmin(db.path, ["create", "root-op"], `${PASSWORD}\n`);
    assert.deepEqual([created.code, created.stdout], [0, "created account root-op"]);
    const again = await runAdmin(db.path, ["create", "Root-Op"], `${PASSWORD}\n`);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'chat: account "Root-Op" exists already (reset its password?)');
    const short = await runAdmin(db.path, ["create", "eve"], "short\n");
    assert.deepEqual([short.code, short.stderr.split("\n").length], [1, 1]);
    const noPassword = await runAdmin(db.path, ["create", "eve"], "");
    assert.equal(noPassword.code, 1);
    const missing = await runAdmin(db.path, ["grant", "nobody-here"]);
    assert.deepEqual([missing.code, missing.stderr], [1, 'chat: no account "nobody-here"']);
    const usage = await runAdmin(db.path, ["frobnicate"]);
    assert.equal(usage.code, 2);
    assert.equal((await runAdmin(db.path, ["grant", "root-op"])).code, 0);
    const list = await runAdmin(db.path, ["list"]);
    assert.match(list.stdout, /^root-op \(server operator\) {2}registered \d{4}-\d\d-\d\d$/);
  });

  await t.step("the operator logs in and bans an account server-wide", async () => {
    await using server = await startTestServer(["--db", db.path]);
    await using mallory = await registered(server.port, "mallory");
    await using op = await TestClient.connect(server.port);
    await op.sendFrame({ type: "hello", version: 1, nick: "root-op", password: PASSWORD });
    const account = await op.expectFrame((f) => f.type === "account", 20_000);
    assert.equal(account.type === "account" && account.operator, true);
    await op.sendFrame({ type: "serverban", target: "mallory", reason: "spam" });
    await mallory.expectFrame((f) => f.type === "bye");
    await mallory.lines.expectEnd();
    // Banned by account: the next login is refused.
    await using again = await TestClient.connect(server.port);
    await again.sendFrame({ type: "hello", version: 1, nick: "mallory", password: PASSWORD });
    const refused = await again.expectFrame(isError("banned"), 20_000);
    assert.match(refused.type === "error" ? refused.message : "", /banned from this server: spam/);
    // A guest is refused server-wide commands.
    await using guest = await TestClient.joinJson(server.port, "guest");
    await guest.sendFrame({ type: "serverban", target: "127.0.0.1" });
    await guest.expectFrame(isError("permission_denied"));
  });

  await t.step("reset and delete", async () => {
    assert.equal((await runAdmin(db.path, ["reset", "mallory"], "another password\n")).code, 0);
    {
      // The reset password is the one that works now (mallory is banned: unban first).
      await using server = await startTestServer(["--db", db.path]);
      await using op = await login(server.port, "root-op");
      await op.sendFrame({ type: "serverunban", target: "mallory" });
      await op.expectFrame(moderation("unban", "mallory"));
      await using old = await TestClient.connect(server.port);
      await old.sendFrame({ type: "hello", version: 1, nick: "mallory", password: PASSWORD });
      await old.expectFrame(isError("login_failed"), 20_000);
      await using fresh = await TestClient.connect(server.port);
      await fresh.sendFrame({
        type: "hello",
        version: 1,
        nick: "mallory",
        password: "another password",
      });
      await fresh.expectFrame((f) => f.type === "welcome" && f.account === "mallory", 20_000);
    }
    const deleted = await runAdmin(db.path, ["delete", "mallory"]);
    assert.equal(deleted.code, 0);
    const check = new DatabaseSync(db.path);
    try {
      const row = check.prepare("SELECT count(*) AS n FROM accounts WHERE key = 'mallory'").get();
      assert.equal(Number(row?.n), 0);
    } finally {
      check.close();
    }
  });
});

Deno.test("moderation: a room holds at most 1000 bans (too_many_bans); replacing or lifting one makes room", async () => {
  await using server = await startTestServer(["--flood-rate", "0"]);
  await using guest = await TestClient.joinJson(server.port, "guest");
  await guest.sendFrame({ type: "join", room: "#mine" }); // a guest's own room: it operates it
  await guest.expectFrame((f) => f.type === "room" && f.room === "#mine");
  const bans: string[] = [];
  for (let i = 0; i < 1001; i++) {
    bans.push(JSON.stringify({ type: "ban", room: "#mine", target: `10.${i >> 8}.${i & 255}.1` }));
  }
  await guest.write(bans.join("\n") + "\n");
  const refused = await guest.expectFrame((f) => f.type === "error", 60_000);
  assert.equal(refused.type === "error" && refused.code, "too_many_bans", JSON.stringify(refused));
  assert.match(refused.type === "error" ? refused.message : "", /#mine has 1000 bans/);
  const done = guest.lines.seen.filter((l) => l.includes('"action":"ban"')).length;
  assert.equal(done, 1000);
  assert.ok(!guest.lines.seen.some((l) => l.includes('"target":"10.3.232.1"'))); // the 1001st
  // Banning one already banned replaces it; lifting one lets a new one in.
  await guest.sendFrame({ type: "ban", room: "#mine", target: "10.0.0.1", reason: "again" });
  await guest.expectFrame(moderation("ban", "10.0.0.1"));
  await guest.sendFrame({ type: "unban", room: "#mine", target: "10.0.1.1" });
  await guest.expectFrame(moderation("unban", "10.0.1.1"));
  await guest.sendFrame({ type: "ban", room: "#mine", target: "10.3.232.1" });
  await guest.expectFrame(moderation("ban", "10.3.232.1"));
  await guest.sendFrame({ type: "ban", room: "#mine", target: "10.9.9.9" });
  await guest.expectFrame((f) => f.type === "error" && f.code === "too_many_bans");
});

Deno.test("moderation: bans by address (127.0.0.2), a room's and the server's, survive a restart; a timed mute runs out", async (t) => {
  await using db = await tempDb();
  assert.equal((await runAdmin(db.path, ["create", "root-op"], `${PASSWORD}\n`)).code, 0);
  assert.equal((await runAdmin(db.path, ["grant", "root-op"])).code, 0);
  {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await founderOfDev(server.port);
    await using carol = await TestClient.joinText(server.port, "carol");
    await carol.send("/join #dev");
    await carol.lines.expect(/now talking in #dev/);

    await t.step("a room ban by address removes and keeps out that address only", async () => {
      await using rob = await joinFrom127002(server.port, "rob");
      await rob.lines.expect(/^\* welcome, rob!/);
      await rob.send("/join #dev");
      await rob.lines.expect(/now talking in #dev/);
      await alice.send("/ban 127.0.0.2 1h flooding");
      await carol.lines.expect(
        /^\* 127\.0\.0\.2 was banned from #dev by alice until .*: flooding$/,
      );
      await rob.lines.expect(
        /^\* you were banned from #dev by alice until \d\d:\d\d:\d\d UTC: flooding$/,
      );
      await rob.lines.expect(/^\* now talking in #lobby/);
      assert.ok(!rob.lines.seen.some((l) => l.includes("127.0.0.2 was banned")));
      await rob.send("/join #dev");
      await rob.lines.expect(/^! you are banned from #dev for \d+ s more: flooding$/);
      // 127.0.0.1 is another address: a newcomer from it joins.
      await using dave = await TestClient.joinText(server.port, "dave");
      await dave.send("/join #dev");
      await dave.lines.expect(/now talking in #dev/);
    });

    await t.step("a timed mute ends by itself, announced to the room", async () => {
      await alice.send("/mute carol 1");
      await carol.lines.expect(/^\* carol was muted in #dev by alice until /);
      await carol.send("can I talk?");
      await carol.lines.expect("! you are muted in #dev");
      await alice.lines.expect("* carol may talk again in #dev by server: mute expired", 20_000);
      await carol.send("thanks");
      await alice.lines.expect("carol: thanks");
    });

    await t.step("a server operator bans an address server-wide", async () => {
      await using rob = await joinFrom127002(server.port, "rob");
      await rob.lines.expect(/^\* welcome, rob!/);
      await using op = await TestClient.connect(server.port);
      await op.send("root-op");
      await op.lines.expect(/is registered/);
      await op.send(`/login root-op ${PASSWORD}`);
      await op.lines.expect("* logged in as root-op (server operator)", 20_000);
      await op.send("/serverban 127.0.0.2 spam");
      await op.lines.expect("* 127.0.0.2 was banned from the server by root-op: spam");
      await rob.lines.expect("* 127.0.0.2 was banned from the server by root-op: spam");
      await rob.lines.expect("* you are banned from this server: spam");
      await rob.lines.expectEnd();
      await using again = await joinFrom127002(server.port, "rob2");
      await again.lines.expect("! you are banned from this server: spam");
      await again.lines.expectEnd();
      // A guest is no server operator.
      await carol.send("/serverban 127.0.0.3");
      await carol.lines.expect("! only server operators may do that");
    });
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }

  await t.step("after a restart both bans hold, until lifted", async () => {
    await using server = await startTestServer(["--db", db.path]);
    {
      await using rob = await joinFrom127002(server.port, "rob");
      await rob.lines.expect("! you are banned from this server: spam");
      await rob.lines.expectEnd();
    }
    await using op = await TestClient.connect(server.port);
    await op.sendFrame({ type: "hello", version: 1, nick: "root-op", password: PASSWORD });
    await op.expectFrame((f) => f.type === "account" && f.operator === true, 20_000);
    await op.sendFrame({ type: "serverunban", target: "127.0.0.2" });
    await op.expectFrame(moderation("unban", "127.0.0.2"));
    await using rob = await joinFrom127002(server.port, "rob");
    await rob.lines.expect(/^\* welcome, rob!/);
    await rob.send("/join #dev");
    await rob.lines.expect(/^! you are banned from #dev for \d+ s more: flooding$/);
  });

  const { stdout } = await runAdmin(db.path, ["audit"]);
  assert.match(stdout, /alice ban #dev 127\.0\.0\.2 \(reason: flooding; until /);
  assert.match(stdout, /alice mute #dev carol/);
  assert.match(stdout, /server unmute #dev carol \(reason: mute expired\)/);
  assert.match(stdout, /root-op ban \* 127\.0\.0\.2 \(reason: spam\)/);
  assert.match(stdout, /root-op unban \* 127\.0\.0\.2/);
});

Deno.test("moderation: a ban by CIDR prefix (127.0.0.0/24) keeps 127.0.0.2 out, is listed by /bans, survives a restart; /unban lets it in", async (t) => {
  await using db = await tempDb();
  {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await founderOfDev(server.port);

    await t.step("a malformed or absurd prefix is a usage error", async () => {
      await alice.send("/ban 127.0.0.0/7");
      await alice.lines.expect('! Cannot ban "127.0.0.0/7": an IPv4 prefix must be /8 to /32');
      await alice.send("/ban 127.0.0.1/24");
      await alice.lines.expect(
        /^! Cannot ban "127\.0\.0\.1\/24": .*did you mean 127\.0\.0\.0\/24\?$/,
      );
      await alice.send("/ban 2001:db8::/16");
      await alice.lines.expect(
        /^! Cannot ban "2001:db8::\/16": an IPv6 prefix must be \/32 to \/128$/,
      );
      await alice.send("/ban 127.0.0.256/24");
      await alice.lines.expect(/^! Cannot read "127\.0\.0\.256\/24" as an address or prefix/);
      // A nickname that only looks like an address is still that nickname.
      await using _odd = await TestClient.joinText(server.port, "1.2.3.999");
      await alice.send("/unban 1.2.3.999");
      await alice.lines.expect("! 1.2.3.999 is not banned from #dev");
      await alice.send("/bans");
      await alice.lines.expect("* no bans in #dev");
    });

    await t.step("the prefix removes and keeps out 127.0.0.2; its operator stays", async () => {
      await using rob = await joinFrom127002(server.port, "rob");
      await rob.lines.expect(/^\* welcome, rob!/);
      await rob.send("/join #dev");
      await rob.lines.expect(/now talking in #dev/);
      await alice.send("/ban 127.0.0.0/24 flooding");
      await alice.lines.expect("* 127.0.0.0/24 was banned from #dev by alice: flooding");
      await rob.lines.expect("* you were banned from #dev by alice: flooding");
      await rob.send("/join #dev");
      await rob.lines.expect("! you are banned from #dev: flooding");
      // alice (127.0.0.1, inside the prefix) operates #dev: still in it.
      await alice.send("/who");
      await alice.lines.expect("* online in #dev (1): alice (op)");
      await alice.send("/ban 2001:db8::1 7d");
      await alice.lines.expect(/^\* 2001:db8::\/64 was banned from #dev by alice until /);
      await alice.send("/bans");
      await alice.lines.expect("* bans in #dev (2):");
      await alice.lines.expect("  127.0.0.0/24 by alice: flooding");
      await alice.lines.expect(/^ {2}2001:db8::\/64 by alice until \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    });
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }

  await t.step("after a restart the prefix holds, until /unban lifts it", async () => {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await login(server.port, "alice");
    await alice.sendFrame({ type: "join", room: "#dev" });
    await alice.expectFrame((f) => f.type === "room" && f.room === "#dev");
    await alice.sendFrame({ type: "bans" });
    const list = await alice.expectFrame((f) => f.type === "bans");
    assert.deepEqual(
      list.type === "bans" && [list.room, list.total, list.bans.map((b) => [b.target, b.kind])],
      ["#dev", 2, [["127.0.0.0/24", "address"], ["2001:db8::/64", "address"]]],
    );
    await using rob = await joinFrom127002(server.port, "rob");
    await rob.lines.expect(/^\* welcome, rob!/);
    await rob.send("/join #dev");
    await rob.lines.expect("! you are banned from #dev: flooding");
    await alice.sendFrame({ type: "unban", target: "127.0.0.0/24" });
    await alice.expectFrame(moderation("unban", "127.0.0.0/24"));
    await rob.send("/join #dev");
    await rob.lines.expect(/now talking in #dev/);
  });
});
