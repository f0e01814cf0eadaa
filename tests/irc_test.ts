// The IRC gateway end to end: the real server as a subprocess with
// --irc-port, IRC clients over real sockets beside plain-text and JSON
// clients in the same rooms.

import assert from "@chat/assert";
import {
  freePort,
  type LineMatcher,
  startTestServer,
  TestClient,
  type TestServer,
} from "./test_util.ts";

/** An IRC connection: raw lines both ways, waited for with deadlines. */
class IrcTestClient implements AsyncDisposable {
  readonly client: TestClient;
  readonly nick: string;

  private constructor(client: TestClient, nick: string) {
    this.client = client;
    this.nick = nick;
  }

  /** Connects and registers (optionally asking for capabilities); waits for the end of the MOTD. */
  static async register(port: number, nick: string, caps: string[] = []): Promise<IrcTestClient> {
    const client = await TestClient.connect(port);
    const irc = new IrcTestClient(client, nick);
    if (caps.length > 0) await irc.send("CAP LS 302");
    await irc.send(`NICK ${nick}`);
    await irc.send(`USER ${nick} 0 * :${nick} the tester`);
    if (caps.length > 0) {
      await irc.send(`CAP REQ :${caps.join(" ")}`);
      await irc.expect(/ CAP \S+ ACK /);
      await irc.send("CAP END");
    }
    await irc.expect(new RegExp(`^:\\S+ 376 ${nick} `));
    return irc;
  }

  send(line: string): Promise<void> {
    return this.client.write(line + "\r\n");
  }

  /** JOINs a room and waits for the end of its NAMES. */
  async join(room: string): Promise<void> {
    await this.send(`JOIN ${room}`);
    await this.expect(new RegExp(` 366 ${this.nick} ${room} `));
  }

  expect(pattern: LineMatcher): Promise<string> {
    return this.client.lines.expect(pattern);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.client[Symbol.asyncDispose]();
  }
}

/**
 * Starts a server with flags that name free ports; a port taken between
 * `freePort()` and the bind (another test) gets fresh ones, up to 3 tries.
 */
async function startWithPorts(flags: () => string[]): Promise<TestServer> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startTestServer(flags());
    } catch (error) {
      if (attempt >= 3 || !String((error as Error).message).includes("address already in use")) {
        throw error;
      }
    }
  }
}

async function startIrcServer(args: string[] = []): Promise<TestServer & { ircPort: number }> {
  let ircPort = 0;
  const server = await startWithPorts(() => {
    ircPort = freePort();
    return ["--irc-port", String(ircPort), ...args];
  });
  return Object.assign(server, { ircPort });
}

Deno.test("irc: registration gets the welcome burst: 001, ISUPPORT, LUSERS, MOTD", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  const lines = alice.client.lines.seen;
  assert.match(lines[0]!, /^:chat 001 alice :Welcome .* alice!~alice@chat$/);
  const isupport = lines.filter((l) => / 005 /.test(l)).join(" ");
  for (
    const token of ["CHANTYPES=#", "NICKLEN=24", "CHANNELLEN=33", "CASEMAPPING=rfc8265", "UTF8ONLY"]
  ) {
    assert.ok(isupport.includes(token), `${token} in ${isupport}`);
  }
  assert.ok(lines.some((l) => / 251 alice /.test(l)));
  await alice.send("PING :abc");
  await alice.expect(/^:chat PONG chat :abc$/);
});

Deno.test("irc: nickname rules are the core's (reserved, mixed scripts, taken by a text user)", async () => {
  await using server = await startIrcServer();
  await using _bob = await TestClient.joinText(server.port, "bob");
  const client = await TestClient.connect(server.ircPort);
  await using _ = client;
  await client.send("NICK admin");
  await client.lines.expect(
    /^:chat 432 \* admin :Erroneous nickname: nickname "admin" is reserved$/,
  );
  await client.send("NICK pаypal"); // Cyrillic а
  await client.lines.expect(/ 432 \* pаypal :.*mixes letters of different scripts/);
  await client.send("NICK BOB");
  await client.lines.expect(/^:chat 433 \* BOB :Nickname is already in use$/);
  await client.send("JOIN #x");
  await client.lines.expect(/ 451 \* :You have not registered/);
  await client.send("NICK Zoë");
  await client.send("USER z 0 * :Z");
  await client.lines.expect(/^:chat 001 Zoë /);
});

