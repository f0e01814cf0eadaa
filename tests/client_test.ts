// End-to-end tests of the terminal client in piped mode: the real
// `main.ts client` subprocess, with the permissions of `deno task client`,
// talking to the real server and to raw TCP clients.

import assert from "@chat/assert";
import { startClient, startTestServer, TestClient } from "./test_util.ts";

Deno.test("client: piped mode chats with plain-text and JSON clients", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");
  await using carol = await TestClient.joinJson(server.port, "carol");
  await using alice = startClient(server.port, ["--nick", "alice"]);
  await alice.stdout.expect("* welcome, alice! 3 online; type /help for commands");
  await bob.lines.expect("* alice joined the chat");

  await t.step("an input line is sent as a message", async () => {
    await alice.send("hello everyone");
    await bob.lines.expect("alice: hello everyone");
    await carol.expectFrame((f) => f.type === "message" && f.text === "hello everyone");
  });

  await t.step("received lines print while no input comes", async () => {
    await bob.send("hi alice");
    await alice.stdout.expect("bob: hi alice");
    await carol.sendFrame({ type: "me", text: "waves" });
    await alice.stdout.expect("** carol waves");
  });

  await t.step("multi-line messages print exactly as the plain-text format", async () => {
    await carol.sendFrame({ type: "say", text: "first\nsecond" });
    await alice.stdout.expect("carol: first");
    await alice.stdout.expect("       second");
  });

  await t.step("commands work: /msg, /me, /who", async () => {
    await carol.sendFrame({ type: "msg", to: "alice", text: "psst" });
    await alice.stdout.expect("[private] carol: psst");
    await alice.send("/msg bob secret plan");
    await bob.lines.expect("[private] alice: secret plan");
    await alice.stdout.expect("[private to bob] secret plan");
    await alice.send("/me nods");
    await bob.lines.expect("** alice nods");
    await alice.send("/who");
    await alice.stdout.expect("* online (3): alice, bob, carol");
  });

  await t.step("own messages are not printed in piped mode (only received lines)", () => {
    assert.ok(
      !alice.stdout.seen.some((l) => l.startsWith("alice: ")),
      alice.stdout.seen.join("\n"),
    );
    assert.ok(!alice.stdout.seen.includes("** alice nods"));
  });

  await t.step("usage errors go to stderr as `! usage: ...` and nothing is sent", async () => {
    await alice.send("/msg bob");
    await alice.stderr.expect("! usage: /msg NICK TEXT");
    await alice.send("/frobnicate");
    await alice.stderr.expect(/^! unknown command "\/frobnicate"/);
  });

  await t.step("control characters in received text are never printed raw", async () => {
    await carol.sendFrame({ type: "say", text: "bell\x07 and \x1b[2J clear" });
    const line = await alice.stdout.expect(/^carol: bell/);
    // deno-lint-ignore no-control-regex -- looking for raw control characters
    assert.doesNotMatch(line, /[\x00-\x1f\x7f]/);
  });

  await t.step("/quit exits 0 after the server's goodbye", async () => {
    await alice.send("/quit");
    const status = await alice.exit();
    assert.equal(status.code, 0);
    await bob.lines.expect("* alice left the chat");
    assert.equal(alice.stdout.seen.at(-1), "* goodbye");
    assert.deepEqual(alice.stderr.pending, []);
  });
});

Deno.test("client: accents, CJK and emoji pass both ways", async () => {
  await using server = await startTestServer();
  await using carol = await TestClient.joinJson(server.port, "carol");
  await using client = startClient(server.port, ["--nick", "zoë"]);
  await client.stdout.expect(/^\* welcome, zoë!/);
  const out = "héllo 你好 こんにちは 👋🏽 👨‍👩‍👧";
  await client.send(out);
  await carol.expectFrame((f) => f.type === "message" && f.from === "zoë" && f.text === out);
  const back = "ça va? 🎉 漢字 한국어";
  await carol.sendFrame({ type: "say", text: back });
  await client.stdout.expect(`carol: ${back}`);
  await client.end();
  assert.equal((await client.exit()).code, 0);
});

Deno.test("client: the nickname comes from the first input line and is retried", async () => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");
  await using client = startClient(server.port);
  await client.send("BOB");
  await client.stdout.expect('! nickname "BOB" is taken');
  await client.send("server");
  await client.stdout.expect(/^! nickname "server" is/);
  await client.send("alice");
  await client.stdout.expect(/^\* welcome, alice!/);
  await bob.lines.expect("* alice joined the chat");
  await client.send("after the retries");
  await bob.lines.expect("alice: after the retries");
});

