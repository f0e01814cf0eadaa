/**
 * The client's settings and state in the usual places (XDG Base Directory
 * Specification): defaults from `$XDG_CONFIG_HOME/chat/client.toml`
 * (default `~/.config/chat/client.toml`), a TOML file parsed by `smol-toml`;
 * input history and ignored nicknames under `$XDG_STATE_HOME/chat/`
 * (default `~/.local/state/chat/`).
 *
 * @module
 */

import { parse } from "smol-toml";

/** Defaults the config file may set; command-line flags win over them. */
export interface ClientSettings {
  /** Server host. */
  host?: string;
  /** Server port. */
  port?: number;
  /** Nickname. */
  nick?: string;
  /** Connect with TLS (used once the client speaks TLS). */
  tls?: boolean;
  /** Expected server certificate fingerprint (with TLS). */
  fingerprint?: string;
  /** Colours on a terminal. */
  color?: boolean;
  /** Ring the bell for mentions and private messages in other windows. */
  bell?: boolean;
  /** `[14:02]` before live lines. */
  timestamps?: boolean;
}

/** A config file that cannot be used; the message is one line. */
export class ConfigError extends Error {
  /** @param message what is wrong, naming the file */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const KINDS: Readonly<Record<keyof ClientSettings, "string" | "number" | "boolean">> = {
  host: "string",
  port: "number",
  nick: "string",
  tls: "boolean",
  fingerprint: "string",
  color: "boolean",
  bell: "boolean",
  timestamps: "boolean",
};

/** Reads an environment variable; `undefined` when unset or not permitted. */
export type Env = (name: string) => string | undefined;

/** `Deno.env.get`, or `undefined` without `--allow-env` for that name. */
export const denoEnv: Env = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/**
 * The directory of the config file: `$XDG_CONFIG_HOME/chat`, or
 * `$HOME/.config/chat`.
 *
 * @param env where to read variables
 * @returns the path, or `undefined` when neither variable is set
 */
export function configDir(env: Env = denoEnv): string | undefined {
  const base = env("XDG_CONFIG_HOME") || (env("HOME") ? `${env("HOME")}/.config` : undefined);
  return base === undefined ? undefined : `${base}/chat`;
}

/**
 * The directory of the client's state: `$XDG_STATE_HOME/chat`, or
 * `$HOME/.local/state/chat`.
 *
 * @param env where to read variables
 * @returns the path, or `undefined` when neither variable is set
 */
export function stateDir(env: Env = denoEnv): string | undefined {
  const base = env("XDG_STATE_HOME") || (env("HOME") ? `${env("HOME")}/.local/state` : undefined);
  return base === undefined ? undefined : `${base}/chat`;
}

/**
 * Whether this run may read and write `path` and everything under it, asked
 * without a prompt (`Deno.permissions.querySync`). `deno task client` may use
 * only `$HOME/.config/chat` and `$HOME/.local/state/chat`; a file elsewhere
 * would make Deno ask on the terminal (in the middle of the client's screen)
 * or refuse.
 *
 * @param path a file or folder
 * @returns true when both are granted
 */
export function mayUse(path: string): boolean {
  return (["read", "write"] as const).every((name) =>
    Deno.permissions.querySync({ name, path }).state === "granted"
  );
}

/**
 * The advice that ends a one-line message about a folder this run may not
 * use (see {@linkcode mayUse}).
 *
 * @param dir the folder
 * @param first what to try first, e.g. `give --known-hosts FILE inside them, `
 * @returns e.g. `(deno task client may use only ~/.config/chat and
 * ~/.local/state/chat): run the compiled chat, or deno run main.ts client with
 * /srv/chat added to --allow-read and --allow-write`
 */
export function permissionAdvice(dir: string, first = ""): string {
  return "(deno task client may use only ~/.config/chat and ~/.local/state/chat): " +
    `${first}run the compiled chat, or deno run main.ts client with ${dir} added to ` +
    "--allow-read and --allow-write";
}

/**
 * Parses the config file.
 *
 * @param text the file's contents (TOML)
 * @param path the file, for messages
 * @returns the settings it sets
 * @throws {ConfigError} for bad TOML, an unknown setting or a value of the
 * wrong type, e.g. `~/.config/chat/client.toml: port must be a number`
 *
 * @example
 * ```ts
 * import { parseSettings } from "./config.ts";
 * parseSettings('nick = "alice"\nbell = false\n', "client.toml"); // { nick: "alice", bell: false }
 * ```
 */
export function parseSettings(text: string, path: string): ClientSettings {
  let table: Record<string, unknown>;
  try {
    table = parse(text) as Record<string, unknown>;
  } catch (error) {
    const line = (error as { line?: number }).line;
    const first = ((error as Error).message ?? String(error)).split("\n")[0]!
      .replace(/^Invalid TOML document: /, "");
    throw new ConfigError(`${path}${line ? `:${line}` : ""}: ${first}`);
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(table)) {
    const kind = KINDS[key as keyof ClientSettings];
    if (kind === undefined) {
      throw new ConfigError(
        `${path}: unknown setting ${JSON.stringify(key)} (known: ${Object.keys(KINDS).join(", ")})`,
      );
    }
    const ok = kind === "number"
      ? typeof value === "number" || typeof value === "bigint"
      : kind === "string"
      ? typeof value === "string"
      : typeof value === "boolean";
    if (!ok) throw new ConfigError(`${path}: ${key} must be a ${kind}`);
    settings[key] = kind === "number" ? Number(value) : value;
  }
  if (settings.port !== undefined) {
    const port = settings.port as number;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`${path}: port must be a whole number from 0 to 65535`);
    }
  }
  return settings as ClientSettings;
}

