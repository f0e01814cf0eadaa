// End-to-end tests of the server: the real `main.ts server` subprocess, real
// TCP clients in both wire formats, on loopback.

import assert from "@chat/assert";
import { COMMANDS } from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

Deno.test("server: plain-text and JSON clients chat together", async (t) => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await alice.lines.expect("* bob joined the chat");

  await t.step("a plain-text message reaches JSON clients as a frame", async () => {
    await alice.send("hello");
    const frame = await bob.expectFrame((f) => f.type === "message");
    // Rooms and history added `id` and `room` (additive, protocol v1).
    assert.deepEqual({ ...frame, ts: 0, id: 0 }, {
      type: "message",
      id: 0,
      room: "#lobby",
      from: "alice",
      text: "hello",
      ts: 0,
    });
  });

  await t.step("a JSON message reaches plain-text clients as a line", async () => {
    await bob.sendFrame({ type: "say", text: "hi alice" });
    await alice.lines.expect("bob: hi alice");
  });

  await t.step("the sender does not get its own message back", async () => {
    await alice.send("/who");
    const before = await alice.lines.expect(/^\* online/);
    assert.equal(before, "* online (2): alice, bob");
    assert.ok(!alice.lines.seen.includes("alice: hello"));
  });

  await t.step("accents, CJK and emoji pass both ways, even split inside a character", async () => {
    const text = "héllo 你好 👋🏽";
    const bytes = new TextEncoder().encode(text + "\n");
    await alice.write(bytes.subarray(0, 8)); // ends inside "你"
    await alice.write(bytes.subarray(8));
    await bob.expectFrame((f) => f.type === "message" && f.text === text);
    await bob.sendFrame({ type: "say", text: "ça va? 🎉" });
    await alice.lines.expect("bob: ça va? 🎉");
  });

  await t.step("/me and /msg", async () => {
    await alice.send("/me waves");
    await bob.expectFrame((f) => f.type === "action" && f.from === "alice" && f.text === "waves");
    await bob.sendFrame({ type: "me", text: "nods" });
    await alice.lines.expect("** bob nods");
    await bob.sendFrame({ type: "msg", to: "ALICE", text: "psst" });
    await alice.lines.expect("[private] bob: psst");
    await bob.expectFrame((f) => f.type === "private" && f.from === "bob" && f.to === "alice");
    await alice.send("/msg bob secret plan");
    await bob.expectFrame((f) => f.type === "private" && f.text === "secret plan");
    await alice.lines.expect("[private to bob] secret plan");
  });

  await t.step("a private message reaches only its recipient", async () => {
    await using carol = await TestClient.joinText(server.port, "carol");
    await alice.send("/msg bob only for bob");
    await bob.expectFrame((f) => f.type === "private" && f.text === "only for bob");
    await carol.send("/who");
    await carol.lines.expect(/^\* online \(3\)/);
    assert.ok(!carol.lines.seen.some((l) => l.includes("only for bob")));
  });
});

Deno.test("server: nicknames", async (t) => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");

  await t.step("a taken nickname (any case) gets an error and another try", async () => {
    await using other = await TestClient.connect(server.port);
    await other.send("ALICE");
    await other.lines.expect('! nickname "ALICE" is taken, choose another:');
    await other.send("a b");
    await other.lines.expect(/^! nickname "a b" is invalid.*choose another:$/);
    await other.send("alice2");
    await other.lines.expect(/^\* welcome, alice2!/);
  });

  await t.step("JSON clients retry with a nick frame", async () => {
    await using bot = await TestClient.connect(server.port);
    await bot.sendFrame({ type: "hello", version: 1, nick: "Alice" });
    const error = await bot.expectFrame((f) => f.type === "error");
    assert.equal(error.type === "error" && error.code, "nick_taken");
    await bot.sendFrame({ type: "say", text: "too early" });
    await bot.expectFrame((f) => f.type === "error" && f.code === "not_registered");
    await bot.sendFrame({ type: "nick", nick: "server" });
    await bot.expectFrame((f) => f.type === "error" && f.code === "nick_invalid");
    await bot.sendFrame({ type: "nick", nick: "bot" });
    await bot.expectFrame((f) => f.type === "welcome" && f.nick === "bot");
  });

  await t.step("/nick renames and everyone is told", async () => {
    await using bob = await TestClient.joinJson(server.port, "bob");
    await alice.send("/nick alicia");
    await alice.lines.expect("* alice is now known as alicia");
    await bob.expectFrame((f) => f.type === "renamed" && f.from === "alice" && f.to === "alicia");
    await bob.sendFrame({ type: "nick", nick: "ALICIA" });
    await bob.expectFrame((f) => f.type === "error" && f.code === "nick_taken");
    await bob.sendFrame({ type: "msg", to: "alice", text: "old name" });
    await bob.expectFrame((f) => f.type === "error" && f.code === "no_such_nick");
  });

  await t.step("the server logs connects, nicknames, renames and disconnects", async () => {
    await server.log.expect(/connect 127\.0\.0\.1:\d+ \(\d+ open\)$/);
    await server.log.expect(/nick alice \(127\.0\.0\.1:\d+\)$/);
    await server.log.expect(/rename alice -> alicia/);
    await server.log.expect(/disconnect bob .*: connection lost$/);
  });
});

