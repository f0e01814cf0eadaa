// Unit tests of the pure input-line state: editing, cursor moves by grapheme
// cluster, wide characters and the horizontally scrolling view.

import assert from "@chat/assert";
import type { Key, KeyName } from "../client/keys.ts";
import { LineEditor } from "../client/line_editor.ts";

function type(editor: LineEditor, ...keys: (string | KeyName)[]): void {
  for (const k of keys) {
    const key: Key = k.startsWith(":")
      ? { type: k.slice(1) as KeyName }
      : { type: "text", text: k };
    editor.handle(key);
  }
}

function state(editor: LineEditor): string {
  return editor.text.slice(0, editor.cursor) + "|" + editor.text.slice(editor.cursor);
}

Deno.test("LineEditor.handle() inserts, deletes and moves the cursor", async (t) => {
  await t.step("typing inserts at the cursor", () => {
    const e = new LineEditor();
    type(e, "helo", ":left", "l");
    assert.equal(state(e), "hell|o");
  });
  await t.step("backspace and delete remove one character each side", () => {
    const e = new LineEditor();
    type(e, "abcd", ":left", ":left", ":backspace", ":delete");
    assert.equal(state(e), "a|d");
  });
  await t.step("home/end and left/right stop at the ends", () => {
    const e = new LineEditor();
    type(e, "abc", ":home", ":left");
    assert.equal(state(e), "|abc");
    type(e, ":right", ":end", ":right");
    assert.equal(state(e), "abc|");
  });
  await t.step("Ctrl+U deletes before the cursor, Ctrl+K after it", () => {
    const e = new LineEditor();
    type(e, "hello world", ":word-left", ":kill-before");
    assert.equal(state(e), "|world");
    type(e, ":right", ":kill-after");
    assert.equal(state(e), "w|");
  });
  await t.step("Ctrl+W deletes the word before the cursor and the spaces after it", () => {
    const e = new LineEditor();
    type(e, "say hello  ", ":kill-word");
    assert.equal(state(e), "say |");
  });
  await t.step("Enter submits the line and clears it", () => {
    const e = new LineEditor();
    type(e, "hi");
    assert.deepEqual(e.handle({ type: "enter" }), { type: "submit", line: "hi" });
    assert.equal(state(e), "|");
  });
  await t.step("Ctrl+C clears a typed line, and quits on an empty one", () => {
    const e = new LineEditor();
    type(e, "oops");
    assert.equal(e.handle({ type: "interrupt" }), undefined);
    assert.equal(e.text, "");
    assert.deepEqual(e.handle({ type: "interrupt" }), { type: "quit" });
  });
  await t.step("Ctrl+D deletes forward, and quits on an empty line", () => {
    const e = new LineEditor();
    type(e, "ab", ":home");
    assert.equal(e.handle({ type: "eof" }), undefined);
    assert.equal(state(e), "|b");
    type(e, ":delete");
    assert.deepEqual(e.handle({ type: "eof" }), { type: "quit" });
  });
  await t.step("control characters in pasted text are dropped, tabs become spaces", () => {
    const e = new LineEditor();
    e.insert("a\tb\x1b[31mc\u0007");
    assert.equal(e.text, "a b[31mc");
  });
  await t.step("Up and Down recall submitted lines and the draft", () => {
    const e = new LineEditor();
    type(e, "one", ":enter", "two", ":enter", "dra", ":up");
    assert.equal(state(e), "two|");
    type(e, ":up", ":up");
    assert.equal(state(e), "one|");
    type(e, ":down", ":down");
    assert.equal(state(e), "dra|");
  });
});

Deno.test("LineEditor moves over whole grapheme clusters", async (t) => {
  await t.step("an emoji with a skin tone is one step and one deletion", () => {
    const e = new LineEditor();
    type(e, "a👋🏽b", ":left", ":left");
    assert.equal(state(e), "a|👋🏽b");
    type(e, ":delete");
    assert.equal(state(e), "a|b");
  });
  await t.step("a combining accent typed after its letter joins it", () => {
    const e = new LineEditor();
    type(e, "e", "\u0301", "x", ":left", ":backspace");
    assert.equal(state(e), "|x");
  });
  await t.step("a ZWJ family emoji is deleted whole by backspace", () => {
    const e = new LineEditor();
    type(e, "👨‍👩‍👧");
    type(e, ":backspace");
    assert.equal(e.text, "");
  });
});

Deno.test("LineEditor.view() places the cursor in columns, wide characters as 2", async (t) => {
  await t.step("CJK and emoji count two columns", () => {
    const e = new LineEditor();
    type(e, "漢字🎉a");
    assert.deepEqual(e.view(80), { text: "漢字🎉a", cursor: 7 });
    type(e, ":left", ":left");
    assert.deepEqual(e.view(80), { text: "漢字🎉a", cursor: 4 });
  });
  await t.step("a line wider than the width scrolls so the cursor stays visible", () => {
    const e = new LineEditor();
    type(e, "abcdefghijklmnopqrstuvwxyz");
    const end = e.view(10);
    // "<" in place of the first visible character: the start is out of view.
    assert.deepEqual(end, { text: "<rstuvwxyz", cursor: 10 });
    type(e, ":home");
    assert.deepEqual(e.view(10), { text: "abcdefghij", cursor: 0 });
    type(e, ":end", ":backspace");
    assert.deepEqual(e.view(10), { text: "<qrstuvwxy", cursor: 10 });
  });
  await t.step("scrolling never cuts a wide character and keeps it under the cursor", () => {
    const e = new LineEditor();
    type(e, "漢字漢字漢字漢字", ":left");
    const v = e.view(7);
    assert.ok(v.cursor + 2 <= 7, JSON.stringify(v));
    assert.equal(v.text, "< 漢字");
    assert.equal(v.cursor, 4);
  });
  await t.step("the view keeps its scroll while the cursor moves inside it", () => {
    const e = new LineEditor();
    type(e, "abcdefghijklmnopqrstuvwxyz");
    e.view(10);
    type(e, ":left", ":left");
    assert.deepEqual(e.view(10), { text: "<rstuvwxyz", cursor: 8 });
  });
  await t.step("no mark when the start is in view, or the cursor is on the first column", () => {
    const e = new LineEditor();
    type(e, "abcdefghijklmnopqrstuvwxyz");
    e.view(10);
    type(e, ":home");
    assert.deepEqual(e.view(10), { text: "abcdefghij", cursor: 0 });
  });
  await t.step("a newline (Alt+Enter, a paste) shows as a mark and stays in the text", () => {
    const e = new LineEditor();
    e.handle({ type: "text", text: "one" });
    e.handle({ type: "newline" });
    e.handle({ type: "paste", text: "two\r\nthree\tend" });
    assert.equal(e.text, "one\ntwo\nthree end");
    assert.deepEqual(e.view(40), { text: "one↵two↵three end", cursor: 17 });
    assert.deepEqual(e.handle({ type: "enter" }), { type: "submit", line: "one\ntwo\nthree end" });
  });
  await t.step("deleting text scrolls back so the view is filled again", () => {
    const e = new LineEditor();
    type(e, "abcdefghijklmnop");
    e.view(10);
    type(e, ":kill-before", "xy");
    assert.deepEqual(e.view(10), { text: "xy", cursor: 2 });
  });
});
