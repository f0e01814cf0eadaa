// The abuse suite: the real server subprocess against slow, broken and
// hostile peers over real loopback sockets, with short limits so it runs fast.
// No timing upper bounds: only "nothing lost, nobody else affected, memory
// bounded", and a generous lower bound where slowing down is the behaviour.

import assert from "@chat/assert";
import { LineQueue, startTestServer, TestClient, type TestServer } from "./test_util.ts";

const encoder = new TextEncoder();

/**
 * The server's resident memory in KiB, from /proc (Linux). Read through `cat`:
 * Deno only lets a fully privileged process read /proc/<pid> itself.
 */
async function rssKiB(server: TestServer): Promise<number> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${server.process.pid}/status`],
  }).output();
  return Number(/VmRSS:\s+(\d+)/.exec(new TextDecoder().decode(stdout))![1]);
}

/** Connects without reading: a peer whose receive window fills and stays full. */
async function connectRaw(port: number): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

/** Writes everything, or stops quietly when the server hangs up on us. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  try {
    while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
  } catch { /* reset by the server: expected for the abusive writers */ }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** `n` numbered messages of about `size` bytes each, one per line. */
function messages(n: number, size: number, tag = "m"): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}${i} ${"x".repeat(size)}`);
}

Deno.test("abuse: a client that never reads is dropped; the others get everything", async () => {
  // 256 KiB: small, yet above what one 64 KiB read of a flooding sender fans
  // out to a healthy reader in one turn (see docs/operations.md).
  await using server = await startTestServer(["--send-queue", "262144", "--max-text", "4096"]);
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  const slow = await connectRaw(server.port);
  try {
    await writeAll(slow, encoder.encode("slow\n"));
    await alice.lines.expect("* slow joined the chat");
    await using carol = await TestClient.joinText(server.port, "carol");
    const before = await rssKiB(server);

    // 16 MB through the server: far more than the slow peer's socket buffers
    // plus its 256 KiB queue, so without the bound its queue would hold most of
    // it. Carol sends in rounds of 100 that the healthy readers keep up with
    // (as people in a chat do), so only the reader that never reads falls
    // behind, however loaded the machine running the test is.
    const expected = [...messages(8000, 1000), ...messages(8000, 1000, "n")];
    for (let i = 0; i < expected.length; i += 100) {
      const round = expected.slice(i, i + 100);
      await carol.write(round.join("\n") + "\n");
      await alice.lines.expect(`carol: ${round.at(-1)}`);
      await bob.expectFrame((f) => f.type === "message" && f.text === round.at(-1));
    }
    const left = bob.lines.seen.map((l) => JSON.parse(l)).find((f) => f.type === "left");
    assert.deepEqual(left && [left.nick, left.reason], ["slow", "send queue exceeded"]);
    assert.ok(alice.lines.seen.includes("* slow left the chat"));
    await server.log.expect(/drop slow: send queue exceeded/);

    // Both healthy readers got all 16000, in order, nothing skipped.
    const said = alice.lines.seen.filter((l) => l.startsWith("carol: "));
    assert.deepEqual(said, expected.map((text) => `carol: ${text}`));
    const got = bob.lines.seen.filter((l) => l.includes('"type":"message"'));
    assert.deepEqual(got.map((l) => JSON.parse(l).text), expected);
    const after = await rssKiB(server);
    assert.ok(after - before < 64 * 1024, `server RSS grew from ${before} to ${after} KiB`);
  } finally {
    closeQuietly(slow);
  }
});

