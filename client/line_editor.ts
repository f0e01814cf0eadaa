/**
 * The pure state of the input line: text, cursor, history and horizontal
 * scroll. No I/O: the terminal feeds it keys and draws its
 * {@linkcode LineEditor.view}.
 *
 * @module
 */

import type { Key } from "./keys.ts";
import { clusterWidth, graphemes } from "./width.ts";

/** What a key did that the owner of the editor must act on. */
export type EditorEvent =
  /** Enter on a line: the line (already cleared from the editor). */
  | { type: "submit"; line: string }
  /** Ctrl+C or Ctrl+D on an empty line. */
  | { type: "quit" };

/** The visible part of the line, for a given width. */
export interface EditorView {
  /** The text to draw (whole clusters, at most `width` columns). */
  text: string;
  /** Column of the cursor within `text`, from 0 (0 ≤ cursor ≤ width). */
  cursor: number;
}

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /**
   * How many submitted lines Up/Down can recall.
   * @default {100}
   */
  historySize?: number;
}

// deno-lint-ignore no-control-regex -- control characters are what is removed
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
// deno-lint-ignore no-control-regex -- control characters are what is removed
const CONTROL_BUT_NEWLINE = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** How a newline inside the input line is drawn. */
export const NEWLINE_MARK = "↵";
/** Drawn at the left edge when the start of the line is scrolled out of view. */
export const SCROLL_MARK = "<";

/**
 * A single-line editor: insert at the cursor, Backspace/Delete, Left/Right by
 * grapheme cluster (an emoji or an accented letter is one step), Home/End,
 * word moves, Ctrl+U/Ctrl+K/Ctrl+W kills, history on Up/Down, and a
 * horizontally scrolling view so a line wider than the terminal never wraps.
 *
 * @example
 * ```ts
 * import { LineEditor } from "./line_editor.ts";
 * const editor = new LineEditor();
 * editor.handle({ type: "text", text: "hello" });
 * editor.handle({ type: "left" });
 * editor.view(80); // { text: "hello", cursor: 4 }
 * editor.handle({ type: "enter" }); // { type: "submit", line: "hello" }
 * ```
 */
export class LineEditor {
  #text = "";
  /** UTF-16 offset, always on a grapheme cluster boundary. */
  #cursor = 0;
  /** Index of the first visible cluster. */
  #scroll = 0;
  readonly #history: string[] = [];
  readonly #historySize: number;
  #historyIndex = 0;
  #draft = "";

  /** Creates an empty editor; see {@linkcode LineEditorOptions}. */
  constructor(options: LineEditorOptions = {}) {
    this.#historySize = options.historySize ?? 100;
  }

  /** The whole line. */
  get text(): string {
    return this.#text;
  }

