// Unit tests of the text rules: nicknames (RFC 8265 comparison, one script,
// reserved names) and sanitising hostile message text.

import assert from "@chat/assert";
import fc from "fast-check";
import {
  checkNick,
  escapeControls,
  nickKey,
  normalizeNick,
  RESERVED_NICKS,
  sanitizeText,
} from "../protocol/mod.ts";

function problem(nick: string) {
  return checkNick(normalizeNick(nick));
}

Deno.test("checkNick() accepts letters of any one script, digits, _ - .", () => {
  for (
    const nick of [
      "alice",
      "Bob_2",
      "x.y-z",
      "Zoë",
      "José",
      "Дмитрий",
      "Αλέξανδρος",
      "山田太郎",
      "やまだ",
      "ヤマダ",
      "山田たろう", // kanji + hiragana: Japanese mixes these
      "田中カタカナ", // kanji + katakana
      "김민준",
      "محمد",
      "דוד",
      "a".repeat(24),
    ]
  ) {
    assert.equal(problem(nick), undefined, nick);
  }
});

Deno.test("checkNick() refuses bad nicknames with the reason", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["   ", "empty"],
    ["a".repeat(25), "too_long"],
    ["a b", "bad_char"],
    ["bob!", "bad_char"],
    ["emoji👋", "bad_char"],
    ["zero\u200bwidth", "invisible"], // zero-width space
    ["zw\u200djoiner", "invisible"], // zero-width joiner
    ["zw\u200cnon", "invisible"], // zero-width non-joiner
    ["rtl\u202eevil", "invisible"], // bidi override (also default-ignorable)
    ["cgj\u034f", "invisible"],
    ["vs\ufe0f", "invisible"],
    ["\u3164", "invisible"], // Hangul filler
    ["--", "no_letter"],
    ["\u0301e", "bad_char"], // a combining mark first
    ["r00t", "reserved"], // digits zero: looks like a reserved name
    ["tab\there", "bad_char"],
    ["esc\x1b[2J", "bad_char"],
    ["pаypal", "mixed_script"], // Cyrillic а among Latin
    ["Αlice", "mixed_script"], // Greek capital alpha
    ["ДмитрийJ", "mixed_script"],
    ["server", "reserved"],
    ["ADMIN", "reserved"],
    ["Ｓｙｓｔｅｍ", "reserved"], // fullwidth: NFKC makes it "System"
  ];
  for (const [nick, reason] of cases) assert.equal(problem(nick), reason, JSON.stringify(nick));
  for (const reserved of RESERVED_NICKS) assert.equal(problem(reserved), "reserved", reserved);
});

Deno.test("nickKey() compares after NFKC and case mapping (RFC 8265 §3.3)", () => {
  assert.equal(nickKey("Alice"), nickKey("ALICE"));
  assert.equal(nickKey("ａｌｉｃｅ"), nickKey("alice")); // fullwidth compatibility forms
  assert.equal(nickKey("ﬁsh"), nickKey("fish")); // ligature
  assert.equal(nickKey("Zoe\u0308"), nickKey("Zoë")); // combining diaeresis vs precomposed
  assert.equal(nickKey("ДМИТРИЙ"), nickKey("дмитрий"));
  assert.equal(nickKey("ΑΛΈΞΑΝΔΡΟΣ"), nickKey("αλέξανδροσ".replace(/σ$/, "ς")));
  assert.notEqual(nickKey("alice"), nickKey("alicia"));
  assert.equal(normalizeNick("  ａlice  "), "alice");
});

Deno.test("sanitizeText() strips a hostile corpus down to its visible text", () => {
  const cases: [string, string, string][] = [
    ["screen clear", "a\x1b[2J\x1b[Hb", "ab"],
    ["colour", "\x1b[31mred\x1b[0m", "red"],
    ["window title (OSC 0, BEL)", "a\x1b]0;pwned\x07b", "ab"],
    ["window title (OSC 2, ST)", "a\x1b]2;pwned\x1b\\b", "ab"],
    ["OSC 52 clipboard write", "a\x1b]52;c;cm0gLXJmIH4=\x07b", "ab"],
    ["unterminated OSC eats the rest", "a\x1b]0;forever", "a"],
    ["DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"],
    ["bare CR", "safe\rEVIL", "safeEVIL"],
    ["backspace and bell", "a\b\x07b", "ab"],
    ["C1 CSI (U+009B)", "a\u009b2Jb", "ab"],
    ["C1 CSI with colour", "\u009b31mred\u009b0m", "red"],
    ["C1 OSC (U+009D) to ST (U+009C)", "a\u009d0;title\u009cb", "ab"],
    ["C1 OSC to BEL", "a\u009d52;c;eA==\x07b", "ab"],
    ["DEL", "a\x7fb", "ab"],
    ["bidi embeddings and overrides", "a\u202ab\u202bc\u202cd\u202de\u202ef", "abcdef"],
    ["bidi isolates", "a\u2066b\u2067c\u2068d\u2069e", "abcde"],
    ["NUL", "a\x00b", "ab"],
    ["tab kept", "a\tb", "a\tb"],
    ["newline kept", "a\nb", "a\nb"],
    ["emoji and CJK kept", "héllo 你好 👋🏽 👨‍👩‍👧", "héllo 你好 👋🏽 👨‍👩‍👧"],
  ];
  for (const [name, input, expected] of cases) {
    assert.equal(sanitizeText(input), expected, name);
  }
  assert.equal(sanitizeText("a\nb", false), "a b");
});

// Every control a terminal could act on, except tab and newline.
// deno-lint-ignore no-control-regex -- looking for control characters is the point
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

Deno.test("sanitizeText() leaves no control character in any input", () => {
  const hostile = fc.string({
    unit: fc.oneof(
      fc.constantFrom("\x1b", "[", "]", "\x07", "\\", "\r", "\u009b", "\u009d", "\u202e", ";"),
      fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
    ),
    maxLength: 60,
  });
  fc.assert(
    fc.property(hostile, (text) => {
      const clean = sanitizeText(text);
      assert.ok(!UNSAFE.test(clean), JSON.stringify(clean));
      assert.equal(sanitizeText(clean), clean); // idempotent
    }),
    { numRuns: 3000 },
  );
});

Deno.test("escapeControls() renders controls visibly, never raw", () => {
  assert.equal(escapeControls("a\x1b[2Jb"), "a^[[2Jb");
  assert.equal(escapeControls("\x7f\r\n"), "^?^M^J");
  assert.equal(escapeControls("\u009b\u202e"), "<U+009B><U+202E>");
  assert.equal(escapeControls("tab\tok"), "tab\tok");
});
