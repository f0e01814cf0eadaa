/// <reference lib="dom" />
/**
 * The web client's promises to a person, one by one, in headless Chromium:
 * resume after a dropped connection without gaps or duplicates, landing at
 * the first unread message, leaving a room, notifications asked for once,
 * sharing by paste and by drag and drop, a phone's width, the colour
 * scheme, colour emoji, links, and keyboard-only use.
 */

import assert from "@chat/assert";
import type { Page } from "puppeteer-core";
import { startTcpProxy, startTestServer, TestClient, type TestServer } from "./test_util.ts";
import {
  countInLog,
  expectInLog,
  login,
  openConversation,
  say,
  startBrowser,
  webUrl,
} from "./web_util.ts";

/** Sends a room line as a JSON client and waits for its ack. */
async function sayAs(client: TestClient, text: string, room = "#lobby"): Promise<void> {
  const ref = `r${Math.random().toString(36).slice(2)}`;
  await client.sendFrame({ type: "say", text, room, ref });
  await client.expectFrame((f) => f.type === "ack" && f.ref === ref);
}

const errorsOf = (page: Page) =>
  (page as Page & { errors: string[] }).errors.filter((e) => !/WebSocket|ERR_CONNECTION/.test(e));

/**
 * alice's page behind a TCP proxy that the test can cut (the only way to drop
 * one browser connection while the server stays up), bob (JSON) beside her,
 * and a first line from bob she has seen.
 */
async function pageBehindProxy(server: TestServer, first: string) {
  const proxy = startTcpProxy(Number(new URL(await webUrl(server)).port));
  const browser = await startBrowser();
  const bob = await TestClient.joinJson(server.port, "bob");
  const page = await browser.open(`http://127.0.0.1:${proxy.port}`);
  await login(page, "alice");
  await sayAs(bob, first);
  await expectInLog(page, first);
  return {
    proxy,
    bob,
    page,
    /** Cuts alice's connection, and keeps it cut, until her page says it is offline. */
    async drop() {
      proxy.cut({ hold: true });
      await page.waitForSelector("#banner:not([hidden])");
    },
    /** Lets her page back in and waits until it is online again. */
    async restore() {
      proxy.restore();
      await page.waitForSelector("#banner", { hidden: true, timeout: 40_000 });
    },
    async [Symbol.asyncDispose]() {
      await bob[Symbol.asyncDispose]();
      await browser[Symbol.asyncDispose]();
      await proxy[Symbol.asyncDispose]();
    },
  };
}

