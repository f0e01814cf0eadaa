/**
 * Key decoding for the line editor: raw terminal bytes (in raw mode) to key
 * events. Escape sequences and UTF-8 characters may arrive split across reads;
 * the decoder keeps the unfinished part until the next chunk.
 *
 * @module
 */

/** Names of the keys that are not text. */
export type KeyName =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "word-left"
  | "word-right"
  | "up"
  | "down"
  | "home"
  | "end"
  /** Ctrl+U: delete from the start of the line to the cursor. */
  | "kill-before"
  /** Ctrl+K: delete from the cursor to the end of the line. */
  | "kill-after"
  /** Ctrl+W (or Alt+Backspace): delete the word before the cursor. */
  | "kill-word"
  /** Ctrl+C. */
  | "interrupt"
  /** Ctrl+D. */
  | "eof"
  /** Ctrl+L. */
  | "redraw"
  /** Tab: complete the word before the cursor. */
  | "tab"
  /** Alt+Enter: a new line inside the message. */
  | "newline"
  | "page-up"
  | "page-down"
  /** Alt+→, Ctrl+N: the next window. */
  | "window-next"
  /** Alt+←, Ctrl+P: the previous window. */
  | "window-prev"
  /** A lone Escape, or a sequence this decoder does not know. */
  | "ignored";

/** A key (or a run of typed text) decoded from terminal input. */
export type Key =
  /** Printable text (one or more characters; a paste arrives as one run). */
  | { type: "text"; text: string }
  /** A bracketed paste (the terminal marks it): its text, newlines kept. */
  | { type: "paste"; text: string }
  /** Alt+1…9: window N. */
  | { type: "window"; n: number }
  | { type: KeyName };

/** Most bytes of one bracketed paste kept; the rest is dropped. */
export const MAX_PASTE_BYTES = 1024 * 1024;

const PASTE_END = [0x1b, 0x5b, 0x32, 0x30, 0x31, 0x7e]; // ESC [ 2 0 1 ~

const ESC = 0x1b;

/** Control bytes (C0) that are keys. */
const CONTROL_KEYS: ReadonlyMap<number, Key> = new Map<number, Key>([
  [0x01, { type: "home" }], // Ctrl+A
  [0x02, { type: "left" }], // Ctrl+B
  [0x03, { type: "interrupt" }], // Ctrl+C
  [0x04, { type: "eof" }], // Ctrl+D
  [0x05, { type: "end" }], // Ctrl+E
  [0x06, { type: "right" }], // Ctrl+F
  [0x08, { type: "backspace" }], // Ctrl+H
  [0x09, { type: "tab" }], // Tab, Ctrl+I
  [0x0a, { type: "enter" }], // Ctrl+J
  [0x0b, { type: "kill-after" }], // Ctrl+K
  [0x0c, { type: "redraw" }], // Ctrl+L
  [0x0d, { type: "enter" }], // Ctrl+M, Enter
  [0x0e, { type: "window-next" }], // Ctrl+N
  [0x10, { type: "window-prev" }], // Ctrl+P
  [0x15, { type: "kill-before" }], // Ctrl+U
  [0x17, { type: "kill-word" }], // Ctrl+W
  [0x7f, { type: "backspace" }], // DEL, what most terminals send for Backspace
]);

/** Final bytes of CSI / SS3 sequences without a numeric meaning. */
const FINAL_KEYS: Readonly<Record<string, KeyName>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** `CSI n ~` keys (VT220 style). */
const TILDE_KEYS: Readonly<Record<string, KeyName>> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "3": "delete",
  "5": "page-up",
  "6": "page-down",
};

/**
 * Turns chunks of terminal bytes into keys. A chunk may end anywhere: inside
 * an escape sequence or a UTF-8 character. A lone ESC at the end of a chunk
 * stays {@linkcode KeyDecoder.pending}; call {@linkcode KeyDecoder.flush}
 * after a short pause to treat it as the Escape key.
 *
 * @example
 * ```ts
 * import { KeyDecoder } from "./keys.ts";
 * const keys = new KeyDecoder();
 * keys.push(new Uint8Array([0x68, 0x69, 0x1b, 0x5b])); // [{ type: "text", text: "hi" }]
 * keys.push(new Uint8Array([0x44])); // [{ type: "left" }]
 * ```
 */
export class KeyDecoder {
  readonly #text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  #pending: number[] = [];
  /** Inside a bracketed paste: its bytes so far. */
  #paste: number[] | undefined;

  /** Whether an unfinished escape sequence is held. */
  get pending(): boolean {
    return this.#pending.length > 0;
  }

  /**
   * Decodes a chunk.
   *
   * @param chunk bytes read from the terminal
   * @returns the keys completed by this chunk, in order
   */
  push(chunk: Uint8Array): Key[] {
    const keys: Key[] = [];
    if (this.#paste !== undefined) {
      const rest = this.#takePaste(chunk, keys);
      if (rest === undefined) return keys;
      chunk = rest;
    }
    let bytes = chunk;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pending.length + chunk.length);
      bytes.set(this.#pending);
      bytes.set(chunk, this.#pending.length);
      this.#pending = [];
    }
    let i = 0;
    let textStart = -1;
    const endText = (end: number) => {
      if (textStart === -1) return;
      const text = this.#text.decode(bytes.subarray(textStart, end), { stream: true });
      textStart = -1;
      if (text !== "") appendText(keys, text);
    };
    while (i < bytes.length) {
      const b = bytes[i]!;
      if (b >= 0x20 && b !== 0x7f) {
        if (textStart === -1) textStart = i;
        i++;
        continue;
      }
      endText(i);
      if (b !== ESC) {
        keys.push(CONTROL_KEYS.get(b) ?? { type: "ignored" });
        i++;
        continue;
      }
      const end = escapeEnd(bytes, i);
      if (end === -1) {
        this.#pending = Array.from(bytes.slice(i));
        break;
      }
      const key = decodeEscape(bytes, i, end);
      i = end;
      if (key === PASTE_START) {
        this.#paste = [];
        const rest = this.#takePaste(bytes.subarray(i), keys);
        if (rest === undefined) return keys;
        keys.push(...this.push(rest));
        return keys;
      }
      keys.push(key);
    }
    endText(i);
    return keys;
  }

