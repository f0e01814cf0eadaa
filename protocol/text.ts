/**
 * Text rules: nickname validation and comparison, message sanitising, and
 * visible rendering of control characters.
 *
 * @module
 */

import CONFUSABLES from "unhomoglyph/data.json" with { type: "json" };
import { MAX_NICK_LENGTH } from "./limits.ts";

/** Why a nickname is refused. */
export type NickProblem =
  | "empty"
  | "too_long"
  | "bad_char"
  | "invisible"
  | "no_letter"
  | "mixed_script"
  | "reserved";

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
 * The prototypes of Unicode's confusables table (`confusables.txt` of
 * Unicode TS #39, version 13.0.0, as shipped by the npm package
 * `unhomoglyph`, MIT licence): each source code point maps to the string it
 * can be mistaken for, e.g. Cyrillic `а` to Latin `a`, `m` to `rn`.
 */
const PROTOTYPES: ReadonlyMap<string, string> = new Map(
  Object.entries(CONFUSABLES as Record<string, string>),
);

/**
 * The confusable skeleton of a string, as defined by Unicode TS #39 §4:
 * NFD, then every code point replaced by its prototype from the confusables
 * table, then NFD again. Two strings are confusable when their skeletons are
 * equal.
 *
 * @param text any text
 * @returns its skeleton (for comparison only, not for display)
 *
 * @example
 * ```ts
 * import { skeleton } from "./text.ts";
 * skeleton("\u0430\u04cf\u0456\u0441\u0435") === skeleton("alice"); // true (Cyrillic)
 * ```
 */
export function skeleton(text: string): string {
  let out = "";
  for (const ch of text.normalize("NFD")) out += PROTOTYPES.get(ch) ?? ch;
  return out.normalize("NFD");
}

/**
 * The keys under which a nickname must be unique, two look-alike checks:
 *
 * 1. the confusable skeleton (Unicode TS #39 §4, {@linkcode skeleton}) of its
 *    case-folded NFKC form ({@linkcode nickKey}), as TS #39 recommends;
 * 2. because nicknames ignore case, the skeleton of the same form in capitals
 *    (a name that is confusable once upper-cased is confusable): the table maps
 *    Cyrillic `Ӏ`, `І` and Latin `I` to `l`, so `аӏісе` (Cyrillic) and `alice`
 *    collide here although the lower-case table maps `ӏ` to `i`.
 *
 * Each key is folded again ({@linkcode nickKey}: the table maps some
 * characters to capitals, e.g. `0` to `O`). `alice`, `ALICE`, `a1ice` and
 * `аӏісе` share a key; so do `m` and `rn`.
 *
 * @param nick a nickname
 * @returns the two keys, prefixed `l:` and `u:`
 */
export function nickSkeletons(nick: string): [string, string] {
  const folded = nickKey(nick);
  return [
    "l:" + nickKey(skeleton(folded)),
    "u:" + nickKey(skeleton(folded.toUpperCase())),
  ];
}

