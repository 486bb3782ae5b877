import type { ListEntry, ListEntryInput, ListKind, ListStore } from "../../core/list-store.js";
import type { Commands } from "./client.js";
import { hashPairs, sendWithin } from "./side-commands.js";

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
    const pairs = hashPairs(reply);
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
    return sendWithin(this.commands, this.key, args, this.timeoutMs, "Redis lists");
  }
}
