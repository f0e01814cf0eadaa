/**
 * `chat client --tls`: TLS to the server, trusted the way SSH trusts host
 * keys. A certificate from a public certificate authority verifies as usual
 * (chain and host name). A self-signed one (what `chat server` generates) is
 * trusted by its public-key fingerprint: pinned with `--fingerprint`, or on
 * first use after the user accepted it on a terminal, in `known_hosts` (see
 * `known_hosts.ts`). A pin that no longer matches refuses the connection,
 * naming both fingerprints. A piped client never accepts a new fingerprint.
 *
 * `node:tls` is used because `Deno.connectTls` does not show the peer's
 * certificate (measured under Deno 2.9.6), and a self-signed one has to be
 * looked at before it can be trusted.
 *
 * @module
 */

import tls from "node:tls";
import { parseFingerprint, spkiFingerprint } from "../tls/certificate.ts";
import { NodeSocketConn } from "../tls/node_conn.ts";
import { addKnownHost, defaultKnownHostsPath, hostKey, readKnownHosts } from "./known_hosts.ts";
import type { ClientInput, ClientOutput } from "./terminal.ts";

/** What a TLS connection must present, decided once before the first connection. */
export type TrustPolicy =
  /** The leaf's public-key fingerprint must be exactly this. */
  | { kind: "pin"; fingerprint: string }
  /** The chain must verify against the system's authorities, with the host name. */
  | { kind: "ca" };

/** The server is not the one trusted: the client must stop (exit code 1), not retry. */
export class TrustError extends Error {}

/** The user's TLS choices (`--tls`, `--fingerprint`, `--known-hosts`). */
export interface TlsOptions {
  /** `SHA256:…`: trust exactly this key (scripts, CI); known_hosts is not used. */
  fingerprint?: string;
  /**
   * The pin file.
   * @default {see `defaultKnownHostsPath`}
   */
  knownHosts?: string;
}

/** Where the trust-on-first-use question is asked (before the terminal opens). */
export interface TrustIo {
  stdin: ClientInput;
  stderr: ClientOutput;
}

/** Longest wait for the TLS handshake once TCP is connected, in ms. */
export const HANDSHAKE_TIMEOUT_MS = 30_000;

interface Peer {
  conn: NodeSocketConn;
  fingerprint: string;
  /** Verified against the system's certificate authorities, host name included. */
  authorized: boolean;
  /** Why not, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`. */
  reason: string;
}

function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

function isIpAddress(hostname: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.includes(":");
}

/** Connects and completes the TLS handshake without judging the certificate yet. */
async function handshake(hostname: string, port: number): Promise<Peer> {
  const socket = tls.connect({
    host: hostname,
    port,
    ...(isIpAddress(hostname) ? {} : { servername: hostname }),
    rejectUnauthorized: false,
  });
  socket.setNoDelay(true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
      timer = setTimeout(
        () => reject(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)),
        HANDSHAKE_TIMEOUT_MS,
      );
    });
  } catch (error) {
    socket.destroy();
    const code = (error as { code?: string }).code;
    if (code === "ECONNREFUSED") throw new Deno.errors.ConnectionRefused(String(error));
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) {
    socket.destroy();
    throw new TrustError(`${formatAddress(hostname, port)} presented no certificate`);
  }
  return {
    conn: new NodeSocketConn(socket),
    fingerprint: await spkiFingerprint(new Uint8Array(raw)),
    authorized: socket.authorized,
    reason: String(socket.authorizationError ?? ""),
  };
}

/**
 * Connects over TLS and checks the server against a decided policy (every
 * connection after the first decision: the first one and each reconnect).
 *
 * @param hostname server host
 * @param port TLS port
 * @param policy from {@linkcode establishTrust}
 * @returns the connection, handshake done
 * @throws {TrustError} when the server presents another key (or an invalid chain)
 * @throws network errors as they come (`Deno.errors.ConnectionRefused`…)
 */
