/**
 * The plain-text rendering of server frames: what `nc`/`telnet` users and the
 * piped terminal client see, one human-readable line per event.
 *
 * @module
 */

import type { ServerFrame } from "./frames.ts";
import { LOBBY } from "./limits.ts";
import { escapeControls, roomKey } from "./text.ts";

/**
 * Renders a server frame as plain text, without a trailing newline. Multi-line
 * messages continue on indented lines. No raw control character is ever in
 * the result (see {@linkcode escapeControls}).
 *
 * Formats: `alice: hello`, `* alice joined the chat`, `* alice left the chat`,
 * `* alice is now known as alicia`, `** alice waves` (a `/me` action: two
 * stars, so user text never looks like a server notice, which has one),
 * `[private] bob: psst`, errors as `! message`. A notice (IRC's NOTICE) shows
 * its sender between dashes, as IRC clients do: `-bob- build passed`,
 * `[private] -bob- psst`.
 *
 * Rooms: `#lobby`, where everyone starts, keeps those v1 texts ("the chat");
 * other rooms are named: `* alice joined #dev`, `* alice left #dev`. A message
 * or action in a room other than the reader's current one starts with the
 * room: `[#dev] alice: hi`. History lines carry their UTC time:
 * `[14:02] alice: hi`. The one a kick or ban removes reads
 * `* you were kicked from #dev by alice: spam` (`* you were banned from #dev
 * by alice until 14:05:09 UTC`).
 *
 * @param frame the frame
 * @param viewer nickname of the reader, to render their own private messages
 * as `[private to bob] text`
 * @param currentRoom the reader's current room; room messages from any other
 * room get the `[#room] ` prefix. When absent, no prefix is added.
 * @returns the text, or `undefined` for frames with no plain-text form (pings, acks)
 */
