/**
 * Mentions: whether a line names the reader, by the same folding as
 * nicknames (NFKC and lower case, `nickKey`), bounded by non-word
 * characters on both sides.
 *
 * @module
 */

import { nickKey } from "../protocol/mod.ts";

/** Characters that continue a word around a nickname (`alice_` or `malice` is not `alice`). */
const WORD = /[\p{L}\p{M}\p{Nd}_-]/u;

/**
 * Whether `text` mentions `nick`: the nickname appears, compared by
 * {@linkcode nickKey} (so `ALICE` and `Ａｌｉｃｅ` mention `alice`), with no
 * letter, digit, mark, `_` or `-` right before or after it. Punctuation and
 * spaces are boundaries (`alice:`, `@alice`, `alice.` all count).
 *
 * @param text message text
 * @param nick the reader's nickname
 * @returns true when the text mentions the nickname
 *
 * @example
 * ```ts
 * import { mentions } from "./mention.ts";
 * mentions("Alice: lunch?", "alice"); // true
 * mentions("malice aforethought", "alice"); // false
 * ```
 */
export function mentions(text: string, nick: string): boolean {
  const key = nickKey(nick);
  if (key === "") return false;
  // Fold character by character so positions stay comparable with word boundaries.
  const chars = [...text].map((ch) => nickKey(ch));
  const folded = chars.join("");
  // Offsets of each character's folded form, to look at its neighbours.
  const starts: number[] = [];
  let at = 0;
  for (const ch of chars) {
    starts.push(at);
    at += ch.length;
  }
  for (let from = folded.indexOf(key); from !== -1; from = folded.indexOf(key, from + 1)) {
    const first = starts.indexOf(from);
    const endOffset = from + key.length;
    const next = starts.indexOf(endOffset);
    if (first === -1 || (next === -1 && endOffset !== folded.length)) continue;
    const before = first > 0 ? chars[first - 1]! : "";
    const after = next === -1 ? "" : chars[next]!;
    if (!WORD.test(before) && !WORD.test(after)) return true;
  }
  return false;
}
