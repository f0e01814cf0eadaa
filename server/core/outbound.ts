/**
 * A server frame on its way to one or many sessions, encoded at most once per
 * wire format however many receivers it has.
 *
 * @module
 */

import { encodeFrame, formatPlainText, roomKey, type ServerFrame } from "../../protocol/mod.ts";
import { concat } from "../transports/send_queue.ts";

const encoder = new TextEncoder();

/** The wire formats a session can speak. */
export type WireFormat = "json" | "text";

/**
 * Renders frames for a family of receivers that see them alike, e.g. IRC
 * clients with the same capabilities (server-time, message-tags). A
 * deliverable caches what a renderer made, so a broadcast to N such
 * receivers renders once per renderer, not once per receiver.
 */
export interface FrameRenderer {
  /**
   * @param frame a frame
   * @returns its bytes (lines with their terminators), or `null` for nothing
   */
  render(frame: ServerFrame): Uint8Array | null;
}

/** Something a session can be sent: one frame, or a run of room messages. */
export interface Deliverable {
  /**
   * The key of the room a room message (`message`, `action`) belongs to;
   * `undefined` for every other frame. Plain-text readers whose current room
   * differs see such lines with a `[#room] ` prefix.
   */
  readonly roomKey: string | undefined;
  /**
   * The bytes in a wire format (see {@linkcode Outbound.bytes}).
   *
   * @param format `json` or `text`
   * @param elsewhere plain text only: the reader's current room is another
   * @returns `\n`-terminated bytes, or `null` when there is nothing to send
   */
  bytes(format: WireFormat, elsewhere?: boolean): Uint8Array | null;
  /**
   * The bytes a renderer makes of it, cached per renderer.
   *
   * @param renderer e.g. one IRC capability set
   * @returns the bytes, or `null` when there is nothing to send
   */
  rendered(renderer: FrameRenderer): Uint8Array | null;
  /** The single frames, in delivery order (one for an `Outbound`). */
  readonly parts: readonly Outbound[];
}

/**
 * Renderers' cached output: one entry inline (the usual case), more in a
 * map. Asked once per receiver, so a lookup allocates nothing.
 */
class RenderCache {
  #first: FrameRenderer | undefined;
  #firstBytes: Uint8Array | null = null;
  #more: Map<FrameRenderer, Uint8Array | null> | undefined;

  /** The cached bytes, or `undefined` when this renderer has not rendered yet. */
  lookup(renderer: FrameRenderer): Uint8Array | null | undefined {
    if (this.#first === renderer) return this.#firstBytes;
    return this.#more?.get(renderer);
  }

  store(renderer: FrameRenderer, bytes: Uint8Array | null): Uint8Array | null {
    if (this.#first === undefined) {
      this.#first = renderer;
      this.#firstBytes = bytes;
    } else (this.#more ??= new Map()).set(renderer, bytes);
    return bytes;
  }
}

/**
 * Holds a frame and its lazily encoded bytes. A broadcast to N receivers
 * encodes once per format, then every receiver's send queue holds the same
 * bytes.
 *
 * @example
 * ```ts
 * import { Outbound } from "./outbound.ts";
 * const out = new Outbound({ type: "joined", nick: "alice", ts: 0 });
 * new TextDecoder().decode(out.bytes("text")!); // "* alice joined the chat\n"
 * ```
 */
export class Outbound implements Deliverable {
  /** The frame being sent. */
  readonly frame: ServerFrame;
  /** @inheritdoc */
  readonly roomKey: string | undefined;
  #json: Uint8Array | undefined;
  #text: Uint8Array | null | undefined;
  #elsewhere: Uint8Array | null | undefined;
  #rendered: RenderCache | undefined;
  #parts: readonly Outbound[] | undefined;

  /**
   * @param frame the frame to send
   * @param key the room key of a room message, when the caller has it
   */
  constructor(frame: ServerFrame, key?: string) {
    this.frame = frame;
    this.roomKey = (frame.type === "message" || frame.type === "action") && frame.room
      ? key ?? roomKey(frame.room)
      : undefined;
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
        const line = this.line(format, true);
        this.#elsewhere = line === null ? null : encoder.encode(line);
      }
      return this.#elsewhere;
    }
    if (this.#text === undefined) {
      const line = this.line(format, false);
      this.#text = line === null ? null : encoder.encode(line);
    }
    return this.#text;
  }

  /**
   * The frame's line in a wire format, as text (what {@linkcode bytes}
   * encodes; not cached): for a run to join its lines before encoding them
   * once.
   *
   * @param format `json` or `text`
   * @param elsewhere see {@linkcode bytes}
   * @returns the `\n`-terminated line, or `null` when there is none
   */
  line(format: WireFormat, elsewhere = false): string | null {
    if (format === "json") return encodeFrame(this.frame);
    const text = elsewhere
      ? formatPlainText(this.frame, undefined, null)
      : formatPlainText(this.frame);
    return text === undefined ? null : text + "\n";
  }

  /** @inheritdoc */
  rendered(renderer: FrameRenderer): Uint8Array | null {
    const cache = this.#rendered ??= new RenderCache();
    const bytes = cache.lookup(renderer);
    return bytes !== undefined ? bytes : cache.store(renderer, renderer.render(this.frame));
  }

