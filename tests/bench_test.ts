// End-to-end test of `chat bench`: the real `main.ts bench` subprocess against the real
// server subprocess. Checks correctness (every message delivered, the JSON shape), never speed.

import assert from "@chat/assert";
import { MAIN, startTestServer } from "./test_util.ts";

async function runBenchCommand(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", MAIN, "bench", ...args],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

for (const mode of ["json", "text"] as const) {
  Deno.test(`chat bench delivers every message and prints one JSON object (${mode} mode)`, async () => {
    await using server = await startTestServer(["--quiet"]);
    const { code, out, err } = await runBenchCommand([
      "127.0.0.1",
      String(server.port),
      ...["--clients", "20", "--senders", "2", "--rate", "50", "--duration", "1"],
      ...["--mode", mode, "--json"],
    ]);
    assert.equal(code, 0, err);
    const lines = out.trim().split("\n");
    assert.equal(lines.length, 1, out);
    const result = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(result).sort(), [
      "clients",
      "deliveredFraction",
      "deliveries",
      "deliveriesPerSecond",
      "disconnected",
      "duration",
      "latencyMs",
      "messages",
      "messagesPerSecond",
      "mode",
      "rate",
      "rooms",
      "senders",
      "size",
      "ws",
    ]);
    assert.deepEqual(Object.keys(result.latencyMs).sort(), ["max", "p50", "p90", "p99"]);
    assert.equal(result.mode, mode);
    assert.equal(result.clients, 20);
    assert.ok(result.messages > 0, out);
    assert.equal(result.deliveries, result.messages * 19);
    assert.equal(result.deliveredFraction, 1);
    assert.equal(result.disconnected, 0);
    for (const key of ["p50", "p90", "p99", "max"]) {
      assert.equal(typeof result.latencyMs[key], "number");
    }
    assert.equal(err, "", "no progress line when stderr is not a terminal");
  });
}

for (const mode of ["json", "text"] as const) {
  Deno.test(`chat bench --rooms spreads the clients over rooms and counts per room (${mode} mode)`, async () => {
    await using server = await startTestServer(["--quiet"]);
    const { code, out, err } = await runBenchCommand([
      "127.0.0.1",
      String(server.port),
      ...["--clients", "20", "--senders", "4", "--rooms", "4", "--rate", "20", "--duration", "1"],
      ...["--mode", mode, "--json"],
    ]);
    assert.equal(code, 0, err);
    const result = JSON.parse(out);
    assert.equal(result.rooms, 4);
    assert.ok(result.messages > 0, out);
    // 5 members per room: each message reaches the 4 others, not the 19 of the lobby.
    assert.equal(result.deliveries, result.messages * 4);
    assert.equal(result.deliveredFraction, 1);
    assert.equal(result.disconnected, 0);
  });
}

Deno.test("chat bench --blast delivers every message", async () => {
  await using server = await startTestServer(["--quiet"]);
  const { code, out, err } = await runBenchCommand([
    "127.0.0.1",
    String(server.port),
    ...["--clients", "10", "--senders", "10", "--blast", "--duration", "0.5", "--json"],
  ]);
  assert.equal(code, 0, err);
  const result = JSON.parse(out);
  assert.equal(result.rate, 0);
  assert.ok(result.messages > 0);
  assert.equal(result.deliveredFraction, 1);
});

Deno.test("chat bench reports usage errors and a refused connection", async (t) => {
  await t.step("a bad flag value exits 2 with a one-line reason", async () => {
    const { code, err } = await runBenchCommand(["--clients", "many"]);
    assert.equal(code, 2);
    assert.match(err, /--clients must be a whole number/);
  });
  await t.step("--rate with --blast exits 2", async () => {
    const { code, err } = await runBenchCommand(["--rate", "5", "--blast"]);
    assert.equal(code, 2);
    assert.match(err, /exclude each other/);
  });
  await t.step("more rooms than pairs of clients exits 2", async () => {
    const { code, err } = await runBenchCommand([
      "--clients",
      "6",
      "--senders",
      "1",
      "--rooms",
      "4",
    ]);
    assert.equal(code, 2);
    assert.match(err, /rooms/);
  });
  await t.step("more senders than clients exits 2", async () => {
    const { code, err } = await runBenchCommand(["--clients", "3", "--senders", "4"]);
    assert.equal(code, 2);
    assert.match(err, /senders/);
  });
  await t.step("no server listening exits 1", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const { code, err } = await runBenchCommand(["127.0.0.1", String(port), "--duration", "1"]);
    assert.equal(code, 1);
    assert.match(err, /cannot run against 127\.0\.0\.1:\d+/);
  });
});

Deno.test("chat bench --ws delivers every message over WebSocket, on the chat port", async () => {
  await using server = await startTestServer(["--quiet"]);
  const { code, out, err } = await runBenchCommand([
    "127.0.0.1",
    String(server.port),
    ...["--clients", "20", "--senders", "2", "--rate", "50", "--duration", "1", "--ws", "--json"],
  ]);
  assert.equal(code, 0, err);
  const result = JSON.parse(out);
  assert.equal(result.ws, true);
  assert.equal(result.mode, "json");
  assert.ok(result.messages > 0, out);
  assert.equal(result.deliveries, result.messages * 19);
  assert.equal(result.disconnected, 0);
});
