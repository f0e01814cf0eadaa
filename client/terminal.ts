/**
 * The one owner of stdin, stdout and stderr. Two modes behind one interface:
 *
 * - interactive (stdin and stdout are terminals): raw mode, a line editor
 *   with a prompt, incoming lines printed above the prompt and the input
 *   line redrawn intact, colours unless NO_COLOR;
 * - piped (anything else): stdin read line by line, received lines written
 *   to stdout in the plain-text format, local errors to stderr.
 *
 * No other module writes to the terminal.
 *
 * @module
 */

import { escapeControls, LineReader } from "../protocol/mod.ts";
import type { CompletionSources } from "./complete.ts";
import { Completer } from "./complete.ts";
import { type Key, KeyDecoder } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";
import {
  COLOR_THEME,
  MONO_THEME,
  renderNotice,
  renderPrompt,
  shouldUseColor,
  type Theme,
} from "./render.ts";
import { displayWidth, graphemes } from "./width.ts";
import { type ChatWindow, type WindowLine, WindowList } from "./windows.ts";
import { wrap } from "./wrap.ts";

/** Where keys and lines come from (`Deno.stdin` fits). */
export interface ClientInput {
  /** The bytes typed or piped in. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Whether this is a terminal (selects the interactive mode). */
  isTerminal(): boolean;
  /** Switches raw mode (only called when {@linkcode ClientInput.isTerminal}). */
  setRaw?(mode: boolean): void;
}

/** Where text goes (`Deno.stdout` and `Deno.stderr` fit). */
export interface ClientOutput {
  /** Writes some of `data`, returning how many bytes were written. */
  writeSync(data: Uint8Array): number;
  /** Whether this is a terminal. */
  isTerminal(): boolean;
}

/** Options for {@linkcode openTerminal}. */
export interface TerminalOptions {
  /**
   * Input.
   * @default {Deno.stdin}
   */
  stdin?: ClientInput;
  /**
   * Output for chat lines (and the prompt).
   * @default {Deno.stdout}
   */
  stdout?: ClientOutput;
  /**
   * Output for local errors in piped mode and the final error line.
   * @default {Deno.stderr}
   */
  stderr?: ClientOutput;
  /**
   * Use colours in interactive mode.
   * @default {stdout is a terminal and NO_COLOR is not set (`Deno.noColor`)}
   */
  color?: boolean;
  /**
   * Width of the terminal in columns, asked before each redraw.
   * @default {Deno.consoleSize().columns, or 80}
   */
  columns?: () => number;
  /**
   * Height of the terminal in rows, asked before each redraw.
   * @default {Deno.consoleSize().rows, or 24}
   */
  rows?: () => number;
  /**
   * Ring the bell (BEL) for {@linkcode Screen.bell}.
   * @default {true}
   */
  bell?: boolean;
  /**
   * In interactive mode, quit on SIGINT/SIGTERM/SIGHUP and redraw on SIGWINCH.
   * @default {true when stdin is Deno.stdin}
   */
  signals?: boolean;
}

/** What the prompt shows besides the nickname. */
export interface PromptState {
  /** The current room, if any. @default {null} */
  room?: string | null;
  /** e.g. `offline`, shown after the room. */
  status?: string;
}

