// The interactive client in-process (runClient on a fake terminal with a
// screen emulator) against the real server behind a cuttable TCP proxy:
// windows per room, own lines pending until acknowledged, refused lines put
// back, mentions and the bell, a half-typed line that survives a reconnect,
// and quitting at once while offline.

import assert from "@chat/assert";
import { runClient } from "../client/mod.ts";
import { FakeInput, FakeOutput, Screen, until } from "./fake_tty.ts";
import { startTcpProxy, startTestServer, TestClient } from "./test_util.ts";

const COLUMNS = 60;
const ROWS = 16;

function fakeClient(port: number, extra: { bell?: boolean; stateDir?: string } = {}) {
  const stdin = new FakeInput(true);
  const stdout = new FakeOutput(true);
  const stderr = new FakeOutput(false);
  const exit = runClient({
    hostname: "127.0.0.1",
    port,
    nick: "alice",
    stdin,
    stdout,
    stderr,
    color: false,
    timestamps: false,
    columns: () => COLUMNS,
    rows: () => ROWS,
    backoff: () => 20,
    ...(extra.bell !== undefined ? { bell: extra.bell } : {}),
    ...(extra.stateDir !== undefined ? { stateDir: extra.stateDir } : {}),
  });
  const screen = () => {
    const s = new Screen(COLUMNS, ROWS);
    s.write(stdout.text);
    return s;
  };
  const lines = () => screen().lines().filter((l) => l !== "");
  const shows = (line: string) => until(() => lines().includes(line), `"${line}"`, 10_000);
  const prompt = () => lines().at(-1);
  /** The window's text with wrapped rows joined (whitespace collapsed). */
  const text = () => lines().slice(0, -2).join(" ").replace(/\s+/g, " ");
  const status = () => lines().at(-2);
  return { stdin, stdout, stderr, exit, screen, lines, shows, prompt, status, text };
}

Deno.test("client on a terminal: windows, pending lines, a half-typed line kept across a reconnect", async (t) => {
  await using server = await startTestServer();
  await using proxy = startTcpProxy(server.port);
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.sendFrame({ type: "join", room: "#dev" });
  const c = fakeClient(proxy.port);

  await t.step("the prompt and the status line show the current room", async () => {
    await c.shows("alice #lobby>");
    assert.equal(c.status(), " [1:#lobby]");
  });

  await t.step("a line pasted right after /join goes to the new room's window", async () => {
    c.stdin.type("/join #dev\rhello dev\r");
    const frame = await bob.expectFrame((f) => f.type === "message" && f.text === "hello dev");
    assert.equal(frame.type === "message" && frame.room, "#dev");
    await c.shows("alice: hello dev");
    await c.shows("alice #dev>");
    assert.equal(c.status(), " 1:#lobby [2:#dev]");
  });

  await t.step(
    "a line from another room counts as unread there; the current one shows",
    async () => {
      c.stdin.type("half typed");
      await c.shows("alice #dev> half typed");
      await bob.sendFrame({ type: "say", room: "#lobby", text: "in the lobby" });
      await bob.sendFrame({ type: "say", room: "#dev", text: "in dev" });
      await c.shows("bob: in dev");
      await until(() => c.status() === " 1:#lobby(1) [2:#dev]", "the unread count", 10_000);
      assert.equal(c.lines().includes("bob: in the lobby"), false);
      assert.equal(c.prompt(), "alice #dev> half typed");
    },
  );

  await t.step("switching windows redraws that window's lines", async () => {
    c.stdin.type("\x1b1");
    await c.shows("bob: in the lobby");
    assert.equal(c.status(), " [1:#lobby] 2:#dev");
    assert.equal(c.prompt(), "alice #lobby> half typed");
    c.stdin.type("\x1b2");
    await c.shows("alice #dev> half typed");
  });

  await t.step("a reconnect is one line, updated in place; the half-typed line stays", async () => {
    proxy.cut({ hold: true });
    await c.shows("* connection lost; reconnecting in 0.0 s…");
    await until(() => c.prompt() === "alice #dev (offline)> half typed", "offline prompt", 10_000);
    await bob.expectFrame((f) => f.type === "left" && f.nick === "alice");
    await bob.sendFrame({ type: "say", room: "#dev", text: "missed", ref: "m" });
    await bob.expectFrame((f) => f.type === "ack" && f.ref === "m");
    // Several retries, still one line about the outage.
    await until(
      () => c.lines().some((l) => l.includes("cannot reconnect")),
      "a retry in the same line",
      10_000,
    );
    assert.equal(c.lines().filter((l) => l.startsWith("* connection lost")).length, 1);
    proxy.restore();
    await until(
      () => c.lines().some((l) => /^\* connection lost; reconnected as alice; 2 online/.test(l)),
      "the reconnected line",
      10_000,
    );
    assert.equal(c.lines().filter((l) => l.startsWith("* connection lost")).length, 1);
    await c.shows("bob: missed");
    assert.equal(c.prompt(), "alice #dev> half typed");
    c.stdin.type(" and sent\r");
    const frame = await bob.expectFrame((f) => f.type === "message" && f.from === "alice");
    assert.equal(frame.type === "message" && frame.text, "half typed and sent");
    await c.shows("alice: half typed and sent");
  });

  await t.step("/quit exits 0 without reconnecting", async () => {
    const accepted = proxy.accepted;
    c.stdin.type("/quit\r");
    assert.equal(await c.exit, 0);
    assert.equal(proxy.accepted, accepted);
    assert.equal(c.stderr.text, "");
  });
});

