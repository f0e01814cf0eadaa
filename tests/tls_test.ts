// TLS end to end, against the real server subprocess: the same protocol
// inside TLS on --tls-port, a generated certificate kept beside the database
// and reused, openssl s_client with TLS 1.2 and 1.3, and --plain-port 0.

import assert from "@chat/assert";
import tls from "node:tls";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { generateSelfSigned, spkiFingerprint } from "../tls/certificate.ts";
import {
  freePort,
  LineQueue,
  MAIN,
  SERVER_PERMISSIONS,
  startTestServer,
  TestClient,
  type TestServer,
} from "./test_util.ts";

/** A server with its database (and so its generated certificate) in a temp dir. */
async function tlsServer(dir: string, extra: string[] = []) {
  return await startTestServer([
    "--db",
    `${dir}/chat.db`,
    "--tls-port",
    String(freePort()),
    ...extra,
  ]);
}

async function joinTextTls(port: number, cert: string, nick: string): Promise<TestClient> {
  const client = await TestClient.connectTls(port, cert);
  await client.send(nick);
  await client.lines.expect(/^\* welcome, /);
  return client;
}

Deno.test("tls: a generated certificate, kept beside the database and reused", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    let fingerprint: string;
    let cert: string;
    await t.step(
      "first start generates it: ECDSA P-256, CA:FALSE, SAN, key mode 0600",
      async () => {
        await using server = await tlsServer(dir);
        assert.ok(
          server.stdout.seen.some((l) =>
            /new self-signed, kept in .*chat\.db\.tls-cert\.pem/.test(l)
          ),
        );
        cert = await Deno.readTextFile(`${dir}/chat.db.tls-cert.pem`);
        const key = await Deno.stat(`${dir}/chat.db.tls-key.pem`);
        assert.equal(key.mode! & 0o777, 0o600);
        fingerprint = server.fingerprint!;
        assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.equal(await spkiFingerprint(cert), fingerprint);
        const parsed = new x509.X509Certificate(cert);
        const algorithm = parsed.publicKey.algorithm as EcKeyAlgorithm;
        assert.equal(algorithm.name, "ECDSA");
        assert.equal(algorithm.namedCurve, "P-256");
        const basic = parsed.getExtension(x509.BasicConstraintsExtension)!;
        assert.equal(basic.ca, false);
        const san = parsed.getExtension(x509.SubjectAlternativeNameExtension)!;
        const names = san.names.toJSON().map((n) => n.value);
        for (const name of ["127.0.0.1", "localhost"]) {
          assert.ok(names.includes(name), names.join());
        }
      },
    );

    await t.step(
      "the same protocol inside TLS: plain text and JSON, with plain TCP users",
      async () => {
        await using server = await tlsServer(dir);
        assert.equal(server.fingerprint, fingerprint, "a later start reuses the certificate");
        assert.ok(server.stdout.seen.some((l) => /fingerprint \S+ \(self-signed, kept in/.test(l)));
        await using alice = await joinTextTls(server.tlsPort!, cert, "alice");
        await using bob = await TestClient.joinText(server.port, "bob");
        await using carol = await TestClient.connectTls(server.tlsPort!, cert);
        await carol.sendFrame({ type: "hello", version: 1, nick: "carol" });
        await carol.expectFrame((f) => f.type === "welcome");
        await alice.send("hello over TLS");
        await bob.lines.expect(/alice: hello over TLS$/);
        await carol.expectFrame((f) => f.type === "message" && f.text === "hello over TLS");
        await bob.send("hello in the clear");
        await alice.lines.expect(/bob: hello in the clear$/);
        await server.log.expect(/connect 127\.0\.0\.1:\d+ \(3 open\)/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls: openssl s_client completes a handshake with TLS 1.2 and with TLS 1.3", async (t) => {
  await using server = await startTestServer(["--tls-port", String(freePort())]);
  for (const version of ["1_2", "1_3"]) {
    await t.step(`TLS ${version.replace("_", ".")}`, async () => {
      const openssl = new Deno.Command("openssl", {
        args: ["s_client", "-brief", `-tls${version}`, "-connect", `127.0.0.1:${server.tlsPort}`],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stdout = new LineQueue(openssl.stdout);
      const stderr = new LineQueue(openssl.stderr);
      const stdin = openssl.stdin.getWriter();
      try {
        await stderr.expect(`Protocol version: TLSv${version.replace("_", ".")}`);
        await stdin.write(new TextEncoder().encode(`ssl${version}\n`));
        await stdout.expect(`* welcome, ssl${version}! 1 online; type /help for commands`);
        await stdin.write(new TextEncoder().encode("/quit\n"));
        await stdout.expectEnd();
      } finally {
        await stdin.close().catch(() => {});
        try {
          openssl.kill("SIGKILL");
        } catch { /* exited */ }
        await openssl.status;
        await Promise.all([stdout.done, stderr.done]);
      }
    });
  }
});

Deno.test("tls: --plain-port 0 leaves only TLS; --plain-port N is the plain port", async (t) => {
  await t.step("--plain-port 0", async () => {
    await using server = await startTestServer([
      "--plain-port",
      "0",
      "--tls-port",
      String(freePort()),
    ]);
    assert.equal(server.port, 0);
    assert.ok(
      !server.stdout.seen.some((l) => /listening on/.test(l)),
      server.stdout.seen.join("\n"),
    );
    const cert = await certificateOf(server.tlsPort!);
    await using alice = await joinTextTls(server.tlsPort!, cert, "alice");
    await alice.send("/quit");
    await alice.lines.expectEnd();
  });
  await t.step("--plain-port N", async () => {
    const port = freePort();
    await using server = await startTestServer(["--plain-port", String(port)]);
    assert.equal(server.port, port);
    await using bob = await TestClient.joinText(port, "bob");
    await bob.send("/quit");
    await bob.lines.expectEnd();
  });
  await t.step("nothing to serve, or both port flags: a usage error", async () => {
    for (
      const args of [
        ["--plain-port", "0", "--tls-port", "0"],
        ["--port", "0", "--plain-port", "0"],
        ["--tls-cert", "x.pem"],
      ]
    ) {
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...SERVER_PERMISSIONS, MAIN, "server", "--db", ":memory:", ...args],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 2, args.join(" "));
      assert.match(new TextDecoder().decode(stderr), /^chat: .*\(see chat --help\)\n$/);
    }
  });
});

/** The certificate a TLS port presents, as PEM (read with openssl, trusted by no one). */
async function certificateOf(port: number): Promise<string> {
  const { stdout } = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!pem) throw new Error(`no certificate from port ${port}: ${text}`);
  return pem[0] + "\n";
}

/**
 * Two certificate pairs for 127.0.0.1, the first written to `fullchain.pem`
 * and `privkey.pem` (mode 0600) in `dir`, the second to swap in before a SIGHUP.
 */
async function twoPairs(dir: string) {
  const [cert, key] = [`${dir}/fullchain.pem`, `${dir}/privkey.pem`];
  const first = await generateSelfSigned(["127.0.0.1"]);
  const second = await generateSelfSigned(["127.0.0.1"]);
  await Deno.writeTextFile(cert, first.cert);
  await Deno.writeTextFile(key, first.key, { mode: 0o600 });
  return { cert, key, first, second };
}

/** Writes `pair` over the files, sends SIGHUP and waits for the server to say it reloaded. */
async function swapIn(
  server: TestServer,
  files: { cert: string; key: string },
  pair: { cert: string; key: string; fingerprint: string },
) {
  await Deno.writeTextFile(files.cert, pair.cert);
  await Deno.writeTextFile(files.key, pair.key);
  server.process.kill("SIGHUP");
  await server.log.expect(
    (l) => l.endsWith(` TLS certificate reloaded: ${pair.fingerprint}`),
    20_000,
  );
}

Deno.test("tls: SIGHUP reloads --tls-cert/--tls-key; open connections keep chatting", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const { cert, key, first, second } = await twoPairs(dir);
    await Deno.chmod(key, 0o644);
    await using server = await tlsServer(dir, ["--tls-cert", cert, "--tls-key", key]);
    assert.equal(server.fingerprint, first.fingerprint);
    await server.log.expect(/warning: .*privkey\.pem may be read by other users \(mode 0644\)/);
    await using alice = await joinTextTls(server.tlsPort!, first.cert, "alice");
    await using bob = await joinTextTls(server.tlsPort!, first.cert, "bob");

    await t.step("new connections get the new certificate; old ones stay", async () => {
      await swapIn(server, { cert, key }, second);
      assert.equal(await spkiFingerprint(await certificateOf(server.tlsPort!)), second.fingerprint);
      await using carol = await joinTextTls(server.tlsPort!, second.cert, "carol");
      await alice.send("still here after the reload");
      await bob.lines.expect("alice: still here after the reload");
      await carol.lines.expect("alice: still here after the reload");
      await bob.send("me too");
      await alice.lines.expect("bob: me too");
    });

    await t.step("a broken pair is refused; the last good one stays in use", async () => {
      await Deno.writeTextFile(cert, "not a certificate\n");
      server.process.kill("SIGHUP");
      await server.log.expect(/TLS reload failed, keeping the old certificate: /, 20_000);
      await Deno.writeTextFile(cert, first.cert); // a key that does not match
      server.process.kill("SIGHUP");
      await server.log.expect(/TLS reload failed, keeping the old certificate: .*/, 20_000);
      assert.equal(await spkiFingerprint(await certificateOf(server.tlsPort!)), second.fingerprint);
      await alice.send("and after a failed reload");
      await bob.lines.expect("alice: and after a failed reload");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls: SIGHUP reloads the HTTPS/WSS certificate too; an open WSS connection keeps chatting", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { cert, key, first, second } = await twoPairs(dir);
    const httpsPort = freePort();
    await using server = await tlsServer(dir, [
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--https-port",
      String(httpsPort),
    ]);
    await server.stdout.expect(/web client: open https:\/\/\S+ in a browser/);
    assert.equal(await spkiFingerprint(await certificateOf(httpsPort)), first.fingerprint);
    await using alice = await wssJson(httpsPort, "alice");
    await using bob = await TestClient.joinText(server.port, "bob");

    await swapIn(server, { cert, key }, second);
    assert.equal(await spkiFingerprint(await certificateOf(httpsPort)), second.fingerprint);
    // The WSS connection opened before the reload keeps its session.
    alice.send({ type: "say", text: "still here over wss" });
    await bob.lines.expect("alice: still here over wss");
    await bob.send("welcome back");
    await alice.expect((f) => f.type === "message" && f.text === "welcome back");
    // And a new one, with the new certificate, joins the same room.
    await using carol = await wssJson(httpsPort, "carol");
    carol.send({ type: "say", text: "new certificate, same room" });
    await bob.lines.expect("carol: new certificate, same room");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A JSON client over WSS (a raw `node:tls` socket that trusts any
 * certificate, speaking RFC 6455 frames by hand), after its welcome.
 */
async function wssJson(port: number, nick: string) {
  const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  let buffer = new Uint8Array();
  const frames: Record<string, unknown>[] = [];
  let upgraded = false;
  socket.on("data", (chunk: Uint8Array) => {
    buffer = Uint8Array.from([...buffer, ...chunk]);
    if (!upgraded) {
      const end = new TextDecoder("latin1").decode(buffer).indexOf("\r\n\r\n");
      if (end === -1) return;
      buffer = buffer.slice(end + 4);
      upgraded = true;
    }
    // Server frames are unmasked; text frames only (opcode 1), FIN set.
    while (buffer.length >= 2) {
      let length = buffer[1]! & 0x7f;
      let start = 2;
      if (length === 126) [length, start] = [(buffer[2]! << 8) | buffer[3]!, 4];
      else if (length === 127) throw new Error("frame too long for this test");
      if (buffer.length < start + length) return;
      if ((buffer[0]! & 0x0f) === 1) {
        frames.push(JSON.parse(new TextDecoder().decode(buffer.slice(start, start + length))));
      }
      buffer = buffer.slice(start + length);
    }
  });
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  );
  const send = (frame: Record<string, unknown>) => {
    const payload = new TextEncoder().encode(JSON.stringify(frame));
    const head = payload.length < 126
      ? [0x81, 0x80 | payload.length]
      : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
    socket.write(Uint8Array.from([...head, 0, 0, 0, 0, ...payload])); // a zero mask key
  };
  const expect = async (match: (f: Record<string, unknown>) => boolean) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const i = frames.findIndex(match);
      if (i !== -1) return frames.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`not seen in ${JSON.stringify(frames)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  send({ type: "hello", version: 1, nick });
  await expect((f) => f.type === "welcome");
  return {
    send,
    expect,
    [Symbol.asyncDispose]: () => {
      socket.destroy();
      return Promise.resolve();
    },
  };
}

Deno.test("tls: accept() failing with too many open files backs off and recovers", async () => {
  await using server = await startTestServer(
    ["--max-per-ip", "0", "--tls-port", String(freePort())],
    { fdLimit: 64 },
  );
  const cert = await certificateOf(server.tlsPort!);
  await using alice = await joinTextTls(server.tlsPort!, cert, "alice");
  await using bob = await TestClient.joinText(server.port, "bob");
  const hogs: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      hogs.push(await Deno.connect({ hostname: "127.0.0.1", port: server.tlsPort! }));
    }
    await server.log.expect(/accept failed: .*[Tt]oo many open files.*; retrying in \d+ ms/);
    await alice.send("still serving over TLS");
    await bob.lines.expect("alice: still serving over TLS");
  } finally {
    for (const conn of hogs) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  // Once the hogs are gone, the TLS port accepts again.
  await using _carol = await joinTextTls(server.tlsPort!, cert, "carol");
  await bob.lines.expect("* carol joined the chat");
});
