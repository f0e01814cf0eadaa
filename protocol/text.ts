/**
 * Text rules: nickname validation and comparison, message sanitising, and
 * visible rendering of control characters.
 *
 * @module
 */

import { MAX_NICK_LENGTH } from "./limits.ts";

/** Why a nickname is refused. */
export type NickProblem = "empty" | "too_long" | "bad_char" | "mixed_script" | "reserved";

/** Nicknames nobody may take, compared by {@linkcode nickKey}. */
export const RESERVED_NICKS: ReadonlySet<string> = new Set([
  "server",
  "admin",
  "administrator",
  "system",
  "root",
  "operator",
  "moderator",
  "chat",
  "nobody",
  "everyone",
  "here",
]);

const NICK_CHAR = /^[\p{L}\p{M}\p{Nd}_.\-]$/u;
const LETTER = /\p{L}/u;
// Scripts that may not mix in one nickname (UTS #39 §5.2 "Highly Restrictive"
// allows Latin only with Han/Hiragana/Katakana/Hangul/Bopomofo; we keep the
// common confusable scripts apart and allow the CJK combinations).
const SCRIPTS: ReadonlyArray<[string, RegExp]> = [
  ["Latin", /\p{Script=Latin}/u],
  ["Cyrillic", /\p{Script=Cyrillic}/u],
  ["Greek", /\p{Script=Greek}/u],
  ["Armenian", /\p{Script=Armenian}/u],
  ["Hebrew", /\p{Script=Hebrew}/u],
  ["Arabic", /\p{Script=Arabic}/u],
  ["Han", /\p{Script=Han}/u],
  ["Hiragana", /\p{Script=Hiragana}/u],
  ["Katakana", /\p{Script=Katakana}/u],
  ["Hangul", /\p{Script=Hangul}/u],
  ["Bopomofo", /\p{Script=Bopomofo}/u],
  ["Thai", /\p{Script=Thai}/u],
  ["Devanagari", /\p{Script=Devanagari}/u],
  ["Georgian", /\p{Script=Georgian}/u],
];
const CJK_SETS: ReadonlyArray<ReadonlySet<string>> = [
  new Set(["Han", "Hiragana", "Katakana", "Latin"]),
  new Set(["Han", "Hangul", "Latin"]),
  new Set(["Han", "Bopomofo", "Latin"]),
];

/**
 * Normalises a nickname for display: NFKC (Unicode UAX #15), trimmed.
 *
 * @param nick the nickname as typed
 * @returns the nickname as stored and shown
 */
export function normalizeNick(nick: string): string {
  return nick.normalize("NFKC").trim();
}

/**
 * The comparison key of a nickname: NFKC, then lower case, as in the PRECIS
 * `UsernameCaseMapped` profile (RFC 8265 §3.3). `Alice` and `ALICE` share a key.
 *
 * @param nick a nickname
 * @returns its key for uniqueness checks
 */
