import { createHash, randomBytes } from "node:crypto";
import { ConfigError } from "../../core/errors/config-error.js";
import type { ConcurrencyAnswer, ConcurrencyBinding } from "../../core/store.js";
import type { BindingContext } from "./binding.js";
import { LUA_CONCURRENCY } from "./lua/concurrency.js";
import type { Script } from "./runner.js";

const SCRIPT: Script = {
  source: LUA_CONCURRENCY,
  sha: createHash("sha1").update(LUA_CONCURRENCY).digest("hex"),
};

/**
 * Lease ids answered while Redis is unavailable start with "~": a fallback lease lives in the
 * local memory store, a fail-open one nowhere. Redis ids never do (base64url has no "~").
 */
const LOCAL = "~";

/**
 * createConcurrencyLimiter's leases in Redis: one script run per acquire, release, renew or
 * count (lua/concurrency.ts), through the same runner as decisions, so the same timeout,
 * circuit breaker, outage log and late-run deadline apply: an acquire answered as failed (per
 * onStoreError) never takes a slot when a stalled Redis runs it later.
 */
export class RedisConcurrency implements ConcurrencyBinding {
  private readonly prefix: string;
  private local: ConcurrencyBinding | undefined;
  private openSeq = 0;

  constructor(
    private readonly ctx: BindingContext,
    private readonly namespace: string,
    private readonly fallback: ((namespace: string) => ConcurrencyBinding) | undefined,
  ) {
    this.prefix = `${namespace}:{`;
  }

  acquire(
    key: string,
    max: number,
    leaseMs: number,
    now: number | undefined,
  ): Promise<ConcurrencyAnswer> {
    const bad = badClock(now);
    if (bad !== undefined) return Promise.reject(bad);
    if (this.ctx.runner.breaker.gate() === "open") {
      return this.degraded(key, max, leaseMs, now);
    }
    const id = randomBytes(12).toString("base64url");
    return this.run(key, [
      "a",
      time(now),
      String(this.ctx.ttlPaddingMs),
      String(max),
      String(leaseMs),
      id,
    ])
      .then((reply) => {
        const granted = reply[1] === 1;
        const at = Number(reply[2]);
        const expiresAt = Number(reply[3]);
        const latest = Number(reply[4]);
        const answer: ConcurrencyAnswer = {
          granted,
          reason: granted ? "ok" : "limited",
          id: granted ? id : "",
          expiresAt,
          inFlight: Number(reply[5]),
          retryAfterMs: granted ? 0 : Math.max(1, expiresAt - at),
          resetMs: Math.max(granted ? 0 : 1, latest - at),
        };
        return answer;
      })
      .catch(() => this.degraded(key, max, leaseMs, now));
  }

  release(key: string, id: string, now: number | undefined): Promise<boolean> {
    if (id.startsWith(LOCAL)) {
      const local = this.localBinding();
      return local === undefined ? Promise.resolve(false) : local.release(key, id.slice(1), now);
    }
    if (badClock(now) !== undefined || this.ctx.runner.breaker.gate() === "open") {
      return Promise.resolve(false);
    }
    // A failed release leaves the lease to expire at its expiresAt: never an error for the
    // caller's finally block.
    return this.run(key, ["r", time(now), "0", id]).then(
      (reply) => reply[1] === 1,
      () => false,
    );
  }

  renew(
    key: string,
    id: string,
    leaseMs: number,
    now: number | undefined,
  ): Promise<number | undefined> {
    const bad = badClock(now);
    if (bad !== undefined) return Promise.reject(bad);
    if (id.startsWith(LOCAL)) {
      const local = this.localBinding();
      return local === undefined
        ? Promise.resolve(localNow(now) + leaseMs)
        : local.renew(key, id.slice(1), leaseMs, now);
    }
    if (this.ctx.runner.breaker.gate() === "open")
      return Promise.resolve(this.renewDegraded(leaseMs, now));
    return this.run(key, ["n", time(now), String(this.ctx.ttlPaddingMs), id, String(leaseMs)]).then(
      (reply) => (reply[1] === 1 ? Number(reply[2]) : undefined),
      () => this.renewDegraded(leaseMs, now),
    );
  }

  inFlight(key: string, now: number | undefined): Promise<number> {
    const bad = badClock(now);
    if (bad !== undefined) return Promise.reject(bad);
    return this.run(key, ["q", time(now), "0"]).then((reply) => Number(reply[1]));
  }

  private run(key: string, argv: string[]): Promise<unknown[]> {
    // The first argument is the deadline, set by the runner as the call goes out.
    return this.ctx.runner
      .run([`${this.prefix}${key}}:cc`], ["", ...argv], SCRIPT)
      .then((reply) => {
        if (!Array.isArray(reply)) {
          throw new Error(`unexpected reply from the concurrency script: ${String(reply)}`);
        }
        return reply;
      });
  }

  /**
   * Redis could not answer: onStoreError decides. fail-open grants a lease held nowhere;
   * fail-closed refuses with reason "degraded"; fallback asks a local memory limiter, whose
   * grants are marked degraded and whose refusals keep their own reason (binding.ts).
   */
  private degraded(
    key: string,
    max: number,
    leaseMs: number,
    now: number | undefined,
  ): Promise<ConcurrencyAnswer> {
    this.ctx.stats.degraded++;
    const mode = this.ctx.onStoreError;
    if (mode === "fail-open") {
      return Promise.resolve({
        granted: true,
        reason: "degraded",
        id: `${LOCAL}open${++this.openSeq}`,
        expiresAt: localNow(now) + leaseMs,
        inFlight: 0,
        retryAfterMs: 0,
        resetMs: leaseMs,
      });
    }
    if (mode === "fail-closed") {
      const breaker = this.ctx.runner.breaker;
      const wait = Math.max(1, breaker.retryInMs() || breaker.cooldownMs);
      return Promise.resolve({
        granted: false,
        reason: "degraded",
        id: "",
        expiresAt: 0,
        inFlight: 0,
        retryAfterMs: wait,
        resetMs: wait,
      });
    }
    return this.localBinding()!
      .acquire(key, max, leaseMs, now)
      .then((a) => (a.granted ? { ...a, reason: "degraded", id: `${LOCAL}${a.id}` } : a));
  }

  /**
   * A renewal Redis could not confirm: fail-closed says the lease is lost (the holder lets
   * go); fail-open and fallback keep the holder going until Redis answers again (its next
   * renewal then tells whether the lease survived the outage).
   */
  private renewDegraded(leaseMs: number, now: number | undefined): number | undefined {
    return this.ctx.onStoreError === "fail-closed" ? undefined : localNow(now) + leaseMs;
  }

  private localBinding(): ConcurrencyBinding | undefined {
    if (this.fallback === undefined) return undefined;
    this.local ??= this.fallback(this.namespace);
    return this.local;
  }
}

function time(now: number | undefined): string {
  return now === undefined ? "" : String(now);
}

function localNow(now: number | undefined): number {
  return now ?? Date.now();
}

function badClock(now: number | undefined): ConfigError | undefined {
  if (now === undefined || Number.isFinite(now)) return undefined;
  return new ConfigError([
    { option: "clock", received: now, expected: "a function returning a finite time in ms" },
  ]);
}