Deno.test("client on a terminal: own lines pending until acked; a refused line goes back to the input", async (t) => {
  await using server = await startTestServer(["--max-text", "20"]);
  await using proxy = startTcpProxy(server.port);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const c = fakeClient(proxy.port);
  await c.shows("alice #lobby>");

  await t.step("a line typed while offline shows as pending, then sent", async () => {
    proxy.cut({ hold: true });
    await until(() => c.prompt()?.includes("(offline)") ?? false, "offline", 10_000);
    c.stdin.type("while away\r");
    await c.shows("alice: while away …");
    proxy.restore();
    await bob.expectFrame((f) => f.type === "message" && f.text === "while away");
    await c.shows("alice: while away");
  });

  await t.step("a refused line is marked and its text is back in the input", async () => {
    c.stdin.type("this line is much too long for the server\r");
    await until(
      () => c.text().includes("[not sent: message is longer than 20 bytes]"),
      "the refusal",
      10_000,
    );
    await c.shows("alice #lobby> this line is much too long for the server");
  });

  await t.step("a private message to someone gone is refused in its line", async () => {
    c.stdin.type("\x15/msg nobody hi\r");
    await until(
      () => c.text().includes('[not sent: no one called "nobody" is online]'),
      "the refusal",
      10_000,
    );
  });

  c.stdin.type("\x15/quit\r");
  assert.equal(await c.exit, 0);
});

Deno.test("client on a terminal: mentions and private messages in other windows ring the bell", async () => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const c = fakeClient(server.port);
  await c.shows("alice #lobby>");
  c.stdin.type("/join #dev\r");
  await c.shows("alice #dev>");
  await bob.sendFrame({ type: "say", room: "#lobby", text: "no mention of malice here" });
  await until(() => c.status() === " 1:#lobby(1) [2:#dev]", "unread", 10_000);
  assert.equal(c.screen().bells, 0, "not a mention: no bell");
  await bob.sendFrame({ type: "say", room: "#lobby", text: "ALICE: lunch?" });
  await until(() => c.status() === " 1:#lobby(2!) [2:#dev]", "the mention mark", 10_000);
  assert.equal(c.screen().bells, 1);
  await bob.sendFrame({ type: "msg", to: "alice", text: "psst" });
  await until(() => c.status() === " 1:#lobby(2!) [2:#dev] 3:@bob(1!)", "a query window", 10_000);
  assert.equal(c.screen().bells, 2);
  // In the window you are looking at, a mention is highlighted but rings nothing.
  await bob.sendFrame({ type: "join", room: "#dev" });
  await bob.sendFrame({ type: "say", room: "#dev", text: "alice, here" });
  await c.shows("bob: alice, here");
  assert.equal(c.screen().bells, 2);
  c.stdin.type("\x1b3");
  await c.shows("[private] bob: psst");
  c.stdin.type("sure\r");
  const reply = await bob.expectFrame((f) => f.type === "private" && f.from === "alice");
  assert.equal(reply.type === "private" && reply.text, "sure");
  await c.shows("[private to bob] sure");
  c.stdin.type("/quit\r");
  assert.equal(await c.exit, 0);
});

