// Property-based tests of LineReader: whatever bytes arrive, however they are
// split across reads, the reader never throws, never holds more than the
// limit, and yields exactly what a simple reference splitter yields.

import assert from "@chat/assert";
import fc from "fast-check";
import { LineReader, type LineResult } from "../protocol/mod.ts";

const encoder = new TextEncoder();

/**
 * The reference: split the whole stream at `\n`, drop one `\r` before it,
 * refuse a line over `max` bytes, decode strict UTF-8. An unterminated last
 * line is delivered too (as `end()` does), unless empty.
 */
function referenceLines(bytes: Uint8Array, max: number): LineResult[] {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const out: LineResult[] = [];
  let start = 0;
  while (start <= bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    if (nl === -1 && end === start) break;
    let len = end - start;
    if (len > 0 && bytes[end - 1] === 0x0d) len--;
    if (max !== 0 && len > max) out.push({ ok: false, code: "line_too_long" });
    else {
      try {
        out.push({ ok: true, line: decoder.decode(bytes.subarray(start, start + len)) });
      } catch {
        out.push({ ok: false, code: "invalid_utf8" });
      }
    }
    if (nl === -1) break;
    start = nl + 1;
  }
  return out;
}

/** Splits bytes at the given cut points (any order, duplicates allowed). */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.slice(prev, p));
    prev = p;
  }
  return chunks;
}

/** Feeds chunks through one reusable buffer, as the TCP adapter does. */
function feed(reader: LineReader, chunks: Uint8Array[], max: number): LineResult[] {
  const out: LineResult[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (const c of chunks) {
    buf.set(c);
    out.push(...reader.push(buf.subarray(0, c.length)));
    buf.fill(0xaa, 0, c.length); // the reader must not have kept a view of it
    if (max !== 0) assert.ok(reader.bufferedBytes <= max + 1, `buffered ${reader.bufferedBytes}`);
  }
  out.push(...reader.end());
  return out;
}

/** Streams made of text (any script, emoji), CR, LF and raw bytes. */
const piece = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map((s) => encoder.encode(s)),
  },
  { weight: 2, arbitrary: fc.constantFrom(new Uint8Array([0x0a]), new Uint8Array([0x0d, 0x0a])) },
  { weight: 1, arbitrary: fc.constantFrom(new Uint8Array([0x0d])) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4 }) },
);
const stream = fc.array(piece, { maxLength: 30 }).map((pieces) => {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
});
const cuts = fc.array(fc.nat(), { maxLength: 20 });

Deno.test("LineReader.push() reassembles exactly what a reference splitter gives", () => {
  fc.assert(
    fc.property(stream, cuts, fc.constantFrom(0, 1, 4, 16, 64), (bytes, points, max) => {
      const reader = new LineReader({ maxLineBytes: max });
      assert.deepEqual(feed(reader, chunk(bytes, points), max), referenceLines(bytes, max));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("LineReader.push() never throws on random bytes, chunked anyhow", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      cuts,
      fc.nat({ max: 64 }),
      (bytes, points, max) => {
        const reader = new LineReader({ maxLineBytes: max });
        assert.deepEqual(feed(reader, chunk(bytes, points), max), referenceLines(bytes, max));
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("LineReader.push() splits a UTF-8 character across reads at every point", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 8 }), (text) => {
      const bytes = encoder.encode(text + "\n");
      for (let cut = 0; cut <= bytes.length; cut++) {
        const reader = new LineReader();
        const out = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
        assert.deepEqual(out, referenceLines(bytes, 32768));
      }
    }),
  );
});

Deno.test("LineReader.push() takes lines at the limit and refuses limit + 1", async (t) => {
  const max = 100;
  for (const [len, ok] of [[max - 1, true], [max, true], [max + 1, false]] as const) {
    for (const ending of ["\n", "\r\n"]) {
      await t.step(`${len} bytes, ${JSON.stringify(ending)}`, () => {
        fc.assert(
          fc.property(cuts, (points) => {
            const line = "é".repeat(Math.floor(len / 2)) + "x".repeat(len % 2);
            const bytes = encoder.encode(line + ending + "next\n");
            const out = feed(new LineReader({ maxLineBytes: max }), chunk(bytes, points), max);
            assert.deepEqual(out, [
              ok ? { ok: true, line } : { ok: false, code: "line_too_long" },
              { ok: true, line: "next" },
            ]);
          }),
          { numRuns: 200 },
        );
      });
    }
  }
});

Deno.test("LineReader.push() reports an endless line once and holds at most the limit", () => {
  const max = 1024;
  const reader = new LineReader({ maxLineBytes: max });
  const junk = new Uint8Array(64 * 1024).fill(0x41);
  const out: LineResult[] = [];
  for (let i = 0; i < 160; i++) { // 10 MiB without a newline
    out.push(...reader.push(junk));
    assert.ok(reader.bufferedBytes <= max + 1);
  }
  out.push(...reader.push(encoder.encode("tail\nafter\n")));
  assert.deepEqual(out, [{ ok: false, code: "line_too_long" }, { ok: true, line: "after" }]);
});

Deno.test("LineReader.push() gives many lines of one read as a line-by-line decode would (BOMs, CR, bad bytes)", () => {
  const lines = ["a", "\uFEFFb", "c\uFEFF", "\r", "", "é✓", "x\r"];
  const bytes = encoder.encode(lines.join("\n") + "\n");
  assert.deepEqual(new LineReader().push(bytes), referenceLines(bytes, 32768));
  const bad = new Uint8Array([...encoder.encode("ok\n"), 0xc3, 0x0a, ...encoder.encode("z\n")]);
  assert.deepEqual(new LineReader().push(bad), referenceLines(bad, 32768));
  const long = encoder.encode("12345\nabc\n123456\nd\ne\n");
  assert.deepEqual(new LineReader({ maxLineBytes: 5 }).push(long), referenceLines(long, 5));
});