export async function dialTls(
  hostname: string,
  port: number,
  policy: TrustPolicy,
): Promise<NodeSocketConn> {
  const peer = await handshake(hostname, port);
  const address = formatAddress(hostname, port);
  if (policy.kind === "pin" && peer.fingerprint !== policy.fingerprint) {
    peer.conn.close();
    throw new TrustError(
      `the certificate of ${address} changed during this session: ${peer.fingerprint}, ` +
        `not ${policy.fingerprint}; refusing to connect`,
    );
  }
  if (policy.kind === "ca" && !peer.authorized) {
    peer.conn.close();
    throw new TrustError(`the certificate of ${address} does not verify: ${peer.reason}`);
  }
  return peer.conn;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function write(output: ClientOutput, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += output.writeSync(bytes.subarray(offset));
}

/** Reads one line from the input, then lets go of it (the terminal reads it next). */
async function readLine(input: ClientInput): Promise<string | undefined> {
  const reader = input.readable.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return text === "" ? undefined : text;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.slice(0, text.indexOf("\n")).replace(/\r$/, "");
}

/**
 * Decides whether to trust the server, from one look at its certificate:
 * `--fingerprint`, else a pin in known_hosts, else a valid chain from a
 * public authority, else (on a terminal only) the user's answer, which is
 * then pinned.
 *
 * @param hostname server host, as the user gave it
 * @param port TLS port
 * @param options the user's TLS flags
 * @param io where to ask; a non-terminal stdin never accepts a new key
 * @returns the policy for every connection of this session
 * @throws {TrustError} with the message to show (exit code 1): a changed or
 * wrong fingerprint, or an unknown one that was not accepted
 * @throws network errors as they come
 */
export async function establishTrust(
  hostname: string,
  port: number,
  options: TlsOptions,
  io: TrustIo,
): Promise<TrustPolicy> {
  const address = formatAddress(hostname, port);
  const given = options.fingerprint;
  const peer = await handshake(hostname, port);
  peer.conn.close();
  const presented = peer.fingerprint;
  if (given !== undefined) {
    const wanted = parseFingerprint(given) ?? given;
    if (presented === wanted) return { kind: "pin", fingerprint: presented };
    throw new TrustError(
      `the certificate of ${address} has the fingerprint ${presented}, not ${wanted} ` +
        `given with --fingerprint; refusing to connect`,
    );
  }
  const path = options.knownHosts ?? defaultKnownHostsPath();
  const key = hostKey(hostname, port);
  const pinned = (await readKnownHosts(path)).get(key);
  if (pinned !== undefined) {
    if (pinned.fingerprint === presented) return { kind: "pin", fingerprint: presented };
    throw new TrustError(
      [
        `WARNING: the certificate of ${address} has changed.`,
        `  pinned:    ${pinned.fingerprint} (${path}, line ${pinned.line})`,
        `  presented: ${presented}`,
        "Someone may be intercepting the connection (a man in the middle), or the server has a new key.",
        "If the server's key really changed (compare with the fingerprint it prints at start),",
        `remove line ${pinned.line} (${key}) from ${path} and connect again. Refusing to connect.`,
      ].join("\n"),
    );
  }
  if (peer.authorized) return { kind: "ca" };
  // A chain that verifies but names another host is no more trusted than a self-signed one.
  const why = peer.reason === "ERR_TLS_CERT_ALTNAME_INVALID"
    ? `does not name ${hostname} (${peer.reason})`
    : `is not from a known authority (${peer.reason})`;
  const unknown = `the certificate of ${address} ${why} ` +
    `and is not pinned in ${path}; its fingerprint is ${presented}`;
  if (!io.stdin.isTerminal()) {
    throw new TrustError(
      `${unknown}. Compare it with the one the server printed at start, then pin it: connect ` +
        `once from a terminal, or pass --fingerprint ${presented}. Refusing to connect.`,
    );
  }
  write(
    io.stderr,
    `The certificate of ${address} ${why} and is not pinned yet.\n` +
      `Its fingerprint is ${presented}\n` +
      "Compare it with the fingerprint the server printed at start.\n" +
      "Pin it and connect? (yes/no, or paste the fingerprint) ",
  );
  const answer = (await readLine(io.stdin))?.trim();
  const accepted = answer !== undefined &&
    (/^(y|yes)$/i.test(answer) || parseFingerprint(answer) === presented);
  if (!accepted) throw new TrustError(`${address} not pinned; not connecting`);
  try {
    await addKnownHost(path, key, presented);
    write(io.stderr, `pinned ${key} in ${path}\n`);
  } catch (error) {
    write(
      io.stderr,
      `could not save the pin in ${path} (${
        error instanceof Error ? error.message : error
      }); trusting it for this session only\n`,
    );
  }
  return { kind: "pin", fingerprint: presented };
}
