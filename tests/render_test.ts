// Unit tests of rendering: the mono theme is exactly the plain-text format,
// the colour theme colours nicknames stably, and control characters never
// reach the terminal raw.

import assert from "@chat/assert";
import { formatPlainText, type ServerFrame } from "../protocol/mod.ts";
import { DENO_DIR } from "./test_util.ts";
import {
  COLOR_THEME,
  MONO_THEME,
  NICK_PALETTE,
  nickColor,
  renderError,
  renderFrame,
  renderNotice,
  renderPrompt,
  roomColor,
  shouldUseColor,
} from "../client/render.ts";

const FRAMES: ServerFrame[] = [
  { type: "welcome", version: 1, nick: "alice", server: "chat", online: 3 },
  { type: "message", from: "bob", text: "hello\nsecond line", ts: 1 },
  { type: "action", from: "bob", text: "waves", ts: 1 },
  { type: "private", from: "bob", to: "alice", text: "psst", ts: 1 },
  { type: "private", from: "alice", to: "bob", text: "hi", ts: 1 },
  { type: "message", from: "bob", text: "build passed", ts: 1, notice: true },
  { type: "private", from: "bob", to: "alice", text: "psst", ts: 1, notice: true },
  { type: "joined", nick: "carol", ts: 1 },
  { type: "left", nick: "carol", reason: "quit", ts: 1 },
  { type: "renamed", from: "bob", to: "robert", ts: 1 },
  { type: "who", nicks: ["alice", "bob"] },
  { type: "help", commands: [{ usage: "/who", summary: "list who is online" }] },
  { type: "error", code: "nick_taken", message: 'nickname "bob" is taken' },
  { type: "bye", reason: "server is shutting down" },
];

// deno-lint-ignore no-control-regex -- stripping SGR sequences is the point
const stripSgr = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

Deno.test("renderFrame() with the mono theme is exactly formatPlainText()", () => {
  for (const frame of FRAMES) {
    assert.equal(
      renderFrame(frame, { theme: MONO_THEME, viewer: "alice" }),
      formatPlainText(frame, "alice"),
    );
  }
  assert.equal(renderFrame({ type: "ping", token: "x" }, { theme: MONO_THEME }), undefined);
});

Deno.test("a notice (IRC NOTICE) shows its sender between dashes", () => {
  const notice = { type: "message", from: "bob", text: "build passed", ts: 1, notice: true };
  assert.equal(formatPlainText(notice as ServerFrame), "-bob- build passed");
  assert.equal(
    formatPlainText({ ...notice, type: "private", to: "alice" } as ServerFrame, "alice"),
    "[private] -bob- build passed",
  );
});

Deno.test("renderFrame() with colours", async (t) => {
  const options = { theme: COLOR_THEME, viewer: "alice" };
  await t.step("reads the same as plain text once the colours are stripped", () => {
    for (const frame of FRAMES) {
      assert.equal(stripSgr(renderFrame(frame, options)!), formatPlainText(frame, "alice"));
    }
  });
  await t.step("colours a nickname with its stable colour", () => {
    const line = renderFrame({ type: "message", from: "bob", text: "hi", ts: 0 }, options)!;
    assert.equal(line, `\x1b[${nickColor("bob")}mbob\x1b[39m: hi`);
  });
  await t.step("highlights your own nickname in bold, without a palette colour", () => {
    const line = renderFrame({ type: "message", from: "Alice", text: "hi", ts: 0 }, options)!;
    assert.equal(line, "\x1b[1mAlice\x1b[22m: hi");
  });
  await t.step("dims notices", () => {
    const line = renderFrame({ type: "joined", nick: "carol", ts: 0 }, options)!;
    assert.ok(line.startsWith("\x1b[2m") && line.endsWith("\x1b[0m"), JSON.stringify(line));
  });
  await t.step("keeps a notice dim after your own bold nickname in it", () => {
    const line = renderFrame({ type: "joined", nick: "alice", ts: 0 }, options)!;
    assert.equal(line, "\x1b[2m* \x1b[1malice\x1b[22m\x1b[2m joined the chat\x1b[0m");
  });
  await t.step("shows errors in red", () => {
    const line = renderFrame({ type: "error", code: "usage", message: "usage: /who" }, options)!;
    assert.equal(line, "\x1b[31m! usage: /who\x1b[0m");
  });
});

