import assert from "@chat/assert";
import { deliveredFraction, LatencyHistogram, rate, summarize } from "./stats.ts";

Deno.test("LatencyHistogram.percentile() is within 1 % above the exact nearest rank", () => {
  const h = new LatencyHistogram();
  const samples: number[] = [];
  for (let i = 1; i <= 10_000; i++) {
    const us = (i * 7919) % 50_000 + 1; // spread 1 µs .. 50 ms, in no particular order
    samples.push(us);
    h.record(us);
  }
  samples.sort((a, b) => a - b);
  for (const p of [1, 50, 90, 99, 99.9, 100]) {
    const exact = samples[Math.ceil((p / 100) * samples.length) - 1]!;
    const got = h.percentile(p);
    assert.ok(got >= exact, `p${p}: ${got} < exact ${exact}`);
    assert.ok(got <= Math.ceil(exact * 1.01), `p${p}: ${got} more than 1 % over ${exact}`);
  }
  assert.equal(h.count, 10_000);
  assert.equal(h.max, samples.at(-1));
  assert.equal(h.percentile(100), h.max);
});

Deno.test("LatencyHistogram.percentile() of an empty histogram is 0 and p outside 0–100 throws", () => {
  const h = new LatencyHistogram();
  assert.equal(h.percentile(50), 0);
  assert.equal(h.max, 0);
  assert.throws(() => h.percentile(101), RangeError);
  assert.throws(() => h.percentile(NaN), RangeError);
});

Deno.test("LatencyHistogram.record() counts repeated samples and clamps below 1 µs", () => {
  const h = new LatencyHistogram();
  h.record(0.2, 3);
  h.record(1000);
  assert.equal(h.count, 4);
  assert.equal(h.percentile(75), 1);
  assert.equal(h.percentile(76), 1000);
});

Deno.test("LatencyHistogram.merge() adds counts and keeps the larger maximum", () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 0; i < 99; i++) a.record(100);
  b.record(5000);
  a.merge(b);
  assert.equal(a.count, 100);
  assert.equal(a.max, 5000);
  assert.ok(Math.abs(a.percentile(99) - 100) <= 1);
  assert.equal(a.percentile(100), 5000);
});

Deno.test("rate() and deliveredFraction() handle empty periods and nothing expected", () => {
  assert.equal(rate(500, 250), 2000);
  assert.equal(rate(10, 0), 0);
  assert.equal(deliveredFraction(990, 1000), 0.99);
  assert.equal(deliveredFraction(0, 0), 1);
});

Deno.test("summarize() reports rates, fraction and latency in ms", () => {
  const latency = new LatencyHistogram();
  latency.record(1000, 98);
  latency.record(4000, 1);
  latency.record(9000, 1);
  const s = summarize({
    sent: 10,
    expected: 100,
    delivered: 100,
    sendMs: 2000,
    deliverMs: 2500,
    latency,
  });
  assert.equal(s.messages, 10);
  assert.equal(s.messagesPerSecond, 5);
  assert.equal(s.deliveries, 100);
  assert.equal(s.deliveriesPerSecond, 40);
  assert.equal(s.deliveredFraction, 1);
  assert.ok(s.latencyMs.p50 >= 1 && s.latencyMs.p50 <= 1.01);
  assert.ok(s.latencyMs.p99 >= 4 && s.latencyMs.p99 <= 4.04);
  assert.equal(s.latencyMs.max, 9);
});
