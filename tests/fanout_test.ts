// Delivery of messages committed together: the socket-free Hub and Session
// with in-memory transports, so one flush can be made to hold several
// senders' messages (over sockets the batching depends on timing).

import assert from "@chat/assert";
import { Hub, Outbound, OutboundRun, Session, type Transport } from "../server/mod.ts";

const decoder = new TextDecoder();

/** A transport that records each `send` call as one chunk. */
class Recorder implements Transport {
  readonly remote = "test";
  readonly chunks: string[] = [];
  send(bytes: Uint8Array): void {
    this.chunks.push(decoder.decode(bytes));
  }
  close(): void {}
  /** Every line received so far, then forgets them. */
  take(): string[] {
    const lines = this.chunks.join("").split("\n").filter((l) => l !== "");
    this.chunks.length = 0;
    return lines;
  }
}

function connect(hub: Hub, nick: string, format: "json" | "text") {
  const transport = new Recorder();
  const session = new Session(hub, transport, format);
  session.receiveLine(
    format === "json" ? JSON.stringify({ type: "hello", version: 1, nick }) : nick,
  );
  return { session, transport };
}

function say(session: Session, text: string, ref?: string): void {
  session.receiveLine(JSON.stringify({ type: "say", text, ...(ref ? { ref } : {}) }));
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a flush with several senders' messages keeps every receiver's order", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice", "json");
  const bob = connect(hub, "bob", "json");
  const carol = connect(hub, "carol", "text");
  const dave = connect(hub, "dave", "json");
  await turn();
  for (const c of [alice, bob, carol, dave]) c.transport.take();

  // One synchronous block: one commit, one run of three messages.
  say(alice.session, "one", "a1");
  say(bob.session, "two", "b1");
  say(alice.session, "three", "a2");
  await turn();

  assert.deepEqual(carol.transport.take(), ["alice: one", "bob: two", "alice: three"]);
  assert.equal(dave.transport.chunks.length, 1, "a receiver gets the run as one chunk");
  const daveFrames = dave.transport.take().map((l) => JSON.parse(l));
  assert.deepEqual(daveFrames.map((f) => [f.type, f.from, f.text]), [
    ["message", "alice", "one"],
    ["message", "bob", "two"],
    ["message", "alice", "three"],
  ]);
  const ids = daveFrames.map((f) => f.id);
  assert.ok(ids[0] < ids[1] && ids[1] < ids[2], "ids ascend");

  // Senders: the others' messages and acks for their own, in id order.
  assert.deepEqual(alice.transport.take().map((l) => JSON.parse(l)), [
    { type: "ack", id: ids[0], ts: daveFrames[0].ts, ref: "a1" },
    daveFrames[1],
    { type: "ack", id: ids[2], ts: daveFrames[2].ts, ref: "a2" },
  ]);
  assert.deepEqual(bob.transport.take().map((l) => JSON.parse(l)), [
    daveFrames[0],
    { type: "ack", id: ids[1], ts: daveFrames[1].ts, ref: "b1" },
    daveFrames[2],
  ]);
  hub.close();
});

Deno.test("a run to a room that is not a plain-text reader's current one is prefixed", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice", "json");
  const carol = connect(hub, "carol", "text");
  await turn();
  carol.session.receiveLine("/join #side");
  carol.session.receiveLine("/join #lobby");
  alice.session.receiveLine(JSON.stringify({ type: "join", room: "#side" }));
  await turn();
  carol.transport.take();
  alice.session.receiveLine(JSON.stringify({ type: "say", room: "#lobby", text: "in lobby" }));
  alice.session.receiveLine(JSON.stringify({ type: "say", room: "#side", text: "x" }));
  alice.session.receiveLine(JSON.stringify({ type: "say", room: "#side", text: "y" }));
  await turn();
  assert.deepEqual(carol.transport.take(), [
    "alice: in lobby",
    "[#side] alice: x",
    "[#side] alice: y",
  ]);
  hub.close();
});

