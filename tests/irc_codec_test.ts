// Unit and property tests of the IRC message codec (protocol/irc.ts): tags
// with escaping (IRCv3 message-tags), source, command, parameters, and the
// byte limits.

import assert from "@chat/assert";
import fc from "fast-check";
import {
  escapeTagValue,
  formatIrcLine,
  IRC_CLIENT_TAGS_BYTES,
  ircLineBytes,
  type IrcMessage,
  parseIrcLine,
  splitUtf8,
  unescapeTagValue,
} from "../protocol/mod.ts";

function parse(line: string): IrcMessage {
  const result = parseIrcLine(line);
  if (!result.ok) throw new Error(`${line}: ${result.problem}`);
  const { tags, ...rest } = result.message;
  return tags ? { tags: { ...tags }, ...rest } : rest;
}

Deno.test("parseIrcLine() reads tags, source, command and parameters", () => {
  assert.deepEqual(
    parse("@time=2020-01-01T00:00:00.000Z;+draft/x;a=b\\sc :n!u@h PRIVMSG #c :hi  there"),
    {
      tags: { time: "2020-01-01T00:00:00.000Z", "+draft/x": "", a: "b c" },
      source: "n!u@h",
      command: "PRIVMSG",
      params: ["#c", "hi  there"],
    },
  );
  assert.deepEqual(parse("nick alice"), { command: "NICK", params: ["alice"] });
  assert.deepEqual(parse("USER u 0 * :Real Name"), {
    command: "USER",
    params: ["u", "0", "*", "Real Name"],
  });
  assert.deepEqual(parse("PRIVMSG #c :"), { command: "PRIVMSG", params: ["#c", ""] });
  assert.deepEqual(parse("PING   a   b  "), { command: "PING", params: ["a", "b"] });
  assert.deepEqual(parse("001 me :Welcome"), { command: "001", params: ["me", "Welcome"] });
  assert.deepEqual(parse("CAP LS 302"), { command: "CAP", params: ["LS", "302"] });
});

Deno.test("parseIrcLine() refuses what is not a message", () => {
  assert.deepEqual(parseIrcLine(""), { ok: false, problem: "empty" });
  assert.deepEqual(parseIrcLine("   "), { ok: false, problem: "empty" });
  assert.deepEqual(parseIrcLine(":source"), { ok: false, problem: "no_command" });
  assert.deepEqual(parseIrcLine("@a=b"), { ok: false, problem: "no_command" });
  assert.deepEqual(parseIrcLine("PRIV-MSG x"), { ok: false, problem: "bad_command" });
  assert.deepEqual(parseIrcLine("12 x"), { ok: false, problem: "bad_command" });
  assert.deepEqual(parseIrcLine("@" + "a".repeat(9000) + " PING x"), {
    ok: false,
    problem: "tags_too_long",
  });
  // A client's tag section: at most 4094 bytes of data between "@" and " ".
  const atLimit = "@+a=" + "x".repeat(4094 - 3) + " TAGMSG #a";
  assert.equal(parseIrcLine(atLimit, IRC_CLIENT_TAGS_BYTES).ok, true);
  assert.deepEqual(parseIrcLine("@+a=x" + atLimit.slice(4), IRC_CLIENT_TAGS_BYTES), {
    ok: false,
    problem: "tags_too_long",
  });
});

Deno.test("tag values: the escapes of message-tags, and lenient unescaping", () => {
  assert.equal(escapeTagValue("a;b c\\d\r\ne"), "a\\:b\\sc\\\\d\\r\\ne");
  assert.equal(unescapeTagValue("a\\:b\\sc\\\\d\\r\\ne"), "a;b c\\d\r\ne");
  assert.equal(unescapeTagValue("\\b"), "b"); // unknown escape: the character
  assert.equal(unescapeTagValue("trail\\"), "trail"); // lone backslash dropped
});

Deno.test("tag values survive escaping (property)", () => {
  fc.assert(fc.property(fc.string({ unit: "binary" }), (value) => {
    const escaped = escapeTagValue(value);
    assert.ok(!/[; \r\n]/.test(escaped));
    assert.equal(unescapeTagValue(escaped), value);
  }));
});

