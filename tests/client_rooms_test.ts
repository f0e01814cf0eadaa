// Rooms and history in the piped terminal client, end to end: its output is
// exactly the server's plain-text format, as a plain-text (nc) user in the
// same rooms would see it.

import assert from "@chat/assert";
import { startClient, startTestServer, TestClient } from "./test_util.ts";

Deno.test("client: rooms and history in piped mode read like plain text", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");
  await using carol = await TestClient.joinJson(server.port, "carol");
  await bob.send("/join #ops");
  await bob.send("earlier in ops");
  await bob.lines.expect("* now talking in #ops (1 member)");
  await using alice = startClient(server.port, ["--nick", "alice"]);
  await alice.stdout.expect(/^\* welcome, alice!/);

  await t.step("/join shows the new room, and lines go to it", async () => {
    await alice.send("/join #dev");
    await alice.stdout.expect("* now talking in #dev (1 member)");
    await bob.send("/join #dev");
    await alice.stdout.expect("* bob joined #dev");
    await alice.send("hello dev");
    await bob.lines.expect("alice: hello dev");
    await carol.sendFrame({ type: "say", text: "lunch?" });
    await alice.stdout.expect("[#lobby] carol: lunch?");
    await bob.send("in dev");
    await alice.stdout.expect("bob: in dev");
  });

  await t.step("carol in the lobby does not get #dev lines", async () => {
    await carol.sendFrame({ type: "who", room: "#lobby" });
    await carol.expectFrame((f) => f.type === "who");
    assert.ok(!carol.lines.seen.some((l) => l.includes("hello dev")));
  });

  await t.step("/join of a room you are in switches to it", async () => {
    await alice.send("/join #lobby");
    await alice.stdout.expect("* now talking in #lobby (3 members)");
    await bob.send("again in dev");
    await alice.stdout.expect("[#dev] bob: again in dev");
    await carol.sendFrame({ type: "say", text: "back in the lobby" });
    await alice.stdout.expect("carol: back in the lobby");
  });

  await t.step("joining a room replays its history with UTC times", async () => {
    await alice.send("/join #ops");
    await alice.stdout.expect("* now talking in #ops (2 members)");
    await alice.stdout.expect(/^\[\d\d:\d\d\] bob: earlier in ops$/);
    await alice.stdout.expect("* 1 earlier message in #ops");
    await alice.send("/history");
    await alice.stdout.expect("* no earlier messages in #ops");
  });

  await t.step("/part makes the most recently joined remaining room current", async () => {
    await alice.send("/part");
    await alice.stdout.expect("* alice left #ops");
    await alice.stdout.expect("* now talking in #dev (2 members)");
    await carol.sendFrame({ type: "say", text: "lobby again" });
    await alice.stdout.expect("[#lobby] carol: lobby again");
  });

  await alice.send("/quit");
  assert.equal((await alice.exit()).code, 0);
  assert.deepEqual(alice.stderr.seen, []);
});