// Code points that show nothing (Unicode UAX #44 Default_Ignorable_Code_Point,
// which includes the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the
// combining grapheme joiner U+034F), variation selectors (Variation_Selector:
// U+FE00–FE0F, U+E0100–E01EF, the Mongolian U+180B–180D, U+180F), and the
// blank Braille pattern U+2800. Refused anywhere in a nickname.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Variation_Selector}\u2800]/u;
const LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;

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
 * The case folding of nicknames, the one used everywhere a nickname is
 * looked up or stored as a key (the hub, the store's keys, the clients, the
 * IRC gateway's CASEMAPPING): NFKC, then Unicode `toLowerCase()`, then NFKC,
 * as in the PRECIS `UsernameCaseMapped` profile (RFC 8265 §3.3). `Alice` and
 * `ALICE` share a key. Uniqueness is stricter: see {@linkcode nickSkeletons}.
 *
 * @param nick a nickname
 * @returns its key for uniqueness checks
 */
export function nickKey(nick: string): string {
  return nick.normalize("NFKC").toLowerCase().normalize("NFKC");
}

const RESERVED_SKELETONS: ReadonlySet<string> = new Set(
  [...RESERVED_NICKS].flatMap((n) => nickSkeletons(n)),
);

/**
 * Checks a nickname: 1–24 characters, each a letter (any script, with its
 * combining marks), a decimal digit, `_`, `-` or `.`; at least one letter or
 * digit, and no combining mark first; no invisible character anywhere
 * (default-ignorable code points, variation selectors, Hangul fillers; Unicode
 * UAX #44 / TS #39); letters from one script only (no Latin mixed with
 * Cyrillic or Greek, after TS #39 §5.2); not reserved, nor confusable with a
 * reserved name ({@linkcode nickSkeletons}).
 *
 * @param nick a nickname, already passed through {@linkcode normalizeNick}
 * @returns the problem, or `undefined` when the nickname is acceptable
 */
export function checkNick(nick: string): NickProblem | undefined {
  const chars = [...nick];
  if (chars.length === 0) return "empty";
  if (chars.length > MAX_NICK_LENGTH) return "too_long";
  if (INVISIBLE.test(nick)) return "invisible";
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
  // A nickname must show a letter or digit first: not only punctuation
  // (`-`, `.`), and no combining mark at the start to join what precedes it.
  if (!LETTER_OR_DIGIT.test(nick)) return "no_letter";
  if (!LETTER_OR_DIGIT.test(chars[0]!) && !/[_.\-]/.test(chars[0]!)) return "bad_char";
  if (nickSkeletons(nick).some((k) => RESERVED_SKELETONS.has(k))) return "reserved";
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
  const quoted = quoteValue(nick);
  switch (problem) {
    case "empty":
      return "nickname is empty";
    case "too_long":
      return `nickname ${quoted} is too long: at most ${MAX_NICK_LENGTH} characters`;
    case "bad_char":
      return `nickname ${quoted} is invalid: use letters, digits, "_", "-" or "."`;
    case "invisible": {
      const ch = [...nick].find((c) => INVISIBLE.test(c))!;
      return `nickname ${quoted} is invalid: it contains an invisible character (${codePoint(ch)})`;
    }
    case "no_letter":
      return `nickname ${quoted} is invalid: it needs a letter or digit`;
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
 * control characters other than tab and newline, and bidirectional overrides;
 * replaces lone surrogates with U+FFFD and U+2028/U+2029 with a newline.
 * Newlines are kept only when `multiline` is set.
 *
 * @param text message text from a peer
 * @param multiline keep `\n` (multi-line messages)
 * @returns the cleaned text
 */
export function sanitizeText(text: string, multiline = true): string {
  let clean = text.toWellFormed().replace(ESCAPE_SEQUENCE, "").replace(UNSAFE_CHAR, "")
    // LINE SEPARATOR and PARAGRAPH SEPARATOR (Unicode UAX #14: mandatory
    // breaks) are line breaks: a plain-text reader must not get them raw.
    .replace(/[\u2028\u2029]/g, "\n");
  if (!multiline) clean = clean.replaceAll("\n", " ");
  return clean;
}

// deno-lint-ignore no-control-regex -- matching control characters is the point
const VISIBLE_CONTROL = /[\x00-\x08\x0a-\x1f\x7f\x80-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Renders control characters visibly, never raw: C0 and DEL in caret notation
 * (`^[` for ESC, `^?` for DEL), C1, bidi controls and U+2028/U+2029 as
 * `<U+XXXX>`. Tab is
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

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

// What an echoed value must not carry raw: controls, format characters
// (bidi marks and overrides, joiners), default-ignorables, variation
// selectors, line and paragraph separators, and lone surrogates.
const UNSEEN =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}]|\p{Surrogate}/gu;

/**
 * Quotes a value a peer sent for echoing in an error message: every control,
 * format or invisible character (and any lone surrogate) is shown as
 * `<U+XXXX>`, so a refused value can neither reorder the line (bidi), hide
 * part of itself, nor break the JSON or the terminal it is shown in.
 *
 * @param value the refused value
 * @returns it in double quotes, e.g. `"a<U+202E>b"`
 */
export function quoteValue(value: string): string {
  return JSON.stringify(escapeUnseen(value));
}

/**
 * {@linkcode quoteValue} without the quotes, for a refused value echoed
 * where quotes do not belong (the target of an IRC numeric).
 *
 * @param value the refused value
 * @returns it with every control, format or invisible character (and lone
 * surrogate) as `<U+XXXX>`, e.g. `a<U+202E>b`
 */
export function escapeUnseen(value: string): string {
  return value.replace(UNSEEN, (ch) => `<${codePoint(ch)}>`);
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
