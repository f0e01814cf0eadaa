/**
 * The terminal client of `chat`: connects, registers a nickname and chats,
 * interactively on a terminal or line by line when piped.
 *
 * ```sh
 * chat client [HOST=127.0.0.1] [PORT=8080] [--nick NAME]
 * ```
 *
 * @module
 */

import {
  backoffDelay,
  type ClientFrame,
  COMMANDS,
  escapeControls,
  nickKey,
  parseInput,
  roomKey,
  type ServerFrame,
} from "../protocol/mod.ts";
import { has256Colors, NickColors, PALETTE_16, PALETTE_256 } from "./colors.ts";
import { denoEnv, StateFiles } from "./config.ts";
import { Connection, describeNetworkError, register, type WelcomeFrame } from "./connection.ts";
import { findLocal, LOCAL_COMMANDS } from "./local_commands.ts";
import { mentions } from "./mention.ts";
import { renderError, renderFrame, renderNotice, type RenderOptions } from "./render.ts";
import { ClientState } from "./state.ts";
import { establishTrust, type TlsOptions, TrustError, type TrustPolicy } from "./tls.ts";
import { openTerminal, type Screen, type Terminal, type TerminalOptions } from "./terminal.ts";
import { displayWidth } from "./width.ts";
import type { ChatWindow, WindowLine } from "./windows.ts";

export type { ClientInput, ClientOutput } from "./terminal.ts";

/**
 * Options for {@linkcode runClient}: where to connect and as whom, plus the
 * terminal's own (input, outputs, colour, size, bell; see
 * {@linkcode TerminalOptions}). A terminal as stdin selects the interactive
 * mode, anything else the piped mode.
 */
export interface ClientOptions extends Omit<TerminalOptions, "signals"> {
  /** Server host name or address, e.g. `127.0.0.1`. */
  hostname: string;
  /** Server TCP port, e.g. `8080`. */
  port: number;
  /** Nickname to register; asked for when absent. */
  nick?: string;
  /**
   * `[14:02]` (local time) before live lines on a terminal.
   * @default {true}
   */
  timestamps?: boolean;
  /**
   * 256 nickname colours rather than 16.
   * @default {from TERM and COLORTERM}
   */
  colors256?: boolean;
  /**
   * Where input history and ignored nicknames are kept (see config.ts
   * `stateDir()`); none: nothing is kept.
   * @default {undefined}
   */
  stateDir?: string;
  /**
   * After sending `quit`, how long to wait for the server's `bye` and close,
   * in milliseconds.
   * @default {5000}
   */
  quitTimeout?: number;
  /**
   * Reconnect attempts after a dropped connection before giving up (exit 1).
   * `0`: exit at the first drop.
   * @default {unlimited on a terminal, 5 when piped}
   */
  retries?: number;
  /**
   * The wait before reconnect attempt `attempt` (0 for the first), in ms.
   * @default {backoffDelay: 1 s doubling to 30 s, ±20% jitter}
   */
  backoff?: (attempt: number) => number;
  /**
   * Connect over TLS, trusting the server as `client/tls.ts` says (a pin,
   * known_hosts with trust on first use, or a public authority).
   * @default {plain TCP}
   */
  tls?: TlsOptions;
  /** Set by {@linkcode runClient} from {@linkcode ClientOptions.tls}: what every connection checks. */
  trust?: TrustPolicy;
}

/** How a session ended: the exit code and, for failures, one line for stderr. */
interface Outcome {
  code: number;
  message?: string;
}

/** Reconnect attempts when piped and {@linkcode ClientOptions.retries} is not given. */
export const PIPED_RETRIES = 5;

/**
 * Runs the client until the user quits, or the server cannot be reached.
 *
 * A dropped connection (not after `/quit`) is announced in one line
 * (`* connection lost; reconnecting in 1.2 s…`) and the client reconnects by
 * itself with backoff, resumes its session (nickname, rooms) and shows
 * exactly the messages it missed. On a terminal it retries until the user
 * quits; piped, it gives up after {@linkcode PIPED_RETRIES} attempts. A line
 * entered while disconnected is sent once the connection is back.
 *
 * Exit codes: 0 after the user quit (`/quit`, `exit`, Ctrl+C or Ctrl+D on an
 * empty line, end of piped input); 1 when the server cannot be reached at
 * all, or is gone for more than the retries allow, with one line on stderr
 * such as `cannot connect to 127.0.0.1:8080: connection refused`.
 *
 * @param options where to connect, the streams to use, reconnect policy
 * @returns the exit code
 *
 * @example
 * ```ts ignore
 * import { runClient } from "./mod.ts";
 * Deno.exit(await runClient({ hostname: "127.0.0.1", port: 8080, nick: "alice" }));
 * ```
 */
export async function runClient(options: ClientOptions): Promise<number> {
  if (options.tls && !options.trust) {
    // Decided once, before the terminal opens (it may ask the user); every
    // connection, reconnects included, then checks the same pin.
    const stdin = options.stdin ?? Deno.stdin;
    const stderr = options.stderr ?? Deno.stderr;
    const address = formatAddress(options.hostname, options.port);
    try {
      options = {
        ...options,
        trust: await establishTrust(options.hostname, options.port, options.tls, {
          stdin,
          stderr,
        }),
      };
    } catch (error) {
      const message = error instanceof TrustError
        ? error.message
        : `cannot connect to ${address}: ${describeNetworkError(error)}`;
      stderr.writeSync(new TextEncoder().encode(message + "\n"));
      return 1;
    }
  }
  const terminal = openTerminal(options);
  const files = new StateFiles(options.stateDir);
  terminal.screen?.loadHistory(files.loadHistory());
  let outcome: Outcome;
  try {
    outcome = await connectAndChat(terminal, options, files);
  } finally {
    if (terminal.screen && options.stateDir !== undefined) {
      files.saveHistory(terminal.screen.history);
    }
    await terminal.close();
  }
  if (outcome.message !== undefined) terminal.fail(outcome.message);
  return outcome.code;
}

