/**
 * Accounts: register a nickname with a password, log in (also in `hello`,
 * and from any transport: the IRC adapter maps SASL PLAIN onto
 * {@linkcode Accounts.login}), log out, change the password. Knows nothing
 * about sockets: every call takes a {@linkcode Session}.
 *
 * Rules, in the order they are checked:
 * 1. A password is accepted only over a secure transport (TLS) or from this
 *    machine (`127.0.0.1`/`::1`, see `isLocalPeer`), unless the operator
 *    allowed plain TCP (`--allow-plain-passwords`): else `insecure_transport`.
 * 2. Failed logins are rate-limited per account and per address
 *    (`LoginLimiter`): `login_throttled` with the wait, then `login_locked`.
 * 3. The KDF (scrypt, `password.ts`) runs off the event loop; at most
 *    {@linkcode AccountOptions.maxHashes} at once server-wide (`busy` beyond).
 *
 * @module
 */

import { nickKey, normalizeNick, quoteValue } from "../../protocol/mod.ts";
import type { AccountRecord } from "../store/store.ts";
import { addressKey, isLocalPeer } from "./address.ts";
import { TokenBucket } from "./flood.ts";
import type { Hub } from "./hub.ts";
import { LOGIN_LIMIT_DEFAULTS, LoginLimiter, type LoginLimits } from "./login_limit.ts";
import { hashPassword, passwordProblem, verifyDecoy, verifyPassword } from "./password.ts";
import type { Session } from "./session.ts";

/** Options for {@linkcode Accounts}; each is a `chat server` flag. */
export interface AccountOptions {
  /** `open`: anyone may `/register`; `closed`: accounts come from `chat admin` only (`--registration`). @default {"open"} */
  registration: "open" | "closed";
  /** Guests are refused: only logged-in users get in (`--require-account`). @default {false} */
  requireAccount: boolean;
  /** Accept passwords over plain TCP from other machines (`--allow-plain-passwords`). @default {false} */
  allowPlainPasswords: boolean;
  /** Failed-login limits (`--login-*` flags). @default {LOGIN_LIMIT_DEFAULTS} */
  limits: Partial<LoginLimits>;
  /** Password hashes computed at once, server-wide (each takes ~128 MiB and a core for ~0.5 s). @default {4} */
  maxHashes: number;
  /**
   * Accounts one address (IPv4, IPv6 /64) may register at once with
   * `/register`, so one user cannot fill the accounts table or take every
   * nickname (`--register-quota`); 0: no quota. `chat admin` is not counted.
   * @default {5}
   */
  registerQuota: number;
  /** Milliseconds in which an address's registration quota gains one back (`--register-refill`). @default {3600000} */
  registerRefillMs: number;
}

/** Most addresses whose registration quota is remembered; full (untouched) ones are forgotten first. */
const MAX_REGISTER_BUCKETS = 10_000;

/** The defaults of {@linkcode AccountOptions}. */
export const ACCOUNT_DEFAULTS: Readonly<AccountOptions> = Object.freeze({
  registration: "open",
  requireAccount: false,
  allowPlainPasswords: false,
  limits: LOGIN_LIMIT_DEFAULTS,
  maxHashes: 4,
  registerQuota: 5,
  registerRefillMs: 3_600_000,
});

function seconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s >= 120 ? `${Math.ceil(s / 60)} minutes` : `${s} s`;
}

/** The account flows of one hub. */
export class Accounts {
  readonly #hub: Hub;
  readonly #options: AccountOptions;
  readonly #limiter: LoginLimiter;
  /** Sessions with a password check in flight: one at a time each. */
  readonly #pending = new WeakSet<Session>();
  #hashing = 0;
  #guests = 0;
  /** Registrations left per address key (see `AccountOptions.registerQuota`). */
  readonly #registrations = new Map<string, TokenBucket>();

  /**
   * @param hub the hub whose sessions and store these are
   * @param options see {@linkcode AccountOptions}
   */
  constructor(hub: Hub, options: Partial<AccountOptions> = {}) {
    this.#hub = hub;
    this.#options = { ...ACCOUNT_DEFAULTS, ...options };
    this.#limiter = new LoginLimiter(this.#options.limits);
  }

  /** Whether guests are refused. */
  get requireAccount(): boolean {
    return this.#options.requireAccount;
  }