  /** Adds bytes to the paste; at its end, emits it and returns what follows. */
  #takePaste(chunk: Uint8Array, keys: Key[]): Uint8Array | undefined {
    const paste = this.#paste!;
    const start = Math.max(0, paste.length - PASTE_END.length + 1);
    for (const b of chunk) if (paste.length < MAX_PASTE_BYTES + PASTE_END.length) paste.push(b);
    for (let i = start; i + PASTE_END.length <= paste.length; i++) {
      if (PASTE_END.every((b, k) => paste[i + k] === b)) {
        const text = new TextDecoder().decode(new Uint8Array(paste.slice(0, i)));
        // What followed the end marker in this chunk.
        const consumed = i + PASTE_END.length - (paste.length - chunk.length);
        this.#paste = undefined;
        keys.push({ type: "paste", text: text.replaceAll("\r\n", "\n").replaceAll("\r", "\n") });
        return chunk.subarray(Math.max(0, consumed));
      }
    }
    return undefined;
  }

  /**
   * Gives up on a held escape sequence: a lone ESC becomes an ignored key.
   *
   * @returns the keys of what was held (empty when nothing was)
   */
  flush(): Key[] {
    if (this.#pending.length === 0) return [];
    this.#pending = [];
    return [{ type: "ignored" }];
  }
}

function appendText(keys: Key[], text: string): void {
  const last = keys.at(-1);
  if (last?.type === "text") last.text += text;
  else keys.push({ type: "text", text });
}

/**
 * Where the escape sequence starting at `start` ends (exclusive), or -1 when
 * the bytes so far are an unfinished prefix.
 */
function escapeEnd(bytes: Uint8Array, start: number): number {
  const next = bytes[start + 1];
  if (next === undefined) return -1;
  if (next === ESC) {
    // ESC ESC [ D: Alt+← from a terminal that sends Alt as an ESC prefix (rxvt,
    // PuTTY); ESC ESC followed by anything else is a lone ESC, then the rest.
    const after = bytes[start + 2];
    if (after === undefined) return -1;
    if (after !== 0x5b /* [ */ && after !== 0x4f /* O */) return start + 1;
    return escapeEnd(bytes, start + 1);
  }
  if (next === 0x5b /* [ */) {
    // CSI: parameter and intermediate bytes 0x20–0x3f, then a final 0x40–0x7e.
    for (let j = start + 2; j < bytes.length; j++) {
      const b = bytes[j]!;
      if (b >= 0x40 && b <= 0x7e) return j + 1;
      if (b < 0x20 || b > 0x3f) return j; // malformed: stop before it
    }
    return -1;
  }
  if (next === 0x4f /* O */) {
    // SS3: one more byte.
    return start + 2 < bytes.length ? start + 3 : -1;
  }
  return start + 2; // Alt+key, or ESC ESC
}

/** The start of a bracketed paste (`CSI 200 ~`). */
const PASTE_START: Key = { type: "ignored" };

function decodeEscape(bytes: Uint8Array, start: number, end: number): Key {
  if (end === start + 1) return { type: "ignored" };
  const next = bytes[start + 1]!;
  if (next === ESC) {
    // An ESC prefix is Alt (as xterm's modifier 3 is): Alt+←/→ switch windows.
    const key = decodeEscape(bytes, start + 1, end);
    if (key.type === "left" || key.type === "word-left") return { type: "window-prev" };
    if (key.type === "right" || key.type === "word-right") return { type: "window-next" };
    return key;
  }
  if (next === 0x5b || next === 0x4f) {
    const final = String.fromCharCode(bytes[end - 1]!);
    const params = String.fromCharCode(...bytes.subarray(start + 2, end - 1));
    if (final === "~") {
      if (params === "200") return PASTE_START;
      const type = TILDE_KEYS[params.split(";")[0]!];
      return { type: type ?? "ignored" };
    }
    // rxvt's Ctrl+←/→ (SS3 with a lower-case final).
    if (next === 0x4f && (final === "d" || final === "c")) {
      return { type: final === "d" ? "word-left" : "word-right" };
    }
    const type = FINAL_KEYS[final];
    if (type === undefined) return { type: "ignored" };
    // Ctrl with the arrows (CSI 1;5D) moves by words; Alt (CSI 1;3D) switches windows.
    const modifier = params.split(";")[1];
    if (modifier === "5" && (type === "left" || type === "right")) {
      return { type: type === "left" ? "word-left" : "word-right" };
    }
    if (modifier === "3" && (type === "left" || type === "right")) {
      return { type: type === "left" ? "window-prev" : "window-next" };
    }
    return { type };
  }
  switch (next) {
    case 0x62: // Alt+b
      return { type: "word-left" };
    case 0x66: // Alt+f
      return { type: "word-right" };
    case 0x7f: // Alt+Backspace
    case 0x08:
      return { type: "kill-word" };
    case 0x0d: // Alt+Enter
    case 0x0a:
      return { type: "newline" };
    default:
      // Alt+1…9: window N.
      if (next >= 0x31 && next <= 0x39) return { type: "window", n: next - 0x30 };
      return { type: "ignored" };
  }
}
