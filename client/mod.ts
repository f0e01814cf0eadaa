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

import { escapeControls, nickKey, parseInput, type ServerFrame } from "../protocol/mod.ts";
import { Connection, describeNetworkError, register, type WelcomeFrame } from "./connection.ts";
import { renderError, renderFrame, type RenderOptions } from "./render.ts";
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
}

/** How a session ended: the exit code and, for failures, one line for stderr. */
interface Outcome {
  code: number;
  message?: string;
}

/**
 * Runs the client until the user quits or the server goes away.
 *
 * Exit codes: 0 after the user quit (`/quit`, `exit`, Ctrl+C or Ctrl+D on an
 * empty line, end of piped input); 1 when the server cannot be reached or
 * goes away, with one line on stderr such as
 * `cannot connect to 127.0.0.1:8080: connection refused`.
 *
 * @param options where to connect, and the streams to use
 * @returns the exit code
 *
 * @example
 * ```ts ignore
 * import { runClient } from "./mod.ts";
 * Deno.exit(await runClient({ hostname: "127.0.0.1", port: 8080, nick: "alice" }));
 * ```
 */
export async function runClient(options: ClientOptions): Promise<number> {
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
    connection = await Connection.dial(options.hostname, options.port);
  } catch (error) {
    return { code: 1, message: `cannot connect to ${address}: ${describeNetworkError(error)}` };
  }
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
        return await chat(connection, terminal, registration.welcome, {
          address,
          quitTimeout: options.quitTimeout ?? 5000,
        });
    }
  } finally {
    connection.close();
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

interface ChatOptions {
  address: string;
  quitTimeout: number;
}

/**
 * The registered session: the socket and the input are read concurrently,
 * so incoming lines show while the user types (or while piped input waits).
 */
async function chat(
  connection: Connection,
  terminal: Terminal,
  welcome: WelcomeFrame,
  options: ChatOptions,
): Promise<Outcome> {
  let nick = welcome.nick;
  const view = (): RenderOptions => ({ theme: terminal.theme, viewer: nick });
  let quitting = false;
  let bye: string | undefined;

  terminal.setNick(nick);
  terminal.print(renderFrame(welcome, view())!);

  const inbound = (async () => {
    for (let frame; (frame = await connection.receive()) !== undefined;) {
      if (frame.type === "renamed" && nickKey(frame.from) === nickKey(nick)) {
        nick = frame.to;
        terminal.setNick(nick);
      }
      if (frame.type === "bye") {
        bye = frame.reason;
        // A bye we did not ask for becomes the one line on stderr instead.
        if (!quitting) continue;
      }
      const text = renderFrame(frame, view());
      if (text !== undefined) terminal.print(text);
    }
  })();

  const outbound = (async () => {
    while (true) {
      const line = await terminal.readLine();
      if (line === undefined) {
        quitting = true;
        await connection.send({ type: "quit" }).catch(() => {});
        return;
      }
      const parsed = parseInput(line);
      if (!parsed.ok) {
        terminal.warn(renderError(parsed.message, view()));
        continue;
      }
      const frame = parsed.frame;
      if (frame.type === "quit") quitting = true;
      try {
        await connection.send(frame);
      } catch {
        return; // The connection is gone; inbound sees the end.
      }
      if (quitting) return;
      // The server does not echo say/me; show them as the others see them.
      if (terminal.interactive && (frame.type === "say" || frame.type === "me")) {
        const own: ServerFrame = {
          type: frame.type === "say" ? "message" : "action",
          from: nick,
          text: frame.text,
          ts: Date.now(),
        };
        terminal.print(renderFrame(own, view())!);
      }
    }
  })();

  await Promise.race([inbound, outbound]);
  await deadline(inbound, options.quitTimeout);
  if (quitting) return { code: 0 };
  return {
    code: 1,
    message: bye === undefined ? `connection to ${options.address} lost` : escapeControls(bye),
  };
}
