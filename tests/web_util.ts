/// <reference lib="dom" />
/**
 * Test fixtures for the web client: Debian's Chromium driven by
 * puppeteer-core, with a fresh profile each time, and helpers that wait for
 * what a person would see (never a fixed sleep).
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { DEADLINE_MS, type TestServer } from "./test_util.ts";

/** Where Debian installs Chromium (`.ci/apt-packages` lists `chromium`). */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** The launch flags: headless, no sandbox (root in CI), nothing phoning home. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running Chromium with its own profile folder, removed on dispose. */
export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** A page in a fresh browser context (its own storage), at `url`. */
  open(url: string, viewport?: { width: number; height: number }): Promise<Page>;
}

/**
 * Starts Chromium.
 *
 * @param options `acceptInsecureCerts`: trust any certificate (the server's
 * generated, self-signed one)
 * @returns the browser; dispose it to close it and delete its profile
 */
export async function startBrowser(
  options: { acceptInsecureCerts?: boolean } = {},
): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "chat-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    acceptInsecureCerts: options.acceptInsecureCerts ?? false,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`],
  });
  return {
    browser,
    async open(url, viewport = { width: 1100, height: 720 }) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      page.setDefaultTimeout(DEADLINE_MS * 2);
      await page.setViewport(viewport);
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      (page as Page & { errors?: string[] }).errors = errors;
      await page.goto(url);
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The web client's URL, as the server printed it at start.
 *
 * @param server a server started with `--http-port`
 * @returns e.g. `http://127.0.0.1:41234`
 */
export async function webUrl(server: TestServer, scheme = "http"): Promise<string> {
  const pattern = new RegExp(`web client: open ${scheme}://\\S+ in a browser`);
  // startTestServer may have read past it already (the TLS lines come first).
  const line = server.stdout.seen.find((l) => pattern.test(l)) ??
    await server.stdout.expect(pattern);
  return /open (\S+) in/.exec(line)![1]!;
}

/**
 * Logs in on the page as a person would: types the nickname, presses Enter,
 * and waits for the message box.
 *
 * @param page a page at the web client
 * @param nick the nickname
 */
export async function login(page: Page, nick: string): Promise<void> {
  await page.locator("::-p-aria(Nickname)").fill(nick);
  await page.keyboard.press("Enter");
  await page.waitForSelector("::-p-aria(Message)", { visible: true });
}

/**
 * Types a line into the message box and sends it with Enter.
 *
 * @param page the page
 * @param text the line (use `\n` for Shift+Enter)
 */
export async function say(page: Page, text: string): Promise<void> {
  const box = await page.waitForSelector("::-p-aria(Message)", { visible: true });
  await box!.focus();
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (i > 0) {
      await page.keyboard.down("Shift");
      await page.keyboard.press("Enter");
      await page.keyboard.up("Shift");
    }
    await page.keyboard.sendCharacter(line);
  }
  await page.keyboard.press("Enter");
}

/**
 * Waits until the message list (`role="log"`) shows a text.
 *
 * @param page the page
 * @param text a substring the log must contain
 * @param timeoutMs deadline
 */
export async function expectInLog(page: Page, text: string, timeoutMs = DEADLINE_MS * 2) {
  await page.waitForFunction(
    (t: string) => document.querySelector('[role="log"]')?.textContent?.includes(t) ?? false,
    { timeout: timeoutMs },
    text,
  );
}

/**
 * How many times a text appears in the message list.
 *
 * @param page the page
 * @param text the text
 */
export function countInLog(page: Page, text: string): Promise<number> {
  return page.evaluate((t: string) => {
    const bodies = [...document.querySelectorAll('[role="log"] .body')];
    return bodies.filter((b) => b.textContent === t).length;
  }, text);
}

/**
 * Clicks the sidebar entry (in the navigation landmark "Rooms") named `name`.
 *
 * @param page the page
 * @param name `#room` or a nickname
 */
export async function openConversation(page: Page, name: string): Promise<void> {
  // A locator retries when the sidebar re-renders under the click.
  await page.locator(`nav[aria-label="Rooms"] ::-p-aria([name="${name}"][role="button"])`).click();
  await page.waitForFunction(
    (n: string) => document.querySelector("#conv-title")?.textContent === n,
    {},
    name,
  );
}
