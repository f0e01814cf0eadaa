/// <reference lib="dom" />
/**
 * What IRC users send, as the web page shows it, in a real headless
 * Chromium: a NOTICE is shown as a notice (`-nick-`, muted), a PRIVMSG as a
 * message; a room's creator is its operator on both sides, and moderates it.
 */

import assert from "@chat/assert";
import { freePort, startTestServer, TestClient } from "./test_util.ts";
import { expectInLog, login, say, startBrowser, webUrl } from "./web_util.ts";

/** A server with the web client and IRC, and alice logged in on a page. */
async function aliceOnThePage() {
  const ircPort = freePort();
  const server = await startTestServer([
    "--http-port",
    String(freePort()),
    "--irc-port",
    String(ircPort),
  ]);
  const browser = await startBrowser();
  const page = await browser.open(await webUrl(server));
  await login(page, "alice");
  return {
    ircPort,
    page,
    async [Symbol.asyncDispose]() {
      await browser[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("web: an IRC NOTICE is shown as a notice, a PRIVMSG as a message", async () => {
  await using web = await aliceOnThePage();
  const { ircPort, page } = web;
  await using irc = await TestClient.connect(ircPort);
  await irc.write("NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #lobby\r\n");
  await irc.lines.expect(/ 366 bob #lobby /);
  await irc.write("NOTICE #lobby :build passed\r\nPRIVMSG #lobby :and a message\r\n");
  await expectInLog(page, "and a message");
  const shown = await page.evaluate(() =>
    [...document.querySelectorAll('[role="log"] .msg')].map((m) => ({
      notice: m.classList.contains("notice"),
      nick: m.querySelector(".nick")?.textContent ?? "",
      body: m.querySelector(".body")?.textContent ?? "",
    })).filter((m) => m.body === "build passed" || m.body === "and a message")
  );
  assert.deepEqual(shown, [
    { notice: true, nick: "-bob-", body: "build passed" },
    { notice: false, nick: "bob", body: "and a message" },
  ]);
});

Deno.test("web: a room created on the page has its creator as operator, for IRC and the member list", async () => {
  await using web = await aliceOnThePage();
  const { ircPort, page } = web;
  await say(page, "/join #webops");
  await page.waitForFunction(() =>
    document.querySelector("#conv-title")?.textContent === "#webops"
  );
  await using irc = await TestClient.connect(ircPort);
  await irc.write("NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #webops\r\n");
  await irc.lines.expect(/^:chat 353 bob = #webops :@alice bob$/);
  // The member list marks the operator (it asks `who` again when someone joins or on select).
  await say(page, "/who");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#member-list li")].some((li) =>
      li.textContent?.startsWith("●@alice")
    )
  );
  const bob = await page.evaluate(() =>
    [...document.querySelectorAll("#member-list li")].find((li) => li.textContent?.includes("bob"))
      ?.textContent
  );
  assert.equal(bob, "●bob");

  // The creator moderates the room from the page; IRC sees +m and +v, the page reads sentences.
  await say(page, "/moderated on");
  await irc.lines.expect(/^:alice!\S+ MODE #webops \+m$/);
  await expectInLog(page, "alice made #webops moderated: only operators and voiced users talk");
  await irc.write("PRIVMSG #webops :may I?\r\n");
  await irc.lines.expect(/ 404 bob #webops /);
  await say(page, "/voice bob");
  await irc.lines.expect(/^:alice!\S+ MODE #webops \+v bob$/);
  await expectInLog(page, "bob was given a voice in #webops by alice");
  await irc.write("PRIVMSG #webops :thanks\r\n");
  await expectInLog(page, "thanks");
});
