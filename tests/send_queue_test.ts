// Unit tests of SendQueue with an in-memory writer whose pace the test sets.

import assert from "@chat/assert";
import { SendQueue, WRITES_PER_TURN } from "../server/mod.ts";

/** A writer that records each call and writes at most `limit` bytes per call. */
function recordingWriter(limit = Infinity) {
  const calls: number[][] = [];
  const write = (bytes: Uint8Array) => {
    const n = Math.min(bytes.length, limit);
    calls.push([...bytes.subarray(0, n)]);
    return Promise.resolve(n);
  };
  return { calls, write };
}

/** A writer whose writes stay pending until released (a peer that never reads). */
function stuckWriter() {
  let release: (() => void) | undefined;
  let calls = 0;
  const write = (bytes: Uint8Array) => {
    calls++;
    return new Promise<number>((resolve) => release = () => resolve(bytes.length));
  };
  return {
    write,
    get calls() {
      return calls;
    },
    release: () => release?.(),
  };
}

Deno.test("SendQueue.push() batches pushes of one turn into one write", async () => {
  const { calls, write } = recordingWriter();
  const queue = new SendQueue({ writeSome: write });
  assert.ok(queue.push(new Uint8Array([1, 2])));
  assert.ok(queue.push(new Uint8Array([3])));
  assert.ok(queue.push(new Uint8Array([4, 5])));
  assert.equal(queue.bytes, 5);
  await queue.drained();
  assert.deepEqual(calls, [[1, 2, 3, 4, 5]]);
  assert.equal(queue.bytes, 0);
});

Deno.test("SendQueue.push() collects pushes made during a write for the next one", async () => {
  const writer = stuckWriter();
  const queue = new SendQueue({ writeSome: writer.write });
  queue.push(new Uint8Array([1]));
  await Promise.resolve(); // the flush starts and its write hangs
  queue.push(new Uint8Array([2]));
  queue.push(new Uint8Array([3]));
  assert.equal(writer.calls, 1);
  const drained = queue.drained();
  writer.release();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(writer.calls, 2); // [2, 3] went out in one write
  writer.release();
  await drained;
  assert.equal(queue.bytes, 0);
});

