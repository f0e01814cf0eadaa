// Unit tests of terminal display width.

import assert from "@chat/assert";
import { charWidth, clusterWidth, displayWidth } from "../client/width.ts";

Deno.test("charWidth() follows East Asian Width", () => {
  const cp = (s: string) => s.codePointAt(0)!;
  assert.equal(charWidth(cp("a")), 1);
  assert.equal(charWidth(cp("é")), 1);
  assert.equal(charWidth(cp("漢")), 2);
  assert.equal(charWidth(cp("あ")), 2);
  assert.equal(charWidth(cp("한")), 2);
  assert.equal(charWidth(cp("Ａ")), 2); // fullwidth A
  assert.equal(charWidth(cp("ｱ")), 1); // halfwidth katakana
  assert.equal(charWidth(cp("🎉")), 2);
  assert.equal(charWidth(0x0301), 0); // combining acute
  assert.equal(charWidth(0x200d), 0); // ZWJ
  assert.equal(charWidth(cp("\u{20000}")), 2); // CJK Extension B
});

Deno.test("clusterWidth() treats a grapheme cluster as one glyph", () => {
  assert.equal(clusterWidth("e\u0301"), 1);
  assert.equal(clusterWidth("👋🏽"), 2);
  assert.equal(clusterWidth("👨‍👩‍👧"), 2);
  assert.equal(clusterWidth("🇫🇷"), 2);
  assert.equal(clusterWidth("❤️"), 2);
  assert.equal(clusterWidth("❤"), 1);
});

Deno.test("displayWidth() sums the clusters", () => {
  assert.equal(displayWidth(""), 0);
  assert.equal(displayWidth("hi 漢字 🎉"), 10);
  assert.equal(displayWidth("café"), 4);
  assert.equal(displayWidth("cafe\u0301"), 4);
});
