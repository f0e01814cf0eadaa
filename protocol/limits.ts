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

/** The room everyone starts in. */
export const LOBBY = "#lobby";
/** Most rooms one session may be in at once. */
export const MAX_JOINED_ROOMS = 50;
/** Most rooms the server keeps (rooms are persisted, so they must be bounded). */
export const MAX_ROOMS = 10_000;
/** Longest room topic, in characters. */
export const MAX_TOPIC_LENGTH = 300;
/** Messages replayed from a room's history when joining it. */
export const JOIN_HISTORY = 50;
/** Most messages one `/history` request returns. */
export const MAX_HISTORY_PAGE = 1000;
/** Most missed messages replayed when a session resumes. */
export const MAX_RESUME_REPLAY = 10_000;

/** Default number of `search` results per page. */
export const SEARCH_PAGE = 20;
/** Most `search` results per page. */
export const MAX_SEARCH_PAGE = 100;
/** Longest away message, in characters. */
export const MAX_AWAY_LENGTH = 300;
/** Longest `search` text, in characters. */
export const MAX_SEARCH_LENGTH = 200;
