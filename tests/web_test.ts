/// <reference lib="dom" />
/**
 * The web client end to end, in a real headless Chromium: two browser pages,
 * a plain-text (`nc`-style) client and a JSON client in the same rooms.
 */

import assert from "@chat/assert";
import tls from "node:tls";
import { freePort, startTestServer, TestClient } from "./test_util.ts";
import {
  countInLog,
  expectInLog,
  login,
  openConversation,
  say,
  startBrowser,
  webUrl,
} from "./web_util.ts";

// A 1×1 PNG.
const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  ),
  (c) => c.charCodeAt(0),
);

Deno.test("web: page, WebSocket and headers follow the contract, on the chat port", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  assert.equal(url, `http://127.0.0.1:${server.port}`, "one port: chat, page and WebSocket");
  const page = await fetch(url + "/");
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.doesNotMatch(page.headers.get("content-security-policy") ?? "", /unsafe-inline/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.ok(page.headers.get("etag"));
  assert.doesNotMatch(html, /<script>(?!<\/script>)/, "no inline script");
  const again = await fetch(url + "/app.js", {
    headers: {
      "if-none-match": await fetch(url + "/app.js").then(async (r) => {
        await r.body?.cancel();
        return r.headers.get("etag")!;
      }),
    },
  });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  const missing = await fetch(url + "/nope");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();

  // The WebSocket speaks the same JSON frames, one per message.
  const ws = new WebSocket(url.replace("http", "ws") + "/ws");
  const frames: Record<string, unknown>[] = [];
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${type}: ${JSON.stringify(frames)}`)),
        10_000,
      );
      const check = () => {
        const f = frames.find((f) => f.type === type);
        if (f) {
          clearTimeout(timer);
          frames.splice(frames.indexOf(f), 1);
          resolve(f);
        } else setTimeout(check, 5);
      };
      check();
    });
  ws.onmessage = (e) => frames.push(JSON.parse(e.data));
  await new Promise((resolve) => (ws.onopen = resolve));
  await using tcp = await TestClient.joinText(server.port, "carol");
  ws.send(JSON.stringify({ type: "hello", version: 1, nick: "wsbot" }));
  const welcome = await next("welcome");
  assert.equal(welcome.nick, "wsbot");
  ws.send(JSON.stringify({ type: "say", text: "over websocket", ref: "r1" }));
  assert.equal((await next("ack")).ref, "r1");
  await tcp.lines.expect("wsbot: over websocket");
  await tcp.send("hello from tcp");
  assert.equal((await next("message")).text, "hello from tcp");
  // /commands go through the same registry.
  ws.send(JSON.stringify({ type: "input", text: "/topic web day" }));
  assert.equal((await next("topic")).topic, "web day");
  ws.send("not json");
  assert.equal((await next("error")).code, "bad_json");
  ws.close();

  // A plain-text user called GET is still a user.
  await using get = await TestClient.joinText(server.port, "GET");
  await get.send("my name is GET");
  await tcp.lines.expect("GET: my name is GET");

  // Another site's page may not open the WebSocket.
  const cross = await fetch(url + "/ws", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      origin: "http://evil.example",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assert.equal(cross.status, 403, await cross.text());
});

Deno.test("web: two pages, nc and a JSON client chat in rooms, history, privately, with files, across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-web-" });
  const db = `${dir}/chat.db`;
  const httpPort = freePort();
  let server = await startTestServer(["--http-port", String(httpPort), "--db", db]);
  const port = server.port;
  try {
    const url = await webUrl(server);
    await using browser = await startBrowser();
    await using carol = await TestClient.joinText(port, "carol");
    await using dave = await TestClient.joinJson(port, "dave");
    const alice = await browser.open(url);
    const bob = await browser.open(url);
    await login(alice, "alice");
    await login(bob, "bob");

    // The contract: a navigation landmark "Rooms" with an entry per room.
    await alice.waitForSelector('::-p-aria([name="Rooms"][role="navigation"])');
    await alice.waitForSelector(
      'nav[aria-label="Rooms"] ::-p-aria([name="#lobby"][role="button"])',
    );
    await alice.waitForSelector('[role="log"]');

    // Messages, both ways, with every kind of client; multi-line kept.
    await say(alice, "hello from the browser");
    await expectInLog(bob, "hello from the browser");
    await carol.lines.expect("alice: hello from the browser");
    await dave.expectFrame((f) => f.type === "message" && f.text === "hello from the browser");
    await carol.send("hi from nc");
    await dave.sendFrame({ type: "say", text: "hi from json" });
    await expectInLog(alice, "hi from nc");
    await expectInLog(alice, "hi from json");
    await say(bob, "line one\nline two");
    await dave.expectFrame((f) => f.type === "message" && f.text === "line one\nline two");
    await expectInLog(alice, "line one\nline two");
    // Acked: no longer pending on the sender's page.
    await bob.waitForFunction(() =>
      document.querySelectorAll('[role="log"] .pending').length === 0
    );

    // Rooms: join from the sidebar, and with /join.
    await alice.locator("::-p-aria(Join a room)").fill("#dev");
    await alice.keyboard.press("Enter");
    await openConversation(alice, "#dev");
    await say(bob, "/join #dev");
    await bob.waitForSelector('nav[aria-label="Rooms"] ::-p-aria([name="#dev"])');
    await expectInLog(alice, "bob joined");
    await carol.send("/join #dev");
    await carol.lines.expect(/now talking in #dev/);
    await say(alice, "dev talk");
    await carol.lines.expect("alice: dev talk");
    await expectInLog(bob, "dev talk");
    // Unread count on the other page's #lobby entry.
    await dave.sendFrame({ type: "say", text: "lobby news", room: "#lobby" });
    await bob.waitForFunction(() =>
      document.querySelector('nav[aria-label="Rooms"] [aria-label="#lobby"] .badge')
        ?.textContent === "1"
    );

    // A mention elsewhere: a mention badge on the room, and one in the tab title.
    await dave.sendFrame({ type: "say", text: "alice: ping", room: "#lobby" });
    await alice.waitForSelector('nav[aria-label="Rooms"] [aria-label="#lobby"] .badge.mention');
    await alice.waitForFunction(() => /^\(1\) /.test(document.title));
    // @ completes nicknames (Tab or Enter picks).
    const box = await alice.waitForSelector("::-p-aria(Message)");
    await box!.type("@bo");
    await alice.waitForSelector("#complete:not([hidden]) ::-p-text(@bob)");
    await alice.keyboard.press("Tab");
    assert.equal(await alice.$eval("#input", (el) => (el as HTMLTextAreaElement).value), "@bob ");
    await alice.$eval("#input", (el) => void ((el as HTMLTextAreaElement).value = ""));

    // History scroll-back: 120 older messages in #old, paged as /history.
    await dave.sendFrame({ type: "join", room: "#old" });
    for (let i = 1; i <= 120; i++) {
      await dave.sendFrame({ type: "say", text: `old ${i}`, room: "#old" });
    }
    for (let i = 1; i <= 120; i++) await dave.expectFrame((f) => f.type === "ack");
    await say(alice, "/join #old");
    await alice.waitForFunction(() =>
      document.querySelector("#conv-title")?.textContent === "#old"
    );
    await expectInLog(alice, "old 120");
    for (let i = 0; i < 10; i++) {
      const done = await alice.evaluate(() => {
        const log = document.querySelector('[role="log"]')!;
        log.scrollTop = 0;
        log.dispatchEvent(new Event("scroll"));
        return log.textContent!.includes("old 1") && log.textContent!.includes("beginning of #old");
      });
      if (done) break;
      await alice.waitForFunction(() =>
        !document.querySelector('[role="log"]')!.textContent!.includes("Loading")
      );
    }
    await expectInLog(alice, "This is the beginning of #old");
    assert.equal(await countInLog(alice, "old 1"), 1);
    assert.equal(await countInLog(alice, "old 60"), 1);

    // Private messages: from a page, from nc, shown under the person's name.
    await say(bob, "/msg alice psst alice");
    await alice.waitForSelector('nav[aria-label="Rooms"] ::-p-aria([name="bob"])');
    await carol.send("/msg alice from carol privately");
    await alice.waitForSelector('nav[aria-label="Rooms"] ::-p-aria([name="carol"])');
    await openConversation(alice, "bob");
    await expectInLog(alice, "psst alice");
    await say(alice, "psst back");
    await expectInLog(bob, "psst back");
    await openConversation(alice, "carol");
    await expectInLog(alice, "from carol privately");
    await say(alice, "hi carol");
    await carol.lines.expect(/alice.*hi carol/);

    // A file shared from a page: an image preview for the others, a link for nc.
    await openConversation(alice, "#dev");
    const tmpPng = `${dir}/dot.png`;
    await Deno.writeFile(tmpPng, PNG);
    const chooser = await alice.$("input#file-input");
    await (chooser as import("puppeteer-core").ElementHandle<HTMLInputElement>).uploadFile(tmpPng);
    await openConversation(bob, "#dev");
    await bob.waitForSelector('[role="log"] img.preview');
    const link = await carol.lines.expect(/^alice: dot\.png \(\d+ B\) http:\/\/\S+\/files\//);
    const fileUrl = /(http:\S+)/.exec(link)![1]!;
    const got = await fetch(fileUrl);
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), PNG);
    // Not an image: a download, never rendered.
    const token = await bob.evaluate(() => sessionStorage.getItem("chat.token"));
    const upload = await fetch(`${url}/upload?room=%23dev&name=notes.html`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "<script>alert(1)</script>",
    });
    assert.equal(upload.status, 201);
    const { url: notesUrl } = await upload.json();
    const notes = await fetch(notesUrl);
    assert.equal(notes.headers.get("content-type"), "application/octet-stream");
    assert.match(notes.headers.get("content-disposition") ?? "", /^attachment/);
    await notes.body?.cancel();
    await expectInLog(alice, "notes.html");
    // Only members may share in a room; a wrong token shares nothing.
    const outsider = await fetch(`${url}/upload?room=%23old&name=x.txt`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "x",
    });
    assert.equal(outsider.status, 403);
    await outsider.body?.cancel();
    const anonymous = await fetch(`${url}/upload?room=%23dev&name=x.txt`, {
      method: "POST",
      body: "x",
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();

    // The server restarts: pages show they are offline, resume, and send
    // what was typed meanwhile exactly once.
    await server.stop("SIGTERM");
    await alice.waitForSelector("#banner:not([hidden])");
    await say(alice, "typed while offline");
    server = await startTestServer([
      "--port",
      String(port),
      "--http-port",
      String(httpPort),
      "--db",
      db,
    ]);
    await alice.waitForSelector("#banner", { hidden: true, timeout: 40_000 });
    await bob.waitForSelector("#banner", { hidden: true, timeout: 40_000 });
    await expectInLog(bob, "typed while offline");
    await using carol2 = await TestClient.joinText(port, "carol2");
    await carol2.send("/join #dev");
    await carol2.send("after the restart");
    await expectInLog(alice, "after the restart");
    await expectInLog(bob, "after the restart");
    assert.equal(await countInLog(bob, "typed while offline"), 1);
    assert.equal(await countInLog(alice, "typed while offline"), 1);
    assert.equal(await countInLog(bob, "dev talk"), 1);
    for (const page of [alice, bob]) {
      assert.deepEqual(
        (page as unknown as { errors: string[] }).errors.filter((e) =>
          !/WebSocket|ERR_CONNECTION/.test(e)
        ),
        [],
      );
    }
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("web: HTTPS and WSS with the TLS certificate, on the TLS chat port", async () => {
  await using server = await startTestServer(["--tls-port", String(freePort())]);
  const url = await webUrl(server, "https");
  assert.equal(url, `https://127.0.0.1:${server.tlsPort}`);
  await using browser = await startBrowser({ acceptInsecureCerts: true });
  await using carol = await TestClient.joinText(server.port, "carol");
  const page = await browser.open(url);
  await login(page, "alice");
  await say(page, "over wss");
  await carol.lines.expect("alice: over wss");
  await carol.send("and back");
  await expectInLog(page, "and back");
  assert.ok(await page.evaluate(() => location.protocol === "https:"));

  const socket = tls.connect({
    host: "127.0.0.1",
    port: server.tlsPort!,
    rejectUnauthorized: false,
  });
  let reply = "";
  socket.on("data", (chunk) => reply += chunk);
  const closed = new Promise((resolve) => socket.on("close", resolve));
  socket.write(
    `GET /app.js HTTP/1.1\r\nHost: 127.0.0.1:${server.tlsPort}\r\nConnection: close\r\n\r\n`,
  );
  await closed;
  assert.match(reply, /^HTTP\/1.1 200 /);
  assert.match(reply, /content-type: text\/javascript/i);
  // The TLS chat port still speaks the chat inside TLS.
  const chat = tls.connect({ host: "127.0.0.1", port: server.tlsPort!, rejectUnauthorized: false });
  chat.write("dave\n");
  await carol.lines.expect(/dave/);
  chat.destroy();
});

