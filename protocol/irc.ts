/**
 * The IRC message codec: one line of the IRC client protocol (RFC 1459 §2.3,
 * RFC 2812 §2.3, as the Modern IRC documentation describes current use) with
 * IRCv3 message tags (https://ircv3.net/specs/extensions/message-tags).
 * Pure: no sockets, no state.
 *
 * A line is `[@tags ][:source ]COMMAND[ params][ :trailing]`, without its
 * CR LF. The part after the tags is at most {@linkcode IRC_LINE_BYTES} bytes
 * with its CR LF (510 without); the tag section at most
 * {@linkcode IRC_TAGS_BYTES} bytes including the `@` and the space after it.
 *
 * @module
 */

/** Longest message without tags, in bytes, counting the CR LF (RFC 1459 §2.3). */
export const IRC_LINE_BYTES = 512;
/** Longest tag section, in bytes, counting the `@` and the trailing space (IRCv3 message-tags). */
export const IRC_TAGS_BYTES = 8191;
/**
 * Longest tag section a client may send, in bytes, counting the `@` and the
 * trailing space: 4094 bytes of tag data (IRCv3 message-tags, "Size limit").
 */
export const IRC_CLIENT_TAGS_BYTES = 4096;
/**
 * Longest line the gateway reads, in bytes, without the CR LF: the tag
 * section plus the rest (what `LineReader` is given for IRC connections).
 */
export const IRC_MAX_LINE_BYTES = IRC_TAGS_BYTES + IRC_LINE_BYTES - 2;
/** Most parameters a message has (RFC 2812 §2.3.1: 14 middle + 1 trailing). */
export const IRC_MAX_PARAMS = 15;

/** One IRC message. */
export interface IrcMessage {
  /** IRCv3 tags; a tag without a value maps to `""`. */
  tags?: Record<string, string>;
  /** Where it comes from (`nick!user@host` or a server name), without the `:`. */
  source?: string;
  /** The command in upper case, or a three-digit numeric. */
  command: string;
  /** The parameters; only the last may be empty, contain spaces or start with `:`. */
  params: string[];
}

/** Why {@linkcode parseIrcLine} refused a line. */
export type IrcParseProblem = "empty" | "no_command" | "bad_command" | "tags_too_long";

/** Outcome of {@linkcode parseIrcLine}. */
export type IrcParseResult =
  | { ok: true; message: IrcMessage }
  | { ok: false; problem: IrcParseProblem };

const encoder = new TextEncoder();
const COMMAND = /^(?:[A-Za-z]+|\d{3})$/;

/**
 * Unescapes an IRCv3 tag value: `\:` is `;`, `\s` a space, `\\` a
 * backslash, `\r` CR, `\n` LF; a backslash before any other character is
 * dropped, and a lone trailing backslash too (message-tags, "Escaping values").
 *
 * @param raw the value as it appears on the wire
 * @returns the value
 */
export function unescapeTagValue(raw: string): string {
  if (!raw.includes("\\")) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = raw[++i];
    if (next === undefined) break;
    out += next === ":"
      ? ";"
      : next === "s"
      ? " "
      : next === "r"
      ? "\r"
      : next === "n"
      ? "\n"
      : next;
  }
  return out;
}

/**
 * Escapes a tag value for the wire (the inverse of {@linkcode unescapeTagValue}).
 *
 * @param value any string
 * @returns the value with `;`, space, `\`, CR and LF escaped
 */
export function escapeTagValue(value: string): string {
  return value.replace(
    /[;\s\\]/g,
    (ch) =>
      ch === ";"
        ? "\\:"
        : ch === " "
        ? "\\s"
        : ch === "\\"
        ? "\\\\"
        : ch === "\r"
        ? "\\r"
        : ch === "\n"
        ? "\\n"
        : ch,
  );
}

/**
 * Parses one line (without CR LF). Tolerant where clients differ: runs of
 * spaces between parts count as one, the command is upper-cased, more than
 * {@linkcode IRC_MAX_PARAMS} parameters are kept. Never throws.
 *
 * @param line the line
 * @param maxTagsBytes longest tag section, with its `@` and trailing space
 * (a server reading a client passes {@linkcode IRC_CLIENT_TAGS_BYTES})
 * @returns the message, or why the line is not one
 *
 * @example
 * ```ts
 * import { parseIrcLine } from "./irc.ts";
 * parseIrcLine("@time=x :ann!a@h PRIVMSG #dev :hi there");
 * // { ok: true, message: { tags: { time: "x" }, source: "ann!a@h", command: "PRIVMSG",
 * //   params: ["#dev", "hi there"] } }
 * ```
 */
