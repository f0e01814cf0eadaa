// `chat client` on the command line: its own help, our own one-line errors,
// and defaults from the config file.

import assert from "@chat/assert";
import { CLIENT_PERMISSIONS, DENO_DIR, MAIN, startTestServer, TestClient } from "./test_util.ts";

/**
 * Runs `main.ts client` with the permissions of `deno task client` (`$HOME` as the task
 * shell fills it in); `env` adds variables, `allow` adds folders to its read and write
 * permissions.
 */
async function client(
  args: string[],
  home: string,
  stdin = "",
  options: { env?: Record<string, string>; allow?: string[] } = {},
) {
  const extra = options.allow?.length ? `,${options.allow.join(",")}` : "";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLIENT_PERMISSIONS.map((p) =>
        p.replaceAll("$HOME", home) + (/^--allow-(read|write)=/.test(p) ? extra : "")
      ),
      MAIN,
      "client",
      ...args,
    ],
    env: {
      HOME: home,
      XDG_CONFIG_HOME: "",
      XDG_STATE_HOME: "",
      DENO_DIR,
      NO_COLOR: "1",
      ...options.env,
    },
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

Deno.test("chat client with XDG folders outside what deno task client may use says so in one line", async () => {
  await withHome(async (home) => {
    await using server = await startTestServer();
    await using bob = await TestClient.joinJson(server.port, "bob");
    const xdg = await Deno.makeTempDir({ prefix: "chat_cli_xdg_" });
    try {
      const env = { XDG_CONFIG_HOME: `${xdg}/config`, XDG_STATE_HOME: `${xdg}/state` };
      await Deno.mkdir(`${xdg}/config/chat`, { recursive: true });
      await Deno.writeTextFile(`${xdg}/config/chat/client.toml`, `nick = "carol"\n`);
      const oneLine = (stderr: string) =>
        assert.doesNotMatch(stderr, /^\s+at |error: Uncaught|Deno requests/m, "no stack trace");

      // Plain TCP: the client runs on its defaults, and each folder it cannot use is one line
      // that names it and says what to do.
      const plain = await client(
        ["127.0.0.1", String(server.port), "--nick", "dave"],
        home,
        "still here\n",
        { env },
      );
      assert.equal(plain.code, 0, plain.stderr);
      await bob.expectFrame((f) => f.type === "message" && f.text === "still here");
      const lines = plain.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, plain.stderr);
      assert.match(
        lines[0]!,
        /^chat client: no permission for \S+\/config\/chat, so .*client\.toml is not read and defaults are used \(deno task client may use only ~\/\.config\/chat and ~\/\.local\/state\/chat\): run the compiled chat, or deno run main\.ts client with \S+\/config\/chat added to --allow-read and --allow-write$/,
      );
      assert.match(
        lines[1]!,
        /^chat client: no permission for \S+\/state\/chat, so input history and ignores are not kept \(/,
      );
      oneLine(plain.stderr);

      // TLS keeps its pins there: refused before connecting, with what to do.
      const tls = await client(["127.0.0.1", String(server.port), "--tls"], home, "", { env });
      assert.equal(tls.code, 1, tls.stderr);
      assert.match(
        tls.stderr,
        /\nchat client: no permission for \S+\/config\/chat\/known_hosts, where the TLS pins are kept \(.*\): give --known-hosts FILE inside them or --fingerprint SHA256:…, run the compiled chat, or deno run main\.ts client with \S+\/config\/chat added to --allow-read and --allow-write\n/,
      );
      assert.doesNotMatch(tls.stderr, /cannot connect/);
      oneLine(tls.stderr);

      // With those folders allowed, as the advice says (or the compiled binary), they are used.
      const allowed = await client(["127.0.0.1", String(server.port)], home, "from carol\n", {
        env,
        allow: [`${xdg}/config/chat`, `${xdg}/state/chat`],
      });
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(allowed.stderr, "");
      const said = await bob.expectFrame((f) => f.type === "message" && f.text === "from carol");
      assert.equal(said.type === "message" && said.from, "carol");
    } finally {
      await Deno.remove(xdg, { recursive: true });
    }
  });
});
