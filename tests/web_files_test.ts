/**
 * Uploads live as long as the messages that share them: when history
 * pruning (`--history-max-rows`, `--history-days`) deletes a message, the
 * file it shared is deleted from `DB.files/` and its URL answers 404, while
 * files of messages still in history stay.
 */

import assert from "@chat/assert";
import { startTestServer, TestClient } from "./test_util.ts";
import { webUrl } from "./web_util.ts";

/** Shares `body` as `name` in #lobby with the session's token; returns the file's URL. */
async function share(url: string, token: string, name: string, body: string): Promise<string> {
  const response = await fetch(`${url}/upload?room=%23lobby&name=${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  assert.equal(response.status, 201);
  return (await response.json()).url;
}

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

Deno.test("web: pruning history deletes the uploads its messages shared; their URLs answer 404", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-files-" });
  const db = `${dir}/chat.db`;
  try {
    // Paths, not URLs: the restarted server listens on another port.
    let oldPath: string, keptPath: string;
    {
      await using server = await startTestServer(["--db", db]);
      await using alice = await TestClient.joinJson(server.port, "alice");
      // joinJson read the welcome: its resume token is the upload's credential.
      const welcome = JSON.parse(alice.lines.seen.find((l) => l.includes('"welcome"'))!).resume;
      const url = await webUrl(server);
      oldPath =
        new URL(await share(url, welcome, "old.txt", "shared first, pruned later")).pathname;
      await alice.expectFrame((f) => f.type === "ack"); // the upload is alice's message
      for (let i = 0; i < 3; i++) {
        await alice.sendFrame({ type: "say", text: `filler ${i}`, ref: `f${i}` });
        await alice.expectFrame((f) => f.type === "ack" && f.ref === `f${i}`);
      }
      keptPath = new URL(await share(url, welcome, "kept.txt", "shared last, kept")).pathname;
      await alice.expectFrame((f) => f.type === "ack");
      assert.equal(await status(url + oldPath), 200);
      assert.equal((await server.stop("SIGTERM")).code, 0);
    }
    const onDisk = async () => (await Array.fromAsync(Deno.readDir(`${db}.files`))).length;
    assert.equal(await onDisk(), 4, "two files, each with its metadata");

    // Pruning runs at start: the newest 3 messages stay (2 fillers, kept.txt).
    await using server = await startTestServer(["--db", db, "--history-max-rows", "3"]);
    await server.log.expect(/deleted 1 uploads whose messages were pruned/, 20_000);
    const url = await webUrl(server);
    assert.equal(await status(url + oldPath), 404);
    assert.equal(await status(url + keptPath), 200);
    assert.equal(await onDisk(), 2, "only the kept file and its metadata are left");
    const kept = await fetch(url + keptPath);
    assert.equal(await kept.text(), "shared last, kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
