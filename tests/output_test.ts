// User text can never look like the server, and what the server writes is
// always well-formed (issue 11): `/me` actions and notices differ in plain
// text, lone surrogates never reach a JSON receiver, U+2028/U+2029 are line
// breaks for plain-text readers, echoed values are neutralised. Real server
// over real sockets, plus property tests of the decoder and renderers.

import assert from "@chat/assert";
import fc from "fast-check";
import {
  decodeClientFrame,
  encodeFrame,
  formatPlainText,
  sanitizeText,
  type ServerFrame,
} from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

Deno.test("output: a /me action never looks like a server notice in plain text", async () => {
  await using server = await startTestServer();
  await using reader = await TestClient.joinText(server.port, "reader");
  await using spoofer = await TestClient.joinJson(server.port, "spoofer");
  await reader.lines.expect("* spoofer joined the chat");
  await spoofer.sendFrame({ type: "me", text: "left the chat" });
  await reader.lines.expect("** spoofer left the chat");
  await spoofer.sendFrame({ type: "quit" });
  await reader.lines.expect("* spoofer left the chat");
  // The only single-star line about the spoofer leaving is the real one.
  assert.equal(reader.lines.seen.filter((l) => l === "* spoofer left the chat").length, 1);
});

Deno.test("output: lone surrogates never reach a JSON receiver; U+2028 is a line break in plain text", async (t) => {
  await using server = await startTestServer();
  await using json = await TestClient.joinJson(server.port, "jay");
  await using text = await TestClient.joinText(server.port, "tex");
  await using sender = await TestClient.joinJson(server.port, "sam");

  await t.step("a lone surrogate in text and ref becomes U+FFFD", async () => {
    await sender.write('{"type":"say","text":"a\\ud800b","ref":"r\\udfff"}\n');
    const line = await json.lines.expect((l) => l.includes('"type":"message"'));
    assert.ok(!/\\ud[89a-f]/i.test(line), line);
    const frame = JSON.parse(line) as ServerFrame;
    assert.ok(frame.type === "message" && frame.text === "a\ufffdb");
    const ack = await sender.expectFrame((f) => f.type === "ack");
    assert.ok(ack.type === "ack" && ack.ref === "r\ufffd");
    await text.lines.expect("sam: a\ufffdb");
  });

  await t.step("U+2028 and U+2029 are line breaks, never raw", async () => {
    await sender.sendFrame({ type: "say", text: "one\u2028two\u2029three" });
    await text.lines.expect("sam: one");
    await text.lines.expect("     two");
    await text.lines.expect("     three");
    const frame = await json.expectFrame((f) => f.type === "message" && f.text.startsWith("one"));
    assert.ok(frame.type === "message" && frame.text === "one\ntwo\nthree");
    assert.ok(!text.lines.seen.some((l) => /[\u2028\u2029]/.test(l)));
  });

  await t.step(
    "an echoed refused value has its bidi and control characters neutralised",
    async () => {
      await sender.sendFrame({ type: "msg", to: "x\u202ey\u2066z", text: "hi" });
      const line = await sender.lines.expect((l) => l.includes("no_such_nick"));
      assert.ok(!/[\u202e\u2066]/.test(line), line);
      assert.match(line, /x<U\+202E>y<U\+2066>z/);
      await text.send("/join #a\u202eb");
      const refusal = await text.lines.expect(/^! room name/);
      assert.ok(!/[\u202e]/.test(refusal), refusal);
    },
  );
});

Deno.test("property: every string a client frame carries is well-formed after decoding", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ maxLength: 8 }),
      (s, r) => {
        const line = JSON.stringify({ type: "say", text: s, ref: s + r });
        const frame = decodeClientFrame(line) as { text: string; ref: string };
        assert.ok(frame.text.isWellFormed() && frame.ref.isWellFormed());
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("property: a message from any text encodes to well-formed JSON and a clean plain-text line", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (raw) => {
      const text = sanitizeText(raw);
      const frame: ServerFrame = { type: "message", id: 1, room: "#lobby", from: "a", text, ts: 0 };
      const line = encodeFrame(frame);
      assert.ok(line.isWellFormed());
      assert.ok(!/\\ud[89a-f][0-9a-f]{2}/i.test(line), line);
      assert.equal(line.indexOf("\n"), line.length - 1);
      assert.deepEqual(JSON.parse(line), frame);
      for (const type of ["message", "action"] as const) {
        const plain = formatPlainText({ ...frame, type })!;
        assert.ok(plain.isWellFormed());
        assert.ok(
          // deno-lint-ignore no-control-regex -- the point is that none is left
          !/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(plain),
        );
        // Every line of it is the sender's: the first starts with the
        // sender's prefix, the others are indented; none looks like a notice.
        const [first, ...rest] = plain.split("\n");
        assert.ok(first!.startsWith(type === "message" ? "a: " : "** a "));
        for (const l of rest) assert.ok(l.startsWith(" "), JSON.stringify(plain));
      }
    }),
    { numRuns: 2000 },
  );
});