export function parseIrcLine(line: string, maxTagsBytes = IRC_TAGS_BYTES): IrcParseResult {
  let i = 0;
  const n = line.length;
  const skipSpaces = () => {
    while (i < n && line[i] === " ") i++;
  };
  skipSpaces();
  if (i >= n) return { ok: false, problem: "empty" };
  let tags: Record<string, string> | undefined;
  if (line[i] === "@") {
    let end = line.indexOf(" ", i);
    if (end === -1) end = n;
    if (encoder.encode(line.slice(i, end)).length + 1 > maxTagsBytes) {
      return { ok: false, problem: "tags_too_long" };
    }
    tags = Object.create(null) as Record<string, string>; // a key may be "__proto__"
    for (const item of line.slice(i + 1, end).split(";")) {
      if (item === "") continue;
      const eq = item.indexOf("=");
      const key = eq === -1 ? item : item.slice(0, eq);
      if (key === "") continue;
      tags[key] = eq === -1 ? "" : unescapeTagValue(item.slice(eq + 1));
    }
    i = end;
    skipSpaces();
  }
  let source: string | undefined;
  if (line[i] === ":") {
    let end = line.indexOf(" ", i);
    if (end === -1) end = n;
    source = line.slice(i + 1, end);
    i = end;
    skipSpaces();
  }
  if (i >= n) return { ok: false, problem: "no_command" };
  let end = line.indexOf(" ", i);
  if (end === -1) end = n;
  const command = line.slice(i, end);
  if (!COMMAND.test(command)) return { ok: false, problem: "bad_command" };
  i = end;
  const params: string[] = [];
  while (i < n) {
    skipSpaces();
    if (i >= n) break;
    if (line[i] === ":") {
      params.push(line.slice(i + 1));
      break;
    }
    let stop = line.indexOf(" ", i);
    if (stop === -1) stop = n;
    params.push(line.slice(i, stop));
    i = stop;
  }
  const message: IrcMessage = { command: command.toUpperCase(), params };
  if (tags) message.tags = tags;
  if (source !== undefined) message.source = source;
  return { ok: true, message };
}

/**
 * Formats a message as one line, without CR LF. The last parameter gets a
 * `:` when it needs one (empty, has a space, starts with `:`), or always
 * with `trailing`. No length limit is applied here: see
 * {@linkcode splitUtf8} and {@linkcode ircLineBytes}.
 *
 * @param message the message; parameters before the last must be non-empty,
 * without spaces, not starting with `:`; no parameter may contain CR, LF or
 * NUL, and no tag value NUL (message-tags has no escape for it)
 * @param trailing always mark the last parameter with `:` (as servers do for text)
 * @returns the line
 * @throws {RangeError} when a parameter cannot be represented
 */
export function formatIrcLine(message: IrcMessage, trailing = false): string {
  let line = "";
  if (message.tags) {
    const items = Object.entries(message.tags).map(([k, v]) => {
      if (v.includes("\0")) throw new RangeError("IRC tag values cannot contain NUL");
      return v === "" ? k : `${k}=${escapeTagValue(v)}`;
    });
    if (items.length > 0) line = "@" + items.join(";") + " ";
  }
  if (message.source !== undefined) line += ":" + message.source + " ";
  line += message.command;
  const { params } = message;
  for (let k = 0; k < params.length; k++) {
    const p = params[k]!;
    if (/[\r\n\0]/.test(p)) throw new RangeError("IRC parameters cannot contain CR, LF or NUL");
    const last = k === params.length - 1;
    if (last && (trailing || p === "" || p.includes(" ") || p.startsWith(":"))) {
      line += " :" + p;
    } else if (p === "" || p.includes(" ") || p.startsWith(":")) {
      throw new RangeError(`IRC middle parameter ${JSON.stringify(p)} is not representable`);
    } else {
      line += " " + p;
    }
  }
  return line;
}

/**
 * The bytes of a line that count against {@linkcode IRC_LINE_BYTES}: what
 * follows the tag section, with the CR LF.
 *
 * @param line a formatted line, without CR LF
 * @returns its byte count without tags, plus 2
 */
export function ircLineBytes(line: string): number {
  const start = line.startsWith("@") ? line.indexOf(" ") + 1 : 0;
  return encoder.encode(line.slice(start)).length + 2;
}

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes each, never
 * inside a character (a code point; a grapheme cluster may be split),
 * preferring to break after a space when there is one in the last quarter.
 * Joined, the pieces are the text.
 *
 * @param text the text (no line breaks expected; they are kept as is)
 * @param maxBytes at least 4
 * @returns the pieces, none empty; `[]` for empty text
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError("maxBytes must be at least 4");
  const out: string[] = [];
  let piece = "";
  let bytes = 0;
  let lastSpace = -1; // index in piece just after a space
  let bytesAtSpace = 0;
  for (const ch of text) {
    const size = ch.codePointAt(0)! < 0x80
      ? 1
      : ch.codePointAt(0)! < 0x800
      ? 2
      : ch.length === 2
      ? 4
      : 3;
    if (bytes + size > maxBytes) {
      if (lastSpace > 0 && bytesAtSpace >= maxBytes * 0.75) {
        out.push(piece.slice(0, lastSpace));
        piece = piece.slice(lastSpace);
        bytes -= bytesAtSpace;
      } else {
        out.push(piece);
        piece = "";
        bytes = 0;
      }
      lastSpace = -1;
    }
    piece += ch;
    bytes += size;
    if (ch === " ") {
      lastSpace = piece.length;
      bytesAtSpace = bytes;
    }
  }
  if (piece !== "") out.push(piece);
  return out;
}
