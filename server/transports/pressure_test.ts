import assert from "@chat/assert";
import { Pressure } from "./pressure.ts";
import { SendQueue } from "./send_queue.ts";

Deno.test("Pressure.relieved() resolves when the last backlogged queue lowers it", async () => {
  const pressure = new Pressure();
  const a = {};
  const b = {};
  pressure.raise(a);
  pressure.raise(b);
  let woke = false;
  const waiting = pressure.relieved(60_000).then(() => woke = true);
  pressure.lower(a);
  await Promise.resolve();
  assert.equal(woke, false);
  pressure.lower(b);
  await waiting;
  assert.equal(pressure.active, false);
});

Deno.test("Pressure.relieved() gives up after its wait, and is immediate with no pressure", async () => {
  const pressure = new Pressure();
  await pressure.relieved(60_000); // would time the test out if it waited
  pressure.raise({});
  await pressure.relieved(1);
  assert.equal(pressure.active, true);
});

Deno.test("SendQueue raises pressure over its high-water mark and lowers it once drained", async () => {
  const pressure = new Pressure();
  let release: (() => void) | undefined;
  const queue = new SendQueue({
    writeSome: async (bytes) => {
      await new Promise<void>((resolve) => release = resolve);
      return bytes.length;
    },
  }, { maxBytes: 100, highWaterBytes: 10, pressure });
  queue.push(new Uint8Array(8));
  assert.equal(pressure.active, false);
  queue.push(new Uint8Array(8));
  assert.equal(pressure.active, true);
  while (!release) await new Promise((resolve) => setTimeout(resolve, 1));
  release();
  await queue.drained();
  assert.equal(pressure.active, false);
});

Deno.test("SendQueue lowers pressure when it overflows (the peer is dropped)", () => {
  const pressure = new Pressure();
  let overflowed = false;
  const queue = new SendQueue({
    writeSome: () => new Promise<number>(() => {}),
    queueOverflowed: () => overflowed = true,
  }, { maxBytes: 20, highWaterBytes: 5, pressure });
  queue.push(new Uint8Array(10));
  assert.equal(pressure.active, true);
  assert.equal(queue.push(new Uint8Array(20)), false);
  assert.equal(overflowed, true);
  assert.equal(pressure.active, false);
});

Deno.test("SendQueue stops holding pressure once its writes stall (a peer that never reads)", async () => {
  const pressure = new Pressure();
  const queue = new SendQueue({ writeSome: () => new Promise<number>(() => {}) }, {
    maxBytes: 1000,
    highWaterBytes: 10,
    pressure,
  });
  queue.push(new Uint8Array(20));
  assert.equal(pressure.active, true);
  // Resolves at the stall check, long before this deadline.
  await pressure.relieved(10_000);
  assert.equal(pressure.active, false);
  queue.push(new Uint8Array(20));
  assert.equal(pressure.active, false, "a stalled queue must not raise pressure again");
  assert.equal(queue.push(new Uint8Array(2000)), false, "it still fills up and overflows");
});

Deno.test("Pressure.relievedOf() waits only for the queues a sender fed", async () => {
  const pressure = new Pressure();
  const fed = {};
  const elsewhere = {};
  pressure.raise(fed);
  pressure.raise(elsewhere);
  // A backlog elsewhere does not hold a sender that fed none of it.
  await pressure.relievedOf(new Set([{}]), 60_000);
  let woke = false;
  const waiting = pressure.relievedOf(new Set([fed]), 60_000).then(() => woke = true);
  await Promise.resolve();
  assert.equal(woke, false);
  pressure.lower(fed); // `elsewhere` stays backlogged: the sender goes on all the same
  await waiting;
  assert.equal(pressure.active, true);
  assert.equal(pressure.isRaised(elsewhere), true);
  assert.equal(pressure.isRaised(fed), false);
});

Deno.test("Pressure.relievedOf() waits for every queue it names, at most maxWaitMs", async () => {
  const pressure = new Pressure();
  const a = {};
  const b = {};
  pressure.raise(a);
  pressure.raise(b);
  let woke = false;
  const waiting = pressure.relievedOf(new Set([a, b]), 60_000).then(() => woke = true);
  pressure.lower(a);
  await Promise.resolve();
  assert.equal(woke, false);
  pressure.lower(b);
  await waiting;
  pressure.raise(a);
  await pressure.relievedOf(new Set([a]), 1); // gives up after 1 ms
  assert.equal(pressure.isRaised(a), true);
});
