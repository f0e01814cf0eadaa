// Unit tests of the flow-control rule in the hub: a sender is held back only by the receivers
// its messages reached whose send queues are backlogged, not by a backlog anywhere else.

import assert from "@chat/assert";
import { Hub } from "../server/core/hub.ts";
import { Session, type Transport } from "../server/core/session.ts";

/** A transport that is backlogged when told, and records the holds it is asked for. */
class FakeTransport implements Transport {
  readonly remote = "test";
  behind = false;
  readonly holds: object[] = [];
  send(): void {}
  close(): void {}
  get backlogged(): object | undefined {
    return this.behind ? this : undefined;
  }
  holdFor(backlogged: object): void {
    this.holds.push(backlogged);
  }
}

function connect(hub: Hub, nick: string, room?: string) {
  const transport = new FakeTransport();
  const session = new Session(hub, transport, "json");
  session.receiveLine(JSON.stringify({ type: "hello", version: 1, nick }));
  if (room) session.receiveLine(JSON.stringify({ type: "join", room }));
  return { session, transport };
}

const say = (s: Session, text: string) => s.receiveLine(JSON.stringify({ type: "say", text }));
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("flow control: a sender is held by the backlogged members of its room only", async () => {
  const hub = new Hub();
  const devSender = connect(hub, "alice", "#dev");
  const devLagging = connect(hub, "bob", "#dev");
  const devFine = connect(hub, "carol", "#dev");
  const opsSender = connect(hub, "dave", "#ops");
  const opsFine = connect(hub, "erin", "#ops");
  await turn();
  devLagging.transport.behind = true;

  say(devSender.session, "to dev");
  say(opsSender.session, "to ops");
  await turn();

  assert.deepEqual(devSender.transport.holds, [devLagging.transport]);
  assert.deepEqual(opsSender.transport.holds, [], "a backlog in #dev does not hold #ops");
  assert.deepEqual(devFine.transport.holds, []);
  assert.deepEqual(opsFine.transport.holds, []);
  hub.close();
});

Deno.test("flow control: nobody is held while no receiver is backlogged", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice", "#dev");
  const bob = connect(hub, "bob", "#dev");
  await turn();
  say(alice.session, "hello");
  say(bob.session, "hi");
  await turn();
  assert.deepEqual(alice.transport.holds, []);
  assert.deepEqual(bob.transport.holds, []);
  hub.close();
});

Deno.test("flow control: a private message to a backlogged receiver holds its sender", async () => {
  const hub = new Hub();
  const alice = connect(hub, "alice");
  const bob = connect(hub, "bob");
  const carol = connect(hub, "carol");
  await turn();
  bob.transport.behind = true;
  alice.session.receiveLine(JSON.stringify({ type: "msg", to: "bob", text: "psst" }));
  carol.session.receiveLine(JSON.stringify({ type: "say", text: "lobby" }));
  await turn();
  assert.deepEqual(alice.transport.holds, [bob.transport]);
  // carol's lobby message reached bob too: she is held by him as well, by the same rule.
  assert.deepEqual(carol.transport.holds, [bob.transport]);
  hub.close();
});
