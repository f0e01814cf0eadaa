// Unit tests of the client's pin file and of fingerprint parsing.

import assert from "@chat/assert";
import { addKnownHost, hostKey, readKnownHosts } from "../client/known_hosts.ts";
import { parseFingerprint } from "../tls/certificate.ts";

const FP = "SHA256:zslEtefbP21z96Ey1N/VjbzHi8hoLW1jp5817G99n7s";

Deno.test("hostKey: lower case, IPv6 in brackets, with the port", () => {
  assert.equal(hostKey("Chat.Example", 8443), "chat.example:8443");
  assert.equal(hostKey("127.0.0.1", 8443), "127.0.0.1:8443");
  assert.equal(hostKey("::1", 8443), "[::1]:8443");
  assert.equal(hostKey("[2001:DB8::1]", 9000), "[2001:db8::1]:9000");
});

Deno.test("parseFingerprint: SSH's form, with or without padding, any case of the prefix", () => {
  assert.equal(parseFingerprint(FP), FP);
  assert.equal(parseFingerprint(`${FP}=`), FP);
  assert.equal(parseFingerprint(` sha256:${FP.slice(7)} `), FP);
  for (const bad of ["", "SHA256:", "SHA256:abc", `MD5:${FP.slice(7)}`, `${FP}x`]) {
    assert.equal(parseFingerprint(bad), undefined, bad);
  }
});

Deno.test("known_hosts: created 0600 in a 0700 folder, appended to, read back by line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat/known_hosts`;
    assert.equal((await readKnownHosts(path)).size, 0, "a missing file has no pins");
    await addKnownHost(path, "127.0.0.1:8443", FP);
    await addKnownHost(path, "[::1]:8443", "SHA256:" + "B".repeat(43));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/chat`)).mode! & 0o777, 0o700);
    // A line added by hand without a final newline, a comment and a duplicate.
    await Deno.writeTextFile(path, "# mine\nexample.org:8443 SHA256:x", { append: true });
    await addKnownHost(path, "127.0.0.1:8443", "SHA256:" + "C".repeat(43));
    const pins = await readKnownHosts(path);
    assert.deepEqual(pins.get("127.0.0.1:8443"), { fingerprint: FP, line: 2 });
    assert.equal(pins.get("[::1]:8443")?.line, 3);
    assert.equal(pins.get("example.org:8443")?.fingerprint, "SHA256:x");
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(
      lines[0],
      "# chat client: pinned TLS servers, one per line (HOST:PORT SHA256:fingerprint)",
    );
    assert.equal(lines.at(-2), `127.0.0.1:8443 SHA256:${"C".repeat(43)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
