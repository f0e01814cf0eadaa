/**
 * Protocol v1 of `chat`: frame types, the JSON Lines encoder and decoder, the
 * line reader, the command registry, text rules and limits. Pure: no sockets,
 * no timers, no I/O.
 *
 * @module
 */

export * from "./commands.ts";
export * from "./frames.ts";
export * from "./limits.ts";
export * from "./line_reader.ts";
export * from "./plain_text.ts";
export * from "./text.ts";
export * from "./reconnect.ts";
export * from "./irc.ts";
export * from "./telnet.ts";