Deno.test("web: WebSocket limits and framing: a long message is refused, fragments joined, pings answered, unmasked frames refused", async () => {
  await using server = await startTestServer(["--max-line", "200"]);
  const url = new URL(await webUrl(server));
  // Raw bytes, not lines: WebSocket frames carry no newlines.
  const raw = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(url.port) });
    let text = "";
    let ended = false;
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      const latin1 = new TextDecoder("latin1");
      try {
        for (let n; (n = await conn.read(buf)) !== null;) text += latin1.decode(buf.subarray(0, n));
      } catch { /* reset */ }
      ended = true;
    })();
    const until = async (done: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(text)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const lines = {
      expect: (s: string) => until(() => text.includes(s), s),
      expectEnd: () => until(() => ended, "end"),
    };
    await conn.write(new TextEncoder().encode(
      `GET /ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    await lines.expect("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    return { conn, lines, reading };
  };
  // A masked client frame (zero key), FIN or not.
  const frame = (opcode: number, payload: string, fin = true, masked = true) => {
    const p = new TextEncoder().encode(payload);
    const length = p.length < 126 ? [p.length] : [126, p.length >> 8, p.length & 0xff];
    const head = [(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | length[0]!, ...length.slice(1)];
    return Uint8Array.from([...head, ...(masked ? [0, 0, 0, 0] : []), ...p]);
  };
  {
    const { conn, lines } = await raw();
    await conn.write(frame(1, '{"type":"hello","vers', false));
    await conn.write(frame(0, 'ion":1,"nick":"frag"}'));
    await lines.expect('"nick":"frag"');
    await conn.write(frame(9, "are you there"));
    await lines.expect("\rare you there"); // a pong (length 13) with the same payload
    await conn.write(frame(1, JSON.stringify({ type: "say", text: "x".repeat(300) })));
    await lines.expect('"code":"line_too_long"');
    await lines.expectEnd();
    conn.close();
  }
  {
    const { conn, lines } = await raw();
    await conn.write(frame(1, '{"type":"hello","version":1,"nick":"bare"}', true, false));
    await lines.expectEnd();
    conn.close();
  }
});