Deno.test("abuse: a 10 MB line without a newline: line_too_long, disconnect, memory bounded", async () => {
  await using server = await startTestServer(["--max-line", "1024"]);
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bot = await TestClient.joinJson(server.port, "bot");
  const before = await rssKiB(server);
  const conn = await connectRaw(server.port);
  const lines = new LineQueue(conn);
  try {
    await writeAll(conn, encoder.encode('{"type":"hello","version":1,"nick":"big"}\n'));
    await lines.expect(/"type":"welcome"/);
    await writeAll(conn, new Uint8Array(10 * 1024 * 1024).fill(0x61));
    await lines.expect(/"code":"line_too_long"/);
    await lines.expectEnd();
  } finally {
    closeQuietly(conn);
  }
  await alice.lines.expect("* big left the chat");
  await bot.sendFrame({ type: "say", text: "still here" });
  await alice.lines.expect("bot: still here");
  const after = await rssKiB(server);
  assert.ok(after - before < 32 * 1024, `server RSS grew from ${before} to ${after} KiB`);
});

Deno.test("abuse: binary garbage gets a clear error and a close", async (t) => {
  await using server = await startTestServer(["--max-line", "4096"]);
  await using alice = await TestClient.joinText(server.port, "alice");

  await t.step("invalid UTF-8 before the handshake: error line, then close", async () => {
    await using junk = await TestClient.connect(server.port);
    await junk.write(new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a]));
    await junk.lines.expect("! line is not valid UTF-8");
    await junk.lines.expectEnd();
  });

  await t.step("random bytes without a newline: line_too_long, then close", async () => {
    await using junk = await TestClient.connect(server.port);
    // No 0xFF: on a plain-text connection that is Telnet's IAC, and a random
    // `IAC DO x` rightly gets a binary `IAC WONT x` answer before the error.
    const bytes = crypto.getRandomValues(new Uint8Array(60_000))
      .map((b) => b === 0x0a ? 0 : b === 0xff ? 0xfe : b);
    await junk.write(bytes).catch(() => {});
    await junk.lines.expect(/^! line is longer than 4096 bytes/);
    await junk.lines.expectEnd();
  });

  await t.step(
    "invalid UTF-8 after registering: an error frame, and the connection stays",
    async () => {
      await using bot = await TestClient.joinJson(server.port, "bot");
      await bot.write(new Uint8Array([0x7b, 0xff, 0xff, 0x7d, 0x0a]));
      await bot.expectFrame((f) => f.type === "error" && f.code === "invalid_utf8");
      await bot.sendFrame({ type: "ping", token: "t" });
      await bot.expectFrame((f) => f.type === "pong" && f.token === "t");
    },
  );

  await t.step("nobody else noticed", async () => {
    await alice.send("/who");
    await alice.lines.expect("* online (1): alice");
  });
});

// Each entry: what a hostile sender says, and what every reader must get.
const HOSTILE: [string, string, string][] = [
  ["screen clear", "a\x1b[2J\x1b[Hb", "ab"],
  ["window title", "a\x1b]0;pwned\x07b", "ab"],
  ["OSC 52 clipboard write", "a\x1b]52;c;cm0gLXJmIH4=\x07b", "ab"],
  ["bare CR", "safe\rFAKE", "safeFAKE"],
  ["C1 CSI", "a\u009b2Jb", "ab"],
  ["C1 OSC", "a\u009d0;title\u009cb", "ab"],
  ["bidi override", "abc\u202egpj.exe", "abcgpj.exe"],
  ["bidi isolate", "x\u2066y\u2069z", "xyz"],
  ["backspaces", "ok\b\b\bno", "okno"],
];
// deno-lint-ignore no-control-regex -- looking for control characters is the point
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