/** The terminal as the client sees it. */
export interface Terminal {
  /** Whether this is the interactive (raw mode, line editor) mode. */
  readonly interactive: boolean;
  /** The theme to render with: colour or mono. */
  readonly theme: Theme;
  /**
   * Asks for a nickname: a `nickname: ` prompt, or the next input line.
   *
   * @returns the nickname (trimmed, not empty), or `undefined` at end of
   * input or when the user quit
   */
  askNick(): Promise<string | undefined>;
  /**
   * Asks for a secret (a password): on a terminal, the prompt and nothing of
   * what is typed (no echo, no history); piped, the next input line.
   *
   * @param prompt e.g. `password for alice: `
   * @returns the secret as typed, or `undefined` at end of input or on
   * Ctrl+C / Ctrl+D
   */
  askSecret(prompt: string): Promise<string | undefined>;
  /**
   * The next line the user entered (never empty).
   *
   * @returns the line, or `undefined` at end of input or when the user quit
   * (Ctrl+C or Ctrl+D on an empty line, or a signal)
   */
  readLine(): Promise<string | undefined>;
  /**
   * Shows `nick> ` as the prompt from now on, or `nick #room> ` with a room,
   * or `nick #room (status)> ` with a status such as `offline`. Piped: does
   * nothing.
   */
  setNick(nick: string, options?: PromptState): void;
  /** Prints a chat line (or several, `\n`-separated) on stdout. */
  print(text: string): void;
  /** Prints a local error: above the prompt, or on stderr when piped. */
  warn(text: string): void;
  /** Writes one line on stderr (after {@linkcode Terminal.close}). */
  fail(text: string): void;
  /** Restores the terminal and stops reading; safe to call more than once. */
  close(): Promise<void>;
  /** The full-screen view of the interactive mode (windows, status line); absent when piped. */
  readonly screen?: Screen;
}

/**
 * The interactive terminal's full screen: the current window's lines
 * (wrapped, scrollable with PgUp/PgDn), a status line listing the windows,
 * and the input line. Alt+1…9, Alt+←/→, Ctrl+N/P switch windows; Tab
 * completes; a bracketed paste or Alt+Enter makes a multi-line message.
 */
export interface Screen {
  /** The windows; change them, then {@linkcode Screen.refresh}. */
  readonly windows: WindowList;
  /** Redraws soon (once for everything changed in the same turn). */
  refresh(): void;
  /** Rings the terminal bell (unless turned off). */
  bell(): void;
  /**
   * Adds a line to a window and redraws.
   *
   * @param window where
   * @param line what
   * @returns whether the line alerts (highlighted, outside the current window)
   */
  add(window: ChatWindow, line: WindowLine): boolean;
  /**
   * Puts a refused line back in the input (when the input is empty).
   *
   * @param text the line
   */
  putBack(text: string): void;
  /** Where Tab completion takes its words from. */
  completion: () => CompletionSources;
  /** The input history, oldest first (for the state file). */
  readonly history: readonly string[];
  /**
   * Sets the input history (from the state file).
   *
   * @param lines oldest first
   */
  loadHistory(lines: readonly string[]): void;
}

/**
 * Opens the terminal in the mode its streams call for.
 *
 * @param options streams and settings, all optional
 * @returns the terminal; call {@linkcode Terminal.close} when done
 */