Deno.test("irc: IRC, plain-text and JSON users share a room and private messages", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  await using text = await TestClient.joinText(server.port, "tom");
  await using json = await TestClient.joinJson(server.port, "jay");
  await text.send("/join #dev");
  await json.sendFrame({ type: "join", room: "#dev" });
  await text.lines.expect(/^\* jay joined #dev$/);

  await alice.send("JOIN #dev");
  await alice.expect(/^:alice!~alice@chat JOIN #dev$/);
  const names = await alice.expect(/ 353 alice = #dev :/);
  assert.deepEqual(names.split(" :")[1]!.split(" ").sort(), ["@tom", "alice", "jay"]); // tom created #dev
  await alice.expect(/ 366 alice #dev :End of \/NAMES list/);
  await text.lines.expect(/^\* alice joined #dev$/);

  await alice.send("PRIVMSG #dev :hello from irc");
  await text.lines.expect("alice: hello from irc");
  await json.expectFrame((f) =>
    f.type === "message" && f.from === "alice" && f.text === "hello from irc"
  );

  await text.send("hi from nc");
  await alice.expect(/^:tom!text@chat PRIVMSG #dev :hi from nc$/);
  await json.sendFrame({ type: "say", room: "#dev", text: "two\nlines" });
  await alice.expect(/^:jay!json@chat PRIVMSG #dev :two$/);
  await alice.expect(/^:jay!json@chat PRIVMSG #dev :lines$/);
  await json.sendFrame({ type: "me", room: "#dev", text: "waves" });
  await alice.expect((l) => l === ":jay!json@chat PRIVMSG #dev :\x01ACTION waves\x01");
  await alice.send("PRIVMSG #dev :\x01ACTION nods\x01");
  await text.lines.expect("** alice nods");

  await json.sendFrame({ type: "msg", to: "alice", text: "psst" });
  await alice.expect(/^:jay!json@chat PRIVMSG alice :psst$/);
  await alice.send("PRIVMSG tom :hi tom");
  await text.lines.expect("[private] alice: hi tom");
  await alice.send("PRIVMSG nobody :hi");
  await alice.expect(/^:chat 401 alice nobody :No such nick/);

  await json.sendFrame({ type: "topic", room: "#dev", text: "release day" });
  await alice.expect(/^:jay!json@chat TOPIC #dev :release day$/);
  await alice.send("TOPIC #dev");
  await alice.expect(/^:chat 332 alice #dev :release day$/);
  await alice.expect(/^:chat 333 alice #dev jay \d+$/);

  await text.send("/part #dev");
  await alice.expect(/^:tom!text@chat PART #dev$/);
  await alice.send("PART #dev :see you");
  await alice.expect(/^:alice!~alice@chat PART #dev :see you$/);
  await json.expectFrame((f) => f.type === "left" && f.nick === "alice" && f.message === "see you");
  await alice.send("QUIT :bye now");
  await alice.expect(/^ERROR :/);
});

Deno.test("irc: echo-message and server-time; one QUIT for a user in several shared rooms", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice", [
    "echo-message",
    "server-time",
    "message-tags",
  ]);
  await using bob = await IrcTestClient.register(server.ircPort, "bob");
  for (const room of ["#a", "#b"]) {
    await alice.join(room);
    await bob.join(room);
  }
  await alice.send("PRIVMSG #a :echo me");
  await alice.expect(
    /^@time=\d{4}-\d\d-\d\dT[\d:.]+Z;msgid=\d+ :alice!~alice@chat PRIVMSG #a :echo me$/,
  );
  await bob.expect(/^:alice!~alice@chat PRIVMSG #a :echo me$/);
  await bob.send("QUIT :gone");
  await alice.expect(/:bob!~bob@chat QUIT :Quit: gone$/);
  await alice.send("PING :after");
  await alice.expect(/ PONG chat :after$/);
  const quits = alice.client.lines.seen.filter((l) => / QUIT /.test(l));
  assert.equal(quits.length, 1, quits.join("\n"));
});

Deno.test("irc: AWAY and WHOIS are the core's: 306, 301 to a sender, 311 319 317 318, 401", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  await using bob = await IrcTestClient.register(server.ircPort, "bob", ["away-notify"]);
  await alice.join("#dev");
  await bob.join("#dev");
  await alice.send("AWAY :lunch");
  await alice.expect(/^:chat 306 alice :/);
  await bob.expect(/^:alice!~alice@chat AWAY :lunch$/);
  await bob.send("PRIVMSG alice :are you there?");
  await bob.expect(/^:chat 301 bob alice :lunch$/);
  await bob.send("WHOIS alice");
  await bob.expect(/^:chat 311 bob alice ~alice chat \* :alice the tester$/);
  await bob.expect(/^:chat 319 bob alice :#dev$/);
  await bob.expect(/^:chat 301 bob alice :lunch$/);
  await bob.expect(/^:chat 317 bob alice \d+ \d+ :seconds idle, signon time$/);
  await bob.expect(/^:chat 318 bob alice :End of \/WHOIS list$/);
  await bob.send("WHOIS nobody");
  await bob.expect(/^:chat 401 bob nobody :No such nick/);
  await bob.expect(/^:chat 318 bob nobody :End of \/WHOIS list$/);
  await alice.send("AWAY");
  await alice.expect(/^:chat 305 alice :/);
  await bob.expect(/^:alice!~alice@chat AWAY$/);
});

Deno.test("irc: IRC over TLS on --irc-tls-port, with the TLS certificate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let ircTlsPort = 0;
    await using server = await startWithPorts(() => {
      ircTlsPort = freePort();
      return [
        "--db",
        `${dir}/chat.db`,
        "--tls-port",
        String(freePort()),
        "--irc-tls-port",
        String(ircTlsPort),
      ];
    });
    await server.stdout.expect(`chat server listening for IRC over TLS on 127.0.0.1:${ircTlsPort}`);
    const cert = await Deno.readTextFile(`${dir}/chat.db.tls-cert.pem`);
    await using client = await TestClient.connectTls(ircTlsPort, cert);
    await client.write("NICK tess\r\nUSER tess 0 * :Tess\r\n");
    await client.lines.expect(/^:chat 001 tess /);
    await using plain = await TestClient.joinText(server.port, "pat");
    await client.write("PRIVMSG pat :over tls\r\n");
    await plain.lines.expect("[private] tess: over tls");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("irc: accounts: SASL PLAIN and PASS log in through the core; ops, +t and KICK are the core's moderation", async () => {
  await using server = await startIrcServer();
  {
    await using reg = await TestClient.joinJson(server.port, "alice");
    await reg.sendFrame({ type: "register", password: "correct horse 9" });
    await reg.expectFrame((f) => f.type === "account" && f.event === "registered");
  }
  // A guest may not take the registered nickname.
  {
    const guest = await TestClient.connect(server.ircPort);
    await using _ = guest;
    await guest.write("NICK alice\r\nUSER a 0 * :A\r\n");
    await guest.lines.expect(/ 433 \* alice :Nickname is registered/);
  }
  const sasl = await TestClient.connect(server.ircPort);
  await using _sasl = sasl;
  await sasl.write("CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :Alice\r\n");
  await sasl.lines.expect(/ CAP \* LS :.*sasl=PLAIN/);
  await sasl.write("CAP REQ :sasl\r\nAUTHENTICATE PLAIN\r\n");
  await sasl.lines.expect("AUTHENTICATE +");
  await sasl.write(`AUTHENTICATE ${btoa("\0alice\0correct horse 9")}\r\n`);
  await sasl.lines.expect(
    /^:chat 900 alice alice!~alice@chat alice :You are now logged in as alice$/,
  );
  await sasl.lines.expect(/^:chat 903 alice :SASL authentication successful$/);
  await sasl.write("CAP END\r\n");
  await sasl.lines.expect(/^:chat 001 alice /);

  // The founder of a room it creates is its operator.
  await sasl.write("JOIN #ops\r\n");
  await sasl.lines.expect(/ 353 alice = #ops :@alice$/);
  await using bob = await IrcTestClient.register(server.ircPort, "bob");
  await bob.send("JOIN #ops");
  await bob.expect(/ 353 bob = #ops :@alice bob$/);
  await sasl.write("MODE #ops +t\r\n");
  await bob.expect(/^:alice!~alice@chat MODE #ops \+t$/);
  await bob.send("MODE #ops");
  await bob.expect(/ 324 bob #ops \+nt$/);
  await bob.send("TOPIC #ops :mine now");
  await bob.expect(/ 482 bob #ops :You're not channel operator/);
  await bob.send("KICK #ops alice");
  await bob.expect(/ 482 bob #ops /);
  await sasl.write("KICK #ops bob :behave\r\n");
  await bob.expect(/^:alice!~alice@chat KICK #ops bob :behave$/);

  // PASS: a wrong password gets 464 and no nickname; the right one logs in.
  const wrong = await TestClient.connect(server.ircPort);
  await using _wrong = wrong;
  await wrong.write("PASS nope-nope-nope\r\nNICK alice\r\nUSER a 0 * :A\r\n");
  await wrong.lines.expect(/ 464 \* :Password incorrect/);
  await wrong.lines.expect(/ 433 \* alice /);
  const right = await TestClient.connect(server.ircPort);
  await using _right = right;
  await right.write("PASS :correct horse 9\r\nNICK alice\r\nUSER a 0 * :A\r\n");
  await right.lines.expect(/^:chat 001 alice /);
  await right.lines.expect(/^:chat 900 alice /);
});

Deno.test("irc: a NOTICE stays a notice for IRC, plain-text and JSON receivers, in history too, and is never answered automatically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = ["--db", `${dir}/chat.db`];
    {
      await using server = await startIrcServer(db);
      await using alice = await IrcTestClient.register(server.ircPort, "alice", ["echo-message"]);
      await using bob = await IrcTestClient.register(server.ircPort, "bob", [
        "batch",
        "draft/chathistory",
        "message-tags",
      ]);
      await using text = await TestClient.joinText(server.port, "tom");
      await using json = await TestClient.joinJson(server.port, "jay");
      await text.send("/join #dev");
      await json.sendFrame({ type: "join", room: "#dev" });
      await text.lines.expect(/^\* jay joined #dev$/);
      for (const irc of [alice, bob]) {
        await irc.join("#dev");
      }

      await alice.send("NOTICE #dev :build passed");
      await alice.expect(/^:alice!~alice@chat NOTICE #dev :build passed$/); // echo-message
      await bob.expect(/^@msgid=\d+ :alice!~alice@chat NOTICE #dev :build passed$/);
      await text.lines.expect("-alice- build passed");
      await json.expectFrame((f) =>
        f.type === "message" && f.from === "alice" && f.notice === true &&
        f.text === "build passed"
      );
      await json.sendFrame({ type: "say", room: "#dev", text: "deploy done", notice: true });
      await bob.expect(/ :jay!json@chat NOTICE #dev :deploy done$/);
      await text.lines.expect("-jay- deploy done");
      await json.sendFrame({ type: "say", room: "#dev", text: "plain again" });
      await bob.expect(/ :jay!json@chat PRIVMSG #dev :plain again$/);
      await text.lines.expect("jay: plain again");

      await bob.send("CHATHISTORY LATEST #dev * 10");
      await bob.expect(/^@batch=c\d+;msgid=\d+ :alice!~alice@chat NOTICE #dev :build passed$/);
      await bob.expect(/^@batch=c\d+;msgid=\d+ :jay!json@chat NOTICE #dev :deploy done$/);
      await bob.expect(/^@batch=c\d+;msgid=\d+ :jay!json@chat PRIVMSG #dev :plain again$/);

      // A private NOTICE to away users: delivered as a notice, never answered (RFC 2812 §3.3.2).
      await json.sendFrame({ type: "away", text: "lunch" });
      await json.expectFrame((f) => f.type === "away" && f.nick === "jay");
      await text.send("/away coffee");
      await text.lines.expect(/^\* you are away: coffee$/);
      await alice.send("NOTICE jay :psst");
      await json.expectFrame((f) =>
        f.type === "private" && f.from === "alice" && f.notice === true && f.text === "psst"
      );
      await alice.send("NOTICE tom :psst");
      await text.lines.expect("[private] -alice- psst");
      await alice.send("PRIVMSG jay :there?");
      await alice.expect(/^:chat 301 alice jay :lunch$/);
      const away = alice.client.lines.seen.filter((l) => / 301 /.test(l));
      assert.deepEqual(away, [":chat 301 alice jay :lunch"]);
    }
    // After a restart, the room's history (SQLite) still has the notices as notices.
    await using server = await startIrcServer(db);
    await using json = await TestClient.joinJson(server.port, "jay");
    await json.sendFrame({ type: "join", room: "#dev" });
    await json.expectFrame((f) =>
      f.type === "message" && f.history === true && f.notice === true && f.text === "build passed"
    );
    await json.expectFrame((f) =>
      f.type === "message" && f.history === true && f.notice === undefined &&
      f.text === "plain again"
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("irc: a guest's new room has its creator as operator while it stays (@ in NAMES, ops in JSON who, (op) in plain text); +t through the one permission check", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  await using text = await TestClient.joinText(server.port, "tom");
  await using json = await TestClient.joinJson(server.port, "jay");
  await alice.send("JOIN #guests");
  await alice.expect(/^:chat 353 alice = #guests :@alice$/);
  await text.send("/join #guests");
  await text.lines.expect(/now talking in #guests/);
  await json.sendFrame({ type: "join", room: "#guests" });
  await json.expectFrame((f) => f.type === "room" && f.room === "#guests");
  await text.send("/who");
  await text.lines.expect("* online in #guests (3): alice (op), jay, tom");
  await json.sendFrame({ type: "who", room: "#guests" });
  const who = await json.expectFrame((f) => f.type === "who");
  assert.deepEqual(who.type === "who" && who.ops, ["alice"]);

  // The creator locks the topic; the others are refused by the same rule on every transport.
  await alice.send("MODE #guests +t");
  await alice.expect(/^:alice!~alice@chat MODE #guests \+t$/);
  await alice.send("MODE #guests");
  await alice.expect(/ 324 alice #guests \+nt$/);
  await text.send("/topic mine");
  await text.lines.expect("! only operators of #guests may do that");
  await json.sendFrame({ type: "topic", room: "#guests", text: "mine" });
  await json.expectFrame((f) => f.type === "error" && f.code === "permission_denied");
  await alice.send("TOPIC #guests :set by the creator");
  await alice.expect(/^:alice!~alice@chat TOPIC #guests :set by the creator$/);
  await text.lines.expect("* alice set the topic of #guests: set by the creator");

  // Leaving ends it: back in, alice is a member like the others.
  await alice.send("PART #guests");
  await alice.expect(/ PART #guests/);
  await alice.send("JOIN #guests");
  await alice.expect(/^:chat 353 alice = #guests :(?!.*@)/);
  await alice.send("TOPIC #guests :again");
  await alice.expect(/ 482 alice #guests :You're not channel operator/);
  await json.sendFrame({ type: "who", room: "#guests" });
  const after = await json.expectFrame((f) => f.type === "who");
  assert.equal(after.type === "who" && after.ops, undefined);

  // A plain-text creator is its room's operator too.
  await text.send("/join #tom");
  await text.lines.expect(/now talking in #tom/);
  await text.send("/topiclock on");
  await text.send("/who");
  await text.lines.expect("* online in #tom (1): tom (op)");
});

Deno.test("irc: CHATHISTORY follows the core's rule for reading: an invite-only room's history is for its members", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice", [
    "draft/chathistory",
    "batch",
    "echo-message",
  ]);
  await using eve = await IrcTestClient.register(server.ircPort, "eve", ["draft/chathistory"]);
  await alice.send("JOIN #inner");
  await alice.expect(/ 366 alice #inner /);
  await alice.send("PRIVMSG #inner :members only");
  await alice.expect(/PRIVMSG #inner :members only$/); // echo-message: it is stored
  await eve.send("CHATHISTORY LATEST #inner * 10");
  await eve.expect(/^:alice!~alice@chat PRIVMSG #inner :members only$/);
  await alice.send("MODE #inner +i");
  await alice.expect(/ MODE #inner \+i$/);
  await eve.send("CHATHISTORY LATEST #inner * 10");
  await eve.expect(/^:chat FAIL CHATHISTORY INVALID_TARGET LATEST :#inner is invite-only/);
  await alice.send("CHATHISTORY LATEST #inner * 10");
  await alice.expect(/^@batch=c\d+ :alice!~alice@chat PRIVMSG #inner :members only$/);
});

/** Sends a CHATHISTORY request and gives the texts of the chat lines in its batch. */
async function chathistory(irc: IrcTestClient, request: string): Promise<string[]> {
  await irc.send(request);
  const id = /^BATCH -(\S+)$/.exec(await irc.expect(/^BATCH -c\d+$/))![1]!;
  return irc.client.lines.seen.filter((l) => l.startsWith(`@batch=${id};`)).map((l) =>
    l.slice(l.indexOf(" :", l.indexOf(" PRIVMSG ")) + 2)
  );
}

Deno.test("irc: CHATHISTORY refs by msgid and timestamp are cut by the core's history path; its refusals are FAILs; it sees a message sent just before it", async () => {
  await using server = await startIrcServer();
  await using bob = await TestClient.joinJson(server.port, "bob");
  await bob.sendFrame({ type: "join", room: "#refs" });
  await bob.expectFrame((f) => f.type === "room" && f.room === "#refs");
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    await bob.sendFrame({ type: "say", room: "#refs", text: `m${i}`, ref: `r${i}` });
    const ack = await bob.expectFrame((f) => f.type === "ack" && f.ref === `r${i}`);
    ids.push(ack.type === "ack" ? ack.id : 0);
  }
  await using alice = await IrcTestClient.register(server.ircPort, "alice", [
    "batch",
    "message-tags",
    "draft/chathistory",
  ]);
  const cases: [string, string[]][] = [
    ["LATEST #refs * 2", ["m3", "m4"]],
    [`BEFORE #refs msgid=${ids[3]} 2`, ["m1", "m2"]],
    [`AFTER #refs msgid=${ids[1]} 2`, ["m2", "m3"]],
    [`LATEST #refs msgid=${ids[1]} 2`, ["m3", "m4"]],
    [`LATEST #refs msgid=${ids[3]} 10`, ["m4"]],
    ["AFTER #refs timestamp=1970-01-01T00:00:00.000Z 2", ["m0", "m1"]],
    ["BEFORE #refs timestamp=2100-01-01T00:00:00.000Z 2", ["m3", "m4"]],
    ["LATEST #refs timestamp=1970-01-01T00:00:00.000Z 2", ["m3", "m4"]],
    ["BEFORE #refs timestamp=1970-01-01T00:00:00.000Z 2", []],
  ];
  for (const [request, texts] of cases) {
    assert.deepEqual(await chathistory(alice, `CHATHISTORY ${request}`), texts, request);
  }
  const fails: [string, RegExp][] = [
    ["LATEST #nowhere * 5", /^:chat FAIL CHATHISTORY INVALID_TARGET LATEST :there is no room/],
    ["BEFORE #refs * 5", /^:chat FAIL CHATHISTORY INVALID_PARAMS BEFORE :reference must be \*/],
    ["AFTER #refs msgid=x 5", /^:chat FAIL CHATHISTORY INVALID_PARAMS AFTER :bad msgid$/],
    ["LATEST #refs timestamp=soon 5", / INVALID_PARAMS LATEST :bad timestamp$/],
    ["LATEST #refs * -3", / INVALID_PARAMS LATEST :history limit must be a whole number/],
  ];
  for (const [request, fail] of fails) {
    await alice.send(`CHATHISTORY ${request}`);
    await alice.expect(fail);
  }
  // The read commits what is pending first, as every core command does: a
  // message sent in the same write is in the page.
  await alice.client.write(
    "JOIN #refs\r\nPRIVMSG #refs :fresh\r\nCHATHISTORY LATEST #refs * 2\r\n",
  );
  const id = /^BATCH \+(\S+) /.exec(await alice.expect(/^BATCH \+c\d+ chathistory #refs$/))![1]!;
  await alice.expect(`BATCH -${id}`);
  const page = alice.client.lines.seen.filter((l) => l.startsWith(`@batch=${id};`));
  assert.match(page.at(-1) ?? "", / :alice!~alice@chat PRIVMSG #refs :fresh$/, page.join("\n"));
});

Deno.test("irc: a room that expired keeps its founder: whoever creates it again is no operator", async () => {
  await using server = await startIrcServer(["--room-expiry", "1"]);
  {
    await using alice = await TestClient.joinJson(server.port, "alice");
    await alice.sendFrame({ type: "register", password: "correct horse 9" });
    await alice.expectFrame((f) => f.type === "account" && f.event === "registered", 20_000);
    await alice.sendFrame({ type: "join", room: "#owned" });
    await alice.expectFrame((f) => f.type === "room" && f.room === "#owned");
    await alice.sendFrame({ type: "part", room: "#owned" });
    await server.log.expect(/expired 1 empty rooms without history/, 20_000);
  }
  await using bob = await IrcTestClient.register(server.ircPort, "bob");
  await bob.send("JOIN #owned");
  await bob.expect(/^:chat 353 bob = #owned :bob$/);
  await bob.send("MODE #owned +t");
  await bob.expect(/ 482 bob #owned :You're not channel operator/);
});

Deno.test("irc: client-only tags ride PRIVMSG to message-tags receivers (and JSON), TAGMSG reaches only them; 417 past 4094 bytes of tags", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice", [
    "message-tags",
    "echo-message",
  ]);
  await using bob = await IrcTestClient.register(server.ircPort, "bob", ["message-tags"]);
  await using carol = await IrcTestClient.register(server.ircPort, "carol");
  await using text = await TestClient.joinText(server.port, "tom");
  await using json = await TestClient.joinJson(server.port, "jay");
  for (const irc of [alice, bob, carol]) {
    await irc.join("#tags");
  }
  await text.send("/join #tags");
  await json.sendFrame({ type: "join", room: "#tags" });
  await carol.expect(/:jay!json@chat JOIN #tags$/);

  // Only client-only tags (+name) are relayed, escaped again; server tags from a client are not.
  await alice.send("@+draft/reply=41;+x=a\\sb\\:c;fizz=buzz PRIVMSG #tags :hi");
  await alice.expect(
    /^@msgid=(\d+);\+draft\/reply=41;\+x=a\\sb\\:c :alice!~alice@chat PRIVMSG #tags :hi$/,
  );
  await bob.expect(
    /^@msgid=\d+;\+draft\/reply=41;\+x=a\\sb\\:c :alice!~alice@chat PRIVMSG #tags :hi$/,
  );
  await carol.expect(/^:alice!~alice@chat PRIVMSG #tags :hi$/);
  await text.lines.expect("alice: hi");
  const relayed = await json.expectFrame((f) => f.type === "message" && f.text === "hi");
  assert.deepEqual(relayed.type === "message" && relayed.tags, {
    "+draft/reply": "41",
    "+x": "a b;c",
  });
  // Private messages carry them too.
  await alice.send("@+draft/react=👍 PRIVMSG bob :ok");
  await bob.expect(/^@msgid=\d+;\+draft\/react=👍 :alice!~alice@chat PRIVMSG bob :ok$/);

  // TAGMSG: to the message-tags receivers only, echoed with echo-message, same msgid.
  await alice.send("@+typing=active TAGMSG #tags");
  const echo = await alice.expect(
    /^@msgid=(t\d+);\+typing=active :alice!~alice@chat TAGMSG #tags$/,
  );
  const relay = await bob.expect(/ TAGMSG #tags$/);
  assert.equal(relay, echo);
  await alice.send("@+typing=done TAGMSG carol");
  await alice.send("PRIVMSG #tags :after");
  await carol.expect(/PRIVMSG #tags :after$/);
  await text.lines.expect("alice: after");
  await json.expectFrame((f) => f.type === "message" && f.text === "after");
  for (const seen of [carol.client.lines.seen, text.lines.seen]) {
    assert.ok(!seen.some((l) => / TAGMSG |typing/.test(l)), seen.join("\n"));
  }
  assert.ok(!json.lines.seen.some((l) => l.includes("typing")));

  // History keeps the message, not its tags.
  await json.sendFrame({ type: "history", room: "#tags" });
  const old = await json.expectFrame((f) => f.type === "message" && f.history === true);
  assert.equal(old.type === "message" && old.tags, undefined);

  // Limits: 4094 bytes of tag data pass; one more is 417 and nothing is relayed.
  await alice.send(`@foo=bar;+big=${"a".repeat(4081)} TAGMSG #tags`);
  await bob.expect((l) => l.includes(`+big=${"a".repeat(4081)} `) && l.endsWith("TAGMSG #tags"));
  await alice.send(`@foo=bar;+big=${"a".repeat(4082)} TAGMSG #tags`);
  await alice.expect(/^:chat 417 alice :Input line was too long$/);
  // A PRIVMSG that cannot be relayed in one 512-byte line with its source is refused, not cut.
  await alice.send(`PRIVMSG #tags :${"b".repeat(496)}`);
  await alice.expect(/^:chat 417 alice :Input line was too long$/);
  await alice.send("PRIVMSG #tags :end");
  await bob.expect(/PRIVMSG #tags :end$/);
  assert.ok(!bob.client.lines.seen.some((l) => l.includes("a".repeat(4082)) || l.includes("bbbb")));
});

Deno.test("irc: TAGMSG is delivered as a PRIVMSG to the same target is: never before the message sent ahead of it, and a flood of it is paced by flood control", async () => {
  {
    // Flood control off: the four lines are handled in one turn.
    await using server = await startIrcServer();
    await using alice = await IrcTestClient.register(server.ircPort, "alice", ["message-tags"]);
    await using bob = await IrcTestClient.register(server.ircPort, "bob", ["message-tags"]);
    for (const irc of [alice, bob]) {
      await irc.join("#order");
    }
    // A reaction right behind its message, in one write: the message comes first.
    await alice.client.write(
      "PRIVMSG #order :ship it?\r\n@+draft/react=yes TAGMSG #order\r\n" +
        "PRIVMSG bob :psst\r\n@+typing=done TAGMSG bob\r\n",
    );
    await bob.expect(/ TAGMSG bob$/);
    const got = bob.client.lines.seen.filter((l) => / (PRIVMSG|TAGMSG) /.test(l)).map((l) =>
      l.slice(l.indexOf(" :alice!") + 1)
    );
    assert.deepEqual(got, [
      ":alice!~alice@chat PRIVMSG #order :ship it?",
      ":alice!~alice@chat TAGMSG #order",
      ":alice!~alice@chat PRIVMSG bob :psst",
      ":alice!~alice@chat TAGMSG bob",
    ]);
  }
  await using server = await startIrcServer(["--flood-burst", "3", "--flood-rate", "20"]);
  await using alice = await IrcTestClient.register(server.ircPort, "alice", ["message-tags"]);
  await using bob = await IrcTestClient.register(server.ircPort, "bob", ["message-tags"]);
  for (const irc of [alice, bob]) {
    await irc.join("#order");
  }

  // 30 TAGMSGs in one write: delayed by the same token bucket as 30
  // PRIVMSGs, none dropped, in order.
  const flood = Array.from({ length: 30 }, (_, i) => `@+n=${i} TAGMSG #order\r\n`).join("");
  await alice.client.write(flood);
  await bob.expect(/;\+n=0 :alice!~alice@chat TAGMSG #order$/);
  const start = performance.now();
  for (let i = 1; i < 30; i++) await bob.expect(new RegExp(`;\\+n=${i} :alice!`));
  const elapsed = performance.now() - start;
  // (30 - 3) / 20 s = 1350 ms at least; a generous slack for timer jitter.
  assert.ok(elapsed > 900, `30 TAGMSGs arrived within ${elapsed.toFixed(0)} ms`);
  const numbers = bob.client.lines.seen.flatMap((l) => /;\+n=(\d+) /.exec(l)?.[1] ?? []);
  assert.deepEqual(numbers.map(Number), Array.from({ length: 30 }, (_, i) => i));
});

Deno.test("irc: a secret room (+s, /secret) is hidden from those outside it: LIST, NAMES, WHO, WHOIS, /rooms, who; NAMES of several rooms", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  await using bob = await IrcTestClient.register(server.ircPort, "bob");
  await using text = await TestClient.joinText(server.port, "tom");
  await using json = await TestClient.joinJson(server.port, "jay");
  await alice.join("#hidden");
  await alice.join("#open");
  await alice.send("MODE #hidden +s");
  await alice.expect(/^:alice!~alice@chat MODE #hidden \+s$/);
  await alice.send("MODE #hidden");
  await alice.expect(/ 324 alice #hidden \+ns$/);
  await alice.send("NAMES #hidden,#open");
  await alice.expect(/^:chat 353 alice @ #hidden :@alice$/);
  await alice.expect(/^:chat 353 alice = #open :@alice$/);
  await alice.expect(/^:chat 366 alice #hidden,#open :End of \/NAMES list$/);

  // Outside: nothing of it.
  await bob.send("LIST");
  await bob.expect(/ 322 bob #open 1 /);
  await bob.expect(/ 323 bob /);
  await bob.send("NAMES #hidden");
  await bob.expect(/^:chat 366 bob #hidden :End of \/NAMES list$/);
  await bob.send("WHO #hidden");
  await bob.expect(/ 315 bob #hidden /);
  await bob.send("WHOIS alice");
  await bob.expect(/^:chat 319 bob alice :#open$/);
  for (const seen of [bob.client.lines.seen]) {
    assert.ok(!seen.some((l) => / 35[23] .*#hidden/.test(l) || / 322 .*#hidden/.test(l)));
  }
  await text.send("/rooms");
  await text.lines.expect(/^\* rooms \(2\):$/); // #lobby and #open
  await json.sendFrame({ type: "who", room: "#hidden" });
  await json.expectFrame((f) => f.type === "error" && f.code === "no_such_room");

  // Inside, it is a room like any other; /secret off opens it again.
  await text.send("/join #hidden");
  await text.lines.expect(/now talking in #hidden/);
  await text.send("/rooms");
  await text.lines.expect(/^\* rooms \(3\):$/);
  await text.send("/secret off");
  await text.lines.expect("! only operators of #hidden may do that");
  await alice.send("MODE #hidden -s");
  await text.lines.expect("* alice made #hidden public");
  await bob.send("NAMES #hidden");
  await bob.expect(/^:chat 353 bob = #hidden :/);
});

Deno.test("irc: a moderated room (+m, /moderated) lets only operators and voiced users (+v, /voice) talk, on every transport", async () => {
  await using server = await startIrcServer();
  await using alice = await IrcTestClient.register(server.ircPort, "alice", ["multi-prefix"]);
  await using bob = await IrcTestClient.register(server.ircPort, "bob");
  await using text = await TestClient.joinText(server.port, "tom");
  await using json = await TestClient.joinJson(server.port, "jay");
  await alice.join("#stage");
  await bob.join("#stage");
  await text.send("/join #stage");
  await text.lines.expect(/now talking in #stage/);
  await json.sendFrame({ type: "join", room: "#stage" });
  await json.expectFrame((f) => f.type === "room" && f.room === "#stage");

  await alice.send("MODE #stage +m");
  await bob.expect(/^:alice!~alice@chat MODE #stage \+m$/);
  await text.lines.expect(
    "* alice made #stage moderated: only operators and voiced users talk",
  );
  await bob.send("PRIVMSG #stage :may I?");
  await bob.expect(/^:chat 404 bob #stage :Cannot send to channel$/);
  await text.send("may I?");
  await text.lines.expect(/^! #stage is moderated: only its operators/);
  await json.sendFrame({ type: "say", room: "#stage", text: "may I?" });
  await json.expectFrame((f) => f.type === "error" && f.code === "muted");

  // Voice, from IRC and from plain text; NAMES shows "+" (and "@+" with multi-prefix).
  await alice.send("MODE #stage +v bob");
  await bob.expect(/^:alice!~alice@chat MODE #stage \+v bob$/);
  await text.lines.expect("* bob was given a voice in #stage by alice");
  await alice.send("MODE #stage +v alice");
  await alice.expect(/MODE #stage \+v alice$/);
  await alice.send("NAMES #stage");
  await alice.expect(/^:chat 353 alice = #stage :@\+alice \+bob jay tom$/);
  await bob.send("NAMES #stage");
  await bob.expect(/^:chat 353 bob = #stage :@alice \+bob jay tom$/);
  await bob.send("PRIVMSG #stage :thanks");
  await text.lines.expect("bob: thanks");
  await text.send("/voice jay");
  await text.lines.expect("! only operators of #stage may do that");
  await alice.send("MODE #stage -v bob");
  await bob.expect(/MODE #stage -v bob$/);
  await bob.send("PRIVMSG #stage :again?");
  await bob.expect(/ 404 bob #stage /);
  await alice.send("MODE #stage");
  await alice.expect(/ 324 alice #stage \+nm$/);
  await alice.send("MODE #stage -m");
  await json.expectFrame((f) => f.type === "moderation" && f.action === "unmoderated");
  await json.sendFrame({ type: "say", room: "#stage", text: "free again" });
  await bob.expect(/:jay!json@chat PRIVMSG #stage :free again$/);
});

/** Connects (sending `sent`, if any) and expects `line` alone, then the close. */
async function closedWith(port: number, line: string, sent = ""): Promise<void> {
  await using client = await TestClient.connect(port);
  if (sent) await client.write(sent);
  await client.lines.expectEnd();
  assert.deepEqual(client.lines.seen, [line]);
}

Deno.test("irc: a connection refused before registration (server full, too many from one address) gets an IRC ERROR line, not JSON", async (t) => {
  await using server = await startIrcServer(["--max-clients", "2", "--max-per-ip", "1"]);
  await using _alice = await IrcTestClient.register(server.ircPort, "alice");
  await t.step("too many from one address", async () => {
    await closedWith(
      server.ircPort,
      "ERROR :Closing link: chat (too many connections from 127.0.0.1)",
    );
  });
  await t.step("server full", async () => {
    await using server2 = await startIrcServer(["--max-clients", "1"]);
    await using _bob = await IrcTestClient.register(server2.ircPort, "bob");
    await closedWith(
      server2.ircPort,
      "ERROR :Closing link: chat (server is full, try again later)",
    );
  });
});

Deno.test("irc: LIST of hundreds of rooms with long topics pages through a small send queue and keeps the asker", async () => {
  await using server = await startIrcServer(["--send-queue", "65536", "--room-quota", "0"]);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const lines: string[] = [];
  for (let i = 0; i < 600; i++) {
    const room = `#room-${String(i).padStart(3, "0")}`;
    lines.push(JSON.stringify({ type: "join", room }));
    lines.push(JSON.stringify({ type: "topic", text: `topic ${i} `.padEnd(300, "t") }));
    lines.push(JSON.stringify({ type: "part" }));
  }
  await bob.write(lines.join("\n") + "\n"); // ~200 KB of LIST, three times the queue
  await bob.expectFrame((f) => f.type === "left" && f.room === "#room-599", 60_000);
  await using alice = await IrcTestClient.register(server.ircPort, "alice");
  await alice.send("LIST");
  await alice.client.lines.expect(/ 323 alice :End of \/LIST$/, 30_000);
  const listed = alice.client.lines.seen.filter((l) => / 322 alice /.test(l));
  assert.equal(listed.length, 601); // and #lobby
  assert.equal(new Set(listed.map((l) => l.split(" ")[3])).size, 601);
  const topics = listed.filter((l) => !/ #lobby /.test(l));
  assert.ok(topics.every((l) => l.endsWith("t")), topics.find((l) => !l.endsWith("t")));
  await alice.send("NAMES #lobby,#room-000");
  await alice.expect(/ 366 alice #lobby,#room-000 :End of \/NAMES list$/);
  await alice.send("WHO #lobby");
  await alice.expect(/ 315 alice #lobby :End of WHO list$/);
  await bob.sendFrame({ type: "msg", to: "alice", text: "still there?" });
  await alice.expect(/PRIVMSG alice :still there\?$/);
  assert.ok(!server.log.seen.some((l) => l.includes("drop alice")));
});

Deno.test("irc: the IRC port never sends the chat port's nickname prompt; a handshake timeout is an ERROR line", async (t) => {
  await using server = await startIrcServer(["--handshake-timeout", "1"]);
  const cases: [string, string][] = [
    ["silent", ""],
    ["a partial line", "NICK ab"],
    ["NICK only", "NICK ab\r\n"],
  ];
  for (const [name, sent] of cases) {
    await t.step(name, async () => {
      await closedWith(
        server.ircPort,
        "ERROR :Closing link: chat (handshake not completed in time)",
        sent,
      );
    });
  }
});

Deno.test("irc: CHATHISTORY of 100 long messages goes out as the client reads, through a small send queue", async () => {
  await using server = await startIrcServer(["--send-queue", "262144", "--flood-rate", "0"]);
  await using bob = await TestClient.joinJson(server.port, "bob");
  const lines = Array.from(
    { length: 100 },
    (_, i) => JSON.stringify({ type: "say", text: `long ${i} `.padEnd(8000, "x"), ref: `l${i}` }),
  );
  await bob.write(lines.join("\n") + "\n"); // ~850 KB of PRIVMSG lines, over three times the queue
  await bob.expectFrame((f) => f.type === "ack" && f.ref === "l99", 30_000);
  await using alice = await IrcTestClient.register(server.ircPort, "alice", [
    "batch",
    "message-tags",
    "draft/chathistory",
  ]);
  await alice.send("CHATHISTORY LATEST #lobby * 100");
  await alice.client.lines.expect(/^BATCH -c\d+$/, 30_000);
  const firsts = alice.client.lines.seen.filter((l) => / PRIVMSG #lobby :long \d+ /.test(l));
  assert.equal(firsts.length, 100);
  await bob.sendFrame({ type: "msg", to: "alice", text: "still there?" });
  await alice.expect(/PRIVMSG alice :still there\?$/);
  assert.ok(!server.log.seen.some((l) => l.includes("drop alice")));
});

Deno.test("irc: a refused value echoed in a numeric or FAIL has its bidi and control characters shown as <U+XXXX>", async () => {
  await using server = await startIrcServer();
  await using client = await TestClient.connect(server.ircPort);
  // deno-lint-ignore no-control-regex -- the point is that none is left
  const raw = /[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069\u200b-\u200f]/;
  await client.send("CAP REQ :sasl\u202ex");
  const nak = await client.lines.expect(/ CAP \* NAK /);
  assert.ok(!raw.test(nak) && nak.endsWith("NAK :sasl<U+202E>x"), nak);
  await client.send("NICK x\u202ey\u0007z");
  const invalid = await client.lines.expect(/ 432 /);
  assert.ok(!raw.test(invalid), JSON.stringify(invalid));
  assert.match(invalid, /^:chat 432 \* x<U\+202E>y<U\+0007>z :Erroneous nickname: /);
  await client.send("NICK okay");
  await client.send("USER okay 0 * :Okay");
  await client.send("CAP END");
  await client.lines.expect(/ 376 okay /);
  for (
    const [line, numeric] of [
      ["PRIVMSG n\u202eobody :hi", / 401 okay n<U\+202E>obody :/],
      ["JOIN #a\u202eb", / 403 okay #a<U\+202E>b :/],
      ["WHOIS z\u2066z", / 401 okay z<U\+2066>z :/],
      ["CHATHISTORY LA\u202eTEST #lobby * 1", / FAIL CHATHISTORY INVALID_PARAMS LA<U\+202E>TEST :/],
    ] as const
  ) {
    await client.send(line);
    const answer = await client.lines.expect(numeric);
    assert.ok(!raw.test(answer), JSON.stringify(answer));
  }
});

Deno.test("irc: JOIN's NAMES of a big room goes out as the client reads, through a small send queue", async () => {
  await using server = await startIrcServer([
    "--send-queue",
    "4096",
    "--max-per-ip",
    "0",
    "--announce-limit",
    "10",
  ]);
  // 200 members with 24-character nicknames: ~5 KB of 353 lines, more than
  // the whole 4 KiB queue.
  const members: Deno.TcpConn[] = [];
  const latin1 = new TextDecoder("latin1");
  try {
    for (let i = 0; i < 200; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      members.push(conn);
      const nick = `member${String(i).padStart(3, "0")}`.padEnd(24, "x");
      await conn.write(new TextEncoder().encode(
        JSON.stringify({ type: "hello", version: 1, nick }) + "\n" +
          JSON.stringify({ type: "join", room: "#big" }) + "\n",
      ));
    }
    // Each member has joined once it got its room frame for #big.
    const buf = new Uint8Array(16384);
    for (const conn of members) {
      let seen = "";
      while (!seen.includes('"room":"#big"')) {
        const n = await conn.read(buf);
        if (n === null) throw new Error(`a member was closed: ${seen}`);
        seen += latin1.decode(buf.subarray(0, n));
      }
    }
    await using alice = await IrcTestClient.register(server.ircPort, "alice");
    await alice.send("JOIN #big");
    await alice.client.lines.expect(/ 366 alice #big :End of \/NAMES list$/, 30_000);
    const lines = alice.client.lines.seen;
    const names = lines.filter((l) => / 353 alice = #big :/.test(l));
    const nicks = names.flatMap((l) => l.split(" :")[1]!.split(" "));
    assert.equal(nicks.length, 201);
    const joined = lines.findIndex((l) => / JOIN #big$/.test(l) || / JOIN :#big$/.test(l));
    assert.ok(joined !== -1 && joined < lines.indexOf(names[0]!), "JOIN comes before its NAMES");
    await alice.send("PRIVMSG #big :still here");
    await alice.send("PING :after");
    await alice.expect(/PONG .*after$/);
    assert.ok(!server.log.seen.some((l) => l.includes("drop alice")));
  } finally {
    for (const conn of members) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
});
