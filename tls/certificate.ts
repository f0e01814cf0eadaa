/**
 * The server's TLS identity: a certificate chain and its private key, either
 * generated once (self-signed ECDSA P-256, kept beside the database) or read
 * from the operator's files, with the SHA-256 public-key fingerprint people
 * compare out of band, and a reload that swaps them in place.
 *
 * Every TLS front door (the chat TLS port, HTTPS/WSS, IRC over TLS) takes its
 * certificate from one {@linkcode TlsIdentity}: read
 * {@linkcode TlsIdentity.secureContext} for each new connection (a `node:tls`
 * `TLSSocket`), or {@linkcode TlsIdentity.current} for the PEM text, and
 * {@linkcode TlsIdentity.onReload} to hear about a reload.
 *
 * Fingerprints are `SHA256:` + unpadded base64 of the SHA-256 digest of the
 * certificate's SubjectPublicKeyInfo (DER), the form `ssh-keygen -l` prints
 * for keys; it survives a renewal that keeps the key, and equals
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
 * openssl dgst -sha256 -binary | base64` (without the trailing `=`).
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import tls from "node:tls";

/** A certificate chain and its key, as PEM text, with the leaf's fingerprint. */
export interface CertifiedKey {
  /** PEM certificate chain, leaf first. */
  cert: string;
  /** PEM private key (PKCS #8 for generated keys). */
  key: string;
  /** The leaf's public-key fingerprint, `SHA256:…` (see the module docs). */
  fingerprint: string;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** How long a generated certificate is valid: ten years (pinning, not expiry, is the trust). */
const GENERATED_VALIDITY_DAYS = 3650;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/=+$/, "");
}

/**
 * The public-key fingerprint of a certificate.
 *
 * @param certificate PEM text (the first certificate of a chain counts) or DER bytes
 * @returns `SHA256:` + unpadded base64 of SHA-256(SubjectPublicKeyInfo)
 * @throws {Error} when it is not a certificate
 */
export async function spkiFingerprint(certificate: string | Uint8Array): Promise<string> {
  let input: string | Uint8Array = certificate;
  if (typeof certificate === "string") {
    const block = PEM_BLOCK.exec(certificate);
    if (!block) throw new Error("no PEM certificate found");
    input = block[0];
  }
  const parsed = new x509.X509Certificate(input as string);
  const digest = await crypto.subtle.digest("SHA-256", parsed.publicKey.rawData);
  return "SHA256:" + base64(new Uint8Array(digest));
}

/**
 * Normalises a fingerprint typed by a person: accepts `SHA256:` + base64
 * with or without padding, and the `sha256` prefix in any case.
 *
 * @param text e.g. `SHA256:zslEtefbP21z96Ey1N/VjbzHi8hoLW1jp5817G99n7s`
 * @returns the canonical form (unpadded), or `undefined` when it is not one
 */
export function parseFingerprint(text: string): string | undefined {
  const match = /^sha256:([A-Za-z0-9+/]{43})=?$/i.exec(text.trim());
  return match ? `SHA256:${match[1]}` : undefined;
}

function isIpAddress(name: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(name) || name.includes(":");
}

/**
 * Generates a self-signed server certificate: ECDSA P-256 over WebCrypto,
 * `basicConstraints CA:FALSE` (critical), key usage `digitalSignature`,
 * extended key usage `serverAuth`, valid from a day ago for ten years, with
 * every name as a subject alternative name (IP addresses as `iPAddress`,
 * the rest as `dNSName`).
 *
 * @param names host names and addresses served, e.g. `["localhost", "127.0.0.1"]`
 * @returns the certificate and its PKCS #8 key, as PEM
 */
export async function generateSelfSigned(names: string[]): Promise<CertifiedKey> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const unique = [...new Set(names.filter((n) => n !== ""))];
  const serial = new Uint8Array(16);
  crypto.getRandomValues(serial);
  serial[0]! &= 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    name: "CN=chat server",
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + GENERATED_VALIDITY_DAYS * 86_400_000),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        unique.map((name): x509.JsonGeneralName => ({
          type: isIpAddress(name) ? "ip" : "dns",
          value: name,
        })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const cert = certificate.toString("pem") + "\n";
  return {
    cert,
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
    fingerprint: await spkiFingerprint(cert),
  };
}

/**
 * Checks that a certificate chain and key work together, the way the TLS
 * stack will use them: a throwaway TLS listener on 127.0.0.1 port 0.
 *
 * @throws {Error} with the TLS stack's reason (no certificate, key mismatch…)
 */
function checkPair(cert: string, key: string): void {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  listener.close();
}

/** Where a {@linkcode TlsIdentity} comes from. */
export type IdentitySource =
  /** The operator's certificate chain and key (`--tls-cert`, `--tls-key`). */
  | { kind: "files"; certFile: string; keyFile: string }
  /**
   * A generated self-signed certificate, kept in `certFile`/`keyFile` (made
   * on first use, key mode 0600) or, without them, in memory only.
   */
  | { kind: "generated"; names: string[]; certFile?: string; keyFile?: string };

