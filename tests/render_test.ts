// Unit tests of rendering: the mono theme is exactly the plain-text format,
// the colour theme colours nicknames stably, and control characters never
// reach the terminal raw.

import assert from "@chat/assert";
import { formatPlainText, type ServerFrame } from "../protocol/mod.ts";
import {
  COLOR_THEME,
  MONO_THEME,
  NICK_PALETTE,
  nickColor,
  renderError,
  renderFrame,
  renderNotice,
  shouldUseColor,
} from "../client/render.ts";

const FRAMES: ServerFrame[] = [
  { type: "welcome", version: 1, nick: "alice", server: "chat", online: 3 },
  { type: "message", from: "bob", text: "hello\nsecond line", ts: 1 },
  { type: "action", from: "bob", text: "waves", ts: 1 },
  { type: "private", from: "bob", to: "alice", text: "psst", ts: 1 },
  { type: "private", from: "alice", to: "bob", text: "hi", ts: 1 },
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
