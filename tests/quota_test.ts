// Quotas against one user exhausting shared tables (issue 11): room creation
// per connection and per address with refill, a per-address share of the
// room cap, expiry of empty rooms without history, and a cap on stored resume
// tokens. Real server subprocess, real sockets.

import assert from "@chat/assert";
import { ResumeState, type ServerFrame } from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

/** Joins `rooms` (and parts each), returning the error code or "ok" for each. */
async function create(client: TestClient, rooms: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const room of rooms) {
    await client.sendFrame({ type: "join", room });
    const f = await client.expectFrame((f) =>
      f.type === "error" || (f.type === "room" && f.room?.toLowerCase() === room.toLowerCase())
    );
    out.push(f.type === "error" ? f.code : "ok");
    if (f.type !== "error") await client.sendFrame({ type: "part", room });
  }
  return out;
}

async function roomNames(client: TestClient): Promise<string[]> {
  await client.sendFrame({ type: "rooms" });
  const names: string[] = [];
  while (true) {
    const page = await client.expectFrame((f) => f.type === "rooms") as Extract<
      ServerFrame,
      { type: "rooms" }
    >;
    names.push(...page.rooms.map((r) => r.name));
    if (!page.more) return names;
  }
}

Deno.test("quota: room creation per connection and per address, joining stays free", async (t) => {
  await using server = await startTestServer(["--room-quota", "3", "--room-refill", "3600"]);
  await using a = await TestClient.joinJson(server.port, "a");

  await t.step("a connection creates 3 rooms, then room_quota", async () => {
    assert.deepEqual(await create(a, ["#a1", "#a2", "#a3", "#a4"]), [
      "ok",
      "ok",
      "ok",
      "room_quota",
    ]);
    const refusal = a.lines.seen.map((l) => JSON.parse(l) as ServerFrame)
      .find((f) => f.type === "error" && f.code === "room_quota");
    assert.match(refusal?.type === "error" ? refusal.message : "", /another in \d+ s/);
  });

  await t.step("existing rooms can still be joined", async () => {
    assert.deepEqual(await create(a, ["#a1", "#lobby"]), ["ok", "ok"]);
  });

  await t.step("the address as a whole gets three times the quota", async () => {
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      await using other = await TestClient.joinJson(server.port, `b${i}`);
      results.push(...await create(other, [`#b${i}x`, `#b${i}y`, `#b${i}z`]));
    }
    // 3 by `a` and 6 more from the same address: the 10th creation is refused.
    assert.deepEqual(results, [
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "room_quota",
      "room_quota",
      "room_quota",
    ]);
  });
});

Deno.test("quota: one address holds at most a tenth of the room cap", async () => {
  await using server = await startTestServer(["--room-quota", "400", "--room-refill", "3600"]);
  const codes: string[] = [];
  for (let c = 0; c < 3; c++) {
    await using client = await TestClient.joinJson(server.port, `c${c}`);
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const room = `#r${c}-${i}`;
      lines.push(JSON.stringify({ type: "join", room }), JSON.stringify({ type: "part", room }));
    }
    await client.write(lines.join("\n") + "\n");
    await client.sendFrame({ type: "ping", token: "done" });
    await client.expectFrame((f) => f.type === "pong" && f.token === "done", 60_000);
    for (const line of client.lines.seen) {
      const f = JSON.parse(line) as ServerFrame;
      if (f.type === "error" && f.code !== "no_such_room") codes.push(f.message); // its part
    }
  }
  // 10,000 rooms per server: 1000 from one address, the 200 beyond refused.
  assert.equal(codes.length, 200, codes.slice(0, 3).join("\n"));
  assert.ok(codes.every((m) => /the most one address may hold/.test(m)), codes[0]);
});

Deno.test("quota: empty rooms without history expire, with their topic; rooms with history stay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_quota_test_" });
  try {
    const db = `${dir}/chat.db`;
    {
      await using server = await startTestServer(["--db", db, "--room-expiry", "1"]);
      await using a = await TestClient.joinJson(server.port, "a");
      await a.sendFrame({ type: "join", room: "#tmp" });
      await a.sendFrame({ type: "topic", text: "x".repeat(300) });
      await a.sendFrame({ type: "part" });
      await a.sendFrame({ type: "join", room: "#kept" });
      await a.sendFrame({ type: "say", text: "history", ref: "h" });
      await a.expectFrame((f) => f.type === "ack" && f.ref === "h");
      await a.sendFrame({ type: "part" });
      await server.log.expect(/expired 1 empty rooms without history/, 20_000);
      const names = await roomNames(a);
      assert.ok(names.includes("#kept") && !names.includes("#tmp"), names.join(" "));
      await server.stop();
    }
    await using server = await startTestServer(["--db", db, "--room-expiry", "0"]);
    await using b = await TestClient.joinJson(server.port, "b");
    const names = await roomNames(b);
    assert.ok(names.includes("#kept") && !names.includes("#tmp"), names.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("quota: --max-resume-tokens keeps only the most recently seen tokens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_quota_test_" });
  try {
    const db = `${dir}/chat.db`;
    const states: ResumeState[] = [];
    {
      await using server = await startTestServer(["--db", db]);
      for (const nick of ["t1", "t2", "t3"]) {
        const state = new ResumeState();
        await using c = await TestClient.connect(server.port);
        await c.sendFrame(state.hello(nick));
        state.observe(await c.expectFrame((f) => f.type === "welcome"));
        states.push(state);
        c.close();
        await server.log.expect(new RegExp(`disconnect ${nick} `));
      }
      await server.stop();
    }
    await using server = await startTestServer(["--db", db, "--max-resume-tokens", "2"]);
    const outcomes: string[] = [];
    for (const [i, state] of states.entries()) {
      await using c = await TestClient.connect(server.port);
      await c.sendFrame(state.hello(`fresh${i}`));
      const f = await c.expectFrame((f) =>
        f.type === "welcome" || (f.type === "error" && f.code === "resume_failed")
      );
      outcomes.push(f.type === "welcome" && f.resumed ? "resumed" : "refused");
    }
    assert.deepEqual(outcomes, ["refused", "resumed", "resumed"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
