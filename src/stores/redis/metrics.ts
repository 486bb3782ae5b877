import { createHash } from "node:crypto";
import type { StoreError } from "../../core/errors/store-error.js";
import type { MetricsBinding } from "../../core/metrics/types.js";
import type { Commands } from "./client.js";
import { hashPairs, sendWithin } from "./side-commands.js";

/**
 * Adds a second's counts to its hash and renews the hash's expiry, atomically: one key per run,
 * so it works on Redis Cluster whatever node the second's key lives on.
 * KEYS[1] the bucket; ARGV[1] retention (ms); then field, count pairs.
 */
const RECORD = `for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;
const RECORD_SHA = createHash("sha1").update(RECORD).digest("hex");
/** Buckets read at once: a day's read is 86,400 HGETALLs, never all in flight together. */
const READS_IN_FLIGHT = 64;

/**
 * Fleet metrics in Redis (issue 17, item 2): one hash per second, `<namespace>:metrics:<second>`,
 * with a field per (rule, policy, count) and per offender (fleet-fields.ts), added to with
 * HINCRBY by every process and expiring `retention` after the last write. Each call is bounded
 * by the store's `timeout`; a failure rejects, and the collector keeps the counts for its next
 * flush. Never touches the decision path, its circuit breaker or its outage log.
 */
export function redisMetrics(
  commands: Commands,
  timeoutMs: number,
): (namespace: string) => MetricsBinding {
  return (namespace) => new RedisMetrics(commands, namespace, timeoutMs);
}

class RedisMetrics implements MetricsBinding {
  constructor(
    private readonly commands: Commands,
    private readonly namespace: string,
    private readonly timeoutMs: number,
  ) {}

  private key(second: number): string {
    return `${this.namespace}:metrics:${second}`;
  }

  async record(
    second: number,
    counts: ReadonlyMap<string, number>,
    retentionMs: number,
  ): Promise<void> {
    if (counts.size === 0) return;
    const key = this.key(second);
    const argv: string[] = [String(Math.max(1, Math.round(retentionMs)))];
    for (const [field, n] of counts) argv.push(field, String(Math.round(n)));
    try {
      await this.send(key, ["EVALSHA", RECORD_SHA, "1", key, ...argv]);
    } catch (error) {
      // A node that has not seen the script yet (restart, failover, new master): EVAL loads it.
      if (!String((error as StoreError).cause ?? error).includes("NOSCRIPT")) throw error;
      await this.send(key, ["EVAL", RECORD, "1", key, ...argv]);
    }
  }

  async read(
    fromSecond: number,
    toSecond: number,
  ): Promise<{ second: number; counts: Map<string, number> }[]> {
    const out: { second: number; counts: Map<string, number> }[] = [];
    let next = fromSecond;
    const worker = async (): Promise<void> => {
      for (let s = next++; s <= toSecond; s = next++) {
        const counts = new Map<string, number>();
        for (const [f, v] of hashPairs(await this.send(this.key(s), ["HGETALL", this.key(s)]))) {
          const n = Number(v);
          if (Number.isFinite(n)) counts.set(f, n);
        }
        if (counts.size > 0) out.push({ second: s, counts });
      }
    };
    const workers = Math.min(READS_IN_FLIGHT, toSecond - fromSecond + 1);
    await Promise.all(Array.from({ length: workers }, worker));
    return out.sort((a, b) => a.second - b.second);
  }

  private send(key: string, args: string[]): Promise<unknown> {
    return sendWithin(this.commands, key, args, this.timeoutMs, "Redis metrics");
  }
}
