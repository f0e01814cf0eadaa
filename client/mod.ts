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
  escapeControls,
  nickKey,
  parseInput,
  roomKey,
  type ServerFrame,
} from "../protocol/mod.ts";
import { Connection, describeNetworkError, register, type WelcomeFrame } from "./connection.ts";
import { renderError, renderFrame, renderNotice, type RenderOptions } from "./render.ts";
import { ClientState } from "./state.ts";
import { establishTrust, type TlsOptions, TrustError, type TrustPolicy } from "./tls.ts";
import { type ClientInput, type ClientOutput, openTerminal, type Terminal } from "./terminal.ts";

export type { ClientInput, ClientOutput } from "./terminal.ts";

/** Options for {@linkcode runClient}. */
export interface ClientOptions {
  /** Server host name or address, e.g. `127.0.0.1`. */
  hostname: string;
  /** Server TCP port, e.g. `8080`. */
  port: number;
  /** Nickname to register; asked for when absent. */
  nick?: string;
  /**
   * Input: a terminal selects the interactive mode, anything else the piped mode.
   * @default {Deno.stdin}
   */
  stdin?: ClientInput;
  /**
   * Output for chat lines.
   * @default {Deno.stdout}
   */
  stdout?: ClientOutput;
  /**
   * Output for errors.
   * @default {Deno.stderr}
   */
  stderr?: ClientOutput;
  /**
   * Colours in interactive mode.
   * @default {true unless NO_COLOR is set}
   */
  color?: boolean;
  /**
   * Terminal width in columns.
   * @default {Deno.consoleSize().columns}
   */
  columns?: () => number;
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
  let outcome: Outcome;
  try {
    outcome = await connectAndChat(terminal, options);
  } finally {
    await terminal.close();
  }
  if (outcome.message !== undefined) terminal.fail(outcome.message);
  return outcome.code;
}

function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

async function connectAndChat(terminal: Terminal, options: ClientOptions): Promise<Outcome> {
  const address = formatAddress(options.hostname, options.port);
  let connection: Connection;
  try {
    connection = await Connection.dial(options.hostname, options.port, { tls: options.trust });
  } catch (error) {
    if (error instanceof TrustError) return { code: 1, message: error.message };
    return { code: 1, message: `cannot connect to ${address}: ${describeNetworkError(error)}` };
  }
  let handedOver = false;
  try {
    const nick = options.nick ?? await terminal.askNick();
    if (nick === undefined) {
      await connection.send({ type: "quit" }).catch(() => {});
      return { code: 0 };
    }
    const theme = terminal.theme;
    const registration = await register(connection, {
      nick,
      retry(refusal) {
        terminal.print(renderFrame(refusal, { theme })!);
        return terminal.askNick();
      },
      onFrame(frame) {
        const text = renderFrame(frame, { theme });
        if (text !== undefined) terminal.print(text);
      },
    });
    switch (registration.status) {
      case "gave_up":
        await waitForEnd(connection, options.quitTimeout ?? 5000);
        return { code: 0 };
      case "closed":
        return {
          code: 1,
          message: registration.error === undefined
            ? `connection to ${address} lost`
            : `cannot join ${address}: ${escapeControls(registration.error.message)}`,
        };
      case "welcome":
        break;
    }
    handedOver = true;
    return await new Chat(terminal, options, address, registration.welcome).run(connection);
  } finally {
    if (!handedOver) connection.close();
  }
}

