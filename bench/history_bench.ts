// Messages per second through the real server, with durable history or
// without: N JSON clients each send M messages as fast as acks allow (a
// window of W unacknowledged messages per client); the clock stops when every
// ack is in. Run:
//
//   deno run --allow-net=127.0.0.1 --allow-run --allow-read --allow-write --allow-env --allow-sys \
//     bench/history_bench.ts [--db PATH|:memory:] [--clients 10] [--messages 2000] [--window 100]

import { parseArgs } from "@chat/args";
import { startTestServer, TestClient } from "../tests/test_util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    db: { type: "string" },
    clients: { type: "string", default: "10" },
    messages: { type: "string", default: "2000" },
    window: { type: "string", default: "100" },
  },
});
const clients = Number(values.clients);
const messages = Number(values.messages);
const window = Number(values.window);
let dir: string | undefined;
let db = values.db;
if (db === undefined) {
  dir = await Deno.makeTempDir({ prefix: "chat_bench_" });
  db = `${dir}/chat.db`;
}
const server = await startTestServer(["--db", db, "--quiet", "--send-queue", "0"]);
const peers = await Promise.all(
  Array.from({ length: clients }, (_, i) => TestClient.joinJson(server.port, `b${i}`)),
);
const start = performance.now();
await Promise.all(peers.map(async (peer) => {
  let acked = 0;
  let sent = 0;
  while (acked < messages) {
    const burst: string[] = [];
    while (sent < messages && sent - acked < window) {
      burst.push(JSON.stringify({ type: "say", text: `message ${sent++}` }));
    }
    if (burst.length) await peer.write(burst.join("\n") + "\n");
    await peer.expectFrame((f) => f.type === "ack", 60_000);
    acked++;
  }
}));
const seconds = (performance.now() - start) / 1000;
const total = clients * messages;
console.log(
  `${db}: ${total} messages from ${clients} clients in ${seconds.toFixed(2)} s = ` +
    `${Math.round(total / seconds)} messages/s (each fanned out to ${clients - 1} others)`,
);
for (const peer of peers) await peer[Symbol.asyncDispose]();
await server.stop("SIGTERM");
if (dir) await Deno.remove(dir, { recursive: true });