/**
 * Loads the config file, if there is one.
 *
 * @param env where to read variables
 * @returns the settings (empty without a file), and a one-line warning when
 * the file exists but may not be read (no `--allow-read`)
 * @throws {ConfigError} as {@linkcode parseSettings}
 */
export function loadSettings(env: Env = denoEnv): { settings: ClientSettings; warning?: string } {
  const dir = configDir(env);
  if (dir === undefined) return { settings: {} };
  const path = `${dir}/client.toml`;
  if (!mayUse(dir)) {
    return {
      settings: {},
      warning: `no permission for ${dir}, so ${path} is not read and defaults are used ${
        permissionAdvice(dir)
      }`,
    };
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { settings: {} };
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return { settings: {}, warning: `cannot read ${path}: permission denied; defaults used` };
    }
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
  return { settings: parseSettings(text, path) };
}

/** Most input lines kept in the history file. */
export const HISTORY_LINES = 500;

/**
 * The client's state files: input history (one JSON string per line, so a
 * multi-line message stays one entry) and ignored nicknames (one per line).
 * Failures to read or write are ignored: state is a convenience.
 */
export class StateFiles {
  readonly #dir: string | undefined;

  /** @param dir the state directory (see {@linkcode stateDir}); none: nothing is kept */
  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /** The input history, oldest first. */
  loadHistory(): string[] {
    return this.#read("history").flatMap((line) => {
      try {
        const value = JSON.parse(line);
        return typeof value === "string" ? [value] : [];
      } catch {
        return [];
      }
    });
  }

  /**
   * Writes the input history (its newest {@linkcode HISTORY_LINES} lines).
   *
   * @param lines oldest first
   */
  saveHistory(lines: readonly string[]): void {
    this.#write("history", lines.slice(-HISTORY_LINES).map((l) => JSON.stringify(l)));
  }

  /** The ignored nicknames. */
  loadIgnores(): string[] {
    return this.#read("ignores").map((l) => l.trim()).filter((l) => l !== "");
  }

  /**
   * Writes the ignored nicknames.
   *
   * @param nicks the nicknames
   */
  saveIgnores(nicks: readonly string[]): void {
    this.#write("ignores", [...nicks]);
  }

  #read(name: string): string[] {
    if (this.#dir === undefined) return [];
    try {
      return Deno.readTextFileSync(`${this.#dir}/${name}`).split("\n").filter((l) => l !== "");
    } catch {
      return [];
    }
  }

  #write(name: string, lines: string[]): void {
    if (this.#dir === undefined) return;
    try {
      Deno.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      const path = `${this.#dir}/${name}`;
      Deno.writeTextFileSync(`${path}.tmp`, lines.map((l) => l + "\n").join(""), { mode: 0o600 });
      Deno.renameSync(`${path}.tmp`, path);
    } catch {
      // No state this time (read-only home, no permission): not worth failing over.
    }
  }
}
