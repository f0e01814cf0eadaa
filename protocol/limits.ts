/**
 * Protocol limits shared by the server, the client and the decoder.
 *
 * Every limit that a remote peer could otherwise grow is named here, with its
 * default. The server exposes each one as a flag (see docs/operations.md).
 *
 * @module
 */

/** Limits applied to text a peer sends. */
export interface TextLimits {
  /**
   * Longest accepted line, in bytes, not counting the `\n` (or `\r\n`).
   * A longer line is refused without being buffered whole.
   * @default {32768}
   */
  maxLineBytes: number;
  /**
   * Longest accepted message text, in UTF-8 bytes.
   * @default {8192}
   */
  maxTextBytes: number;
  /**
   * Most lines in one multi-line message (JSON clients only).
   * @default {100}
   */
  maxTextLines: number;
}

/** Protocol version spoken by this build; carried by `hello` and `welcome`. */
export const PROTOCOL_VERSION = 1;

/** Default for {@linkcode TextLimits.maxLineBytes}: 32 KiB. */
export const DEFAULT_MAX_LINE_BYTES = 32 * 1024;
/** Default for {@linkcode TextLimits.maxTextBytes}: 8 KiB. */
export const DEFAULT_MAX_TEXT_BYTES = 8 * 1024;
/** Default for {@linkcode TextLimits.maxTextLines}. */
export const DEFAULT_MAX_TEXT_LINES = 100;
/** Longest nickname, in characters (code points after NFKC). */
export const MAX_NICK_LENGTH = 24;

/** The default {@linkcode TextLimits}. */
export const DEFAULT_TEXT_LIMITS: Readonly<TextLimits> = Object.freeze({
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  maxTextBytes: DEFAULT_MAX_TEXT_BYTES,
  maxTextLines: DEFAULT_MAX_TEXT_LINES,
});
