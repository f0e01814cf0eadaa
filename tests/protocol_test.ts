// Unit tests of the pure protocol layer: codec, line reader, command registry.

import assert from "@chat/assert";
import {
  type ClientFrame,
  commandHelp,
  COMMANDS,
  decodeClientFrame,
  encodeFrame,
  FrameError,
  LineReader,
  type LineResult,
  parseInput,
} from "../protocol/mod.ts";

const utf8 = new TextEncoder();

function lines(results: LineResult[]): (string | null)[] {
  return results.map((r) => r.ok ? r.line : null);
}

Deno.test("decodeClientFrame() round-trips every client frame through encodeFrame()", () => {
  const frames: ClientFrame[] = [
    { type: "hello", version: 1, nick: "ålice" },
    { type: "hello", version: 1 },
    { type: "nick", nick: "bob" },
    { type: "say", text: "héllo 你好 👋\nsecond line" },
    { type: "me", text: "waves" },
    { type: "msg", to: "bob", text: "psst" },
    { type: "who" },
    { type: "help" },
    { type: "quit", reason: "bye" },
    { type: "ping", token: "1" },
    { type: "pong" },
  ];
  for (const frame of frames) {
    const line = encodeFrame(frame);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(decodeClientFrame(line.slice(0, -1)), frame);
  }
});

Deno.test("decodeClientFrame() rejects malformed frames with a code", async (t) => {
  const cases: [string, string][] = [
    ["", "bad_json"],
    ["{", "bad_json"],
    ["null", "bad_frame"],
    ['"say"', "bad_frame"],
    ["[]", "bad_frame"],
    ["{}", "bad_frame"],
    ['{"type":1}', "bad_frame"],
    ['{"type":"nope"}', "unknown_type"],
    ['{"type":"toString"}', "unknown_type"],
    ['{"type":"__proto__"}', "unknown_type"],
    ['{"type":"hello"}', "bad_frame"],
    ['{"type":"hello","version":"1"}', "bad_frame"],
    ['{"type":"hello","version":1e999}', "bad_frame"],
    ['{"type":"msg","to":"bob"}', "bad_frame"],
    ['{"type":"say","text":["x"]}', "bad_frame"],
  ];
  for (const [line, code] of cases) {
    await t.step(line || "(empty)", () => {
      assert.throws(
        () => decodeClientFrame(line),
        (e: unknown) => e instanceof FrameError && e.code === code,
      );
    });
  }
});

Deno.test("decodeClientFrame() ignores unknown fields and keeps only the schema's", () => {
  assert.deepEqual(decodeClientFrame('{"type":"say","text":"hi","extra":{"a":1}}'), {
    type: "say",
    text: "hi",
  });
});

Deno.test("LineReader.push() splits lines and strips one CR", () => {
  const reader = new LineReader();
  assert.deepEqual(lines(reader.push(utf8.encode("a\nb\r\n\nc"))), ["a", "b", ""]);
  assert.deepEqual(lines(reader.push(utf8.encode("d\n"))), ["cd"]);
  assert.equal(reader.bufferedBytes, 0);
});

Deno.test("LineReader.push() reassembles UTF-8 characters split across reads", () => {
  const text = "é你👋🏽";
  const bytes = utf8.encode(text + "\n");
  for (let cut = 1; cut < bytes.length; cut++) {
    const reader = new LineReader();
    const got = [...reader.push(bytes.slice(0, cut)), ...reader.push(bytes.slice(cut))];
    assert.deepEqual(lines(got), [text], `cut at ${cut}`);
  }
  const reader = new LineReader();
  const byByte = [...bytes].flatMap((b) => reader.push(new Uint8Array([b])));
  assert.deepEqual(lines(byByte), [text]);
});

Deno.test("LineReader.push() does not keep a reference to the caller's buffer", () => {
  const reader = new LineReader();
  const buf = utf8.encode("abc");
  reader.push(buf);
  buf.fill(0x78);
  assert.deepEqual(lines(reader.push(utf8.encode("\n"))), ["abc"]);
});

