// Unit tests of terminal key decoding, including sequences and characters
// split across reads.

import assert from "@chat/assert";
import { type Key, KeyDecoder } from "../client/keys.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("KeyDecoder.push() decodes keys from raw terminal bytes", async (t) => {
  await t.step("printable UTF-8 becomes one text key per run", () => {
    assert.deepEqual(new KeyDecoder().push(bytes("héllo 漢字 🎉")), [
      { type: "text", text: "héllo 漢字 🎉" },
    ]);
  });
  await t.step("control keys", () => {
    const keys = new KeyDecoder().push(bytes("\x01\x05\x15\x17\x03\x04\r\x7f\x0b"));
    assert.deepEqual(keys.map((k) => k.type), [
      "home",
      "end",
      "kill-before",
      "kill-word",
      "interrupt",
      "eof",
      "enter",
      "backspace",
      "kill-after",
    ]);
  });
  await t.step("CSI and SS3 sequences", () => {
    const keys = new KeyDecoder().push(
      bytes("\x1b[D\x1b[C\x1b[H\x1b[F\x1b[3~\x1b[1~\x1b[4~\x1bOH\x1bOF\x1b[1;5D\x1b[A"),
    );
    assert.deepEqual(keys.map((k) => k.type), [
      "left",
      "right",
      "home",
      "end",
      "delete",
      "home",
      "end",
      "home",
      "end",
      "word-left",
      "up",
    ]);
  });
  await t.step("text around keys keeps its order", () => {
    assert.deepEqual(
      new KeyDecoder().push(bytes("ab\x1b[Dc\r")),
      [
        { type: "text", text: "ab" },
        { type: "left" },
        { type: "text", text: "c" },
        { type: "enter" },
      ] satisfies Key[],
    );
  });
  await t.step("unknown sequences are ignored whole, not typed", () => {
    assert.deepEqual(new KeyDecoder().push(bytes("\x1b[15~x")), [
      { type: "ignored" },
      { type: "text", text: "x" },
    ]);
  });
});

Deno.test("KeyDecoder.push() joins what is split across reads", async (t) => {
  await t.step("an escape sequence split after ESC and after [", () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.push(bytes("a\x1b")), [{ type: "text", text: "a" }]);
    assert.ok(d.pending);
    assert.deepEqual(d.push(bytes("[")), []);
    assert.deepEqual(d.push(bytes("3")), []);
    assert.deepEqual(d.push(bytes("~b")), [{ type: "delete" }, { type: "text", text: "b" }]);
    assert.ok(!d.pending);
  });
  await t.step("a UTF-8 character split in every possible place", () => {
    const all = bytes("x🎉漢é");
    for (let cut = 1; cut < all.length; cut++) {
      const d = new KeyDecoder();
      const text = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))]
        .map((k) => k.type === "text" ? k.text : `<${k.type}>`)
        .join("");
      assert.equal(text, "x🎉漢é", `cut at ${cut}`);
    }
  });
  await t.step("a lone ESC is given up by flush() and does not eat the next key", () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.push(bytes("\x1b")), []);
    assert.deepEqual(d.flush(), [{ type: "ignored" }]);
    assert.deepEqual(d.push(bytes("a")), [{ type: "text", text: "a" }]);
  });
  await t.step("ESC ESC [ D split after each byte is still one Alt+←", () => {
    const all = bytes("a\x1b\x1b[Db");
    for (let cut = 1; cut < all.length; cut++) {
      const d = new KeyDecoder();
      const keys = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      assert.deepEqual(
        keys.map((k) => k.type === "text" ? k.text : `<${k.type}>`).join(""),
        "a<window-prev>b",
        `cut at ${cut}`,
      );
    }
  });
  await t.step("ESC b split after ESC is still Alt+b (word left)", () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.push(bytes("\x1b")), []);
    assert.deepEqual(d.push(bytes("bx")), [{ type: "word-left" }, { type: "text", text: "x" }]);
  });
  await t.step("two Escapes pressed, then held: flush() gives them up, nothing is typed", () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.push(bytes("\x1b\x1b")), []);
    assert.deepEqual(d.flush(), [{ type: "ignored" }]);
    assert.deepEqual(d.push(bytes("a")), [{ type: "text", text: "a" }]);
  });
});

Deno.test("KeyDecoder.push() reads Alt sent as an ESC prefix (rxvt, PuTTY) and readline's words", async (t) => {
  const types = (s: string) => new KeyDecoder().push(bytes(s)).map((k) => k.type);
  await t.step("ESC before an arrow is Alt: Alt+←/→ switch windows, as CSI 1;3D/C do", () => {
    assert.deepEqual(types("\x1b\x1b[D\x1b\x1b[C\x1b\x1bOD\x1b\x1bOC"), [
      "window-prev",
      "window-next",
      "window-prev",
      "window-next",
    ]);
    assert.deepEqual(types("\x1b[1;3D\x1b[1;3C"), ["window-prev", "window-next"]);
  });
  await t.step("ESC b / ESC f move by words, as in readline", () => {
    assert.deepEqual(types("\x1bb\x1bf"), ["word-left", "word-right"]);
  });
  await t.step("rxvt's Ctrl+←/→ (ESC O d / ESC O c) move by words, as CSI 1;5D/C do", () => {
    assert.deepEqual(types("\x1bOd\x1bOc\x1b[1;5D\x1b[1;5C"), [
      "word-left",
      "word-right",
      "word-left",
      "word-right",
    ]);
  });
  await t.step("ESC before another key is that key; nothing is typed as junk", () => {
    assert.deepEqual(
      new KeyDecoder().push(bytes("\x1b\x1b[A\x1b\x1b[3~\x1b\x1b[15~\x1b\x1bx")),
      [
        { type: "up" },
        { type: "delete" },
        { type: "ignored" },
        { type: "ignored" },
        { type: "ignored" }, // ESC, then ESC x (an unbound Alt+x)
      ] satisfies Key[],
    );
  });
});