Deno.test("web: a dropped connection shows offline, resumes without gaps or duplicates, and sends what was typed once", async () => {
  await using server = await startTestServer();
  await using alice = await pageBehindProxy(server, "before the drop");
  const { bob, page } = alice;
  await alice.drop();
  assert.match(await page.$eval("#banner", (el) => el.textContent ?? ""), /Offline/);
  for (let i = 1; i <= 3; i++) await sayAs(bob, `while away ${i}`);
  await say(page, "typed while offline");
  await page.waitForSelector('[role="log"] .pending');

  await alice.restore();
  for (let i = 1; i <= 3; i++) await expectInLog(page, `while away ${i}`);
  await bob.expectFrame((f) => f.type === "message" && f.text === "typed while offline");
  await sayAs(bob, "after the return");
  await expectInLog(page, "after the return");
  for (const text of ["before the drop", "while away 1", "while away 3", "typed while offline"]) {
    assert.equal(await countInLog(page, text), 1, text);
  }
  await page.waitForFunction(() => document.querySelectorAll('[role="log"] .pending').length === 0);
  // Sent once: bob saw no second copy before his own later line came back.
  const copies = bob.lines.seen.filter((l) => l.includes('"typed while offline"')).length;
  assert.equal(copies, 1);
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: opening a room lands at the first unread message; Leave leaves", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.sendFrame({ type: "join", room: "#dev" });
  await bob.expectFrame((f) => f.type === "room" && f.room === "#dev");
  for (let i = 1; i <= 30; i++) await sayAs(bob, `read ${i}`, "#dev");
  const page = await browser.open(url, { width: 1000, height: 600 });
  await login(page, "alice");
  await say(page, "/join #dev");
  await page.waitForFunction(() => document.querySelector("#conv-title")?.textContent === "#dev");
  await expectInLog(page, "read 30");
  await openConversation(page, "#lobby");
  for (let i = 1; i <= 40; i++) await sayAs(bob, `unread ${i}`, "#dev");
  await page.waitForFunction(() =>
    document.querySelector('nav[aria-label="Rooms"] [aria-label="#dev"] .badge')
      ?.textContent === "40"
  );
  await openConversation(page, "#dev");
  // The marker sits right before "unread 1", and it is in view; the newest is not.
  const where = await page.evaluate(() => {
    const log = document.querySelector('[role="log"]')!;
    const mark = log.querySelector(".unread-mark");
    const box = log.getBoundingClientRect();
    const top = mark?.getBoundingClientRect();
    const next = mark?.nextElementSibling?.querySelector(".body")?.textContent;
    const last = [...log.querySelectorAll(".body")].at(-1)!.getBoundingClientRect();
    return {
      next,
      visible: !!top && top.top >= box.top - 1 && top.bottom <= box.bottom + 1,
      lastBelow: last.top > box.bottom,
    };
  });
  assert.deepEqual(where, { next: "unread 1", visible: true, lastBelow: true });
  const badge = await page.$('nav[aria-label="Rooms"] [aria-label="#dev"] .badge');
  assert.equal(badge, null, "read now");

  // The topic in the header, the members beside.
  await bob.sendFrame({ type: "topic", room: "#dev", text: "ship it friday" });
  await page.waitForFunction(() =>
    document.querySelector("#conv-topic")?.textContent === "ship it friday"
  );
  assert.deepEqual(
    await page.$$eval("#member-list li", (items) => items.map((li) => li.textContent)),
    ["●alice (you)", "●@bob"],
  );

  await page.locator("::-p-aria(Leave)").click();
  await bob.expectFrame((f) => f.type === "left" && f.nick === "alice" && f.room === "#dev");
  await page.waitForFunction(() =>
    !document.querySelector('nav[aria-label="Rooms"] [aria-label="#dev"]') &&
    document.querySelector("#conv-title")?.textContent === "#lobby"
  );
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: notifications are asked for once; mentions and private messages notify and badge the title", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const context = await browser.browser.createBrowserContext();
  const page = await context.newPage();
  // Headless Chromium shows no notifications: a stand-in Notification records
  // what the page asks for and shows, with the browser's permission rules.
  await page.evaluateOnNewDocument(() => {
    const w = globalThis as unknown as Record<string, unknown>;
    const shown: { title: string; body: string }[] = [];
    let asked = Number(localStorage.getItem("test.asked") ?? 0);
    class FakeNotification {
      static permission = localStorage.getItem("test.permission") ?? "default";
      static requestPermission() {
        asked++;
        localStorage.setItem("test.asked", String(asked));
        FakeNotification.permission = "granted";
        localStorage.setItem("test.permission", "granted");
        return Promise.resolve("granted");
      }
      onclick: (() => void) | null = null;
      constructor(title: string, options: { body: string }) {
        shown.push({ title, body: options.body });
      }
      close() {}
    }
    w.Notification = FakeNotification;
    w.testNotifications = () => ({ shown, asked });
  });
  await page.goto(url);
  await login(page, "alice");
  const button = "::-p-aria(Enable notifications)";
  await page.locator(button).click();
  await page.waitForSelector("#notify-button", { hidden: true });
  await page.reload();
  await page.waitForSelector("::-p-aria(Message)", { visible: true });
  assert.equal(await page.$eval("#notify-button", (el) => (el as HTMLElement).hidden), true);

  await say(page, "/join #dev");
  await page.waitForFunction(() => document.querySelector("#conv-title")?.textContent === "#dev");
  await sayAs(bob, "alice: standup in 5?", "#lobby");
  await bob.sendFrame({ type: "msg", to: "alice", text: "psst" });
  await page.waitForFunction(() =>
    (globalThis as unknown as { testNotifications(): { shown: unknown[] } })
      .testNotifications().shown.length === 2
  );
  const seen = await page.evaluate(() =>
    (globalThis as unknown as { testNotifications(): unknown }).testNotifications()
  );
  assert.deepEqual(seen, {
    asked: 1,
    shown: [
      { title: "bob in #lobby", body: "alice: standup in 5?" },
      { title: "bob (private)", body: "psst" },
    ],
  });
  await page.waitForFunction(() => document.title.startsWith("(2) "));
  await openConversation(page, "bob");
  await page.waitForFunction(() => document.title.startsWith("(1) "));
  await openConversation(page, "#lobby");
  await page.waitForFunction(() => !document.title.startsWith("("));
});

/** A 1×1 PNG. */
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

