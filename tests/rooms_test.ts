// End-to-end tests of rooms: the real server subprocess, real TCP clients in
// both wire formats.

import assert from "@chat/assert";
import { startTestServer, TestClient } from "./test_util.ts";

Deno.test("rooms: messages reach only the room's members", async (t) => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await using carol = await TestClient.joinText(server.port, "carol");

  await t.step("/join creates the room, announces it and makes it current", async () => {
    await alice.send("/join #Dev");
    await alice.lines.expect("* alice joined #Dev");
    await alice.lines.expect("* now talking in #Dev (1 member)");
    await bob.sendFrame({ type: "join", room: "#dev" }); // any case
    await bob.expectFrame((f) => f.type === "room" && f.room === "#Dev" && f.members === 2);
    await alice.lines.expect("* bob joined #Dev");
  });

  await t.step("a room message reaches members only", async () => {
    await alice.send("dev talk");
    const frame = await bob.expectFrame((f) => f.type === "message");
    assert.equal(frame.type === "message" && frame.room, "#Dev");
    assert.equal(frame.type === "message" && frame.text, "dev talk");
    await carol.send("lobby talk");
    // alice is still in #lobby, which is not her current room: prefixed.
    await alice.lines.expect("[#lobby] carol: lobby talk");
    await bob.expectFrame((f) => f.type === "message" && f.room === "#lobby");
    await carol.send("/who");
    await carol.lines.expect("* online (3): alice, bob, carol");
    assert.ok(!carol.lines.seen.some((l) => l.includes("dev talk")));
  });

  await t.step("JSON clients pick the room per frame", async () => {
    await bob.sendFrame({ type: "say", room: "#lobby", text: "to the lobby" });
    await carol.lines.expect("bob: to the lobby");
    await alice.lines.expect("[#lobby] bob: to the lobby");
    await bob.sendFrame({ type: "say", room: "#nowhere", text: "x" });
    await bob.expectFrame((f) => f.type === "error" && f.code === "no_such_room");
  });

  await t.step("/who, /topic and /rooms per room", async () => {
    await alice.send("/who");
    await alice.lines.expect("* online in #Dev (2): alice (op), bob");
    await carol.send("/who #dev");
    await carol.lines.expect("* online in #Dev (2): alice (op), bob");
    await alice.send("/topic the dev room");
    await alice.lines.expect("* alice set the topic of #Dev: the dev room");
    await bob.expectFrame((f) =>
      f.type === "topic" && f.topic === "the dev room" && f.by === "alice"
    );
    await alice.send("/topic");
    await alice.lines.expect("* topic of #Dev: the dev room");
    await carol.send("/topic");
    await carol.lines.expect("* #lobby has no topic");
    await carol.send("/rooms");
    await carol.lines.expect("* rooms (2):");
    await carol.lines.expect("  #Dev (2): the dev room");
    await carol.lines.expect("  #lobby (3)");
  });

  await t.step("/join of a room you are in switches to it; /part leaves", async () => {
    await alice.send("/join #lobby");
    await alice.lines.expect("* now talking in #lobby (3 members)");
    await bob.sendFrame({ type: "say", room: "#dev", text: "back in dev" });
    await alice.lines.expect("[#Dev] bob: back in dev");
    await alice.send("/part #dev");
    await alice.lines.expect("* alice left #Dev");
    await bob.expectFrame((f) => f.type === "left" && f.room === "#Dev" && f.reason === "part");
    await bob.sendFrame({ type: "say", room: "#dev", text: "alone" });
    await bob.sendFrame({ type: "who", room: "#dev" });
    await bob.expectFrame((f) => f.type === "who" && f.nicks.join() === "bob");
    await alice.send("/part #dev");
    await alice.lines.expect("! you are not in #Dev: /join #Dev first");
    assert.ok(!alice.lines.seen.some((l) => l.includes("alone")));
  });

  await t.step("bad room names are refused", async () => {
    await alice.send("/join #" + "x".repeat(33));
    await alice.lines.expect(/^! room name .* is invalid/);
    await alice.send("/join #a.b");
    await alice.lines.expect(/^! room name .* is invalid/);
  });
});

Deno.test("rooms: /reply answers the last private message, from anywhere", async () => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await alice.send("/reply nobody yet");
  await alice.lines.expect("! no one has sent you a private message yet");
  await bob.sendFrame({ type: "join", room: "#elsewhere" });
  await bob.expectFrame((f) => f.type === "room" && f.room === "#elsewhere");
  await bob.sendFrame({ type: "msg", to: "alice", text: "psst", ref: "m1" });
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "m1");
  await alice.lines.expect("[private] bob: psst");
  await alice.send("/reply got it");
  await alice.lines.expect("[private to bob] got it");
  await bob.expectFrame((f) => f.type === "private" && f.from === "alice" && f.text === "got it");
  await bob.sendFrame({ type: "reply", text: "good" });
  await alice.lines.expect("[private] bob: good");
});

Deno.test("rooms: a room over --announce-limit stops announcing joins and leaves", async () => {
  await using server = await startTestServer(["--announce-limit", "2"]);
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinText(server.port, "bob");
  await alice.lines.expect("* bob joined the chat");
  const carol = await TestClient.joinText(server.port, "carol");
  await carol.send("hi from the crowd");
  await alice.lines.expect("carol: hi from the crowd");
  await carol.send("/quit");
  await carol.lines.expectEnd();
  await bob.send("still two of us");
  await alice.lines.expect("bob: still two of us");
  assert.ok(!alice.lines.seen.some((l) => l.startsWith("* carol")), alice.lines.seen.join("\n"));
  await bob.send("/quit");
  await alice.lines.expect("* bob left the chat");
});
