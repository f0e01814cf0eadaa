// `chat client` on the command line: its own help, our own one-line errors,
// and defaults from the config file.

import assert from "@chat/assert";
import { CLIENT_PERMISSIONS, DENO_DIR, MAIN, startTestServer, TestClient } from "./test_util.ts";

async function client(args: string[], home: string, stdin = "") {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLIENT_PERMISSIONS.map((p) => p.replaceAll("$HOME", home)),
      MAIN,
      "client",
      ...args,
    ],
    env: { HOME: home, XDG_CONFIG_HOME: "", XDG_STATE_HOME: "", DENO_DIR, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function withHome(fn: (home: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "chat_cli_test_" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("chat client --help prints the client's own help", async () => {
  await withHome(async (home) => {
    const r = await client(["--help"], home);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^chat \S+: the terminal client\n/);
    assert.match(r.stdout, /--no-bell/);
    assert.match(r.stdout, /client\.toml/);
    assert.doesNotMatch(r.stdout, /--max-clients/, "not the server's options");
  });
});

Deno.test("chat client with a wrong flag or port gives our own one-line error", async () => {
  await withHome(async (home) => {
    const port = await client(["--port", "8081"], home);
    assert.equal(port.code, 2);
    assert.equal(
      port.stderr,
      "chat client: unknown option --port; give the port after the host: chat client HOST PORT " +
        "(see chat client --help)\n",
    );
    const bad = await client(["localhost", "eighty"], home);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^chat client: the port must be a whole number from 0 to 65535, got "eighty" \(see chat client --help\)\n$/,
    );
    const value = await client(["--nick"], home);
    assert.equal(value.code, 2);
    assert.equal(value.stderr.split("\n").length, 2, "one line");
  });
});

Deno.test("chat client takes its defaults from the config file; a broken one is one line", async () => {
  await withHome(async (home) => {
    await using server = await startTestServer();
    await using bob = await TestClient.joinJson(server.port, "bob");
    await Deno.mkdir(`${home}/.config/chat`, { recursive: true });
    await Deno.writeTextFile(
      `${home}/.config/chat/client.toml`,
      `# defaults\nhost = "127.0.0.1"\nport = ${server.port}\nnick = "carol"\n`,
    );
    const r = await client([], home, "hello from the config\n");
    assert.equal(r.code, 0, r.stderr);
    const said = await bob.expectFrame((f) => f.type === "message" && f.from === "carol");
    assert.equal(said.type === "message" && said.text, "hello from the config");
    await Deno.writeTextFile(`${home}/.config/chat/client.toml`, "port = \n");
    const broken = await client([], home);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^chat client: .*client\.toml:1: .+\n$/);
  });
});