function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

async function connectAndChat(
  terminal: Terminal,
  options: ClientOptions,
  files: StateFiles,
): Promise<Outcome> {
  const address = formatAddress(options.hostname, options.port);
  const theme = terminal.theme;
  // Ask first, then connect: the server's handshake timeout does not run
  // while someone thinks of a nickname, the first time or after a refusal
  // (the refused connection is closed before asking again).
  let nick = options.nick ?? await terminal.askNick();
  while (nick !== undefined) {
    let connection: Connection;
    try {
      connection = await Connection.dial(options.hostname, options.port, { tls: options.trust });
    } catch (error) {
      if (error instanceof TrustError) return { code: 1, message: error.message };
      return { code: 1, message: `cannot connect to ${address}: ${describeNetworkError(error)}` };
    }
    const refused: { frame?: ServerFrame } = {};
    let handedOver = false;
    try {
      const registration = await register(connection, {
        nick,
        retry(refusal) {
          refused.frame = refusal;
          return Promise.resolve(undefined);
        },
        onFrame(frame) {
          const text = renderFrame(frame, { theme });
          if (text !== undefined) terminal.print(text);
        },
      });
      if (registration.status === "closed") {
        return {
          code: 1,
          message: registration.error === undefined
            ? `connection to ${address} lost`
            : `cannot join ${address}: ${escapeControls(registration.error.message)}`,
        };
      }
      if (registration.status === "welcome") {
        handedOver = true;
        const chat = new Chat(terminal, options, address, registration.welcome, files);
        return await chat.run(connection);
      }
    } finally {
      if (!handedOver) connection.close();
    }
    if (refused.frame) terminal.print(renderFrame(refused.frame, { theme })!);
    nick = await terminal.askNick();
  }
  return { code: 0 };
}

