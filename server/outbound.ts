/**
 * A server frame on its way to one or many sessions, encoded at most once per
 * wire format however many receivers it has.
 *
 * @module
 */

import { encodeFrame, formatPlainText, type ServerFrame } from "../protocol/mod.ts";

const encoder = new TextEncoder();

/** The wire formats a session can speak. */
export type WireFormat = "json" | "text";

/**
 * Holds a frame and its lazily encoded bytes. A broadcast to N receivers
 * encodes once per format, then every receiver's send queue holds the same
 * bytes.
 *
 * @example
 * ```ts
 * import { Outbound } from "./outbound.ts";
 * const out = new Outbound({ type: "joined", nick: "alice", ts: 0 });
 * new TextDecoder().decode(out.bytes("text")); // "* alice joined the chat\n"
 * ```
 */
export class Outbound {
  /** The frame being sent. */
  readonly frame: ServerFrame;
  #json: Uint8Array | undefined;
  #text: Uint8Array | null | undefined;
  #elsewhere: Uint8Array | null | undefined;

  /** @param frame the frame to send */
  constructor(frame: ServerFrame) {
    this.frame = frame;
  }

  /**
   * The frame's bytes in a wire format.
   *
   * @param format `json` (one JSON line) or `text` (the plain-text line)
   * @param elsewhere plain text only: render for a reader whose current room
   * is not the frame's room (adds the `[#room] ` prefix to room messages)
   * @returns the bytes, `\n`-terminated, or `null` when the frame has no
   * plain-text form (e.g. a pong)
   */
  bytes(format: WireFormat, elsewhere = false): Uint8Array | null {
    if (format === "json") return this.#json ??= encoder.encode(encodeFrame(this.frame));
    if (elsewhere) {
      if (this.#elsewhere === undefined) {
        const text = formatPlainText(this.frame, undefined, null);
        this.#elsewhere = text === undefined ? null : encoder.encode(text + "\n");
      }
      return this.#elsewhere;
    }
    if (this.#text === undefined) {
      const text = formatPlainText(this.frame);
      this.#text = text === undefined ? null : encoder.encode(text + "\n");
    }
    return this.#text;
  }
}