Deno.test("SendQueue.push() finishes partial writes in order", async () => {
  const { calls, write } = recordingWriter(3);
  const queue = new SendQueue({ writeSome: write });
  const data = Array.from({ length: 10 }, (_, i) => i);
  queue.push(new Uint8Array(data.slice(0, 4)));
  queue.push(new Uint8Array(data.slice(4)));
  await queue.drained();
  assert.deepEqual(calls, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
});

Deno.test("SendQueue.push() refuses past maxBytes and calls queueOverflowed once", async () => {
  const writer = stuckWriter();
  let overflows = 0;
  const queue = new SendQueue(
    { writeSome: writer.write, queueOverflowed: () => overflows++ },
    { maxBytes: 10 },
  );
  assert.ok(queue.push(new Uint8Array(6)));
  assert.ok(queue.push(new Uint8Array(4))); // exactly at the bound: accepted
  const drained = queue.drained();
  assert.equal(queue.push(new Uint8Array(1)), false);
  assert.equal(queue.push(new Uint8Array(1)), false);
  assert.equal(overflows, 1);
  await drained; // a failed queue wakes its waiters: nobody waits on a dead peer
  assert.ok(queue.bytes <= 10);
});

Deno.test("SendQueue with maxBytes 0 is unbounded", async () => {
  const writer = stuckWriter();
  const queue = new SendQueue(
    { writeSome: writer.write, queueOverflowed: () => assert.fail() },
    { maxBytes: 0 },
  );
  for (let i = 0; i < 100; i++) assert.ok(queue.push(new Uint8Array(1024 * 1024)));
  assert.equal(queue.bytes, 100 * 1024 * 1024);
  await Promise.resolve();
});

Deno.test("SendQueue calls writeFailed once when a write fails, then refuses pushes", async () => {
  const errors: unknown[] = [];
  const queue = new SendQueue({
    writeSome: () => Promise.reject(new Error("broken pipe")),
    writeFailed: (e) => errors.push(e),
  });
  queue.push(new Uint8Array(1));
  await queue.drained();
  assert.equal(errors.length, 1);
  assert.equal(queue.push(new Uint8Array(1)), false);
  assert.equal(errors.length, 1);
});

Deno.test("SendQueue.drained() resolves at once when empty, else after the last byte", async () => {
  const { write } = recordingWriter(1);
  const queue = new SendQueue({ writeSome: write });
  await queue.drained();
  queue.push(new Uint8Array(5));
  let done = false;
  const drained = queue.drained().then(() => done = true);
  assert.equal(done, false);
  await drained;
  assert.equal(queue.bytes, 0);
});

Deno.test("SendQueue treats a writer that throws like a failed write", async () => {
  const errors: unknown[] = [];
  const queue = new SendQueue({
    writeSome: () => {
      throw new Error("bad resource");
    },
    writeFailed: (e) => errors.push(e),
  });
  queue.push(new Uint8Array(1));
  await queue.drained();
  assert.equal(errors.length, 1);
  assert.equal(queue.push(new Uint8Array(1)), false);
});

Deno.test("SendQueue keeps order when pushes arrive during a partial write", async () => {
  const { calls, write } = recordingWriter(2);
  const queue = new SendQueue({ writeSome: write });
  queue.push(new Uint8Array([1, 2, 3]));
  await Promise.resolve(); // the first write (of 2 bytes) is in flight
  queue.push(new Uint8Array([4]));
  queue.push(new Uint8Array([5, 6]));
  await queue.drained();
  assert.deepEqual(calls.flat(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(calls[0], [1, 2]);
  assert.equal(queue.bytes, 0);
});

/** `count` queues that write everything at once, each noting its index in `order` per write. */
function recordingQueues(count: number, order: number[]): SendQueue[] {
  return Array.from({ length: count }, (_, i) =>
    new SendQueue({
      writeSome: (bytes) => {
        order.push(i);
        return Promise.resolve(bytes.length);
      },
    }));
}

Deno.test("SendQueue: a broadcast's queues each write once, in push order", async () => {
  const order: number[] = [];
  const queues = recordingQueues(50, order);
  for (let i = queues.length - 1; i >= 0; i--) {
    queues[i]!.push(new Uint8Array([1]));
    queues[i]!.push(new Uint8Array([2]));
  }
  await Promise.all(queues.map((q) => q.drained()));
  assert.deepEqual(order, queues.map((_, i) => queues.length - 1 - i));
});

Deno.test("SendQueue starts at most WRITES_PER_TURN writes per turn; the rest follow in order", async () => {
  const order: number[] = [];
  const count = WRITES_PER_TURN * 3 + 5;
  const queues = recordingQueues(count, order);
  for (const queue of queues) queue.push(new Uint8Array([1]));
  await Promise.resolve(); // the end-of-turn flush ran
  assert.ok(order.length <= WRITES_PER_TURN, `${order.length} writes in one turn`);
  // A queue whose write waits for the next turn still collects pushes for it.
  queues.at(-1)!.push(new Uint8Array([2]));
  await Promise.all(queues.map((q) => q.drained()));
  assert.deepEqual(order.slice(0, count), queues.map((_, i) => i));
  assert.equal(order.length, count); // the last queue's two pushes went out as one write
});

Deno.test("SendQueue: thousands of queues waiting for their turn all go, in order (the list is compacted as it goes)", async () => {
  const order: number[] = [];
  const count = WRITES_PER_TURN * 25 + 7; // past the compaction threshold (1024 gone)
  const queues = recordingQueues(count, order);
  for (const queue of queues) queue.push(new Uint8Array([1]));
  await Promise.all(queues.map((q) => q.drained()));
  assert.deepEqual(order, queues.map((_, i) => i));
  // A second wave, pushed while the first still waits, keeps the same order too.
  order.length = 0;
  for (const queue of queues) queue.push(new Uint8Array([2]));
  await Promise.resolve();
  for (const queue of queues) queue.push(new Uint8Array([3]));
  await Promise.all(queues.map((q) => q.drained()));
  assert.deepEqual(order.slice(0, count), queues.map((_, i) => i));
  assert.ok(order.length <= 2 * count);
});

Deno.test("SendQueue: receivers of the same chunks share one joined write, each gets all of it", async () => {
  const seen: Uint8Array[][] = [[], [], []];
  // The second receiver takes 2 bytes per write: its rest must not disturb the others.
  const queues = seen.map((calls, k) =>
    new SendQueue({
      writeSome: (bytes) => {
        calls.push(bytes);
        return Promise.resolve(k === 1 ? Math.min(2, bytes.length) : bytes.length);
      },
    })
  );
  const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]), new Uint8Array([6])];
  for (const chunk of chunks) for (const q of queues) q.push(chunk);
  await Promise.all(queues.map((q) => q.drained()));
  assert.deepEqual([...seen[0]![0]!], [1, 2, 3, 4, 5, 6]);
  assert.equal(seen[2]![0], seen[0]![0], "one joined copy for identical queues");
  const second = seen[1]!.flatMap((b) => [...b.subarray(0, Math.min(2, b.length))]);
  assert.deepEqual(second, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...seen[0]![0]!], [1, 2, 3, 4, 5, 6], "the shared copy is never changed");
});