const middle = fc.stringMatching(/^[^\s:\0][^\s\0]{0,20}$/);
const trailingParam = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) =>
  s.replace(/[\r\n\0]/g, "")
);
const tagKey = fc.stringMatching(/^\+?([a-z][a-z0-9.-]{0,10}\/)?[A-Za-z][A-Za-z0-9-]{0,10}$/);
const messages: fc.Arbitrary<IrcMessage> = fc.record(
  {
    tags: fc.dictionary(
      tagKey,
      fc.string({ unit: "binary", maxLength: 20 }).map((v) => v.replaceAll("\0", "")),
      { maxKeys: 4 },
    ),
    source: fc.stringMatching(/^[^\s:\0@][^\s\0]{0,30}$/),
    command: fc.oneof(fc.stringMatching(/^[A-Z]{1,10}$/), fc.stringMatching(/^\d{3}$/)),
    params: fc.tuple(fc.array(middle, { maxLength: 6 }), fc.option(trailingParam)).map((
      [mid, last],
    ) => last === null ? mid : [...mid, last]),
  },
  { requiredKeys: ["command", "params"] },
);

Deno.test("formatIrcLine() then parseIrcLine() is the identity (property)", () => {
  fc.assert(fc.property(messages, fc.boolean(), (message, trailing) => {
    const line = formatIrcLine(message, trailing);
    assert.ok(!/[\r\n\0]/.test(line));
    const back = parse(line);
    const expected: IrcMessage = { command: message.command, params: message.params };
    if (message.tags && Object.keys(message.tags).length > 0) expected.tags = { ...message.tags };
    if (message.source !== undefined) expected.source = message.source;
    assert.deepEqual(back, expected);
  }));
});

Deno.test("parseIrcLine() never throws, whatever the line (property)", () => {
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (line) => {
    const result = parseIrcLine(line);
    if (result.ok) {
      assert.match(result.message.command, /^([A-Z]+|\d{3})$/);
      // Only the last parameter may be empty or hold a space.
      for (const p of result.message.params.slice(0, -1)) assert.ok(p !== "" && !p.includes(" "));
    }
  }));
});

Deno.test("formatIrcLine() refuses unrepresentable parameters", () => {
  assert.throws(() => formatIrcLine({ command: "PRIVMSG", params: ["a b", "x"] }), RangeError);
  assert.throws(() => formatIrcLine({ command: "PRIVMSG", params: ["#c", "a\nb"] }), RangeError);
  assert.throws(
    () => formatIrcLine({ tags: { a: "\0" }, command: "PING", params: [] }),
    RangeError,
  );
  assert.equal(formatIrcLine({ command: "PRIVMSG", params: ["#c", "hi"] }, true), "PRIVMSG #c :hi");
  assert.equal(formatIrcLine({ command: "TOPIC", params: ["#c", ""] }), "TOPIC #c :");
});

Deno.test("ircLineBytes() counts what follows the tags, with CR LF", () => {
  assert.equal(ircLineBytes("PING x"), 8);
  assert.equal(ircLineBytes("@time=abc PING x"), 8);
  assert.equal(ircLineBytes(":é PING"), 10);
});

Deno.test("splitUtf8() pieces fit, never split a character and join back (property)", () => {
  const utf8 = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), fc.integer({ min: 4, max: 64 }), (
      text,
      max,
    ) => {
      const pieces = splitUtf8(text, max);
      assert.equal(pieces.join(""), text);
      for (const p of pieces) {
        assert.ok(p.length > 0);
        assert.ok(utf8.encode(p).length <= max, `${JSON.stringify(p)} > ${max}`);
        assert.ok(!/^[\udc00-\udfff]|[\ud800-\udbff]$/.test(p), "split inside a surrogate pair");
      }
    }),
  );
  assert.deepEqual(splitUtf8("hello world again", 12), ["hello world ", "again"]);
  assert.deepEqual(splitUtf8("", 10), []);
});
