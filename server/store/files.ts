/**
 * Uploaded files: kept on disk in a folder beside the database (or in memory
 * with `--db :memory:`), named by an unguessable id that is the file's
 * capability (see docs/security.md).
 *
 * @module
 */

import { randomBytes } from "node:crypto";

/** What is known about one upload. */
export interface FileMeta {
  /** 128 random bits, base64url: the capability in the download URL. */
  id: string;
  /** The file name the sender gave (cleaned). */
  name: string;
  /** Media type served: an allowed image type, or `application/octet-stream`. */
  type: string;
  /** Size in bytes. */
  size: number;
  /** Who uploaded it. */
  from: string;
  /** The room it was shared in. */
  room: string;
  /** Upload time, ms since the epoch. */
  ts: number;
}

/**
 * Image types shown inline. Everything else (SVG included: it can carry
 * script) is served as `application/octet-stream` with
 * `Content-Disposition: attachment`.
 */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
]);

/** Default of `--max-upload`: 10 MiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** In memory (`--db :memory:`): most bytes kept; the oldest files go first. */
const MEMORY_BUDGET = 64 * 1024 * 1024;

const ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Cleans a file name for storage and display: no path, no control
 * characters, at most 120 characters.
 *
 * @param name what the sender gave
 * @returns a name, `file` when nothing is left
 */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f"]/g, "").trim().slice(0, 120);
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "file" : cleaned;
}

/** Where uploads live: a folder, or memory. */
export class FileStore {
  readonly #dir: string | undefined;
  readonly #memory = new Map<string, { meta: FileMeta; data: Uint8Array }>();
  #memoryBytes = 0;

  /**
   * @param dir the folder (created on first upload); `undefined`: memory
   */
  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /** The folder, or `undefined` in memory. */
  get dir(): string | undefined {
    return this.#dir;
  }

  /**
   * Stores a file.
   *
   * @param data the bytes
   * @param meta everything but the id
   * @returns the stored file's metadata, with its new id
   * @throws {Deno.errors.NotCapable} and other I/O errors when the folder is not writable
   */
  async put(data: Uint8Array, meta: Omit<FileMeta, "id">): Promise<FileMeta> {
    const full: FileMeta = { id: randomBytes(16).toString("base64url"), ...meta };
    if (this.#dir === undefined) {
      this.#memory.set(full.id, { meta: full, data });
      this.#memoryBytes += data.length;
      for (const [id, entry] of this.#memory) {
        if (this.#memoryBytes <= MEMORY_BUDGET) break;
        this.#memory.delete(id);
        this.#memoryBytes -= entry.data.length;
      }
      return full;
    }
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await Deno.writeFile(`${this.#dir}/${full.id}`, data, { mode: 0o600 });
    await Deno.writeTextFile(`${this.#dir}/${full.id}.json`, JSON.stringify(full), {
      mode: 0o600,
    });
    return full;
  }

  /**
   * Finds a file by id.
   *
   * @param id the capability from the URL
   * @returns metadata and bytes, or `undefined` when unknown
   */
  async get(id: string): Promise<{ meta: FileMeta; data: Uint8Array } | undefined> {
    if (!ID.test(id)) return undefined;
    if (this.#dir === undefined) return this.#memory.get(id);
    try {
      const meta = JSON.parse(await Deno.readTextFile(`${this.#dir}/${id}.json`)) as FileMeta;
      const data = await Deno.readFile(`${this.#dir}/${id}`);
      return { meta, data };
    } catch {
      return undefined;
    }
  }
}
