/**
 * Splits a byte stream into UTF-8 text lines with a hard maximum length.
 *
 * @module
 */

import { DEFAULT_MAX_LINE_BYTES } from "./limits.ts";

const LF = 0x0a;
// Shared by every reader: a non-streaming decode() keeps no state between
// calls, and one decoder per connection costs memory for nothing.
const decoder = new TextDecoder("utf-8", { fatal: true });
const CR = 0x0d;

/** Why a line could not be delivered. */
export type LineErrorCode = "line_too_long" | "invalid_utf8";

/** One result of {@linkcode LineReader.push}: a line, or why one was refused. */
export type LineResult =
  | { ok: true; line: string }
  | { ok: false; code: LineErrorCode };

/** Options for {@linkcode LineReader}. */
export interface LineReaderOptions {
  /**
   * Longest line in bytes, not counting its terminator. 0 means unlimited.
   * @default {32768}
   */
  maxLineBytes?: number;
}

/**
 * Turns chunks of bytes, split anywhere (inside a UTF-8 character too), into
 * lines. A line ends at `\n`; one `\r` before it is dropped, so telnet's
 * `\r\n` works. Each line is decoded as strict UTF-8.
 *
 * Memory is bounded: at most `maxLineBytes + 1` bytes of an unfinished line
 * are kept (the extra byte is room for a `\r`).
 * Once a line grows past the limit, `{ ok: false, code: "line_too_long" }` is
 * reported once and the rest of that line is skipped without being stored.
 *
 * @example
 * ```ts
 * import { LineReader } from "./line_reader.ts";
 * const reader = new LineReader({ maxLineBytes: 16 });
 * const bytes = new TextEncoder().encode("héllo\r\nwor");
 * reader.push(bytes); // [{ ok: true, line: "héllo" }]
 * reader.push(new TextEncoder().encode("ld\n")); // [{ ok: true, line: "world" }]
 * ```
 */
export class LineReader {
  readonly #max: number;
  #parts: Uint8Array[] | undefined; // pieces of an unfinished line, if any
  #pending = 0;
  #skipping = false;

  /** Creates a reader; see {@linkcode LineReaderOptions}. */
  constructor(options: LineReaderOptions = {}) {
    this.#max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Bytes of an unfinished line held now (at most `maxLineBytes`). */
  get bufferedBytes(): number {
    return this.#pending;
  }

  /**
   * Feeds a chunk. The chunk is not retained: callers may reuse its buffer.
   *
   * @param chunk bytes read from the peer
   * @returns the lines (and line errors) the chunk completed, in order
   */
  push(chunk: Uint8Array): LineResult[] {
    const out: LineResult[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#skipping) {
        if (nl !== -1) this.#skipping = false;
        start = end + 1;
        continue;
      }
      const size = this.#pending + (end - start);
      // A CR just before the LF is not part of the line; allow for it.
      const limit = this.#max === 0 ? Infinity : this.#max + 1;
      if (size > limit) {
        this.#reset();
        out.push({ ok: false, code: "line_too_long" });
        this.#skipping = nl === -1;
        start = end + 1;
        continue;
      }
      if (nl === -1) {
        (this.#parts ??= []).push(chunk.slice(start));
        this.#pending = size;
        break;
      }
      if (this.#parts === undefined) {
        const next = this.#wholeLines(chunk, start, nl, out);
        if (next !== -1) {
          start = next;
          continue;
        }
      }
      out.push(this.#finish(chunk.subarray(start, end)));
      start = nl + 1;
    }
    return out;
  }

  /**
   * Whole lines from `start` (the first ending at `nl`) decoded with one
   * call instead of one per line (a sender's 16 KiB read holds ~200): up to
   * the first line over the limit. Not taken (-1) for fewer than two lines,
   * invalid UTF-8 or a byte-order mark anywhere, which the line-by-line path
   * handles exactly as before (a per-line decode drops a BOM at each line's
   * start).
   *
   * @returns where the next line starts, or -1 when nothing was taken
   */
  #wholeLines(chunk: Uint8Array, start: number, nl: number, out: LineResult[]): number {
    let lineStart = start;
    let last = -1;
    let lines = 0;
    while (nl !== -1) {
      let len = nl - lineStart;
      if (len > 0 && chunk[nl - 1] === CR) len--;
      if (this.#max !== 0 && len > this.#max) break;
      last = nl;
      lines++;
      lineStart = nl + 1;
      nl = chunk.indexOf(LF, lineStart);
    }
    if (lines < 2) return -1;
    let text: string;
    try {
      text = decoder.decode(chunk.subarray(start, last));
    } catch {
      return -1;
    }
    if (text.includes("\uFEFF") || (chunk[start] === 0xef && chunk[start + 1] === 0xbb)) return -1;
    for (const line of text.split("\n")) {
      out.push({ ok: true, line: line.endsWith("\r") ? line.slice(0, -1) : line });
    }
    return last + 1;
  }

  /**
   * Ends the stream. An unfinished last line is returned as a line (a peer
   * that closes without a final newline still gets its text through).
   */
  end(): LineResult[] {
    if (this.#skipping || this.#pending === 0) {
      this.#reset();
      return [];
    }
    return [this.#finish(new Uint8Array(0))];
  }

  #finish(tail: Uint8Array): LineResult {
    let bytes = tail;
    if (this.#parts) {
      bytes = new Uint8Array(this.#pending + tail.length);
      let offset = 0;
      for (const part of this.#parts) {
        bytes.set(part, offset);
        offset += part.length;
      }
      bytes.set(tail, offset);
    }
    this.#reset();
    let len = bytes.length;
    if (len > 0 && bytes[len - 1] === CR) len--;
    if (this.#max !== 0 && len > this.#max) {
      return { ok: false, code: "line_too_long" };
    }
    try {
      return { ok: true, line: decoder.decode(bytes.subarray(0, len)) };
    } catch {
      return { ok: false, code: "invalid_utf8" };
    }
  }

  #reset(): void {
    this.#parts = undefined;
    this.#pending = 0;
  }
}