  /** @inheritdoc */
  get parts(): readonly Outbound[] {
    // Made once: an IRC fan-out asks for it once per receiver.
    return this.#parts ??= [this];
  }
}

/**
 * Consecutive messages of one room, committed together, delivered to each
 * receiver as one chunk. The chunk is built once per wire format (and
 * plain-text prefix) and shared: a receiver's send queue then holds one
 * reference per run instead of one per message, and writes it without
 * copying. Fan-out of 100 JSON receivers spent 30 % of its CPU joining
 * per-message chunks before this (docs/performance.md).
 *
 * @example
 * ```ts
 * import { Outbound, OutboundRun } from "./outbound.ts";
 * const say = (id: number) =>
 *   new Outbound({ type: "message", id, room: "#lobby", from: "ann", text: `hi ${id}`, ts: 0 });
 * const run = new OutboundRun("#lobby", [say(1), say(2)]);
 * new TextDecoder().decode(run.bytes("text")!); // "ann: hi 1\nann: hi 2\n"
 * ```
 */
export class OutboundRun implements Deliverable {
  /** @inheritdoc */
  readonly roomKey: string;
  readonly #outs: readonly Outbound[];
  // The joined bytes per wire format, each with where every frame's bytes end.
  #json: Joined | undefined;
  #text: Joined | undefined;
  #elsewhere: Joined | undefined;
  #rendered: RenderCache | undefined;
  // A slice of another run: its frames [from, to) (see slice()).
  #whole: OutboundRun | undefined;
  #from = 0;

  /**
   * @param roomKey the room every message belongs to
   * @param outs the messages, in delivery order
   */
  constructor(roomKey: string, outs: readonly Outbound[]) {
    this.roomKey = roomKey;
    this.#outs = outs;
  }

  /** The frames of the run, in delivery order. */
  get parts(): readonly Outbound[] {
    return this.#outs;
  }

  /**
   * The frames `[from, to)` of this run as a run of their own, whose bytes
   * are a view into this run's (no copy, however many receivers): what a
   * sender gets between its own messages, which it does not get back.
   *
   * @param from index of the first frame
   * @param to index after the last frame (`from < to <= parts.length`)
   * @returns the slice (this run itself when it is all of it)
   */
  slice(from: number, to: number): OutboundRun {
    if (from === 0 && to === this.#outs.length) return this;
    const slice = new OutboundRun(this.roomKey, this.#outs.slice(from, to));
    slice.#whole = this.#whole ?? this;
    slice.#from = this.#from + from;
    return slice;
  }

  /** @inheritdoc */
  bytes(format: WireFormat, elsewhere = false): Uint8Array | null {
    const whole = this.#whole;
    if (whole !== undefined) {
      const joined = whole.#joined(format, elsewhere);
      const ends = joined.ends ??= endsOf(joined);
      const start = this.#from === 0 ? 0 : ends[this.#from - 1]!;
      const end = ends[this.#from + this.#outs.length - 1]!;
      return end === start ? null : joined.bytes!.subarray(start, end);
    }
    return this.#joined(format, elsewhere).bytes;
  }

  /** @inheritdoc */
  rendered(renderer: FrameRenderer): Uint8Array | null {
    const cache = this.#rendered ??= new RenderCache();
    const cached = cache.lookup(renderer);
    if (cached !== undefined) return cached;
    const parts: Uint8Array[] = [];
    for (const out of this.#outs) {
      const bytes = out.rendered(renderer);
      if (bytes) parts.push(bytes);
    }
    return cache.store(renderer, parts.length === 0 ? null : concat(parts));
  }

  #joined(format: WireFormat, elsewhere: boolean): Joined {
    if (format === "json") return this.#json ??= this.#join(format, false);
    if (elsewhere) return this.#elsewhere ??= this.#join(format, true);
    return this.#text ??= this.#join(format, false);
  }

  // The lines joined as text and encoded once: one encode per run, not one
  // per frame and a copy to join them (40 % less of the server's CPU time
  // spent encoding in the JSON fan-out profile).
  #join(format: WireFormat, elsewhere: boolean): Joined {
    const lines: string[] = [];
    for (const out of this.#outs) lines.push(out.line(format, elsewhere) ?? "");
    const text = lines.join("");
    return { bytes: text === "" ? null : encoder.encode(text), text, lines, ends: undefined };
  }
}

/** A run's bytes in one wire format, and what they were made of. */
interface Joined {
  bytes: Uint8Array | null;
  /** The joined text the bytes encode. */
  text: string;
  /** Each frame's line ("" for none). */
  lines: string[];
  /** Where each frame's bytes end; made by the first slice. */
  ends: Uint32Array | undefined;
}

/** Where each line's bytes end in the joined bytes. */
function endsOf(joined: Joined): Uint32Array {
  const ends = new Uint32Array(joined.lines.length);
  // ASCII only (the bytes are as many as the UTF-16 code units): no encoding needed.
  const ascii = (joined.bytes?.length ?? 0) === joined.text.length;
  let end = 0;
  for (let k = 0; k < joined.lines.length; k++) {
    const line = joined.lines[k]!;
    end += ascii ? line.length : encoder.encode(line).length;
    ends[k] = end;
  }
  return ends;
}
