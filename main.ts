/**
 * `chat`: one program that is the chat server and its terminal client.
 *
 * ```sh
 * chat server [--host 127.0.0.1] [--port 8080] [limits…]
 * chat client [HOST] [PORT] [--nick NAME] [--retries N] [--retry-delay MS]
 * chat bench [HOST] [PORT] [--clients N] [--senders S] [--rate R | --blast] …
 * chat --help | --version
 * ```
 *
 * This is the CLI layer: the only module besides `client/terminal.ts` that
 * writes to stdout or stderr.
 *
 * @module
 */

import { parseArgs } from "@chat/args";
import { runBench } from "./bench/mod.ts";
import config from "./deno.json" with { type: "json" };
import { backoffDelay } from "./protocol/mod.ts";
import {
  ChatServer,
  ListenError,
  openStore,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "./server/mod.ts";
import {
  generatedPaths,
  type IdentitySource,
  parseFingerprint,
  TlsIdentity,
} from "./tls/certificate.ts";

/** Default `--db`: a file in the server's working directory. */
export const DEFAULT_DB = "chat.db";

/** Default `--tls-port`. */
export const DEFAULT_TLS_PORT = 8443;
/** Default `--irc-port`. */
export const DEFAULT_IRC_PORT = 6667;
/** Default `--irc-tls-port`. */
export const DEFAULT_IRC_TLS_PORT = 6697;

/**
 * Default `--http-port`: none (0). The chat port serves the web client
 * itself; this only adds another port for it.
 */
export const DEFAULT_HTTP_PORT = 0;

/** Default `--https-port`: none (0); the TLS port serves HTTPS and WSS itself. */
export const DEFAULT_HTTPS_PORT = 0;

/** The program's version, from deno.json. */
export const VERSION: string = config.version;

/** The client's options, in `chat --help` and `chat client --help` alike. */
const CLIENT_OPTIONS =
  `  HOST                     server address                                [127.0.0.1]
  PORT                     server port                     [8080; with --tls: 8443]
  --nick NAME              nickname (asked for when absent)
  --retries N              reconnect attempts after a dropped connection
                           before giving up (0: none)  [terminal: unlimited; piped: 5]
  --retry-delay MS         first reconnect delay; doubles up to 30 s     [1000]
  --tls                    connect over TLS. A self-signed certificate is
                           trusted on first use: its fingerprint is shown
                           and, on a terminal, pinned once accepted; a
                           changed one is refused. CA certificates verify.
  --fingerprint SHA256:…   trust exactly this key (implies --tls; scripts)
  --known-hosts FILE       the pin file (implies --tls)
                           [$XDG_CONFIG_HOME/chat/known_hosts or ~/.config/chat/known_hosts]
  --no-bell                no bell for mentions and private messages
  --no-timestamps          no [14:02] before live lines
  --no-color               no colours (also: NO_COLOR=1)`;

const USAGE = `chat ${VERSION}: a chat server and its terminal client in one program

Usage:
  chat server [--host HOST] [--port PORT] [options]
  chat client [HOST] [PORT] [--nick NAME] [--retries N] [--retry-delay MS]
              [--tls] [--fingerprint SHA256:…] [--known-hosts FILE]
              (chat client --help: the client's own help)
  chat bench [HOST] [PORT] --clients N --senders S --rate R|--blast --size B
             --duration D [--mode json|text | --ws] [--json]
  chat admin [--db PATH] list | create NICK | reset NICK | delete NICK
             | grant NICK | revoke NICK | audit [N]
  chat --help | --version

Server options (0 means unlimited / off where it makes sense):
  --host HOST              address to listen on (0.0.0.0 serves the LAN)  [127.0.0.1]
  --port PORT              plain TCP port (0 picks a free one)           [8080]
  --plain-port PORT        the same, but 0 turns plain TCP off (TLS only)
  --tls-port PORT          TLS port, same protocol inside TLS (0: off)   [8443]
  --irc-port PORT          IRC gateway for IRC clients (0: off)          [6667]
  --irc-tls-port PORT      IRC over TLS, same certificate (0: off)       [6697]
  --tls-cert FILE          certificate chain (PEM) to serve instead of a
                           generated self-signed one; SIGHUP reloads it
  --tls-key FILE           its private key (PEM); with --tls-cert
                           The web client (the page, its WebSocket at /ws)
                           is served on the chat ports: HTTP and WS on
                           --port, HTTPS and WSS on --tls-port.
  --http-port PORT         another port for the web client (0: none)     [0]
  --https-port PORT        another port for it over HTTPS and WSS, with
                           the TLS certificate (0: none; needs TLS)      [0]
  --max-upload BYTES       largest file shared from the web client
                           (0: no uploads; kept beside the database)     [10485760]
  --max-line BYTES         longest line; longer: error, then disconnect  [32768]
  --max-text BYTES         longest message text                          [8192]
  --max-text-lines N       most lines in one message                     [100]
  --send-queue BYTES       per-client outbound queue; over it: dropped   [1048576]
  --flood-burst N          lines a client may send at once               [10]
  --flood-rate N           lines per second after the burst (0: off)     [5]
  --max-clients N          connections at once                           [10000]
  --max-per-ip N           connections per address (IPv6: per /64)       [32]
  --handshake-timeout SEC  time to send hello and a nickname             [30]
  --idle-timeout SEC       JSON, IRC: ping at half, close at full        [120]
  --db PATH                SQLite file for history, rooms and sessions
                           (created if missing; :memory: keeps nothing)  [./chat.db]
  --history-days N         prune messages older than N days (0: never)   [30]
  --history-max-rows N     keep at most the newest N messages (0: all)   [1000000]
  --announce-limit N       rooms over N members do not announce joins
                           and leaves (0: always announce)               [500]
  --resume-expiry SEC      resume tokens expire after SEC idle (0: never) [604800]
  --resume-replay N        most messages one resume replays, then
                           resume_truncated                              [10000]
  --registration open|closed  who creates accounts: anyone with /register,
                           or only chat admin                            [open]
  --register-quota N       accounts one address may /register at once;
                           one back per --register-refill (0: off)       [5]
  --register-refill SEC    time for that quota to gain one account back  [3600]
  --require-account        refuse guests: log in to get a nickname
  --allow-plain-passwords  accept passwords over plain TCP from other
                           machines (default: only TLS and 127.0.0.1/::1)
  --login-free-attempts N  failed logins (per account, per address)
                           before delays start                           [3]
  --login-delay SEC        first delay after those; doubles per failure  [1]
  --login-lock-after N     failed logins before a lock (0: never)        [10]
  --login-lock SEC         how long a lock lasts                         [900]
  --room-quota N           rooms one connection may create at once; 3N
                           per address; one back per --room-refill (0: off) [10]
  --room-refill SEC        time for a room quota to gain one room back   [60]
  --room-expiry SEC        delete rooms empty and without history after
                           SEC (0: never)                                [3600]
  --max-resume-tokens N    resume tokens kept; the least recently seen
                           beyond N are pruned (0: no cap)               [100000]
  --quiet                  no per-connection log lines on stderr

Client (more in chat client --help):
${CLIENT_OPTIONS}

Bench (a load generator: how many users can this box take?):
  --clients N              clients that join, senders included           [100]
  --senders S              how many of them send                         [10]
  --rate R | --blast       messages/s per sender, or as fast as possible [10]
  --size B                 message size in bytes                         [64]
  --duration D             seconds of sending                            [5]
  --mode json|text         protocol v1 frames or plain text              [json]
  --json                   print the result as one JSON object

Admin (accounts on the server's --db, offline or beside a running server):
  list                     accounts, and which are server operators
  create NICK              a new account; the password is asked without echo
                           on a terminal, else read from the first stdin line
  reset NICK               set a new password (read the same way)
  delete NICK              remove the account; the nickname is free again
  grant NICK | revoke NICK make or unmake a server operator (next login)
  audit [N]                the last N moderation and admin actions   [50]

Inside the chat, type /help for the commands.
Plain-text clients work too: nc HOST PORT, then type your nickname.`;

/** A command-line mistake: reported as one line, exit code 2. */
class UsageError extends Error {}

type Flags = Record<string, string | boolean | undefined>;

function integer(flags: Flags, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || value > max) {
    throw new UsageError(
      `--${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function seconds(flags: Flags, name: string): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${name} must be a number of seconds, got ${JSON.stringify(raw)}`);
  }
  return Math.round(value * 1000);
}

