/**
 * The command registry: one table of slash commands that turns a typed line
 * (`/msg bob hi`) into a client frame. The server's plain-text mode, the
 * terminal client and `/help` all use this table.
 *
 * @module
 */

import type { ClientFrame, CommandHelp } from "./frames.ts";

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
    name: "me",
    args: "ACTION",
    summary: "describe what you do (* alice waves)",
    parse: text("me"),
  },
  {
    name: "who",
    aliases: ["names", "users"],
    args: "",
    summary: "list who is online",
    parse: (args) => args === "" ? { type: "who" } : undefined,
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
  if (!frame) return { ok: false, code: "usage", message: `usage: ${usageOf(command)}` };
  return { ok: true, frame };
}