Deno.test("a sender gets each stretch of the others' messages, and of its own acks, as one chunk", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice", "json");
  const bob = connect(hub, "bob", "json");
  const carol = connect(hub, "carol", "text");
  await turn();
  for (const c of [alice, bob, carol]) c.transport.take();
  for (let i = 0; i < 3; i++) say(alice.session, `a${i}`, `a${i}`);
  for (let i = 0; i < 4; i++) say(bob.session, `b${i}`);
  say(alice.session, "a3", "a3");
  await turn();
  // alice: her 3 acks, bob's 4 messages, her last ack; carol (text) sends nothing.
  assert.equal(alice.transport.chunks.length, 3);
  const frames = alice.transport.take().map((l) => JSON.parse(l));
  assert.deepEqual(frames.map((f) => f.type === "ack" ? `ack ${f.ref}` : f.text), [
    "ack a0",
    "ack a1",
    "ack a2",
    "b0",
    "b1",
    "b2",
    "b3",
    "ack a3",
  ]);
  assert.equal(bob.transport.chunks.length, 3); // alice's 3, his 4 acks, alice's last
  assert.deepEqual(bob.transport.take().map((l) => JSON.parse(l).type), [
    ...Array(3).fill("message"),
    ...Array(4).fill("ack"),
    "message",
  ]);
  assert.equal(carol.transport.chunks.length, 1);
  hub.close();
});

Deno.test("OutboundRun joins its messages once per wire format", () => {
  const message = (id: number) =>
    new Outbound({ type: "message", id, room: "#Dev", from: "ann", text: `m${id}`, ts: 5 });
  const run = new OutboundRun("#dev", [message(1), message(2)]);
  assert.equal(run.roomKey, "#dev");
  assert.equal(decoder.decode(run.bytes("text")!), "ann: m1\nann: m2\n");
  assert.equal(decoder.decode(run.bytes("text", true)!), "[#Dev] ann: m1\n[#Dev] ann: m2\n");
  assert.equal(run.bytes("text"), run.bytes("text"), "cached: the same bytes for every receiver");
  const lines = decoder.decode(run.bytes("json")!).trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l).id), [1, 2]);
  assert.equal(new OutboundRun("#dev", []).bytes("json"), null);
});

Deno.test("OutboundRun.slice is a view into the run's bytes, in every wire format", () => {
  const texts = ["a", "héllo ✓", "", "z"];
  const run = new OutboundRun(
    "#dev",
    texts.map((text, i) =>
      new Outbound({ type: "message", id: i + 1, room: "#Dev", from: "ann", text, ts: 5 })
    ),
  );
  for (const [format, elsewhere] of [["text", false], ["text", true], ["json", false]] as const) {
    const whole = run.bytes(format, elsewhere)!;
    for (let from = 0; from < texts.length; from++) {
      for (let to = from + 1; to <= texts.length; to++) {
        const slice = run.slice(from, to);
        const expected = run.parts.slice(from, to).map((p) => p.bytes(format, elsewhere)!);
        assert.equal(
          decoder.decode(slice.bytes(format, elsewhere)!),
          expected.map((b) => decoder.decode(b)).join(""),
        );
        assert.equal(slice.bytes(format, elsewhere)!.buffer, whole.buffer, "no copy");
        assert.deepEqual(slice.parts, run.parts.slice(from, to));
      }
    }
  }
  assert.equal(run.slice(0, texts.length), run);
  // A slice of a slice is still a view into the whole run.
  assert.equal(decoder.decode(run.slice(1, 4).slice(1, 3).bytes("json")!).split("\n").length, 3);
});

Deno.test("join notices and messages of one turn reach members in order, as one chunk", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice", "json");
  const carol = connect(hub, "carol", "text");
  await turn();
  alice.transport.take();
  carol.transport.take();
  say(alice.session, "before");
  const bob = connect(hub, "bob", "json");
  say(bob.session, "hi all");
  await turn();
  assert.equal(carol.transport.chunks.length, 1);
  assert.deepEqual(carol.transport.take(), [
    "alice: before",
    "* bob joined the chat",
    "bob: hi all",
  ]);
  // The joiner is not told of its own join twice; its own message is acked.
  const bobFrames = bob.transport.take().map((l) => JSON.parse(l));
  assert.deepEqual(bobFrames.filter((f) => f.type === "joined"), []);
  assert.equal(bobFrames.at(-1).type, "ack");
  hub.close();
});