/** The files a generated identity is kept in, beside a database file. */
export function generatedPaths(db: string): { certFile: string; keyFile: string } {
  return { certFile: `${db}.tls-cert.pem`, keyFile: `${db}.tls-key.pem` };
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * The server's certificate and key, shared by every TLS listener.
 *
 * @example
 * ```ts ignore
 * const identity = await TlsIdentity.open({ kind: "generated", names: ["localhost"] });
 * console.log(identity.current.fingerprint);
 * new tls.TLSSocket(socket, { isServer: true, secureContext: identity.secureContext });
 * ```
 */
export class TlsIdentity {
  readonly source: IdentitySource;
  #current: CertifiedKey;
  #context: tls.SecureContext;
  /** Whether {@linkcode open} generated a new certificate (first start). */
  readonly created: boolean;
  /**
   * Problems worth an operator's attention that did not stop the load, e.g.
   * a key file that others may read (POSIX mode bits beyond 0600).
   */
  readonly warnings: string[] = [];
  readonly #listeners = new Set<(identity: CertifiedKey) => void>();

  private constructor(source: IdentitySource, current: CertifiedKey, created: boolean) {
    this.source = source;
    this.#current = current;
    this.#context = tls.createSecureContext({ cert: current.cert, key: current.key });
    this.created = created;
  }

  /**
   * Loads the identity: reads the operator's files, or reuses the generated
   * pair, or generates and stores one (key file mode 0600).
   *
   * @param source see {@linkcode IdentitySource}
   * @returns the identity
   * @throws {Error} when a file cannot be read or written, or the pair is unusable
   */
  static async open(source: IdentitySource): Promise<TlsIdentity> {
    if (source.kind === "files") {
      const identity = new TlsIdentity(source, await TlsIdentity.#readFiles(source), false);
      await identity.#checkKeyMode(source.keyFile);
      return identity;
    }
    const { certFile, keyFile } = source;
    if (certFile !== undefined && keyFile !== undefined) {
      const [cert, key] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
      if (cert !== undefined && key !== undefined) {
        const pair = await TlsIdentity.#check(cert, key, certFile);
        const identity = new TlsIdentity(source, pair, false);
        await identity.#checkKeyMode(keyFile);
        return identity;
      }
    }
    const generated = await generateSelfSigned(source.names);
    if (certFile !== undefined && keyFile !== undefined) {
      // The key first, created with mode 0600 (chmod too, in case it existed).
      await Deno.writeTextFile(keyFile, generated.key, { mode: 0o600 });
      await Deno.chmod(keyFile, 0o600);
      await Deno.writeTextFile(certFile, generated.cert);
    }
    return new TlsIdentity(source, generated, true);
  }

  async #checkKeyMode(keyFile: string): Promise<void> {
    if (Deno.build.os === "windows") return;
    const { mode } = await Deno.stat(keyFile);
    if (mode !== null && (mode & 0o077) !== 0) {
      this.warnings.push(
        `${keyFile} may be read by other users (mode ${
          (mode & 0o777).toString(8).padStart(4, "0")
        }): whoever reads it can impersonate this server; chmod 600 it`,
      );
    }
  }

  static async #readFiles(
    source: { certFile: string; keyFile: string },
  ): Promise<CertifiedKey> {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(source.certFile),
      Deno.readTextFile(source.keyFile),
    ]);
    return TlsIdentity.#check(cert, key, source.certFile);
  }

  static async #check(cert: string, key: string, certFile: string): Promise<CertifiedKey> {
    let fingerprint: string;
    try {
      fingerprint = await spkiFingerprint(cert);
      checkPair(cert, key);
    } catch (error) {
      throw new Error(
        `${certFile}: not a usable certificate and key: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    return { cert, key, fingerprint };
  }

  /** The certificate and key in use now. */
  get current(): CertifiedKey {
    return this.#current;
  }

  /** A `node:tls` secure context for the current pair: take it per new connection. */
  get secureContext(): tls.SecureContext {
    return this.#context;
  }

  /**
   * Re-reads the files (the operator's, or the generated pair's) and swaps
   * them in for new connections; connections already open keep theirs. An
   * in-memory identity has nothing to re-read and stays as it is.
   *
   * @returns the pair now in use
   * @throws {Error} when the new files are unreadable or unusable (the old pair stays)
   */
  async reload(): Promise<CertifiedKey> {
    const source = this.source;
    let next: CertifiedKey | undefined;
    if (source.kind === "files") next = await TlsIdentity.#readFiles(source);
    else if (source.certFile !== undefined && source.keyFile !== undefined) {
      next = await TlsIdentity.#readFiles({ certFile: source.certFile, keyFile: source.keyFile });
    }
    if (next === undefined) return this.#current;
    this.#context = tls.createSecureContext({ cert: next.cert, key: next.key });
    this.#current = next;
    for (const listener of this.#listeners) listener(next);
    return next;
  }

  /**
   * Calls `listener` after each successful {@linkcode reload}.
   *
   * @returns a function that removes the listener
   */
  onReload(listener: (identity: CertifiedKey) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
