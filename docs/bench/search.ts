/**
 * Search on a million messages: fills a temporary SQLite store (the real
 * `SqliteStore`, FTS5 index and triggers included) and times `search()` per
 * query, as the server runs it for one user (5 of 50 rooms, and their
 * private conversations), reporting p50 and p99 in ms.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env docs/bench/search.ts [--messages 1000000] [--runs 200]
 * ```
 *
 * Writes a few hundred MB in a temp directory (removed at the end). Run it
 * on a quiet machine; the figures in docs/performance.md came from one run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SqliteStore } from "../../server/store/sqlite.ts";
import type { StoredMessage } from "../../server/store/store.ts";

const { values } = parseArgs({
  options: { messages: { type: "string" }, runs: { type: "string" } },
});
const TOTAL = Number(values.messages ?? 1_000_000);
const RUNS = Number(values.runs ?? 200);
const ROOMS = 50;
const IDENTITIES = 200;
const BATCH = 10_000;

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(42);
// A Zipf-like vocabulary: word i is drawn with weight 1/(i+1).
const VOCABULARY = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
VOCABULARY[0] = "the";
VOCABULARY[1] = "deploy";
VOCABULARY[7] = "release";
VOCABULARY[4_000] = "kiwi";
VOCABULARY[19_000] = "zanzibar";
const weights = VOCABULARY.map((_, i) => 1 / (i + 1));
const cumulative: number[] = [];
weights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
const totalWeight = cumulative.at(-1)!;
function word(): string {
  const x = rand() * totalWeight;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo]!;
}

const dir = await Deno.makeTempDir({ prefix: "chat_search_bench_" });
try {
  const store = new SqliteStore(`${dir}/chat.db`);
  const started = performance.now();
  for (let id = 1; id <= TOTAL;) {
    const messages: StoredMessage[] = [];
    for (let k = 0; k < BATCH && id <= TOTAL; k++, id++) {
      const isPrivate = rand() < 0.1;
      const from = Math.floor(rand() * IDENTITIES);
      const to = Math.floor(rand() * IDENTITIES);
      const text = Array.from({ length: 6 + Math.floor(rand() * 10) }, word).join(" ");
      messages.push({
        id,
        ts: 1_700_000_000_000 + id * 1000,
        kind: isPrivate ? "private" : "message",
        room: isPrivate ? null : `#room${Math.floor(rand() * ROOMS)}`,
        from: `user${from}`,
        to: isPrivate ? `user${to}` : null,
        fromId: `s:${from}`,
        toId: isPrivate ? `s:${to}` : null,
        text,
      });
    }
    store.commit({ messages, rooms: [], sessions: [], dropSessions: [] });
  }
  const loadSeconds = (performance.now() - started) / 1000;
  const size = (await Deno.stat(`${dir}/chat.db`)).size +
    ((await Deno.stat(`${dir}/chat.db-wal`).catch(() => ({ size: 0 }))).size);

  // The searching user: in 5 of the 50 rooms, identity s:7.
  const scope = { rooms: ["#room1", "#room2", "#room3", "#room4", "#room5"], privateKey: "s:7" };
  const queries: [string, string][] = [
    ["common word (the)", "the"],
    ["frequent word (deploy)", "deploy"],
    ["mid-frequency word (kiwi)", "kiwi"],
    ["rare word (zanzibar)", "zanzibar"],
    ["two words (release deploy)", "release deploy"],
    ["no match (nonexistent)", "nonexistent"],
  ];
  console.log(
    `${TOTAL} messages in ${ROOMS} rooms (10% private), loaded in ${loadSeconds.toFixed(1)} s; ` +
      `database ${(size / 1048576).toFixed(0)} MiB; ${RUNS} runs per query, page of 20 (+1)`,
  );
  console.log("| query | matches on page | p50 ms | p99 ms |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name, text] of queries) {
    const times: number[] = [];
    let found = 0;
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      found = store.search({ text, ...scope, before: Infinity, limit: 21 }).length;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    console.log(`| ${name} | ${found} | ${p(0.5).toFixed(2)} | ${p(0.99).toFixed(2)} |`);
  }
  store.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
