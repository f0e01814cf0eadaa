/**
 * The window model of the interactive client, without any I/O: one window
 * per room and per private conversation, each with its own bounded
 * scrollback, unread count, mention mark and scroll position, and which one
 * is current. The terminal draws the current window and a status line from
 * it.
 *
 * @module
 */

import { nickKey, roomKey } from "../protocol/mod.ts";

/** Most lines a window keeps; older ones are dropped. */
export const MAX_WINDOW_LINES = 2000;

/** How a line of your own is doing on its way to the server. */
export type LineState = "pending" | "sent" | "refused";

/** One line (or a multi-line message) in a window. */
export interface WindowLine {
  /** The styled text; `\n` separates the rows of a multi-line message. */
  text: string;
  /** Hanging indent for wrapped rows, in columns. */
  indent: number;
  /** When it happened, ms since the epoch (for the day-change line). */
  ts: number;
  /** It mentions you, or is a private message to you: highlighted. */
  highlight?: boolean;
  /** For your own lines: pending until the server acknowledges them. */
  state?: LineState;
  /** Why a line was refused. */
  note?: string;
}

/** What a window holds. */
export type WindowKind = "room" | "query" | "status";

/** One window. */
export class ChatWindow {
  /** A room, a private conversation, or the status window (before any room). */
  readonly kind: WindowKind;
  /** The room name or the other nickname. */
  name: string;
  /** Lines, oldest first, at most {@linkcode MAX_WINDOW_LINES}. */
  readonly lines: WindowLine[] = [];
  /** Lines added while another window was current. */
  unread = 0;
  /** Whether one of them mentions you (or is private to you). */
  mentioned = false;
  /** Rows scrolled back from the newest (0: at the bottom). */
  scroll = 0;
  /** For rooms: the members the client knows of, by nickname key. */
  readonly members: Map<string, string> = new Map();
  #day: string | undefined;

  /**
   * @param kind what it holds
   * @param name the room name or nickname
   */
  constructor(kind: WindowKind, name: string) {
    this.kind = kind;
    this.name = name;
  }

  /** The comparison key of the window's name. */
  get key(): string {
    return windowKey(this.kind, this.name);
  }

  /** The label in the status line: `#dev`, `@bob`, or `status`. */
  get label(): string {
    return this.kind === "query" ? "@" + this.name : this.name;
  }

  /**
   * Appends a line, after a day-change line when its local date differs from
   * the previous line's.
   *
   * @param line the line
   * @param dayLine renders the day-change line for a timestamp; none when absent
   * @returns how many lines were appended at the end: 1, or 2 with a day-change line
   */
  push(line: WindowLine, dayLine?: (ts: number) => string): number {
    const day = new Date(line.ts).toDateString();
    let added = 1;
    if (dayLine && this.#day !== undefined && day !== this.#day) {
      this.lines.push({ text: dayLine(line.ts), indent: 0, ts: line.ts });
      added = 2;
    }
    this.#day = day;
    this.lines.push(line);
    if (this.lines.length > MAX_WINDOW_LINES) {
      this.lines.splice(0, this.lines.length - MAX_WINDOW_LINES);
    }
    return added;
  }

  /** Empties the window (`/clear`). */
  clear(): void {
    this.lines.length = 0;
    this.scroll = 0;
  }

  /**
   * Notes a member (from `who`, `joined`, or a message).
   *
   * @param nick a nickname
   */
  addMember(nick: string): void {
    this.members.set(nickKey(nick), nick);
  }

  /**
   * Forgets a member.
   *
   * @param nick a nickname
   */
  removeMember(nick: string): void {
    this.members.delete(nickKey(nick));
  }
}

/**
 * The key windows are found by: room key for rooms, nickname key for
 * conversations.
 *
 * @param kind the kind of window
 * @param name its name
 * @returns the key
 */
export function windowKey(kind: WindowKind, name: string): string {
  return kind === "room" ? "r" + roomKey(name) : kind === "query" ? "q" + nickKey(name) : "s";
}

/** What adding a line did. */
export interface Added {
  /** The line should ring the bell: it mentions you or is private, in another window. */
  alert: boolean;
  /** Lines appended to the window: 1, or 2 with a day-change line. */
  added: number;
}

