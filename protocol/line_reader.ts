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
      out.push(this.#finish(chunk.subarray(start, end)));
      start = nl + 1;
    }
    return out;
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