Deno.test("server: commands", async (t) => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");

  await t.step("/help lists every command of the registry, one line each", async () => {
    await alice.send("/help");
    await alice.lines.expect("* commands:");
    for (const command of COMMANDS) {
      await alice.lines.expect((l) => l.startsWith(`  /${command.name}`));
    }
    await bob.sendFrame({ type: "help" });
    const help = await bob.expectFrame((f) => f.type === "help");
    assert.equal(help.type === "help" && help.commands.length, COMMANDS.length);
  });

  await t.step("bad commands get a usage error, to the sender only", async () => {
    await alice.send("/bogus");
    await alice.lines.expect('! unknown command "/bogus" (type /help for the list)');
    await alice.send("/msg bob");
    await alice.lines.expect("! usage: /msg NICK TEXT");
    await alice.send("/me");
    await alice.lines.expect("! usage: /me ACTION");
    await bob.sendFrame({ type: "who" });
    await bob.expectFrame((f) => f.type === "who");
    assert.ok(!bob.lines.seen.some((l) => l.includes(`"type":"error"`)));
  });

  await t.step("/quit, /exit and the bare word exit all leave", async () => {
    for (const word of ["/quit", "/exit", "exit"]) {
      await using carol = await TestClient.joinText(server.port, "carol");
      await alice.lines.expect("* carol joined the chat");
      await carol.send(word);
      await carol.lines.expect("* goodbye");
      await carol.lines.expectEnd();
      await alice.lines.expect("* carol left the chat");
      await bob.expectFrame((f) => f.type === "left" && f.nick === "carol" && f.reason === "quit");
    }
  });

  await t.step("a client that vanishes is announced as gone", async () => {
    const dave = await TestClient.joinText(server.port, "dave");
    await alice.lines.expect("* dave joined the chat");
    dave.close();
    await alice.lines.expect("* dave left the chat");
  });
});

Deno.test("server: invalid JSON frames get error frames and the connection stays", async () => {
  await using server = await startTestServer();
  await using bot = await TestClient.joinJson(server.port, "bot");
  const cases: [string, string][] = [
    ["not json", "bad_json"],
    ["[1,2]", "bad_frame"],
    ['{"text":"no type"}', "bad_frame"],
    ['{"type":"teleport"}', "unknown_type"],
    ['{"type":"say"}', "bad_frame"],
    ['{"type":"say","text":42}', "bad_frame"],
    ['{"type":"msg","to":"x"}', "bad_frame"],
    ['{"type":"say","text":"   "}', "empty_text"],
    ['{"type":"hello","version":1}', "already_registered"],
  ];
  for (const [line, code] of cases) {
    await bot.send(line);
    const frame = await bot.expectFrame((f) => f.type === "error");
    assert.equal(frame.type === "error" && frame.code, code, line);
  }
  await bot.sendFrame({ type: "ping", token: "still-here" });
  await bot.expectFrame((f) => f.type === "pong" && f.token === "still-here");
});

Deno.test("server: an unsupported protocol version is refused", async () => {
  await using server = await startTestServer();
  await using bot = await TestClient.connect(server.port);
  await bot.sendFrame({ type: "hello", version: 99, nick: "future" });
  await bot.expectFrame((f) => f.type === "error" && f.code === "version_unsupported");
  await bot.lines.expectEnd();
});

Deno.test("server: a line over the limit is refused without buffering, then disconnect", async () => {
  await using server = await startTestServer(["--max-line", "1024"]);
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.write("x".repeat(4096));
  await bob.expectFrame((f) => f.type === "error" && f.code === "line_too_long");
  await bob.lines.expectEnd();
  await alice.lines.expect("* bob left the chat");
  await alice.send("/who");
  await alice.lines.expect("* online (1): alice");
});

Deno.test("server: control characters never reach a plain-text client raw", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bot = await TestClient.joinJson(server.port, "bot");
  await bot.sendFrame({ type: "say", text: "a\x1b[2Jb\x1b]0;title\x07c\rd\u202ee\x9b2Jf" });
  const line = await alice.lines.expect(/^bot: /);
  assert.equal(line, "bot: abcdef");
});

Deno.test("server: an HTTP request on the chat port gets the web client, then is closed as asked", async () => {
  await using server = await startTestServer();
  await using browser = await TestClient.connect(server.port);
  await browser.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  await browser.lines.expect("HTTP/1.1 200 OK");
  await browser.lines.expect(/aria-label="Message"/);
  await browser.lines.expectEnd();
});

Deno.test("server: SIGTERM tells every client and exits 0", async () => {
  const server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  const status = await server.stop("SIGTERM");
  await alice.lines.expect("* server is shutting down");
  await alice.lines.expectEnd();
  await bob.expectFrame((f) => f.type === "bye" && f.reason === "server is shutting down");
  await bob.lines.expectEnd();
  assert.equal(status.code, 0);
});
