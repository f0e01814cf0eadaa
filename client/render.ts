/**
 * Rendering of server frames for the terminal: a pure function of frame and
 * theme. The mono theme is exactly the protocol's plain-text format (what
 * piped output and `nc` users see); the colour theme adds a stable colour per
 * nickname, a highlight for your own name, dimmed notices and red errors.
 *
 * @module
 */

import { escapeControls, formatPlainText, nickKey, type ServerFrame } from "../protocol/mod.ts";

/** How rendered text looks. */
export interface Theme {
  /** Whether ANSI SGR colour sequences are used. */
  readonly color: boolean;
}

/** Plain text, no escape sequences: piped output, NO_COLOR, tests, bots. */
export const MONO_THEME: Theme = Object.freeze({ color: false });
/** ANSI colours for an interactive terminal. */
export const COLOR_THEME: Theme = Object.freeze({ color: true });

/** Options for {@linkcode renderFrame} and the other render functions. */
export interface RenderOptions {
  /** The look. */
  theme: Theme;
  /**
   * Nickname of the reader: their own name is highlighted and their own
   * private messages read `[private to bob] text`.
   */
  viewer?: string;
}

/** What {@linkcode shouldUseColor} looks at. */
export interface ColorContext {
  /** `Deno.noColor`: NO_COLOR is set to a non-empty value (no-color.org). */
  noColor: boolean;
  /** Whether stdout is a terminal. */
  isTerminal: boolean;
}

/**
 * Decides the theme: colour only on a terminal and only without NO_COLOR.
 *
 * @param context the environment
 * @returns whether to use colour
 */
export function shouldUseColor(context: ColorContext): boolean {
  return context.isTerminal && !context.noColor;
}

const RESET = "\x1b[0m";
const BOLD = "\x1b[1m";
const DIM = "\x1b[2m";
const RED = "\x1b[31m";
const NORMAL_INTENSITY = "\x1b[22m";
const DEFAULT_COLOR = "\x1b[39m";

/**
 * Readable foreground colours for nicknames (SGR codes). Red is left out
 * (errors use it) and so is dark blue (unreadable on dark backgrounds).
 */
export const NICK_PALETTE: readonly number[] = [32, 33, 35, 36, 92, 93, 94, 95, 96];

/**
 * The stable colour of a nickname: an FNV-1a hash of its comparison key
 * ({@linkcode nickKey}), so `Alice` and `alice` share a colour, picked from
 * {@linkcode NICK_PALETTE}.
 *
 * @param nick a nickname
 * @returns an SGR foreground code
 */
export function nickColor(nick: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(nickKey(nick))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return NICK_PALETTE[hash % NICK_PALETTE.length]!;
}

function isViewer(nick: string, viewer: string | undefined): boolean {
  return viewer !== undefined && nickKey(nick) === nickKey(viewer);
}

/** A nickname in its colour, or bold in the default colour for the viewer. */
function nick(name: string, options: RenderOptions): string {
  const text = escapeControls(name);
  if (!options.theme.color) return text;
  if (isViewer(name, options.viewer)) return `${BOLD}${text}${NORMAL_INTENSITY}`;
  return `\x1b[${nickColor(name)}m${text}${DEFAULT_COLOR}`;
}

/** Message text after a prefix; continuation lines indented like plain text. */
function body(prefix: string, prefixWidth: number, text: string): string {
  const indent = " ".repeat(Math.min(prefixWidth, 8));
  return prefix + text.split("\n").map(escapeControls).join("\n" + indent);
}

function dim(text: string): string {
  // SGR 22 ends bold and dim alike: dim again after a bold (own) nickname.
  return `${DIM}${text.replaceAll(NORMAL_INTENSITY, NORMAL_INTENSITY + DIM)}${RESET}`;
}

/**
 * Renders a server frame as one or more terminal lines (joined by `\n`, no
 * trailing newline). With the mono theme the result is exactly
 * `formatPlainText(frame, viewer)`. Control characters in received text are
 * always shown visibly (`^[`), never raw.
 *
 * @param frame a frame from the server
 * @param options theme and viewer
 * @returns the text, or `undefined` for frames that show nothing (pings)
 *
 * @example
 * ```ts
 * import { MONO_THEME, renderFrame } from "./render.ts";
 * renderFrame({ type: "message", from: "bob", text: "hi", ts: 0 }, { theme: MONO_THEME });
 * // "bob: hi"
 * ```
 */
export function renderFrame(frame: ServerFrame, options: RenderOptions): string | undefined {
  if (!options.theme.color) return formatPlainText(frame, options.viewer);
  switch (frame.type) {
    case "message":
      return body(`${nick(frame.from, options)}: `, frame.from.length + 2, frame.text);
    case "action":
      return body(`* ${nick(frame.from, options)} `, frame.from.length + 3, frame.text);
    case "private": {
      const tag = `${BOLD}[private`;
      if (isViewer(frame.from, options.viewer) && !isViewer(frame.to, options.viewer)) {
        const prefix = `${tag} to${NORMAL_INTENSITY} ${nick(frame.to, options)}${BOLD}]` +
          `${NORMAL_INTENSITY} `;
        return body(prefix, frame.to.length + 14, frame.text);
      }
      const prefix = `${tag}]${NORMAL_INTENSITY} ${nick(frame.from, options)}: `;
      return body(prefix, frame.from.length + 12, frame.text);
    }
    case "joined":
      return dim(`* ${nick(frame.nick, options)} joined the chat`);
    case "left":
      return dim(`* ${nick(frame.nick, options)} left the chat`);
    case "renamed":
      return dim(
        `* ${nick(frame.from, options)} is now known as ${nick(frame.to, options)}`,
      );
    case "who":
      return dim(
        `* online (${frame.nicks.length}): ${frame.nicks.map((n) => nick(n, options)).join(", ")}`,
      );
    case "welcome":
      return dim(
        `* welcome, ${nick(frame.nick, options)}! ${frame.online} online; ` +
          "type /help for commands",
      );
    case "help":
    case "bye":
      return dim(formatPlainText(frame, options.viewer)!);
    case "error":
      return renderError(frame.message, options);
    case "ping":
    case "pong":
      return undefined;
  }
}

/**
 * Renders a local error (e.g. a usage error) like a server error: `! text`,
 * red in colour.
 *
 * @param message the error, without the `! `
 * @param options the theme
 * @returns the line
 */
export function renderError(message: string, options: RenderOptions): string {
  const line = "! " + escapeControls(message);
  return options.theme.color ? `${RED}${line}${RESET}` : line;
}

/**
 * Renders a local notice like a server notice: `* text`, dimmed in colour.
 *
 * @param text the notice, without the `* `
 * @param options the theme
 * @returns the line
 */
export function renderNotice(text: string, options: RenderOptions): string {
  const line = "* " + escapeControls(text);
  return options.theme.color ? dim(line) : line;
}
