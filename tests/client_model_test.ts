// Pure unit tests of the interactive client's parts: the window model,
// completion, mention matching, wrapping, nickname colours, settings, and
// the new keys.

import assert from "@chat/assert";
import fc from "fast-check";
import { has256Colors, NickColors, PALETTE_16, PALETTE_256 } from "../client/colors.ts";
import { Completer } from "../client/complete.ts";
import { configDir, ConfigError, parseSettings, stateDir, StateFiles } from "../client/config.ts";
import { KeyDecoder } from "../client/keys.ts";
import { mentions } from "../client/mention.ts";
import { displayWidth } from "../client/width.ts";
import { MAX_WINDOW_LINES, WindowList } from "../client/windows.ts";
import { wrap } from "../client/wrap.ts";

const encoder = new TextEncoder();

Deno.test("WindowList: the status window becomes the first room; unread, mentions, switching", () => {
  const windows = new WindowList();
  assert.equal(windows.current.kind, "status");
  windows.add(windows.current, { text: "* connecting", indent: 2, ts: 0 });
  const lobby = windows.open("room", "#lobby");
  assert.equal(windows.all.length, 1, "the status window was replaced");
  assert.deepEqual(lobby.lines.map((l) => l.text), ["* connecting"]);
  const dev = windows.open("room", "#Dev");
  assert.equal(windows.open("room", "#dev"), dev, "found again without regard to case");
  const bob = windows.open("query", "Bob");
  assert.equal(windows.find("query", "BOB"), bob);
  assert.equal(windows.current, lobby);
  assert.deepEqual(windows.add(dev, { text: "a", indent: 0, ts: 0 }), {
    alert: false,
    added: 1,
  });
  assert.deepEqual(windows.add(dev, { text: "b", indent: 0, ts: 0, highlight: true }), {
    alert: true,
    added: 1,
  });
  assert.deepEqual(windows.add(lobby, { text: "c", indent: 0, ts: 0, highlight: true }), {
    alert: false,
    added: 1,
  }, "the current window never alerts");
  assert.equal(dev.unread, 2);
  assert.equal(dev.mentioned, true);
  assert.equal(lobby.unread, 0);
  assert.equal(windows.selectNumber(2), true);
  assert.equal(windows.current, dev);
  assert.equal(dev.unread, 0);
  assert.equal(dev.mentioned, false);
  assert.equal(windows.selectNumber(9), false);
  windows.cycle(1);
  assert.equal(windows.current, bob);
  windows.cycle(1);
  assert.equal(windows.current, lobby, "wraps around");
  windows.cycle(-1);
  assert.equal(windows.current, bob);
  windows.close(bob);
  assert.equal(windows.current, dev, "the window before becomes current");
  windows.close(dev);
  windows.close(lobby);
  assert.equal(windows.all.length, 1);
  assert.equal(windows.current.kind, "status");
});

Deno.test("WindowList: scrollback is bounded, and a day change gets its own line", () => {
  const windows = new WindowList((ts) => `-- ${new Date(ts).toDateString()} --`);
  const room = windows.open("room", "#a");
  const day = 86_400_000;
  const noon = new Date(2026, 11, 1, 12).getTime();
  windows.add(room, { text: "one", indent: 0, ts: noon });
  windows.add(room, { text: "two", indent: 0, ts: noon + 60_000 });
  windows.add(room, { text: "three", indent: 0, ts: noon + day });
  assert.deepEqual(room.lines.map((l) => l.text), [
    "one",
    "two",
    `-- ${new Date(noon + day).toDateString()} --`,
    "three",
  ]);
  for (let i = 0; i < MAX_WINDOW_LINES + 10; i++) {
    windows.add(room, { text: `l${i}`, indent: 0, ts: noon + day });
  }
  assert.equal(room.lines.length, MAX_WINDOW_LINES);
  assert.equal(room.lines.at(-1)!.text, `l${MAX_WINDOW_LINES + 9}`);
  room.clear();
  assert.equal(room.lines.length, 0);
});

