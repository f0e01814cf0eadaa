/**
 * What the server does with each client frame. Plain-text lines reach these
 * handlers through the same command registry (`protocol/commands.ts`) that
 * generates `/help`, so both kinds of client get the same behaviour.
 *
 * @module
 */

import { type ClientFrame, commandHelp, sanitizeText } from "../protocol/mod.ts";
import type { Session } from "./session.ts";

type Handler<T extends ClientFrame["type"]> = (
  session: Session,
  frame: Extract<ClientFrame, { type: T }>,
) => void;

/** Frame types a session may send before it holds a nickname. */
const BEFORE_REGISTRATION: ReadonlySet<ClientFrame["type"]> = new Set([
  "nick",
  "quit",
  "help",
  "ping",
  "pong",
]);

const utf8 = new TextEncoder();

/**
 * Cleans and checks message text against the hub's limits.
 *
 * @returns the text to send, or `undefined` after sending the error
 */
function acceptText(session: Session, raw: string): string | undefined {
  const { maxTextBytes, maxTextLines } = session.hub.limits;
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (raw.length * 3 > maxTextBytes && utf8.encode(raw).length > maxTextBytes) {
    session.error("text_too_long", `message is longer than ${maxTextBytes} bytes`);
    return undefined;
  }
  const text = sanitizeText(raw).replace(/^\n+|\n+$/g, "");
  if (text.trim() === "") {
    session.error("empty_text", "message is empty");
    return undefined;
  }
  let lines = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
  if (lines > maxTextLines) {
    session.error("text_too_long", `message has more than ${maxTextLines} lines`);
    return undefined;
  }
  return text;
}

const HANDLERS: { [T in ClientFrame["type"]]: Handler<T> } = {
  hello(session) {
    session.error("already_registered", "hello was already sent");
  },
  nick(session, frame) {
    const result = session.hub.setNick(session, frame.nick);
    if (!result.ok) {
      session.error(result.code, result.message);
      return;
    }
    if (result.previous === result.nick) return;
    session.rename(result.nick);
    session.hub.log(`rename ${result.previous} -> ${result.nick} (${session.remote})`);
    session.hub.broadcast({
      type: "renamed",
      from: result.previous!,
      to: result.nick,
      ts: Date.now(),
    });
  },
  say(session, frame) {
    const text = acceptText(session, frame.text);
    if (text === undefined) return;
    session.hub.broadcast({ type: "message", from: session.nick!, text, ts: Date.now() }, session);
  },
  me(session, frame) {
    const text = acceptText(session, frame.text);
    if (text === undefined) return;
    session.hub.broadcast({ type: "action", from: session.nick!, text, ts: Date.now() }, session);
  },
  msg(session, frame) {
    const target = session.hub.find(frame.to);
    if (!target) {
      session.error("no_such_nick", `no one called ${JSON.stringify(frame.to)} is online`);
      return;
    }
    const text = acceptText(session, frame.text);
    if (text === undefined) return;
    const message = {
      type: "private",
      from: session.nick!,
      to: target.nick!,
      text,
      ts: Date.now(),
    } as const;
    target.send(message);
    if (target !== session) session.send(message);
  },
  who(session) {
    session.send({ type: "who", nicks: session.hub.nicks() });
  },
  help(session) {
    session.send({ type: "help", commands: commandHelp() });
  },
  quit(session, frame) {
    session.end(frame.reason ? `quit: ${sanitizeText(frame.reason, false)}` : "quit", "goodbye");
  },
  ping(session, frame) {
    session.send(
      frame.token === undefined ? { type: "pong" } : { type: "pong", token: frame.token },
    );
  },
  pong() {
    // Any traffic counts as activity; the transport already noted it.
  },
};

/**
 * Dispatches a frame to its handler, after the one central check: a session
 * without a nickname may only pick one, ask for help, ping or quit.
 *
 * @param session the sender
 * @param frame a validated frame
 */
export function handleFrame(session: Session, frame: ClientFrame): void {
  if (session.state !== "active" && !BEFORE_REGISTRATION.has(frame.type)) {
    session.error("not_registered", "choose a nickname first");
    return;
  }
  (HANDLERS[frame.type] as Handler<typeof frame.type>)(session, frame as never);
}
