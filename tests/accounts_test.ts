// Accounts end to end, against the real server subprocess: registration that
// survives a restart, reserved nicknames, login in `hello`, failed logins
// that slow down and then lock, the plain-TCP password rule (a client bound
// to 127.0.0.2 stands in for another machine), and two connections of one
// account sharing its identity.

import assert from "@chat/assert";
import { LoginLimiter } from "../server/core/login_limit.ts";
import { hashPassword, verifyPassword } from "../server/core/password.ts";
import { type ServerFrame } from "../protocol/mod.ts";
import { freePort, runAdmin, startRemoteClient, startTestServer, TestClient } from "./test_util.ts";

const PASSWORD = "correct horse battery";

async function tempDb(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "chat_accounts_test_" });
  return {
    path: `${dir}/chat.db`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Waits for the answer to a login/register: the `account` frame or an error. */
function outcome(client: TestClient): Promise<ServerFrame> {
  return client.expectFrame((f) => f.type === "account" || f.type === "error", 20_000);
}

/** Connects and logs in within `hello`; returns the client and its welcome. */
async function loginJson(
  port: number,
  nick: string,
  password = PASSWORD,
): Promise<{ client: TestClient; welcome: ServerFrame }> {
  const client = await TestClient.connect(port);
  await client.sendFrame({ type: "hello", version: 1, nick, password });
  const welcome = await client.expectFrame(
    (f) => f.type === "welcome" || f.type === "error",
    20_000,
  );
  if (welcome.type === "welcome") {
    await client.expectFrame((f) => f.type === "account" && f.event === "login");
  }
  return { client, welcome };
}

Deno.test("password hashes: scrypt with parameters and salt, verified in constant time", async () => {
  const hash = await hashPassword("hunter2hunter2");
  assert.match(hash, /^scrypt\$131072\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.notEqual(await hashPassword("hunter2hunter2"), hash, "a new salt each time");
  assert.equal(await verifyPassword("hunter2hunter2", hash), true);
  assert.equal(await verifyPassword("hunter2hunter3", hash), false);
  assert.equal(await verifyPassword("hunter2hunter2", "scrypt$1$1$1$x$y"), false);
  assert.equal(await verifyPassword("hunter2hunter2", "scrypt$1000$8$1$x$y"), false);
  assert.equal(await verifyPassword("x", "not a hash"), false);
});

Deno.test("login limiter: free attempts, then doubling delays, then a lock, per key", () => {
  const limiter = new LoginLimiter({
    freeAttempts: 2,
    delayMs: 1000,
    lockAfter: 5,
    lockMs: 60_000,
  });
  const keys = ["a:alice", "ip:10.0.0.9"];
  let t = 0;
  limiter.fail(keys, t);
  assert.deepEqual(limiter.check(keys, t), { ok: true });
  limiter.fail(keys, t);
  assert.deepEqual(limiter.check(keys, t), { ok: false, locked: false, retryMs: 1000 });
  assert.deepEqual(limiter.check(keys, t + 1000), { ok: true });
  limiter.fail(keys, t += 1000);
  assert.deepEqual(limiter.check(keys, t), { ok: false, locked: false, retryMs: 2000 });
  limiter.fail(keys, t += 2000);
  assert.deepEqual(limiter.check(keys, t), { ok: false, locked: false, retryMs: 4000 });
  limiter.fail(keys, t += 4000);
  assert.deepEqual(limiter.check(keys, t), { ok: false, locked: true, retryMs: 60_000 });
  // The address alone is locked for another account too; a new address is not.
  assert.equal(limiter.check(["a:bob", "ip:10.0.0.9"], t).ok, false);
  assert.equal(limiter.check(["a:bob", "ip:10.0.0.10"], t).ok, true);
  // A lock ends, and a success forgets the account's failures.
  assert.equal(limiter.check(keys, t + 60_000).ok, true);
  limiter.fail(["a:carol"], 0);
  limiter.fail(["a:carol"], 0);
  limiter.succeed("a:carol");
  assert.equal(limiter.check(["a:carol"], 0).ok, true);
});

Deno.test("accounts: registration survives a restart and reserves the nickname", async (t) => {
  await using db = await tempDb();
  {
    await using server = await startTestServer(["--db", db.path]);
    await using alice = await TestClient.joinJson(server.port, "alice");
    await alice.sendFrame({ type: "register", password: "short" });
    const short = await outcome(alice);
    assert.equal(short.type === "error" && short.code, "password_invalid");
    await alice.sendFrame({ type: "register", password: PASSWORD });
    const done = await outcome(alice);
    assert.deepEqual(
      done.type === "account" && [done.event, done.account, done.nick],
      ["registered", "alice", "alice"],
    );
    await alice.sendFrame({ type: "register", password: PASSWORD });
    const again = await outcome(alice);
    assert.equal(again.type === "error" && again.code, "permission_denied");
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }
  // The steps below fail a few logins on purpose, all from 127.0.0.1.
  await using server = await startTestServer(["--db", db.path, "--login-free-attempts", "10"]);

  await t.step("someone else gets nick_registered and another try", async () => {
    await using bob = await TestClient.connect(server.port);
    await bob.sendFrame({ type: "hello", version: 1, nick: "ALICE" });
    const refused = await bob.expectFrame((f) => f.type === "error");
    assert.equal(refused.type === "error" && refused.code, "nick_registered");
    await bob.sendFrame({ type: "nick", nick: "bob" });
    await bob.expectFrame((f) => f.type === "welcome" && f.nick === "bob");
    await bob.sendFrame({ type: "nick", nick: "Alice" });
    const rename = await bob.expectFrame((f) => f.type === "error");
    assert.equal(rename.type === "error" && rename.code, "nick_registered");
  });

  await t.step(
    "a look-alike of the registered nickname is refused while its owner is away",
    async () => {
      await using mallory = await TestClient.connect(server.port);
      // All Cyrillic: а ӏ і с е (Unicode TS #39 confusables of "alice").
      await mallory.sendFrame({
        type: "hello",
        version: 1,
        nick: "\u0430\u04cf\u0456\u0441\u0435",
      });
      const refused = await mallory.expectFrame((f) => f.type === "error");
      assert.equal(refused.type === "error" && refused.code, "nick_registered");
      assert.match(refused.type === "error" ? refused.message : "", /looks like the registered/);
    },
  );

  await t.step("a plain-text user is told, and logs in with /login NICK PASSWORD", async () => {
    await using text = await TestClient.connect(server.port);
    await text.send("alice");
    await text.lines.expect(/^! nickname "alice" is registered: \/login alice PASSWORD/);
    await text.send("/login alice wrong-password");
    await text.lines.expect("! wrong nickname or password", 20_000);
    await text.send(`/login alice ${PASSWORD}`);
    await text.lines.expect(/^\* welcome, alice! /, 20_000);
    await text.lines.expect("* logged in as alice");
  });

  await t.step("a bot logs in within hello, in one round trip", async () => {
    const { client, welcome } = await loginJson(server.port, "alice");
    await using _ = client;
    assert.equal(welcome.type === "welcome" && welcome.account, "alice");
  });

  await t.step("/logout leaves a guest under another nickname; /password changes it", async () => {
    const { client, welcome } = await loginJson(server.port, "alice");
    await using alice = client;
    assert.equal(welcome.type, "welcome");
    await alice.sendFrame({ type: "password", old: "not it at all", new: "a new password" });
    const wrong = await outcome(alice);
    assert.equal(wrong.type === "error" && wrong.code, "login_failed");
    await alice.sendFrame({ type: "password", old: PASSWORD, new: "a new password" });
    const changed = await outcome(alice);
    assert.equal(changed.type === "account" && changed.event, "password");
    await alice.sendFrame({ type: "logout" });
    const out = await outcome(alice);
    assert.ok(out.type === "account" && out.account === null && /^guest-\d+$/.test(out.nick));
    const { client: again, welcome: old } = await loginJson(server.port, "alice");
    await using _ = again;
    assert.equal(old.type === "error" && old.code, "login_failed");
    await again.sendFrame({ type: "login", nick: "alice", password: "a new password" });
    await again.expectFrame((f) => f.type === "welcome" && f.account === "alice", 20_000);
  });
});

Deno.test("accounts: wrong passwords slow down, then lock the account", async () => {
  await using server = await startTestServer([
    "--login-free-attempts",
    "2",
    "--login-delay",
    "1",
    "--login-lock-after",
    "4",
    "--login-lock",
    "600",
  ]);
  {
    await using alice = await TestClient.joinJson(server.port, "alice");
    await alice.sendFrame({ type: "register", password: PASSWORD });
    assert.equal((await outcome(alice)).type, "account");
  }
  await using mallory = await TestClient.joinJson(server.port, "mallory");
  const attempt = async (password: string) => {
    await mallory.sendFrame({ type: "login", nick: "alice", password });
    const f = await outcome(mallory);
    return f.type === "error" ? f : assert.fail(`logged in: ${JSON.stringify(f)}`);
  };
  assert.equal((await attempt("guess one")).code, "login_failed");
  assert.equal((await attempt("guess two")).code, "login_failed");
  // Past the free attempts, a try is refused until the (doubling) delay has passed.
  const throttled = await attempt("guess three");
  assert.equal(throttled.code, "login_throttled");
  assert.match(throttled.message, /wait \d+ s before trying again/);
  const deadline = Date.now() + 20_000;
  let failures = 2;
  while (failures < 4) {
    assert.ok(Date.now() < deadline, "the delay never ended");
    const f = await attempt(`guess ${failures}`);
    if (f.code === "login_failed") failures++;
    else assert.equal(f.code, "login_throttled");
  }
  // Locked now: even the right password is refused, without being checked.
  const locked = await attempt(PASSWORD);
  assert.equal(locked.code, "login_locked");
  assert.match(locked.message, /locked for 10 minutes/);
});

Deno.test("accounts: no password over plain TCP from another address (127.0.0.2)", async (t) => {
  await using server = await startTestServer();
  {
    await using alice = await TestClient.joinJson(server.port, "alice");
    await alice.sendFrame({ type: "register", password: PASSWORD });
    assert.equal((await outcome(alice)).type, "account");
  }

  await t.step("hello with a password is refused and says to use --tls", async () => {
    await using remote = startRemoteClient(server.port, "127.0.0.2");
    await remote.send(
      JSON.stringify({ type: "hello", version: 1, nick: "alice", password: PASSWORD }),
    );
    const line = await remote.lines.expect(/"type":"error"/);
    const error = JSON.parse(line);
    assert.equal(error.code, "insecure_transport");
    assert.match(error.message, /--tls/);
  });

  await t.step("so are /register and /login in plain text", async () => {
    await using remote = startRemoteClient(server.port, "127.0.0.2");
    await remote.send("carol");
    await remote.lines.expect(/^\* welcome, carol!/);
    await remote.send(`/register ${PASSWORD}`);
    await remote.lines.expect(/^! passwords are not accepted over plain TCP .*--tls/);
    await remote.send(`/login alice ${PASSWORD}`);
    await remote.lines.expect(/^! passwords are not accepted over plain TCP .*--tls/);
  });

  await t.step("over TLS the same peer may log in", async () => {
    await using tls = await startTestServer(["--tls-port", String(freePort())]);
    {
      await using alice = await TestClient.joinJson(tls.port, "alice");
      await alice.sendFrame({ type: "register", password: PASSWORD });
      assert.equal((await outcome(alice)).type, "account");
    }
    await using remote = startRemoteClient(tls.tlsPort!, "127.0.0.2", "tls");
    await remote.send(
      JSON.stringify({ type: "hello", version: 1, nick: "alice", password: PASSWORD }),
    );
    const welcome = JSON.parse(await remote.lines.expect(/"type":"(welcome|error)"/, 20_000));
    assert.deepEqual([welcome.type, welcome.account], ["welcome", "alice"]);
  });

  await t.step("--allow-plain-passwords lets the operator accept them", async () => {
    await using open = await startTestServer(["--allow-plain-passwords"]);
    await using remote = startRemoteClient(open.port, "127.0.0.2");
    await remote.send("carol");
    await remote.lines.expect(/^\* welcome, carol!/);
    await remote.send(`/register ${PASSWORD}`);
    await remote.lines.expect(/^\* registered carol/, 20_000);
  });
});

Deno.test("accounts: two connections of one account share its identity", async () => {
  await using server = await startTestServer();
  {
    await using alice = await TestClient.joinJson(server.port, "alice");
    await alice.sendFrame({ type: "register", password: PASSWORD });
    assert.equal((await outcome(alice)).type, "account");
  }
  const first = await loginJson(server.port, "alice");
  await using a1 = first.client;
  const second = await loginJson(server.port, "alice");
  await using a2 = second.client;
  assert.equal(second.welcome.type === "welcome" && second.welcome.nick, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");

  // A private message reaches both connections; a reply from one is copied to the other.
  await bob.sendFrame({ type: "msg", to: "alice", text: "psst" });
  for (const a of [a1, a2]) {
    await a.expectFrame((f) => f.type === "private" && f.from === "bob" && f.text === "psst");
  }
  await a2.sendFrame({ type: "reply", text: "hi bob" });
  await bob.expectFrame((f) => f.type === "private" && f.from === "alice" && f.text === "hi bob");
  await a1.expectFrame((f) => f.type === "private" && f.from === "alice" && f.text === "hi bob");

  // Rooms follow the account: a join on one connection joins the other.
  await bob.sendFrame({ type: "join", room: "#dev" });
  await bob.expectFrame((f) => f.type === "room" && f.room === "#dev");
  await a1.sendFrame({ type: "join", room: "#dev" });
  await a2.expectFrame((f) => f.type === "room" && f.room === "#dev");
  await bob.expectFrame((f) => f.type === "joined" && f.nick === "alice");
  await bob.sendFrame({ type: "who", room: "#dev" });
  const who = await bob.expectFrame((f) => f.type === "who");
  assert.deepEqual(who.type === "who" && who.nicks, ["alice", "bob"]);
  await bob.sendFrame({ type: "say", room: "#dev", text: "to both" });
  for (const a of [a1, a2]) {
    await a.expectFrame((f) => f.type === "message" && f.text === "to both");
  }

  // One connection leaving is not alice leaving: no notice, messages still reach her.
  a2.close();
  await server.log.expect(/disconnect alice/);
  await bob.sendFrame({ type: "msg", to: "alice", text: "still there?" });
  await a1.expectFrame((f) => f.type === "private" && f.text === "still there?");
  await bob.sendFrame({ type: "part", room: "#dev" });
  await bob.expectFrame((f) => f.type === "left" && f.nick === "bob");
  assert.ok(
    !bob.lines.seen.some((l) => l.includes('"type":"left"') && l.includes('"nick":"alice"')),
    "no one saw alice leave",
  );
});

Deno.test("accounts: /register is limited per address (registration_quota); logging out and renaming does not get round it", async (t) => {
  await using server = await startTestServer([
    "--register-quota",
    "2",
    "--register-refill",
    "3600",
  ]);
  await using ann = await TestClient.joinJson(server.port, "ann");
  const registered = async (client: TestClient, nick: string) => {
    await client.sendFrame({ type: "register", password: PASSWORD });
    const done = await outcome(client);
    assert.deepEqual(done.type === "account" && [done.event, done.nick], ["registered", nick]);
  };
  await registered(ann, "ann");

  await t.step("logging out and registering another nickname counts too", async () => {
    await ann.sendFrame({ type: "logout" });
    await ann.expectFrame((f) => f.type === "account" && f.event === "logout");
    await ann.sendFrame({ type: "nick", nick: "ben" });
    await ann.expectFrame((f) => f.type === "renamed" && f.to === "ben");
    await registered(ann, "ben");
  });

  await t.step("a third from the same address is refused, in JSON and plain text", async () => {
    await using cat = await TestClient.joinJson(server.port, "cat");
    await cat.sendFrame({ type: "register", password: PASSWORD });
    const refused = await outcome(cat);
    assert.equal(refused.type === "error" && refused.code, "registration_quota");
    const message = refused.type === "error" ? refused.message : "";
    assert.match(
      message,
      /^too many accounts were registered from your address: you may register another/,
    );
    // One back per --register-refill: the first in about an hour.
    assert.match(message, / in (5[5-9]|60) minutes$/);
    await using dot = await TestClient.joinText(server.port, "dot");
    await dot.send(`/register ${PASSWORD}`);
    await dot.lines.expect(/^! too many accounts were registered from your address/);
  });
});

Deno.test("accounts: /login PASSWORD logs in to the nickname just refused, or to the current one", async (t) => {
  await using db = await tempDb();
  const secret = "no-spaces-in-this-one";
  await using server = await startTestServer(["--db", db.path]);
  {
    await using alice = await TestClient.joinText(server.port, "alice");
    await alice.send(`/register ${secret}`);
    await alice.lines.expect(/^\* registered alice/, 20_000);
  }

  await t.step("told the nickname is registered, /login PASSWORD takes it", async () => {
    await using text = await TestClient.connect(server.port);
    await text.send("alice");
    await text.lines.expect(/^! nickname "alice" is registered/);
    await text.send(`/login ${secret}`);
    await text.lines.expect(/^\* welcome, alice! /, 20_000);
    await text.lines.expect("* logged in as alice");
  });

  await t.step("a JSON client refused a registered nick: login without nick", async () => {
    await using bot = await TestClient.connect(server.port);
    await bot.sendFrame({ type: "hello", version: 1, nick: "alice" });
    await bot.expectFrame((f) => f.type === "error" && f.code === "nick_registered");
    await bot.sendFrame({ type: "login", password: secret });
    await bot.expectFrame((f) => f.type === "welcome" && f.account === "alice", 20_000);
  });

  await t.step("without a nickname asked for, /login PASSWORD says how", async () => {
    await using text = await TestClient.connect(server.port);
    await text.send(`/login ${secret}`);
    await text.lines.expect("! usage: /login NICK PASSWORD");
  });

  await t.step(
    "a guest whose nickname chat admin registers logs in with /login PASSWORD",
    async () => {
      await using dave = await TestClient.joinText(server.port, "dave");
      const created = await runAdmin(db.path, ["create", "dave"], `${secret}\n`);
      assert.deepEqual([created.code, created.stdout], [0, "created account dave"]);
      await dave.send(`/login ${secret}`);
      await dave.lines.expect("* logged in as dave", 20_000);
    },
  );
});

Deno.test("accounts: --registration closed refuses /register; chat admin still creates accounts", async () => {
  await using db = await tempDb();
  await using server = await startTestServer(["--db", db.path, "--registration", "closed"]);
  await using alice = await TestClient.joinJson(server.port, "alice");
  await alice.sendFrame({ type: "register", password: PASSWORD });
  const refused = await outcome(alice);
  assert.equal(refused.type === "error" && refused.code, "registration_closed");
  await using bob = await TestClient.joinText(server.port, "bob");
  await bob.send(`/register ${PASSWORD}`);
  await bob.lines.expect("! registration is closed on this server: ask an operator");
  // The operator creates the account offline, beside the running server; bob logs in.
  assert.equal((await runAdmin(db.path, ["create", "bob"], `${PASSWORD}\n`)).code, 0);
  await bob.send(`/login bob ${PASSWORD}`);
  await bob.lines.expect("* logged in as bob", 20_000);
});

Deno.test("accounts: --require-account refuses guests on TCP, admits logins; /logout ends the connection", async (t) => {
  await using db = await tempDb();
  assert.equal((await runAdmin(db.path, ["create", "alice"], `${PASSWORD}\n`)).code, 0);
  await using server = await startTestServer(["--db", db.path, "--require-account"]);

  await t.step(
    "a JSON guest gets account_required, then logs in on the same connection",
    async () => {
      await using bot = await TestClient.connect(server.port);
      await bot.sendFrame({ type: "hello", version: 1, nick: "carol" });
      const refused = await bot.expectFrame((f) => f.type === "error");
      assert.equal(refused.type === "error" && refused.code, "account_required");
      await bot.sendFrame({ type: "login", nick: "alice", password: PASSWORD });
      await bot.expectFrame((f) => f.type === "welcome" && f.account === "alice", 20_000);
    },
  );

  await t.step("a plain-text guest is told to log in, and may", async () => {
    await using text = await TestClient.connect(server.port);
    await text.send("carol");
    await text.lines.expect(/^! this server admits accounts only: \/login NICK PASSWORD/);
    await text.send(`/login alice ${PASSWORD}`);
    await text.lines.expect(/^\* welcome, alice! /, 20_000);
    await text.send("/logout");
    await text.lines.expectEnd(20_000);
  });

  await t.step("a guest never gets a nickname to /register", async () => {
    await using text = await TestClient.connect(server.port);
    await text.send("carol");
    await text.lines.expect(/^! this server admits accounts only/);
    await text.send(`/register ${PASSWORD}`);
    await text.lines.expect("! choose a nickname first");
  });
});

Deno.test("accounts: failed logins count per address too, across accounts", async () => {
  // A long first delay: the second address's login cannot race it.
  await using server = await startTestServer([
    "--allow-plain-passwords",
    "--login-free-attempts",
    "2",
    "--login-delay",
    "600",
  ]);
  for (const nick of ["alice", "bob"]) {
    await using client = await TestClient.joinJson(server.port, nick);
    await client.sendFrame({ type: "register", password: PASSWORD });
    assert.equal((await outcome(client)).type, "account");
  }
  await using mallory = await TestClient.joinJson(server.port, "mallory");
  for (const guess of ["guess one", "guess two"]) {
    await mallory.sendFrame({ type: "login", nick: "alice", password: guess });
    const f = await outcome(mallory);
    assert.equal(f.type === "error" && f.code, "login_failed");
  }
  // Another account from the same address (127.0.0.1) waits too, even with its right password.
  await mallory.sendFrame({ type: "login", nick: "bob", password: PASSWORD });
  const throttled = await outcome(mallory);
  assert.equal(throttled.type === "error" && throttled.code, "login_throttled");
  assert.match(throttled.type === "error" ? throttled.message : "", /wait 10 minutes/);
  // From another address bob is not held back: the per-account count of bob is clean.
  await using remote = startRemoteClient(server.port, "127.0.0.2");
  await remote.send(JSON.stringify({ type: "hello", version: 1, nick: "bob", password: PASSWORD }));
  const welcome = JSON.parse(await remote.lines.expect(/"type":"(welcome|error)"/, 20_000));
  assert.deepEqual([welcome.type, welcome.account], ["welcome", "bob"]);
  // And alice's account is held back from there as well (its own count).
  await remote.send(JSON.stringify({ type: "logout" }));
  await remote.lines.expect(/"event":"logout"/);
  await remote.send(JSON.stringify({ type: "login", nick: "alice", password: PASSWORD }));
  const held = JSON.parse(await remote.lines.expect(/"type":"error"/, 20_000));
  assert.equal(held.code, "login_throttled");
});
