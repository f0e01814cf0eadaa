/**
 * Test fixtures: the real server as a subprocess on a free loopback port, and
 * real TCP clients that wait for expected lines with a deadline (never a
 * fixed sleep). Every fixture implements `Symbol.asyncDispose`:
 *
 * ```ts ignore
 * await using server = await startTestServer();
 * await using alice = await TestClient.joinText(server.port, "alice");
 * ```
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };
import { decodeServerFrame, LineReader, type ServerFrame } from "../protocol/mod.ts";

/** Where main.ts is, for subprocesses. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/**
 * The permission and V8 flags of `deno task server`, so tests run the server
 * with exactly the privileges and heap settings users give it (without the
 * V8 flags a test server's young generation alone grows to ~48 MiB).
 */
export const SERVER_PERMISSIONS: string[] = config.tasks.server.split(/\s+/)
  .filter((word) => word.startsWith("--allow-") || word.startsWith("--v8-flags="));
/**
 * Deno's cache as the test runner has it, for subprocesses given a fresh
 * `HOME`: without it each would download every npm package again.
 */
export const DENO_DIR: string = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`}/deno`;
/** Default deadline for an expected line, in ms. */
export const DEADLINE_MS = 10_000;

const encoder = new TextEncoder();

/** What a waited-for line must match. */
export type LineMatcher = string | RegExp | ((line: string) => boolean);

function matches(matcher: LineMatcher, line: string): boolean {
  if (typeof matcher === "string") return line === matcher;
  if (matcher instanceof RegExp) return matcher.test(line);
  return matcher(line);
}

/**
 * Lines arriving from a byte source, read in the background, waited for with
 * deadlines. Lines are consumed in order: {@linkcode expect} skips (and
 * keeps in {@linkcode seen}) the lines before the match.
 */
export class LineQueue {
  /** Every line received so far. */
  readonly seen: string[] = [];
  #next = 0;
  #ended = false;
  #wake: (() => void) | undefined;
  /** Resolves when the source has ended. */
  readonly done: Promise<void>;

  /** @param read reads into a buffer; `null` at the end (e.g. `conn.read`) */
  constructor(source: ReadableStream<Uint8Array> | Deno.Conn) {
    this.done = this.#pump(source);
  }