Deno.test("client on a terminal: a kick says so in the window you land in", async () => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.sendFrame({ type: "join", room: "#ops" }); // bob creates #ops: its operator
  await bob.expectFrame((f) => f.type === "room" && f.room === "#ops");
  const c = fakeClient(server.port);
  await c.shows("alice #lobby>");
  c.stdin.type("/join #ops\r");
  await c.shows("alice #ops>");
  await bob.sendFrame({ type: "kick", nick: "alice", room: "#ops", reason: "off topic" });
  await c.shows("* you were kicked from #ops by bob: off topic");
  assert.equal(c.prompt(), "alice #lobby>");
  assert.equal(c.status(), " [1:#lobby]");
  c.stdin.type("/quit\r");
  assert.equal(await c.exit, 0);
});

Deno.test("client on a terminal: Ctrl+C quits at once while offline with a line queued", async () => {
  await using server = await startTestServer();
  await using proxy = startTcpProxy(server.port);
  const c = fakeClient(proxy.port);
  await c.shows("alice #lobby>");
  proxy.cut({ hold: true });
  await until(() => c.prompt()?.includes("(offline)") ?? false, "offline", 10_000);
  c.stdin.type("queued line\r");
  await c.shows("alice: queued line …");
  c.stdin.type("\x03");
  assert.equal(await c.exit, 0);
});

Deno.test("client on a terminal: the nickname is asked before connecting", async () => {
  // Nothing listens on this port: a client that connected first would fail at once.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const stdin = new FakeInput(true);
  const stdout = new FakeOutput(true);
  const stderr = new FakeOutput(false);
  const exit = runClient({
    hostname: "127.0.0.1",
    port,
    stdin,
    stdout,
    stderr,
    color: false,
    columns: () => COLUMNS,
    rows: () => ROWS,
  });
  const lines = () => {
    const s = new Screen(COLUMNS, ROWS);
    s.write(stdout.text);
    return s.lines().filter((l) => l !== "");
  };
  await until(() => lines().at(-1) === "nickname:", "the nickname prompt", 10_000);
  stdin.type("\r");
  await until(() => lines().some((l) => l.includes("a nickname is needed")), "why", 10_000);
  assert.equal(stderr.text, "", "no connection was tried yet");
  stdin.type("alice\r");
  assert.equal(await exit, 1);
  assert.match(stderr.text, /^cannot connect to 127\.0\.0\.1:\d+: connection refused\n$/);
});

Deno.test("client on a terminal: a taken nickname is asked again with no connection open", async () => {
  // A handshake timeout of 1 s: a client that kept the refused connection
  // open while asking would be cut off before the answer.
  await using server = await startTestServer(["--handshake-timeout", "1"]);
  await using holder = await TestClient.joinJson(server.port, "alice");
  const c = fakeClient(server.port);
  await c.shows('! nickname "alice" is taken');
  await until(() => c.prompt() === "nickname:", "the nickname prompt", 10_000);
  // The refused connection is gone (closed by the client, or timed out).
  await server.log.expect(/ disconnect 127\.0\.0\.1:\d+: (quit|handshake timeout)$/);
  c.stdin.type("carol\r");
  await c.shows("carol #lobby>");
  await holder.expectFrame((f) => f.type === "joined" && f.nick === "carol");
  c.stdin.type("/quit\r");
  assert.equal(await c.exit, 0);
  assert.equal(c.stderr.text, "");
});

