// The cap on server-wide bans (MAX_SERVER_BANS, 10,000), checked with a small
// cap on the socket-free Hub and Session: past it a new ban gets
// `too_many_bans`; replacing a ban or lifting one makes room. (Room bans'
// cap is checked end to end in moderation_test.ts.)

import assert from "@chat/assert";
import { Moderation } from "../server/core/moderation.ts";
import { Hub, Session, type Transport } from "../server/mod.ts";

const decoder = new TextDecoder();

/** A transport that keeps the frames sent to it. */
class Recorder implements Transport {
  readonly remote = "test";
  readonly lines: string[] = [];
  send(bytes: Uint8Array): void {
    this.lines.push(...decoder.decode(bytes).split("\n").filter((l) => l !== ""));
  }
  close(): void {}
  /** The frames received since the last call. */
  take(): Record<string, unknown>[] {
    return this.lines.splice(0).map((l) => JSON.parse(l));
  }
}

Deno.test("Moderation: server-wide bans are capped (too_many_bans); replacing or lifting one makes room", () => {
  const hub = new Hub();
  const moderation = new Moderation(hub, { maxServerBans: 3 });
  const transport = new Recorder();
  const op = new Session(hub, transport, "json");
  op.receiveLine(JSON.stringify({ type: "hello", version: 1, nick: "op" }));
  transport.take();
  const ban = (target: string) => {
    moderation.ban(op, undefined, target, undefined, "spam");
    return transport.take().map((f) => f.type === "error" ? f.code : f.action);
  };
  try {
    assert.deepEqual(["10.0.0.1", "10.0.0.2", "10.0.1.0/24"].map(ban), [
      ["ban"],
      ["ban"],
      ["ban"],
    ]);
    const refused = (() => {
      moderation.ban(op, undefined, "10.0.0.4", undefined, undefined);
      return transport.take();
    })();
    assert.deepEqual(refused.map((f) => [f.type, f.code, f.message]), [[
      "error",
      "too_many_bans",
      "this server has 3 server-wide bans, the most it may hold: lift one first",
    ]]);
    assert.equal(moderation.list(undefined).length, 3);
    // A ban of a target banned already replaces it: always allowed.
    assert.deepEqual(ban("10.0.1.0/24"), ["ban"]);
    moderation.unban(op, undefined, "10.0.0.2");
    assert.deepEqual(transport.take().map((f) => f.action), ["unban"]);
    assert.deepEqual(ban("10.0.0.4"), ["ban"]);
    assert.deepEqual(ban("10.0.0.5"), ["too_many_bans"]);
    assert.deepEqual(
      moderation.list(undefined).map((b) => b.target),
      ["10.0.0.1", "10.0.1.0/24", "10.0.0.4"],
    );
    // Room bans have their own cap (MAX_ROOM_BANS), not this one.
    moderation.ban(op, hub.lobby!, "10.0.0.5", undefined, undefined);
    assert.deepEqual(moderation.list(hub.lobby!).map((b) => b.target), ["10.0.0.5"]);
  } finally {
    moderation.close();
    hub.close();
  }
});
