// Unit tests of the client's session state (client/state.ts): rooms and the
// current room, de-duplication across a resume, and rejoining after a resume
// that failed.

import assert from "@chat/assert";
import type { ServerFrame } from "../protocol/mod.ts";
import { ClientState, SEEN_IDS } from "../client/state.ts";

const WELCOME: ServerFrame = {
  type: "welcome",
  version: 1,
  nick: "alice",
  server: "chat",
  online: 2,
  room: "#lobby",
  resume: "token1",
};

function message(id: number, from = "bob", extra: Partial<ServerFrame> = {}): ServerFrame {
  return {
    type: "message",
    id,
    room: "#lobby",
    from,
    text: `m${id}`,
    ts: 0,
    ...extra,
  } as ServerFrame;
}

Deno.test("ClientState tracks the nickname, the rooms and the current room", () => {
  const state = new ClientState("alice");
  assert.equal(state.observe(WELCOME), true);
  assert.equal(state.currentRoom, "#lobby");
  state.observe({ type: "joined", nick: "alice", room: "#Dev", ts: 0 });
  state.observe({ type: "room", room: "#Dev", topic: "", members: 1 });
  state.observe({ type: "joined", nick: "bob", room: "#ops", ts: 0 });
  assert.deepEqual(state.rooms, ["#lobby", "#Dev"]);
  assert.equal(state.currentRoom, "#Dev");
  state.observe({ type: "renamed", from: "alice", to: "alicia", ts: 0 });
  assert.equal(state.nick, "alicia");
  state.observe({ type: "left", nick: "ALICIA", room: "#dev", reason: "part", ts: 0 });
  state.observe({ type: "room", room: "#lobby", topic: "", members: 2 });
  assert.deepEqual(state.rooms, ["#lobby"]);
  state.observe({ type: "left", nick: "alicia", room: "#lobby", reason: "part", ts: 0 });
  state.observe({ type: "room", room: null, topic: "", members: 0 });
  assert.equal(state.currentRoom, null);
  assert.deepEqual(state.rooms, []);
});

Deno.test("ClientState shows each live message id once", () => {
  const state = new ClientState("alice");
  state.observe(WELCOME);
  assert.equal(state.observe(message(5)), true);
  assert.equal(state.observe(message(5)), false);
  assert.equal(state.observe(message(4)), true, "an older id not seen yet still shows");
  assert.equal(state.observe(message(5, "bob", { history: true })), true, "history always shows");
  assert.equal(state.resume.lastId, 5);
  state.observe({ type: "ack", id: 9, ts: 0 });
  assert.equal(state.observe(message(9, "alice")), false, "an acked own message");
  assert.equal(state.resume.lastId, 9);
});

Deno.test("ClientState hides own room messages replayed by a resume, not own privates", () => {
  const state = new ClientState("alice");
  state.observe(WELCOME);
  assert.equal(state.observe(message(7, "Alice")), false);
  assert.equal(state.observe(message(8, "alice", { type: "action" })), false);
  const own: ServerFrame = { type: "private", id: 9, from: "alice", to: "bob", text: "x", ts: 0 };
  assert.equal(state.observe(own), true);
  assert.equal(state.observe(own), false);
});

Deno.test("ClientState remembers a bounded number of ids", () => {
  const state = new ClientState("alice");
  for (let id = 1; id <= SEEN_IDS + 1; id++) state.observe(message(id));
  assert.equal(state.observe(message(1)), true, "the oldest was forgotten");
  assert.equal(state.observe(message(SEEN_IDS)), false);
});

Deno.test("ClientState keeps its rooms across a resumed welcome, and rejoins after a fresh one", async (t) => {
  const state = new ClientState("alice");
  state.observe(WELCOME);
  state.observe({ type: "room", room: "#dev", topic: "", members: 1 });
  state.observe({ type: "room", room: "#ops", topic: "", members: 1 });
  state.observe({ type: "room", room: "#dev", topic: "", members: 1 });
  const rooms = state.rooms;
  const current = state.currentRoom;

  await t.step("resumed: nothing to do", () => {
    state.observe({ ...WELCOME, room: "#dev", resumed: true } as ServerFrame);
    assert.deepEqual(state.rooms, ["#lobby", "#dev", "#ops"]);
    assert.deepEqual(state.rejoin(rooms, current), []);
  });

  await t.step("fresh: join the other rooms, ending in the one that was current", () => {
    state.observe(WELCOME);
    assert.deepEqual(state.rooms, ["#lobby"]);
    assert.deepEqual(state.rejoin(rooms, current), [
      { type: "join", room: "#dev" },
      { type: "join", room: "#ops" },
      { type: "join", room: "#dev" },
    ]);
    assert.deepEqual(state.rejoin(["#lobby"], "#lobby"), []);
    assert.deepEqual(state.rejoin(["#lobby", "#ops"], "#ops"), [{ type: "join", room: "#ops" }]);
  });

  await t.step("a sent quit is noted, so the client does not reconnect", () => {
    assert.equal(state.resume.hello("alice").type, "hello");
    assert.ok("resume" in state.resume.hello("alice"));
    state.sent({ type: "quit" });
    assert.equal(state.resume.quitting, true);
  });
});
