/**
 * Moderation: who may moderate (server operators, room founders and room
 * operators), the actions (kick, ban, unban, mute, unmute, op, deop, invite,
 * room modes) and the state they leave (bans and room settings in the store,
 * so they survive restarts; mutes and invites in memory). Every action is
 * announced to the room with a `moderation` frame and written to the audit
 * table.
 *
 * Transport-free: every action takes the acting {@linkcode Session} and
 * plain arguments, so the IRC adapter can map KICK, MODE +b/+o/+i/+t and
 * INVITE onto the same calls. Whether the actor may act is decided before,
 * in one place (`policy.ts`); these functions only check their targets.
 *
 * @module
 */

import {
  type BanInfo,
  type ModerationAction,
  nickKey,
  normalizeNick,
  quoteValue,
  type RoomMode,
  sanitizeText,
} from "../../protocol/mod.ts";
import type { BanRecord, RoomSettings } from "../store/store.ts";
import {
  formatNetwork,
  looksLikeAddress,
  type Network,
  networkContains,
  parseAddress,
  parseBanNetwork,
  peerNetwork,
} from "./address.ts";
import type { Hub } from "./hub.ts";
import type { Room } from "./room.ts";
import type { Session } from "./session.ts";

/** `scope` of a server-wide ban. */
export const SERVER_SCOPE = "*";

/** Longest ban or mute, in seconds (a year); longer ones are refused. */
export const MAX_DURATION_S = 366 * 86_400;

/** Longest reason kept, in characters. */
const MAX_REASON = 200;

/** Invites, voices and mutes one room keeps, each (the oldest go first). */
const MAX_INVITES = 1000;

/**
 * Bans one room may hold (a guest who creates a room operates it, so room
 * bans are a table any peer can grow); past it a new ban is refused with
 * `too_many_bans` until one ends or is lifted.
 */
export const MAX_ROOM_BANS = 1000;

/**
 * Server-wide bans the server holds (only server operators add them, but a
 * script or a stolen operator account could add without end, and every
 * connection is checked against them); past it, `too_many_bans` as for a room.
 */
export const MAX_SERVER_BANS = 10_000;

/** Options of {@linkcode Moderation}. */
export interface ModerationOptions {
  /**
   * Server-wide bans held at most.
   *
   * @default {MAX_SERVER_BANS}
   */
  maxServerBans?: number;
}

/** What a ban or unban names: an account or an address, and who is online under it. */
interface Target {
  kind: "account" | "address";
  /** An account key, or a network as {@linkcode formatNetwork} writes it. */
  value: string;
  /** How to show it, e.g. `bob`, `10.0.0.7` or `10.1.0.0/16`. */
  label: string;
  /** An address ban's network. */
  network?: Network;
}

/** An address ban's network (`undefined` for an account ban or a stored value that is none). */
function networkOf(ban: BanRecord): Network | undefined {
  if (ban.kind !== "address") return undefined;
  try {
    return parseBanNetwork(ban.value);
  } catch {
    return undefined;
  }
}

function clip(reason: string | undefined): string {
  return reason === undefined ? "" : [...sanitizeText(reason, false).trim()].slice(0, MAX_REASON)
    .join("");
}

/** The moderation state of one hub. */
export class Moderation {
  readonly #hub: Hub;
  readonly #settings = new Map<string, RoomSettings>();
  #bans: BanRecord[];
  /** Each address ban's network, parsed once. */
  readonly #networks = new WeakMap<BanRecord, Network>();
  /** Per room key: identity → mute end (ms since epoch) or `null` for no end. */
  readonly #mutes = new Map<string, Map<string, number | null>>();
  /** Per room key: identities invited. */
  readonly #invites = new Map<string, Set<string>>();
  /** Per room key: identities given a voice (they may talk while the room is moderated). */
  readonly #voices = new Map<string, Set<string>>();
  /**
   * Per room: the session that created it, an operator of it for as long as
   * it stays in it (IRC's channel creator, guests included). Weak: a room
   * that expires takes its entry with it.
   */
  readonly #creators = new WeakMap<Room, Session>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #maxServerBans: number;

