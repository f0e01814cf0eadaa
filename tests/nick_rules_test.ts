// Look-alike and invisible nicknames (issue 11): the server refuses a name
// whose Unicode TS #39 skeleton matches one online, names with invisible
// characters anywhere, and punctuation-only names; error messages never echo
// a refused value raw. Real server over real sockets, plus property tests of
// the rules in protocol/text.ts.

import assert from "@chat/assert";
import fc from "fast-check";
import {
  checkNick,
  nickKey,
  nickSkeletons,
  normalizeNick,
  quoteValue,
  type ServerFrame,
  skeleton,
} from "../protocol/mod.ts";
import { startTestServer, TestClient } from "./test_util.ts";

/** Sends `nick` frames one by one and returns each answer (an error or the welcome). */
async function tryNicks(client: TestClient, nicks: string[]): Promise<ServerFrame[]> {
  const answers: ServerFrame[] = [];
  for (const nick of nicks) {
    await client.sendFrame({ type: "nick", nick });
    answers.push(await client.expectFrame((f) => f.type === "error" || f.type === "welcome"));
  }
  return answers;
}

Deno.test("nicknames: look-alikes of an online name, invisible and punctuation-only names are refused", async (t) => {
  await using server = await startTestServer();
  await using alice = await TestClient.joinText(server.port, "alice");
  await using bob = await TestClient.joinJson(server.port, "bob");
  await using other = await TestClient.connect(server.port);
  await other.sendFrame({ type: "hello", version: 1 });

  await t.step("confusable with alice or bob: nick_taken, saying whom it looks like", async () => {
    const refused = ["аӏісе", "ALICE", "a1ice", "AL1CE", "b0b", "вов".toUpperCase()];
    for (const answer of await tryNicks(other, refused)) {
      assert.ok(answer.type === "error" && answer.code === "nick_taken", JSON.stringify(answer));
    }
    const [cyrillic] = await tryNicks(other, ["аӏісе"]);
    assert.equal(
      cyrillic?.type === "error" && cyrillic.message,
      'nickname "аӏісе" looks like "alice", which is taken',
    );
  });

  await t.step(
    "invisible characters anywhere, blank and punctuation-only names: nick_invalid",
    async () => {
      const invalid = [
        "alice\u034f",
        "alice\ufe0f",
        "alice\u180b",
        "alice\u3164",
        "\u3164",
        "al\u200bice",
        "\u115fzed",
        "zed\u{e0100}",
        "-",
        ".",
        "-.-",
      ];
      const answers = await tryNicks(other, invalid);
      answers.forEach((answer, i) => {
        assert.ok(
          answer.type === "error" && answer.code === "nick_invalid",
          `${JSON.stringify(invalid[i])}: ${JSON.stringify(answer)}`,
        );
      });
      const first = answers[0]!;
      assert.equal(
        first.type === "error" && first.message,
        'nickname "alice<U+034F>" is invalid: it contains an invisible character (U+034F)',
      );
    },
  );

  await t.step(
    "a refused value is echoed with its bidi and control characters neutralised",
    async () => {
      await other.write('{"type":"nick","nick":"x\\u202e\\u0007y z"}\n');
      const line = await other.lines.expect((l) => l.includes("nick_invalid"));
      assert.ok(!line.includes("\u202e") && !line.includes("\u0007"), line);
      assert.match(line, /x<U\+202E><U\+0007>y z/);
    },
  );

  await t.step("plain text gets the same refusal and may try again", async () => {
    await using eve = await TestClient.connect(server.port);
    await eve.send("аӏісе");
    await eve.lines.expect(
      '! nickname "аӏісе" looks like "alice", which is taken, choose another:',
    );
    await eve.send("alice\u3164");
    await eve.lines.expect(
      /^! nickname "alice<U\+(3164|1160)>" is invalid: it contains an invisible/,
    );
    await eve.send("eve");
    await eve.lines.expect(/^\* welcome, eve!/);
  });

  await t.step(
    "a distinct name is still welcome, and the look-alike frees with its holder",
    async () => {
      const [welcome] = await tryNicks(other, ["carol"]);
      assert.ok(welcome?.type === "welcome" && welcome.nick === "carol");
      await alice.send("/quit");
      await alice.lines.expectEnd();
      await using mallory = await TestClient.connect(server.port);
      await mallory.sendFrame({ type: "hello", version: 1, nick: "аӏісе" });
      const w = await mallory.expectFrame((f) => f.type === "welcome");
      assert.ok(w.type === "welcome" && w.nick === "аӏісе");
      await using late = await TestClient.connect(server.port);
      await late.sendFrame({ type: "hello", version: 1, nick: "alice" });
      const refusal = await late.expectFrame((f) => f.type === "error");
      assert.ok(refusal.type === "error" && refusal.code === "nick_taken");
      await bob.sendFrame({ type: "who" });
      await bob.expectFrame((f) => f.type === "who" && f.nicks.includes("аӏісе"));
    },
  );
});

