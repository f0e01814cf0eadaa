/**
 * The front door of the chat ports: one port serves the page (through
 * `node:http`), the WebSocket (handshake and frames of our own, through the
 * send queue) and the chat lines, told apart by the first line; bad
 * upgrades get a clear 4xx; the door's limits hold.
 */

import assert from "@chat/assert";
import net from "node:net";
import tls from "node:tls";
import { sniffRequestLine } from "../server/transports/tcp.ts";
import { parseRequestHead } from "../server/transports/web_door.ts";
import { wsFramesOf } from "../server/transports/websocket.ts";
import { freePort, LineQueue, startTestServer, TestClient } from "./test_util.ts";

const encoder = new TextEncoder();
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Connects, writes `request`, and collects what comes back until the server closes (or `until`). */
async function exchange(
  port: number,
  request: string | Uint8Array,
  until?: (reply: string) => boolean,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = typeof request === "string" ? encoder.encode(request) : request;
  const writing = (async () => {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  })().catch(() => {});
  let reply = "";
  const latin1 = new TextDecoder("latin1");
  const buf = new Uint8Array(65536);
  const timer = setTimeout(() => conn.close(), 15_000);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      reply += latin1.decode(buf.subarray(0, n));
      if (until?.(reply)) break;
    }
  } catch { /* reset, or the deadline */ }
  clearTimeout(timer);
  await writing;
  try {
    conn.close();
  } catch { /* closed */ }
  return reply;
}