Deno.test("Completer: nicknames, commands, rooms; Tab again cycles", () => {
  const sources = {
    commands: ["/join", "/juggle", "/who"],
    rooms: ["#dev", "#design"],
    nicks: ["Bob", "bert", "carol"],
  };
  const c = new Completer();
  assert.deepEqual(c.complete("b", 1, sources), { text: "Bob: ", cursor: 5 });
  assert.deepEqual(c.complete("Bob: ", 5, sources), { text: "bert: ", cursor: 6 });
  assert.deepEqual(c.complete("bert: ", 6, sources), { text: "Bob: ", cursor: 5 });
  c.reset();
  assert.deepEqual(c.complete("hi CA", 5, sources), { text: "hi carol ", cursor: 9 });
  assert.deepEqual(c.complete("/j", 2, sources), { text: "/join ", cursor: 6 });
  assert.deepEqual(c.complete("/join ", 6, sources), { text: "/juggle ", cursor: 8 });
  assert.deepEqual(c.complete("/join #de", 9, sources), { text: "/join #dev ", cursor: 11 });
  assert.deepEqual(c.complete("say /j", 6, sources), undefined, "commands only at the start");
  assert.deepEqual(c.complete("x", 1, sources), undefined);
  assert.deepEqual(c.complete("", 0, sources), undefined);
  // The text after the cursor stays.
  assert.deepEqual(c.complete("ca said", 2, sources), { text: "carol: said", cursor: 7 });
});

Deno.test("mentions(): word-bounded, case-insensitive by nickname folding", () => {
  assert.equal(mentions("alice: hi", "alice"), true);
  assert.equal(mentions("hi ALICE!", "alice"), true);
  assert.equal(mentions("@Alice, lunch?", "alice"), true);
  assert.equal(mentions("ask alice.", "alice"), true);
  assert.equal(mentions("Ａｌｉｃｅ hi", "alice"), true, "fullwidth letters fold by NFKC");
  assert.equal(mentions("malice", "alice"), false);
  assert.equal(mentions("alice_bot says", "alice"), false);
  assert.equal(mentions("alice-bot says", "alice"), false);
  assert.equal(mentions("alices", "alice"), false);
  assert.equal(mentions("zoë!", "ZOË"), true);
  assert.equal(mentions("", "alice"), false);
  assert.equal(mentions("talking about bob.smith now", "bob.smith"), true);
});

Deno.test("wrap(): at word boundaries with a hanging indent, never wider than the width", async (t) => {
  await t.step("examples", () => {
    assert.deepEqual(wrap("bob: hello there world", 12, 5), [
      "bob: hello",
      "     there",
      "     world",
    ]);
    assert.deepEqual(wrap("short", 10, 2), ["short"]);
    assert.deepEqual(wrap("abcdefghij", 4, 0), ["abcd", "efgh", "ij"], "a long word is cut");
    assert.deepEqual(
      wrap("漢字漢字漢", 5, 0),
      ["漢字", "漢字", "漢"],
      "wide characters are not split",
    );
    assert.deepEqual(wrap("one\n  two", 20, 2), ["one", "  two"], "lines stay lines");
  });
  await t.step("colours are closed at the end of a row and set again after the indent", () => {
    const rows = wrap("\x1b[33mbob\x1b[39m: \x1b[1;33mhello there\x1b[22;39m", 10, 5);
    assert.equal(rows.length, 2);
    assert.ok(rows[0]!.endsWith("\x1b[0m"));
    assert.ok(rows[1]!.startsWith("     \x1b[33m"));
  });
  await t.step("property: no row is wider than the width; the words survive", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z漢]{1,12}$/), { maxLength: 20 }),
        fc.integer({ min: 4, max: 40 }),
        fc.integer({ min: 0, max: 10 }),
        (words, width, indent) => {
          const text = words.join(" ");
          const rows = wrap(text, width, indent);
          for (const row of rows) assert.ok(displayWidth(row) <= width, JSON.stringify(rows));
          assert.equal(rows.join("").replace(/\s/g, ""), text.replace(/\s/g, ""));
        },
      ),
    );
  });
});

Deno.test("NickColors: nicknames in view get different colours while there are colours", () => {
  const colors = new NickColors(PALETTE_16);
  const nicks = Array.from({ length: PALETTE_16.length }, (_, i) => `user${i}`);
  const given = nicks.map((n) => colors.of(n));
  assert.equal(new Set(given).size, PALETTE_16.length, "all different");
  assert.equal(colors.of("USER3"), given[3], "stable, without regard to case");
  // One more: takes the colour of the least recently seen (user0; user3 was just seen).
  assert.equal(colors.of("newcomer"), given[0]);
});

