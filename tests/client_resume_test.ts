// The terminal client's automatic reconnect, end to end: the real client
// subprocess (piped) behind a TCP proxy whose connections the test cuts, and
// a real server restarted on the same port and --db. The client must print
// every message it missed exactly once, in order.

import assert from "@chat/assert";
import {
  type ClientProcess,
  startClient,
  startTcpProxy,
  startTestServer,
  TestClient,
} from "./test_util.ts";

/** Fast reconnects for tests: 50 ms doubling, and enough attempts for a restart. */
const FAST = ["--retry-delay", "50", "--retries", "30"];

/** The lines of `client` that are messages (not `* ` notices), in order. */
function messages(client: ClientProcess): string[] {
  return client.stdout.seen.filter((l) => !l.startsWith("* ") && !l.startsWith("["));
}

/** Sends a JSON `say` and waits for its ack (so it is stored before the test goes on). */
async function sayAcked(client: TestClient, text: string, room?: string): Promise<void> {
  await client.sendFrame({ type: "say", text, ref: text, ...(room ? { room } : {}) });
  await client.expectFrame((f) => f.type === "ack" && f.ref === text);
}

Deno.test("client: a dropped connection is resumed with every missed message once", async (t) => {
  await using server = await startTestServer();
  await using proxy = startTcpProxy(server.port);
  await using bob = await TestClient.joinJson(server.port, "bob");
  await using alice = startClient(proxy.port, ["--nick", "alice", ...FAST]);
  await alice.stdout.expect(/^\* welcome, alice!/);
  await alice.send("/join #dev");
  await alice.stdout.expect("* now talking in #dev (1 member)");
  await bob.sendFrame({ type: "join", room: "#dev" });
  await alice.stdout.expect("* bob joined #dev");
  await alice.send("/join #lobby");
  await alice.stdout.expect("* now talking in #lobby (2 members)");
  await sayAcked(bob, "before the cut", "#lobby");
  await alice.stdout.expect("bob: before the cut");

  await t.step("the drop is announced in one line", async () => {
    proxy.cut({ hold: true });
    await alice.stdout.expect(/^\* connection lost; reconnecting in \d+\.\d s…$/);
    await bob.expectFrame((f) => f.type === "left" && f.nick === "alice" && f.room === "#dev");
  });

  await t.step("messages sent meanwhile, and a line typed meanwhile", async () => {
    await sayAcked(bob, "missed 1", "#lobby");
    await sayAcked(bob, "missed 2", "#dev");
    await bob.sendFrame({ type: "msg", to: "alice", text: "missed 3" });
    await bob.expectFrame((f) => f.type === "error" && f.code === "no_such_nick");
    await sayAcked(bob, "missed 4", "#lobby");
    await alice.send("typed while away");
  });

  await t.step("after the reconnect each missed message shows once, in order", async () => {
    proxy.restore();
    await alice.stdout.expect("* reconnected as alice; 2 online");
    await bob.expectFrame((f) => f.type === "message" && f.text === "typed while away");
    await sayAcked(bob, "after the reconnect", "#lobby");
    await alice.stdout.expect("bob: after the reconnect");
    const lines = alice.stdout.seen.filter((l) => /bob: |\[private\]/.test(l));
    assert.deepEqual(lines, [
      "bob: before the cut",
      "bob: missed 1",
      "[#dev] bob: missed 2",
      "bob: missed 4",
      "bob: after the reconnect",
    ]);
    assert.deepEqual(alice.stderr.seen, []);
  });

  await t.step("a second cut, without hold, resumes again with nothing twice", async () => {
    proxy.cut();
    await sayAcked(bob, "missed 5", "#dev");
    await alice.stdout.expect("[#dev] bob: missed 5");
    await sayAcked(bob, "live 6", "#lobby");
    await alice.stdout.expect("bob: live 6");
    const seen = messages(alice).concat(alice.stdout.seen.filter((l) => l.startsWith("[#dev]")));
    assert.equal(new Set(seen).size, seen.length, seen.join("\n"));
    assert.ok(proxy.accepted >= 3);
  });

  await alice.send("/quit");
  assert.equal((await alice.exit()).code, 0);
});

Deno.test("client: a server restarted on the same port and --db is resumed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_client_resume_test_" });
  try {
    const db = `${dir}/chat.db`;
    const first = await startTestServer(["--db", db]);
    const port = first.port;
    // alice goes through a proxy so that her reconnection can be held back
    // until bob has talked: otherwise which of them is back first is a race.
    await using proxy = startTcpProxy(port);
    await using alice = startClient(proxy.port, ["--nick", "alice", ...FAST]);
    await using _first = first;
    await alice.stdout.expect(/^\* welcome, alice!/);
    await alice.send("/join #dev");
    await alice.stdout.expect("* now talking in #dev (1 member)");
    {
      await using bob = await TestClient.joinJson(port, "bob");
      await bob.sendFrame({ type: "join", room: "#dev" });
      await sayAcked(bob, "before the crash", "#dev");
      await alice.stdout.expect("bob: before the crash");
      await first.stop("SIGKILL");
      proxy.cut({ hold: true });
    }
    await alice.stdout.expect(/^\* connection lost; reconnecting in \d+\.\d s…$/);

    await using second = await startTestServer(["--db", db, "--port", String(port)]);
    assert.equal(second.port, port);
    await using bob = await TestClient.joinJson(port, "bob");
    await bob.sendFrame({ type: "join", room: "#dev" });
    await sayAcked(bob, "after the restart", "#dev");
    await sayAcked(bob, "in the lobby", "#lobby");
    proxy.restore();
    await alice.stdout.expect("* reconnected as alice; 2 online");
    await sayAcked(bob, "live", "#dev");
    await alice.stdout.expect("bob: live");
    assert.deepEqual(alice.stdout.seen.filter((l) => l.includes("bob: ")), [
      "bob: before the crash",
      "bob: after the restart",
      "[#lobby] bob: in the lobby",
      "bob: live",
    ]);
    await alice.send("/quit");
    assert.equal((await alice.exit()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: /quit and end of input never reconnect", async (t) => {
  await using server = await startTestServer();
  await using proxy = startTcpProxy(server.port);

  await t.step("/quit", async () => {
    await using alice = startClient(proxy.port, ["--nick", "alice", ...FAST]);
    await alice.stdout.expect(/^\* welcome, alice!/);
    await alice.send("/quit");
    assert.equal((await alice.exit()).code, 0);
    assert.equal(proxy.accepted, 1);
    assert.ok(!alice.stdout.seen.some((l) => l.includes("reconnect")), alice.stdout.seen.join());
  });

  await t.step("end of input", async () => {
    await using alice = startClient(proxy.port, ["--nick", "alice", ...FAST]);
    await alice.stdout.expect(/^\* welcome, alice!/);
    await alice.end();
    assert.equal((await alice.exit()).code, 0);
    assert.equal(proxy.accepted, 2);
  });

  await t.step("/quit while disconnected exits at once", async () => {
    await using alice = startClient(proxy.port, [
      "--nick",
      "alice",
      "--retry-delay",
      "30000",
    ]);
    await alice.stdout.expect(/^\* welcome, alice!/);
    proxy.cut();
    await alice.stdout.expect(/^\* connection lost; reconnecting in/);
    await alice.send("/quit");
    assert.equal((await alice.exit(5000)).code, 0);
    assert.equal(proxy.accepted, 3);
    assert.deepEqual(alice.stderr.seen, []);
  });
});