async function deadline(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/** A promise with its resolve function, resolved at most once. */
class Signal<T = void> {
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #done = false;

  constructor() {
    this.promise = new Promise((resolve) => this.#resolve = resolve);
  }

  get done(): boolean {
    return this.#done;
  }

  resolve(value: T): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(value);
  }
}

/** Why a connection ended: the server's `bye` reason, if it sent one. */
interface Ended {
  bye?: string;
}

/** Longest wait for the server's answer to a `join` or `part` before the next line, in ms. */
const ANSWER_TIMEOUT = 5000;

/** Most alternative nicknames tried when a reconnect finds the nickname taken. */
const RENICK_TRIES = 3;

/** Most own lines waiting for their ack that are tracked. */
const MAX_PENDING = 1000;

/** Most room names remembered from `/rooms` listings and invitations, for Tab. */
const MAX_KNOWN_ROOMS = 1000;

/** Most history lines held back until their page's header can be printed. */
const MAX_HISTORY_BUFFER = 2000;

/**
 * A frame on its way out; with `input` (what the user typed), it is pointed
 * at the current window just before it is sent (see `Chat.#aim`), so a line
 * typed right after `/join` goes to the new room.
 */
type Outgoing = { frame: ClientFrame; input?: string };

/** Lines waiting to be sent, and at most one sender waiting for them. */
class Outbox {
  readonly #items: Outgoing[] = [];
  #ended = false;
  #waiter: (() => void) | undefined;

  push(item: Outgoing): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  async next(): Promise<Outgoing | undefined> {
    while (this.#items.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#ended ? undefined : this.#items.shift();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

/** An own line shown as pending until its ack (or error) arrives. */
interface PendingLine {
  window: ChatWindow;
  line: WindowLine;
  /** What the user typed, put back in the input if refused. */
  input: string;
  /** For a private message: to whom, to recognise the server's echo. */
  to?: string;
  /** For a room line: the room key and text, to recognise a replay after a lost ack. */
  room?: string;
  text: string;
}

/** `HH:MM` in local time. */
function localClock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

// deno-lint-ignore no-control-regex -- SGR sequences are ours
const SGR = /\x1b\[[0-9;]*m/g;

/** The hanging indent of a rendered line: up to the end of its `nick: ` prefix. */
function indentOf(styled: string): number {
  const plain = styled.split("\n")[0]!.replace(SGR, "");
  const m = /^(?:\[[^\]]*\] )*(?:\* \S+ |[^\s:]+: |\* )/.exec(plain);
  return m ? Math.min(displayWidth(m[0]), 24) : 2;
}

/**
 * The registered session across connections: the socket and the input are
 * read concurrently, so incoming lines show while the user types (or while
 * piped input waits); a dropped connection is replaced by a resumed one.
 *
 * On a terminal, every room and private conversation has its own window
 * (see windows.ts): frames are routed to their window, own lines show as
 * pending until acknowledged, mentions and private messages in other windows
 * ring the bell. Piped, every frame prints as one plain-text line, as before.
 */
class Chat {
  readonly #terminal: Terminal;
  readonly #screen: Screen | undefined;
  readonly #options: ClientOptions;
  readonly #address: string;
  readonly #state: ClientState;
  readonly #retries: number;
  readonly #backoff: (attempt: number) => number;
  readonly #files: StateFiles;
  readonly #colors: NickColors;
  readonly #timestamps: boolean;
  /** The registered connection, while there is one. */
  #connection: Connection | undefined;
  /** Resolved with the next registered connection (or undefined at the end). */
  #connected = new Signal<Connection | undefined>();
  /** Resolved once the user quit (the quit frame sent, if connected). */
  readonly #quit = new Signal();
  /** Watches frames for the answer to a `join` or `part` (undefined: the connection ended). */
  #answer: ((frame: ServerFrame | undefined) => boolean) | undefined;
  readonly #outbox = new Outbox();
  readonly #pending = new Map<string, PendingLine>();
  #nextRef = 1;
  /** Ignored nicknames by key, with the name as typed. */
  readonly #ignores = new Map<string, string>();
  /** Rooms seen in `/rooms` listings and invitations, by room key, oldest first (for Tab). */
  readonly #knownRooms = new Map<string, string>();
  /** Rooms whose member list was asked for silently (room keys). */
  readonly #silentWho = new Set<string>();
  /** History lines held back per room key until the `history` frame that ends them. */
  readonly #historyBuffer = new Map<string, ServerFrame[]>();
  /** The last search, for `/search` alone (the next page). */
  #lastSearch: { text: string; room?: string; before?: number } | undefined;
  /** Who last sent us a private message (for `/reply` in its window). */
  #lastPrivateFrom: string | undefined;
  /** The one line telling about an outage, updated in place. */
  #outage: { window: ChatWindow; line: WindowLine; since: number } | undefined;

  constructor(
    terminal: Terminal,
    options: ClientOptions,
    address: string,
    welcome: WelcomeFrame,
    files: StateFiles,
  ) {
    this.#terminal = terminal;
    this.#screen = terminal.screen;
    this.#options = options;
    this.#address = address;
    this.#files = files;
    this.#state = new ClientState(welcome.nick);
    this.#retries = options.retries ?? (terminal.interactive ? Infinity : PIPED_RETRIES);
    this.#backoff = options.backoff ?? ((attempt) => backoffDelay(attempt));
    this.#timestamps = options.timestamps ?? true;
    const wide = options.colors256 ??
      has256Colors({ TERM: denoEnv("TERM") ?? "", COLORTERM: denoEnv("COLORTERM") ?? "" });
    this.#colors = new NickColors(wide ? PALETTE_256 : PALETTE_16);
    for (const nick of files.loadIgnores()) this.#ignores.set(nickKey(nick), nick);
    if (this.#screen) this.#screen.completion = () => this.#sources();
    this.#state.observe(welcome);
    this.#prompt();
    if (this.#screen) this.#route(welcome, true);
    else this.#terminal.print(renderFrame(welcome, this.#view())!);
  }

  async run(first: Connection): Promise<Outcome> {
    let connection = first;
    const input = this.#readInput();
    const sender = this.#sendLoop();
    try {
      while (true) {
        this.#connection = connection;
        this.#connected.resolve(connection);
        const ended = await this.#serve(connection);
        connection.close();
        if (this.#answer?.(undefined)) this.#answer = undefined;
        this.#connection = undefined;
        this.#connected = new Signal();
        if (this.#quit.done) return { code: 0 };
        const next = await this.#reconnect(ended);
        if (!(next instanceof Connection)) return next;
        connection = next;
      }
    } finally {
      this.#connection?.close();
      this.#connected.resolve(undefined);
      this.#quit.resolve();
      this.#outbox.end();
      // The input loop ends once the terminal closes (runClient does that).
      void input;
      void sender;
    }
  }

  #view(extra: Partial<RenderOptions> = {}): RenderOptions {
    return {
      theme: this.#terminal.theme,
      viewer: this.#state.nick,
      currentRoom: this.#state.currentRoom,
      localTime: this.#terminal.interactive,
      nickColor: (nick) => this.#colors.of(nick),
      ...extra,
    };
  }

  #prompt(status?: string): void {
    this.#terminal.setNick(this.#state.nick, {
      room: this.#state.currentRoom,
      ...(status !== undefined ? { status } : {}),
    });
  }

  #notice(text: string): void {
    this.#terminal.print(renderNotice(text, this.#view()));
  }

  #isMe(nick: string): boolean {
    return nickKey(nick) === nickKey(this.#state.nick);
  }

  #ignored(nick: string): boolean {
    return this.#ignores.has(nickKey(nick)) && !this.#isMe(nick);
  }

  /** Shows a frame from the server (after noting it), unless it is a duplicate. */
  #show(frame: ServerFrame): void {
    const nick = this.#state.nick;
    const room = this.#state.currentRoom;
    const show = this.#state.observe(frame);
    if (nick !== this.#state.nick || room !== this.#state.currentRoom) this.#prompt();
    if (this.#screen) this.#route(frame, show);
    else if (show) {
      const text = renderFrame(frame, this.#view());
      if (text !== undefined) this.#terminal.print(text);
    }
    if (this.#answer?.(frame)) this.#answer = undefined;
  }

  // --- the interactive view: frames to windows -------------------------------------------

  /** Adds a rendered line to a window, with its time; rings the bell for an alert. */
  #put(
    window: ChatWindow,
    text: string,
    options: { ts?: number; highlight?: boolean; stamp?: boolean; state?: WindowLine["state"] } =
      {},
  ): WindowLine {
    const screen = this.#screen!;
    const ts = options.ts ?? Date.now();
    const stamp = this.#timestamps && options.stamp !== false
      ? renderNotice("", this.#view()).replace("* ", `[${localClock(ts)}] `)
      : "";
    const line: WindowLine = {
      text: stamp + text,
      indent: displayWidth(stamp.replace(SGR, "")) + indentOf(text),
      ts,
      ...(options.highlight ? { highlight: true } : {}),
      ...(options.state ? { state: options.state } : {}),
    };
    const alert = screen.add(window, line);
    if (alert) screen.bell();
    return line;
  }

  #roomWindow(name: string | null | undefined): ChatWindow {
    const screen = this.#screen!;
    if (name === null || name === undefined) return screen.windows.current;
    return screen.windows.open("room", name);
  }

  /** Where a frame that belongs to no room goes: the current window. */
  #here(frame: ServerFrame, extra: Partial<RenderOptions> = {}): void {
    const text = renderFrame(frame, this.#view(extra));
    if (text !== undefined) this.#put(this.#screen!.windows.current, text);
  }

  #route(frame: ServerFrame, show: boolean): void {
    const screen = this.#screen!;
    const windows = screen.windows;
    switch (frame.type) {
      case "ack": {
        const pending = frame.ref === undefined ? undefined : this.#pending.get(frame.ref);
        if (pending) {
          pending.line.state = "sent";
          this.#pending.delete(frame.ref!);
          screen.refresh();
        }
        return;
      }
      case "error": {
        const pending = frame.ref === undefined ? undefined : this.#pending.get(frame.ref);
        if (pending) {
          pending.line.state = "refused";
          pending.line.note = frame.message;
          this.#pending.delete(frame.ref!);
          screen.putBack(pending.input);
          return;
        }
        break;
      }
      case "message":
      case "action":
        if (!frame.history && this.#isMe(frame.from)) this.#settle(frame);
        break;
    }
    if (!show) return;
    switch (frame.type) {
      case "message":
      case "action": {
        if (this.#ignored(frame.from)) return;
        if (frame.history && frame.room !== undefined) {
          const key = roomKey(frame.room);
          const held = this.#historyBuffer.get(key) ?? [];
          if (held.length < MAX_HISTORY_BUFFER) held.push(frame);
          this.#historyBuffer.set(key, held);
          return;
        }
        const window = this.#roomWindow(frame.room ?? this.#state.currentRoom);
        window.addMember(frame.from);
        const highlight = !this.#isMe(frame.from) && mentions(frame.text, this.#state.nick);
        const text = renderFrame(frame, this.#view({ currentRoom: window.name, highlight }))!;
        this.#put(window, text, { ts: frame.ts, highlight });
        return;
      }
      case "private": {
        const mine = this.#isMe(frame.from);
        if (!mine && this.#ignored(frame.from)) return;
        if (mine && !frame.history && this.#settlePrivate(frame)) return;
        const other = mine ? frame.to : frame.from;
        if (!mine) this.#lastPrivateFrom = frame.from;
        const window = windows.find("query", other) ??
          (mine || frame.history ? windows.current : windows.open("query", other));
        const highlight = !mine && !frame.history;
        const text = renderFrame(frame, this.#view({ highlight }))!;
        this.#put(window, text, { ts: frame.ts, highlight, stamp: !frame.history });
        return;
      }
      case "joined": {
        if (this.#ignored(frame.nick)) return;
        const window = this.#roomWindow(frame.room);
        window.addMember(frame.nick);
        this.#put(window, renderFrame(frame, this.#view())!, { ts: frame.ts });
        return;
      }
      case "left": {
        const window = frame.room === undefined
          ? windows.current
          : windows.find("room", frame.room);
        if (!window) return;
        if (this.#isMe(frame.nick)) {
          windows.close(window);
          // Kicked or banned: say so where the user lands, not only in the closed window.
          if (frame.by !== undefined) {
            this.#put(windows.current, renderFrame(frame, this.#view())!, { ts: frame.ts });
          }
          screen.refresh();
          return;
        }
        window.removeMember(frame.nick);
        if (!this.#ignored(frame.nick)) {
          this.#put(window, renderFrame(frame, this.#view())!, { ts: frame.ts });
        }
        return;
      }
      case "renamed": {
        const text = renderFrame(frame, this.#view())!;
        const query = windows.find("query", frame.from);
        if (query) query.name = frame.to;
        let shown = false;
        for (const window of windows.all) {
          if (window.kind !== "room" || !window.members.has(nickKey(frame.from))) continue;
          window.removeMember(frame.from);
          window.addMember(frame.to);
          this.#put(window, text, { ts: frame.ts });
          shown = true;
        }
        if (!shown) this.#put(windows.current, text, { ts: frame.ts });
        return;
      }
      case "room": {
        if (frame.room === null) {
          this.#here(frame);
          return;
        }
        const window = windows.open("room", frame.room);
        windows.select(window);
        if (window.members.size === 0) this.#askMembers(frame.room);
        this.#put(window, renderFrame(frame, this.#view())!);
        return;
      }
      case "who": {
        const key = frame.room === undefined ? undefined : roomKey(frame.room);
        const window = frame.room === undefined ? undefined : windows.find("room", frame.room);
        if (window) { for (const nick of frame.nicks) window.addMember(nick); }
        if (key !== undefined && this.#silentWho.delete(key)) return;
        this.#here(frame);
        return;
      }
      case "topic":
        this.#put(this.#roomWindow(frame.room), renderFrame(frame, this.#view())!);
        return;
      case "history": {
        const held = this.#historyBuffer.get(roomKey(frame.room)) ?? [];
        this.#historyBuffer.delete(roomKey(frame.room));
        const window = this.#roomWindow(frame.room);
        this.#put(window, renderNotice(historyHeader(frame, held), this.#view()), { stamp: false });
        for (const line of held) {
          if (line.type !== "message" && line.type !== "action") continue;
          const text = renderFrame(line, this.#view({ currentRoom: window.name }))!;
          this.#put(window, text, { ts: line.ts, stamp: false });
        }
        return;
      }
      case "rooms":
        for (const room of frame.rooms) this.#knowRoom(room.name);
        this.#here(frame);
        return;
      case "invited":
        this.#knowRoom(frame.room);
        this.#here(frame);
        return;
      case "search_results":
        this.#lastSearch = frame.more && frame.results.length > 0
          ? {
            text: frame.text,
            ...(frame.room !== undefined ? { room: frame.room } : {}),
            before: frame.results.at(-1)!.id!,
          }
          : undefined;
        this.#here(frame);
        if (frame.more) this.#notice("older matches: /search again (alone)");
        return;
      case "away":
        if (!this.#isMe(frame.nick)) {
          const window = windows.find("query", frame.nick) ?? windows.current;
          this.#put(window, renderFrame(frame, this.#view())!);
          return;
        }
        this.#here(frame);
        return;
      case "help":
        this.#here(frame);
        this.#put(windows.current, renderNotice(localHelp(), this.#view()), { stamp: false });
        return;
      case "welcome": {
        if (frame.room) {
          const window = windows.open("room", frame.room);
          windows.select(window);
          if (window.members.size === 0) this.#askMembers(frame.room);
        }
        this.#here(frame);
        return;
      }
      default:
        this.#here(frame);
    }
  }

  /** An own room line came back in a resume replay: it was sent after all. */
  #settle(frame: Extract<ServerFrame, { type: "message" | "action" }>): void {
    for (const [ref, pending] of this.#pending) {
      if (pending.to !== undefined || pending.text !== frame.text) continue;
      if (frame.room !== undefined && pending.room !== roomKey(frame.room)) continue;
      pending.line.state = "sent";
      this.#pending.delete(ref);
      this.#screen!.refresh();
      return;
    }
  }

  /** The server's echo of an own private message: the pending line stands for it. */
  #settlePrivate(frame: Extract<ServerFrame, { type: "private" }>): boolean {
    for (const pending of this.#pending.values()) {
      if (pending.to === undefined || nickKey(pending.to) !== nickKey(frame.to)) continue;
      if (pending.text !== frame.text) continue;
      return true; // its ack follows and marks it sent
    }
    return false;
  }

  /** Remembers a room name for Tab completion (the newest {@linkcode MAX_KNOWN_ROOMS}). */
  #knowRoom(name: string): void {
    const key = roomKey(name);
    this.#knownRooms.delete(key);
    this.#knownRooms.set(key, name);
    if (this.#knownRooms.size > MAX_KNOWN_ROOMS) {
      this.#knownRooms.delete(this.#knownRooms.keys().next().value!);
    }
  }

  /** Asks the server for a room's members without showing the answer. */
  #askMembers(room: string): void {
    this.#silentWho.add(roomKey(room));
    this.#outbox.push({ frame: { type: "who", room } });
  }

  /**
   * Words for Tab: commands; rooms (those with a window, then those seen in
   * `/rooms` listings and invitations); and the current window's members.
   */
  #sources(): { commands: string[]; rooms: string[]; nicks: string[] } {
    const screen = this.#screen!;
    const current = screen.windows.current;
    const nicks = current.kind === "query"
      ? [current.name]
      : [...current.members.values()].filter((n) => !this.#isMe(n));
    const commands = [
      ...COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]),
      ...LOCAL_COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]),
    ].map((n) => "/" + n).sort();
    const rooms = new Map<string, string>();
    for (const w of screen.windows.all) if (w.kind === "room") rooms.set(roomKey(w.name), w.name);
    for (const [key, name] of [...this.#knownRooms].reverse()) {
      if (!rooms.has(key)) rooms.set(key, name);
    }
    return { commands, rooms: [...rooms.values()], nicks };
  }

  // --- input -----------------------------------------------------------------------------

  /**
   * The user's lines. On a terminal a quit (Ctrl+C, Ctrl+D, `/quit`) takes
   * effect at once, even while offline with lines still queued; piped, a
   * quit waits for the lines before it, so none is lost.
   */
  async #readInput(): Promise<void> {
    while (!this.#quit.done) {
      let line = await this.#terminal.readLine();
      if (line === undefined) return this.#quitSoon({ type: "quit" });
      if (this.#screen && this.#local(line)) continue;
      const secret = await this.#askPasswords(line);
      if (secret === null) continue;
      if (secret !== undefined) {
        line = secret.input; // what shows and is kept: never the password
        this.#outbox.push(
          this.#screen ? { frame: secret.frame, input: line } : { frame: secret.frame },
        );
        continue;
      }
      const parsed = parseInput(line);
      if (!parsed.ok) {
        this.#terminal.warn(renderError(parsed.message, this.#view()));
        continue;
      }
      if (parsed.frame.type === "quit") return this.#quitSoon(parsed.frame);
      this.#outbox.push(
        this.#screen ? { frame: parsed.frame, input: line } : { frame: parsed.frame },
      );
    }
  }

  /**
   * On a terminal, `/register`, `/login [NICK]` and `/password` typed without
   * their passwords ask for them without echo (`/login NICK` then names the
   * account).
   *
   * @returns the frame and what to show for it; `undefined` for any other
   * line (parsed as usual); `null` when the user gave up
   */
  async #askPasswords(
    line: string,
  ): Promise<{ frame: ClientFrame; input: string } | undefined | null> {
    if (!this.#terminal.interactive) return undefined;
    const m = /^\/(register|login|identify|password)(?:\s+(\S+))?\s*$/i.exec(line);
    if (!m) return undefined;
    const command = m[1]!.toLowerCase();
    const word = m[2];
    const ask = (prompt: string) => this.#terminal.askSecret(prompt);
    const nick = this.#state.nick;
    if (command === "login" || command === "identify") {
      const account = word ?? nick;
      const password = await ask(`password for ${account}: `);
      return password
        ? { frame: { type: "login", nick: account, password }, input: `/login ${account}` }
        : null;
    }
    if (word !== undefined) return undefined; // the server explains the usage
    if (command === "register") {
      const password = await ask(`new password for ${nick}: `);
      if (!password) return null;
      if (await ask("the same again: ") !== password) {
        this.#terminal.warn(renderError("the passwords differ; nothing registered", this.#view()));
        return null;
      }
      return { frame: { type: "register", password }, input: "/register" };
    }
    const old = await ask("current password: ");
    const next = old ? await ask("new password: ") : undefined;
    return old && next ? { frame: { type: "password", old, new: next }, input: "/password" } : null;
  }

  #quitSoon(frame: ClientFrame): void {
    if (this.#terminal.interactive) {
      void this.#quitWith(frame);
      return;
    }
    this.#outbox.push({ frame });
  }

  /**
   * Points a frame at the current window (a room line gets its room, a
   * line in a private window becomes a private message) and, for lines to
   * other people, shows it as pending.
   */
  #aim(frame: ClientFrame, input: string): ClientFrame | undefined {
    const windows = this.#screen!.windows;
    const current = windows.current;
    const room = current.kind === "room" ? current.name : undefined;
    switch (frame.type) {
      case "say":
      case "me":
        if (current.kind === "query") {
          if (frame.type === "me") {
            this.#terminal.warn(
              renderError("/me is for rooms; type the line itself", this.#view()),
            );
            return undefined;
          }
          return this.#pendingPrivate({ type: "msg", to: current.name, text: frame.text }, input);
        }
        if (room === undefined) return frame;
        return this.#pendingRoom({ ...frame, room }, input);
      case "msg":
        return this.#pendingPrivate(frame, input);
      case "reply":
        if (this.#lastPrivateFrom === undefined) return frame;
        return this.#pendingPrivate(
          { type: "msg", to: this.#lastPrivateFrom, text: frame.text },
          input,
        );
      case "who":
      case "topic":
      case "history":
        return frame.room === undefined && room !== undefined ? { ...frame, room } : frame;
      case "part":
        if (frame.room === undefined && current.kind === "query") {
          windows.close(current);
          this.#screen!.refresh();
          return undefined;
        }
        return frame.room === undefined && room !== undefined ? { ...frame, room } : frame;
      default:
        return frame;
    }
  }

  #ref(): string {
    if (this.#pending.size >= MAX_PENDING) {
      this.#pending.delete(this.#pending.keys().next().value!);
    }
    return `c${this.#nextRef++}`;
  }

  #pendingRoom(
    frame: Extract<ClientFrame, { type: "say" | "me" }> & { room: string },
    input: string,
  ): ClientFrame {
    const ref = this.#ref();
    const window = this.#roomWindow(frame.room);
    const own: ServerFrame = {
      type: frame.type === "say" ? "message" : "action",
      from: this.#state.nick,
      text: frame.text,
      ts: Date.now(),
      room: frame.room,
    };
    const line = this.#put(
      window,
      renderFrame(own, this.#view({ currentRoom: window.name }))!,
      { state: "pending" },
    );
    this.#pending.set(ref, { window, line, input, room: roomKey(frame.room), text: frame.text });
    return { ...frame, ref };
  }

  #pendingPrivate(frame: Extract<ClientFrame, { type: "msg" }>, input: string): ClientFrame {
    const ref = this.#ref();
    const windows = this.#screen!.windows;
    const window = windows.find("query", frame.to) ?? windows.current;
    const own: ServerFrame = {
      type: "private",
      from: this.#state.nick,
      to: frame.to,
      text: frame.text,
      ts: Date.now(),
    };
    const line = this.#put(window, renderFrame(own, this.#view())!, { state: "pending" });
    this.#pending.set(ref, { window, line, input, to: frame.to, text: frame.text });
    return { ...frame, ref };
  }

  /** The client's own commands; true when `line` was one. */
  #local(line: string): boolean {
    const m = /^\/(\S+)\s*([\s\S]*)$/.exec(line.trim());
    if (!m) return false;
    const name = m[1]!.toLowerCase();
    const args = m[2]!.trim();
    const screen = this.#screen!;
    const windows = screen.windows;
    const error = (text: string) => this.#terminal.warn(renderError(text, this.#view()));
    if (name === "search" && args === "") {
      if (this.#lastSearch === undefined) error("usage: /search TEXT [#ROOM]");
      else this.#outbox.push({ frame: { type: "search", ...this.#lastSearch } });
      return true;
    }
    const command = findLocal(name);
    if (!command) return false;
    switch (command.name) {
      case "window": {
        const n = /^\d+$/.test(args) ? Number(args) : NaN;
        if (!windows.selectNumber(n)) {
          error(`usage: /window N (N from 1 to ${windows.all.length})`);
        }
        screen.refresh();
        return true;
      }
      case "query": {
        const q = /^(\S+)(?:\s+([\s\S]+))?$/.exec(args);
        if (!q) {
          error("usage: /query NICK [TEXT]");
          return true;
        }
        const window = windows.open("query", q[1]!);
        windows.select(window);
        screen.refresh();
        if (q[2] !== undefined) {
          const frame = this.#pendingPrivate({ type: "msg", to: q[1]!, text: q[2] }, q[2]);
          this.#outbox.push({ frame });
        }
        return true;
      }
      case "close": {
        const current = windows.current;
        if (current.kind === "room") {
          this.#outbox.push({ frame: { type: "part", room: current.name } });
        } else if (current.kind === "query") {
          windows.close(current);
          screen.refresh();
        }
        return true;
      }
      case "ignore": {
        if (args === "") {
          this.#notice(
            this.#ignores.size === 0
              ? "no one is ignored"
              : `ignored: ${[...this.#ignores.values()].join(", ")}`,
          );
          return true;
        }
        if (!/^\S+$/.test(args)) {
          error("usage: /ignore [NICK]");
          return true;
        }
        this.#ignores.set(nickKey(args), args);
        this.#files.saveIgnores([...this.#ignores.values()]);
        this.#notice(`ignoring ${args} (/unignore ${args} to undo)`);
        return true;
      }
      case "unignore": {
        if (!this.#ignores.delete(nickKey(args))) {
          error(args === "" ? "usage: /unignore NICK" : `${args} is not ignored`);
          return true;
        }
        this.#files.saveIgnores([...this.#ignores.values()]);
        this.#notice(`no longer ignoring ${args}`);
        return true;
      }
      case "clear":
        windows.current.clear();
        screen.refresh();
        return true;
    }
    return false;
  }

  /** Sends the queued lines, in order, on the current connection (waiting for one when there is none). */
  async #sendLoop(): Promise<void> {
    while (!this.#quit.done) {
      const item = await this.#outbox.next();
      if (item === undefined) return;
      if (item.frame.type === "quit") return await this.#quitWith(item.frame);
      const frame = item.input === undefined ? item.frame : this.#aim(item.frame, item.input);
      if (frame === undefined) continue;
      // After /join or /part the next line waits for the new current room,
      // so that `/join #dev` then `hi` (typed fast, or pasted) says hi in #dev.
      const answer = frame.type === "join" || frame.type === "part"
        ? this.#expectAnswer(frame)
        : undefined;
      while (true) {
        const connection = this.#connection ?? await this.#connected.promise;
        if (connection === undefined || this.#quit.done) return;
        try {
          await connection.send(frame);
          break;
        } catch {
          // Dropped under us: the line goes out on the next connection.
          if (this.#connection === connection) await this.#nextConnection(connection);
        }
      }
      if (answer) await deadline(answer, ANSWER_TIMEOUT);
      this.#answer = undefined;
    }
  }

  /** Reads the connection until it ends (or, after a quit, a deadline passes). */
  async #serve(connection: Connection): Promise<Ended> {
    const ended: Ended = {};
    const inbound = (async () => {
      for (let frame; (frame = await connection.receive()) !== undefined;) {
        if (frame.type === "bye") {
          ended.bye = frame.reason;
          // A bye we did not ask for shows in the reconnect line instead.
          if (!this.#quit.done) continue;
        }
        this.#show(frame);
      }
    })();
    await Promise.race([inbound, this.#quit.promise]);
    if (this.#quit.done) await deadline(inbound, this.#options.quitTimeout ?? 5000);
    return ended;
  }

  /**
   * Resolves when the server has answered a `join` or `part`: a `room`
   * frame, an error, or our own `left` from a room that is not the current
   * one (parting another room changes nothing else); or when the connection
   * drops. Set up before sending, so the answer cannot slip past.
   */
  #expectAnswer(frame: Extract<ClientFrame, { type: "join" | "part" }>): Promise<void> {
    const parting = frame.type === "part" ? frame.room ?? this.#state.currentRoom : null;
    const isAnswer = (reply: ServerFrame | undefined): boolean => {
      if (reply === undefined || reply.type === "room" || reply.type === "error") return true;
      if (reply.type !== "left" || parting === null || reply.room === undefined) return false;
      const current = this.#state.currentRoom;
      return roomKey(reply.room) === roomKey(parting) &&
        nickKey(reply.nick) === nickKey(this.#state.nick) &&
        (current === null || roomKey(current) !== roomKey(parting));
    };
    return new Promise<void>((resolve) => {
      this.#answer = (reply) => {
        const done = isAnswer(reply);
        if (done) resolve();
        return done;
      };
    });
  }

  /** Waits until `connection` is replaced (or the session ends). */
  async #nextConnection(connection: Connection): Promise<void> {
    while (this.#connection === connection && !this.#quit.done) {
      await Promise.race([this.#connected.promise, this.#quit.promise]);
      if (this.#connection === connection) await new Promise((r) => setTimeout(r, 10));
    }
  }

  async #quitWith(frame: ClientFrame): Promise<void> {
    this.#state.sent(frame);
    const connection = this.#connection;
    // Quitting never waits for a server that is away: the frame goes out only if it can.
    this.#quit.resolve();
    this.#outbox.end();
    if (connection) await connection.send(frame).catch(() => {});
  }

  /** Waits `ms`, or less if the user quits; true when they did. */
  async #pause(ms: number): Promise<boolean> {
    await deadline(this.#quit.promise, ms);
    return this.#quit.done;
  }

  /**
   * Tells about the outage: piped, one line per attempt; on a terminal, one
   * line updated in place.
   */
  #outageNotice(text: string): void {
    if (!this.#screen) {
      this.#notice(text);
      return;
    }
    const styled = renderNotice(text, this.#view());
    if (this.#outage) {
      this.#outage.line.text = styled;
      this.#screen.refresh();
      return;
    }
    const window = this.#screen.windows.current;
    const line = this.#put(window, styled, { stamp: false });
    this.#outage = { window, line, since: Date.now() };
  }

  /**
   * Reconnects with backoff and resumes the session.
   *
   * @returns the new registered connection, or how the session ends
   */
  async #reconnect(ended: Ended): Promise<Connection | Outcome> {
    const lost = ended.bye === undefined
      ? `connection to ${this.#address} lost`
      : escapeControls(ended.bye);
    const rooms = this.#state.rooms;
    const current = this.#state.currentRoom;
    let failure = "";
    this.#prompt("offline");
    for (let attempt = 0;; attempt++) {
      if (attempt >= this.#retries) {
        return {
          code: 1,
          message: attempt === 0
            ? lost
            : `${lost}; gave up reconnecting after ${attempt} ${
              attempt === 1 ? "attempt" : "attempts"
            }: ${failure}`,
        };
      }
      const delay = Math.max(0, this.#backoff(attempt));
      const seconds = (delay / 1000).toFixed(1);
      const first = ended.bye === undefined ? "connection lost" : lost;
      this.#outageNotice(
        attempt === 0
          ? `${first}; reconnecting in ${seconds} s…`
          : this.#screen
          ? `${first}; cannot reconnect (${failure}); attempt ${attempt + 1} in ${seconds} s…`
          : `cannot reconnect: ${failure}; retrying in ${seconds} s…`,
      );
      if (await this.#pause(delay)) return { code: 0 };
      let connection: Connection;
      try {
        connection = await Connection.dial(this.#options.hostname, this.#options.port, {
          tls: this.#options.trust,
        });
      } catch (error) {
        // Another key than the pinned one: an attack or a new server, not an outage.
        if (error instanceof TrustError) return { code: 1, message: error.message };
        failure = describeNetworkError(error);
        continue;
      }
      const welcome = await this.#register(connection);
      if (this.#quit.done) {
        connection.close();
        return { code: 0 };
      }
      if (typeof welcome === "string") {
        connection.close();
        failure = welcome;
        continue;
      }
      this.#state.observe(welcome);
      this.#prompt();
      const back = `reconnected as ${welcome.nick}; ${welcome.online} online`;
      if (this.#outage) {
        const secs = Math.round((Date.now() - this.#outage.since) / 1000);
        this.#outage.line.text = renderNotice(`${first}; ${back} (away ${secs} s)`, this.#view());
        this.#outage = undefined;
        this.#screen?.refresh();
      }
      if (welcome.resumed) {
        if (!this.#screen) this.#notice(back);
      } else {
        if (this.#screen) this.#route(welcome, true);
        else this.#terminal.print(renderFrame(welcome, this.#view())!);
        const frames = this.#state.rejoin(rooms, current);
        if (frames.length > 0) this.#notice("the session could not be resumed; joining your rooms");
        for (const frame of frames) await connection.send(frame).catch(() => {});
      }
      return connection;
    }
  }

  /** The handshake on a new connection: a resume, or failing that a fresh hello. */
  async #register(connection: Connection): Promise<WelcomeFrame | string> {
    const nick = this.#state.nick;
    let tries = 0;
    const registration = await Promise.race([
      register(connection, {
        nick,
        hello: this.#state.resume.hello(nick),
        retry: (refusal) => {
          this.#show(refusal);
          // Someone took the nickname while we were away: alice_, alice__…
          return Promise.resolve(++tries > RENICK_TRIES ? undefined : nick + "_".repeat(tries));
        },
        onFrame: (frame) => this.#show(frame),
      }),
      this.#quit.promise.then(() => undefined),
    ]);
    if (registration === undefined) return "quit";
    switch (registration.status) {
      case "welcome":
        return registration.welcome;
      case "gave_up":
        return `nickname ${JSON.stringify(nick)} and ${RENICK_TRIES} others are taken`;
      case "closed":
        return registration.error === undefined
          ? "connection closed during the handshake"
          : escapeControls(registration.error.message);
    }
  }
}

/**
 * The line before a page of history: `— 50 older messages in #dev, 12:01–12:30 —`
 * (local times; with the date when the page spans days), and whether more exist.
 */
function historyHeader(
  frame: Extract<ServerFrame, { type: "history" }>,
  lines: readonly ServerFrame[],
): string {
  if (frame.count === 0) return `— no older messages in ${escapeControls(frame.room)} —`;
  const times = lines.flatMap((l) => "ts" in l && typeof l.ts === "number" ? [l.ts] : []);
  const first = times[0];
  const last = times.at(-1);
  let span = "";
  if (first !== undefined && last !== undefined) {
    const sameDay = new Date(first).toDateString() === new Date(last).toDateString();
    const day = (ts: number) =>
      new Date(ts).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
    span = sameDay
      ? `, ${localClock(first)}–${localClock(last)}`
      : `, ${day(first)} ${localClock(first)} – ${day(last)} ${localClock(last)}`;
  }
  const what = frame.count === 1 ? "message" : "messages";
  const more = frame.more ? "; /history for more" : "";
  return `— ${frame.count} older ${what} in ${escapeControls(frame.room)}${span}${more} —`;
}

/** The client's own commands, for after the server's `/help`. */
function localHelp(): string {
  const usage = (c: (typeof LOCAL_COMMANDS)[number]) =>
    c.args === "" ? `/${c.name}` : `/${c.name} ${c.args}`;
  const width = Math.max(...LOCAL_COMMANDS.map((c) => usage(c).length));
  return [
    "in this client:",
    ...LOCAL_COMMANDS.map((c) => `  ${usage(c).padEnd(width)}  ${c.summary}`),
    "  keys: Alt+1…9, Alt+←/→, Ctrl+N/P switch windows; PgUp/PgDn scroll; Tab completes;",
    "        Alt+Enter starts a new line; a paste of several lines is one message",
  ].join("\n");
}
