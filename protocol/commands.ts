/**
 * The command registry: one table of slash commands that turns a typed line
 * (`/msg bob hi`) into a client frame. The server's plain-text mode, the
 * terminal client and `/help` all use this table.
 *
 * @module
 */

import type { ClientFrame, CommandHelp, RoomMode } from "./frames.ts";
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

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a moderation duration: a whole number with an optional unit, `s`
 * (the default), `m`, `h` or `d`, e.g. `90`, `2s`, `10m`, `7d`.
 *
 * @param text the word
 * @returns seconds, or `undefined` when it is not a duration
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,7})([smhd]?)$/i.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[1]) * DURATION_UNITS[(m[2] || "s").toLowerCase()]!;
  return seconds > 0 ? seconds : undefined;
}

/** `WORD [DURATION] [REASON]`, for /ban and /serverban. */
function banArgs(args: string): { target: string; duration?: number; reason?: string } | undefined {
  const m = /^(\S+)(?:\s+(\S+))?(?:\s+(\S[\s\S]*))?$/.exec(args);
  if (!m) return undefined;
  const duration = m[2] === undefined ? undefined : parseDuration(m[2]);
  const reason = duration === undefined && m[2] !== undefined
    ? [m[2], m[3]].filter((x) => x !== undefined).join(" ")
    : m[3];
  return {
    target: m[1]!,
    ...(duration !== undefined ? { duration } : {}),
    ...(reason ? { reason } : {}),
  };
}

function oneWord<
  T extends "unban" | "serverunban" | "op" | "deop" | "unmute" | "voice" | "devoice",
>(
  type: T,
  field: "target" | "nick",
) {
  return (args: string): ClientFrame | undefined =>
    /^\S+$/.test(args) ? ({ type, [field]: args } as unknown as ClientFrame) : undefined;
}

function onOff(mode: RoomMode) {
  return (args: string): ClientFrame | undefined => {
    const word = args.toLowerCase();
    return word === "on" || word === "off" ? { type: "mode", mode, on: word === "on" } : undefined;
  };
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
    name: "register",
    args: "PASSWORD",
    summary: "register your nickname as an account (the terminal client asks when omitted)",
    parse: (args) => args === "" ? undefined : { type: "register", password: args },
  },
  {
    name: "login",
    aliases: ["identify"],
    args: "[NICK] PASSWORD",
    summary: "log in to your account (default: your nickname's)",
    parse(args) {
      const m = /^(?:(\S+)\s+)?(\S[\s\S]*)$/.exec(args);
      if (!m) return undefined;
      return m[1] === undefined
        ? { type: "login", password: m[2]! }
        : { type: "login", nick: m[1], password: m[2]! };
    },
  },
  {
    name: "logout",
    args: "",
    summary: "log out; you continue as a guest under another nickname",
    parse: (args) => args === "" ? { type: "logout" } : undefined,
  },
  {
    name: "password",
    args: "OLD NEW",
    summary: "change your account's password",
    parse(args) {
      const m = /^(\S+)\s+(\S+)$/.exec(args);
      return m ? { type: "password", old: m[1]!, new: m[2]! } : undefined;
    },
  },
  {
    name: "kick",
    args: "NICK [REASON]",
    summary: "remove someone from the current room (room operators)",
    parse(args) {
      const m = /^(\S+)(?:\s+(\S[\s\S]*))?$/.exec(args);
      if (!m) return undefined;
      return m[2] === undefined
        ? { type: "kick", nick: m[1]! }
        : { type: "kick", nick: m[1]!, reason: m[2] };
    },
  },
  {
    name: "ban",
    args: "NICK|ACCOUNT|ADDRESS[/LENGTH] [DURATION] [REASON]",
    summary:
      "ban from the current room, e.g. /ban bob 10m spam or /ban 10.1.0.0/16 (room operators)",
    parse(args) {
      const ban = banArgs(args);
      return ban && { type: "ban", ...ban };
    },
  },
  {
    name: "unban",
    args: "NICK|ACCOUNT|ADDRESS[/LENGTH]",
    summary: "lift a ban in the current room (room operators)",
    parse: oneWord("unban", "target"),
  },
  {
    name: "bans",
    args: "[#ROOM]",
    summary: "list a room's bans (default: the current one; room operators)",
    parse(args) {
      if (args === "") return { type: "bans" };
      return /^\S+$/.test(args) ? { type: "bans", room: args } : undefined;
    },
  },
  {
    name: "mute",
    args: "NICK [DURATION]",
    summary: "stop someone talking in the current room (room operators)",
    parse(args) {
      const m = /^(\S+)(?:\s+(\S+))?$/.exec(args);
      if (!m) return undefined;
      if (m[2] === undefined) return { type: "mute", nick: m[1]! };
      const duration = parseDuration(m[2]);
      return duration === undefined ? undefined : { type: "mute", nick: m[1]!, duration };
    },
  },
  {
    name: "unmute",
    args: "NICK",
    summary: "let someone talk again (room operators)",
    parse: oneWord("unmute", "nick"),
  },
  {
    name: "op",
    args: "NICK",
    summary: "make a logged-in user an operator of the current room (room operators)",
    parse: oneWord("op", "nick"),
  },
  {
    name: "deop",
    args: "NICK",
    summary: "take away someone's room operator rights (room operators)",
    parse: oneWord("deop", "nick"),
  },
  {
    name: "voice",
    args: "NICK",
    summary: "let someone talk in the current room while it is moderated (room operators)",
    parse: oneWord("voice", "nick"),
  },
  {
    name: "devoice",
    args: "NICK",
    summary: "take someone's voice in the current room away (room operators)",
    parse: oneWord("devoice", "nick"),
  },
  {
    name: "invite",
    args: "NICK [#ROOM]",
    summary: "invite someone to a room (default: the current one)",
    parse(args) {
      const m = /^(\S+)(?:\s+(\S+))?$/.exec(args);
      if (!m) return undefined;
      return m[2] === undefined
        ? { type: "invite", nick: m[1]! }
        : { type: "invite", nick: m[1]!, room: m[2] };
    },
  },
  {
    name: "topiclock",
    args: "on|off",
    summary: "only room operators may set the topic (room operators)",
    parse: onOff("topic_lock"),
  },
  {
    name: "inviteonly",
    args: "on|off",
    summary: "only invited users may join the current room (room operators)",
    parse: onOff("invite_only"),
  },
  {
    name: "secret",
    args: "on|off",
    summary: "hide the current room from those outside it (room operators)",
    parse: onOff("secret"),
  },
  {
    name: "moderated",
    args: "on|off",
    summary: "only operators and voiced users may talk in the current room (room operators)",
    parse: onOff("moderated"),
  },
  {
    name: "serverban",
    args: "NICK|ACCOUNT|ADDRESS[/LENGTH] [DURATION] [REASON]",
    summary:
      "ban from the whole server; an address alone: IPv4 whole, IPv6 its /64 (server operators)",
    parse(args) {
      const ban = banArgs(args);
      return ban && { type: "serverban", ...ban };
    },
  },
  {
    name: "serverunban",
    args: "NICK|ACCOUNT|ADDRESS[/LENGTH]",
    summary: "lift a server-wide ban (server operators)",
    parse: oneWord("serverunban", "target"),
  },
  {
    name: "serverbans",
    args: "",
    summary: "list the server-wide bans (server operators)",
    parse: (args) => args === "" ? { type: "serverbans" } : undefined,
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