Deno.test("client: end of input sends quit and exits 0", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");

  await t.step("after chatting", async () => {
    await using client = startClient(server.port, ["--nick", "alice"]);
    await client.send("one last thing");
    await client.end();
    await bob.lines.expect("alice: one last thing");
    await bob.lines.expect("* alice left the chat");
    assert.equal((await client.exit()).code, 0);
  });

  await t.step("before any nickname was given", async () => {
    await using client = startClient(server.port);
    await client.end();
    const status = await client.exit();
    assert.equal(status.code, 0);
    assert.deepEqual(client.stderr.seen, []);
  });

  await t.step("the bare word exit quits too", async () => {
    await using client = startClient(server.port, ["--nick", "dave"]);
    await bob.lines.expect("* dave joined the chat");
    await client.send("exit");
    assert.equal((await client.exit()).code, 0);
    await bob.lines.expect("* dave left the chat");
  });
});

Deno.test("client: a refused connection is one line on stderr and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await using client = startClient(port, ["--nick", "alice"]);
  const status = await client.exit();
  assert.equal(status.code, 1);
  assert.deepEqual(client.stderr.seen, [`cannot connect to 127.0.0.1:${port}: connection refused`]);
  assert.deepEqual(client.stdout.seen, []);
});

Deno.test("client: with --retries 0 the server going away is one line on stderr and exit 1", async (t) => {
  await t.step("shutdown: the server's reason", async () => {
    await using server = await startTestServer();
    await using client = startClient(server.port, ["--nick", "alice", "--retries", "0"]);
    await client.stdout.expect(/^\* welcome, alice!/);
    await server.stop("SIGTERM");
    const status = await client.exit();
    assert.equal(status.code, 1);
    assert.deepEqual(client.stderr.seen, ["server is shutting down"]);
  });

  await t.step("a crash: connection lost", async () => {
    await using server = await startTestServer();
    await using client = startClient(server.port, ["--nick", "alice", "--retries", "0"]);
    await client.stdout.expect(/^\* welcome, alice!/);
    await server.stop("SIGKILL");
    const status = await client.exit();
    assert.equal(status.code, 1);
    assert.deepEqual(client.stderr.seen, [`connection to 127.0.0.1:${server.port} lost`]);
  });
});

Deno.test("client: piped, a server gone for good is retried 5 times, then exit 1", async (t) => {
  await t.step("shutdown", async () => {
    await using server = await startTestServer();
    await using client = startClient(server.port, ["--nick", "alice", "--retry-delay", "10"]);
    await client.stdout.expect(/^\* welcome, alice!/);
    await server.stop("SIGTERM");
    const status = await client.exit();
    assert.equal(status.code, 1);
    assert.deepEqual(client.stderr.seen, [
      "server is shutting down; gave up reconnecting after 5 attempts: connection refused",
    ]);
    const notices = client.stdout.seen.slice(1);
    assert.match(notices[0]!, /^\* server is shutting down; reconnecting in \d+\.\d s…$/);
    assert.equal(notices.length, 5, notices.join("\n"));
    for (const line of notices.slice(1)) {
      assert.match(line, /^\* cannot reconnect: connection refused; retrying in \d+\.\d s…$/);
    }
  });

  await t.step("a crash", async () => {
    await using server = await startTestServer();
    await using client = startClient(server.port, [
      "--nick",
      "alice",
      "--retry-delay",
      "10",
      "--retries",
      "2",
    ]);
    await client.stdout.expect(/^\* welcome, alice!/);
    await server.stop("SIGKILL");
    await client.stdout.expect(/^\* connection lost; reconnecting in \d+\.\d s…$/);
    const status = await client.exit();
    assert.equal(status.code, 1);
    assert.deepEqual(client.stderr.seen, [
      `connection to 127.0.0.1:${server.port} lost; gave up reconnecting after 2 attempts: ` +
      "connection refused",
    ]);
  });
});

Deno.test("client: a server that is full is reported before any welcome", async () => {
  await using server = await startTestServer(["--max-clients", "1"]);
  await using _bob = await TestClient.joinText(server.port, "bob");
  await using client = startClient(server.port, ["--nick", "alice"]);
  const status = await client.exit();
  assert.equal(status.code, 1);
  assert.equal(client.stderr.seen.length, 1, client.stderr.seen.join("\n"));
  assert.match(client.stderr.seen[0]!, new RegExp(`^cannot join 127\\.0\\.0\\.1:${server.port}: `));
});
