/**
 * Nickname colours: a stable preferred colour per nickname (a hash of its
 * `nickKey`), and an assignment that avoids giving two nicknames in view the
 * same colour while there are colours left. 256 colours where the terminal
 * has them, the 16-colour palette otherwise.
 *
 * @module
 */

import { nickKey } from "../protocol/mod.ts";

/** SGR foreground sequences of the 16-colour palette (no red, used for errors; no dark blue). */
export const PALETTE_16: readonly string[] = [32, 33, 35, 36, 92, 93, 94, 95, 96].map((c) =>
  `\x1b[${c}m`
);

/**
 * Readable colours of the 256-colour cube (xterm numbering), mid to light,
 * for dark and light backgrounds alike; reds are left out (errors use red).
 */
export const PALETTE_256: readonly string[] = [
  34,
  37,
  40,
  43,
  64,
  70,
  72,
  75,
  77,
  79,
  81,
  98,
  99,
  105,
  108,
  110,
  113,
  117,
  128,
  134,
  136,
  141,
  142,
  148,
  166,
  170,
  172,
  175,
  178,
  180,
  184,
  208,
  214,
].map((c) => `\x1b[38;5;${c}m`);

/** FNV-1a of a nickname's key. */
function hash(nick: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(nickKey(nick))) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Whether the terminal shows 256 colours: `TERM` ending in `256color` or
 * `COLORTERM` set (truecolor terminals show 256 too).
 *
 * @param env the environment (`TERM`, `COLORTERM`)
 * @returns true for 256 colours
 */
export function has256Colors(env: { TERM?: string; COLORTERM?: string }): boolean {
  return (env.TERM ?? "").includes("256color") || (env.COLORTERM ?? "") !== "";
}

/**
 * Colours for the nicknames in view. A nickname keeps its colour while it is
 * among the most recently seen; a new one gets its preferred colour unless
 * another recent nickname holds it, then the next free one, and when all are
 * held, the colour of the least recently seen.
 *
 * @example
 * ```ts
 * import { NickColors, PALETTE_16 } from "./colors.ts";
 * const colors = new NickColors(PALETTE_16);
 * colors.of("alice") !== colors.of("bob"); // true
 * ```
 */
export class NickColors {
  readonly #palette: readonly string[];
  /** Nickname key to palette index, least recently seen first. */
  readonly #assigned = new Map<string, number>();

  /** @param palette SGR foreground sequences to choose from (not empty) */
  constructor(palette: readonly string[]) {
    this.#palette = palette;
  }

  /**
   * The colour of a nickname (and marks it as seen now).
   *
   * @param nick a nickname
   * @returns an SGR foreground sequence from the palette
   */
  of(nick: string): string {
    const key = nickKey(nick);
    let index = this.#assigned.get(key);
    if (index !== undefined) {
      this.#assigned.delete(key);
    } else {
      const held = new Set(this.#assigned.values());
      const preferred = hash(nick) % this.#palette.length;
      if (held.size >= this.#palette.length) {
        // All held: take over the colour of the least recently seen nickname.
        const [oldest, colour] = this.#assigned.entries().next().value!;
        this.#assigned.delete(oldest);
        index = colour;
      } else {
        index = preferred;
        while (held.has(index)) index = (index + 1) % this.#palette.length;
      }
    }
    this.#assigned.set(key, index);
    return this.#palette[index]!;
  }
}
