// Replies that never drop the asker (issue 11): join replay, resume replay,
// /history, /rooms and /who bigger than the send queue arrive whole, a page at
// a time as the client reads; a resume too far behind says resume_truncated.
// Real server subprocess, real sockets.

import assert from "@chat/assert";
import { ResumeState, type ServerFrame } from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

const QUEUE = ["--send-queue", "262144"];

/** Posts `count` messages of about `size` bytes from a JSON client and waits for the last ack. */
async function post(
  client: TestClient,
  count: number,
  size: number,
  label: string,
  room?: string,
): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const text = `${label} ${i} `.padEnd(size, "x");
    lines.push(
      JSON.stringify({ type: "say", text, ref: `${label}${i}`, ...(room ? { room } : {}) }),
    );
  }
  await client.write(lines.join("\n") + "\n");
  await client.expectFrame((f) => f.type === "ack" && f.ref === `${label}${count - 1}`, 30_000);
}

/** The next frame of one type, typed. */
async function next<T extends ServerFrame["type"]>(
  client: TestClient,
  type: T,
): Promise<Extract<ServerFrame, { type: T }>> {
  return await client.expectFrame((f) => f.type === type, 30_000) as Extract<
    ServerFrame,
    { type: T }
  >;
}

/** Joins as `nick` over JSON, drops the connection, and returns what a resume needs. */
async function joinAndDrop(port: number, witness: TestClient, nick: string): Promise<ResumeState> {
  const state = new ResumeState();
  const client = await TestClient.connect(port);
  await client.sendFrame(state.hello(nick));
  state.observe(await client.expectFrame((f) => f.type === "welcome"));
  await client[Symbol.asyncDispose]();
  await witness.expectFrame((f) => f.type === "left" && f.nick === nick);
  return state;
}

function frames(client: TestClient): ServerFrame[] {
  return client.lines.seen.flatMap((l) => {
    try {
      return [JSON.parse(l) as ServerFrame];
    } catch {
      return [];
    }
  });
}

function texts(client: TestClient, history: boolean): string[] {
  return frames(client).filter((f) => f.type === "message" && (f.history === true) === history)
    .map((f) => f.type === "message" ? f.text.split(" ").slice(0, 2).join(" ") : "");
}

Deno.test("replies: a resume that missed more than the send queue gets every message", async () => {
  await using server = await startTestServer(QUEUE);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const state = await joinAndDrop(server.port, bob, "alice");
  await post(bob, 120, 4000, "missed"); // ~480 KB, almost twice the queue

  await using again = await TestClient.connect(server.port);
  await again.sendFrame(state.hello("alice"));
  const welcome = await again.expectFrame((f) => f.type === "welcome");
  assert.ok(welcome.type === "welcome" && welcome.resumed);
  await again.expectFrame((f) => f.type === "message" && f.text.startsWith("missed 119 "), 30_000);
  await bob.sendFrame({ type: "say", text: "live" });
  await again.expectFrame((f) => f.type === "message" && f.text === "live");
  const got = texts(again, false);
  assert.deepEqual(got, [...Array.from({ length: 120 }, (_, i) => `missed ${i}`), "live"]);
  assert.ok(!server.log.seen.some((l) => l.includes("drop alice")));
});

Deno.test("replies: /history 1000 in a busy room arrives whole", async () => {
  await using server = await startTestServer(QUEUE);
  await using bob = await TestClient.joinJson(server.port, "bob");
  await post(bob, 1000, 600, "old"); // ~600 KB
  await using carol = await TestClient.joinJson(server.port, "carol");
  await carol.expectFrame((f) => f.type === "history" && f.count === 50);
  await carol.sendFrame({ type: "history", before: Number.MAX_SAFE_INTEGER, limit: 1000 });
  const end = await carol.expectFrame((f) => f.type === "history" && f.count === 1000, 30_000);
  assert.ok(end.type === "history" && end.more === false);
  const replayed = texts(carol, true).slice(50);
  assert.deepEqual(replayed, Array.from({ length: 1000 }, (_, i) => `old ${i}`));
  await bob.sendFrame({ type: "say", text: "still here?" });
  await carol.expectFrame((f) => f.type === "message" && f.text === "still here?");
});