  /**
   * @param hub the hub; its store supplies saved settings and bans
   * @param options limits (see {@linkcode ModerationOptions})
   */
  constructor(hub: Hub, options: ModerationOptions = {}) {
    this.#hub = hub;
    this.#maxServerBans = options.maxServerBans ?? MAX_SERVER_BANS;
    for (const s of hub.store.roomSettings()) this.#settings.set(s.room, s);
    // Address bans are compared in canonical form (`2001:db8::/64`; before
    // prefixes, IPv6 keys were stored as `2001:db8:0:0::/64`).
    this.#bans = hub.store.bans().map((b) => {
      const network = networkOf(b);
      if (!network) return b;
      const ban = { ...b, value: formatNetwork(network) };
      this.#networks.set(ban, network);
      return ban;
    });
    this.#schedule();
  }

  /** Stops the expiry timer (at shutdown). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * A room's settings (defaults when none were saved).
   *
   * @param room the room
   */
  settings(room: Room): RoomSettings {
    return this.#settings.get(room.key) ??
      {
        room: room.key,
        founder: null,
        topicLock: false,
        inviteOnly: false,
        secret: false,
        moderated: false,
        ops: [],
      };
  }

  /**
   * Records who created a new room: that session is its operator while it
   * stays in the room (as on IRC, where a channel's creator gets `@`), and,
   * when logged in, its account becomes the room's founder (an operator for
   * good, across restarts). A room created again under a name whose saved
   * settings name a founder or operators (it expired while empty) keeps
   * them, and its new creator gets neither.
   *
   * @param room the new room
   * @param creator who created it
   */
  roomCreated(room: Room, creator: Session): void {
    const saved = this.#settings.get(room.key);
    if (saved && (saved.founder !== null || saved.ops.length > 0)) return;
    this.#creators.set(room, creator);
    if (creator.account === undefined) return;
    this.#save({ ...this.settings(room), founder: creator.account });
  }

  /**
   * Whether a room is hidden from a session: it is secret and the session
   * is neither in it nor a server operator.
   *
   * @param room the room
   * @param session who looks
   */
  hiddenFrom(room: Room, session: Session): boolean {
    return !session.operator && !room.has(session) && this.#settings.get(room.key)?.secret === true;
  }

  /**
   * Notes that a session left a room: a creator's operator status ends
   * there (joining again does not bring it back).
   *
   * @param session the session
   * @param room the room it left
   */
  roomLeft(session: Session, room: Room): void {
    if (this.#creators.get(room) === session) this.#creators.delete(room);
  }

  /**
   * Whether a session may moderate a room: server operators, the session
   * that created the room while it stays in it, the room's founder, and its
   * operators.
   *
   * @param session the session
   * @param room the room
   */
  isRoomOp(session: Session, room: Room): boolean {
    if (session.operator) return true;
    if (this.#creators.get(room) === session) return true;
    const account = session.account;
    if (account === undefined) return false;
    const s = this.#settings.get(room.key);
    return s !== undefined && (s.founder === account || s.ops.includes(account));
  }

  /**
   * The identity moderation applies to: the account when logged in, else
   * the nickname.
   *
   * @param session the session
   */
  identity(session: Session): string {
    return session.account !== undefined ? `a:${session.account}` : `n:${nickKey(session.nick!)}`;
  }

  /**
   * Whether a session is muted in a room (cheap when nobody is muted).
   *
   * @param session the session
   * @param room the room
   */
  isMuted(session: Session, room: Room): boolean {
    const mutes = this.#mutes.get(room.key);
    if (mutes === undefined) return false;
    const until = mutes.get(this.identity(session));
    return until !== undefined && (until === null || until > Date.now());
  }

  /**
   * Why a session may not join a room, if it may not: a ban, or an
   * invite-only room it was not invited to.
   *
   * @param session the session
   * @param room the room
   * @returns `[code, message]`, or `undefined` when it may join
   */
  joinRefusal(session: Session, room: Room): ["banned" | "invite_only", string] | undefined {
    if (this.isRoomOp(session, room)) return undefined;
    const ban = this.#banOf(session, room.key);
    if (ban) return ["banned", this.#describe(ban, room.name)];
    if (
      this.settings(room).inviteOnly && !this.#invites.get(room.key)?.has(this.identity(session))
    ) {
      return ["invite_only", `${room.name} is invite-only: ask an operator for an /invite`];
    }
    return undefined;
  }

  /**
   * Why a session may not read a room's history, or `undefined` when it may:
   * members always may, anyone else under {@linkcode joinRefusal}'s rule, so
   * a ban or an invite-only room keeps its history from those it keeps out.
   *
   * @param session the reader
   * @param room the room
   * @returns the error code and message, as for joining
   */
  readRefusal(session: Session, room: Room): ["banned" | "invite_only", string] | undefined {
    return room.has(session) ? undefined : this.joinRefusal(session, room);
  }

  /**
   * The server-wide ban that applies to a session (by address, or by its
   * account), described in one line; none for a server operator.
   *
   * @param session the session
   */
  serverBanOf(session: Session): string | undefined {
    // A server operator is never shut out by an address ban (a prefix may
    // hold its own address); it has an account, which `accountBan` checks.
    if (session.operator) return undefined;
    const ban = this.#banOf(session, SERVER_SCOPE);
    return ban && this.#describe(ban, "this server");
  }

  /**
   * The server-wide ban of an account, described in one line.
   *
   * @param account an account key
   */
  accountBan(account: string): string | undefined {
    const now = Date.now();
    const ban = this.#bans.find((b) =>
      b.scope === SERVER_SCOPE && b.kind === "account" && b.value === account &&
      (b.expires === null || b.expires > now)
    );
    return ban && this.#describe(ban, "this server");
  }

  /**
   * Removes someone from a room (every connection of theirs).
   *
   * @param actor who kicks
   * @param room the room
   * @param nick whom
   * @param reason why, shown to everyone
   */
  kick(actor: Session, room: Room, nick: string, reason: string | undefined): void {
    const target = this.#hub.find(nick);
    const inRoom = target ? this.#hub.personOf(target).filter((s) => room.has(s)) : [];
    if (!target || inRoom.length === 0) {
      actor.error("no_such_nick", `${quoteValue(nick)} is not in ${room.name}`);
      return;
    }
    const why = clip(reason);
    // The target leaves first: it gets its own `left` (reason `kick`, `by`),
    // which says "you were kicked", and the room the announcement.
    for (const s of inRoom) s.leaveRoom(room, "kick", false, why, { by: actor.nick! });
    this.#announce(actor, room, "kick", target.nick!, why);
  }

  /**
   * Bans an account or address from a room (`room` given) or the server,
   * and removes whoever it matches now.
   *
   * @param actor who bans
   * @param room the room, or `undefined` for a server-wide ban
   * @param word a nickname online, an account or an address
   * @param durationS seconds, or `undefined` for no end
   * @param reason why
   */
  ban(
    actor: Session,
    room: Room | undefined,
    word: string,
    durationS: number | undefined,
    reason: string | undefined,
  ): void {
    if (!this.#validDuration(actor, durationS)) return;
    const target = this.#resolve(actor, word);
    if (!target) return;
    const now = Date.now();
    const scope = room?.key ?? SERVER_SCOPE;
    const cap = room ? MAX_ROOM_BANS : this.#maxServerBans;
    if (
      this.#bans.filter((b) =>
        b.scope === scope && !(b.kind === target.kind && b.value === target.value)
      ).length >= cap
    ) {
      actor.error(
        "too_many_bans",
        room
          ? `${room.name} has ${cap} bans, the most a room may hold: lift one first`
          : `this server has ${cap} server-wide bans, the most it may hold: lift one first`,
      );
      return;
    }
    const record: Omit<BanRecord, "id"> = {
      scope,
      kind: target.kind,
      value: target.value,
      reason: clip(reason),
      by: actor.nick!,
      ts: now,
      expires: durationS === undefined ? null : now + durationS * 1000,
    };
    // A new ban of the same target replaces the old one.
    this.#removeBans((b) =>
      b.scope === scope && b.kind === target.kind && b.value === target.value
    );
    const id = this.#hub.store.addBan(record);
    const stored = { ...record, id };
    this.#bans.push(stored);
    if (target.network) this.#networks.set(stored, target.network);
    this.#schedule();
    const hit = this.#matching(target);
    if (room) {
      // As for a kick: those it removes get their own `left` (reason `ban`) first.
      const removal = { by: actor.nick!, until: record.expires };
      // Its operators stay (a ban never keeps them out): an operator may ban
      // a prefix that holds its own address.
      for (const s of hit) {
        if (room.has(s) && !this.isRoomOp(s, room)) {
          s.leaveRoom(room, "ban", false, record.reason, removal);
        }
      }
      this.#announce(actor, room, "ban", target.label, record.reason, record.expires);
    } else {
      this.#audit(actor.nick!, "ban", SERVER_SCOPE, target.label, record);
      const frame = this.#frame(
        "ban",
        undefined,
        target.label,
        actor.nick!,
        record.reason,
        record.expires,
      );
      actor.send(frame);
      const text = this.#describe({ ...record, id }, "this server");
      for (const s of hit) {
        if (s.operator) continue; // see serverBanOf: address bans spare server operators
        s.send(frame);
        s.end("banned", text);
      }
    }
  }

  /**
   * Lifts the bans of an account or address in a room or server-wide.
   *
   * @param actor who
   * @param room the room, or `undefined` for server-wide bans
   * @param word as for {@linkcode ban}
   */
  unban(actor: Session, room: Room | undefined, word: string): void {
    const target = this.#resolve(actor, word);
    if (!target) return;
    const scope = room?.key ?? SERVER_SCOPE;
    const removed = this.#removeBans((b) =>
      b.scope === scope && b.kind === target.kind && b.value === target.value
    );
    if (removed === 0) {
      actor.error("usage", `${target.label} is not banned from ${room?.name ?? "this server"}`);
      return;
    }
    if (room) this.#announce(actor, room, "unban", target.label, "");
    else {
      this.#audit(actor.nick!, "unban", SERVER_SCOPE, target.label, {});
      actor.send(this.#frame("unban", undefined, target.label, actor.nick!, ""));
    }
  }

  /**
   * The bans in force in a room, or server-wide, oldest first.
   *
   * @param room the room, or `undefined` for the server-wide bans
   * @returns one entry per ban, as the `bans` frame lists them
   */
  list(room: Room | undefined): BanInfo[] {
    const scope = room?.key ?? SERVER_SCOPE;
    const now = Date.now();
    return this.#bans.filter((b) => b.scope === scope && (b.expires === null || b.expires > now))
      .map((b) => ({
        target: b.value,
        kind: b.kind,
        by: b.by,
        ...(b.reason ? { reason: b.reason } : {}),
        ts: b.ts,
        ...(b.expires !== null ? { until: b.expires } : {}),
      }));
  }

  /**
   * Mutes someone in a room (for a while, or until unmuted).
   *
   * @param actor who
   * @param room the room
   * @param nick whom (online)
   * @param durationS seconds, or `undefined`
   */
  mute(actor: Session, room: Room, nick: string, durationS: number | undefined): void {
    if (!this.#validDuration(actor, durationS)) return;
    const target = this.#online(actor, nick);
    if (!target) return;
    const until = durationS === undefined ? null : Date.now() + durationS * 1000;
    let mutes = this.#mutes.get(room.key);
    if (!mutes) this.#mutes.set(room.key, mutes = new Map());
    mutes.delete(this.identity(target)); // a new mute is the newest
    mutes.set(this.identity(target), until);
    // Like invites and voices: bounded per room, the oldest mute goes first.
    if (mutes.size > MAX_INVITES) mutes.delete(mutes.keys().next().value!);
    this.#schedule();
    this.#announce(actor, room, "mute", target.nick!, "", until);
  }

  /**
   * Lets a muted member talk again.
   *
   * @param actor who
   * @param room the room
   * @param nick whom (online)
   */
  unmute(actor: Session, room: Room, nick: string): void {
    const target = this.#online(actor, nick);
    if (!target) return;
    const mutes = this.#mutes.get(room.key);
    if (!mutes?.delete(this.identity(target))) {
      actor.error("usage", `${target.nick} is not muted in ${room.name}`);
      return;
    }
    if (mutes.size === 0) this.#mutes.delete(room.key);
    this.#announce(actor, room, "unmute", target.nick!, "");
  }

  /**
   * Whether a session has a voice in a room (see {@linkcode setVoice}).
   *
   * @param session the session
   * @param room the room
   */
  isVoiced(session: Session, room: Room): boolean {
    return this.#voices.get(room.key)?.has(this.identity(session)) ?? false;
  }

  /**
   * Why a session may not talk in a room, if it may not: muted, or the room
   * is moderated and it is neither an operator nor voiced.
   *
   * @param session the session
   * @param room the room
   * @returns the message of a `muted` error, or `undefined`
   */
  speakRefusal(session: Session, room: Room): string | undefined {
    if (this.isMuted(session, room)) return `you are muted in ${room.name}`;
    if (
      this.#settings.get(room.key)?.moderated && !this.isRoomOp(session, room) &&
      !this.isVoiced(session, room)
    ) {
      return `${room.name} is moderated: only its operators and those they give a voice may talk`;
    }
    return undefined;
  }

  /**
   * Gives someone a voice in a room (they may talk while it is moderated), or
   * takes it back. Kept in memory, by identity, like mutes.
   *
   * @param actor who
   * @param room the room
   * @param nick whom (online)
   * @param on give or take
   */
  setVoice(actor: Session, room: Room, nick: string, on: boolean): void {
    const target = this.#online(actor, nick);
    if (!target) return;
    let voices = this.#voices.get(room.key);
    if (on) {
      if (!voices) this.#voices.set(room.key, voices = new Set());
      voices.add(this.identity(target));
      if (voices.size > MAX_INVITES) voices.delete(voices.values().next().value!);
    } else if (voices?.delete(this.identity(target)) && voices.size === 0) {
      this.#voices.delete(room.key);
    }
    this.#announce(actor, room, on ? "voice" : "devoice", target.nick!, "");
  }

  /**
   * Makes an account an operator of a room, or takes it back.
   *
   * @param actor who
   * @param room the room
   * @param nick a logged-in user online, or a registered account
   * @param grant true for op, false for deop
   */
  setOp(actor: Session, room: Room, nick: string, grant: boolean): void {
    const online = this.#hub.find(nick);
    const account = online?.account ??
      (online ? undefined : this.#hub.store.account(nickKey(normalizeNick(nick)))?.key);
    if (account === undefined) {
      actor.error(
        "no_such_account",
        `${quoteValue(nick)} is not logged in: only accounts can be room operators`,
      );
      return;
    }
    const s = this.settings(room);
    if (!grant && s.founder === account) {
      actor.error("permission_denied", `${account} founded ${room.name} and stays its operator`);
      return;
    }
    const ops = s.ops.filter((o) => o !== account);
    if (grant) ops.push(account);
    this.#save({ ...s, ops });
    this.#announce(actor, room, grant ? "op" : "deop", online?.nick ?? account, "");
  }

  /**
   * Invites someone to a room: they may join it while it is invite-only.
   *
   * @param actor who
   * @param room the room
   * @param nick whom (online)
   */
  invite(actor: Session, room: Room, nick: string): void {
    const target = this.#online(actor, nick);
    if (!target) return;
    let invites = this.#invites.get(room.key);
    if (!invites) this.#invites.set(room.key, invites = new Set());
    invites.add(this.identity(target));
    if (invites.size > MAX_INVITES) invites.delete(invites.values().next().value!);
    this.#announce(actor, room, "invite", target.nick!, "");
    const frame = { type: "invited", room: room.name, by: actor.nick!, ts: Date.now() } as const;
    for (const s of this.#hub.personOf(target)) s.send(frame);
  }

  /**
   * Sets a room mode.
   *
   * @param actor who
   * @param room the room
   * @param mode `topic_lock`, `invite_only` or `secret`
   * @param on set or clear
   */
  setMode(actor: Session, room: Room, mode: RoomMode, on: boolean): void {
    const s = this.settings(room);
    this.#save(
      mode === "topic_lock"
        ? { ...s, topicLock: on }
        : mode === "invite_only"
        ? { ...s, inviteOnly: on }
        : mode === "secret"
        ? { ...s, secret: on }
        : { ...s, moderated: on },
    );
    const action: ModerationAction = mode === "topic_lock"
      ? (on ? "topic_lock" : "topic_unlock")
      : mode === "invite_only"
      ? (on ? "invite_only" : "invite_open")
      : mode === "secret"
      ? (on ? "secret" : "public")
      : (on ? "moderated" : "unmoderated");
    this.#announce(actor, room, action, room.name, "");
  }

  #save(settings: RoomSettings): void {
    this.#hub.store.saveRoomSettings(settings);
    this.#settings.set(settings.room, settings);
  }

  #validDuration(actor: Session, durationS: number | undefined): boolean {
    if (
      durationS === undefined ||
      (Number.isInteger(durationS) && durationS > 0 && durationS <= MAX_DURATION_S)
    ) return true;
    actor.error("usage", `duration must be a whole number of seconds from 1 to ${MAX_DURATION_S}`);
    return false;
  }

  #online(actor: Session, nick: string): Session | undefined {
    const target = this.#hub.find(nick);
    if (!target) actor.error("no_such_nick", `no one called ${quoteValue(nick)} is online`);
    return target;
  }

  /**
   * A nickname online (its account, or its address when a guest), an
   * account, an address or a CIDR prefix (see `parseBanNetwork`).
   */
  #resolve(actor: Session, word: string): Target | undefined {
    let malformed: string | undefined;
    if (looksLikeAddress(word)) {
      try {
        const network = parseBanNetwork(word);
        const value = formatNetwork(network);
        return { kind: "address", value, label: value, network };
      } catch (error) {
        malformed = (error as Error).message;
      }
    }
    // `1.2.3.999` is a valid nickname (letters, digits, `.`), if an unlikely one.
    const named = this.#hub.find(word) !== undefined ||
      this.#hub.store.account(nickKey(normalizeNick(word))) !== undefined;
    if (malformed !== undefined && !named) {
      actor.error("usage", malformed);
      return undefined;
    }
    const online = this.#hub.find(word);
    if (online?.account !== undefined) {
      return { kind: "account", value: online.account, label: online.nick! };
    }
    if (online) {
      const host = online.hostname === undefined ? undefined : parseAddress(online.hostname);
      if (host === undefined) {
        actor.error("usage", `${online.nick} has no known address: ban by account or address`);
        return undefined;
      }
      const network = peerNetwork(host);
      return { kind: "address", value: formatNetwork(network), label: online.nick!, network };
    }
    const account = this.#hub.store.account(nickKey(normalizeNick(word)));
    if (account) return { kind: "account", value: account.key, label: account.name };
    actor.error(
      "no_such_nick",
      `${quoteValue(word)} is neither online, nor an account, nor an address`,
    );
    return undefined;
  }

  /** Everyone online that a target matches. */
  #matching(target: Target): Session[] {
    const out: Session[] = [];
    for (const primary of this.#hub.sessions()) {
      for (const s of this.#hub.personOf(primary)) {
        const address = target.network && s.hostname !== undefined
          ? parseAddress(s.hostname)
          : undefined;
        const hit = target.kind === "account"
          ? s.account === target.value
          : address !== undefined && networkContains(target.network!, address);
        if (hit) out.push(s);
      }
    }
    return out;
  }

  #banOf(session: Session, scope: string): BanRecord | undefined {
    if (this.#bans.length === 0) return undefined;
    const now = Date.now();
    const address = session.hostname === undefined ? undefined : parseAddress(session.hostname);
    return this.#bans.find((b) => {
      if (b.scope !== scope || (b.expires !== null && b.expires <= now)) return false;
      if (b.kind === "account") return b.value === session.account;
      const network = this.#networks.get(b);
      return address !== undefined && network !== undefined && networkContains(network, address);
    });
  }

  #describe(ban: BanRecord, where: string): string {
    const until = ban.expires === null
      ? ""
      : ` for ${Math.max(1, Math.ceil((ban.expires - Date.now()) / 1000))} s more`;
    return `you are banned from ${where}${until}${ban.reason ? ": " + ban.reason : ""}`;
  }

  #removeBans(which: (b: BanRecord) => boolean): number {
    const gone = this.#bans.filter(which);
    for (const b of gone) this.#hub.store.removeBan(b.id);
    this.#bans = this.#bans.filter((b) => !which(b));
    return gone.length;
  }

  #frame(
    action: ModerationAction,
    room: Room | undefined,
    target: string,
    by: string,
    reason: string,
    until?: number | null,
  ) {
    return {
      type: "moderation",
      action,
      ...(room ? { room: room.name } : {}),
      target,
      by,
      ...(reason ? { reason } : {}),
      ...(until != null ? { until } : {}),
      ts: Date.now(),
    } as const;
  }

  /** Announces an action to the room (delivered before anything that follows) and audits it. */
  #announce(
    actor: Session | undefined,
    room: Room,
    action: ModerationAction,
    target: string,
    reason: string,
    until?: number | null,
  ): void {
    const by = actor?.nick ?? "server";
    this.#audit(by, action, room.key, target, { reason, expires: until ?? null });
    this.#hub.announce(room, this.#frame(action, room, target, by, reason, until));
    this.#hub.flush();
  }

  #audit(
    actor: string,
    action: string,
    scope: string,
    target: string,
    detail: { reason?: string; expires?: number | null },
  ): void {
    const parts = [
      detail.reason ? `reason: ${detail.reason}` : "",
      detail.expires != null ? `until ${new Date(detail.expires).toISOString()}` : "",
    ].filter(Boolean);
    try {
      this.#hub.store.audit({
        ts: Date.now(),
        actor,
        action,
        scope,
        target,
        detail: parts.join("; "),
      });
    } catch (error) {
      this.#hub.log(`audit write failed: ${error instanceof Error ? error.message : error}`);
    }
    this.#hub.log(
      `moderation ${action} ${scope} ${target} by ${actor}${
        parts.length ? " (" + parts.join("; ") + ")" : ""
      }`,
    );
  }

  /** Arms one timer for the next ban or mute to end. */
  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let next = Infinity;
    for (const b of this.#bans) if (b.expires !== null) next = Math.min(next, b.expires);
    for (const mutes of this.#mutes.values()) {
      for (const until of mutes.values()) if (until !== null) next = Math.min(next, until);
    }
    if (next === Infinity) return;
    const wait = Math.min(2 ** 31 - 1, Math.max(0, next - Date.now()));
    this.#timer = setTimeout(() => this.#expire(), wait);
    Deno.unrefTimer(this.#timer);
  }

  /** Lifts every ban and mute whose time is up, announcing each to its room. */
  #expire(): void {
    const now = Date.now();
    const ended = this.#bans.filter((b) => b.expires !== null && b.expires <= now);
    this.#removeBans((b) => b.expires !== null && b.expires <= now);
    for (const b of ended) {
      const room = b.scope === SERVER_SCOPE ? undefined : this.#hub.roomByKey(b.scope);
      const label = b.value;
      if (room) this.#announce(undefined, room, "unban", label, "ban expired");
      else this.#audit("server", "unban", b.scope, label, { reason: "ban expired" });
    }
    for (const [key, mutes] of this.#mutes) {
      for (const [identity, until] of mutes) {
        if (until === null || until > now) continue;
        mutes.delete(identity);
        const room = this.#hub.roomByKey(key);
        if (room) this.#announce(undefined, room, "unmute", identity.slice(2), "mute expired");
      }
      if (mutes.size === 0) this.#mutes.delete(key);
    }
    this.#schedule();
  }
}