  /**
   * The registration quota of the session's address (a token bucket of
   * `registerQuota`, one back per `registerRefillMs`), or `undefined` when
   * there is no quota.
   */
  #registerBucket(session: Session): TokenBucket | undefined {
    const { registerQuota, registerRefillMs } = this.#options;
    if (registerQuota <= 0 || registerRefillMs <= 0) return undefined;
    const address = session.address;
    let bucket = this.#registrations.get(address);
    if (bucket) return bucket;
    if (this.#registrations.size >= MAX_REGISTER_BUCKETS) {
      for (const [key, b] of this.#registrations) if (b.full) this.#registrations.delete(key);
      // Still full of addresses that registered lately: the oldest go first.
      while (this.#registrations.size >= MAX_REGISTER_BUCKETS) {
        this.#registrations.delete(this.#registrations.keys().next().value!);
      }
    }
    bucket = new TokenBucket(registerQuota, 1000 / registerRefillMs);
    this.#registrations.set(address, bucket);
    return bucket;
  }

  /**
   * Registers the session's current nickname as an account with a password,
   * and logs the session in to it.
   *
   * @param session an active guest session
   * @param password the new password
   * @returns when done (the outcome was sent to the session)
   */
  async register(session: Session, password: string): Promise<void> {
    if (this.#options.registration === "closed") {
      session.error(
        "registration_closed",
        "registration is closed on this server: ask an operator",
      );
      return;
    }
    if (session.account !== undefined) {
      session.error("already_registered_account", `you are logged in as ${session.account}`);
      return;
    }
    const problem = passwordProblem(password);
    if (problem) return session.error("password_invalid", problem);
    if (!this.#secure(session)) return;
    const quota = this.#registerBucket(session);
    const wait = quota?.tryTake() ?? 0;
    if (wait > 0) {
      session.error(
        "registration_quota",
        `too many accounts were registered from your address: you may register another in ${
          seconds(wait)
        }`,
      );
      return;
    }
    if (!this.#start(session)) return quota?.untake();
    const nick = session.nick!;
    const key = nickKey(nick);
    let hash: string;
    try {
      hash = await hashPassword(password);
    } finally {
      this.#finish(session);
    }
    if (session.state !== "active" || session.nick === undefined || nickKey(session.nick) !== key) {
      return quota?.untake(); // gone or renamed meanwhile
    }
    if (this.#hub.store.account(key)) {
      quota?.untake();
      session.error("nick_registered", `nickname ${quoteValue(nick)} is registered already`);
      return;
    }
    const account: AccountRecord = {
      key,
      name: session.nick,
      password: hash,
      operator: false,
      created: Date.now(),
    };
    try {
      this.#hub.store.saveAccount(account);
    } catch (error) {
      this.#hub.log(`register ${nick} failed: ${error instanceof Error ? error.message : error}`);
      quota?.untake();
      session.error("storage_failed", "the account could not be saved; please try again");
      return;
    }
    session.adoptAccount(account, "registered");
  }

  /**
   * Logs a session in to an account. Before the session has a nickname this
   * completes its handshake under the account's nickname; afterwards the
   * session is renamed to it. Either way it shares the nickname, private
   * messages and rooms with the account's other connections.
   *
   * @param session the session (naming or active)
   * @param nick the account's nickname; `undefined`: the session's own, or,
   * before it has one, the registered nickname it last asked for
   * @param password the password
   * @returns whether it succeeded (the outcome was sent to the session)
   */
  async login(session: Session, nick: string | undefined, password: string): Promise<boolean> {
    // Without a nickname: the registered one the session just asked for.
    const name = nick ?? session.nick ?? session.refusedRegistered;
    if (name === undefined) {
      session.error("usage", "usage: /login NICK PASSWORD");
      return false;
    }
    const key = nickKey(normalizeNick(name));
    if (session.account === key) {
      session.error("already_registered_account", `you are logged in as ${key} already`);
      return false;
    }
    if (session.account !== undefined) {
      session.error(
        "already_registered_account",
        `you are logged in as ${session.account}: /logout first`,
      );
      return false;
    }
    if (!this.#secure(session)) return false;
    const keys = [`a:${key}`, `ip:${addressKey(session.hostname ?? "")}`];
    const verdict = this.#limiter.check(keys);
    if (!verdict.ok) {
      if (verdict.locked) {
        session.error(
          "login_locked",
          `too many failed logins: locked for ${seconds(verdict.retryMs)}`,
        );
      } else {
        session.error(
          "login_throttled",
          `too many failed logins: wait ${seconds(verdict.retryMs)} before trying again`,
        );
      }
      return false;
    }
    if (!this.#start(session)) return false;
    const account = this.#hub.store.account(key);
    let ok: boolean;
    try {
      ok = account ? await verifyPassword(password, account.password) : await verifyDecoy(password);
    } finally {
      this.#finish(session);
    }
    if (session.state === "closed") return false;
    if (!ok || !account) {
      this.#limiter.fail(keys);
      this.#hub.log(`login failed for ${name} (${session.remote})`);
      session.error("login_failed", "wrong nickname or password");
      return false;
    }
    this.#limiter.succeed(keys[0]!);
    // Re-read: `chat admin` may have changed it while the hash ran.
    const fresh = this.#hub.store.account(key);
    if (!fresh) {
      session.error("login_failed", "wrong nickname or password");
      return false;
    }
    const holder = this.#hub.find(fresh.name);
    if (holder && holder.account !== key && holder !== session) {
      session.error("nick_taken", `nickname ${quoteValue(fresh.name)} is held by a guest`);
      return false;
    }
    const ban = this.#hub.moderation.accountBan(key);
    if (ban) {
      session.error("banned", ban);
      session.end("banned", ban);
      return false;
    }
    session.adoptAccount(fresh, "login");
    return session.account === key;
  }

  /**
   * Logs a session out; it continues as a guest under a free nickname.
   *
   * @param session an active session
   */
  logout(session: Session): void {
    if (session.account === undefined) {
      session.error("not_logged_in", "you are not logged in");
      return;
    }
    if (this.#options.requireAccount) {
      session.send({ type: "account", event: "logout", account: null, nick: session.nick! });
      session.end("logout", "logged out");
      return;
    }
    session.dropAccount(this.#guestNick());
  }

  /**
   * Changes the password of the session's account, after checking the old one.
   *
   * @param session a logged-in session
   * @param old the current password
   * @param next the new password
   */
  async changePassword(session: Session, old: string, next: string): Promise<void> {
    const key = session.account;
    if (key === undefined) return session.error("not_logged_in", "log in first");
    const problem = passwordProblem(next);
    if (problem) return session.error("password_invalid", problem);
    if (!this.#secure(session) || !this.#start(session)) return;
    let hash: string | undefined;
    try {
      const account = this.#hub.store.account(key);
      if (account && await verifyPassword(old, account.password)) hash = await hashPassword(next);
    } finally {
      this.#finish(session);
    }
    if (session.state === "closed") return;
    const account = this.#hub.store.account(key);
    if (hash === undefined || !account) {
      this.#limiter.fail([`a:${key}`, `ip:${addressKey(session.hostname ?? "")}`]);
      return session.error("login_failed", "the old password is wrong");
    }
    this.#hub.store.saveAccount({ ...account, password: hash });
    this.#hub.log(`password changed for ${key} (${session.remote})`);
    session.send({ type: "account", event: "password", account: key, nick: session.nick! });
  }

  /** The password rule: TLS, this machine, or the operator's explicit allowance. */
  #secure(session: Session): boolean {
    if (session.secure || isLocalPeer(session.hostname) || this.#options.allowPlainPasswords) {
      return true;
    }
    session.error(
      "insecure_transport",
      "passwords are not accepted over plain TCP from another machine: connect with --tls " +
        "(chat client HOST --tls) and do not reuse the password you just sent",
    );
    return false;
  }

  #start(session: Session): boolean {
    if (this.#pending.has(session)) {
      session.error("busy", "a password check is already running for you");
      return false;
    }
    if (this.#hashing >= this.#options.maxHashes) {
      session.error("busy", "the server is checking other passwords: try again in a moment");
      return false;
    }
    this.#pending.add(session);
    this.#hashing++;
    return true;
  }

  #finish(session: Session): void {
    this.#pending.delete(session);
    this.#hashing--;
  }

  #guestNick(): string {
    for (;;) {
      const nick = `guest-${(++this.#guests).toString().padStart(3, "0")}`;
      if (!this.#hub.find(nick) && !this.#hub.store.account(nickKey(nick))) return nick;
    }
  }
}
