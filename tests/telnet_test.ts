// Plain-text and telnet clients (issue 11): a prompt on connect, the
// handshake-timeout message after a partial line, the least of Telnet
// (RFC 854/860), and a refusal before the first line that people and
// programs can both read. Real server over real sockets, plus property tests
// of the Telnet filter.

import assert from "@chat/assert";
import fc from "fast-check";
import { escapeTelnet, TelnetFilter } from "../protocol/mod.ts";
import { DEADLINE_MS, startTestServer, TestClient } from "./test_util.ts";

const IAC = 0xff, WILL = 0xfb, WONT = 0xfc, DO = 0xfd, DONT = 0xfe, SB = 0xfa, SE = 0xf0;
const BRK = 0xf3, TM = 6, ECHO = 1, NAWS = 31;

/** A raw socket that keeps every byte it reads, for replies that are not lines. */
class RawClient implements AsyncDisposable {
  bytes: number[] = [];
  readonly #conn: Deno.TcpConn;
  readonly #done: Promise<void>;
  #wake: (() => void) | undefined;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#done = (async () => {
      const buf = new Uint8Array(4096);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          this.bytes.push(...buf.subarray(0, n));
          this.#wake?.();
        }
      } catch { /* closed */ }
      this.#wake?.();
    })();
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async write(...parts: (string | number[])[]): Promise<void> {
    const enc = new TextEncoder();
    const chunks = parts.map((p) => typeof p === "string" ? [...enc.encode(p)] : p);
    let data = Uint8Array.from(chunks.flat());
    while (data.length > 0) data = data.subarray(await this.#conn.write(data));
  }

  /** Waits until the bytes received so far contain `needle` (at least `times` times). */
  async expect(needle: number[] | string, times = 1, timeoutMs = DEADLINE_MS): Promise<void> {
    const want = typeof needle === "string" ? [...new TextEncoder().encode(needle)] : needle;
    const deadline = Date.now() + timeoutMs;
    while (this.count(want) < times) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no ${JSON.stringify(needle)} within ${timeoutMs} ms; got ${
            JSON.stringify(new TextDecoder().decode(Uint8Array.from(this.bytes)))
          } (${this.bytes.slice(0, 40).join(",")})`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** How many times `want` occurs in the bytes received so far. */
  count(want: number[]): number {
    let found = 0;
    outer: for (let i = 0; i + want.length <= this.bytes.length; i++) {
      for (let j = 0; j < want.length; j++) if (this.bytes[i + j] !== want[j]) continue outer;
      found++;
    }
    return found;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#done;
  }
}

Deno.test("plain text: a silent new connection is asked for its nickname", async () => {
  await using server = await startTestServer();
  await using nc = await TestClient.connect(server.port);
  await nc.lines.expect("* nickname?");
  await nc.send("alice");
  await nc.lines.expect(/^\* welcome, alice!/);
  // A JSON client that speaks first never sees the prompt.
  await using bot = await TestClient.joinJson(server.port, "bot");
  assert.ok(bot.lines.seen.every((l) => l.startsWith("{")), bot.lines.seen.join("\n"));
});

Deno.test("plain text: a partial first line gets the handshake-timeout message before the close", async (t) => {
  await using server = await startTestServer(["--handshake-timeout", "0.5"]);
  await t.step("plain text", async () => {
    await using half = await TestClient.connect(server.port);
    await half.write("ali");
    await half.lines.expect("! handshake not completed in time");
    await half.lines.expectEnd();
  });
  await t.step("JSON", async () => {
    await using half = await TestClient.connect(server.port);
    await half.write('{"type":"hel');
    const frame = await half.expectFrame((f) => f.type === "error");
    assert.ok(frame.type === "error" && frame.code === "timeout");
    await half.lines.expectEnd();
  });
});

Deno.test("telnet: options are refused or answered, commands are stripped from input", async (t) => {
  await using server = await startTestServer();
  await using bob = await TestClient.joinText(server.port, "bob");
  await using telnet = await RawClient.connect(server.port);

  await t.step(
    "DO TIMING-MARK is answered WILL TIMING-MARK; other options are refused",
    async () => {
      await telnet.write([IAC, DO, TM, IAC, WILL, ECHO, IAC, DO, NAWS]);
      await telnet.expect([IAC, WILL, TM]);
      await telnet.expect([IAC, DONT, ECHO]);
      await telnet.expect([IAC, WONT, NAWS]);
    },
  );

  await t.step("a nickname with a break and a subnegotiation inside it", async () => {
    await telnet.write("te", [IAC, BRK], "l", [IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE], "ly\r\n");
    await telnet.expect("* welcome, telly!");
  });

  await t.step("CJK and emoji arrive; a TIMING-MARK mid-chat is answered again", async () => {
    const before = telnet.count([IAC, WILL, TM]);
    await telnet.write("日本語 and 🎉", [IAC, DO, TM], "\r\n");
    await bob.lines.expect("telly: 日本語 and 🎉");
    await telnet.expect([IAC, WILL, TM], before + 1);
    await bob.send("hi telly");
    await telnet.expect("bob: hi telly");
  });
});

Deno.test("refusal before the first line: one line for people, then the frame for programs", async () => {
  await using server = await startTestServer(["--max-clients", "1"]);
  await using _first = await TestClient.joinText(server.port, "first");
  await using nc = await TestClient.connect(server.port);
  await nc.lines.expect("! server is full, try again later");
  const frame = await nc.expectFrame((f) => f.type === "error");
  assert.ok(frame.type === "error" && frame.code === "too_many_connections");
  await nc.lines.expectEnd();
  assert.equal(nc.lines.seen[0], "! server is full, try again later");
});

Deno.test("property: TelnetFilter gives back the data of any stream, whatever the command split", () => {
  const command = fc.oneof(
    fc.tuple(fc.constantFrom(WILL, WONT, DO, DONT), fc.integer({ min: 0, max: 254 })).map((
      [v, o],
    ) => [IAC, v, o]),
    fc.constantFrom([IAC, BRK], [IAC, 0xf1], [IAC, 0xf4]),
    fc.uint8Array({ maxLength: 6 }).map((
      b,
    ) => [IAC, SB, ...[...b].filter((x) => x !== IAC), IAC, SE]),
  );
  const part = fc.oneof(
    fc.uint8Array({ maxLength: 20 }).map((b) => ({ data: [...b], wire: [...escapeTelnet(b)] })),
    command.map((c) => ({ data: [] as number[], wire: c })),
  );
  fc.assert(
    fc.property(
      fc.array(part, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (parts, cuts) => {
        const wire = parts.flatMap((p) => p.wire);
        const want = parts.flatMap((p) => p.data);
        const filter = new TelnetFilter();
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const got: number[] = [];
        let from = 0;
        for (const at of [...points, wire.length]) {
          got.push(...filter.push(Uint8Array.from(wire.slice(from, at))).data);
          from = at;
        }
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 1000 },
  );
});
