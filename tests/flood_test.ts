// Unit tests of TokenBucket with an injected clock.

import assert from "@chat/assert";
import { TokenBucket } from "../server/mod.ts";

Deno.test("TokenBucket.take() allows the burst, then waits 1/rate per token", () => {
  let now = 1000;
  const bucket = new TokenBucket(3, 20, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.equal(bucket.take(), 50);
  assert.equal(bucket.take(), 100); // taken on credit: the waits add up
  now += 100;
  assert.equal(bucket.take(), 50);
});

Deno.test("TokenBucket.take() refills at the rate up to the burst, never beyond", () => {
  let now = 0;
  const bucket = new TokenBucket(2, 5, () => now);
  bucket.take();
  bucket.take();
  now += 200; // one token back
  assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 200);
  now += 60_000; // a long pause refills only the burst
  assert.deepEqual([bucket.take(), bucket.take()], [0, 0]);
  assert.ok(bucket.take() > 0);
});

Deno.test("TokenBucket.take() paces a flood of N lines to (N - burst) / rate seconds", () => {
  let now = 0;
  const bucket = new TokenBucket(3, 20, () => now);
  for (let i = 0; i < 30; i++) now += bucket.take(); // the reader sleeps what it is told
  assert.equal(now, (30 - 3) / 20 * 1000);
});

Deno.test("TokenBucket with rate 0 never waits; burst 0 counts as 1", () => {
  const off = new TokenBucket(0, 0, () => 0);
  for (let i = 0; i < 1000; i++) assert.equal(off.take(), 0);
  const one = new TokenBucket(0, 1, () => 0);
  assert.equal(one.take(), 0);
  assert.equal(one.take(), 1000);
});
