/**
 * Password hashing: `node:crypto` scrypt at OWASP's recommended parameters
 * (Password Storage Cheat Sheet: N=2^17, r=8, p=1), a random 16-byte salt
 * per password, run on the thread pool (off the event loop), compared with
 * `timingSafeEqual`.
 *
 * Stored form (one string, so parameters can grow without a schema change):
 * `scrypt$N$r$p$SALT$HASH`, salt and hash in base64url, hash 32 bytes.
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** OWASP's recommended scrypt parameters: N=2^17, r=8, p=1 (about 128 MiB per hash). */
export const SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/** Longest password accepted, in bytes: scrypt's cost does not depend on it, but lines do. */
export const MAX_PASSWORD_BYTES = 1024;
/** Shortest password accepted, in characters. */
export const MIN_PASSWORD_LENGTH = 8;

const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; maxmem must exceed it (Node's default is 32 MiB).
  const maxmem = 128 * params.N * params.r + 2 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_BYTES, { ...params, maxmem }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

/**
 * Hashes a password for storage.
 *
 * @param password the password (NFKC-normalised before hashing)
 * @param params cost parameters @default {SCRYPT_PARAMS}
 * @returns `scrypt$N$r$p$SALT$HASH`
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return [
    "scrypt",
    params.N,
    params.r,
    params.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ]
    .join("$");
}

/**
 * Checks a password against a stored hash, in constant time for the
 * comparison. A malformed stored value never matches.
 *
 * @param password the password offered
 * @param stored a value from {@linkcode hashPassword}
 * @returns whether it matches
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 2 ** 20 || r * p > 64) {
    return false;
  }
  const salt = Buffer.from(parts[4]!, "base64url");
  const expected = Buffer.from(parts[5]!, "base64url");
  let key: Buffer;
  try {
    key = await derive(password, salt, { N, r, p });
  } catch {
    return false; // parameters scrypt refuses (N not a power of two…)
  }
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password: verified against when an account does not exist, so a missing account costs as much time as a wrong password. */
let decoy: Promise<string> | undefined;

/**
 * Spends one verification's worth of time and always fails: used when the
 * account does not exist, so timing does not tell which names are registered.
 *
 * @param password the password offered
 * @returns false
 */
export async function verifyDecoy(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(16).toString("hex"));
  await verifyPassword(password, await decoy);
  return false;
}

/**
 * Checks a new password's length.
 *
 * @param password the password
 * @returns a one-line problem, or `undefined` when acceptable
 */
export function passwordProblem(password: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `password is too short: at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_BYTES) {
    return `password is too long: at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  return undefined;
}