Deno.test("renderFrame() never lets a control character through raw", () => {
  const evil = "\x1b[2J\x1b]0;pwned\x07bell\rreturn\u202eevil";
  const frames: ServerFrame[] = [
    { type: "message", from: "bob", text: evil, ts: 0 },
    { type: "action", from: "bob", text: evil, ts: 0 },
    { type: "private", from: "bob", to: "alice", text: evil, ts: 0 },
    { type: "error", code: "usage", message: evil },
    { type: "bye", reason: evil },
    { type: "message", from: "b\x1bob", text: "x", ts: 0 },
  ];
  for (const theme of [MONO_THEME, COLOR_THEME]) {
    for (const frame of frames) {
      const line = stripSgr(renderFrame(frame, { theme, viewer: "alice" })!);
      // deno-lint-ignore no-control-regex -- looking for raw control characters
      assert.doesNotMatch(line, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    }
  }
  assert.equal(
    renderFrame({ type: "message", from: "bob", text: "\x1b[31mred", ts: 0 }, {
      theme: COLOR_THEME,
    }),
    `\x1b[${nickColor("bob")}mbob\x1b[39m: ^[[31mred`,
  );
});

Deno.test("nickColor() is stable, case-insensitive and from the palette", () => {
  assert.equal(nickColor("alice"), nickColor("alice"));
  assert.equal(nickColor("Alice"), nickColor("ALICE"));
  const colors = new Set(
    ["alice", "bob", "carol", "dave", "eve", "漢字", "mallory"].map(nickColor),
  );
  for (const c of colors) assert.ok(NICK_PALETTE.includes(c));
  assert.ok(colors.size > 2, "different nicknames spread over the palette");
  assert.ok(!NICK_PALETTE.includes(31), "red is for errors");
});

Deno.test("shouldUseColor() needs a terminal and no NO_COLOR", () => {
  assert.equal(shouldUseColor({ noColor: false, isTerminal: true }), true);
  assert.equal(shouldUseColor({ noColor: true, isTerminal: true }), false);
  assert.equal(shouldUseColor({ noColor: false, isTerminal: false }), false);
});

Deno.test("renderError() and renderNotice() render local lines like server lines", () => {
  assert.equal(
    renderError("usage: /msg NICK TEXT", { theme: MONO_THEME }),
    "! usage: /msg NICK TEXT",
  );
  assert.equal(renderError("x\x07", { theme: COLOR_THEME }), "\x1b[31m! x^G\x1b[0m");
  assert.equal(renderNotice("reconnecting", { theme: MONO_THEME }), "* reconnecting");
  assert.equal(renderNotice("x", { theme: COLOR_THEME }), "\x1b[2m* x\x1b[0m");
});

Deno.test("renderFrame() with rooms, history and a current room", async (t) => {
  const ts = Date.UTC(2024, 0, 2, 14, 2);
  const frames: ServerFrame[] = [
    { type: "message", id: 1, room: "#dev", from: "bob", text: "hi\nthere", ts },
    { type: "message", id: 2, room: "#lobby", from: "bob", text: "here", ts },
    { type: "action", id: 3, room: "#dev", from: "bob", text: "waves", ts },
    { type: "message", id: 4, room: "#dev", from: "bob", text: "old", ts, history: true },
    { type: "message", id: 5, room: "#Lobby", from: "alice", text: "mine", ts, history: true },
    { type: "private", id: 6, from: "bob", to: "alice", text: "psst", ts, history: true },
    { type: "joined", nick: "carol", room: "#dev", ts },
    { type: "left", nick: "carol", room: "#dev", reason: "part", ts },
    { type: "left", nick: "carol", room: "#lobby", reason: "quit", ts },
    { type: "who", room: "#dev", nicks: ["alice", "bob"] },
    { type: "room", room: "#dev", topic: "release", members: 2 },
    { type: "room", room: null, topic: "", members: 0 },
    { type: "rooms", rooms: [{ name: "#dev", members: 2, topic: "release" }] },
    { type: "topic", room: "#dev", topic: "release", by: "bob", ts },
    { type: "history", room: "#dev", count: 2, more: true },
  ];
  const view = { viewer: "alice", currentRoom: "#lobby" };

  await t.step("mono is exactly formatPlainText() with the current room", () => {
    for (const frame of frames) {
      assert.equal(
        renderFrame(frame, { theme: MONO_THEME, ...view }),
        formatPlainText(frame, "alice", "#lobby"),
      );
    }
    assert.equal(
      renderFrame(frames[0]!, { theme: MONO_THEME, ...view }),
      "[#dev] bob: hi\n        there",
    );
    assert.equal(renderFrame(frames[1]!, { theme: MONO_THEME, ...view }), "bob: here");
    assert.equal(
      renderFrame(frames[3]!, { theme: MONO_THEME, ...view }),
      "[#dev] [14:02] bob: old",
    );
  });

  await t.step("colour reads the same once stripped", () => {
    for (const frame of frames) {
      assert.equal(
        stripSgr(renderFrame(frame, { theme: COLOR_THEME, ...view })!),
        formatPlainText(frame, "alice", "#lobby"),
      );
    }
  });

  await t.step("the room prefix is dim, the room in its own colour", () => {
    const line = renderFrame(frames[0]!, { theme: COLOR_THEME, ...view })!;
    assert.ok(
      line.startsWith(`\x1b[2m[\x1b[${roomColor("#dev")}m#dev\x1b[39m]\x1b[22m `),
      JSON.stringify(line),
    );
    assert.equal(roomColor("#DEV"), roomColor("#dev"));
  });

  await t.step("history lines are dimmed as a whole", () => {
    const line = renderFrame(frames[3]!, { theme: COLOR_THEME, ...view })!;
    assert.ok(line.startsWith("\x1b[2m") && line.endsWith("\x1b[0m"), JSON.stringify(line));
    const own = renderFrame(frames[4]!, { theme: COLOR_THEME, ...view })!;
    assert.equal(own, "\x1b[2m[14:02] \x1b[1malice\x1b[22m\x1b[2m: mine\x1b[0m");
    const live = renderFrame(frames[1]!, { theme: COLOR_THEME, ...view })!;
    assert.ok(!live.startsWith("\x1b[2m"));
  });

  await t.step("localTime shows history times in the local time zone, in either theme", () => {
    const date = new Date(ts);
    const local = `${String(date.getHours()).padStart(2, "0")}:${
      String(date.getMinutes()).padStart(2, "0")
    }`;
    for (const theme of [MONO_THEME, COLOR_THEME]) {
      const line = stripSgr(renderFrame(frames[3]!, { theme, ...view, localTime: true })!);
      assert.equal(line, `[#dev] [${local}] bob: old`);
      const dm = stripSgr(renderFrame(frames[5]!, { theme, ...view, localTime: true })!);
      assert.equal(dm, `[${local}] [private] bob: psst`);
    }
  });

  await t.step("without a current room there is no prefix", () => {
    assert.equal(renderFrame(frames[0]!, { theme: MONO_THEME }), "bob: hi\n     there");
    assert.equal(
      renderFrame(frames[0]!, { theme: MONO_THEME, currentRoom: null }),
      "[#dev] bob: hi\n        there",
    );
  });
});

Deno.test("renderPrompt() shows the nickname, the room and a status", () => {
  assert.deepEqual(renderPrompt("alice", "#lobby", { theme: MONO_THEME }), {
    plain: "alice #lobby> ",
    styled: "alice #lobby> ",
  });
  assert.equal(renderPrompt("alice", null, { theme: MONO_THEME }).plain, "alice> ");
  assert.equal(
    renderPrompt("alice", "#dev", { theme: MONO_THEME, status: "offline" }).plain,
    "alice #dev (offline)> ",
  );
  const styled = renderPrompt("alice", "#dev", { theme: COLOR_THEME, status: "offline" }).styled;
  assert.equal(stripSgr(styled), "alice #dev (offline)> ");
  assert.equal(
    styled,
    `\x1b[1malice\x1b[22m \x1b[2m\x1b[${roomColor("#dev")}m#dev\x1b[39m\x1b[22m` +
      "\x1b[2m (offline)\x1b[22m\x1b[1m>\x1b[0m ",
  );
  assert.equal(renderPrompt("a\x1bb", null, { theme: MONO_THEME }).plain, "a^[b> ");
});

Deno.test("localTime: history lines and search results in the local zone, not UTC (TZ=Asia/Kolkata)", async () => {
  // A zone 5:30 from UTC, in a process of its own (the zone is read once, at start).
  const render = new URL("../client/render.ts", import.meta.url).href;
  const code = `
    import { MONO_THEME, renderFrame } from ${JSON.stringify(render)};
    const old = { type: "message", room: "#dev", from: "bob", text: "old", ts: 0, history: true, id: 1 };
    const view = { theme: MONO_THEME, localTime: true };
    console.log(renderFrame(old, view));
    console.log(renderFrame({ type: "search_results", text: "old", results: [old], more: false }, view));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    env: { TZ: "Asia/Kolkata", DENO_DIR, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  assert.equal(
    new TextDecoder().decode(out.stdout),
    "[05:30] bob: old\n" +
      '* 1 message found for "old"\n' +
      "  [1970-01-01 05:30] [#dev] bob: old\n",
  );
});
