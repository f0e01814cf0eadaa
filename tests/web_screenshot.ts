/// <reference lib="dom" />
/**
 * Regenerates the screenshots of the web client in docs/ (`deno task
 * screenshots`): a real server, a few people talking through the JSON
 * protocol, and Chromium showing alice's page in light and dark, on a
 * desktop and on a phone, and the nickname screen.
 *
 * Colour emoji need a colour emoji font (Debian: `fonts-noto-color-emoji`).
 *
 * @module
 */

import { freePort, startTestServer, TestClient } from "./test_util.ts";
import { expectInLog, login, openConversation, say, startBrowser, webUrl } from "./web_util.ts";

const docs = new URL("../docs/", import.meta.url).pathname;

await using server = await startTestServer(["--http-port", String(freePort())]);
const url = await webUrl(server);
await using browser = await startBrowser();
await using bob = await TestClient.joinJson(server.port, "bob");
await using carol = await TestClient.joinJson(server.port, "carol");
await using dave = await TestClient.joinText(server.port, "dave");

// The nickname screen, filled in to register an account.
const front = await browser.open(url, { width: 720, height: 640 });
await front.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
await front.locator("::-p-aria(Nickname)").fill("alice");
await front.locator("::-p-aria(Password (optional))").fill("correct horse battery");
await front.locator("::-p-aria(Register this nickname as a new account)").click();
await front.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
await front.screenshot({ path: `${docs}web-login.png` });
console.log("wrote docs/web-login.png");

const page = await browser.open(url, { width: 1280, height: 800 });
await login(page, "alice");

// Each line waits for its ack, so the conversation keeps the order it is written in.
async function sayAs(client: TestClient, text: string, room: string): Promise<void> {
  await client.sendFrame({ type: "say", text, room, ref: text.slice(0, 60) });
  await client.expectFrame((f) => f.type === "ack" && f.ref === text.slice(0, 60));
}
const bobSays = (text: string, room = "#lobby") => sayAs(bob, text, room);
const carolSays = (text: string, room = "#lobby") => sayAs(carol, text, room);
async function daveSays(text: string): Promise<void> {
  await dave.send(text);
  await bob.expectFrame((f) => f.type === "message" && f.from === "dave" && f.text === text);
}

for (const c of [bob, carol]) {
  await c.sendFrame({ type: "join", room: "#design" });
  await c.sendFrame({ type: "join", room: "#dev" });
  await c.expectFrame((f) => f.type === "room" && f.room === "#dev");
}
await carol.sendFrame({
  type: "topic",
  room: "#dev",
  text: "release 0.2 on Friday · CI must stay green",
});
await carolSays("morning all ☕", "#dev");
await bobSays("the TLS port landed, and the IRC gateway too 🎉", "#dev");
await bobSays("next: the web client", "#dev");
await dave.send("/join #dev");
await daveSays("nice! does it work from my phone?");
await carolSays("it should: try http://192.168.1.20:8080 on the wifi", "#dev");
await bobSays("checklist for Friday:\n- tag v0.2\n- publish the binary\n- update the docs", "#dev");
await carolSays("@alice can you review the release notes?", "#dev");
await bobSays("lunch at 12:30?");
await carolSays("the mockups are up 👀", "#design");
await bob.sendFrame({ type: "msg", to: "alice", text: "got a minute for the deploy script?" });

await page.locator("::-p-aria(Join a room)").fill("#dev");
await page.keyboard.press("Enter");
await openConversation(page, "#dev");
await expectInLog(page, "release notes");
await say(page, "sure, on it 👍");
await expectInLog(page, "on it");
// A shared image, as drag and drop would share it.
const chart = await page.evaluate(async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 360;
  canvas.height = 160;
  const g = canvas.getContext("2d")!;
  g.fillStyle = "#f6f8fb";
  g.fillRect(0, 0, 360, 160);
  const bars = [40, 65, 52, 90, 120, 104, 138];
  bars.forEach((h, i) => {
    g.fillStyle = `hsl(${210 + i * 8} 70% 55%)`;
    g.fillRect(20 + i * 48, 150 - h, 32, h);
  });
  g.fillStyle = "#1d2330";
  g.font = "bold 15px sans-serif";
  g.fillText("messages per second (×1000)", 20, 22);
  const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), "image/png"));
  return [...new Uint8Array(await blob.arrayBuffer())];
});
const png = `${await Deno.makeTempDir()}/fan-out.png`;
await Deno.writeFile(png, Uint8Array.from(chart));
const input = await page.$("input#file-input");
await (input as import("puppeteer-core").ElementHandle<HTMLInputElement>).uploadFile(png);
await page.waitForSelector('[role="log"] img.preview');
await page.waitForFunction(() =>
  [...document.querySelectorAll<HTMLImageElement>('[role="log"] img.preview')].every((i) =>
    i.complete
  )
);
await daveSays("looks great");
await expectInLog(page, "looks great");
await page.waitForSelector('nav[aria-label="Rooms"] ::-p-aria([name="bob"])');
await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());

for (const scheme of ["light", "dark"] as const) {
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
  await page.screenshot({ path: `${docs}web-${scheme}.png` });
  console.log(`wrote docs/web-${scheme}.png`);
}

const phone = await browser.open(url, { width: 390, height: 760 });
await phone.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
await login(phone, "erin");
await say(phone, "/join #dev");
await phone.waitForFunction(() => document.querySelector("#conv-title")?.textContent === "#dev");
await expectInLog(phone, "dev");
await carolSays("welcome erin 👋", "#dev");
await expectInLog(phone, "welcome erin");
await phone.screenshot({ path: `${docs}web-phone.png` });
console.log("wrote docs/web-phone.png");
