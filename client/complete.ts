/**
 * Tab completion of the word before the cursor: a command at the start of
 * the line (`/jo` → `/join `), a room name (`#de` → `#dev `), or a nickname
 * of the current room (`bo` → `bob: ` at the start of a line, `bob `
 * elsewhere). Pressing Tab again cycles through the other matches.
 *
 * @module
 */

import { nickKey } from "../protocol/mod.ts";

/** What may be completed. */
export interface CompletionSources {
  /** Command names with their slash, e.g. `/join`. */
  commands: readonly string[];
  /** Room names, e.g. `#dev`. */
  rooms: readonly string[];
  /** Nicknames of the current room (or conversation), most relevant first. */
  nicks: readonly string[];
}

/** The line after a completion. */
export interface Completed {
  /** The whole new line. */
  text: string;
  /** The cursor, a UTF-16 offset into `text`. */
  cursor: number;
}

interface Cycle {
  /** The line before the word, and after the cursor. */
  head: string;
  tail: string;
  matches: string[];
  index: number;
  /** What the last completion produced, to recognise a repeated Tab. */
  result: Completed;
  suffix: (match: string) => string;
}

/**
 * Completes words; keeps the state needed to cycle on repeated Tabs.
 *
 * @example
 * ```ts
 * import { Completer } from "./complete.ts";
 * const completer = new Completer();
 * completer.complete("bo", 2, { commands: [], rooms: [], nicks: ["bob", "alice"] });
 * // { text: "bob: ", cursor: 5 }
 * ```
 */
export class Completer {
  #cycle: Cycle | undefined;

  /**
   * Completes the word before `cursor`, or (when the line is what the last
   * completion produced) replaces it with the next match.
   *
   * @param text the input line
   * @param cursor the cursor, a UTF-16 offset
   * @param sources commands, rooms and nicknames to complete from
   * @returns the new line, or `undefined` when nothing matches
   */
  complete(text: string, cursor: number, sources: CompletionSources): Completed | undefined {
    const cycle = this.#cycle;
    if (cycle && cycle.result.text === text && cycle.result.cursor === cursor) {
      cycle.index = (cycle.index + 1) % cycle.matches.length;
      return this.#apply(cycle);
    }
    this.#cycle = undefined;
    const before = text.slice(0, cursor);
    const start = before.search(/\S+$/);
    if (start === -1) return undefined;
    const word = before.slice(start);
    const head = text.slice(0, start);
    const tail = text.slice(cursor);
    let matches: string[];
    let suffix: (match: string) => string;
    if (start === 0 && word.startsWith("/")) {
      const prefix = word.toLowerCase();
      matches = sources.commands.filter((c) => c.toLowerCase().startsWith(prefix));
      suffix = () => " ";
    } else if (word.startsWith("#")) {
      const prefix = word.toLowerCase();
      matches = sources.rooms.filter((r) => r.toLowerCase().startsWith(prefix));
      suffix = () => " ";
    } else {
      const prefix = nickKey(word.replace(/^@/, ""));
      matches = sources.nicks.filter((n) => nickKey(n).startsWith(prefix));
      const at = word.startsWith("@") ? "@" : "";
      if (at) matches = matches.map((m) => at + m);
      suffix = () => (start === 0 ? ": " : " ");
    }
    matches = [...new Set(matches)];
    if (matches.length === 0) return undefined;
    this.#cycle = {
      head,
      tail: tail.replace(/^ /, ""),
      matches,
      index: 0,
      result: { text, cursor },
      suffix,
    };
    return this.#apply(this.#cycle);
  }

  /** Forgets the cycle (after any other key). */
  reset(): void {
    this.#cycle = undefined;
  }

  #apply(cycle: Cycle): Completed {
    const match = cycle.matches[cycle.index]!;
    const inserted = cycle.head + match + cycle.suffix(match);
    cycle.result = { text: inserted + cycle.tail, cursor: inserted.length };
    return cycle.result;
  }
}
