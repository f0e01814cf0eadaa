/**
 * The client's pins: `known_hosts`, one line per server, as SSH keeps host
 * keys. Each line is `HOST:PORT SHA256:…` (IPv6 as `[ADDR]:PORT`), where the
 * fingerprint is the server certificate's public-key fingerprint (see
 * `tls/certificate.ts`); blank lines and lines starting with `#` are
 * ignored. The file lives in `$XDG_CONFIG_HOME/chat/known_hosts`, or
 * `~/.config/chat/known_hosts` when `XDG_CONFIG_HOME` is unset or empty (the
 * XDG Base Directory rule).
 *
 * @module
 */

/** One pin, with where it is in the file. */
export interface KnownHost {
  /** `SHA256:…` */
  fingerprint: string;
  /** 1-based line number in the file, for "remove line N" advice. */
  line: number;
}

/**
 * The default pin file for this user.
 *
 * @returns `$XDG_CONFIG_HOME/chat/known_hosts` or `$HOME/.config/chat/known_hosts`
 * @throws {Error} when neither variable is set (or readable)
 */
export function defaultKnownHostsPath(): string {
  const get = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined; // no --allow-env for it
    }
  };
  const config = get("XDG_CONFIG_HOME");
  if (config !== undefined) return `${config}/chat/known_hosts`;
  const home = get("HOME");
  if (home !== undefined) return `${home}/.config/chat/known_hosts`;
  throw new Error("neither XDG_CONFIG_HOME nor HOME is set: give --known-hosts FILE");
}

/**
 * The key a server is pinned under.
 *
 * @param hostname as given to the client (lower-cased; IPv6 in brackets)
 * @param port the TLS port
 * @returns e.g. `chat.example:8443`, `[::1]:8443`
 */
export function hostKey(hostname: string, port: number): string {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Reads the pins; a missing file has none.
 *
 * @param path the file
 * @returns pins by {@linkcode hostKey} (the first line for a key wins)
 * @throws whatever reading throws, except NotFound
 */
export async function readKnownHosts(path: string): Promise<Map<string, KnownHost>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Map();
    throw error;
  }
  const pins = new Map<string, KnownHost>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [key, fingerprint] = line.split(/\s+/);
    if (key && fingerprint && !pins.has(key.toLowerCase())) {
      pins.set(key.toLowerCase(), { fingerprint, line: index + 1 });
    }
  });
  return pins;
}

/**
 * Appends a pin, creating the file (mode 0600) and its directory (0700).
 *
 * @param path the file
 * @param key from {@linkcode hostKey}
 * @param fingerprint `SHA256:…`
 */
export async function addKnownHost(path: string, key: string, fingerprint: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const text = await Deno.readTextFile(path);
    if (text !== "" && !text.endsWith("\n")) prefix = "\n";
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    prefix = "# chat client: pinned TLS servers, one per line (HOST:PORT SHA256:fingerprint)\n";
  }
  await Deno.writeTextFile(path, `${prefix}${key} ${fingerprint}\n`, { append: true, mode: 0o600 });
}