Deno.test("abuse: hostile text is cleaned before it reaches plain-text and JSON clients", async (t) => {
  await using server = await startTestServer();
  await using reader = await TestClient.joinText(server.port, "reader");
  await using watcher = await TestClient.joinJson(server.port, "watcher");
  await using jsonSender = await TestClient.joinJson(server.port, "mallory");
  await using textSender = await TestClient.joinText(server.port, "trudy");

  for (const [name, input, expected] of HOSTILE) {
    await t.step(name, async () => {
      await jsonSender.sendFrame({ type: "say", text: input });
      assert.equal(await reader.lines.expect(/^mallory: /), `mallory: ${expected}`);
      const frame = await watcher.expectFrame((f) => f.type === "message");
      assert.equal(frame.type === "message" && frame.text, expected);

      // The same bytes typed raw into nc (a CR inside a line is part of it).
      await textSender.send(input);
      const line = await reader.lines.expect(/^trudy: /);
      assert.ok(!UNSAFE.test(line), JSON.stringify(line));
      assert.equal(line, `trudy: ${expected}`);
      const again = await watcher.expectFrame((f) => f.type === "message");
      assert.equal(again.type === "message" && again.text, expected);
    });
  }

  await t.step("/me, /msg and multi-line messages are cleaned too", async () => {
    await jsonSender.sendFrame({ type: "me", text: "\x1b]0;x\x07waves\u202e" });
    await reader.lines.expect("** mallory waves");
    await jsonSender.sendFrame({ type: "msg", to: "reader", text: "\x1b[2Jpsst" });
    await reader.lines.expect("[private] mallory: psst");
    await jsonSender.sendFrame({ type: "say", text: "one\x1b[A\ntwo\rthree" });
    const frame = await watcher.expectFrame((f) => f.type === "message");
    assert.equal(frame.type === "message" && frame.text, "one\ntwothree");
  });

  await t.step("nicknames with zero-width joiners or mixed scripts are refused", async () => {
    await using bot = await TestClient.connect(server.port);
    await bot.sendFrame({ type: "hello", version: 1, nick: "read\u200der" });
    await bot.expectFrame((f) => f.type === "error" && f.code === "nick_invalid");
    await bot.sendFrame({ type: "nick", nick: "rеader" }); // Cyrillic е
    await bot.expectFrame((f) => f.type === "error" && f.code === "nick_invalid");
    await bot.sendFrame({ type: "nick", nick: "ＲＥＡＤＥＲ" }); // NFKC + case: taken
    await bot.expectFrame((f) => f.type === "error" && f.code === "nick_taken");
  });
});

Deno.test("abuse: a flood is delayed, never dropped, and kept in order", async () => {
  await using server = await startTestServer(["--flood-burst", "3", "--flood-rate", "20"]);
  await using reader = await TestClient.joinJson(server.port, "reader");
  await using flooder = await TestClient.joinText(server.port, "flooder");
  const lines = Array.from({ length: 30 }, (_, i) => `flood ${i}`);
  await flooder.write(lines.join("\n") + "\n"); // all 30 in one write
  const first = await reader.expectFrame((f) => f.type === "message");
  const start = performance.now();
  assert.equal(first.type === "message" && first.text, "flood 0");
  for (const text of lines.slice(1)) {
    const frame = await reader.expectFrame((f) => f.type === "message");
    assert.equal(frame.type === "message" && frame.text, text);
  }
  const elapsed = performance.now() - start;
  // (30 - 3) / 20 s = 1350 ms at least; a generous slack for timer jitter.
  assert.ok(elapsed > 900, `30 lines arrived within ${elapsed.toFixed(0)} ms`);
});

Deno.test("abuse: connection caps refuse with too_many_connections, then admit again", async (t) => {
  await t.step("--max-per-ip", async () => {
    await using server = await startTestServer(["--max-per-ip", "2"]);
    await using a = await TestClient.joinText(server.port, "a");
    await using b = await TestClient.joinJson(server.port, "b");
    await using third = await TestClient.connect(server.port);
    const frame = await third.expectFrame((f) => f.type === "error");
    assert.equal(frame.type === "error" && frame.code, "too_many_connections");
    await third.lines.expectEnd();
    await server.log.expect(/refuse 127\.0\.0\.1: too many connections from 127\.0\.0\.1/);
    a.close();
    await b.expectFrame((f) => f.type === "left" && f.nick === "a");
    await server.log.expect(/closed 127\.0\.0\.1:\d+ \(1 open\)/);
    await using _again = await TestClient.joinText(server.port, "again");
  });

  await t.step("--max-clients", async () => {
    await using server = await startTestServer(["--max-clients", "2", "--max-per-ip", "0"]);
    await using a = await TestClient.joinText(server.port, "a");
    await using _b = await TestClient.joinText(server.port, "b");
    await using third = await TestClient.connect(server.port);
    const frame = await third.expectFrame((f) => f.type === "error");
    assert.equal(frame.type === "error" && frame.code, "too_many_connections");
    assert.match(frame.type === "error" ? frame.message : "", /server is full/);
    await third.lines.expectEnd();
    await a.send("/who");
    await a.lines.expect("* online (2): a, b");
  });
});

