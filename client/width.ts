/**
 * Display width of text on a terminal: how many columns a character, a
 * grapheme cluster or a string takes (East Asian Wide and Fullwidth characters
 * and emoji take two, combining marks none). A small version of `wcwidth`
 * after Unicode UAX #11, enough to place the cursor of the line editor.
 *
 * @module
 */

// East Asian Wide (W) and Fullwidth (F) blocks, sorted, inclusive. Emoji are
// matched by their Emoji_Presentation property instead (see charWidth).
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility, CJK compat
  [0x3400, 0x4dbf], // CJK Extension A
  [0x4e00, 0x9fff], // CJK Unified Ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18aff], // Tangut
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK Extensions B–F, compatibility supplement
  [0x30000, 0x3fffd], // CJK Extension G and later
];

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}/u;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [start, end] = WIDE[mid]!;
    if (cp < start) hi = mid - 1;
    else if (cp > end) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * Columns one code point takes: 0 for combining marks, format and control
 * characters and Hangul medial vowels, 2 for East Asian Wide/Fullwidth and
 * emoji-presentation characters, 1 otherwise.
 *
 * @param cp a Unicode code point
 * @returns 0, 1 or 2
 *
 * @example
 * ```ts
 * import { charWidth } from "./width.ts";
 * charWidth("漢".codePointAt(0)!); // 2
 * ```
 */
export function charWidth(cp: number): 0 | 1 | 2 {
  if (cp >= 0x20 && cp < 0x7f) return 1;
  const ch = String.fromCodePoint(cp);
  if (ZERO_WIDTH.test(ch)) return 0;
  if (cp >= 0x1160 && cp <= 0x11ff) return 0; // Hangul Jamo medial vowels, finals
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef)) return 0;
  if (isWide(cp) || EMOJI_PRESENTATION.test(ch)) return 2;
  return 1;
}

/**
 * Columns one grapheme cluster takes: its widest code point, and 2 for an
 * emoji made to render as one by U+FE0F (e.g. `❤️`). ZWJ sequences and flags
 * therefore take 2, `e` + a combining accent 1.
 *
 * @param cluster one extended grapheme cluster
 * @returns 0, 1 or 2
 */
export function clusterWidth(cluster: string): number {
  if (cluster.includes("\ufe0f") && PICTOGRAPHIC.test(cluster)) return 2;
  let width = 0;
  for (const ch of cluster) width = Math.max(width, charWidth(ch.codePointAt(0)!));
  return width;
}

const SEGMENTER = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Splits text into grapheme clusters (what a user sees as one character).
 *
 * @param text any text
 * @returns the clusters, in order
 */
export function graphemes(text: string): string[] {
  return Array.from(SEGMENTER.segment(text), (s) => s.segment);
}

/**
 * Columns a string takes on a terminal (no control characters expected).
 *
 * @param text text without newlines
 * @returns the sum of its clusters' widths
 *
 * @example
 * ```ts
 * import { displayWidth } from "./width.ts";
 * displayWidth("hi 漢字 🎉"); // 10
 * ```
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const cluster of graphemes(text)) width += clusterWidth(cluster);
  return width;
}
