// The IRC gateway under the hub's flow control (unit test, in process): an IRC
// receiver whose send queue is backlogged is reported to the hub, and an IRC
// sender whose lines reached it is held, exactly as TCP text and JSON peers
// are. Before the IRC client forwarded `backlogged`/`holdFor` to its
// connection, IRC receivers were invisible to the flow control and were dropped
// as slow consumers in blast fan-out (docs/performance.md).

import assert from "@chat/assert";
import { Hub } from "../server/core/hub.ts";
import { IrcGateway } from "../server/transports/irc.ts";
import type { TcpConnection } from "../server/transports/tcp.ts";

/** What the IRC client uses of its TCP connection: backlogged when told, recording holds. */
class FakeConnection {
  readonly remote = "127.0.0.1:1";
  readonly hostname = "127.0.0.1";
  readonly secure = false;
  readonly backlog = 0;
  behind = false;
  readonly holds: object[] = [];
  readonly lines: string[] = [];
  send(bytes: Uint8Array): void {
    this.lines.push(...new TextDecoder().decode(bytes).split("\r\n").filter((l) => l !== ""));
  }
  close(): void {}
  whenBelow(_bytes: number, callback: () => void): void {
    queueMicrotask(callback);
  }
  get backlogged(): object | undefined {
    return this.behind ? this : undefined;
  }
  holdFor(backlogged: object): void {
    this.holds.push(backlogged);
  }
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

function ircUser(gateway: IrcGateway, nick: string) {
  const connection = new FakeConnection();
  const client = gateway.accept(connection as unknown as TcpConnection);
  for (const line of [`NICK ${nick}`, `USER ${nick} 0 * :${nick}`, "JOIN #dev"]) {
    client.receiveLine(line);
  }
  return { client, connection };
}

Deno.test("irc flow control: an IRC sender is held by the backlogged IRC receivers its lines reached", async () => {
  const hub = new Hub();
  const gateway = new IrcGateway(hub, { version: "test" });
  const sender = ircUser(gateway, "alice");
  const lagging = ircUser(gateway, "bob");
  const fine = ircUser(gateway, "carol");
  await turn();
  assert.ok(lagging.connection.lines.some((l) => / 366 bob #dev /.test(l)));
  lagging.connection.behind = true;

  sender.client.receiveLine("PRIVMSG #dev :blast");
  await turn();
  assert.ok(lagging.connection.lines.some((l) => l.endsWith("PRIVMSG #dev :blast")));
  assert.deepEqual(sender.connection.holds, [lagging.connection]);
  assert.deepEqual(fine.connection.holds, []);

  // Private messages too.
  fine.client.receiveLine("PRIVMSG bob :psst");
  await turn();
  assert.deepEqual(fine.connection.holds, [lagging.connection]);
  hub.close();
});

Deno.test("irc flow control: a TAGMSG to a backlogged receiver holds its sender, as a PRIVMSG does", async () => {
  const hub = new Hub();
  const gateway = new IrcGateway(hub, { version: "test" });
  const sender = ircUser(gateway, "alice");
  const lagging = ircUser(gateway, "bob");
  const fine = ircUser(gateway, "carol");
  for (const user of [sender, lagging, fine]) user.client.receiveLine("CAP REQ :message-tags");
  await turn();
  lagging.connection.behind = true;

  sender.client.receiveLine("@+typing=active TAGMSG #dev");
  assert.ok(lagging.connection.lines.some((l) => l.endsWith("TAGMSG #dev")));
  assert.deepEqual(sender.connection.holds, [lagging.connection]);
  assert.deepEqual(fine.connection.holds, []);

  fine.client.receiveLine("@+typing=done TAGMSG bob");
  assert.deepEqual(fine.connection.holds, [lagging.connection]);
  hub.close();
});
