/**
 * `chat admin`: account management on the server's database, offline (or
 * beside a running server: SQLite in WAL mode takes both). For the first
 * operator and for recovery. Every change is written to the audit table
 * with the actor `admin`.
 *
 * @module
 */

import { checkNick, describeNickProblem, nickKey, normalizeNick } from "../protocol/mod.ts";
import { hashPassword, passwordProblem } from "./core/password.ts";
import type { Store } from "./store/store.ts";

/** A failed admin command: one line for stderr, exit code 1. */
export class AdminError extends Error {}

/** The `chat admin` subcommands. */
export const ADMIN_COMMANDS = ["list", "create", "reset", "delete", "grant", "revoke", "audit"];

/** Which subcommands read a password. */
export const NEEDS_PASSWORD: ReadonlySet<string> = new Set(["create", "reset"]);

function found(store: Store, nick: string) {
  const account = store.account(nickKey(normalizeNick(nick)));
  if (!account) throw new AdminError(`no account ${JSON.stringify(nick)}`);
  return account;
}

function audit(store: Store, action: string, target: string, detail = ""): void {
  store.audit({ ts: Date.now(), actor: "admin", action, scope: "*", target, detail });
}

/**
 * Runs one admin subcommand.
 *
 * @param store the server's store (a file)
 * @param command one of {@linkcode ADMIN_COMMANDS}
 * @param nick the account's nickname (all but `list` and `audit`)
 * @param password the password for `create` and `reset`
 * @returns lines for stdout
 * @throws {AdminError} for a missing or existing account, a bad nickname or password
 */
export async function runAdminCommand(
  store: Store,
  command: string,
  nick: string | undefined,
  password: string | undefined,
): Promise<string[]> {
  switch (command) {
    case "list": {
      const accounts = store.accounts();
      return accounts.length === 0
        ? ["no accounts"]
        : accounts.map((a) =>
          `${a.name}${a.operator ? " (server operator)" : ""}  registered ${
            new Date(a.created).toISOString().slice(0, 10)
          }`
        );
    }
    case "audit":
      return store.auditLog(Number(nick ?? 50)).map((e) =>
        `${new Date(e.ts).toISOString()} ${e.actor} ${e.action} ${e.scope} ${e.target}${
          e.detail ? ` (${e.detail})` : ""
        }`
      );
    case "create": {
      const name = normalizeNick(nick!);
      const problem = checkNick(name);
      if (problem) throw new AdminError(describeNickProblem(name, problem));
      if (store.account(nickKey(name))) {
        throw new AdminError(
          `account ${JSON.stringify(name)} exists already (reset its password?)`,
        );
      }
      const bad = passwordProblem(password!);
      if (bad) throw new AdminError(bad);
      store.saveAccount({
        key: nickKey(name),
        name,
        password: await hashPassword(password!),
        operator: false,
        created: Date.now(),
      });
      audit(store, "create", name);
      return [`created account ${name}`];
    }
    case "reset": {
      const account = found(store, nick!);
      const bad = passwordProblem(password!);
      if (bad) throw new AdminError(bad);
      store.saveAccount({ ...account, password: await hashPassword(password!) });
      audit(store, "reset", account.name);
      return [`reset the password of ${account.name}`];
    }
    case "delete": {
      const account = found(store, nick!);
      store.deleteAccount(account.key);
      audit(store, "delete", account.name);
      return [`deleted account ${account.name}; the nickname is free again`];
    }
    case "grant":
    case "revoke": {
      const account = found(store, nick!);
      store.saveAccount({ ...account, operator: command === "grant" });
      audit(store, command, account.name);
      return [
        command === "grant"
          ? `${account.name} is a server operator (from their next login)`
          : `${account.name} is no longer a server operator (from their next login)`,
      ];
    }
    default:
      throw new AdminError(`unknown admin command ${JSON.stringify(command)}`);
  }
}