/**
 * The windows in order (numbered from 1 in the status line) and the current
 * one. There is always at least one: a status window until the first room
 * opens, which then takes its place.
 *
 * @example
 * ```ts
 * import { WindowList } from "./windows.ts";
 * const windows = new WindowList();
 * windows.open("room", "#lobby");
 * const dev = windows.open("room", "#dev");
 * windows.add(dev, { text: "bob: hi", indent: 5, ts: 0 });
 * windows.current.name; // "#lobby"
 * dev.unread; // 1
 * ```
 */
export class WindowList {
  readonly #windows: ChatWindow[] = [new ChatWindow("status", "status")];
  #current = 0;
  readonly #dayLine: ((ts: number) => string) | undefined;

  /**
   * @param dayLine renders the line shown where the local date changes
   * between two lines of a window; none when absent
   */
  constructor(dayLine?: (ts: number) => string) {
    this.#dayLine = dayLine;
  }

  /** The windows, in status-line order. */
  get all(): readonly ChatWindow[] {
    return this.#windows;
  }

  /** The window being looked at. */
  get current(): ChatWindow {
    return this.#windows[this.#current]!;
  }

  /** The current window's number, from 1. */
  get number(): number {
    return this.#current + 1;
  }

  /**
   * Finds a window.
   *
   * @param kind room or query
   * @param name room name or nickname (compared by key)
   * @returns the window, if open
   */
  find(kind: WindowKind, name: string): ChatWindow | undefined {
    const key = windowKey(kind, name);
    return this.#windows.find((w) => w.key === key);
  }

  /**
   * Opens a window (or returns the open one). The status window, while it
   * is the only window, becomes the first room's window, keeping its lines.
   *
   * @param kind room or query
   * @param name room name or nickname
   * @returns the window
   */
  open(kind: WindowKind, name: string): ChatWindow {
    const found = this.find(kind, name);
    if (found) {
      if (found.name !== name && kind === "room") found.name = name;
      return found;
    }
    const window = new ChatWindow(kind, name);
    const only = this.#windows.length === 1 ? this.#windows[0]! : undefined;
    if (only?.kind === "status" && kind === "room") {
      window.lines.push(...only.lines);
      this.#windows[0] = window;
      return window;
    }
    this.#windows.push(window);
    return window;
  }

  /**
   * Closes a window; the one before it becomes current if it was. The last
   * window closed leaves a status window.
   *
   * @param window an open window
   */
  close(window: ChatWindow): void {
    const index = this.#windows.indexOf(window);
    if (index === -1) return;
    const current = this.current;
    this.#windows.splice(index, 1);
    if (this.#windows.length === 0) this.#windows.push(new ChatWindow("status", "status"));
    if (current === window) {
      this.#current = Math.max(0, Math.min(index - 1, this.#windows.length - 1));
    } else this.#current = this.#windows.indexOf(current);
  }

  /**
   * Makes a window current and clears its unread count and mention mark.
   *
   * @param window an open window
   */
  select(window: ChatWindow): void {
    const index = this.#windows.indexOf(window);
    if (index === -1) return;
    this.#current = index;
    window.unread = 0;
    window.mentioned = false;
  }

  /**
   * Makes window `n` (from 1) current.
   *
   * @param n the window number
   * @returns false when there is no such window
   */
  selectNumber(n: number): boolean {
    const window = this.#windows[n - 1];
    if (!window) return false;
    this.select(window);
    return true;
  }

  /**
   * Moves to the next or previous window, wrapping around.
   *
   * @param step 1 for next, -1 for previous
   */
  cycle(step: 1 | -1): void {
    const n = this.#windows.length;
    this.select(this.#windows[(this.#current + step + n) % n]!);
  }

  /**
   * Adds a line to a window. In a window other than the current one it
   * counts as unread, and a highlighted line marks the window.
   *
   * @param window the window
   * @param line the line
   * @param dayLine renders the day-change line (see {@linkcode ChatWindow.push})
   * @returns whether to alert (a highlighted line outside the current window),
   *   and how many lines were appended (see {@linkcode ChatWindow.push})
   */
  add(
    window: ChatWindow,
    line: WindowLine,
    dayLine: ((ts: number) => string) | undefined = this.#dayLine,
  ): Added {
    const added = window.push(line, dayLine);
    if (window === this.current) return { alert: false, added };
    window.unread++;
    if (line.highlight) window.mentioned = true;
    return { alert: line.highlight === true, added };
  }
}