export function formatPlainText(
  frame: ServerFrame,
  viewer?: string,
  currentRoom?: string | null,
): string | undefined {
  switch (frame.type) {
    case "welcome":
      return `* welcome, ${frame.nick}! ${frame.online} online; type /help for commands`;
    case "message":
    case "action": {
      // Actions start with `** `, notices from the server with `* `: a user's
      // `/me left the chat` can never look like the server's notice.
      let prefix = frame.type === "action"
        ? `** ${frame.from} `
        : frame.notice
        ? `-${frame.from}- `
        : `${frame.from}: `;
      if (frame.history) prefix = `[${clock(frame.ts)}] ${prefix}`;
      if (
        currentRoom !== undefined && frame.room !== undefined &&
        roomKey(frame.room) !== roomKey(currentRoom ?? "")
      ) {
        prefix = `[${frame.room}] ${prefix}`;
      }
      return body(prefix, frame.text);
    }
    case "private": {
      const time = frame.history ? `[${clock(frame.ts)}] ` : "";
      return frame.from === viewer && frame.to !== viewer
        ? body(`${time}[private to ${frame.to}] `, frame.text)
        : body(
          `${time}[private] ${frame.notice ? `-${frame.from}- ` : `${frame.from}: `}`,
          frame.text,
        );
    }
    case "joined":
      return `* ${frame.nick} joined ${isLobby(frame.room) ? "the chat" : frame.room}`;
    case "left":
      if (frame.reason === "kick" || frame.reason === "ban") return formatRemoval(frame, viewer);
      return `* ${frame.nick} left ${
        isLobby(frame.room) && frame.reason !== "part" ? "the chat" : frame.room
      }${frame.message ? ` (${escapeControls(frame.message)})` : ""}`;
    case "renamed":
      return `* ${frame.from} is now known as ${frame.to}`;
    case "who": {
      const shown = frame.nicks.map((n) =>
        n + (frame.ops?.includes(n) ? " (op)" : "") +
        (frame.away?.[n] !== undefined ? " (away)" : "")
      ).join(", ");
      // Later pages of a long answer continue the first one's line.
      if (frame.offset) return `  ${shown}`;
      return `* online${
        frame.room === undefined || isLobby(frame.room) ? "" : ` in ${frame.room}`
      } (${frame.total ?? frame.nicks.length}): ${shown}`;
    }
    case "away":
      if (viewer !== undefined && frame.nick === viewer) {
        return frame.text === undefined
          ? "* you are back"
          : `* you are away: ${escapeControls(frame.text)}`;
      }
      return frame.text === undefined
        ? `* ${frame.nick} is back`
        : `* ${frame.nick} is away: ${escapeControls(frame.text)}`;
    case "whois":
      return [
        `* ${frame.nick}: in ${frame.rooms.length === 0 ? "no room" : frame.rooms.join(", ")}`,
        `  connected ${
          new Date(frame.connected).toISOString().slice(0, 16).replace("T", " ")
        } UTC, idle ${formatDuration(frame.idle)}`,
        ...(frame.away !== undefined ? [`  away: ${escapeControls(frame.away)}`] : []),
      ].join("\n");
    case "search_results": {
      const where = frame.room === undefined ? "" : ` in ${frame.room}`;
      const head = `* ${frame.results.length === 0 ? "no" : frame.results.length} ${
        frame.results.length === 1 ? "message" : "messages"
      } found for ${JSON.stringify(escapeControls(frame.text))}${where}${
        frame.more ? "; older matches not shown" : ""
      }`;
      return [
        head,
        ...frame.results.map((r) =>
          "  " +
          (r.type === "private"
            ? `[${day(r.ts)}] ${
              r.from === viewer ? `[private to ${r.to}] ` : `[private] ${r.from}: `
            }`
            : `[${day(r.ts)}] [${r.room}] ${
              r.type === "message" ? `${r.from}: ` : `** ${r.from} `
            }`) +
          escapeControls(r.text.replaceAll("\n", " "))
        ),
      ].join("\n");
    }
    case "room":
      return frame.room === null
        ? "* you are in no room now; /join #ROOM to talk"
        : `* now talking in ${frame.room} (${frame.members} ${
          frame.members === 1 ? "member" : "members"
        })${frame.topic ? ": " + escapeControls(frame.topic) : ""}`;
    case "rooms":
      return [
        ...(frame.offset ? [] : [`* rooms (${frame.total ?? frame.rooms.length}):`]),
        ...frame.rooms.map((r) =>
          `  ${r.name} (${r.members})${r.topic ? ": " + escapeControls(r.topic) : ""}`
        ),
      ].join("\n");
    case "topic":
      if (frame.by !== undefined) {
        return `* ${frame.by} set the topic of ${frame.room}: ${escapeControls(frame.topic)}`;
      }
      return frame.topic
        ? `* topic of ${frame.room}: ${escapeControls(frame.topic)}`
        : `* ${frame.room} has no topic`;
    case "history":
      return frame.count === 0
        ? `* no earlier messages in ${frame.room}`
        : `* ${frame.count} earlier ${frame.count === 1 ? "message" : "messages"} in ${frame.room}${
          frame.more ? "; /history for more" : ""
        }`;
    case "resume_truncated":
      return `* missed messages after id ${frame.last_id} up to ${frame.live_from} were not replayed; /history for them`;
    case "help": {
      const width = Math.max(...frame.commands.map((c) => c.usage.length));
      return [
        "* commands:",
        ...frame.commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
      ]
        .join("\n");
    }
    case "error":
      return "! " + escapeControls(frame.message);
    case "bye":
      return `* ${escapeControls(frame.reason)}`;
    case "account":
      return formatAccount(frame);
    case "moderation":
      return formatModeration(frame);
    case "invited":
      return `* ${frame.by} invites you to ${frame.room}: /join ${frame.room}`;
    case "bans":
      return formatBans(frame);
    case "ack":
    case "ping":
    case "pong":
      return undefined;
  }
}

function formatAccount(frame: Extract<ServerFrame, { type: "account" }>): string {
  const op = frame.operator ? " (server operator)" : "";
  switch (frame.event) {
    case "registered":
      return `* registered ${frame.nick}: the nickname is yours; /login ${frame.nick} PASSWORD next time`;
    case "login":
      return `* logged in as ${frame.account}${op}`;
    case "logout":
      return `* logged out; you are ${frame.nick} now`;
    case "password":
      return `* password changed for ${frame.account}`;
  }
}

