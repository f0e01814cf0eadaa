// Real IRC clients against the gateway: weechat (weechat-headless) logs in with
// SASL; the suckless `ii` (Debian package
// `ii`, installed by .ci/run) joins a room and talks with a plain-text user
// and a JSON client both ways, gets a private message, and sees a join, a
// part and a topic change. ii is driven through its FIFO and read through
// its `out` files, which are polled until the expected line arrives (with a
// deadline).

import assert from "@chat/assert";
import { DEADLINE_MS, freePort, startTestServer, TestClient } from "./test_util.ts";

function installed(program: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

// On CI the program must be there (.ci/apt-packages); elsewhere the test is skipped without it.
const HAVE_II = installed("ii");
if (!HAVE_II && Deno.env.get("CI")) throw new Error("ii is not installed (see .ci/apt-packages)");

/** Waits until a file has a line matching `pattern`; returns that line. */
async function waitForLine(
  path: string,
  pattern: RegExp,
  timeoutMs = DEADLINE_MS,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < deadline) {
    try {
      text = await Deno.readTextFile(path);
    } catch { /* not created yet */ }
    const line = text.split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `no line matching ${pattern} in ${path} within ${timeoutMs} ms; it has:\n${text}`,
  );
}

Deno.test({
  name:
    "irc clients: ii talks with plain-text and JSON users, privately too, and sees joins, parts, topics",
  ignore: !HAVE_II,
  async fn() {
    const ircPort = freePort();
    await using server = await startTestServer(["--irc-port", String(ircPort)]);
    const dir = await Deno.makeTempDir({ prefix: "chat-ii-" });
    const ii = new Deno.Command("ii", {
      args: ["-s", "127.0.0.1", "-p", String(ircPort), "-n", "iris", "-f", "Iris", "-i", dir],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const base = `${dir}/127.0.0.1`;
      const send = (sub: string, line: string) =>
        Deno.writeTextFile(`${base}${sub}/in`, line + "\n", { append: true });
      await waitForLine(`${base}/out`, / 376 | End of \/MOTD/);

      await using tom = await TestClient.joinText(server.port, "tom");
      await using jay = await TestClient.joinJson(server.port, "jay");
      await tom.send("/join #dev");
      await send("", "/j #dev");
      await waitForLine(`${base}/#dev/out`, /iris.* has joined #dev/);
      await tom.lines.expect("* iris joined #dev");

      await send("/#dev", "hello from ii");
      await tom.lines.expect("iris: hello from ii");
      await tom.send("hi iris, from nc");
      await waitForLine(`${base}/#dev/out`, /<tom> hi iris, from nc$/);

      await jay.sendFrame({ type: "join", room: "#dev" });
      await waitForLine(`${base}/#dev/out`, /jay.* has joined #dev/);
      await jay.sendFrame({ type: "say", room: "#dev", text: "json says hi" });
      await waitForLine(`${base}/#dev/out`, /<jay> json says hi$/);
      await send("/#dev", "and ii answers");
      await jay.expectFrame((f) =>
        f.type === "message" && f.from === "iris" && f.text === "and ii answers"
      );

      await jay.sendFrame({ type: "msg", to: "iris", text: "a secret" });
      await waitForLine(`${base}/jay/out`, /<jay> a secret$/);
      await send("/jay", "secret back");
      await jay.expectFrame((f) =>
        f.type === "private" && f.from === "iris" && f.text === "secret back"
      );

      await jay.sendFrame({ type: "topic", room: "#dev", text: "ship it" });
      await waitForLine(`${base}/#dev/out`, /jay changed topic to "?ship it/);
      await tom.send("/part #dev");
      await waitForLine(`${base}/#dev/out`, /tom.* has left #dev/);
      await send("/#dev", "/l bye all");
      await jay.expectFrame((f) => f.type === "left" && f.nick === "iris");
      await send("", "/q");
      const status = await ii.status;
      assert.ok(
        status.code === 0 || status.signal === null,
        `ii exited: ${JSON.stringify(status)}`,
      );
    } finally {
      try {
        ii.kill("SIGKILL");
      } catch { /* exited */ }
      await ii.status;
      await ii.stderr.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const HAVE_WEECHAT = installed("weechat-headless");
if (!HAVE_WEECHAT && Deno.env.get("CI")) {
  throw new Error("weechat-headless is not installed (see .ci/apt-packages)");
}

Deno.test({
  name: "irc clients: weechat logs in with SASL PLAIN to a registered nickname and joins a room",
  ignore: !HAVE_WEECHAT,
  async fn() {
    const ircPort = freePort();
    await using server = await startTestServer(["--irc-port", String(ircPort)]);
    {
      await using reg = await TestClient.joinJson(server.port, "wendy");
      await reg.sendFrame({ type: "register", password: "correct horse 9" });
      await reg.expectFrame((f) => f.type === "account" && f.event === "registered");
    }
    await using jay = await TestClient.joinJson(server.port, "jay");
    await jay.sendFrame({ type: "join", room: "#dev" });
    await jay.expectFrame((f) => f.type === "room" && f.room === "#dev");
    const dir = await Deno.makeTempDir({ prefix: "chat-weechat-" });
    const s = "irc.server.chat";
    const commands = [
      `/server add chat 127.0.0.1/${ircPort} -notls`,
      `/set ${s}.nicks wendy`,
      `/set ${s}.sasl_mechanism plain`,
      `/set ${s}.sasl_username wendy`,
      `/set ${s}.sasl_password "correct horse 9"`,
      `/set ${s}.autojoin #dev`,
      "/connect chat",
    ].join(";");
    const weechat = new Deno.Command("weechat-headless", {
      args: ["--dir", dir, "--run-command", commands],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Joined under the registered nickname: only a SASL login could take it.
      await jay.expectFrame(
        (f) => f.type === "joined" && f.nick === "wendy" && f.room === "#dev",
        20_000,
      );
      await jay.sendFrame({ type: "whois", nick: "wendy" });
      const whois = await jay.expectFrame((f) => f.type === "whois");
      assert.ok(whois.type === "whois" && whois.rooms.includes("#dev"));
    } finally {
      try {
        weechat.kill("SIGKILL");
      } catch { /* exited */ }
      await weechat.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
