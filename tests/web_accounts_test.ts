/// <reference lib="dom" />
/**
 * The web client's login form against real accounts, in headless Chromium:
 * register a nickname from the form, the errors the form shows (a registered
 * nickname without its password, a wrong password, a password over plain
 * HTTP from another machine), logging in on a second page, a reload that
 * resumes without the password, and no password in the page's storage.
 */

import assert from "@chat/assert";
import type { Page } from "puppeteer-core";
import { startTestServer, TestClient } from "./test_util.ts";
import { expectInLog, say, startBrowser, webUrl } from "./web_util.ts";

const PASSWORD = "correct horse battery";

/** Fills the login form as a person would and submits it with Enter. */
async function fillLogin(
  page: Page,
  nick: string,
  password = "",
  register = false,
): Promise<void> {
  await page.locator("::-p-aria(Nickname)").fill(nick);
  await page.locator("::-p-aria(Password (optional))").fill(password);
  const box = await page.waitForSelector("::-p-aria(Register this nickname as a new account)");
  const checked = await box!.evaluate((el) => (el as HTMLInputElement).checked);
  if (checked !== register) await box!.click();
  await page.focus("#login-nick");
  await page.keyboard.press("Enter");
}

/** Waits until the form's alert says something matching `pattern`. */
async function expectFormError(page: Page, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    (source: string) =>
      new RegExp(source).test(document.querySelector('#login [role="alert"]')?.textContent ?? ""),
    {},
    pattern.source,
  );
  assert.ok(await page.$eval("#app", (el) => (el as HTMLElement).hidden), "still on the form");
}

/** Everything the page keeps in localStorage and sessionStorage, as one string. */
function storage(page: Page): Promise<string> {
  return page.evaluate(() =>
    JSON.stringify([{ ...localStorage }, { ...sessionStorage }]) + document.cookie
  );
}

const inChat = (page: Page) => page.waitForSelector("::-p-aria(Message)", { visible: true });

Deno.test("web: the login form registers and logs in to accounts, with clear errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-web-accounts-" });
  try {
    // On every interface, so a page can reach it from a non-loopback address too.
    await using server = await startTestServer([
      "--host",
      "0.0.0.0",
      "--db",
      `${dir}/chat.db`,
      "--login-free-attempts",
      "10",
    ]);
    const url = (await webUrl(server)).replace(/\/\/[^:/]+/, "//127.0.0.1");
    await using browser = await startBrowser();
    await using carol = await TestClient.joinText(server.port, "carol");

    // Register from the form: in the chat as an account, the others see the line.
    const alice = await browser.open(url);
    await fillLogin(alice, "alice", "short", true);
    await expectFormError(alice, /at least 8 characters/);
    assert.equal(await alice.$eval("#login-submit", (b) => b.textContent), "Register and join");
    await fillLogin(alice, "alice", PASSWORD, true);
    await inChat(alice);
    await expectInLog(alice, "“alice” is now your account");
    await alice.waitForFunction(() =>
      document.querySelector(".me")?.textContent?.includes("alice (account)")
    );
    await say(alice, "registered from the page");
    await carol.lines.expect("alice: registered from the page");
    assert.ok(!(await storage(alice)).includes(PASSWORD), "no password in storage");

    // A registered nickname without its password, then a wrong one: said in the form.
    const other = await browser.open(url);
    await fillLogin(other, "alice");
    await expectFormError(other, /“alice” is a registered nickname: enter its password/);
    assert.equal(
      await other.evaluate(() => document.activeElement?.id),
      "login-password",
      "the caret goes where the fix goes",
    );
    await fillLogin(other, "alice", "not the password");
    await expectFormError(other, /Wrong nickname or password/);
    assert.equal(await other.$eval("#login-submit", (b) => b.textContent), "Log in");
    // The right one: logged in to the same account, sharing its nickname.
    await fillLogin(other, "alice", PASSWORD);
    await inChat(other);
    await expectInLog(other, "Logged in as alice");
    await say(other, "second page, same account");
    await carol.lines.expect("alice: second page, same account");
    await expectInLog(alice, "second page, same account");
    assert.ok(!(await storage(other)).includes(PASSWORD), "no password in storage");

    // A reload resumes with the token: no password asked, still the account.
    await alice.reload();
    await inChat(alice);
    await alice.waitForFunction(() =>
      document.querySelector(".me")?.textContent?.includes("alice (account)")
    );
    await say(alice, "after a reload");
    await carol.lines.expect("alice: after a reload");

    // A guest may still join without a password.
    const bob = await browser.open(url);
    await fillLogin(bob, "bob");
    await inChat(bob);
    await bob.waitForFunction(() =>
      document.querySelector(".me")?.textContent?.includes("bob (guest)")
    );

    // Plain http:// from another address: the page does not send the password,
    // and says to use HTTPS; a guest may still join there.
    const remote = await browser.open(url.replace("//127.0.0.1", "//127.0.0.2"));
    const sent: string[] = [];
    const cdp = await remote.createCDPSession();
    await cdp.send("Network.enable");
    cdp.on("Network.webSocketFrameSent", (e) => sent.push(e.response.payloadData));
    await fillLogin(remote, "dave", PASSWORD, true);
    await expectFormError(remote, /only over HTTPS.*https:\/\//);
    await fillLogin(remote, "alice", PASSWORD);
    await expectFormError(remote, /only over HTTPS/);
    await fillLogin(remote, "dave");
    await inChat(remote);
    await say(remote, "guest over plain http");
    await carol.lines.expect("dave: guest over plain http");
    // DevTools reports a sent frame on its own channel, which may lag the
    // server's relay to carol: wait for it with a deadline.
    for (
      const deadline = Date.now() + 10_000;
      !sent.some((f) => f.includes("guest over plain http"));
    ) {
      assert.ok(Date.now() < deadline, "frames were watched");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(!sent.some((f) => f.includes(PASSWORD)), "the password never left the page");
    for (const page of [alice, other, bob, remote]) {
      assert.deepEqual((page as Page & { errors: string[] }).errors, []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("web: with --require-account the form says a password is needed", async () => {
  await using server = await startTestServer(["--require-account"]);
  await using browser = await startBrowser();
  const page = await browser.open(await webUrl(server));
  await fillLogin(page, "guest");
  await expectFormError(page, /admits accounts only: enter your nickname's password/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "login-password");
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
});
