// Unit tests of addressKey() (the key connections are counted under for
// --max-per-ip) and of the networks address bans name.

import assert from "@chat/assert";
import { addressKey } from "../server/mod.ts";
import {
  formatNetwork,
  networkContains,
  parseAddress,
  parseBanNetwork,
} from "../server/core/address.ts";

Deno.test("addressKey() keeps IPv4 addresses whole", () => {
  assert.equal(addressKey("127.0.0.1"), "127.0.0.1");
  assert.notEqual(addressKey("10.0.0.1"), addressKey("10.0.0.2"));
});

Deno.test("addressKey() counts IPv6 addresses per /64", () => {
  const key = "2001:db8:1:2::/64";
  assert.equal(addressKey("2001:db8:1:2::1"), key);
  assert.equal(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), key);
  assert.equal(addressKey("2001:0db8:0001:0002:0:0:0:ffff"), key);
  assert.notEqual(addressKey("2001:db8:1:3::1"), key);
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1"), "fe80:0:0:0::/64");
});

Deno.test("addressKey() treats IPv4-mapped IPv6 as the IPv4 address", () => {
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
});

Deno.test("parseBanNetwork() reads addresses and CIDR prefixes strictly", async (t) => {
  const shown = (text: string) => formatNetwork(parseBanNetwork(text));
  await t.step("a plain address: IPv4 whole, IPv6 its /64", () => {
    assert.equal(shown("10.0.0.7"), "10.0.0.7");
    assert.equal(shown("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(shown("::ffff:192.0.2.7"), "192.0.2.7");
  });
  await t.step("prefixes, shown in canonical form (RFC 5952 for IPv6)", () => {
    assert.equal(shown("10.1.0.0/16"), "10.1.0.0/16");
    assert.equal(shown("127.0.0.0/24"), "127.0.0.0/24");
    assert.equal(shown("10.0.0.7/32"), "10.0.0.7");
    assert.equal(shown("2001:0DB8:0000::/64"), "2001:db8::/64");
    assert.equal(shown("2001:db8::/32"), "2001:db8::/32");
    assert.equal(shown("2001:db8:0:0:1:0:0:1/128"), "2001:db8::1:0:0:1/128");
    assert.equal(shown("::ffff:10.1.0.0/112"), "10.1.0.0/16");
  });
  await t.step("malformed input is a SyntaxError", () => {
    for (
      const bad of [
        "10.0.0",
        "10.0.0.256",
        "010.0.0.1",
        "10.0.0.0/",
        "10.0.0.0/016",
        "10.0.0.0/1000",
        "10.0.0.0/16/8",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "12345::",
        "fe80::1%eth0",
        "1.2.3.4::",
        "::1.2.3",
        "bob/8",
      ]
    ) {
      assert.throws(() => parseBanNetwork(bad), SyntaxError, bad);
    }
  });
  await t.step("an absurd length, or bits past it, is a RangeError that says why", () => {
    assert.throws(() => parseBanNetwork("10.0.0.0/7"), RangeError, /\/8 to \/32/);
    assert.throws(() => parseBanNetwork("0.0.0.0/0"), RangeError);
    assert.throws(() => parseBanNetwork("10.0.0.0/33"), RangeError);
    assert.throws(() => parseBanNetwork("2001::/31"), RangeError, /\/32 to \/128/);
    assert.throws(() => parseBanNetwork("::/0"), RangeError);
    assert.throws(() => parseBanNetwork("2001:db8::/129"), RangeError);
    assert.throws(
      () => parseBanNetwork("10.1.2.0/16"),
      RangeError,
      /bits set past \/16; did you mean 10\.1\.0\.0\/16\?/,
    );
    assert.throws(() => parseBanNetwork("2001:db8::1/64"), RangeError, /2001:db8::\/64/);
  });
  await t.step("networkContains() matches by prefix and family", () => {
    const net = parseBanNetwork("127.0.0.0/24");
    assert.ok(networkContains(net, parseAddress("127.0.0.2")!));
    assert.ok(networkContains(net, parseAddress("::ffff:127.0.0.200")!));
    assert.ok(!networkContains(net, parseAddress("127.0.1.2")!));
    assert.ok(!networkContains(net, parseAddress("::1")!));
    const v6 = parseBanNetwork("2001:db8::/48");
    assert.ok(networkContains(v6, parseAddress("2001:db8:0:ffff::1")!));
    assert.ok(!networkContains(v6, parseAddress("2001:db8:1::1")!));
  });
});
