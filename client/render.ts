/**
 * Rendering of server frames for the terminal: a pure function of frame and
 * theme. The mono theme is exactly the protocol's plain-text format (what
 * piped output and `nc` users see); the colour theme adds a stable colour per
 * nickname, a highlight for your own name, dimmed notices and red errors.
 *
 * @module
 */

import {
  escapeControls,
  formatPlainText,
  LOBBY,
  nickKey,
  roomKey,
  type ServerFrame,
} from "../protocol/mod.ts";

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
  /**
   * The reader's current room: messages from any other room start with
   * `[#room] `. When absent, no room prefix is added.
   */
  currentRoom?: string | null;
  /**
   * Show the time of history lines and search results in the local time zone (a terminal)
   * rather than UTC (the plain-text format).
   * @default {false}
   */
  localTime?: boolean;
  /**
   * The colour of a nickname, as an SGR sequence (colour theme).
   * @default {nickColor(): a stable colour of the 16-colour palette}
   */
  nickColor?: (nick: string) => string;
  /**
   * Highlight the text (a mention of the reader): bold yellow in colour.
   * @default {false}
   */
  highlight?: boolean;
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

// deno-lint-ignore no-control-regex -- SGR sequences are ours; received text is escaped
const SGR = /\x1b\[[0-9;]*m/g;

/** Columns of styled text whose content is ASCII-escaped (SGR sequences take none). */
function plainLength(styled: string): number {
  return styled.replace(SGR, "").length;
}

/** A nickname in its colour, or bold in the default colour for the viewer. */
function nick(name: string, options: RenderOptions): string {
  const text = escapeControls(name);
  if (!options.theme.color) return text;
  if (isViewer(name, options.viewer)) return `${BOLD}${text}${NORMAL_INTENSITY}`;
  const color = options.nickColor?.(name) ?? `\x1b[${nickColor(name)}m`;
  return `${color}${text}${DEFAULT_COLOR}`;
}

/** A nickname in a `who` list, marked `(away)` when it is. */
function whoNick(
  name: string,
  frame: Extract<ServerFrame, { type: "who" }>,
  options: RenderOptions,
): string {
  return nick(name, options) + (frame.ops?.includes(name) ? " (op)" : "") +
    (frame.away?.[name] !== undefined ? " (away)" : "");
}

/** Message text after a prefix; continuation lines indented like plain text. */
function body(prefix: string, text: string, highlight = false): string {
  const indent = " ".repeat(Math.min(plainLength(prefix), 8));
  const lines = text.split(/\n|\u2028|\u2029/).map(escapeControls);
  if (highlight) {
    return prefix + lines.map((l) => `${HIGHLIGHT}${l}${NORMAL_INTENSITY}${DEFAULT_COLOR}`)
      .join("\n" + indent);
  }
  return prefix + lines.join("\n" + indent);
}

/** The look of a line that mentions the reader (colour theme). */
export const HIGHLIGHT = "\x1b[1;33m";

function dim(text: string, theme: Theme = COLOR_THEME): string {
  if (!theme.color) return text;
  // SGR 22 ends bold and dim alike: dim again after a bold (own) nickname.
  return `${DIM}${text.replaceAll(NORMAL_INTENSITY, NORMAL_INTENSITY + DIM)}${RESET}`;
}

function isLobby(name: string | undefined): boolean {
  return name === undefined || roomKey(name) === LOBBY;
}

/** `HH:MM` of a timestamp, in UTC or local time. */
function clock(ts: number, local: boolean): string {
  const date = new Date(ts);
  const [h, m] = local
    ? [date.getHours(), date.getMinutes()]
    : [date.getUTCHours(), date.getUTCMinutes()];
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

/** A timestamp moved by the local zone's offset at that time, so that UTC formatting reads local time. */
function wallClock(ts: number): number {
  return ts - new Date(ts).getTimezoneOffset() * 60_000;
}

/** The `[#room] ` prefix when `name` is not the current room: dim, the room in its own colour. */
function roomTag(name: string | undefined, options: RenderOptions): string {
  if (options.currentRoom === undefined || name === undefined) return "";
  if (roomKey(name) === roomKey(options.currentRoom ?? "")) return "";
  const text = escapeControls(name);
  if (!options.theme.color) return `[${text}] `;
  return `${DIM}[\x1b[${roomColor(name)}m${text}${DEFAULT_COLOR}]${NORMAL_INTENSITY} `;
}

/**
 * The stable colour of a room name (as {@linkcode nickColor}, case-insensitive).
 *
 * @param name a room name such as `#dev`
 * @returns an SGR foreground code from {@linkcode NICK_PALETTE}
 */
export function roomColor(name: string): number {
  return nickColor(roomKey(name));
}

/** Options for {@linkcode renderPrompt}. */
export interface PromptOptions {
  /** The look. */
  theme: Theme;
  /** Shown after the room while disconnected, e.g. `offline`. */
  status?: string;
}

/**
 * The input prompt: `alice #lobby> ` (nickname bold, the room in its dim
 * colour); `alice> ` when in no room.
 *
 * @param nick the user's nickname
 * @param currentRoom the current room, or `null`
 * @param options theme and status
 * @returns the prompt as plain text (for its width) and as styled text
 *
 * @example
 * ```ts
 * import { MONO_THEME, renderPrompt } from "./render.ts";
 * renderPrompt("alice", "#lobby", { theme: MONO_THEME }).plain; // "alice #lobby> "
 * ```
 */
export function renderPrompt(
  nick: string,
  currentRoom: string | null,
  options: PromptOptions,
): { plain: string; styled: string } {
  const name = escapeControls(nick);
  const where = currentRoom === null ? "" : ` ${escapeControls(currentRoom)}`;
  const status = options.status === undefined ? "" : ` (${escapeControls(options.status)})`;
  const plain = `${name}${where}${status}> `;
  if (!options.theme.color) return { plain, styled: plain };
  const room = currentRoom === null
    ? ""
    : ` ${DIM}\x1b[${roomColor(currentRoom)}m${escapeControls(currentRoom)}${DEFAULT_COLOR}` +
      NORMAL_INTENSITY;
  const dimStatus = status === "" ? "" : `${DIM}${status}${NORMAL_INTENSITY}`;
  return { plain, styled: `${BOLD}${name}${NORMAL_INTENSITY}${room}${dimStatus}${BOLD}>${RESET} ` };
}

/**
 * Renders a server frame as one or more terminal lines (joined by `\n`, no
 * trailing newline). With the mono theme and UTC times the result is exactly
 * `formatPlainText(frame, viewer, currentRoom)`; the colour theme reads the
 * same once its SGR sequences are stripped. History lines are dimmed and
 * carry their time. Control characters in received text are always shown
 * visibly (`^[`), never raw.
 *
 * @param frame a frame from the server
 * @param options theme, viewer, current room and clock
 * @returns the text, or `undefined` for frames that show nothing (pings, acks)
 *
 * @example
 * ```ts
 * import { MONO_THEME, renderFrame } from "./render.ts";
 * renderFrame({ type: "message", from: "bob", text: "hi", ts: 0 }, { theme: MONO_THEME });
 * // "bob: hi"
 * renderFrame({ type: "message", room: "#dev", from: "bob", text: "hi", ts: 0 }, {
 *   theme: MONO_THEME,
 *   currentRoom: "#lobby",
 * });
 * // "[#dev] bob: hi"
 * ```
 */
export function renderFrame(frame: ServerFrame, options: RenderOptions): string | undefined {
  const { theme } = options;
  if (!theme.color && !options.localTime) {
    return formatPlainText(frame, options.viewer, options.currentRoom);
  }
  const local = options.localTime ?? false;
  switch (frame.type) {
    case "message":
    case "action": {
      let prefix = frame.type === "action"
        ? `** ${nick(frame.from, options)} ` // one star is for notices
        : frame.notice
        ? `-${nick(frame.from, options)}- ` // an IRC-style NOTICE
        : `${nick(frame.from, options)}: `;
      if (frame.history) prefix = `[${clock(frame.ts, local)}] ${prefix}`;
      prefix = roomTag(frame.room, options) + prefix;
      const line = body(prefix, frame.text, options.highlight && theme.color);
      return frame.history ? dim(line, theme) : line;
    }
    case "private": {
      const time = frame.history ? `[${clock(frame.ts, local)}] ` : "";
      const [open, close] = theme.color ? [BOLD, NORMAL_INTENSITY] : ["", ""];
      let line: string;
      if (isViewer(frame.from, options.viewer) && !isViewer(frame.to, options.viewer)) {
        line = body(
          `${time}${open}[private to${close} ${nick(frame.to, options)}${open}]${close} `,
          frame.text,
        );
      } else {
        const from = frame.notice
          ? `-${nick(frame.from, options)}- `
          : `${nick(frame.from, options)}: `;
        line = body(
          `${time}${open}[private]${close} ${from}`,
          frame.text,
          options.highlight && theme.color,
        );
      }
      return frame.history ? dim(line, theme) : line;
    }
    case "joined":
      return dim(
        `* ${nick(frame.nick, options)} joined ${
          isLobby(frame.room) ? "the chat" : escapeControls(frame.room!)
        }`,
        theme,
      );
    case "left":
      if (frame.by !== undefined) { // a kick or ban: the plain-text line, dimmed
        return dim(formatPlainText(frame, options.viewer, options.currentRoom)!, theme);
      }
      return dim(
        `* ${nick(frame.nick, options)} left ${
          isLobby(frame.room) && frame.reason !== "part"
            ? "the chat"
            : escapeControls(frame.room ?? LOBBY)
        }${frame.message ? ` (${escapeControls(frame.message)})` : ""}`,
        theme,
      );
    case "renamed":
      return dim(
        `* ${nick(frame.from, options)} is now known as ${nick(frame.to, options)}`,
        theme,
      );
    case "who":
      // Later pages of a long answer continue the first one's line.
      if (frame.offset) {
        return dim(`  ${frame.nicks.map((n) => whoNick(n, frame, options)).join(", ")}`, theme);
      }
      return dim(
        `* online${isLobby(frame.room) ? "" : ` in ${escapeControls(frame.room!)}`} (${
          frame.total ?? frame.nicks.length
        }): ${frame.nicks.map((n) => whoNick(n, frame, options)).join(", ")}`,
        theme,
      );
    case "welcome":
      return dim(
        `* welcome, ${nick(frame.nick, options)}! ${frame.online} online; ` +
          "type /help for commands",
        theme,
      );
    case "error":
      return renderError(frame.message, options);
    case "search_results": {
      // The plain-text format gives UTC times; a terminal shows local ones, as for history.
      const shown = local
        ? { ...frame, results: frame.results.map((r) => ({ ...r, ts: wallClock(r.ts) })) }
        : frame;
      return dim(formatPlainText(shown, options.viewer, options.currentRoom)!, theme);
    }
    case "ack":
    case "ping":
    case "pong":
      return undefined;
    default: {
      const text = formatPlainText(frame, options.viewer, options.currentRoom);
      return text === undefined ? undefined : dim(text, theme);
    }
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
  return dim("* " + escapeControls(text), options.theme);
}