Deno.test("replies: joining three rooms with long histories in one write (plain text)", async () => {
  await using server = await startTestServer(QUEUE);
  await using bob = await TestClient.joinJson(server.port, "bob");
  for (const room of ["#a", "#b", "#c"]) {
    await bob.sendFrame({ type: "join", room });
    await post(bob, 50, 4000, room.slice(1), room); // 3 × ~200 KB
  }
  await using dave = await TestClient.joinText(server.port, "dave");
  await dave.write("/join #a\n/join #b\n/join #c\n");
  for (const room of ["#a", "#b", "#c"]) {
    await dave.lines.expect(`* now talking in ${room} (2 members)`, 30_000);
    await dave.lines.expect(`* 50 earlier messages in ${room}`, 30_000);
  }
  const shown = dave.lines.seen.filter((l) => /^\[\d\d:\d\d\] (\[#.\] )?bob: /.test(l));
  assert.equal(shown.length, 150);
  await bob.sendFrame({ type: "say", room: "#c", text: "and live" });
  await dave.lines.expect("bob: and live");
});

Deno.test("replies: /rooms with a thousand rooms (~330 KB) pages, says the total, keeps the asker", async () => {
  await using server = await startTestServer([...QUEUE, "--room-quota", "0"]);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) {
    lines.push(JSON.stringify({ type: "join", room: `#room-${String(i).padStart(4, "0")}` }));
    lines.push(JSON.stringify({ type: "topic", text: `topic ${i} `.padEnd(300, "t") }));
    lines.push(JSON.stringify({ type: "part" }));
  }
  await bob.write(lines.join("\n") + "\n");
  await bob.expectFrame((f) => f.type === "left" && f.room === "#room-0999", 60_000);
  await using erin = await TestClient.joinJson(server.port, "erin");
  await erin.sendFrame({ type: "rooms" });
  const pages: Extract<ServerFrame, { type: "rooms" }>[] = [];
  while (true) {
    const page = await next(erin, "rooms");
    pages.push(page);
    if (!page.more) break;
  }
  assert.ok(pages.length > 1);
  assert.ok(pages.every((p) => p.total === 1001));
  const names = pages.flatMap((p) => p.rooms.map((r) => r.name));
  assert.equal(names.length, 1001);
  assert.equal(new Set(names).size, 1001);
  await bob.sendFrame({ type: "say", text: "hi erin" });
  await erin.expectFrame((f) => f.type === "message" && f.text === "hi erin");
});

Deno.test("replies: /who in a crowded room pages and says the total (plain text)", async () => {
  await using server = await startTestServer(["--max-per-ip", "0"]);
  const crowd: TestClient[] = [];
  try {
    for (let i = 0; i < 210; i++) crowd.push(await TestClient.joinText(server.port, `u${i}`));
    await using who = await TestClient.joinJson(server.port, "asker");
    await who.sendFrame({ type: "who" });
    const first = await next(who, "who");
    const second = await next(who, "who");
    assert.equal(first.total, 211);
    assert.equal(first.more, true);
    assert.equal(second.offset, first.nicks.length);
    assert.equal(first.nicks.length + second.nicks.length, 211);
    assert.equal(second.more, undefined);
    await crowd[0]!.send("/who");
    await crowd[0]!.lines.expect(/^\* online \(211\): /);
    await crowd[0]!.lines.expect(/^ {2}u\d+, /);
  } finally {
    for (const c of crowd) await c[Symbol.asyncDispose]();
  }
});

Deno.test("replies: a resume too far behind says resume_truncated and where it stopped", async () => {
  await using server = await startTestServer(["--resume-replay", "30"]);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const state = await joinAndDrop(server.port, bob, "alice");
  await post(bob, 50, 10, "m");

  await using again = await TestClient.connect(server.port);
  await again.sendFrame(state.hello("alice"));
  const cut = await next(again, "resume_truncated");
  const replayed = frames(again).filter((f) => f.type === "message").map((f) =>
    f.type === "message" ? f.id : 0
  );
  assert.equal(replayed.length, 30);
  assert.equal(cut.last_id, replayed.at(-1));
  assert.ok(cut.live_from > cut.last_id + 1);
  await bob.sendFrame({ type: "say", text: "live", ref: "l" });
  const ack = await bob.expectFrame((f) => f.type === "ack" && f.ref === "l");
  const live = await again.expectFrame((f) => f.type === "message" && f.text === "live");
  assert.ok(live.type === "message" && ack.type === "ack" && live.id === ack.id);
  assert.ok(ack.type === "ack" && ack.id >= cut.live_from);
});

Deno.test("replies: /search of long messages answers within the reply budget and pages the rest", async () => {
  await using server = await startTestServer([...QUEUE, "--flood-rate", "0"]);
  await using bob = await TestClient.joinJson(server.port, "bob");
  // JSON escapes every quote: 100 matches would be ~800 KB in one frame.
  const lines = Array.from(
    { length: 100 },
    (_, i) =>
      JSON.stringify({ type: "say", text: `needle ${i} ${'"'.repeat(4000)}`, ref: `n${i}` }),
  );
  await bob.write(lines.join("\n") + "\n");
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "n99", 30_000);
  await using carol = await TestClient.joinJson(server.port, "carol");
  const found: number[] = [];
  let before: number | undefined;
  let pages = 0;
  while (true) {
    await carol.sendFrame({
      type: "search",
      text: "needle",
      limit: 100,
      ...(before ? { before } : {}),
    });
    const line = await carol.lines.expect((l) => l.startsWith('{"type":"search_results"'), 30_000);
    assert.ok(line.length < 64 * 1024, `a page of ${line.length} bytes`);
    const page = JSON.parse(line) as Extract<ServerFrame, { type: "search_results" }>;
    pages++;
    found.push(...page.results.map((r) => r.id!));
    if (!page.more) break;
    before = page.results.at(-1)!.id;
  }
  assert.ok(pages > 1);
  assert.equal(found.length, 100);
  assert.equal(new Set(found).size, 100);
  await bob.sendFrame({ type: "say", text: "still here?" });
  await carol.expectFrame((f) => f.type === "message" && f.text === "still here?");
  assert.ok(!server.log.seen.some((l) => l.includes("drop carol")));
});
