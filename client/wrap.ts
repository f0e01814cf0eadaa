/**
 * Word wrapping for the terminal: styled text (with SGR colour sequences) cut
 * into rows of at most a given width, at spaces where possible, with a
 * hanging indent on continuation rows. Widths follow width.ts (wide
 * characters take two columns and are never cut in half).
 *
 * @module
 */

import { clusterWidth, graphemes } from "./width.ts";

// deno-lint-ignore no-control-regex -- SGR sequences are ours; received text is escaped
const SGR_SPLIT = /(\x1b\[[0-9;]*m)/;
const RESET = "\x1b[0m";

interface Unit {
  text: string;
  width: number;
  kind: "sgr" | "space" | "char";
}

function unitsOf(line: string): Unit[] {
  const out: Unit[] = [];
  for (const part of line.split(SGR_SPLIT)) {
    if (part === "") continue;
    if (part.startsWith("\x1b[")) {
      out.push({ text: part, width: 0, kind: "sgr" });
      continue;
    }
    for (const cluster of graphemes(part)) {
      out.push({
        text: cluster,
        width: clusterWidth(cluster),
        kind: cluster === " " ? "space" : "char",
      });
    }
  }
  return out;
}

/** The SGR state after `sgr`: a reset clears it, anything else adds to it. */
function applySgr(active: string, sgr: string): string {
  return sgr === RESET || sgr === "\x1b[m" ? "" : active + sgr;
}

/**
 * Wraps styled text to `width` columns.
 *
 * Each `\n`-separated line is wrapped on its own. A row breaks at the last
 * space that fits (the space is dropped); a word longer than a row is cut.
 * Continuation rows start with `indent` spaces (at most half the width, so
 * there is always room for text). Colours that are on at a break are reset
 * at the end of the row and set again after the indent, so every row can be
 * drawn on its own.
 *
 * @param text styled text (SGR sequences only; no other control characters)
 * @param width columns per row (at least 1)
 * @param indent hanging indent of continuation rows, in columns
 * @returns the rows, each at most `width` columns wide
 *
 * @example
 * ```ts
 * import { wrap } from "./wrap.ts";
 * wrap("bob: hello there world", 12, 5); // ["bob: hello", "     there", "     world"]
 * ```
 */
export function wrap(text: string, width: number, indent = 0): string[] {
  width = Math.max(1, Math.floor(width));
  indent = Math.max(0, Math.min(Math.floor(indent), Math.floor(width / 2)));
  const rows: string[] = [];
  let active = "";
  for (const line of text.split("\n")) {
    let row = "";
    let used = 0;
    let rowStart = active;
    let pendingSpaces: Unit[] = [];
    let firstRow = true;
    const flush = () => {
      rows.push(rowStart + row + (active !== "" ? RESET : ""));
      row = " ".repeat(indent);
      used = indent;
      rowStart = "";
      row += active;
      firstRow = false;
    };
    // Words: runs of non-space units (SGR sequences included).
    const units = unitsOf(line);
    let i = 0;
    while (i < units.length) {
      if (units[i]!.kind === "space") {
        pendingSpaces.push(units[i]!);
        i++;
        continue;
      }
      let j = i;
      let wordWidth = 0;
      while (j < units.length && units[j]!.kind !== "space") wordWidth += units[j++]!.width;
      const word = units.slice(i, j);
      i = j;
      const keepSpaces = used > (firstRow ? 0 : indent) || firstRow;
      const spaceWidth = keepSpaces ? pendingSpaces.length : 0;
      if (used + spaceWidth + wordWidth <= width) {
        if (keepSpaces) {
          row += pendingSpaces.map((u) => u.text).join("");
          used += spaceWidth;
        }
      } else if (indent + wordWidth <= width && used > (firstRow ? 0 : indent)) {
        flush();
      } else if (keepSpaces) {
        // Cut the word: it does not fit on a row of its own anyway.
        for (const u of pendingSpaces) {
          if (used + 1 > width) flush();
          row += u.text;
          used += 1;
        }
      }
      pendingSpaces = [];
      for (const u of word) {
        if (u.kind === "sgr") {
          row += u.text;
          active = applySgr(active, u.text);
          continue;
        }
        if (used + u.width > width) flush();
        row += u.text;
        used += u.width;
      }
    }
    if (firstRow && pendingSpaces.length > 0 && used === 0) {
      row += pendingSpaces.slice(0, width).map((u) => u.text).join("");
    }
    rows.push(rowStart + row + (active !== "" ? RESET : ""));
  }
  return rows;
}