  async #pump(source: ReadableStream<Uint8Array> | Deno.Conn): Promise<void> {
    const reader = new LineReader({ maxLineBytes: 0 });
    const add = (results: ReturnType<LineReader["push"]>) => {
      for (const r of results) this.seen.push(r.ok ? r.line : `<${r.code}>`);
      this.#wake?.();
    };
    try {
      if (source instanceof ReadableStream) {
        for await (const chunk of source) add(reader.push(chunk));
      } else {
        const buf = new Uint8Array(64 * 1024);
        while (true) {
          const n = await source.read(buf);
          if (n === null) break;
          add(reader.push(buf.subarray(0, n)));
        }
      }
    } catch {
      // A reset or a close from our side ends the stream like EOF.
    } finally {
      add(reader.end());
      this.#ended = true;
      this.#wake?.();
    }
  }

  /** Whether the source has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Lines not consumed yet. */
  get pending(): string[] {
    return this.seen.slice(this.#next);
  }

  /**
   * Waits for the next line that matches, consuming it and every line before.
   *
   * @param matcher exact text, a pattern or a predicate
   * @param timeoutMs deadline
   * @returns the matching line
   * @throws {Error} on deadline or end of stream, listing what arrived
   */
  async expect(matcher: LineMatcher, timeoutMs = DEADLINE_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#next < this.seen.length) {
        const line = this.seen[this.#next++]!;
        if (matches(matcher, line)) return line;
      }
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        throw new Error(
          `expected a line matching ${String(matcher)} ${
            this.#ended ? "before the end of the stream" : `within ${timeoutMs} ms`
          }; got:\n${this.seen.slice(-20).join("\n")}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /**
   * Waits for the end of the stream.
   *
   * @param timeoutMs deadline
   * @throws {Error} when it does not end in time
   */
  async expectEnd(timeoutMs = DEADLINE_MS): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stream did not end within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The permission flags of `deno task client`: the client must work with just
 * these. `$HOME` in them is left for {@linkcode startClient} to fill in, as
 * the task shell does.
 */
export const CLIENT_PERMISSIONS: string[] = config.tasks.client.split(/\s+/)
  .filter((word) => word.startsWith("--allow-"));

/** Options for {@linkcode startClient}. */
export interface ClientStartOptions {
  /**
   * Environment variables for the client (e.g. `HOME` for its known_hosts);
   * `$HOME` in the task's permissions becomes `env.HOME`.
   * @default {inherited}
   */
  env?: Record<string, string>;
}

/** A `main.ts client` subprocess with piped stdin, stdout and stderr. */
export interface ClientProcess extends AsyncDisposable {
  readonly stdout: LineQueue;
  readonly stderr: LineQueue;
  /** Writes one line (a `\n` is added) to its stdin. */
  send(line: string): Promise<void>;
  /** Closes its stdin (end of input). */
  end(): Promise<void>;
  /** Waits for the exit (with a deadline) and for its output to end. */
  exit(timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/**
 * Starts `main.ts client 127.0.0.1 PORT ...args` in piped mode, with the
 * permissions of `deno task client`.
 *
 * @param port the server's (or a proxy's) port
 * @param args more client arguments, e.g. `["--nick", "alice"]`
 * @param options its environment
 * @returns the process; dispose it to kill it
 */
export function startClient(
  port: number,
  args: string[] = [],
  options: ClientStartOptions = {},
): ClientProcess {
  const home = options.env?.HOME ?? Deno.env.get("HOME") ?? "/nonexistent";
  const permissions = CLIENT_PERMISSIONS.map((p) => p.replaceAll("$HOME", home));
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, "client", "127.0.0.1", String(port), ...args],
    ...(options.env ? { env: options.env } : {}),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = process.stdin.getWriter();
  const stdout = new LineQueue(process.stdout);
  const stderr = new LineQueue(process.stderr);
  let stdinOpen = true;
  const end = async () => {
    if (!stdinOpen) return;
    stdinOpen = false;
    await stdin.close().catch(() => {});
  };
  const exit = async (timeoutMs = 10_000) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`client did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const status = await Promise.race([process.status, late]);
      await Promise.all([stdout.done, stderr.done]);
      return status;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    stdout,
    stderr,
    send: (line) => stdin.write(encoder.encode(line + "\n")),
    end,
    exit,
    async [Symbol.asyncDispose]() {
      await end();
      try {
        process.kill("SIGKILL");
      } catch { /* already exited */ }
      await process.status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

/** A server subprocess. */
export interface TestServer extends AsyncDisposable {
  /** The plain TCP port it listens on (loopback); 0 with `--plain-port 0`. */
  readonly port: number;
  /** The TLS port, when the test turned TLS on (`--tls-port N`). */
  readonly tlsPort?: number;
  /** The TLS certificate's fingerprint it printed (`SHA256:…`), with TLS on. */
  readonly fingerprint?: string;
  /** The process. */
  readonly process: Deno.ChildProcess;
  /** Its stderr (log) lines. */
  readonly log: LineQueue;
  /** Its stdout lines after the listening line. */
  readonly stdout: LineQueue;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Listeners that `chat server` opens by default besides the plain TCP port
 * (TLS, IRC, …), as `[flag, off value]`. {@linkcode startTestServer} turns
 * each one off unless the test passes that flag itself, so parallel tests
 * never fight over a fixed default port. Add a listener's flag here when the
 * server gains it.
 */
export const EXTRA_LISTENERS_OFF: [flag: string, off: string][] = [
  ["--tls-port", "0"],
  ["--http-port", "0"],
  ["--https-port", "0"],
  ["--irc-port", "0"],
  ["--irc-tls-port", "0"],
];

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
 * released), for flags where `0` means "off" rather than "pick one".
 *
 * @returns the port number
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Options for {@linkcode startTestServer}. */
export interface StartOptions {
  /**
   * Script to run instead of main.ts; it must behave like `main.ts server`.
   * @default {MAIN}
   */
  script?: string;
  /**
   * Open-file limit for the server process (`ulimit -n`, through bash).
   * @default {inherited}
   */
  fdLimit?: number;
}

/**
 * Starts `main.ts server` on 127.0.0.1 with a free port.
 *
 * @param args extra server flags; flood control is off and `--db :memory:`
 * is used unless given; `--port N` (the last one wins) restarts a server on
 * the port an earlier one had
 * @param options another script, a file descriptor limit
 * @returns the running server, once it listens
 */
export async function startTestServer(
  args: string[] = [],
  options: StartOptions = {},
): Promise<TestServer> {
  let flags = args.some((a) => a.startsWith("--flood-rate"))
    ? args
    : ["--flood-rate", "0", ...args];
  // Never leave a chat.db behind: tests that want durability pass --db PATH,
  // and the task's read/write permission (the cwd) is widened to its folder.
  for (const [flag, off] of EXTRA_LISTENERS_OFF) {
    if (!flags.includes(flag)) flags = [...flags, flag, off];
  }
  const dbAt = flags.indexOf("--db");
  if (dbAt === -1) flags = ["--db", ":memory:", ...flags];
  const db = dbAt === -1 ? ":memory:" : flags[dbAt + 1] ?? ":memory:";
  const dbDir = db === ":memory:" ? undefined : db.slice(0, Math.max(1, db.lastIndexOf("/")));
  const permissions = SERVER_PERMISSIONS.map((p) =>
    dbDir && /^--allow-(read|write)=/.test(p) ? `${p},${dbDir}` : p
  );
  // Another script imports main.ts at run time, which needs read access to it.
  const repo = new URL("..", import.meta.url).pathname;
  if (options.script) {
    const at = permissions.findIndex((p) => p.startsWith("--allow-read="));
    if (at === -1) permissions.push(`--allow-read=${repo}`);
    else permissions[at] += `,${repo}`;
  }
  // `--plain-port` replaces `--port`; `--plain-port 0` turns plain TCP off.
  const plainAt = flags.lastIndexOf("--plain-port");
  const plainOn = plainAt === -1 || flags[plainAt + 1] !== "0";
  const tlsAt = flags.lastIndexOf("--tls-port");
  const tlsOn = tlsAt !== -1 && flags[tlsAt + 1] !== "0";
  const argv = [
    "run",
    ...permissions,
    options.script ?? MAIN,
    "server",
    ...(plainAt === -1 ? ["--port", "0"] : []),
    ...flags,
  ];
  const [command, commandArgs] = options.fdLimit === undefined
    ? [Deno.execPath(), argv]
    : ["bash", ["-c", `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, Deno.execPath(), ...argv]];
  const process = new Deno.Command(command, {
    args: commandArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineQueue(process.stdout);
  const log = new LineQueue(process.stderr);
  let port = 0;
  let tls: { tlsPort: number; fingerprint: string } | undefined;
  try {
    if (plainOn) port = Number(/:(\d+)$/.exec(await stdout.expect(/listening on/, 20_000))![1]);
    if (tlsOn) {
      const line = await stdout.expect(/listening for TLS on/, 20_000);
      const fingerprint = /fingerprint (SHA256:\S+)/.exec(await stdout.expect(/fingerprint/))![1]!;
      tls = { tlsPort: Number(/:(\d+)$/.exec(line)![1]), fingerprint };
    }
  } catch (error) {
    try {
      process.kill("SIGKILL");
    } catch { /* exited */ }
    await process.status;
    throw new Error(`server did not start: ${log.seen.join("\n")}`, { cause: error });
  }
  let status: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        process.kill(signal);
      } catch { /* already exited */ }
      status = process.status.then(async (s) => {
        await Promise.all([stdout.done, log.done]);
        return s;
      });
    }
    return status;
  };
  return {
    port,
    ...tls,
    process,
    log,
    stdout,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** A raw TCP client of the server. */
export class TestClient implements AsyncDisposable {
  /** What the server sent, line by line. */
  readonly lines: LineQueue;
  readonly #conn: Deno.Conn;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.lines = new LineQueue(conn);
  }

  /**
   * Connects to 127.0.0.1.
   *
   * @param port the server's port
   */
  static async connect(port: number): Promise<TestClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new TestClient(conn);
  }

  /**
   * Connects to 127.0.0.1 over TLS, trusting exactly one certificate.
   *
   * @param port the server's TLS port
   * @param caCert the certificate (PEM) to accept, e.g. the generated one
   */
  static async connectTls(port: number, caCert: string): Promise<TestClient> {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
    await conn.handshake();
    return new TestClient(conn);
  }

  /**
   * Connects in plain-text mode and waits for the welcome line.
   *
   * @param port the server's port
   * @param nick the nickname
   */
  static async joinText(port: number, nick: string): Promise<TestClient> {
    const client = await TestClient.connect(port);
    await client.send(nick);
    await client.lines.expect(/^\* welcome, /);
    return client;
  }

  /**
   * Connects in JSON mode and waits for the welcome frame.
   *
   * @param port the server's port
   * @param nick the nickname
   */
  static async joinJson(port: number, nick: string): Promise<TestClient> {
    const client = await TestClient.connect(port);
    await client.sendFrame({ type: "hello", version: 1, nick });
    await client.expectFrame((f) => f.type === "welcome");
    return client;
  }

  /** Sends raw bytes. */
  async write(bytes: Uint8Array | string): Promise<void> {
    let data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    while (data.length > 0) data = data.subarray(await this.#conn.write(data));
  }

  /** Sends one line (a `\n` is added). */
  send(line: string): Promise<void> {
    return this.write(line + "\n");
  }

  /** Sends one JSON frame (any object: tests send malformed ones too). */
  sendFrame(frame: unknown): Promise<void> {
    return this.send(JSON.stringify(frame));
  }

  /**
   * Waits for the next JSON frame that satisfies a predicate.
   *
   * @param predicate which frame
   * @param timeoutMs deadline
   * @returns the frame
   */
  async expectFrame(
    predicate: (frame: ServerFrame) => boolean,
    timeoutMs = DEADLINE_MS,
  ): Promise<ServerFrame> {
    const line = await this.lines.expect((l) => {
      try {
        return predicate(decodeServerFrame(l));
      } catch {
        return false;
      }
    }, timeoutMs);
    return decodeServerFrame(line);
  }

  /** Closes the socket (idempotent). */
  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Closes and waits for the reader to finish. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.lines.done;
  }
}

/** A loopback TCP proxy in front of a server, whose connections a test can cut. */
export interface TestProxy extends AsyncDisposable {
  /** The port clients connect to (127.0.0.1). */
  readonly port: number;
  /** How many connections it has accepted so far. */
  readonly accepted: number;
  /**
   * Closes every current connection, both sides (the client and the server
   * each see their peer go away). With `hold`, connections made afterwards
   * are closed at once too, until {@linkcode TestProxy.restore}.
   */
  cut(options?: { hold?: boolean }): void;
  /** Lets new connections through again after `cut({ hold: true })`. */
  restore(): void;
}

/**
 * Starts a TCP proxy on 127.0.0.1 (free port) that pipes each connection to
 * `127.0.0.1:targetPort`: the only way to drop one TCP connection of a
 * subprocess from outside.
 *
 * @param targetPort the server's port
 * @returns the proxy; dispose it to close everything
 */
export function startTcpProxy(targetPort: number): TestProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let holding = false;
  let accepted = 0;
  const close = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let data = buffer.subarray(0, n);
        while (data.length > 0) data = data.subarray(await to.write(data));
      }
    } catch { /* cut, or the peer went away */ }
    close(from);
    close(to);
  };
  const serve = async (client: Deno.Conn) => {
    open.add(client);
    if (holding) return close(client);
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      return close(client);
    }
    open.add(server);
    if (!open.has(client)) return close(server);
    await Promise.all([pipe(client, server), pipe(server, client)]);
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        const task = serve(conn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch { /* listener closed */ }
  })();
  const cutAll = () => {
    for (const conn of [...open]) close(conn);
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    cut(options = {}) {
      holding = options.hold ?? false;
      cutAll();
    },
    restore() {
      holding = false;
    },
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      cutAll();
      await Promise.all(tasks);
    },
  };
}

/** A client subprocess whose source address the test chooses (see {@linkcode startRemoteClient}). */
export interface RemoteClient extends AsyncDisposable {
  /** What the server sends, by line. */
  readonly lines: LineQueue;
  /** The fixture's own errors. */
  readonly errors: LineQueue;
  /** Sends one line (a newline is added). */
  send(line: string): Promise<void>;
}

/**
 * Starts `fixtures/remote_client.ts`: a TCP (or TLS) client bound to
 * `localAddress` (e.g. `127.0.0.2`, standing in for another machine; the
 * whole 127.0.0.0/8 is loopback on Linux) that copies lines both ways.
 *
 * @param port the server's port on 127.0.0.1
 * @param localAddress the source address to bind
 * @param mode `tls` speaks TLS without checking the certificate
 */
export function startRemoteClient(
  port: number,
  localAddress: string,
  mode: "tcp" | "tls" = "tcp",
): RemoteClient {
  const fixture = new URL("./fixtures/remote_client.ts", import.meta.url).pathname;
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-net=127.0.0.1,${localAddress}`,
      fixture,
      String(port),
      localAddress,
      mode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = process.stdin.getWriter();
  const lines = new LineQueue(process.stdout);
  const errors = new LineQueue(process.stderr);
  return {
    lines,
    errors,
    send: (line: string) => stdin.write(encoder.encode(line + "\n")),
    async [Symbol.asyncDispose]() {
      await stdin.close().catch(() => {});
      try {
        process.kill("SIGKILL");
      } catch { /* exited */ }
      await process.status;
      await Promise.all([lines.done, errors.done]);
    },
  };
}

/**
 * Runs `main.ts admin --db DB ...args` with the server task's permissions
 * (plus the database's folder), `input` on stdin.
 *
 * @returns the exit code and trimmed stdout and stderr
 */
export async function runAdmin(
  db: string,
  args: string[],
  input = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = db.slice(0, db.lastIndexOf("/"));
  const permissions = SERVER_PERMISSIONS.map((p) =>
    /^--allow-(read|write)=/.test(p) ? `${p},${dir}` : p
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, "admin", "--db", db, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  const out = await child.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}
