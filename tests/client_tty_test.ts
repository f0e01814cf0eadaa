// The interactive client in-process (runClient on a fake terminal with a
// screen emulator) against the real server behind a cuttable TCP proxy:
// rooms in the prompt and in lines, and a half-typed line that survives
// messages from two rooms and a reconnect.

import assert from "@chat/assert";
import { runClient } from "../client/mod.ts";
import { FakeInput, FakeOutput, Screen, until } from "./fake_tty.ts";
import { startTcpProxy, startTestServer, TestClient } from "./test_util.ts";

const COLUMNS = 60;

Deno.test("client on a terminal: rooms, and a half-typed line kept across a reconnect", async (t) => {
  await using server = await startTestServer();
  await using proxy = startTcpProxy(server.port);
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.sendFrame({ type: "join", room: "#dev" });
  const stdin = new FakeInput(true);
  const stdout = new FakeOutput(true);
  const stderr = new FakeOutput(false);
  const exit = runClient({
    hostname: "127.0.0.1",
    port: proxy.port,
    nick: "alice",
    stdin,
    stdout,
    stderr,
    color: false,
    columns: () => COLUMNS,
    backoff: () => 20,
  });
  const lines = () => {
    const screen = new Screen(COLUMNS);
    screen.write(stdout.text);
    return screen.lines().filter((l) => l !== "");
  };
  const shows = (line: string) => until(() => lines().includes(line), `"${line}"`, 10_000);
  const prompt = () => lines().at(-1);

  await t.step("the prompt shows the current room", async () => {
    await shows("alice #lobby>");
  });

  await t.step("a line pasted right after /join goes to the new room", async () => {
    stdin.type("/join #dev\rhello dev\r");
    const frame = await bob.expectFrame((f) => f.type === "message" && f.text === "hello dev");
    assert.equal(frame.type === "message" && frame.room, "#dev");
    await shows("alice: hello dev");
    await shows("alice #dev>");
  });

  await t.step("lines from two rooms print above a half-typed line", async () => {
    stdin.type("half typed");
    await shows("alice #dev> half typed");
    await bob.sendFrame({ type: "say", room: "#lobby", text: "in the lobby" });
    await bob.sendFrame({ type: "say", room: "#dev", text: "in dev" });
    await shows("[#lobby] bob: in the lobby");
    await shows("bob: in dev");
    assert.equal(prompt(), "alice #dev> half typed");
  });

  await t.step("a reconnect keeps the half-typed line and shows what was missed", async () => {
    proxy.cut({ hold: true });
    await shows("* connection lost; reconnecting in 0.0 s…");
    assert.equal(prompt(), "alice #dev (offline)> half typed");
    await bob.expectFrame((f) => f.type === "left" && f.nick === "alice");
    await bob.sendFrame({ type: "say", room: "#dev", text: "missed", ref: "m" });
    await bob.expectFrame((f) => f.type === "ack" && f.ref === "m");
    proxy.restore();
    await shows("* reconnected as alice; 2 online");
    await shows("bob: missed");
    assert.equal(prompt(), "alice #dev> half typed");
    stdin.type(" and sent\r");
    const frame = await bob.expectFrame((f) => f.type === "message" && f.from === "alice");
    assert.equal(frame.type === "message" && frame.text, "half typed and sent");
    await shows("alice: half typed and sent");
  });

  await t.step("/quit exits 0 without reconnecting", async () => {
    const accepted = proxy.accepted;
    stdin.type("/quit\r");
    assert.equal(await exit, 0);
    assert.equal(proxy.accepted, accepted);
    assert.equal(stderr.text, "");
    assert.equal(lines().filter((l) => l === "bob: missed").length, 1);
  });
});
