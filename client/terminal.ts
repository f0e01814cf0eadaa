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
import { KeyDecoder } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";
import { COLOR_THEME, MONO_THEME, shouldUseColor, type Theme } from "./render.ts";
import { displayWidth } from "./width.ts";

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
   * In interactive mode, quit on SIGINT/SIGTERM/SIGHUP and redraw on SIGWINCH.
   * @default {true when stdin is Deno.stdin}
   */
  signals?: boolean;
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
   * The next line the user entered (never empty).
   *
   * @returns the line, or `undefined` at end of input or when the user quit
   * (Ctrl+C or Ctrl+D on an empty line, or a signal)
   */
  readLine(): Promise<string | undefined>;
  /** Shows `nick> ` as the prompt from now on. */
  setNick(nick: string): void;
  /** Prints a chat line (or several, `\n`-separated) on stdout. */
  print(text: string): void;
  /** Prints a local error: above the prompt, or on stderr when piped. */
  warn(text: string): void;
  /** Writes one line on stderr (after {@linkcode Terminal.close}). */
  fail(text: string): void;
  /** Restores the terminal and stops reading; safe to call more than once. */
  close(): Promise<void>;
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
      signals: options.signals ?? stdin === Deno.stdin,
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
  signals: boolean;
}

const CLEAR_LINE = "\r\x1b[2K";
const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/** How long a lone ESC waits for the rest of a sequence, in ms. */
const ESCAPE_TIMEOUT = 50;

/** stdin and stdout are a terminal: raw mode, line editor, prompt. */
class TtyTerminal implements Terminal {
  readonly interactive = true;
  readonly theme: Theme;
  readonly #stdin: ClientInput;
  readonly #stdout: ClientOutput;
  readonly #stderr: ClientOutput;
  readonly #columns: () => number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #keys = new KeyDecoder();
  readonly #editor = new LineEditor();
  readonly #queue = new LineQueue();
  readonly #signals: boolean;
  #prompt = "";
  #promptWidth = 0;
  #showPrompt = false;
  #echo = false;
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #onSignal = () => this.#queue.end();
  readonly #onResize = () => this.#draw("");
  readonly #onUnload = () => this.#restore();

  constructor(stdin: ClientInput, stdout: ClientOutput, stderr: ClientOutput, options: TtyOptions) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#stderr = stderr;
    this.theme = options.theme;
    this.#columns = options.columns;
    this.#signals = options.signals;
    stdin.setRaw?.(true);
    // Restore the terminal even when something calls Deno.exit() first.
    globalThis.addEventListener("unload", this.#onUnload);
    if (this.#signals) {
      for (const signal of SIGNALS) Deno.addSignalListener(signal, this.#onSignal);
      Deno.addSignalListener("SIGWINCH", this.#onResize);
    }
    this.#reader = stdin.readable.getReader();
    this.#pump();
  }

  async askNick(): Promise<string | undefined> {
    this.#setPrompt("nickname: ");
    this.#echo = true;
    const line = await this.#queue.next();
    return line?.trim();
  }

  readLine(): Promise<string | undefined> {
    return this.#queue.next();
  }

  setNick(nick: string): void {
    const text = escapeControls(nick) + "> ";
    this.#echo = false;
    this.#setPrompt(text, this.theme.color ? `\x1b[1m${text}\x1b[0m` : text);
  }

  print(text: string): void {
    this.#draw(text.replaceAll("\n", "\r\n") + "\r\n");
  }

  warn(text: string): void {
    this.print(text);
  }

  fail(text: string): void {
    writeAll(this.#stderr, text + "\n");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#escapeTimer);
    this.#queue.end();
    if (this.#showPrompt) writeAll(this.#stdout, CLEAR_LINE);
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

  #setPrompt(plain: string, styled = plain): void {
    this.#prompt = styled;
    this.#promptWidth = displayWidth(plain);
    this.#showPrompt = true;
    this.#draw("");
  }

  /**
   * Clears the input line, writes `above` (complete lines, `\r\n`-ended),
   * then redraws prompt, visible input and cursor, in one write.
   */
  #draw(above: string): void {
    if (this.#closed) return;
    let out = CLEAR_LINE + above;
    if (this.#showPrompt) {
      const width = this.#columns() - this.#promptWidth - 1;
      const view = this.#editor.view(width);
      out += this.#prompt + view.text + "\r";
      const column = this.#promptWidth + view.cursor;
      if (column > 0) out += `\x1b[${column}C`;
    }
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

  #key(key: Parameters<LineEditor["handle"]>[0]): void {
    if (key.type === "redraw") {
      writeAll(this.#stdout, "\x1b[H\x1b[2J");
    }
    const event = this.#editor.handle(key);
    if (event?.type === "quit") {
      this.#queue.end();
      return;
    }
    if (event?.type === "submit" && event.line.trim() !== "") {
      // The nickname stays on screen after its prompt; chat lines are shown
      // by the client as rendered messages instead.
      const echo = this.#echo ? this.#prompt + escapeControls(event.line) + "\r\n" : "";
      this.#draw(echo);
      this.#queue.push(event.line);
      return;
    }
    this.#draw("");
  }
}