export function nickKey(nick: string): string {
  return nick.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/**
 * Checks a nickname: 1–24 characters, each a letter (any script, with its
 * combining marks), a decimal digit, `_`, `-` or `.`; letters from one script
 * only (no Latin mixed with Cyrillic or Greek); not reserved.
 *
 * @param nick a nickname, already passed through {@linkcode normalizeNick}
 * @returns the problem, or `undefined` when the nickname is acceptable
 */
export function checkNick(nick: string): NickProblem | undefined {
  const chars = [...nick];
  if (chars.length === 0) return "empty";
  if (chars.length > MAX_NICK_LENGTH) return "too_long";
  const scripts = new Set<string>();
  for (const ch of chars) {
    if (!NICK_CHAR.test(ch)) return "bad_char";
    if (!LETTER.test(ch)) continue;
    for (const [name, re] of SCRIPTS) {
      if (re.test(ch)) {
        scripts.add(name);
        break;
      }
    }
  }
  if (scripts.size > 1 && !CJK_SETS.some((set) => [...scripts].every((s) => set.has(s)))) {
    return "mixed_script";
  }
  if (RESERVED_NICKS.has(nickKey(nick))) return "reserved";
  return undefined;
}

/**
 * A sentence that explains a {@linkcode NickProblem}.
 *
 * @param nick the refused nickname
 * @param problem why it was refused
 * @returns e.g. `nickname "a b" is invalid: use letters, digits, "_", "-" or "."`
 */
export function describeNickProblem(nick: string, problem: NickProblem): string {
  const quoted = JSON.stringify(escapeControls(nick));
  switch (problem) {
    case "empty":
      return "nickname is empty";
    case "too_long":
      return `nickname ${quoted} is too long: at most ${MAX_NICK_LENGTH} characters`;
    case "bad_char":
      return `nickname ${quoted} is invalid: use letters, digits, "_", "-" or "."`;
    case "mixed_script":
      return `nickname ${quoted} is invalid: it mixes letters of different scripts`;
    case "reserved":
      return `nickname ${quoted} is reserved`;
  }
}

// Control sequences (ECMA-48 §5.4, §8.3): CSI ... final byte, OSC/DCS/PM/APC/SOS
// strings up to BEL or ST, and two-byte escapes; each in its 7-bit form (ESC
// followed by `[`, `]`, `P`, `X`, `^`, `_`) and its 8-bit C1 form (U+009B CSI,
// U+009D OSC, U+0090 DCS, U+0098 SOS, U+009E PM, U+009F APC; U+009C is ST).
// Removing the whole sequence, not just its introducer, keeps parameters such
// as "2J" or an OSC 52 payload out of the text too.
const ESCAPE_SEQUENCE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?/g;
// C0 controls but tab and newline, DEL, C1 controls, bidirectional embeddings,
// overrides and isolates (Unicode UAX #9: U+202A–U+202E, U+2066–U+2069).
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE_CHAR = /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes message text safe to show on a terminal: removes escape sequences,
 * control characters other than tab and newline, and bidirectional overrides.
 * Newlines are kept only when `multiline` is set.
 *
 * @param text message text from a peer
 * @param multiline keep `\n` (multi-line messages)
 * @returns the cleaned text
 */
export function sanitizeText(text: string, multiline = true): string {
  let clean = text.replace(ESCAPE_SEQUENCE, "").replace(UNSAFE_CHAR, "");
  if (!multiline) clean = clean.replaceAll("\n", " ");
  return clean;
}

// deno-lint-ignore no-control-regex -- matching control characters is the point
const VISIBLE_CONTROL = /[\x00-\x08\x0a-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Renders control characters visibly, never raw: C0 and DEL in caret notation
 * (`^[` for ESC, `^?` for DEL), C1 and bidi controls as `<U+XXXX>`. Tab is
 * kept. Used on every line that reaches a terminal.
 *
 * @param text any text
 * @returns the text with no raw control character in it
 */
export function escapeControls(text: string): string {
  return text.replace(VISIBLE_CONTROL, (ch) => {
    const code = ch.codePointAt(0)!;
    if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
    if (code === 0x7f) return "^?";
    return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
  });
}

const ROOM_NAME = /^#[A-Za-z0-9_-]{1,32}$/;

/**
 * Normalises a typed room name: trims it and adds the leading `#` when it
 * was left out (`dev` means `#dev`).
 *
 * @param room the room name as typed
 * @returns the name with its `#`
 */
export function normalizeRoom(room: string): string {
  const trimmed = room.trim();
  return trimmed.startsWith("#") ? trimmed : "#" + trimmed;
}

/**
 * Whether a room name is valid: `#` plus 1–32 ASCII letters, digits, `-` or
 * `_` (issue 3).
 *
 * @param room a normalised room name
 * @returns true when valid
 */
export function isRoomName(room: string): boolean {
  return ROOM_NAME.test(room);
}

/**
 * The key rooms are compared by: the name in lower case (room names are
 * ASCII, so no Unicode folding is needed).
 *
 * @param room a room name
 * @returns its key
 *
 * @example
 * ```ts
 * import { roomKey } from "./text.ts";
 * roomKey("#Dev"); // "#dev"
 * ```
 */
export function roomKey(room: string): string {
  return room.toLowerCase();
}
