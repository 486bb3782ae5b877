import { StoreError } from "../../core/errors/store-error.js";
import type { ListEntry, ListEntryInput, ListKind, ListStore } from "../../core/list-store.js";
import type { Commands } from "./client.js";

/**
 * Allow and deny lists in Redis, so every process of a fleet sees the same entries: one hash
 * per namespace (`<namespace>:lists`), field `<list>:<value>`, value a small JSON record.
 * Expired entries are dropped when read. There is no change notification: readers (the HTTP
 * layer) poll `entries` every `listsRefresh`, and re-read at once after their own changes.
 * Every call is bounded by `timeoutMs`: a Redis outage fails the call, it never hangs it.
 */
export function redisLists(
  commands: Commands,
  timeoutMs: number,
): (namespace: string) => ListStore {
  return (namespace) => new RedisListStore(commands, `${namespace}:lists`, timeoutMs);
}

type Stored = { a: number; e?: number; r?: string };

class RedisListStore implements ListStore {
  constructor(
    private readonly commands: Commands,
    private readonly key: string,
    private readonly timeoutMs: number,
  ) {}

  async add(entry: ListEntryInput, now: number | undefined): Promise<void> {
    const record: Stored = { a: now ?? Date.now() };
    if (entry.expiresAt !== undefined) record.e = entry.expiresAt;
    if (entry.reason !== undefined) record.r = entry.reason;
    await this.send(["HSET", this.key, `${entry.list}:${entry.value}`, JSON.stringify(record)]);
  }

  async remove(list: ListKind, value: string): Promise<boolean> {
    return Number(await this.send(["HDEL", this.key, `${list}:${value}`])) > 0;
  }

  async entries(now: number | undefined): Promise<ListEntry[]> {
    const t = now ?? Date.now();
    const reply = await this.send(["HGETALL", this.key]);
    const pairs = toPairs(reply);
    const live: ListEntry[] = [];
    const expired: string[] = [];
    for (const [field, json] of pairs) {
      const colon = field.indexOf(":");
      const list = field.slice(0, colon);
      if (list !== "allow" && list !== "deny") continue;
      let stored: Stored;
      try {
        stored = JSON.parse(json) as Stored;
      } catch {
        continue; // not ours: never let a stray field break every request
      }
      if (stored.e !== undefined && stored.e <= t) {
        expired.push(field);
        continue;
      }
      live.push({
        list,
        value: field.slice(colon + 1),
        addedAt: stored.a,
        expiresAt: stored.e,
        reason: stored.r,
      });
    }
    if (expired.length > 0) this.send(["HDEL", this.key, ...expired]).catch(() => {});
    return live.sort((x, y) => x.addedAt - y.addedAt);
  }

  private send(args: string[]): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreError(`Redis lists: ${args[0]} timed out after ${this.timeoutMs} ms`, {
              timeout: true,
            }),
          ),
        this.timeoutMs,
      );
    });
    const call = this.commands.send(this.key, args).catch((cause: unknown) => {
      throw new StoreError(`Redis lists: ${args[0]} failed`, { cause });
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }
}

/** HGETALL answers a flat array (RESP2) or a map/object (RESP3, node-redis): accept both. */
function toPairs(reply: unknown): [string, string][] {
  const out: [string, string][] = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2)
      out.push([String(reply[i]), String(reply[i + 1])]);
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) out.push([String(k), String(v)]);
  } else if (typeof reply === "object" && reply !== null) {
    for (const [k, v] of Object.entries(reply)) out.push([k, String(v)]);
  }
  return out;
}