Deno.test("web: a pasted image and a dropped file are shared in the room; the others see them; --max-upload holds", async () => {
  await using server = await startTestServer([
    "--max-upload",
    "4000",
  ]);
  const url = await webUrl(server);
  await using browser = await startBrowser();
  await using bob = await TestClient.joinJson(server.port, "bob");
  await using carol = await TestClient.joinText(server.port, "carol");
  const page = await browser.open(url);
  await login(page, "alice");
  const other = await browser.open(url);
  await login(other, "dave");

  // Paste: the clipboard holds an image file (as after a screenshot).
  await page.evaluate((png: string) => {
    const data = new DataTransfer();
    const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
    const input = document.querySelector("#input")!;
    input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
  }, PNG);
  const pasted = await bob.expectFrame((f) =>
    f.type === "message" && f.from === "alice" && f.text.startsWith("pasted.png ")
  );
  await carol.lines.expect(/^alice: pasted\.png \(\d+ B\) http:\/\/\S+\/files\//);
  await other.waitForSelector('[role="log"] img.preview[alt="pasted.png"]');
  const image = await fetch(/(http:\S+)/.exec((pasted as { text: string }).text)![1]!);
  assert.equal(image.headers.get("content-type"), "image/png");
  await image.body?.cancel();

  // Drag and drop: a hint while dragging, then the file is shared.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(["meeting notes\n"], "notes.txt", { type: "text/plain" }));
    const main = document.querySelector("#main")!;
    main.dispatchEvent(new DragEvent("dragenter", { dataTransfer: data, bubbles: true }));
  });
  await page.waitForSelector("#drop-hint:not([hidden])");
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(["meeting notes\n"], "notes.txt", { type: "text/plain" }));
    const main = document.querySelector("#main")!;
    main.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
  });
  await page.waitForSelector("#drop-hint", { hidden: true });
  const dropped = await bob.expectFrame((f) =>
    f.type === "message" && f.from === "alice" && f.text.startsWith("notes.txt ")
  );
  await other.waitForSelector('[role="log"] a.file-link[download]');
  const file = await fetch(/(http:\S+)/.exec((dropped as { text: string }).text)![1]!);
  assert.match(file.headers.get("content-disposition") ?? "", /^attachment/);
  assert.equal(await file.text(), "meeting notes\n");

  // Too big for --max-upload: refused with the limit, shown on the sender's line only.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(["x".repeat(5000)], "big.bin"));
    const main = document.querySelector("#main")!;
    main.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
  });
  await page.waitForSelector('[role="log"] .msg.failed');
  await expectInLog(page, "big.bin: files may be at most 4.0 KB");
  // Streamed without a length, it is cut off while reading, not only by Content-Length.
  const token = await page.evaluate(() => sessionStorage.getItem("chat.token"));
  const streamed = await fetch(`${url}/upload?room=%23lobby&name=big.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: ReadableStream.from([new Uint8Array(3000), new Uint8Array(3000)]),
  });
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();
  await sayAs(bob, "nothing big came");
  await expectInLog(other, "nothing big came");
  assert.ok(!bob.lines.seen.some((l) => l.includes("big.bin")));
  for (const p of [page, other]) {
    // The browser logs the refused upload's 413 itself.
    assert.deepEqual(errorsOf(p).filter((e) => !/status of 413/.test(e)), []);
  }
});

Deno.test("web: a phone's width: no sideways scrolling, rooms and members open as panels", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  const page = await browser.open(url, { width: 390, height: 760 });
  const fits = () =>
    page.evaluate(() => document.documentElement.scrollWidth <= globalThis.innerWidth);
  assert.ok(await fits(), "the login screen fits");
  await login(page, "alice");
  await say(page, "a long line ".repeat(30) + "https://example.com/" + "x".repeat(200));
  await expectInLog(page, "a long line");
  assert.ok(await fits(), "the chat fits, long words and links included");
  const shown = (selector: string) =>
    page.$eval(selector, (el) => {
      const r = el.getBoundingClientRect();
      return getComputedStyle(el).display !== "none" && r.width > 0 && r.left >= 0 &&
        r.right <= globalThis.innerWidth + 1;
    });
  assert.equal(await shown("#sidebar"), false, "the sidebar is folded away");
  const box = await page.$eval("#input", (el) => el.getBoundingClientRect().right);
  assert.ok(box <= 390, `the message box fits (${box})`);
  await page.locator("::-p-aria(Show rooms)").click();
  await page.waitForFunction(() =>
    document.querySelector("#app")!.classList.contains("show-sidebar")
  );
  assert.equal(await shown("#sidebar"), true);
  await page.locator('nav[aria-label="Rooms"] ::-p-aria([name="#lobby"][role="button"])').click();
  await page.waitForFunction(() =>
    !document.querySelector("#app")!.classList.contains("show-sidebar")
  );
  await page.locator("::-p-aria(Members)").click();
  await page.waitForFunction(() =>
    document.querySelector("#app")!.classList.contains("show-members")
  );
  assert.equal(await shown("#members"), true);
  await page.keyboard.press("Escape");
  await page.waitForFunction(() =>
    !document.querySelector("#app")!.classList.contains("show-members")
  );
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: follows prefers-color-scheme; emoji are drawn in colour; links open safely", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  const page = await browser.open(url);
  /** Relative luminance of the page background (0 black … 1 white). */
  const background = () =>
    page.evaluate(() => {
      const [r, g, b] = getComputedStyle(document.querySelector("#login-form")!).backgroundColor
        .match(/\d+/g)!.map(Number);
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    });
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
  assert.ok(await background() > 0.8);
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
  assert.ok(await background() < 0.2);
  await login(page, "alice");
  await say(page, "party 🎉 see https://example.com/docs.");
  await expectInLog(page, "party 🎉");
  // The page's own font stack draws the emoji with colour, not as a grey outline.
  const colourful = await page.evaluate(async () => {
    const body = document.querySelector('[role="log"] .body')!;
    await document.fonts.ready;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    const g = canvas.getContext("2d")!;
    g.font = `48px ${getComputedStyle(body).fontFamily}`;
    g.fillText("🎉", 4, 52);
    const px = g.getImageData(0, 0, 64, 64).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) {
      const [r, gr, b] = [px[i]!, px[i + 1]!, px[i + 2]!];
      if (px[i + 3]! > 128 && Math.max(r, gr, b) - Math.min(r, gr, b) > 60) coloured++;
    }
    return coloured;
  });
  assert.ok(colourful > 50, `colour pixels in the emoji: ${colourful}`);
  // A time on each line, a day separator, one sender's lines grouped under one name.
  await say(page, "second line in a row");
  await expectInLog(page, "second line in a row");
  const shape = await page.evaluate(() => {
    const log = document.querySelector('[role="log"]')!;
    const lines = [...log.querySelectorAll(".msg")].filter((m) => m.querySelector(".nick"));
    return {
      day: log.querySelector('.day[role="separator"]')?.textContent,
      times: lines.map((m) => /^\d\d?:\d\d/.test(m.querySelector("time")?.textContent ?? "")),
      first: lines.map((m) => m.classList.contains("first")),
      hues: lines.map((m) =>
        (m.querySelector(".nick") as HTMLElement).style.getPropertyValue("--hue")
      ),
    };
  });
  assert.equal(shape.day, "Today");
  assert.deepEqual(shape.times, [true, true]);
  assert.deepEqual(shape.first, [true, false]);
  assert.equal(shape.hues[0], shape.hues[1]);
  const link = await page.$eval('[role="log"] a[href^="https://example.com"]', (a) => ({
    href: a.getAttribute("href"),
    rel: a.getAttribute("rel"),
    target: a.getAttribute("target"),
  }));
  assert.deepEqual(link, {
    href: "https://example.com/docs",
    rel: "noopener noreferrer",
    target: "_blank",
  });
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: usable by keyboard alone", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const page = await browser.open(url);
  // Every step waits for the focus it expects (a busy machine renders late), with the
  // page's default deadline, and names the step when the focus never gets there.
  const focused = () =>
    page.evaluate(() =>
      document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.id ?? ""
    );
  const expectFocus = async (name: string, step: string) => {
    await page.waitForFunction(
      (n: string) =>
        (document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.id) === n,
      {},
      name,
    ).catch(async () =>
      assert.fail(`${step}: the focus is on "${await focused()}", not "${name}"`)
    );
  };
  // The page's work for what came before is done once the next frame has been drawn
  // (the sidebar's badges are redrawn at the next animation frame).
  const nextFrame = () =>
    page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => done())));
  // The nickname field has the focus (autofocus, which the browser applies as it first
  // draws the page); Enter joins, and the focus moves to the message box.
  await expectFocus("login-nick", "the login form");
  await page.keyboard.type("alice");
  await page.keyboard.press("Enter");
  await page.waitForSelector("::-p-aria(Message)", { visible: true });
  await expectFocus("Message", "after joining");
  await page.keyboard.type("typed with the keyboard");
  await page.keyboard.press("Enter");
  await bob.expectFrame((f) => f.type === "message" && f.text === "typed with the keyboard");

  // Join a room by typing; Alt+↑/↓ move between conversations. The join is over once the
  // room's member list (asked for once the room opens) has arrived: the server's `joined`
  // and `room` frames, each of which opens the room, both came before it.
  await page.keyboard.type("/join #dev");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() =>
    document.querySelector("#conv-title")?.textContent === "#dev" &&
    document.querySelector("#member-list")?.textContent?.includes("alice")
  );
  await page.keyboard.down("Alt");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.up("Alt");
  await page.waitForFunction(() => document.querySelector("#conv-title")?.textContent === "#lobby");

  // The emoji panel: Tab to its button, Enter opens it on the first emoji, Enter inserts it.
  await page.focus("#input");
  await page.keyboard.press("Tab");
  await expectFocus("Emoji", "Tab from the message box");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#emoji-panel:not([hidden])");
  await expectFocus("😀", "the emoji panel opened");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#emoji-panel", { hidden: true });
  await expectFocus("Message", "an emoji picked");
  assert.equal(await page.$eval("#input", (el) => (el as HTMLTextAreaElement).value), "😀");
  await page.keyboard.press("Enter");
  await bob.expectFrame((f) => f.type === "message" && f.text === "😀");

  // Back through the page with Shift+Tab to the sidebar: Enter on a room opens it.
  let steps = 0;
  while ((await focused()) !== "#dev" && steps++ < 30) {
    await page.keyboard.down("Shift");
    await page.keyboard.press("Tab");
    await page.keyboard.up("Shift");
  }
  assert.equal(await focused(), "#dev", "the room list is reachable by Tab");
  // A line arriving redraws the room list; the focus stays on the room.
  await bob.sendFrame({ type: "say", text: "said while alice tabs", room: "#lobby" });
  await expectInLog(page, "said while alice tabs");
  await nextFrame();
  await expectFocus("#dev", "a line arrived while the focus was on the room list");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#conv-title")?.textContent === "#dev");
  await expectFocus("Message", "a room opened from the list");
  // Suggestions open with / and close with Escape, leaving the text.
  await page.keyboard.type("/to");
  await page.waitForSelector("#complete:not([hidden])");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#complete", { hidden: true });
  assert.equal(await page.$eval("#input", (el) => (el as HTMLTextAreaElement).value), "/to");
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: /away, /whois, /search and invitations answer in the page, as in the terminal", async () => {
  await using server = await startTestServer();
  const url = await webUrl(server);
  await using browser = await startBrowser();
  await using bob = await TestClient.joinJson(server.port, "bob");
  const page = await browser.open(url);
  await login(page, "alice");
  await sayAs(bob, "the kiwi release is out");
  await say(page, "/away lunch");
  await expectInLog(page, "You are away: lunch");
  await say(page, "/away");
  await expectInLog(page, "You are back.");
  await say(page, "/whois bob");
  await expectInLog(page, "bob: in #lobby");
  await expectInLog(page, "idle ");
  await say(page, "/search kiwi");
  await expectInLog(page, "1 message found for “kiwi”");
  await expectInLog(page, "#lobby bob: the kiwi release is out");
  await bob.sendFrame({ type: "join", room: "#side" });
  await bob.expectFrame((f) => f.type === "room" && f.room === "#side");
  await bob.sendFrame({ type: "invite", nick: "alice", room: "#side" });
  await expectInLog(page, "bob invites you to #side: type /join #side");
  assert.deepEqual(errorsOf(page), []);
});

Deno.test("web: a resume past the replay limit shows no gap: the room pages its history back from the live end", async () => {
  // A small replay limit keeps the test light; the rule is the same at 10 000.
  await using server = await startTestServer(["--resume-replay", "300"]);
  await using alice = await pageBehindProxy(server, "bulk 0");
  const { bob, page } = alice;
  await alice.drop();
  // More than the server replays on a resume (--resume-replay).
  const total = 400;
  for (let i = 1; i <= total; i++) {
    await bob.sendFrame({ type: "say", text: `bulk ${i}`, ref: i === total ? "last" : undefined });
  }
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "last", 60_000);
  await alice.restore();
  await expectInLog(page, "Too much was said while you were away");
  await expectInLog(page, `bulk ${total}`);
  // What the log holds is one unbroken run ending at the newest line.
  const run = await page.evaluate(() =>
    [...document.querySelectorAll('[role="log"] .body')]
      .map((b) => /^bulk (\d+)$/.exec(b.textContent ?? "")?.[1])
      .filter((n) => n !== undefined)
      .map(Number)
  );
  assert.ok(run.length >= 50, `a page of history: ${run.length}`);
  assert.equal(run.at(-1), total);
  run.forEach((n, i) => i > 0 && assert.equal(n, run[i - 1]! + 1, `no gap at ${n}`));
  assert.deepEqual(errorsOf(page), []);
});
