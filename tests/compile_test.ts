// Builds the single executable with the exact `deno task compile` flags and
// runs it. `deno compile` needs Deno's runtime (denort): from DENORT_BIN, or
// downloaded from Deno's host. Where neither works, the test reports itself
// ignored rather than passing.

import assert from "@chat/assert";
import config from "../deno.json" with { type: "json" };
import { freePort, LineQueue, TestClient } from "./test_util.ts";

const root = new URL("..", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "chat_compile_" });
const binary = `${dir}/chat`;

/** The compile task's arguments, with the output redirected. */
function compileArgs(): string[] {
  const words = config.tasks.compile.split(/\s+/).slice(1); // drop "deno"
  const out = words.indexOf("--output");
  words.splice(out, 2, "--output", binary);
  return words;
}

const build = await new Deno.Command(Deno.execPath(), {
  args: compileArgs(),
  cwd: root,
  stdout: "piped",
  stderr: "piped",
}).output();
const reason = new TextDecoder().decode(build.stderr);
const unavailable = !build.success && !Deno.env.get("DENORT_BIN") &&
  /dns error|failed to lookup|download|connect/i.test(reason);
if (unavailable) {
  console.error("compile_test: deno compile cannot fetch denort here; set DENORT_BIN to run it");
  await Deno.remove(dir, { recursive: true });
}

Deno.test({
  name: "deno task compile: builds a least-privilege executable that serves and chats",
  ignore: unavailable,
  async fn() {
    try {
      assert.ok(build.success, `deno compile failed:\n${reason}`);
      const task = config.tasks.compile;
      assert.ok(!/\s-A\b|--allow-all/.test(task), "compile must not grant every permission");
      assert.ok(task.includes("--exclude=node_modules"), "node_modules must not be embedded");

      const version = await new Deno.Command(binary, { args: ["--version"] }).output();
      assert.equal(new TextDecoder().decode(version.stdout).trim(), `chat ${config.version}`);

      // In its own directory: the database and the generated TLS certificate land there.
      const server = new Deno.Command(binary, {
        args: [
          "server",
          "--port",
          "0",
          "--tls-port",
          String(freePort()),
          "--http-port",
          String(freePort()),
          "--quiet",
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = new LineQueue(server.stdout);
      const log = new LineQueue(server.stderr);
      const port = Number(/:(\d+)$/.exec(await out.expect(/listening on/))![1]);
      const tlsPort = Number(/:(\d+)$/.exec(await out.expect(/listening for TLS on/))![1]);
      {
        await using alice = await TestClient.joinText(port, "alice");
        await using bob = await TestClient.joinJson(port, "bob");
        await bob.sendFrame({ type: "say", text: "from a compiled server" });
        await alice.lines.expect("bob: from a compiled server");
        const cert = await Deno.readTextFile(`${dir}/chat.db.tls-cert.pem`);
        await using carol = await TestClient.connectTls(tlsPort, cert);
        await carol.send("carol");
        await carol.lines.expect(/^\* welcome, carol!/);
      }
      // The web client's assets are embedded in the executable.
      const web = /open (\S+) in a browser/.exec(await out.expect(/web client: open/))![1]!;
      const page = await fetch(web + "/app.js");
      assert.equal(page.status, 200);
      assert.match(await page.text(), /WebSocket/);
      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0);
      await Promise.all([out.done, log.done]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