Deno.test("client on a terminal: /history header, /search, /away, /ignore and /clear", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  for (let i = 1; i <= 3; i++) {
    await bob.sendFrame({ type: "say", text: `old kiwi ${i}`, ref: `o${i}` });
    await bob.expectFrame((f) => f.type === "ack" && f.ref === `o${i}`);
  }
  const stateDir = await Deno.makeTempDir({ prefix: "chat_tty_state_" });
  try {
    const c = fakeClient(server.port, { stateDir });
    await c.shows("alice #lobby>");

    await t.step(
      "history starts with a header naming the count, the room and the times",
      async () => {
        await until(
          () =>
            c.lines().some((l) =>
              /^\* — 3 older messages in #lobby, \d\d:\d\d–\d\d:\d\d —$/.test(l)
            ),
          "the header",
          10_000,
        );
        const rows = c.lines();
        const at = rows.findIndex((l) => l.includes("older messages in #lobby"));
        assert.match(rows[at + 1]!, /^\[\d\d:\d\d\] bob: old kiwi 1$/);
        c.stdin.type("/history 5000\r");
        await c.shows("! usage: /history [N] (N is a whole number from 1 to 1000)");
      },
    );

    await t.step("/search finds messages, newest first", async () => {
      c.stdin.type("/search kiwi\r");
      await c.shows('* 3 messages found for "kiwi"');
      const rows = c.lines();
      const at = rows.findIndex((l) => l.includes('found for "kiwi"'));
      assert.match(rows[at + 1]!, /\[#lobby\] bob: old kiwi 3$/);
    });

    await t.step("/search alone pages on to older matches", async () => {
      for (let i = 1; i <= 20; i++) {
        await bob.sendFrame({ type: "say", text: `new kiwi ${i}`, ref: `k${i}` });
        await bob.expectFrame((f) => f.type === "ack" && f.ref === `k${i}`);
      }
      c.stdin.type("/search kiwi\r");
      await c.shows("* older matches: /search again (alone)");
      // The page (the newest 20, down to new kiwi 1) ends above the notice.
      assert.match(c.text(), /\[#lobby\] bob: new kiwi 2 .*\[#lobby\] bob: new kiwi 1 \* older/);
      c.stdin.type("/search\r");
      const second = /\* 3 messages found for "kiwi" .*old kiwi 3 .*old kiwi 2 .*old kiwi 1$/;
      await until(() => second.test(c.text()), "the second page", 10_000);
      c.stdin.type("/search\r");
      await c.shows("! usage: /search TEXT [#ROOM]");
    });

    await t.step("/away answers, and shows in /who", async () => {
      c.stdin.type("/away lunch\r");
      await c.shows("* you are away: lunch");
      await bob.sendFrame({ type: "msg", to: "alice", text: "there?" });
      const away = await bob.expectFrame((f) => f.type === "away");
      assert.equal(away.type === "away" && away.text, "lunch");
      c.stdin.type("/who\r");
      await c.shows("* online (2): alice (away), bob");
    });

    await t.step("/ignore hides a nickname's lines and is kept", async () => {
      c.stdin.type("\x1b1/ignore bob\r");
      await c.shows("* ignoring bob (/unignore bob to undo)");
      await bob.sendFrame({ type: "say", text: "you cannot see me", ref: "i" });
      await bob.expectFrame((f) => f.type === "ack" && f.ref === "i");
      c.stdin.type("/clear\r");
      await until(() => c.lines().length === 2, "an empty window", 10_000);
      await bob.sendFrame({ type: "say", text: "still hidden", ref: "j" });
      await bob.expectFrame((f) => f.type === "ack" && f.ref === "j");
      c.stdin.type("/ignore\r");
      await c.shows("* ignored: bob");
      assert.equal(c.lines().some((l) => l.includes("hidden")), false);
      assert.equal(await Deno.readTextFile(`${stateDir}/ignores`), "bob\n");
    });

    c.stdin.type("/quit\r");
    assert.equal(await c.exit, 0);
    assert.match(await Deno.readTextFile(`${stateDir}/history`), /"\/ignore bob"/);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("client on a terminal: /register and /login ask for the password without echo", async () => {
  await using server = await startTestServer();
  const c = fakeClient(server.port);
  const secret = "s3cret horse staple";
  const has = (pattern: RegExp) =>
    until(() => pattern.test(c.text() + " " + (c.prompt() ?? "")), String(pattern), 20_000);
  await c.shows("alice #lobby>");
  c.stdin.type("/register\r");
  await until(() => c.prompt() === "new password for alice:", "the password prompt", 10_000);
  c.stdin.type(secret + "\r");
  await until(() => c.prompt() === "the same again:", "the second prompt", 10_000);
  c.stdin.type(secret + "\r");
  await has(/registered alice: the nickname is yours/);
  c.stdin.type("/logout\r");
  await has(/logged out; you are guest-\d+ now/);
  c.stdin.type("/login alice\r");
  await until(() => c.prompt() === "password for alice:", "the login prompt", 10_000);
  c.stdin.type(secret + "\r");
  await has(/logged in as alice/);
  assert.ok(!c.stdout.text.includes("s3cret"), "the password never reached the screen");
  c.stdin.type("/quit\r");
  assert.equal(await c.exit, 0);
});
