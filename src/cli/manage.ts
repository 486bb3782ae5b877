import { isIP } from "node:net";
import { createHttpLimiter, UNLIMITED } from "../http/index.js";
import type { ListEntry, ListKind } from "../index.js";
import { type CommandStore, httpPrefix, openStore } from "./config-file.js";
import { CliError, type CliIo, EXIT, humanMs, isConfigError, printable, table } from "./io.js";
import { requireShared } from "./store.js";

export type ManageOptions = {
  config?: string;
  redis?: string;
  prefix?: string;
  duration?: string;
  reason?: string;
  json?: boolean;
};

export const MANAGE_ACTIONS = Object.freeze(["add", "remove", "list"] as const);
export type ManageAction = (typeof MANAGE_ACTIONS)[number];

/**
 * Catches address typos that would otherwise be stored as identity keys and never match a
 * client ("10.0.0.0/33", "300.1.2.3"): a value shaped like an address or CIDR must be one.
 */
export function addressProblem(value: string): string | undefined {
  const slash = value.indexOf("/");
  const addr = slash === -1 ? value : value.slice(0, slash);
  const version = isIP(addr);
  const looksV4 = /^\d{1,3}(\.\d{1,3}){1,3}$/.test(addr);
  if (version === 0) {
    return looksV4 ? `${JSON.stringify(value)} is not a valid IPv4 address` : undefined;
  }
  if (slash === -1) return undefined;
  const bits = value.slice(slash + 1);
  const max = version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    return `${JSON.stringify(value)}: the prefix length must be a whole number from 0 to ${max}`;
  }
  return undefined;
}

function expiry(e: ListEntry, now: number): string {
  if (e.expiresAt === undefined) return "never";
  return `in ${humanMs(Math.max(0, e.expiresAt - now))} (${new Date(e.expiresAt).toISOString()})`;
}

/**
 * `manage allow|deny add|remove|list [value]`: edits the lists kept in the shared store, the
 * ones every server using it reads (at once where the store notifies, within `listsRefresh`
 * otherwise: the Redis store is polled, every 5 s by default).
 */
export async function runManage(
  list: ListKind,
  action: ManageAction,
  value: string | undefined,
  options: ManageOptions,
  io: CliIo,
): Promise<number> {
  if (action !== "list" && value === undefined) {
    throw new CliError(`manage ${list} ${action}: missing the <ip|cidr|key> to ${action}`);
  }
  if (action !== "add" && options.duration !== undefined) {
    throw new CliError("--duration applies to add only");
  }
  if (value !== undefined) {
    const problem = addressProblem(value);
    if (problem !== undefined) throw new CliError(problem);
  }
  const opened = await openStore(options, io);
  try {
    requireShared(opened, `manage ${list} ${action}`);
    const prefix = httpPrefix(options.prefix, opened.http);
    return await edit(list, action, value, { ...options, prefix }, opened, io);
  } finally {
    await opened.close();
  }
}

async function edit(
  list: ListKind,
  action: ManageAction,
  value: string | undefined,
  options: ManageOptions & { prefix: string },
  opened: CommandStore,
  io: CliIo,
): Promise<number> {
  try {
    // Built only for its lists: the public API that validates entries and keeps them where every
    // HTTP limiter with this store and prefix reads them. It limits nothing and decides nothing.
    const limiter = createHttpLimiter({
      store: opened.store,
      prefix: options.prefix,
      policies: UNLIMITED,
      logger: false,
    });
    try {
      const lists = limiter.lists;
      if (action === "add") {
        const add = list === "allow" ? lists.allow.bind(lists) : lists.deny.bind(lists);
        await add(value!, {
          ...(options.duration === undefined ? {} : { for: options.duration }),
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        });
        const until = options.duration === undefined ? "no expiry" : `for ${options.duration}`;
        io.out(
          `added ${value} to the ${list} list (${until}) in ${opened.label}, prefix ${options.prefix}\n`,
        );
        return EXIT.ok;
      }
      if (action === "remove") {
        const removed = await lists.remove(list, value!);
        if (!removed) {
          io.err(
            `${value} is not on the ${list} list (${opened.label}, prefix ${options.prefix})\n`,
          );
          return EXIT.failed;
        }
        io.out(
          `removed ${value} from the ${list} list in ${opened.label}, prefix ${options.prefix}\n`,
        );
        return EXIT.ok;
      }
      const now = Date.now();
      const entries = (await lists.entries(list)).filter(
        (e) => value === undefined || e.value === value,
      );
      if (options.json === true) {
        io.out(`${JSON.stringify(entries, null, 2)}\n`);
      } else if (entries.length === 0) {
        io.out(`the ${list} list is empty (${opened.label}, prefix ${options.prefix})\n`);
      } else {
        const rows = [
          ["VALUE", "ADDED", "EXPIRES", "REASON"],
          ...entries.map((e) => [
            printable(e.value),
            new Date(e.addedAt).toISOString(),
            expiry(e, now),
            printable(e.reason ?? ""),
          ]),
        ];
        io.out(`${table(rows).join("\n")}\n`);
      }
      return EXIT.ok;
    } finally {
      await limiter.close();
    }
  } catch (error) {
    if (isConfigError(error)) {
      // A value, duration or reason the lists refuse: name it the way the CLI spells it.
      const lines = error.problems.map(
        (p) =>
          `  - ${p.option
            .replace(/^lists\.\w+\(options\.for\)$/, "--duration")
            .replace(/^lists\.\w+\(options\.reason\)$/, "--reason")
            .replace(/^prefix$/, "--prefix")}: ${p.expected}`,
      );
      throw new CliError(`invalid input:\n${lines.join("\n")}`, EXIT.usage);
    }
    throw error;
  }
}