/** The server options that take a number. */
type NumericOption = {
  [K in keyof ServerOptions]-?: NonNullable<ServerOptions[K]> extends number ? K : never;
}[keyof ServerOptions];

const SERVER_FLAGS = {
  host: { type: "string" },
  port: { type: "string" },
  "plain-port": { type: "string" },
  "http-port": { type: "string" },
  "https-port": { type: "string" },
  "max-upload": { type: "string" },
  "tls-port": { type: "string" },
  "irc-port": { type: "string" },
  "irc-tls-port": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "max-line": { type: "string" },
  "max-text": { type: "string" },
  "max-text-lines": { type: "string" },
  "send-queue": { type: "string" },
  "flood-burst": { type: "string" },
  "flood-rate": { type: "string" },
  "max-clients": { type: "string" },
  "max-per-ip": { type: "string" },
  "handshake-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  db: { type: "string" },
  "history-days": { type: "string" },
  "history-max-rows": { type: "string" },
  "announce-limit": { type: "string" },
  "resume-expiry": { type: "string" },
  "resume-replay": { type: "string" },
  registration: { type: "string" },
  "require-account": { type: "boolean" },
  "allow-plain-passwords": { type: "boolean" },
  "login-free-attempts": { type: "string" },
  "login-delay": { type: "string" },
  "login-lock-after": { type: "string" },
  "login-lock": { type: "string" },
  "room-quota": { type: "string" },
  "register-quota": { type: "string" },
  "register-refill": { type: "string" },
  "room-refill": { type: "string" },
  "room-expiry": { type: "string" },
  "max-resume-tokens": { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `chat server` flags.
 *
 * @param args the arguments after `server`
 * @returns server options, and whether to log connections
 * @throws {UsageError} for an unknown flag or a bad value
 */
export function parseServerArgs(
  args: string[],
): ServerOptions & { quiet: boolean; help: boolean; db: string; tlsServe: TlsServe | undefined } {
  const { values, positionals } = parseArgs({ args, options: SERVER_FLAGS, strict: true });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  }
  const flags = values as Flags;
  if (values.db === "") throw new UsageError("--db needs a path (or :memory:)");
  if (values.port !== undefined && values["plain-port"] !== undefined) {
    throw new UsageError("give --port or --plain-port, not both");
  }
  const plainPort = integer(flags, "plain-port", 65535);
  const tlsPort = integer(flags, "tls-port", 65535) ?? DEFAULT_TLS_PORT;
  if (plainPort === 0 && tlsPort === 0) {
    throw new UsageError("--plain-port 0 with --tls-port 0 leaves nothing to serve");
  }
  const certFile = values["tls-cert"], keyFile = values["tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (certFile === "" || keyFile === "") throw new UsageError("--tls-cert/--tls-key need a path");
  const options: ServerOptions & {
    quiet: boolean;
    help: boolean;
    db: string;
    tlsServe: TlsServe | undefined;
  } = {
    db: values.db ?? DEFAULT_DB,
    hostname: values.host ?? SERVER_DEFAULTS.hostname,
    port: plainPort || (integer(flags, "port", 65535) ?? SERVER_DEFAULTS.port),
    plainTcp: plainPort !== 0,
    web: true,
    httpPort: integer(flags, "http-port", 65535) ?? DEFAULT_HTTP_PORT,
    httpsPort: integer(flags, "https-port", 65535) ?? DEFAULT_HTTPS_PORT,
    version: VERSION,
    quiet: values.quiet ?? false,
    help: values.help ?? false,
    tlsServe: tlsPort === 0 ? undefined : {
      port: tlsPort,
      ...(certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : {}),
    },
  };
  const ircPort = integer(flags, "irc-port", 65535) ?? DEFAULT_IRC_PORT;
  if (ircPort !== 0) options.ircPort = ircPort;
  const ircTlsPort = integer(flags, "irc-tls-port", 65535) ?? DEFAULT_IRC_TLS_PORT;
  if (ircTlsPort !== 0 && tlsPort !== 0) options.ircTlsPort = ircTlsPort;
  const numeric: [NumericOption, number | undefined][] = [
    ["maxLineBytes", integer(flags, "max-line")],
    ["maxTextBytes", integer(flags, "max-text")],
    ["maxTextLines", integer(flags, "max-text-lines")],
    ["sendQueueBytes", integer(flags, "send-queue")],
    ["floodBurst", integer(flags, "flood-burst")],
    ["floodRate", integer(flags, "flood-rate")],
    ["maxClients", integer(flags, "max-clients")],
    ["maxPerIp", integer(flags, "max-per-ip")],
    ["handshakeTimeoutMs", seconds(flags, "handshake-timeout")],
    ["idleTimeoutMs", seconds(flags, "idle-timeout")],
    ["historyDays", integer(flags, "history-days")],
    ["historyMaxRows", integer(flags, "history-max-rows")],
    ["announceLimit", integer(flags, "announce-limit")],
    ["resumeExpiryMs", seconds(flags, "resume-expiry")],
    ["resumeReplay", integer(flags, "resume-replay")],
    ["roomQuota", integer(flags, "room-quota")],
    ["registerQuota", integer(flags, "register-quota")],
    ["registerRefillMs", seconds(flags, "register-refill")],
    ["roomRefillMs", seconds(flags, "room-refill")],
    ["roomExpiryMs", seconds(flags, "room-expiry")],
    ["maxResumeTokens", integer(flags, "max-resume-tokens")],
    ["maxUploadBytes", integer(flags, "max-upload")],
    ["loginFreeAttempts", integer(flags, "login-free-attempts")],
    ["loginDelayMs", seconds(flags, "login-delay")],
    ["loginLockAfter", integer(flags, "login-lock-after")],
    ["loginLockMs", seconds(flags, "login-lock")],
  ];
  for (const [key, value] of numeric) {
    if (value !== undefined) options[key] = value;
  }
  // 0: no extra web port (ServerOptions: undefined).
  if (options.httpPort === 0) delete options.httpPort;
  if (options.httpsPort === 0 || tlsPort === 0) delete options.httpsPort;
  // Uploads live in a folder beside the database; with :memory:, in memory.
  if (options.db !== ":memory:") options.uploadDir = `${options.db}.files`;
  if (values.registration !== undefined) {
    if (values.registration !== "open" && values.registration !== "closed") {
      throw new UsageError(
        `--registration must be open or closed, got ${JSON.stringify(values.registration)}`,
      );
    }
    options.registration = values.registration;
  }
  if (values["require-account"]) options.requireAccount = true;
  if (values["allow-plain-passwords"]) options.allowPlainPasswords = true;
  return options;
}

/** What `--tls-port`, `--tls-cert` and `--tls-key` asked for. */
export interface TlsServe {
  /** The TLS port (never 0: that turns TLS off). */
  port: number;
  /** The operator's certificate chain, with {@linkcode TlsServe.keyFile}. */
  certFile?: string;
  /** The operator's key. */
  keyFile?: string;
}

/**
 * Where the TLS certificate comes from: the operator's files, or a generated
 * one kept beside the database (in memory with `--db :memory:`), with every
 * name the server answers to in its subject alternative names.
 */
function identitySource(tls: TlsServe, db: string, hostname: string): IdentitySource {
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    return { kind: "files", certFile: tls.certFile, keyFile: tls.keyFile };
  }
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  const names = [
    ...(wildcard ? [] : [hostname]),
    "localhost",
    "127.0.0.1",
    "::1",
    ...(wildcard ? lanAddresses() : []),
  ];
  return { kind: "generated", names, ...(db === ":memory:" ? {} : generatedPaths(db)) };
}

function lanAddresses(): string[] {
  try {
    return Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
  } catch {
    return [];
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function describeIdentity(identity: TlsIdentity): string {
  const source = identity.source;
  if (source.kind === "files") return `from ${source.certFile}`;
  const state = identity.created ? "new self-signed" : "self-signed";
  return source.certFile === undefined
    ? `${state}, in memory only: a new one every start`
    : `${state}, kept in ${source.certFile}`;
}

/**
 * SIGHUP re-reads the certificate and key: new connections get them, open
 * ones keep theirs. A bad file is logged (even with --quiet) and the old
 * pair stays in use.
 */
function reloadOnHangup(
  identity: TlsIdentity,
  log: ((line: string) => void) | undefined,
): (() => void) | undefined {
  if (Deno.build.os === "windows") return undefined;
  const onHangup = () => {
    identity.reload().then(
      (pair) => log?.(`TLS certificate reloaded: ${pair.fingerprint}`),
      (error) =>
        console.error(
          `${new Date().toISOString()} TLS reload failed, keeping the old certificate: ${
            error instanceof Error ? error.message : error
          }`,
        ),
    );
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  return onHangup;
}

async function runServer(args: string[]): Promise<number> {
  const options = parseServerArgs(args);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const log = options.quiet
    ? undefined
    : (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  let store;
  try {
    store = await openStore(options.db);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? "permission denied (run with --allow-read and --allow-write for that path)"
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`chat: cannot open database ${options.db}: ${reason}`);
    return 1;
  }
  let identity: TlsIdentity | undefined;
  if (options.tlsServe) {
    try {
      identity = await TlsIdentity.open(
        identitySource(options.tlsServe, options.db, options.hostname ?? SERVER_DEFAULTS.hostname),
      );
    } catch (error) {
      store.close();
      const reason = error instanceof Deno.errors.NotCapable
        ? "permission denied (run with --allow-read and --allow-write for that path)"
        : error instanceof Error
        ? error.message
        : String(error);
      console.error(`chat: cannot load the TLS certificate: ${reason}`);
      return 1;
    }
  }
  let server: ChatServer;
  try {
    server = await ChatServer.open({
      ...options,
      store,
      ...(log ? { log } : {}),
      ...(identity && options.tlsServe ? { tls: { port: options.tlsServe.port, identity } } : {}),
    });
  } catch (error) {
    store.close();
    const cause = error instanceof ListenError ? error.cause : error;
    const reason = cause instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : cause instanceof Error
      ? cause.message
      : String(cause);
    const port = error instanceof ListenError ? error.port : options.port;
    console.error(`chat: cannot listen on ${options.hostname}:${port}: ${reason}`);
    return 1;
  }
  // Last line of defence: a rejected promise nobody awaited, or an exception
  // thrown in a timer, must not take every client down with it. Log it (even
  // with --quiet: it is a bug) and keep serving; the one connection involved
  // is the only one that can be affected.
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    console.error(
      `${new Date().toISOString()} unhandled rejection (kept running): ${describe(event.reason)}`,
    );
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    console.error(
      `${new Date().toISOString()} uncaught exception (kept running): ${describe(event.error)}`,
    );
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  log?.(`history in ${options.db === ":memory:" ? "memory (not kept)" : options.db}`);
  const wildcard = ["0.0.0.0", "::"].includes(options.hostname ?? "");
  if (server.addr) {
    const { hostname, port } = server.addr;
    console.log(`chat server listening on ${hostname}:${port}`);
    if (wildcard) {
      for (const address of lanAddresses()) {
        console.log(
          `  others can join with: chat client ${address} ${port}  (or: nc ${address} ${port})`,
        );
      }
    }
  }
  const onHangup = identity ? reloadOnHangup(identity, log) : undefined;
  for (const warning of identity?.warnings ?? []) {
    console.error(`${new Date().toISOString()} warning: ${warning}`);
  }
  if (server.tlsAddr && identity) {
    const { hostname, port } = server.tlsAddr;
    console.log(`chat server listening for TLS on ${hostname}:${port}`);
    console.log(
      `  certificate fingerprint ${identity.current.fingerprint} (${describeIdentity(identity)})`,
    );
    if (wildcard) {
      for (const address of lanAddresses()) {
        console.log(`  others can join with: chat client ${address} ${port} --tls`);
      }
    }
  }
  for (const { scheme, addr } of server.webAddrs) {
    const local = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    const shown = wildcard ? lanAddresses() : [local];
    for (const address of shown.length > 0 ? shown : ["127.0.0.1"]) {
      console.log(`  web client: open ${scheme}://${address}:${addr.port} in a browser`);
    }
  }
  if (server.ircAddr) {
    const { hostname, port } = server.ircAddr;
    console.log(`chat server listening for IRC on ${hostname}:${port}`);
    if (wildcard) {
      for (const address of lanAddresses()) {
        console.log(`  IRC clients can join with: irssi -c ${address} -p ${port}`);
      }
    }
  }
  if (server.ircTlsAddr) {
    const { hostname, port } = server.ircTlsAddr;
    console.log(`chat server listening for IRC over TLS on ${hostname}:${port}`);
  }
  const stop = () => {
    log?.("shutting down");
    server.shutdown();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await server.finished;
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  if (onHangup) Deno.removeSignalListener("SIGHUP", onHangup);
  globalThis.removeEventListener("unhandledrejection", onRejection);
  globalThis.removeEventListener("error", onError);
  log?.("stopped");
  return 0;
}

/** `chat client --help`. */
const CLIENT_USAGE = `chat ${VERSION}: the terminal client

Usage:
  chat client [HOST] [PORT] [--nick NAME] [options]

${CLIENT_OPTIONS}

Defaults come from $XDG_CONFIG_HOME/chat/client.toml (~/.config/chat/client.toml):
  host = "192.168.1.20"    port = 8080    nick = "alice"    tls = false
  color = true             bell = true    timestamps = true
Input history and ignored nicknames are kept in $XDG_STATE_HOME/chat/
(~/.local/state/chat/).

On a terminal every room and private conversation has a window: Alt+1…9,
Alt+←/→ or Ctrl+N/P switch, PgUp/PgDn scroll, Tab completes nicknames,
commands and rooms, Alt+Enter or a paste makes a multi-line message.
Inside the chat, type /help for the commands. Piped, the client reads lines
from stdin and prints one line per message.`;

const CLIENT_FLAGS = {
  nick: { type: "string", short: "n" },
  retries: { type: "string" },
  "retry-delay": { type: "string" },
  tls: { type: "boolean" },
  fingerprint: { type: "string" },
  "known-hosts": { type: "string" },
  "no-bell": { type: "boolean" },
  "no-timestamps": { type: "boolean" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Our one-line words for what parseArgs refuses in `chat client`. */
function clientArgs(args: string[]) {
  try {
    return parseArgs({ args, options: CLIENT_FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    const flag = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const name = flag.replace(/^-+/, "").split("=")[0];
      const hint = name === "port" || name === "p"
        ? "; give the port after the host: chat client HOST PORT"
        : name === "host"
        ? "; give the host as the first argument: chat client HOST PORT"
        : "";
      throw new ClientUsageError(`unknown option ${flag}${hint}`);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new ClientUsageError(`option ${flag || "given"} needs a value`);
    }
    throw new ClientUsageError((error as Error).message.split("\n")[0]!);
  }
}

/** A mistake on the `chat client` command line: one line, pointing at `chat client --help`. */
class ClientUsageError extends Error {}

async function runClientCommand(args: string[]): Promise<number> {
  const { values, positionals } = clientArgs(args);
  if (values.help) {
    console.log(CLIENT_USAGE);
    return 0;
  }
  if (positionals.length > 2) {
    throw new ClientUsageError(`unexpected argument ${JSON.stringify(positionals[2])}`);
  }
  const { loadSettings, mayUse, permissionAdvice, stateDir, ConfigError } = await import(
    "./client/config.ts"
  );
  let settings;
  try {
    const loaded = loadSettings();
    settings = loaded.settings;
    if (loaded.warning) console.error(`chat client: ${loaded.warning}`);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`chat client: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const fingerprint = values.fingerprint ?? settings.fingerprint;
  if (fingerprint !== undefined && parseFingerprint(fingerprint) === undefined) {
    throw new ClientUsageError(
      `--fingerprint must look like SHA256:<43 base64 characters>, got ${
        JSON.stringify(fingerprint)
      }`,
    );
  }
  if (values["known-hosts"] === "") throw new ClientUsageError("--known-hosts needs a path");
  const tls = values.tls === true || settings.tls === true || fingerprint !== undefined ||
    values["known-hosts"] !== undefined;
  if (tls && fingerprint === undefined) {
    // Checked before connecting: otherwise Deno asks on the terminal, or the connection fails.
    const { defaultKnownHostsPath } = await import("./client/known_hosts.ts");
    let pins: string;
    try {
      pins = values["known-hosts"] ?? defaultKnownHostsPath();
    } catch (error) {
      console.error(`chat client: ${(error as Error).message}`);
      return 1;
    }
    const dir = pins.includes("/") ? pins.slice(0, Math.max(1, pins.lastIndexOf("/"))) : ".";
    if (!mayUse(dir)) {
      console.error(
        `chat client: no permission for ${pins}, where the TLS pins are kept ${
          permissionAdvice(dir, "give --known-hosts FILE inside them or --fingerprint SHA256:…, ")
        }`,
      );
      return 1;
    }
  }
  let port: number;
  try {
    port = integer(
      { port: positionals[1] ?? String(settings.port ?? (tls ? DEFAULT_TLS_PORT : 8080)) },
      "port",
      65535,
    )!;
  } catch {
    throw new ClientUsageError(
      `the port must be a whole number from 0 to 65535, got ${JSON.stringify(positionals[1])}`,
    );
  }
  const retries = integer(values, "retries");
  const retryDelay = integer(values, "retry-delay", 30_000);
  const nick = values.nick ?? settings.nick;
  const { runClient } = await import("./client/mod.ts");
  let state = stateDir();
  if (state !== undefined && !mayUse(state)) {
    console.error(
      `chat client: no permission for ${state}, so input history and ignores are not kept ${
        permissionAdvice(state)
      }`,
    );
    state = undefined;
  }
  return runClient({
    hostname: positionals[0] ?? settings.host ?? "127.0.0.1",
    port,
    ...(nick !== undefined ? { nick } : {}),
    ...(tls
      ? {
        tls: {
          ...(fingerprint !== undefined ? { fingerprint: parseFingerprint(fingerprint)! } : {}),
          ...(values["known-hosts"] !== undefined ? { knownHosts: values["known-hosts"] } : {}),
        },
      }
      : {}),
    ...(values["no-bell"] || settings.bell === false ? { bell: false } : {}),
    ...(values["no-timestamps"] || settings.timestamps === false ? { timestamps: false } : {}),
    ...(values["no-color"] || settings.color === false ? { color: false } : {}),
    ...(state !== undefined ? { stateDir: state } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(retryDelay !== undefined
      ? { backoff: (attempt: number) => backoffDelay(attempt, { baseMs: retryDelay }) }
      : {}),
  });
}

/**
 * `chat admin [--db PATH] COMMAND [NICK]`: see {@linkcode runAdminCommand}.
 *
 * @returns 0 done, 1 refused (one line on stderr), 2 usage error
 */
async function runAdmin(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { db: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const { ADMIN_COMMANDS, AdminError, NEEDS_PASSWORD, runAdminCommand } = await import(
    "./server/admin.ts"
  );
  const [command, nick, ...extra] = positionals;
  if (command === undefined || !ADMIN_COMMANDS.includes(command)) {
    throw new UsageError(
      command === undefined
        ? `admin needs a command: ${ADMIN_COMMANDS.join(", ")}`
        : `unknown admin command ${JSON.stringify(command)}`,
    );
  }
  const needsNick = command !== "list" && command !== "audit";
  if (
    (needsNick && nick === undefined) || extra.length > 0 ||
    (!needsNick && nick !== undefined && command === "list")
  ) {
    throw new UsageError(
      `usage: chat admin ${command}${needsNick ? " NICK" : command === "audit" ? " [N]" : ""}`,
    );
  }
  if (command === "audit" && nick !== undefined && !/^\d{1,6}$/.test(nick)) {
    throw new UsageError(`audit takes a number of lines, got ${JSON.stringify(nick)}`);
  }
  const db = values.db ?? DEFAULT_DB;
  if (db === ":memory:" || db === "") {
    throw new UsageError("admin needs the server's database file (--db PATH)");
  }
  let password: string | undefined;
  if (NEEDS_PASSWORD.has(command)) {
    const { readSecret } = await import("./client/secret.ts");
    password = await readSecret(`password for ${nick}: `);
    if (password === undefined) {
      console.error("chat: no password given (type it, or pipe it as the first line of stdin)");
      return 1;
    }
  }
  let store;
  try {
    const { SqliteStore } = await import("./server/store/sqlite.ts");
    store = new SqliteStore(db);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? "permission denied (run with --allow-read and --allow-write for that path)"
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`chat: cannot open database ${db}: ${reason}`);
    return 1;
  }
  try {
    for (const line of await runAdminCommand(store, command, nick, password)) console.log(line);
    return 0;
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    console.error(`chat: ${error.message}`);
    return 1;
  } finally {
    store.close();
  }
}

/**
 * Runs the CLI.
 *
 * @param args command-line arguments (without the program name)
 * @returns the exit code: 0 success, 1 failure, 2 usage error
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "server":
        return await runServer(rest);
      case "client":
        return await runClientCommand(rest);
      case "bench":
        return await runBench(rest);
      case "admin":
        return await runAdmin(rest);
      case "--version":
      case "-V":
      case "version":
        console.log(`chat ${VERSION}`);
        return 0;
      case "--help":
      case "-h":
      case "help":
        console.log(USAGE);
        return 0;
      case undefined:
        console.error(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof ClientUsageError) {
      console.error(`chat client: ${error.message} (see chat client --help)`);
      return 2;
    }
    if (
      error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(`chat: ${(error as Error).message} (see chat --help)`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