export function openTerminal(options: TerminalOptions = {}): Terminal {
  const stdin = options.stdin ?? Deno.stdin;
  const stdout = options.stdout ?? Deno.stdout;
  const stderr = options.stderr ?? Deno.stderr;
  if (stdin.isTerminal() && stdout.isTerminal()) {
    const color = options.color ?? shouldUseColor({ noColor: Deno.noColor, isTerminal: true });
    return new TtyTerminal(stdin, stdout, stderr, {
      theme: color ? COLOR_THEME : MONO_THEME,
      columns: options.columns ?? consoleColumns,
      rows: options.rows ?? consoleRows,
      signals: options.signals ?? stdin === Deno.stdin,
      bell: options.bell ?? true,
    });
  }
  return new PipedTerminal(stdin, stdout, stderr);
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

function consoleRows(): number {
  try {
    return Deno.consoleSize().rows || 24;
  } catch {
    return 24;
  }
}

const encoder = new TextEncoder();

/** Writes all of `text`; a closed output (EPIPE) is ignored. */
function writeAll(output: ClientOutput, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  try {
    while (offset < bytes.length) offset += output.writeSync(bytes.subarray(offset));
  } catch {
    // The reader went away (`chat client | head -1`): nothing left to tell.
  }
}

/** Lines waiting to be read, and at most one reader waiting for them. */
class LineQueue {
  readonly #lines: string[] = [];
  #ended = false;
  #waiter: (() => void) | undefined;

  push(line: string): void {
    if (this.#ended) return;
    this.#lines.push(line);
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  async next(): Promise<string | undefined> {
    while (this.#lines.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#lines.shift();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** stdin is a pipe or a file: plain lines in, plain lines out. */
class PipedTerminal implements Terminal {
  readonly interactive = false;
  readonly theme = MONO_THEME;
  readonly #stdout: ClientOutput;
  readonly #stderr: ClientOutput;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #queue = new LineQueue();
  #closed = false;

  constructor(stdin: ClientInput, stdout: ClientOutput, stderr: ClientOutput) {
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.#reader = stdin.readable.getReader();
    this.#pump();
  }

  async askNick(): Promise<string | undefined> {
    const line = await this.readLine();
    return line?.trim();
  }

  askSecret(): Promise<string | undefined> {
    return this.#queue.next();
  }

  async readLine(): Promise<string | undefined> {
    while (true) {
      const line = await this.#queue.next();
      if (line === undefined || line.trim() !== "") return line;
    }
  }

  setNick(): void {}

  print(text: string): void {
    writeAll(this.#stdout, text + "\n");
  }

  warn(text: string): void {
    writeAll(this.#stderr, text + "\n");
  }

  fail(text: string): void {
    writeAll(this.#stderr, text + "\n");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.end();
    // Cancelling (rather than leaving a read pending) lets the process exit.
    await this.#reader.cancel().catch(() => {});
  }

  async #pump(): Promise<void> {
    const lines = new LineReader();
    const take = (results: ReturnType<LineReader["push"]>) => {
      for (const result of results) {
        if (result.ok) this.#queue.push(result.line);
        else if (result.code === "line_too_long") this.warn("! input line too long; skipped");
        else this.warn("! input line is not UTF-8; skipped");
      }
    };
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        take(lines.push(value));
      }
      take(lines.end());
    } catch {
      // stdin closed under us: same as its end.
    }
    this.#queue.end();
  }
}

interface TtyOptions {
  theme: Theme;
  columns: () => number;
  rows: () => number;
  signals: boolean;
  bell: boolean;
}

const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/** How long a lone ESC waits for the rest of a sequence, in ms. */
const ESCAPE_TIMEOUT = 50;
/** A message of more lines than this asks for a second Enter before it is sent. */
export const CONFIRM_LINES = 5;
/** …and so does one of more characters than this. */
export const CONFIRM_CHARS = 2000;

const ENTER_SCREEN = "\x1b[?1049h\x1b[?2004h";
const LEAVE_SCREEN = "\x1b[?2004l\x1b[?1049l";
const RESET = "\x1b[0m";

/** The day-change line's text: `— Tuesday, 1 December 2026 —`, in local time. */
function dayName(ts: number): string {
  const day = new Date(ts).toLocaleDateString("en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  });
  return `— ${day} —`;
}

/** Cuts plain text to at most `width` columns. */
function truncate(text: string, width: number): string {
  let used = 0;
  let out = "";
  for (const cluster of graphemes(text)) {
    const w = displayWidth(cluster);
    if (used + w > width) break;
    out += cluster;
    used += w;
  }
  return out;
}

/** stdin and stdout are a terminal: raw mode, full screen, windows, line editor. */
class TtyTerminal implements Terminal, Screen {
  readonly interactive = true;
  readonly theme: Theme;
  readonly windows: WindowList;
  completion: () => CompletionSources = () => ({ commands: [], rooms: [], nicks: [] });
  readonly #stdin: ClientInput;
  readonly #stdout: ClientOutput;
  readonly #stderr: ClientOutput;
  readonly #columns: () => number;
  readonly #rows: () => number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #keys = new KeyDecoder();
  readonly #editor = new LineEditor({ historySize: 500 });
  readonly #completer = new Completer();
  readonly #queue = new LineQueue();
  readonly #signals: boolean;
  readonly #bell: boolean;
  #nick = "";
  #status: string | undefined;
  #asking = false;
  /** A long message waiting for a second Enter. */
  #confirming: string | undefined;
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  #drawScheduled = false;
  #closed = false;
  /** A secret being typed: its own editor, nothing of it shown or kept. */
  #secret:
    | { editor: LineEditor; prompt: string; resolve: (secret: string | undefined) => void }
    | undefined;
  readonly #onSignal = () => {
    this.#endSecret(undefined);
    this.#queue.end();
  };
  readonly #onResize = () => this.#draw();
  readonly #onUnload = () => this.#restore();

  constructor(stdin: ClientInput, stdout: ClientOutput, stderr: ClientOutput, options: TtyOptions) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.theme = options.theme;
    this.#columns = options.columns;
    this.#rows = options.rows;
    this.#signals = options.signals;
    this.#bell = options.bell;
    this.windows = new WindowList((ts) => renderNotice(`${dayName(ts)}`, { theme: this.theme }));
    stdin.setRaw?.(true);
    writeAll(stdout, ENTER_SCREEN);
    // Restore the terminal even when something calls Deno.exit() first.
    globalThis.addEventListener("unload", this.#onUnload);
    if (this.#signals) {
      for (const signal of SIGNALS) Deno.addSignalListener(signal, this.#onSignal);
      Deno.addSignalListener("SIGWINCH", this.#onResize);
    }
    this.#reader = stdin.readable.getReader();
    this.#pump();
  }

  get screen(): Screen {
    return this;
  }

  get history(): readonly string[] {
    return this.#editor.history;
  }

  loadHistory(lines: readonly string[]): void {
    this.#editor.loadHistory(lines);
  }

  async askNick(): Promise<string | undefined> {
    this.#asking = true;
    this.#draw();
    try {
      while (true) {
        const line = await this.#queue.next();
        if (line === undefined) return undefined;
        if (line.trim() !== "") {
          this.print("nickname: " + escapeControls(line.trim()));
          return line.trim();
        }
        this.print(
          renderNotice(
            "a nickname is needed to join the chat: type one and press Enter (Ctrl+C quits)",
            { theme: this.theme },
          ),
        );
      }
    } finally {
      this.#asking = false;
      this.refresh();
    }
  }

  readLine(): Promise<string | undefined> {
    return this.#queue.next();
  }

  askSecret(prompt: string): Promise<string | undefined> {
    const { promise, resolve } = Promise.withResolvers<string | undefined>();
    this.#endSecret(undefined);
    this.#secret = { editor: new LineEditor({ historySize: 0 }), prompt, resolve };
    this.#draw();
    return promise;
  }

  #endSecret(secret: string | undefined): void {
    const asking = this.#secret;
    this.#secret = undefined;
    asking?.resolve(secret);
  }

  setNick(nick: string, options: PromptState = {}): void {
    this.#nick = nick;
    this.#status = options.status;
    this.refresh();
  }

  print(text: string): void {
    this.add(this.windows.current, { text, indent: 2, ts: Date.now() });
  }

  warn(text: string): void {
    this.print(text);
  }

  fail(text: string): void {
    writeAll(this.#stderr, text + "\n");
  }

  add(window: ChatWindow, line: WindowLine): boolean {
    const { alert, added } = this.windows.add(window, line);
    // Scrolled back, the view stays where it is: the scroll position counts
    // rows from the newest, so it grows by the rows the new lines take.
    if (window.scroll > 0) {
      const width = Math.max(1, this.#columns());
      for (const l of window.lines.slice(-added)) window.scroll += this.#rowsOf(l, width).length;
    }
    this.refresh();
    return alert;
  }

  bell(): void {
    if (this.#bell && !this.#closed) writeAll(this.#stdout, "\x07");
  }

  putBack(text: string): void {
    if (this.#editor.text === "") this.#editor.setText(text);
    this.refresh();
  }

  refresh(): void {
    if (this.#drawScheduled || this.#closed) return;
    this.#drawScheduled = true;
    queueMicrotask(() => {
      this.#drawScheduled = false;
      this.#draw();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#escapeTimer);
    this.#queue.end();
    writeAll(this.#stdout, RESET + LEAVE_SCREEN);
    this.#restore();
    globalThis.removeEventListener("unload", this.#onUnload);
    if (this.#signals) {
      for (const signal of SIGNALS) Deno.removeSignalListener(signal, this.#onSignal);
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
    }
    await this.#reader.cancel().catch(() => {});
  }

  #restore(): void {
    try {
      this.#stdin.setRaw?.(false);
    } catch {
      // stdin is gone; nothing to restore.
    }
  }

  /** The prompt for the current window: `alice #dev> `, `alice @bob> `, `nickname: `. */
  #prompt(width: number): { plain: string; styled: string } {
    if (this.#asking) return { plain: "nickname: ", styled: "nickname: " };
    if (this.#nick === "") return { plain: "", styled: "" };
    const window = this.windows.current;
    const where = window.kind === "status" ? null : window.label;
    const prompt = renderPrompt(this.#nick, where, {
      theme: this.theme,
      ...(this.#status !== undefined ? { status: this.#status } : {}),
    });
    // A prompt wider than half the terminal is cut, so there is room to type.
    const max = Math.floor(width / 2);
    if (displayWidth(prompt.plain) <= max) return prompt;
    const cut = truncate(prompt.plain, Math.max(0, max - 3)) + "…> ";
    return { plain: cut, styled: cut };
  }

  /**
   * The status line: the windows, unread counts and mention marks. When they
   * do not all fit, the current window and those with a mention, then those
   * with unread lines, are kept (still in number order), and the quiet ones
   * give way, counted as `+N more`.
   */
  #statusLine(width: number, scrolled: boolean): string {
    const color = this.theme.color;
    const parts = this.windows.all.map((w, i) => {
      const count = w.unread > 0 ? `(${w.unread}${w.mentioned ? "!" : ""})` : "";
      const label = `${i + 1}:${escapeControls(w.label)}${count}`;
      const plain = w === this.windows.current ? `[${label}]` : label;
      if (!color) return { plain, styled: plain };
      const style = w.mentioned ? "\x1b[1;33m" : w.unread > 0 ? "\x1b[1m" : "";
      return { plain, styled: style ? `${style}${plain}\x1b[22;39m` : plain };
    });
    const extra = (this.#status ? ` (${this.#status})` : "") +
      (scrolled ? " -- more below --" : "");
    const windows = this.windows.all;
    const rank = (i: number) => {
      const w = windows[i]!;
      return w === this.windows.current ? 0 : w.mentioned ? 1 : w.unread > 0 ? 2 : 3;
    };
    const line = (shown: ReadonlySet<number>, key: "plain" | "styled") => {
      const hidden = parts.length - shown.size;
      return parts.filter((_, i) => shown.has(i)).map((p) => " " + p[key]).join("") +
        (hidden > 0 ? ` +${hidden} more` : "") + extra;
    };
    const shown = new Set<number>();
    const byRank = parts.map((_, i) => i).sort((a, b) => rank(a) - rank(b) || a - b);
    for (const i of byRank) {
      shown.add(i);
      if (shown.size > 1 && displayWidth(line(shown, "plain")) > width) shown.delete(i);
    }
    const full = line(shown, "plain");
    const plain = truncate(full, width);
    // Only the current window, wider than the terminal: cut, without its styles.
    const styled = plain === full ? line(shown, "styled") : plain;
    if (!color) return plain;
    return `\x1b[7m${styled}${" ".repeat(Math.max(0, width - displayWidth(plain)))}${RESET}`;
  }

  /** The rows of one window line: its text, its state mark, wrapped. */
  #rowsOf(line: WindowLine, width: number): string[] {
    let text = line.text;
    const color = this.theme.color;
    if (line.state === "pending") text += color ? " \x1b[2m…\x1b[22m" : " …";
    if (line.state === "refused") {
      const note = ` [not sent: ${escapeControls(line.note ?? "refused")}]`;
      text += color ? ` \x1b[31m${note.slice(1)}\x1b[39m` : note;
    }
    return wrap(text, width, line.indent);
  }

  /** Draws the whole screen in one write. */
  #draw(): void {
    if (this.#closed) return;
    const width = Math.max(1, this.#columns());
    const height = Math.max(1, this.#rows());
    const body = Math.max(0, height - 2);
    const window = this.windows.current;
    // The rows of the window from the newest back, enough for the scroll position.
    const rows: string[] = [];
    const wanted = body + window.scroll;
    for (let i = window.lines.length - 1; i >= 0 && rows.length < wanted; i--) {
      rows.unshift(...this.#rowsOf(window.lines[i]!, width));
    }
    const maxScroll = Math.max(0, rows.length - body);
    if (window.scroll > maxScroll) window.scroll = maxScroll;
    const end = rows.length - window.scroll;
    const visible = rows.slice(Math.max(0, end - body), end);
    let out = "\x1b[?25l";
    for (let r = 0; r < body; r++) {
      const row = visible[r - (body - visible.length)];
      out += `\x1b[${r + 1};1H\x1b[2K${row ?? ""}`;
    }
    if (height >= 2) {
      out += `\x1b[${height - 1};1H\x1b[2K${this.#statusLine(width, window.scroll > 0)}`;
    }
    const secret = this.#secret;
    if (secret) {
      // The prompt only: not even the length of the secret shows.
      out += `\x1b[${height};1H\x1b[2K${secret.prompt}`;
      out += `\x1b[${height};${displayWidth(secret.prompt) + 1}H\x1b[?25h`;
      writeAll(this.#stdout, out);
      return;
    }
    const prompt = this.#prompt(width);
    const promptWidth = displayWidth(prompt.plain);
    const view = this.#editor.view(Math.max(1, width - promptWidth - 1));
    out += `\x1b[${height};1H\x1b[2K${prompt.styled}${view.text}`;
    out += `\x1b[${height};${promptWidth + view.cursor + 1}H\x1b[?25h`;
    writeAll(this.#stdout, out);
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        clearTimeout(this.#escapeTimer);
        this.#keys.push(value).forEach((key) => this.#key(key));
        if (this.#keys.pending) {
          this.#escapeTimer = setTimeout(() => {
            this.#keys.flush().forEach((key) => this.#key(key));
          }, ESCAPE_TIMEOUT);
        }
      }
    } catch {
      // stdin went away: treat it as the end of input.
    }
    this.#queue.end();
  }

  #key(key: Key): void {
    const secret = this.#secret;
    if (secret) {
      const event = key.type === "tab" ? undefined : secret.editor.handle(key);
      if (event?.type === "quit") this.#endSecret(undefined);
      if (event?.type === "submit") this.#endSecret(event.line);
      this.refresh();
      return;
    }
    if (key.type !== "tab") this.#completer.reset();
    if (key.type !== "enter") this.#confirming = undefined;
    const body = Math.max(1, this.#rows() - 3);
    switch (key.type) {
      case "redraw":
        writeAll(this.#stdout, "\x1b[2J");
        break;
      case "window":
        this.windows.selectNumber(key.n);
        break;
      case "window-next":
      case "window-prev":
        this.windows.cycle(key.type === "window-next" ? 1 : -1);
        break;
      case "page-up":
        this.windows.current.scroll += body;
        break;
      case "page-down":
        this.windows.current.scroll = Math.max(0, this.windows.current.scroll - body);
        break;
      case "tab": {
        const done = this.#completer.complete(
          this.#editor.text,
          this.#editor.cursor,
          this.completion(),
        );
        if (done) this.#editor.setText(done.text, done.cursor);
        break;
      }
      default: {
        const event = this.#editor.handle(key);
        if (event?.type === "quit") {
          this.#queue.end();
          return;
        }
        if (event?.type === "submit") this.#submit(event.line);
      }
    }
    this.refresh();
  }

  #submit(line: string): void {
    if (line.trim() === "" && !this.#asking) return;
    const lines = line.split("\n").length;
    if (
      !this.#asking && (lines > CONFIRM_LINES || line.length > CONFIRM_CHARS) &&
      this.#confirming !== line
    ) {
      // Ask before sending a long paste: the text stays, a second Enter sends it.
      this.#confirming = line;
      this.#editor.setText(line);
      this.print(
        renderNotice(
          `send ${lines} lines (${line.length} characters) as one message? ` +
            "Enter sends it, Ctrl+C clears it",
          { theme: this.theme },
        ),
      );
      return;
    }
    this.#confirming = undefined;
    this.windows.current.scroll = 0;
    this.#queue.push(line);
  }
}
