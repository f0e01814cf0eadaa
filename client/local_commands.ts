/**
 * Commands the terminal client handles itself, without the server: windows,
 * ignores, clearing. They are listed after the server's `/help` and
 * completed with Tab like the registry's commands.
 *
 * @module
 */

/** One client-side command. */
export interface LocalCommand {
  /** Name without the slash. */
  name: string;
  /** Other names. */
  aliases?: readonly string[];
  /** Argument synopsis. */
  args: string;
  /** One line of what it does. */
  summary: string;
}

/** The client's own commands, in `/help` order. */
export const LOCAL_COMMANDS: readonly LocalCommand[] = [
  { name: "window", aliases: ["win"], args: "N", summary: "switch to window N (also Alt+N)" },
  {
    name: "query",
    aliases: ["q"],
    args: "NICK [TEXT]",
    summary: "open a private conversation window (and send TEXT)",
  },
  { name: "close", args: "", summary: "close this window (leaving its room)" },
  {
    name: "ignore",
    args: "[NICK]",
    summary: "hide NICK's messages (kept across runs); alone: list who is ignored",
  },
  { name: "unignore", args: "NICK", summary: "show NICK's messages again" },
  { name: "clear", args: "", summary: "empty this window" },
];

/**
 * Finds a client-side command by name or alias.
 *
 * @param name the name typed, without the slash (any case)
 * @returns the command, if it is one
 */
export function findLocal(name: string): LocalCommand | undefined {
  const key = name.toLowerCase();
  return LOCAL_COMMANDS.find((c) => c.name === key || c.aliases?.includes(key));
}
