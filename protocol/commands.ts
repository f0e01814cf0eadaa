/**
 * The command registry: one table of slash commands that turns a typed line
 * (`/msg bob hi`) into a client frame. The server's plain-text mode, the
 * terminal client and `/help` all use this table.
 *
 * @module
 */

import type { ClientFrame, CommandHelp } from "./frames.ts";
import { MAX_HISTORY_PAGE } from "./limits.ts";
import { isRoomName, normalizeRoom } from "./text.ts";

/** One slash command. */
export interface Command {
  /** Name without the slash, e.g. `msg`. */
  name: string;
  /** Other names, e.g. `exit` for `quit`. */
  aliases?: readonly string[];
  /** Argument synopsis, e.g. `NICK TEXT`; empty for none. */
  args: string;
  /** One line of what it does. */
  summary: string;
  /** Said after the usage line of a usage error, e.g. the range of a number. */
  usageDetail?: string;
  /**
   * Builds the frame from the text after the command name (trimmed).
   * Returns `undefined` when the arguments do not fit (a usage error).
   */
  parse(args: string): ClientFrame | undefined;
}

function text(type: "say" | "me") {
  return (args: string): ClientFrame | undefined => args === "" ? undefined : { type, text: args };
}

/** Every command, in `/help` order. */
export const COMMANDS: readonly Command[] = [
  {
    name: "help",
    args: "",
    summary: "list the commands",
    parse: () => ({ type: "help" }),
  },
  {
    name: "nick",
    args: "NEW",
    summary: "change your nickname",
    parse: (args) => /^\S+$/.test(args) ? { type: "nick", nick: args } : undefined,
  },
  {
    name: "join",
    aliases: ["j"],
    args: "#ROOM",
    summary: "join a room (creating it if new) and talk there",
    parse: (args) => /^\S+$/.test(args) ? { type: "join", room: args } : undefined,
  },
  {
    name: "part",
    aliases: ["leave"],
    args: "[#ROOM]",
    summary: "leave a room (default: the current one)",
    parse: (args) =>
      args === ""
        ? { type: "part" }
        : /^\S+$/.test(args)
        ? { type: "part", room: args }
        : undefined,
  },
  {
    name: "rooms",
    aliases: ["list"],
    args: "",
    summary: "list the rooms with their member counts and topics",
    parse: (args) => args === "" ? { type: "rooms" } : undefined,
  },
  {
    name: "topic",
    args: "[TEXT]",
    summary: "show or set the current room's topic",
    parse: (args) => args === "" ? { type: "topic" } : { type: "topic", text: args },
  },
  {
    name: "msg",
    aliases: ["w", "whisper", "tell"],
    args: "NICK TEXT",
    summary: "send a private message",
    parse(args) {
      const m = /^(\S+)\s+(\S[\s\S]*)$/.exec(args);
      return m ? { type: "msg", to: m[1]!, text: m[2]! } : undefined;
    },
  },
  {
    name: "reply",
    aliases: ["r"],
    args: "TEXT",
    summary: "answer the last user who sent you a private message",
    parse: (args) => args === "" ? undefined : { type: "reply", text: args },
  },
  {
    name: "me",
    args: "ACTION",
    summary: "describe what you do (* alice waves)",
    parse: text("me"),
  },
  {
    name: "who",
    aliases: ["names", "users"],
    args: "[#ROOM]",
    summary: "list a room's members (default: the current room)",
    parse: (args) =>
      args === "" ? { type: "who" } : /^\S+$/.test(args) ? { type: "who", room: args } : undefined,
  },
  {
    name: "history",
    args: "[N]",
    summary: "show up to N (default 50, at most 1000) older messages of the current room",
    usageDetail: `N is a whole number from 1 to ${MAX_HISTORY_PAGE}`,
    parse(args) {
      if (args === "") return { type: "history" };
      const n = /^\d{1,4}$/.test(args) ? Number(args) : 0;
      return n >= 1 && n <= MAX_HISTORY_PAGE ? { type: "history", limit: n } : undefined;
    },
  },
  {
    name: "away",
    args: "[MESSAGE]",
    summary: "mark yourself away (shown in /who, told once to who messages you); alone: back",
    parse: (args) => args === "" ? { type: "away" } : { type: "away", text: args },
  },
  {
    name: "whois",
    args: "NICK",
    summary: "show a user's rooms, idle time and away message",
    parse: (args) => /^\S+$/.test(args) ? { type: "whois", nick: args } : undefined,
  },
  {
    name: "search",
    args: "TEXT [#ROOM]",
    summary: "find messages you could see (your rooms, your private messages), newest first",
    parse(args) {
      if (args === "") return undefined;
      const m = /^([\s\S]*?)\s+(#\S+)$/.exec(args);
      if (m && isRoomName(normalizeRoom(m[2]!))) {
        return { type: "search", text: m[1]!, room: m[2]! };
      }
      return { type: "search", text: args };
    },
  },
  {
    name: "quit",
    aliases: ["exit"],
    args: "[REASON]",
    summary: "leave the chat",
    parse: (args) => args === "" ? { type: "quit" } : { type: "quit", reason: args },
  },
];

const BY_NAME: ReadonlyMap<string, Command> = new Map(
  COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])].map((n) => [n, c] as const)),
);

/** Outcome of {@linkcode parseInput}. */
export type ParsedInput =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: "unknown_command" | "usage"; message: string };

/**
 * The usage line of a command, e.g. `/msg NICK TEXT`.
 *
 * @param command a registry entry
 * @returns its usage
 */
export function usageOf(command: Command): string {
  return command.args === "" ? `/${command.name}` : `/${command.name} ${command.args}`;
}

/**
 * The registry as `help` frame entries.
 *
 * @returns one entry per command, in registry order
 */
export function commandHelp(): CommandHelp[] {
  return COMMANDS.map((c) => ({
    usage: usageOf(c),
    summary: c.aliases?.length
      ? `${c.summary} (also ${c.aliases.map((a) => "/" + a).join(", ")})`
      : c.summary,
  }));
}

/**
 * Turns a typed line into a frame: `/cmd args` through the registry, the
 * bare word `exit` into `quit`, `//text` into a message starting with `/`,
 * and anything else into a `say`.
 *
 * @param line one line of user input (not empty)
 * @returns the frame, or a usage / unknown-command error
 *
 * @example
 * ```ts
 * import { parseInput } from "./commands.ts";
 * parseInput("/msg bob hi"); // { ok: true, frame: { type: "msg", to: "bob", text: "hi" } }
 * ```
 */
export function parseInput(line: string): ParsedInput {
  if (line.trim() === "exit") return { ok: true, frame: { type: "quit" } };
  if (!line.startsWith("/") || line.startsWith("//")) {
    return { ok: true, frame: { type: "say", text: line.startsWith("//") ? line.slice(1) : line } };
  }
  const m = /^\/(\S*)\s*([\s\S]*)$/.exec(line)!;
  const name = m[1]!.toLowerCase();
  const command = BY_NAME.get(name);
  if (!command) {
    return {
      ok: false,
      code: "unknown_command",
      message: `unknown command "/${name}" (type /help for the list)`,
    };
  }
  const frame = command.parse(m[2]!.trim());
  if (!frame) {
    const detail = command.usageDetail === undefined ? "" : ` (${command.usageDetail})`;
    return { ok: false, code: "usage", message: `usage: ${usageOf(command)}${detail}` };
  }
  return { ok: true, frame };
}