const INVISIBLE = [
  "\u00ad",
  "\u034f",
  "\u115f",
  "\u1160",
  "\u180b",
  "\u180e",
  "\u200b",
  "\u200c",
  "\u200d",
  "\u2060",
  "\u3164",
  "\ufe00",
  "\ufe0f",
  "\ufeff",
  "\uffa0",
  "\u{e0100}",
  "\u{e01ef}",
];
const nickChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789_-.");
const plainNick = fc.array(nickChar, { minLength: 1, maxLength: 20 }).map((a) => a.join(""))
  .filter((n) => checkNick(n) === undefined);

Deno.test("property: an invisible character anywhere makes any nickname invalid", () => {
  fc.assert(
    fc.property(
      plainNick,
      fc.constantFrom(...INVISIBLE),
      fc.nat(),
      (nick, invisible, at) => {
        const chars = [...nick];
        chars.splice(at % (chars.length + 1), 0, invisible);
        const candidate = normalizeNick(chars.join(""));
        // NFKC may remove a character (e.g. U+FEFF is kept, U+00AD too): if it
        // is still there, the nickname must be refused.
        if ([...candidate].some((c) => INVISIBLE.includes(c))) {
          assert.notEqual(checkNick(candidate), undefined);
        }
      },
    ),
  );
});

Deno.test("property: every accepted nickname shows a letter or digit and nothing invisible", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (raw) => {
      const nick = normalizeNick(raw);
      if (checkNick(nick) !== undefined) return;
      assert.ok(/[\p{L}\p{Nd}]/u.test(nick));
      assert.ok(!/[\p{Default_Ignorable_Code_Point}\p{Variation_Selector}]/u.test(nick));
      assert.ok([...nick].length <= 24);
      assert.ok(!/^\p{M}/u.test(nick));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: nicknames that differ only in case or by Cyrillic look-alikes share a key", () => {
  const latinToCyrillic: Record<string, string> = {
    a: "а",
    c: "с",
    e: "е",
    o: "о",
    p: "р",
    x: "х",
    y: "у",
  };
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...Object.keys(latinToCyrillic)), { minLength: 1, maxLength: 20 }),
      fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
      (letters, upper) => {
        const latin = letters.join("");
        const cyrillic = letters.map((l) => latinToCyrillic[l]).join("");
        const mixedCase = letters.map((l, i) => upper[i] ? l.toUpperCase() : l).join("");
        assert.equal(nickKey(mixedCase), nickKey(latin));
        assert.deepEqual(nickSkeletons(mixedCase), nickSkeletons(latin));
        assert.equal(nickSkeletons(cyrillic)[0], nickSkeletons(latin)[0]);
      },
    ),
  );
});

Deno.test("skeleton() follows UTS #39 §4 with the shipped confusables table", () => {
  assert.equal(skeleton("m"), "rn");
  assert.equal(skeleton("\u0430"), "a"); // CYRILLIC SMALL LETTER A
  assert.equal(skeleton("0"), "O");
  assert.equal(skeleton("é"), skeleton("e\u0301"));
  assert.deepEqual(nickSkeletons("аӏісе")[1], nickSkeletons("alice")[1]);
});

Deno.test("property: quoteValue() never lets a control, format or lone surrogate through", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (raw) => {
      const quoted = quoteValue(raw);
      assert.ok(!/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|\p{Surrogate}/u.test(quoted), quoted);
      assert.equal(quoted.isWellFormed(), true);
    }),
    { numRuns: 2000 },
  );
});
