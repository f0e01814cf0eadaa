// Property-based tests of decodeClientFrame: any input either decodes to a
// frame of the right shape or throws a FrameError with a code, nothing else.

import assert from "@chat/assert";
import fc from "fast-check";
import {
  type ClientFrame,
  decodeClientFrame,
  encodeFrame,
  FrameError,
  LineReader,
} from "../protocol/mod.ts";

// An independent copy of the schema of docs/protocol.md (not imported: the
// test must notice when the decoder drifts from it).
const FIELDS: Record<ClientFrame["type"], Record<string, "string" | "number" | "boolean">> = {
  hello: {
    version: "number",
    nick: "string",
    client: "string",
    resume: "string",
    last_id: "number",
    password: "string",
  },
  nick: { nick: "string" },
  say: { text: "string", room: "string", ref: "string" },
  me: { text: "string", room: "string", ref: "string" },
  msg: { to: "string", text: "string", ref: "string" },
  input: { text: "string", room: "string", ref: "string" },
  reply: { text: "string", ref: "string" },
  join: { room: "string" },
  part: { room: "string" },
  rooms: {},
  topic: { room: "string", text: "string" },
  who: { room: "string" },
  history: { room: "string", before: "number", limit: "number" },
  help: {},
  away: { text: "string" },
  whois: { nick: "string" },
  search: { text: "string", room: "string", before: "number", limit: "number" },
  quit: { reason: "string" },
  ping: { token: "string" },
  pong: { token: "string" },
  register: { password: "string" },
  login: { nick: "string", password: "string" },
  logout: {},
  password: { old: "string", new: "string" },
  kick: { nick: "string", room: "string", reason: "string" },
  ban: { target: "string", room: "string", duration: "number", reason: "string" },
  unban: { target: "string", room: "string" },
  bans: { room: "string" },
  serverban: { target: "string", duration: "number", reason: "string" },
  serverunban: { target: "string" },
  serverbans: {},
  mute: { nick: "string", room: "string", duration: "number" },
  unmute: { nick: "string", room: "string" },
  op: { nick: "string", room: "string" },
  deop: { nick: "string", room: "string" },
  voice: { nick: "string", room: "string" },
  devoice: { nick: "string", room: "string" },
  invite: { nick: "string", room: "string" },
  mode: { mode: "string", on: "boolean", room: "string" },
};

/** Decodes, returning the frame or the FrameError; any other throw fails the test. */
function decode(line: string): ClientFrame | FrameError {
  try {
    return decodeClientFrame(line);
  } catch (error) {
    if (!(error instanceof FrameError)) throw new Error(`threw ${error}`, { cause: error });
    assert.ok(error.message.length > 0);
    return error;
  }
}

function assertWellFormed(frame: ClientFrame): void {
  const schema = FIELDS[frame.type];
  assert.ok(schema, `unknown type ${frame.type}`);
  for (const [key, value] of Object.entries(frame)) {
    if (key === "type") continue;
    assert.equal(typeof value, schema[key], `${frame.type}.${key}`);
    if (typeof value === "number") assert.ok(Number.isFinite(value));
  }
}

const types = fc.constantFrom(...Object.keys(FIELDS), "teleport", "__proto__", "constructor");
/** Objects that look like frames: a known type or not, fields of any JSON value. */
const frameLike = fc.record({
  type: fc.oneof(types, fc.jsonValue()),
  version: fc.oneof(fc.constant(1), fc.jsonValue()),
  nick: fc.oneof(fc.string(), fc.jsonValue()),
  text: fc.oneof(fc.string({ unit: "binary" }), fc.jsonValue()),
  to: fc.oneof(fc.string(), fc.jsonValue()),
  token: fc.oneof(fc.string(), fc.jsonValue()),
  room: fc.oneof(fc.string(), fc.jsonValue()),
  ref: fc.oneof(fc.string(), fc.jsonValue()),
  before: fc.oneof(fc.integer(), fc.jsonValue()),
  limit: fc.oneof(fc.nat(), fc.jsonValue()),
}, { requiredKeys: [] });

Deno.test("decodeClientFrame() never throws anything but FrameError on random text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (line) => {
      const result = decode(line);
      if (!(result instanceof FrameError)) assertWellFormed(result);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decodeClientFrame() accepts or refuses frame-like JSON with a code", () => {
  fc.assert(
    fc.property(fc.oneof(frameLike, fc.jsonValue()), (value) => {
      const result = decode(JSON.stringify(value) ?? "null");
      if (result instanceof FrameError) {
        assert.ok(["bad_json", "bad_frame", "unknown_type"].includes(result.code));
      } else {
        assertWellFormed(result);
        // Every field kept came from the input, unchanged.
        for (const [k, v] of Object.entries(result)) {
          assert.deepEqual(v, (value as Record<string, unknown>)[k]);
        }
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decodeClientFrame() round-trips every valid say frame, whatever the text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      const line = encodeFrame({ type: "say", text } as never).trimEnd();
      assert.deepEqual(decodeClientFrame(line), { type: "say", text });
    }),
  );
});

Deno.test("decodeClientFrame() behind a LineReader: a frame at the limit passes, +1 is refused", () => {
  const max = 256;
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.nat(), (seed, cut) => {
      // Pad the text so the encoded frame is exactly max - 1, max or max + 1 bytes.
      for (const target of [max - 1, max, max + 1]) {
        let text = seed;
        let bytes = encoder.encode(JSON.stringify({ type: "say", text }));
        if (bytes.length > target) return;
        text += "x".repeat(target - bytes.length);
        bytes = encoder.encode(JSON.stringify({ type: "say", text }) + "\n");
        assert.equal(bytes.length, target + 1);
        const reader = new LineReader({ maxLineBytes: max });
        const at = cut % (bytes.length + 1);
        const [result, ...rest] = [
          ...reader.push(bytes.subarray(0, at)),
          ...reader.push(bytes.subarray(at)),
        ];
        assert.equal(rest.length, 0);
        if (target <= max) {
          if (!result?.ok) throw new Error(`refused: ${JSON.stringify(result)}`);
          assert.deepEqual(decodeClientFrame(result.line), { type: "say", text });
        } else {
          assert.deepEqual(result, { ok: false, code: "line_too_long" });
        }
      }
    }),
    { numRuns: 500 },
  );
});