Deno.test("abuse: --handshake-timeout closes connections that never register", async (t) => {
  await using server = await startTestServer(["--handshake-timeout", "0.5"]);
  await using alice = await TestClient.joinText(server.port, "alice");

  await t.step("silent connection", async () => {
    await using silent = await TestClient.connect(server.port);
    await silent.lines.expectEnd();
  });
  await t.step("JSON hello without a nickname", async () => {
    await using bot = await TestClient.connect(server.port);
    await bot.sendFrame({ type: "hello", version: 1 });
    await bot.expectFrame((f) => f.type === "error" && f.code === "timeout");
    await bot.lines.expectEnd();
  });
  await t.step("plain text stuck on a taken nickname", async () => {
    await using stuck = await TestClient.connect(server.port);
    await stuck.send("alice");
    await stuck.lines.expect(/is taken/);
    await stuck.lines.expect("! handshake not completed in time");
    await stuck.lines.expectEnd();
  });
  await t.step("a registered client is not affected", async () => {
    await alice.send("/who");
    await alice.lines.expect("* online (1): alice");
  });
});

Deno.test("abuse: --idle-timeout pings JSON clients, keeps those that answer, closes the rest", async () => {
  await using server = await startTestServer(["--idle-timeout", "1"]);
  await using nc = await TestClient.joinText(server.port, "nc");
  await using live = await TestClient.joinJson(server.port, "live");
  await using dead = await TestClient.joinJson(server.port, "dead");

  // live answers three pings: each one comes after half the timeout of silence.
  for (let i = 0; i < 3; i++) {
    const ping = await live.expectFrame((f) => f.type === "ping");
    await live.sendFrame({ type: "pong", ...(ping.type === "ping" ? { token: ping.token } : {}) });
  }
  // dead got its ping too, never answered, and is gone.
  await dead.expectFrame((f) => f.type === "ping");
  await dead.expectFrame((f) => f.type === "error" && f.code === "timeout");
  await dead.lines.expectEnd();
  await nc.lines.expect("* dead left the chat");
  // Plain-text clients cannot answer pings (nc), so they are exempt: after
  // more than two timeouts of silence, nc is still here and never saw a ping.
  await nc.send("/who");
  await nc.lines.expect("* online (2): live, nc");
  const ping = await live.expectFrame((f) => f.type === "ping");
  await live.sendFrame({ type: "pong", ...(ping.type === "ping" ? { token: ping.token } : {}) });
  await live.sendFrame({ type: "who" });
  await live.expectFrame((f) => f.type === "who" && f.nicks.length === 2);
});