/** Drains the connection until the server closes it, or `timeout` ms pass. */
async function waitForEnd(connection: Connection, timeout: number): Promise<void> {
  const drained = (async () => {
    while (await connection.receive() !== undefined) {
      // Frames after quit are of no interest here.
    }
  })();
  await deadline(drained, timeout);
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

/**
 * The registered session across connections: the socket and the input are
 * read concurrently, so incoming lines show while the user types (or while
 * piped input waits); a dropped connection is replaced by a resumed one.
 */
class Chat {
  readonly #terminal: Terminal;
  readonly #options: ClientOptions;
  readonly #address: string;
  readonly #state: ClientState;
  readonly #retries: number;
  readonly #backoff: (attempt: number) => number;
  /** The registered connection, while there is one. */
  #connection: Connection | undefined;
  /** Resolved with the next registered connection (or undefined at the end). */
  #connected = new Signal<Connection | undefined>();
  /** Resolved once the user quit (the quit frame sent, if connected). */
  readonly #quit = new Signal();
  /** Watches frames for the answer to a `join` or `part` (undefined: the connection ended). */
  #answer: ((frame: ServerFrame | undefined) => boolean) | undefined;

  constructor(terminal: Terminal, options: ClientOptions, address: string, welcome: WelcomeFrame) {
    this.#terminal = terminal;
    this.#options = options;
    this.#address = address;
    this.#state = new ClientState(welcome.nick);
    this.#retries = options.retries ?? (terminal.interactive ? Infinity : PIPED_RETRIES);
    this.#backoff = options.backoff ?? ((attempt) => backoffDelay(attempt));
    this.#state.observe(welcome);
    this.#prompt();
    this.#terminal.print(renderFrame(welcome, this.#view())!);
  }

  async run(first: Connection): Promise<Outcome> {
    let connection = first;
    const input = this.#readInput();
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
      // The input loop ends once the terminal closes (runClient does that).
      void input;
    }
  }

  #view(): RenderOptions {
    return {
      theme: this.#terminal.theme,
      viewer: this.#state.nick,
      currentRoom: this.#state.currentRoom,
      localTime: this.#terminal.interactive,
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

  /** Shows a frame from the server (after noting it), unless it is a duplicate. */
  #show(frame: ServerFrame): void {
    const nick = this.#state.nick;
    const room = this.#state.currentRoom;
    const show = this.#state.observe(frame);
    if (nick !== this.#state.nick || room !== this.#state.currentRoom) this.#prompt();
    if (show) {
      const text = renderFrame(frame, this.#view());
      if (text !== undefined) this.#terminal.print(text);
    }
    if (this.#answer?.(frame)) this.#answer = undefined;
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

  /** The user's lines, sent on the current connection (waiting for one when there is none). */
  async #readInput(): Promise<void> {
    while (!this.#quit.done) {
      const line = await this.#terminal.readLine();
      if (line === undefined) return await this.#quitWith({ type: "quit" });
      const parsed = parseInput(line);
      if (!parsed.ok) {
        this.#terminal.warn(renderError(parsed.message, this.#view()));
        continue;
      }
      let frame = parsed.frame;
      if (frame.type === "quit") return await this.#quitWith(frame);
      const room = this.#state.currentRoom;
      // On a terminal a line goes where the prompt says (and is echoed there).
      if (this.#terminal.interactive && (frame.type === "say" || frame.type === "me") && room) {
        frame = { ...frame, room };
      }
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
      // The server does not echo say/me; show them as the others see them.
      if (this.#terminal.interactive && (frame.type === "say" || frame.type === "me")) {
        const own: ServerFrame = {
          type: frame.type === "say" ? "message" : "action",
          from: this.#state.nick,
          text: frame.text,
          ts: Date.now(),
          ...(frame.room !== undefined ? { room: frame.room } : {}),
        };
        this.#terminal.print(renderFrame(own, this.#view())!);
      }
    }
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
    if (connection) await connection.send(frame).catch(() => {});
    this.#quit.resolve();
  }

  /** Waits `ms`, or less if the user quits; true when they did. */
  async #pause(ms: number): Promise<boolean> {
    await deadline(this.#quit.promise, ms);
    return this.#quit.done;
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
      this.#notice(
        attempt === 0
          ? `${ended.bye === undefined ? "connection lost" : lost}; reconnecting in ${seconds} s…`
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
      if (welcome.resumed) {
        this.#notice(`reconnected as ${welcome.nick}; ${welcome.online} online`);
      } else {
        this.#terminal.print(renderFrame(welcome, this.#view())!);
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