Deno.test("has256Colors(): from TERM or COLORTERM; the 256 palette has no reds", () => {
  assert.equal(has256Colors({ TERM: "xterm" }), false);
  assert.equal(has256Colors({ TERM: "linux", COLORTERM: "" }), false);
  assert.equal(has256Colors({}), false);
  assert.equal(has256Colors({ TERM: "xterm-256color" }), true);
  assert.equal(has256Colors({ TERM: "tmux-256color" }), true);
  assert.equal(has256Colors({ TERM: "xterm", COLORTERM: "truecolor" }), true);
  const colors = new NickColors(PALETTE_256);
  const given = Array.from({ length: PALETTE_256.length }, (_, i) => colors.of(`n${i}`));
  assert.equal(new Set(given).size, PALETTE_256.length, "as many distinct colours as the palette");
  // xterm's reds (1, 9, 124, 160, 196) are the error colour.
  for (const red of [1, 9, 124, 160, 196]) assert.ok(!PALETTE_256.includes(`\x1b[38;5;${red}m`));
});

Deno.test("parseSettings(): TOML with known settings, one-line errors", () => {
  assert.deepEqual(
    parseSettings(
      'host = "10.0.0.2"\nport = 9000\nnick = "zoë"\nbell = false\ntimestamps = false\n',
      "c.toml",
    ),
    { host: "10.0.0.2", port: 9000, nick: "zoë", bell: false, timestamps: false },
  );
  assert.throws(
    () => parseSettings("port = \n", "c.toml"),
    (e: Error) =>
      e instanceof ConfigError && /^c\.toml:1: /.test(e.message) && !e.message.includes("\n"),
  );
  assert.throws(() => parseSettings('colour = "red"\n', "c.toml"), /unknown setting "colour"/);
  assert.throws(() => parseSettings('port = "80"\n', "c.toml"), /port must be a number/);
  assert.throws(() => parseSettings("port = 70000\n", "c.toml"), /from 0 to 65535/);
});

Deno.test("configDir() and stateDir() follow XDG, falling back to HOME", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(configDir(env({ XDG_CONFIG_HOME: "/x/c", HOME: "/h" })), "/x/c/chat");
  assert.equal(configDir(env({ HOME: "/h" })), "/h/.config/chat");
  assert.equal(stateDir(env({ XDG_STATE_HOME: "/x/s", HOME: "/h" })), "/x/s/chat");
  assert.equal(stateDir(env({ HOME: "/h" })), "/h/.local/state/chat");
  assert.equal(stateDir(env({})), undefined);
});

Deno.test("StateFiles keep history (multi-line entries too) and ignores", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_state_test_" });
  try {
    const files = new StateFiles(`${dir}/chat`);
    assert.deepEqual(files.loadHistory(), []);
    files.saveHistory(["one", "two\nlines"]);
    files.saveIgnores(["spammer", "Bot"]);
    const again = new StateFiles(`${dir}/chat`);
    assert.deepEqual(again.loadHistory(), ["one", "two\nlines"]);
    assert.deepEqual(again.loadIgnores(), ["spammer", "Bot"]);
    new StateFiles(undefined).saveHistory(["nothing kept"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KeyDecoder: window keys, paging, Tab, Alt+Enter and bracketed paste", () => {
  const keys = new KeyDecoder();
  assert.deepEqual(keys.push(encoder.encode("\x1b1\x1b9\x1b[1;3C\x1b[1;3D\x0e\x10")), [
    { type: "window", n: 1 },
    { type: "window", n: 9 },
    { type: "window-next" },
    { type: "window-prev" },
    { type: "window-next" },
    { type: "window-prev" },
  ]);
  assert.deepEqual(keys.push(encoder.encode("\x1b[5~\x1b[6~\t\x1b\r\x1b[1;5D")), [
    { type: "page-up" },
    { type: "page-down" },
    { type: "tab" },
    { type: "newline" },
    { type: "word-left" },
  ]);
  // A paste split across reads, with control bytes and an escape inside it, then a key.
  assert.deepEqual(keys.push(encoder.encode("\x1b[200~line one\r\nline\x1b[A tw")), []);
  assert.deepEqual(keys.push(encoder.encode("o\x1b[20")), []);
  assert.deepEqual(keys.push(encoder.encode("1~x")), [
    { type: "paste", text: "line one\nline\x1b[A two" },
    { type: "text", text: "x" },
  ]);
});