Deno.test("abuse: 1000 rapid connect/disconnect cycles leak nothing", async () => {
  await using server = await startTestServer(["--max-per-ip", "0"]);
  await using alice = await TestClient.joinText(server.port, "alice");
  const total = 1000;
  const kinds = [
    () => new Uint8Array(0), // connect and go
    () => encoder.encode("half a li"), // hang up mid-line
    (i: number) => encoder.encode(`churn${i}\n`), // register and vanish
    (i: number) => encoder.encode(`{"type":"hello","version":1,"nick":"j${i}"}\n`),
  ];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const conn = await connectRaw(server.port);
      await writeAll(conn, kinds[i % kinds.length]!(i));
      closeQuietly(conn);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));

  // Every connection (the churn plus alice) is logged as closed, ending at 0 open.
  let closed = 0;
  await server.log.expect((l) => {
    if (!/ closed 127\.0\.0\.1:\d+ \(\d+ open\)$/.test(l)) return false;
    return ++closed === total && l.endsWith(" (1 open)"); // alice is still here
  }, 20_000);
  await alice.send("/who");
  await alice.lines.expect("* online (1): alice");
  await using _bob = await TestClient.joinJson(server.port, "bob");
  await alice.lines.expect("* bob joined the chat");
});

Deno.test("abuse: abrupt resets affect nobody else", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  for (let i = 0; i < 5; i++) {
    const conn = await connectRaw(server.port);
    await writeAll(conn, encoder.encode(`victim${i}\n`));
    await alice.lines.expect(`* victim${i} joined the chat`);
    // Unread data in our receive buffer makes close() send a RST, not a FIN.
    await alice.send("x".repeat(2000));
    await alice.send("y".repeat(2000));
    await writeAll(conn, encoder.encode("half a line, then gone"));
    closeQuietly(conn);
    await alice.lines.expect(`* victim${i} left the chat`);
  }
  await using bob = await TestClient.joinJson(server.port, "bob");
  await alice.send("after the resets");
  await bob.expectFrame((f) => f.type === "message" && f.text === "after the resets");
});

Deno.test("abuse: accept() failing with too many open files backs off and recovers", async () => {
  await using server = await startTestServer(["--max-per-ip", "0"], { fdLimit: 64 });
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  const hogs: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 100; i++) hogs.push(await connectRaw(server.port));
    await server.log.expect(/accept failed: .*[Tt]oo many open files.*; retrying in \d+ ms/);
    // The clients already in are still served.
    await alice.send("still serving");
    await bob.expectFrame((f) => f.type === "message" && f.text === "still serving");
  } finally {
    for (const conn of hogs) closeQuietly(conn);
  }
  // Once the hogs are gone, new connections are accepted again.
  await using _carol = await TestClient.joinText(server.port, "carol");
  await bob.expectFrame((f) => f.type === "joined" && f.nick === "carol");
});

Deno.test("abuse: an unhandled promise rejection does not take the server down", async () => {
  const script = new URL("./fixtures/rejecting_server.ts", import.meta.url).pathname;
  await using server = await startTestServer([], { script });
  await server.log.expect(/unhandled rejection \(kept running\): Error: boom/);
  await server.log.expect(/uncaught exception \(kept running\): Error: bang/);
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await alice.send("alive");
  await bob.expectFrame((f) => f.type === "message" && f.text === "alive");
});

Deno.test("abuse: SIGTERM flushes every send queue before the bye, then exits 0", async () => {
  const server = await startTestServer(["--send-queue", "67108864"]);
  await using watcher = await TestClient.joinJson(server.port, "watcher");
  await using sender = await TestClient.joinText(server.port, "sender");
  // The sink does not read until after SIGTERM: its backlog sits in the
  // server's send queue (8 MB is more than loopback socket buffers take).
  const sink = await connectRaw(server.port);
  try {
    await writeAll(sink, encoder.encode("sink\n"));
    await server.log.expect(/nick sink /);
    const batch = messages(8000, 1000);
    await sender.write(batch.join("\n") + "\n");
    await watcher.expectFrame((f) => f.type === "message" && f.text === batch.at(-1));
    const status = server.stop("SIGTERM");
    const lines = new LineQueue(sink);
    for (const text of batch) await lines.expect(`sender: ${text}`);
    await lines.expect("* server is shutting down");
    await lines.expectEnd();
    assert.equal((await status).code, 0);
  } finally {
    closeQuietly(sink);
  }
});