function upgrade(port: number, extra: Record<string, string> = {}, path = "/ws"): string {
  const headers: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...extra,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== "").map(([k, v]) => `${k}: ${v}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

Deno.test("web door: the first line tells an HTTP request from a chat line", () => {
  const b = (s: string) => encoder.encode(s);
  assert.equal(sniffRequestLine(b("GET / HTTP/1.1\r\nHost: x\r\n")), "http");
  assert.equal(sniffRequestLine(b("POST /upload?room=%23lobby HTTP/1.1\n")), "http");
  assert.equal(sniffRequestLine(b("GET / HTT")), "wait");
  assert.equal(sniffRequestLine(b("GET")), "wait");
  assert.equal(sniffRequestLine(b("GET\n")), "chat", "a user called GET");
  assert.equal(sniffRequestLine(b("GET is my name\n")), "chat");
  assert.equal(sniffRequestLine(b('{"type":"hello"}\n')), "chat");
  assert.equal(sniffRequestLine(b("alice\n")), "chat");
  assert.equal(sniffRequestLine(b("\xff\xfb\x01")), "chat", "telnet negotiation");
  assert.equal(sniffRequestLine(b("Bob\x00")), "chat");
  assert.equal(sniffRequestLine(b("A".repeat(9000))), "chat", "no endless wait");
  const head = parseRequestHead(b("GET /ws HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\nREST"));
  if (!head) throw new Error("no head");
  assert.equal(head.headers.get("x-a"), "1, 2");
  assert.equal(new TextDecoder().decode(head.rest), "REST");
  assert.equal(parseRequestHead(b("GET /ws HTTP/1.1\r\nHost: h\r\n")), undefined);
  assert.equal(parseRequestHead(b("GET /ws HTTP/1.1\r\nno colon\r\n\r\n")), null);
});

Deno.test("websocket: JSON lines become one text frame each, framed once per byte array", () => {
  const lines = encoder.encode(`a\nbb\n${"x".repeat(200)}\n`);
  const wire = wsFramesOf(lines);
  assert.deepEqual([...wire.subarray(0, 7)], [0x81, 1, 0x61, 0x81, 2, 0x62, 0x62]);
  assert.deepEqual([...wire.subarray(7, 11)], [0x81, 126, 0, 200]);
  assert.equal(wire.length, 7 + 4 + 200);
  // Interleaved sends of a few arrays: each framed once, and unchanged.
  const others = Array.from({ length: 8 }, (_, i) => encoder.encode(`{"n":${i}}\n`));
  const first = others.map((o) => wsFramesOf(o));
  for (let round = 0; round < 3; round++) {
    others.forEach((o, i) => assert.equal(wsFramesOf(o), first[i]));
  }
  assert.equal(wsFramesOf(lines), wire);
  // Equal bytes in another array are framed alike.
  assert.deepEqual(wsFramesOf(lines.slice()), wire);
});

Deno.test("web door: one port serves the page (keep-alive, pipelined), WebSocket, plain text and JSON", async () => {
  await using server = await startTestServer();
  const port = server.port;
  await using carol = await TestClient.joinText(port, "carol");
  await using bot = await TestClient.joinJson(port, "bot");
  // Two requests pipelined in one write, on one kept-alive connection.
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const pipelined = await exchange(
    port,
    `GET /style.css HTTP/1.1\r\n${host}\r\nHEAD / HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
  );
  assert.equal(pipelined.match(/^HTTP\/1.1 200 OK/gm)?.length, 2, pipelined);
  assert.match(pipelined, /content-type: text\/css/i);
  assert.match(pipelined, /content-security-policy: default-src 'none'/i);
  // Keep-alive: a second request after the first answer, on the same connection.
  {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let text = "";
    const buf = new Uint8Array(65536);
    const read = async (done: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!done() && Date.now() < deadline) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    };
    await conn.write(encoder.encode(`GET /nope HTTP/1.1\r\n${host}\r\n`));
    await read(() => text.includes("not found\n"));
    assert.match(text, /^HTTP\/1.1 404 /);
    await conn.write(encoder.encode(`GET /icon.svg HTTP/1.1\r\n${host}\r\n`));
    await read(() => /HTTP\/1.1 200 OK[\s\S]*<\/svg>/.test(text));
    assert.match(text, /image\/svg\+xml/);
    conn.close();
  }
  // The WebSocket, on the same port, in the same room as the TCP clients.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const frames: { type: string; text?: string; nick?: string }[] = [];
  ws.onmessage = (e) => frames.push(JSON.parse(e.data));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send(JSON.stringify({ type: "hello", version: 1, nick: "webby" }));
  ws.send(JSON.stringify({ type: "say", text: "from the web" }));
  await carol.lines.expect("webby: from the web");
  await bot.expectFrame((f) => f.type === "message" && f.text === "from the web");
  await carol.send("from nc");
  const deadline = Date.now() + 10_000;
  while (!frames.some((f) => f.type === "message" && f.text === "from nc")) {
    if (Date.now() > deadline) throw new Error(`no message: ${JSON.stringify(frames)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
  await carol.lines.expect(/webby/);
  // A request line after the chat began is a chat line.
  await carol.send("GET / HTTP/1.1");
  await bot.expectFrame((f) => f.type === "message" && f.text === "GET / HTTP/1.1");
});

Deno.test("web door: bad upgrades get a clear 4xx", async () => {
  await using server = await startTestServer();
  const port = server.port;
  const cases: [string, RegExp, RegExp][] = [
    [upgrade(port, {}, "/chat"), /^HTTP\/1.1 404 /, /WebSocket only at \/ws/],
    [
      upgrade(port, { "Sec-WebSocket-Version": "8" }),
      /^HTTP\/1.1 426 /,
      /Sec-WebSocket-Version: 13/,
    ],
    [upgrade(port, { "Sec-WebSocket-Key": "short" }), /^HTTP\/1.1 400 /, /Sec-WebSocket-Key/],
    [upgrade(port, { Connection: "keep-alive" }), /^HTTP\/1.1 400 /, /Connection: Upgrade/],
    [
      upgrade(port, { Origin: "http://evil.example" }),
      /^HTTP\/1.1 403 /,
      /cross-origin WebSocket refused/,
    ],
    [
      upgrade(port).replace("HTTP/1.1", "HTTP/1.0"),
      /^HTTP\/1.1 400 /,
      /GET over HTTP\/1.1/,
    ],
    [
      upgrade(port, { "X-Big": "x".repeat(20_000) }),
      /^HTTP\/1.1 431 /,
      /request head over 16384 bytes/,
    ],
    [`GET /ws HTTP/1.1\r\nHost: h\r\nbroken header\r\n\r\n`, /^HTTP\/1.1 400 /, /malformed/],
    // Not an upgrade at all: node:http says where the WebSocket is.
    [`GET /ws HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, /^HTTP\/1.1 426 /, /WebSocket/],
  ];
  for (const [request, status, why] of cases) {
    const reply = await exchange(port, request);
    assert.match(reply, status, request.slice(0, 200));
    assert.match(reply, why, reply);
  }
  // A good one, same origin, with a first frame in the same write as the head.
  const hello = encoder.encode(JSON.stringify({ type: "hello", version: 1, nick: "quick" }));
  const frame = Uint8Array.from([0x81, 0x80 | hello.length, 0, 0, 0, 0, ...hello]);
  const head = encoder.encode(upgrade(port, { Origin: `http://127.0.0.1:${port}` }));
  const reply = await exchange(
    port,
    Uint8Array.from([...head, ...frame]),
    (r) => r.includes('"welcome"'),
  );
  assert.match(reply, /^HTTP\/1.1 101 Switching Protocols\r\n/);
  assert.match(reply, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  assert.match(reply, /"nick":"quick"/);
});

