// Unit tests of addressKey(): the key connections are counted under for --max-per-ip.

import assert from "@chat/assert";
import { addressKey } from "../server/mod.ts";

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
