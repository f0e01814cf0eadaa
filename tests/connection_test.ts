// Unit tests of the handshake and of the error line for a failed dial.

import assert from "@chat/assert";
import type { ClientFrame, ServerFrame } from "../protocol/mod.ts";
import {
  describeNetworkError,
  type ErrorFrame,
  type FrameChannel,
  register,
} from "../client/connection.ts";

/** A scripted server: answers each sent frame with the next scripted reply. */
class FakeChannel implements FrameChannel {
  readonly sent: ClientFrame[] = [];
  readonly #replies: (ServerFrame | undefined)[][];
  #inbox: (ServerFrame | undefined)[] = [];

  constructor(replies: (ServerFrame | undefined)[][]) {
    this.#replies = replies;
  }

  send(frame: ClientFrame): Promise<void> {
    this.sent.push(frame);
    this.#inbox.push(...(this.#replies.shift() ?? []));
    return Promise.resolve();
  }

  receive(): Promise<ServerFrame | undefined> {
    return Promise.resolve(this.#inbox.shift());
  }
}

const welcome = (nick: string): ServerFrame => ({
  type: "welcome",
  version: 1,
  nick,
  server: "chat",
  online: 1,
});
const taken = (nick: string): ServerFrame => ({
  type: "error",
  code: "nick_taken",
  message: `nickname "${nick}" is taken`,
});

Deno.test("register() sends hello, then a nick frame after each refusal", async () => {
  const channel = new FakeChannel([[taken("bob")], [taken("Bob")], [welcome("bobby")]]);
  const refusals: string[] = [];
  const tries = ["Bob", "bobby"];
  const result = await register(channel, {
    nick: "bob",
    retry(refusal: ErrorFrame) {
      refusals.push(refusal.message);
      return Promise.resolve(tries.shift());
    },
  });
  assert.deepEqual(result, { status: "welcome", welcome: welcome("bobby") });
  assert.deepEqual(channel.sent, [
    { type: "hello", version: 1, nick: "bob" },
    { type: "nick", nick: "Bob" },
    { type: "nick", nick: "bobby" },
  ]);
  assert.deepEqual(refusals, ['nickname "bob" is taken', 'nickname "Bob" is taken']);
});

Deno.test("register() sends quit when the user gives up", async () => {
  const channel = new FakeChannel([[taken("bob")]]);
  const result = await register(channel, {
    nick: "bob",
    retry: () => Promise.resolve(undefined),
  });
  assert.deepEqual(result, { status: "gave_up" });
  assert.deepEqual(channel.sent.at(-1), { type: "quit" });
});

Deno.test("register() reports the server's last error when it closes first", async () => {
  const full: ServerFrame = {
    type: "error",
    code: "too_many_connections",
    message: "too many connections",
  };
  const channel = new FakeChannel([[full, undefined]]);
  const result = await register(channel, {
    nick: "bob",
    retry: () => Promise.reject(new Error("not a nickname problem")),
  });
  assert.deepEqual(result, { status: "closed", error: full });
  assert.deepEqual(
    await register(new FakeChannel([[undefined]]), {
      nick: "x",
      retry: () => Promise.resolve("y"),
    }),
    { status: "closed" },
  );
});

Deno.test("describeNetworkError() gives one short lower-case reason", () => {
  assert.equal(describeNetworkError(new Deno.errors.ConnectionRefused("x")), "connection refused");
  assert.equal(
    describeNetworkError(new Error("Failed to lookup address information (os error -2)")),
    "failed to lookup address information",
  );
});
