/**
 * Frames of protocol v1 (JSON Lines): their types, the decoder that validates
 * what a peer sends, and the encoder. See docs/protocol.md for every frame
 * with an example session.
 *
 * @module
 */

/** Frames a client sends. */
export type ClientFrame =
  | { type: "hello"; version: number; nick?: string; client?: string }
  | { type: "nick"; nick: string }
  | { type: "say"; text: string }
  | { type: "me"; text: string }
  | { type: "msg"; to: string; text: string }
  | { type: "who" }
  | { type: "help" }
  | { type: "quit"; reason?: string }
  | { type: "ping"; token?: string }
  | { type: "pong"; token?: string };

/** One entry of the `help` frame. */
export interface CommandHelp {
  /** e.g. `/msg NICK TEXT` */
  usage: string;
  /** one line of what it does */
  summary: string;
}

/** Frames the server sends. */
export type ServerFrame =
  | { type: "welcome"; version: number; nick: string; server: string; online: number }
  | { type: "message"; from: string; text: string; ts: number }
  | { type: "action"; from: string; text: string; ts: number }
  | { type: "private"; from: string; to: string; text: string; ts: number }
  | { type: "joined"; nick: string; ts: number }
  | { type: "left"; nick: string; reason: string; ts: number }
  | { type: "renamed"; from: string; to: string; ts: number }
  | { type: "who"; nicks: string[] }
  | { type: "help"; commands: CommandHelp[] }
  | { type: "error"; code: ErrorCode; message: string }
  | { type: "bye"; reason: string }
  | { type: "ping"; token?: string }
  | { type: "pong"; token?: string };

/** Any frame. */
export type Frame = ClientFrame | ServerFrame;

/** Machine-readable error codes carried by `error` frames. */
export type ErrorCode =
  | "bad_json"
  | "bad_frame"
  | "unknown_type"
  | "version_unsupported"
  | "line_too_long"
  | "invalid_utf8"
  | "text_too_long"
  | "empty_text"
  | "nick_taken"
  | "nick_invalid"
  | "not_registered"
  | "already_registered"
  | "no_such_nick"
  | "unknown_command"
  | "usage"
  | "send_queue_exceeded"
  | "too_many_connections"
  | "timeout"
  | "not_chat";

/** A frame that could not be decoded; carries the error code to send back. */
export class FrameError extends Error {
  /** Machine-readable reason. */
  readonly code: ErrorCode;

  /**
   * @param code the error code for the `error` frame
   * @param message a human sentence
   */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

type FieldKind = "string" | "number";
type Schema = Readonly<Record<string, FieldKind | `${FieldKind}?`>>;

const CLIENT_SCHEMAS: Readonly<Record<ClientFrame["type"], Schema>> = {
  hello: { version: "number", nick: "string?", client: "string?" },
  nick: { nick: "string" },
  say: { text: "string" },
  me: { text: "string" },
  msg: { to: "string", text: "string" },
  who: {},
  help: {},
  quit: { reason: "string?" },
  ping: { token: "string?" },
  pong: { token: "string?" },
};

/**
 * Decodes and validates one line from a client. Fields not named in the
 * frame's schema are ignored (room for additive protocol changes).
 *
 * @param line one JSON text, without its newline
 * @returns the frame
 * @throws {FrameError} `bad_json` when the line is not JSON, `bad_frame` when
 * it is not an object with a string `type` or a field is missing or of the
 * wrong type, `unknown_type` for a type this version does not know
 *
 * @example
 * ```ts
 * import { decodeClientFrame } from "./frames.ts";
 * decodeClientFrame('{"type":"say","text":"hi"}'); // { type: "say", text: "hi" }
 * ```
 */
export function decodeClientFrame(line: string): ClientFrame {
  const record = parseObject(line);
  const type = record.type as string;
  if (!Object.hasOwn(CLIENT_SCHEMAS, type)) {
    throw new FrameError("unknown_type", `unknown frame type ${JSON.stringify(type)}`);
  }
  const schema = CLIENT_SCHEMAS[type as ClientFrame["type"]];
  const frame: Record<string, unknown> = { type };
  for (const [field, spec] of Object.entries(schema)) {
    const optional = spec.endsWith("?");
    const kind = optional ? spec.slice(0, -1) : spec;
    const v = record[field];
    if (v === undefined || v === null) {
      if (optional) continue;
      throw new FrameError("bad_frame", `"${type}" frame needs field "${field}"`);
    }
    if (typeof v !== kind || (kind === "number" && !Number.isFinite(v))) {
      throw new FrameError("bad_frame", `field "${field}" of "${type}" must be a ${kind}`);
    }
    frame[field] = v;
  }
  return frame as ClientFrame;
}

/**
 * Decodes a line from the server without validating it beyond its shape
 * (the client trusts the server's frame types, not its text).
 *
 * @param line one JSON text
 * @returns the frame
 * @throws {FrameError} `bad_json` or `bad_frame`
 */
export function decodeServerFrame(line: string): ServerFrame {
  return parseObject(line) as ServerFrame;
}

/** Parses a line as a JSON object with a string `type`, or throws a FrameError. */
function parseObject(line: string): Record<string, unknown> & { type: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new FrameError("bad_json", "frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FrameError("bad_frame", "frame must be a JSON object");
  }
  if (typeof (value as { type?: unknown }).type !== "string") {
    throw new FrameError("bad_frame", 'frame has no string field "type"');
  }
  return value as Record<string, unknown> & { type: string };
}

/**
 * Encodes a frame as one JSON line, `\n`-terminated. JSON escapes every
 * control character, so the line never contains a raw newline.
 *
 * @param frame any frame
 * @returns the line
 */
export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame) + "\n";
}
