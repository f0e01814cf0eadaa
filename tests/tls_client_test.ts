// `chat client --tls` against the real server subprocess: trust on first use
// on a terminal (in-process, on a fake terminal), then piped subprocesses
// that use the pin, refuse a changed certificate with both fingerprints,
// never accept a new one silently, pin with --fingerprint, verify a
// certificate from an authority, and keep the pin across a reconnect.

import assert from "@chat/assert";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { runClient } from "../client/mod.ts";
import { FakeInput, FakeOutput, until } from "./fake_tty.ts";
import {
  DENO_DIR,
  freePort,
  startClient,
  startTcpProxy,
  startTestServer,
  TestClient,
  type TestServer,
} from "./test_util.ts";

/** A client environment whose known_hosts lives in a temp HOME. */
function clientEnv(home: string): Record<string, string> {
  return { HOME: home, XDG_CONFIG_HOME: "", DENO_DIR };
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "chat_tls_home_" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const knownHosts = (home: string) => `${home}/.config/chat/known_hosts`;

Deno.test("tls client: pinned on first use on a terminal, then used and enforced when piped", async (t) => {
  await withHome(async (home) => {
    const tlsPort = freePort();
    let server: TestServer = await startTestServer(["--tls-port", String(tlsPort)]);
    try {
      const first = server.fingerprint!;

      await t.step("a terminal shows the fingerprint, asks, and pins on yes", async () => {
        await using bob = await TestClient.joinText(server.port, "bob");
        const stdin = new FakeInput(true);
        const stdout = new FakeOutput(true);
        const stderr = new FakeOutput(false);
        const exit = runClient({
          hostname: "127.0.0.1",
          port: tlsPort,
          nick: "alice",
          tls: { knownHosts: knownHosts(home) },
          stdin,
          stdout,
          stderr,
          color: false,
          columns: () => 80,
        });
        await until(() => stderr.text.includes("Pin it and connect?"), "the question", 30_000);
        assert.ok(stderr.text.includes(`Its fingerprint is ${first}`), stderr.text);
        stdin.type("yes\n");
        await bob.lines.expect("* alice joined the chat", 30_000);
        assert.ok(stderr.text.includes(`pinned 127.0.0.1:${tlsPort} in ${knownHosts(home)}`));
        await bob.send("hello alice");
        await until(() => stdout.text.includes("bob: hello alice"), "bob's line", 30_000);
        stdin.type("/quit\r");
        assert.equal(await exit, 0);
        const pins = await Deno.readTextFile(knownHosts(home));
        assert.ok(pins.split("\n").includes(`127.0.0.1:${tlsPort} ${first}`), pins);
        assert.equal((await Deno.stat(knownHosts(home))).mode! & 0o777, 0o600);
      });

      await t.step("answering no pins nothing and connects nowhere", async () => {
        await using other = await startTestServer(["--tls-port", String(freePort())]);
        const stdin = new FakeInput(true);
        const stderr = new FakeOutput(false);
        const exit = runClient({
          hostname: "127.0.0.1",
          port: other.tlsPort!,
          nick: "mallory",
          tls: { knownHosts: knownHosts(home) },
          stdin,
          stdout: new FakeOutput(true),
          stderr,
          color: false,
          columns: () => 80,
        });
        await until(() => stderr.text.includes("Pin it and connect?"), "the question", 30_000);
        stdin.type("no\n");
        assert.equal(await exit, 1);
        assert.match(stderr.text, /127\.0\.0\.1:\d+ not pinned; not connecting\n$/);
        const pins = await Deno.readTextFile(knownHosts(home));
        assert.ok(!pins.includes(`:${other.tlsPort} `), pins);
        assert.ok(!other.log.seen.some((l) => / nick mallory /.test(l)));
      });

      await t.step("piped, the pin is used without a question", async () => {
        await using carol = startClient(tlsPort, ["--tls", "--nick", "carol"], {
          env: clientEnv(home),
        });
        await carol.stdout.expect(/^\* welcome, carol!/, 30_000);
        await carol.end();
        assert.equal((await carol.exit(30_000)).code, 0);
      });

      await t.step("a regenerated certificate is refused, naming both fingerprints", async () => {
        await server.stop();
        server = await startTestServer(["--tls-port", String(tlsPort)]);
        const second = server.fingerprint!;
        assert.notEqual(second, first);
        await using carol = startClient(tlsPort, ["--tls", "--nick", "carol"], {
          env: clientEnv(home),
        });
        const status = await carol.exit(30_000);
        assert.equal(status.code, 1);
        const text = carol.stderr.seen.join("\n");
        assert.match(text, /WARNING: the certificate of 127\.0\.0\.1:\d+ has changed/);
        assert.ok(text.includes(`pinned:    ${first}`), text);
        assert.ok(text.includes(`presented: ${second}`), text);
        assert.match(text, /remove line \d+ \(127\.0\.0\.1:\d+\) from .*known_hosts/);
        assert.deepEqual(carol.stdout.seen, []);
        await server.log.expect(/closed 127\.0\.0\.1/); // it never got past the handshake
        assert.ok(!server.log.seen.some((l) => / nick carol /.test(l)));
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("tls client: piped, a new fingerprint is never accepted; --fingerprint pins it", async (t) => {
  await withHome(async (home) => {
    await using server = await startTestServer(["--tls-port", String(freePort())]);
    const port = server.tlsPort!;

    await t.step("unknown and piped: refused, with the fingerprint and how to pin it", async () => {
      await using dave = startClient(port, ["--tls", "--nick", "dave"], { env: clientEnv(home) });
      await dave.send("hello?");
      assert.equal((await dave.exit(30_000)).code, 1);
      const text = dave.stderr.seen.join("\n");
      assert.ok(text.includes(`its fingerprint is ${server.fingerprint}`), text);
      assert.ok(text.includes(`--fingerprint ${server.fingerprint}`), text);
      await assert.rejects(Deno.stat(knownHosts(home)), Deno.errors.NotFound);
    });

    await t.step("--fingerprint with the right key: chats, pins nothing", async () => {
      await using bob = await TestClient.joinText(server.port, "bob");
      await using dave = startClient(
        port,
        ["--fingerprint", server.fingerprint!, "--nick", "dave"],
        {
          env: clientEnv(home),
        },
      );
      await dave.stdout.expect(/^\* welcome, dave!/, 30_000);
      await dave.send("scripted hello");
      await bob.lines.expect("dave: scripted hello");
      await dave.end();
      assert.equal((await dave.exit(30_000)).code, 0);
      await assert.rejects(Deno.stat(knownHosts(home)), Deno.errors.NotFound);
    });

    await t.step("--fingerprint with another key: refused, both named", async () => {
      const wrong = "SHA256:" + "A".repeat(43);
      await using dave = startClient(port, ["--fingerprint", wrong, "--nick", "dave"], {
        env: clientEnv(home),
      });
      assert.equal((await dave.exit(30_000)).code, 1);
      const text = dave.stderr.seen.join("\n");
      assert.ok(text.includes(server.fingerprint!) && text.includes(wrong), text);
    });

    await t.step("a malformed --fingerprint is a usage error", async () => {
      await using dave = startClient(port, ["--fingerprint", "abc"], { env: clientEnv(home) });
      assert.equal((await dave.exit(30_000)).code, 2);
    });
  });
});

Deno.test("tls client: a reconnect checks the same pin", async (t) => {
  await withHome(async (home) => {
    const tlsPort = freePort();
    let server = await startTestServer(["--tls-port", String(tlsPort)]);
    try {
      // TLS passes through the TCP proxy untouched; cutting it drops the connection.
      await using proxy = startTcpProxy(tlsPort);
      await using erin = startClient(proxy.port, [
        "--fingerprint",
        server.fingerprint!,
        "--nick",
        "erin",
        "--retry-delay",
        "50",
        "--retries",
        "20",
      ], { env: clientEnv(home) });
      await erin.stdout.expect(/^\* welcome, erin!/, 30_000);

      await t.step("the same server: reconnected", async () => {
        proxy.cut();
        await erin.stdout.expect(/^\* reconnected as erin/, 30_000);
      });

      await t.step("another key behind the same address: refused, exit 1", async () => {
        await server.stop();
        server = await startTestServer(["--tls-port", String(tlsPort)]);
        assert.equal((await erin.exit(30_000)).code, 1);
        const text = erin.stderr.seen.join("\n");
        assert.match(text, /certificate of 127\.0\.0\.1:\d+ changed during this session/);
        assert.ok(text.includes(server.fingerprint!), text);
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

/** A test authority and a server certificate it signed (for `name`), as files in `dir`. */
async function authoritySigned(
  dir: string,
  name = "127.0.0.1",
): Promise<{ ca: string; cert: string; key: string }> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=chat test authority",
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: `CN=${name}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: /^[\d.]+$/.test(name) ? "ip" : "dns", value: name },
      ]),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const files = { ca: `${dir}/ca.pem`, cert: `${dir}/fullchain.pem`, key: `${dir}/privkey.pem` };
  await Deno.writeTextFile(files.ca, ca.toString("pem") + "\n");
  await Deno.writeTextFile(files.cert, leaf.toString("pem") + "\n" + ca.toString("pem") + "\n");
  await Deno.writeTextFile(files.key, x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n");
  return files;
}

/**
 * Runs `fn` with a server on `--tls-cert`/`--tls-key` signed by a test
 * authority for `name`, and a client environment that trusts the authority.
 */
async function withAuthorityServer(
  name: string,
  fn: (
    server: TestServer,
    files: { ca: string; cert: string },
    env: Record<string, string>,
    home: string,
  ) => Promise<void>,
): Promise<void> {
  await withHome(async (home) => {
    const dir = await Deno.makeTempDir({ prefix: "chat_tls_ca_" });
    try {
      const files = await authoritySigned(dir, name);
      // The server reads the operator's files from dir (startTestServer allows the --db folder).
      await using server = await startTestServer([
        "--db",
        `${dir}/chat.db`,
        "--tls-port",
        String(freePort()),
        "--tls-cert",
        files.cert,
        "--tls-key",
        files.key,
      ]);
      // DENO_CERT adds the test authority to the client's trusted roots.
      await fn(server, files, { ...clientEnv(home), DENO_CERT: files.ca }, home);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("tls client: a certificate from a trusted authority verifies without a pin", async () => {
  await withAuthorityServer("127.0.0.1", async (server, files, env, home) => {
    assert.ok(server.stdout.seen.some((l) => l.includes(`(from ${files.cert})`)));
    // The whole chain is served (leaf and authority), as a full-chain file asks.
    const { stdout } = await new Deno.Command("openssl", {
      args: ["s_client", "-showcerts", "-connect", `127.0.0.1:${server.tlsPort}`],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const served = new TextDecoder().decode(stdout).match(/-----BEGIN CERTIFICATE-----/g);
    assert.equal(served?.length, 2);
    await using frank = startClient(server.tlsPort!, ["--tls", "--nick", "frank"], { env });
    await frank.stdout.expect(/^\* welcome, frank!/, 30_000);
    await frank.end();
    assert.equal((await frank.exit(30_000)).code, 0);
    await assert.rejects(Deno.stat(knownHosts(home)), Deno.errors.NotFound);
  });
});

Deno.test("tls client: a trusted authority's certificate for another name is not trusted", async () => {
  await withAuthorityServer("chat.example", async (server, _files, env, home) => {
    await using frank = startClient(server.tlsPort!, ["--tls", "--nick", "frank"], { env });
    assert.equal((await frank.exit(30_000)).code, 1);
    const text = frank.stderr.seen.join("\n");
    assert.ok(text.includes("does not name 127.0.0.1 (ERR_TLS_CERT_ALTNAME_INVALID)"), text);
    assert.ok(text.includes(`--fingerprint ${server.fingerprint}`), text);
    assert.deepEqual(frank.stdout.seen, []);
    assert.ok(!server.log.seen.some((l) => / nick frank /.test(l)));
    await assert.rejects(Deno.stat(knownHosts(home)), Deno.errors.NotFound);
  });
});