/** A kick or ban as the one removed sees it: `* you were kicked from #dev by alice: spam`. */
function formatRemoval(frame: Extract<ServerFrame, { type: "left" }>, viewer?: string): string {
  const who = viewer !== undefined && frame.nick === viewer ? "you were" : `${frame.nick} was`;
  const verb = frame.reason === "kick" ? "kicked" : "banned";
  const until = frame.until === undefined ? "" : ` until ${utcTime(frame.until)}`;
  const why = frame.message ? `: ${escapeControls(frame.message)}` : "";
  return `* ${who} ${verb} from ${frame.room ?? LOBBY} by ${
    frame.by ?? "an operator"
  }${until}${why}`;
}

/**
 * A `bans` page: `* bans in #dev (2):` then one indented line per ban,
 * `  10.1.0.0/16 by alice until 2026-12-08 14:05 UTC: flooding`,
 * `  bob (account) by alice`.
 */
function formatBans(frame: Extract<ServerFrame, { type: "bans" }>): string {
  const where = frame.room === undefined ? "server-wide bans" : `bans in ${frame.room}`;
  const total = frame.total ?? frame.bans.length;
  const head = frame.offset ? [] : [total === 0 ? `* no ${where}` : `* ${where} (${total}):`];
  return [
    ...head,
    ...frame.bans.map((b) =>
      `  ${b.target}${b.kind === "account" ? " (account)" : ""} by ${b.by}${
        b.until === undefined ? "" : ` until ${day(b.until)} UTC`
      }${b.reason ? `: ${escapeControls(b.reason)}` : ""}`
    ),
  ].join("\n");
}

const MODERATION_VERBS: Readonly<Record<string, string>> = {
  kick: "was kicked from",
  ban: "was banned from",
  unban: "is no longer banned from",
  mute: "was muted in",
  unmute: "may talk again in",
  op: "is now an operator of",
  deop: "is no longer an operator of",
  invite: "was invited to",
  voice: "was given a voice in",
  devoice: "no longer has a voice in",
};

function formatModeration(frame: Extract<ServerFrame, { type: "moderation" }>): string {
  const where = frame.room ?? "the server";
  const until = frame.until === undefined ? "" : ` until ${utcTime(frame.until)}`;
  const why = frame.reason ? `: ${escapeControls(frame.reason)}` : "";
  switch (frame.action) {
    case "topic_lock":
      return `* ${frame.by} locked the topic of ${where}`;
    case "topic_unlock":
      return `* ${frame.by} unlocked the topic of ${where}`;
    case "invite_only":
      return `* ${frame.by} made ${where} invite-only`;
    case "invite_open":
      return `* ${frame.by} opened ${where} to everyone`;
    case "secret":
      return `* ${frame.by} made ${where} secret`;
    case "public":
      return `* ${frame.by} made ${where} public`;
    case "moderated":
      return `* ${frame.by} made ${where} moderated: only operators and voiced users talk`;
    case "unmoderated":
      return `* ${frame.by} made ${where} unmoderated`;
    default:
      return `* ${frame.target} ${
        MODERATION_VERBS[frame.action]
      } ${where} by ${frame.by}${until}${why}`;
  }
}

function isLobby(room: string | undefined): boolean {
  return room === undefined || roomKey(room) === LOBBY;
}

/** `14:02:09 UTC`. */
function utcTime(ts: number): string {
  return `${new Date(ts).toISOString().slice(11, 19)} UTC`;
}

/** `2026-12-01 14:02` in UTC. */
function day(ts: number): string {
  return new Date(ts).toISOString().slice(0, 16).replace("T", " ");
}

/**
 * A duration for people: `42s`, `5m`, `3h 12m`, `2d 4h`.
 *
 * @param ms milliseconds
 * @returns the text
 */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function clock(ts: number): string {
  return new Date(ts).toISOString().slice(11, 16);
}

const LINE_BREAK = /\n|\u2028|\u2029/;

function body(prefix: string, text: string): string {
  // One line (the usual case): no split, no indent.
  if (!LINE_BREAK.test(text)) return escapeControls(prefix) + escapeControls(text);
  const lines = text.split(LINE_BREAK).map(escapeControls);
  const indent = " ".repeat(Math.min(prefix.length, 8));
  return escapeControls(prefix) + lines.join("\n" + indent);
}