Deno.test("LineReader.push() reports invalid UTF-8 and goes on", () => {
  const reader = new LineReader();
  const got = reader.push(new Uint8Array([0x61, 0xff, 0x0a, 0x62, 0x0a]));
  assert.deepEqual(got, [{ ok: false, code: "invalid_utf8" }, { ok: true, line: "b" }]);
});

Deno.test("LineReader.push() enforces the limit at exactly max bytes", async (t) => {
  const max = 8;
  await t.step("max bytes pass, with or without CR, whole or split", () => {
    for (const text of ["x".repeat(max) + "\n", "x".repeat(max) + "\r\n"]) {
      const bytes = utf8.encode(text);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const reader = new LineReader({ maxLineBytes: max });
        const got = [...reader.push(bytes.slice(0, cut)), ...reader.push(bytes.slice(cut))];
        assert.deepEqual(lines(got), ["x".repeat(max)]);
      }
    }
  });
  await t.step("max + 1 bytes are refused, once, and the next line is fine", () => {
    const reader = new LineReader({ maxLineBytes: max });
    const got = reader.push(utf8.encode("x".repeat(max + 1) + "\nok\n"));
    assert.deepEqual(got, [{ ok: false, code: "line_too_long" }, { ok: true, line: "ok" }]);
  });
  await t.step("a long line without newline is refused while streaming, not buffered", () => {
    const reader = new LineReader({ maxLineBytes: max });
    const errors: LineResult[] = [];
    for (let i = 0; i < 1000; i++) {
      errors.push(...reader.push(utf8.encode("yyyyyyy")));
      assert.ok(reader.bufferedBytes <= max + 1);
    }
    assert.deepEqual(errors, [{ ok: false, code: "line_too_long" }]);
    assert.deepEqual(lines(reader.push(utf8.encode("tail\nnext\n"))), ["next"]);
  });
});

Deno.test("LineReader.end() returns an unfinished last line", () => {
  const reader = new LineReader();
  reader.push(utf8.encode("a\nlast"));
  assert.deepEqual(lines(reader.end()), ["last"]);
  assert.deepEqual(reader.end(), []);
});

Deno.test("parseInput() maps typed lines to frames", () => {
  const cases: [string, ClientFrame][] = [
    ["hello", { type: "say", text: "hello" }],
    ["  spaced  ", { type: "say", text: "  spaced  " }],
    ["//not a command", { type: "say", text: "/not a command" }],
    ["/msg bob hi there", { type: "msg", to: "bob", text: "hi there" }],
    ["/MSG bob hi", { type: "msg", to: "bob", text: "hi" }],
    ["/w bob hi", { type: "msg", to: "bob", text: "hi" }],
    ["/me waves hello", { type: "me", text: "waves hello" }],
    ["/nick alicia", { type: "nick", nick: "alicia" }],
    ["/who", { type: "who" }],
    ["/help", { type: "help" }],
    ["/quit", { type: "quit" }],
    ["/quit see you", { type: "quit", reason: "see you" }],
    ["/exit", { type: "quit" }],
    ["exit", { type: "quit" }],
  ];
  for (const [line, frame] of cases) {
    assert.deepEqual(parseInput(line), { ok: true, frame }, line);
  }
});

Deno.test("parseInput() gives usage and unknown-command errors", () => {
  assert.deepEqual(parseInput("/msg bob"), {
    ok: false,
    code: "usage",
    message: "usage: /msg NICK TEXT",
  });
  assert.deepEqual(parseInput("/nick two words"), {
    ok: false,
    code: "usage",
    message: "usage: /nick NEW",
  });
  assert.deepEqual(parseInput("/me"), { ok: false, code: "usage", message: "usage: /me ACTION" });
  assert.deepEqual(parseInput("/frobnicate x"), {
    ok: false,
    code: "unknown_command",
    message: 'unknown command "/frobnicate" (type /help for the list)',
  });
});

Deno.test("commandHelp() has one line per registry entry", () => {
  const help = commandHelp();
  assert.equal(help.length, COMMANDS.length);
  for (const [i, entry] of help.entries()) {
    assert.ok(entry.usage.startsWith("/" + COMMANDS[i]!.name));
    assert.ok(!entry.summary.includes("\n"));
  }
});