  /** The cursor as a UTF-16 offset into {@linkcode LineEditor.text}. */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * Applies a key.
   *
   * @param key a decoded key
   * @returns a submitted line or a quit request; `undefined` for edits
   */
  handle(key: Key): EditorEvent | undefined {
    switch (key.type) {
      case "text":
        this.insert(key.text);
        return undefined;
      case "paste":
        this.insert(key.text, true);
        return undefined;
      case "newline":
        this.insert("\n", true);
        return undefined;
      case "enter": {
        const line = this.#text;
        this.#set("");
        if (line.trim() !== "") this.#remember(line);
        this.#historyIndex = this.#history.length;
        return { type: "submit", line };
      }
      case "backspace":
        if (this.#cursor > 0) this.#delete(this.#previous(this.#cursor), this.#cursor);
        return undefined;
      case "delete":
        if (this.#cursor < this.#text.length) {
          this.#delete(this.#cursor, this.#next(this.#cursor));
        }
        return undefined;
      case "left":
        this.#cursor = this.#previous(this.#cursor);
        return undefined;
      case "right":
        this.#cursor = this.#next(this.#cursor);
        return undefined;
      case "word-left":
        this.#cursor = this.#wordStart(this.#cursor);
        return undefined;
      case "word-right":
        this.#cursor = this.#wordEnd(this.#cursor);
        return undefined;
      case "home":
        this.#cursor = 0;
        return undefined;
      case "end":
        this.#cursor = this.#text.length;
        return undefined;
      case "kill-before":
        this.#delete(0, this.#cursor);
        return undefined;
      case "kill-after":
        this.#delete(this.#cursor, this.#text.length);
        return undefined;
      case "kill-word":
        this.#delete(this.#wordStart(this.#cursor), this.#cursor);
        return undefined;
      case "up":
        this.#recall(-1);
        return undefined;
      case "down":
        this.#recall(1);
        return undefined;
      case "interrupt":
        // Like a shell: Ctrl+C abandons a typed line, and quits on an empty one.
        if (this.#text === "") return { type: "quit" };
        this.#set("");
        return undefined;
      case "eof":
        if (this.#text === "") return { type: "quit" };
        if (this.#cursor < this.#text.length) {
          this.#delete(this.#cursor, this.#next(this.#cursor));
        }
        return undefined;
      case "redraw":
      case "ignored":
      case "tab":
      case "page-up":
      case "page-down":
      case "window-next":
      case "window-prev":
      case "window":
        return undefined;
    }
  }

  /**
   * Replaces the whole line, the cursor at its end (e.g. a completion, or a
   * refused line put back).
   *
   * @param text the new line
   * @param cursor where the cursor goes (a UTF-16 offset)
   */
  setText(text: string, cursor = text.length): void {
    this.#text = text;
    this.#cursor = Math.max(0, Math.min(cursor, text.length));
  }

  /** The submitted lines Up/Down recall, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Sets the lines Up/Down recall (e.g. from the state file).
   *
   * @param lines oldest first
   */
  loadHistory(lines: readonly string[]): void {
    this.#history.length = 0;
    this.#history.push(...lines.slice(-this.#historySize));
    this.#historyIndex = this.#history.length;
  }

  /**
   * Inserts text at the cursor. Tabs become spaces; other control
   * characters are dropped, and so are newlines unless `multiline` (a
   * bracketed paste, Alt+Enter).
   *
   * @param text typed or pasted text
   * @param multiline keep newlines (a multi-line message)
   */
  insert(text: string, multiline = false): void {
    const kept = multiline ? text.replaceAll("\r\n", "\n").replaceAll("\r", "\n") : text;
    const clean = kept.replaceAll("\t", " ").replace(multiline ? CONTROL_BUT_NEWLINE : CONTROL, "");
    if (clean === "") return;
    this.#text = this.#text.slice(0, this.#cursor) + clean + this.#text.slice(this.#cursor);
    // Snap to a cluster boundary (a combining mark joins the cluster before it).
    const target = this.#cursor + clean.length;
    this.#cursor = this.#boundaries().find((b) => b >= target) ?? this.#text.length;
  }

  /**
   * The part of the line to draw in `width` columns, scrolled horizontally
   * so that the cursor is always visible; wide characters take 2 columns and
   * are never cut in half.
   *
   * @param width columns available for the text (at least 1)
   * @returns the visible text and the cursor column within it
   */
  view(width: number): EditorView {
    width = Math.max(1, Math.floor(width));
    const clusters = graphemes(this.#text).map((c) => c === "\n" ? NEWLINE_MARK : c);
    const widths = clusters.map(clusterWidth);
    let at = 0;
    let cursorIndex = 0;
    while (cursorIndex < clusters.length && at < this.#cursor) {
      at += clusters[cursorIndex]!.length;
      cursorIndex++;
    }
    const span = (from: number, to: number) => {
      let sum = 0;
      for (let i = from; i < to; i++) sum += widths[i]!;
      return sum;
    };
    let scroll = Math.min(this.#scroll, cursorIndex);
    // Keep the cursor and the cluster under it inside the width.
    const under = widths[cursorIndex] ?? 0;
    while (scroll < cursorIndex && span(scroll, cursorIndex) + under > width) scroll++;
    // Show as much as fits when text was deleted at the end.
    while (scroll > 0 && span(scroll - 1, clusters.length) <= width) scroll--;
    this.#scroll = scroll;
    let used = 0;
    let end = scroll;
    while (end < clusters.length && used + widths[end]! <= width) used += widths[end++]!;
    if (scroll > 0 && cursorIndex > scroll) {
      // Mark that the start is out of view, in place of the first visible cluster.
      const first = scroll;
      return {
        text: SCROLL_MARK + " ".repeat(Math.max(0, widths[first]! - 1)) +
          clusters.slice(first + 1, end).join(""),
        cursor: span(scroll, cursorIndex),
      };
    }
    return { text: clusters.slice(scroll, end).join(""), cursor: span(scroll, cursorIndex) };
  }

  #set(text: string): void {
    this.#text = text;
    this.#cursor = text.length;
    this.#scroll = 0;
  }

  #delete(from: number, to: number): void {
    if (from >= to) return;
    this.#text = this.#text.slice(0, from) + this.#text.slice(to);
    this.#cursor = from;
  }

  #remember(line: string): void {
    if (this.#history.at(-1) !== line) this.#history.push(line);
    if (this.#history.length > this.#historySize) this.#history.shift();
  }

  #recall(step: -1 | 1): void {
    const index = this.#historyIndex + step;
    if (index < 0 || index > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#text;
    this.#historyIndex = index;
    this.#set(index === this.#history.length ? this.#draft : this.#history[index]!);
  }

  /** Offsets of every cluster boundary, 0 and the length included. */
  #boundaries(): number[] {
    const out = [0];
    let at = 0;
    for (const cluster of graphemes(this.#text)) out.push(at += cluster.length);
    return out;
  }

  #previous(offset: number): number {
    return this.#boundaries().findLast((b) => b < offset) ?? 0;
  }

  #next(offset: number): number {
    return this.#boundaries().find((b) => b > offset) ?? this.#text.length;
  }

  /** Start of the word before `offset` (skipping spaces first), like readline. */
  #wordStart(offset: number): number {
    let i = offset;
    while (i > 0 && /\s/.test(this.#text[i - 1]!)) i--;
    while (i > 0 && !/\s/.test(this.#text[i - 1]!)) i--;
    return i;
  }

  /** End of the word after `offset`. */
  #wordEnd(offset: number): number {
    let i = offset;
    while (i < this.#text.length && /\s/.test(this.#text[i]!)) i++;
    while (i < this.#text.length && !/\s/.test(this.#text[i]!)) i++;
    return i;
  }
}
