/**
 * The plain-text rendering of server frames: what `nc`/`telnet` users and the
 * piped terminal client see, one human-readable line per event.
 *
 * @module
 */

import type { ServerFrame } from "./frames.ts";
import { escapeControls } from "./text.ts";

/**
 * Renders a server frame as plain text, without a trailing newline. Multi-line
 * messages continue on indented lines. No raw control character is ever in
 * the result (see {@linkcode escapeControls}).
 *
 * Formats: `alice: hello`, `* alice joined the chat`, `* alice left the chat`,
 * `* alice is now known as alicia`, `* alice waves`, `[private] bob: psst`,
 * errors as `! message`.
 *
 * @param frame the frame
 * @param viewer nickname of the reader, to render their own private messages
 * as `[private to bob] text`
 * @returns the text, or `undefined` for frames with no plain-text form (pings)
 */
export function formatPlainText(frame: ServerFrame, viewer?: string): string | undefined {
  switch (frame.type) {
    case "welcome":
      return `* welcome, ${frame.nick}! ${frame.online} online; type /help for commands`;
    case "message":
      return body(`${frame.from}: `, frame.text);
    case "action":
      return body(`* ${frame.from} `, frame.text);
    case "private":
      return frame.from === viewer && frame.to !== viewer
        ? body(`[private to ${frame.to}] `, frame.text)
        : body(`[private] ${frame.from}: `, frame.text);
    case "joined":
      return `* ${frame.nick} joined the chat`;
    case "left":
      return `* ${frame.nick} left the chat`;
    case "renamed":
      return `* ${frame.from} is now known as ${frame.to}`;
    case "who":
      return `* online (${frame.nicks.length}): ${frame.nicks.join(", ")}`;
    case "help": {
      const width = Math.max(...frame.commands.map((c) => c.usage.length));
      return [
        "* commands:",
        ...frame.commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
      ]
        .join("\n");
    }
    case "error":
      return "! " + escapeControls(frame.message);
    case "bye":
      return `* ${escapeControls(frame.reason)}`;
    case "ping":
    case "pong":
      return undefined;
  }
}

function body(prefix: string, text: string): string {
  const lines = text.split("\n").map(escapeControls);
  const indent = " ".repeat(Math.min(prefix.length, 8));
  return escapeControls(prefix) + lines.join("\n" + indent);
}
