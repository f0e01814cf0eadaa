// Unit tests of the pure reconnect helpers (protocol/reconnect.ts).

import assert from "@chat/assert";
import { backoffDelay, ResumeState } from "../protocol/mod.ts";

Deno.test("backoffDelay() doubles from 1 s to 30 s", () => {
  const mid = { random: () => 0.5 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, mid)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
});

Deno.test("backoffDelay() jitters within ±20% and never exceeds the cap", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 800);
  assert.equal(backoffDelay(0, { random: () => 0.999999 }), 1200);
  assert.equal(backoffDelay(9, { random: () => 0.999999 }), 30000);
  assert.equal(backoffDelay(9, { random: () => 0 }), 24000);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(i % 8);
    assert.ok(d >= 800 && d <= 30000, String(d));
  }
});

Deno.test("backoffDelay() refuses a negative attempt", () => {
  assert.throws(() => backoffDelay(-1), RangeError);
  assert.throws(() => backoffDelay(1.5), RangeError);
});

Deno.test("ResumeState tracks the token and the highest id, and stops after quit", () => {
  const state = new ResumeState();
  assert.deepEqual(state.hello("alice"), { type: "hello", version: 1, nick: "alice" });
  state.observe({
    type: "welcome",
    version: 1,
    nick: "alice",
    server: "chat",
    online: 1,
    resume: "tok",
  });
  state.observe({ type: "message", id: 7, room: "#lobby", from: "bob", text: "hi", ts: 0 });
  state.observe({ type: "ack", id: 9, ts: 0 });
  state.observe({
    type: "message",
    id: 3,
    room: "#lobby",
    from: "bob",
    text: "old",
    ts: 0,
    history: true,
  });
  assert.equal(state.lastId, 9);
  assert.deepEqual(state.hello("alice"), {
    type: "hello",
    version: 1,
    nick: "alice",
    resume: "tok",
    last_id: 9,
  });
  state.observe({ type: "error", code: "resume_failed", message: "no" });
  assert.equal(state.token, undefined);
  assert.equal(state.quitting, false);
  state.sent({ type: "quit" });
  assert.equal(state.quitting, true);
});