Deno.test("web door: limits: a slow head times out, relays per address, uploads up to the limit, WebSockets count", async () => {
  await using server = await startTestServer([
    "--handshake-timeout",
    "1",
    "--max-per-ip",
    "3",
    "--max-upload",
    "3000000",
  ]);
  const port = server.port;
  // Slowloris: a head that never ends is answered 408 and closed.
  const slow = await exchange(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: 1\r\n`);
  assert.match(slow, /^HTTP\/1.1 408 /);

  // An upload of exactly the limit passes through the door; one byte more does not.
  await using alice = await TestClient.joinJson(port, "alice");
  const welcome = alice.lines.seen.map((l) => JSON.parse(l)).find((f) => f.type === "welcome");
  const token = welcome.resume as string;
  const body = new Uint8Array(3_000_000).map((_, i) => i & 0xff);
  const url = `http://127.0.0.1:${port}`;
  const up = await fetch(`${url}/upload?name=big.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  assert.equal(up.status, 201, await up.clone().text());
  const { url: link } = await up.json();
  const back = new Uint8Array(await (await fetch(link)).arrayBuffer());
  assert.equal(back.length, body.length);
  assert.deepEqual(back.subarray(0, 1000), body.subarray(0, 1000));
  assert.deepEqual(back.subarray(-1000), body.subarray(-1000));
  const over = await fetch(`${url}/upload?name=big.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: new Uint8Array(3_000_001),
  });
  assert.equal(over.status, 413);
  await over.body?.cancel();

  // --max-per-ip 3: alice holds one; two WebSockets fill it; the next is refused.
  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      ws.onopen = () => {
        // Active sessions: the 1 s handshake timeout does not close them.
        ws.send(
          JSON.stringify({ type: "hello", version: 1, nick: `ws${Math.random()}`.slice(0, 12) }),
        );
        resolve(ws);
      };
      ws.onerror = reject;
    });
  const one = await open();
  const two = await open();
  await assert.rejects(open());
  // What that browser was told, and the page: HTTP 503 while this address holds its three.
  for (const request of [upgrade(port), `GET / HTTP/1.1\r\nHost: h\r\n\r\n`]) {
    const reply = await exchange(port, request);
    assert.match(reply, /^HTTP\/1.1 503 /);
    assert.match(reply, /too many connections from 127\.0\.0\.1/);
  }
  // A chat client is told in its own words.
  await using late = await TestClient.connect(port);
  await late.send("latecomer");
  await late.lines.expect("! too many connections from 127.0.0.1");
  for (const ws of [one, two]) ws.close();
});

Deno.test("web door: an upgrade after a first request on the connection is told to open a new one", async () => {
  await using server = await startTestServer();
  const port = server.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let reply = "";
  const buf = new Uint8Array(65536);
  const readUntil = async (done: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!done() && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
  };
  await conn.write(encoder.encode(`GET /icon.svg HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
  await readUntil(() => reply.includes("</svg>"));
  await conn.write(encoder.encode(upgrade(port)));
  await readUntil(() => reply.includes("new connection\n"));
  conn.close();
  assert.match(reply, /^HTTP\/1.1 200 OK/);
  assert.match(reply, /HTTP\/1.1 400 Bad Request[\s\S]*open the WebSocket on a new connection/);
});

Deno.test("web door: over TLS the nickname prompt waits for the handshake, so a slow one never spoils the answer", async () => {
  await using server = await startTestServer(["--tls-port", String(freePort())]);
  // A client whose TLS handshake starts well after the TCP connection was
  // accepted (a slow link): the latency is the scenario, not a synchronisation.
  const raw = net.connect(server.tlsPort!, "127.0.0.1");
  await new Promise((resolve) => raw.once("connect", resolve));
  await new Promise((resolve) => setTimeout(resolve, 700));
  const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
  await new Promise((resolve) => socket.once("secureConnect", resolve));
  let reply = "";
  socket.on("data", (chunk) => reply += chunk);
  const closed = new Promise((resolve) => socket.on("close", resolve));
  socket.write(`GET /icon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await closed;
  assert.match(reply, /^HTTP\/1.1 200 OK/);
});

Deno.test("web door: a host that opened the page is not asked for a nickname on a silent connection, so a browser's spare socket still serves the page", async () => {
  await using server = await startTestServer();
  const request = `GET /icon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
  assert.match(await exchange(server.port, request), /^HTTP\/1.1 200 OK/);
  // A browser's spare connection (Chromium keeps one unused up to 10 s, then
  // sends a request on it even with bytes waiting): silent well past the
  // prompt's 300 ms, then a page request. The wait is the scenario.
  const spare = net.connect(server.port, "127.0.0.1");
  await new Promise((resolve) => spare.once("connect", resolve));
  let reply = "";
  spare.on("data", (chunk) => reply += chunk);
  const closed = new Promise((resolve) => spare.on("close", resolve));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  spare.write(request);
  await closed;
  assert.match(reply, /^HTTP\/1.1 200 OK/);
  // A host that never opened the page (127.0.0.2, through a fixture that
  // binds it as the source) is still asked at once.
  const fixture = new URL("./fixtures/remote_client.ts", import.meta.url).pathname;
  const nc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1,127.0.0.2", fixture, String(server.port), "127.0.0.2"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = new LineQueue(nc.stdout);
  try {
    await lines.expect("* nickname?");
  } finally {
    nc.kill("SIGKILL");
    await nc.status;
    await nc.stdin.close().catch(() => {});
    await lines.done;
  }
});
