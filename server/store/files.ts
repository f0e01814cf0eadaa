/**
 * Uploaded files: kept on disk in a folder beside the database (or in memory
 * with `--db :memory:`), named by an unguessable id that is the file's
 * capability (see docs/security.md). A file lives as long as the message that
 * shares it: once history pruning deletes that message, the file is
 * deleted too ({@linkcode FileStore.sweep}) and its URL answers 404.
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
  /** The id of the room message that shares it, once posted ({@linkcode FileStore.link}). */
  message?: number;
}

/**
 * Whether a file's message is gone from history (pruned, or never stored),
 * so the file must go too.
 */
export type FileGone = (meta: FileMeta) => boolean;

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
  readonly #gone: FileGone;
  readonly #memory = new Map<string, { meta: FileMeta; data: Uint8Array }>();
  #memoryBytes = 0;
  #sweeping: Promise<number> | undefined;

  /**
   * @param dir the folder (created on first upload); `undefined`: memory
   * @param gone whether a file's message has left history; such a file is
   * never served again and {@linkcode sweep} deletes it. Default: never.
   */
  constructor(dir: string | undefined, gone: FileGone = () => false) {
    this.#dir = dir;
    this.#gone = gone;
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
    let found: { meta: FileMeta; data: Uint8Array } | undefined;
    if (this.#dir === undefined) found = this.#memory.get(id);
    else {
      const meta = await this.#meta(id);
      if (!meta) return undefined;
      try {
        found = { meta, data: await Deno.readFile(`${this.#dir}/${id}`) };
      } catch {
        return undefined;
      }
    }
    if (found && this.#gone(found.meta)) {
      await this.#delete(id);
      return undefined;
    }
    return found;
  }

  /**
   * Records which message shares a file, so the file goes when that message
   * is pruned.
   *
   * @param id the file's id
   * @param message the message's id
   * @throws {Error} I/O errors when the metadata cannot be rewritten
   */
  async link(id: string, message: number): Promise<void> {
    if (this.#dir === undefined) {
      const entry = this.#memory.get(id);
      if (entry) entry.meta.message = message;
      return;
    }
    const meta = await this.#meta(id);
    if (!meta) return;
    await Deno.writeTextFile(`${this.#dir}/${id}.json`, JSON.stringify({ ...meta, message }), {
      mode: 0o600,
    });
  }

  /**
   * Deletes every file whose message has left history (see the `gone`
   * given to the constructor). One sweep at a time: a call during a sweep
   * waits for it.
   *
   * @returns how many files were deleted
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepNow().finally(() => this.#sweeping = undefined);
    return this.#sweeping;
  }

  async #sweepNow(): Promise<number> {
    let deleted = 0;
    if (this.#dir === undefined) {
      for (const [id, entry] of this.#memory) {
        if (this.#gone(entry.meta)) deleted += await this.#delete(id) ? 1 : 0;
      }
      return deleted;
    }
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.#dir));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return 0; // no upload yet
      throw error;
    }
    for (const entry of entries) {
      const id = entry.name.slice(0, -".json".length);
      if (!entry.name.endsWith(".json") || !ID.test(id)) continue;
      const meta = await this.#meta(id);
      if (meta && this.#gone(meta)) deleted += await this.#delete(id) ? 1 : 0;
    }
    return deleted;
  }

  async #meta(id: string): Promise<FileMeta | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.#dir}/${id}.json`)) as FileMeta;
    } catch {
      return undefined;
    }
  }

  /** Deletes a file and its metadata; returns whether it was there. */
  async #delete(id: string): Promise<boolean> {
    if (this.#dir === undefined) {
      const entry = this.#memory.get(id);
      if (!entry) return false;
      this.#memory.delete(id);
      this.#memoryBytes -= entry.data.length;
      return true;
    }
    let removed = false;
    for (const path of [`${this.#dir}/${id}`, `${this.#dir}/${id}.json`]) {
      try {
        await Deno.remove(path);
        removed = true;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return removed;
  }
}
