import { type AcquireResult, createConcurrencyLimiter } from "../core/concurrency.js";
import { manualClock } from "./manual-clock.js";
import type { ConformanceOptions } from "./store-conformance.js";

/** The same options as the store conformance suite's (the store, the runner's describe and it). */
export type ConcurrencyConformanceOptions = Omit<ConformanceOptions, "algorithms">;

const LEASE_MS = 10_000;

/**
 * The lease contract every store with `concurrency()` must keep (createConcurrencyLimiter):
 * exactly `max` granted under a burst of concurrent acquires, release frees once, expiry after
 * `leaseMs` frees, renewal keeps a lease, refusals carry the earliest expiry. Time comes from a
 * manual clock passed as the limiter's `clock`, so a store must honour the caller's time.
 *
 * @example
 * import { describe, it } from "vitest";
 * concurrencyConformance({ name: "my store", describe, it, store: () => myStore });
 */
export function concurrencyConformance(options: ConcurrencyConformanceOptions): void {
  const { describe, it } = options;
  let counter = 0;
  const setup = async (max: number) => {
    const clock = manualClock();
    const store = await options.store();
    const prefix = `cc${process.pid}-${Date.now().toString(36)}-${counter++}`;
    const make = () =>
      createConcurrencyLimiter({ max, leaseMs: LEASE_MS, store, prefix, clock: clock.now });
    return { clock, limiter: make(), make };
  };

  describe(`concurrency conformance: ${options.name}`, () => {
    it("200 concurrent acquires with max 5 grant exactly 5; refusals are limited data", async () => {
      const { clock, limiter } = await setup(5);
      const start = clock.now();
      const results = await Promise.all(Array.from({ length: 200 }, () => limiter.acquire("k")));
      const granted = results.filter((r) => r.allowed);
      check(
        granted.length === 5,
        "exactly 5 granted",
        `${granted.length} (reasons: ${granted.map((r) => r.decision.reason).join(", ")})`,
      );
      check(new Set(granted.map((r) => r.lease!.id)).size === 5, "5 distinct lease ids", granted);
      for (const r of granted) {
        check(r.decision.reason === "ok" && r.decision.retryAfterMs === 0, "a plain grant", r);
        check(
          r.lease!.key === "k" && r.lease!.expiresAt === start + LEASE_MS,
          "expiresAt = now + leaseMs",
          r,
        );
      }
      const refused = results.find((r) => !r.allowed)!;
      const d = refused.decision;
      check(
        d.reason === "limited" && d.limit === 5 && d.remaining === 0 && refused.lease === undefined,
        "a refusal with reason limited, limit 5, remaining 0, no lease",
        refused,
      );
      check(d.retryAfterMs === LEASE_MS, "retryAfterMs = the earliest lease's expiry", refused);
      check((await limiter.inFlight("k")) === 5, "inFlight 5", undefined);
      check((await limiter.inFlight("other")) === 0, "other keys untouched", undefined);
    });

    it("remaining counts down; retryAfterMs is the earliest expiry", async () => {
      const { clock, limiter } = await setup(3);
      const first = await limiter.acquire("k");
      check(first.decision.remaining === 2, "remaining 2 after the first", first);
      clock.advance(1000);
      await limiter.acquire("k");
      clock.advance(1000);
      const third = await limiter.acquire("k");
      check(
        third.allowed && third.decision.remaining === 0,
        "the third takes the last slot",
        third,
      );
      const refused = await limiter.acquire("k");
      check(
        refused.decision.retryAfterMs === LEASE_MS - 2000,
        "wait until the first lease expires",
        refused,
      );
    });

    it("release frees one slot, once; a second release changes nothing", async () => {
      const { limiter } = await setup(2);
      const a = await limiter.acquire("k");
      const b = await limiter.acquire("k");
      check(!(await limiter.acquire("k")).allowed, "full at 2", undefined);
      check((await limiter.release(a.lease!)) === true, "release frees a live lease", undefined);
      const c = await limiter.acquire("k");
      check(c.allowed, "a slot after release", c);
      check(
        (await limiter.release(a.lease!)) === false,
        "a second release answers false",
        undefined,
      );
      check(
        (await limiter.inFlight("k")) === 2,
        "b and c still held after the double release",
        undefined,
      );
      check(
        !(await limiter.acquire("k")).allowed,
        "still full: nobody else's slot was freed",
        undefined,
      );
      await limiter.release(b.lease!);
      await limiter.release(c.lease!);
      check((await limiter.inFlight("k")) === 0, "empty after releasing all", undefined);
    });

    it("a lease expires after leaseMs; releasing it later frees nobody else's slot", async () => {
      const { clock, limiter } = await setup(1);
      const a = await limiter.acquire("k");
      clock.advance(LEASE_MS - 1);
      check(!(await limiter.acquire("k")).allowed, "held 1 ms before expiry", undefined);
      clock.advance(1);
      check((await limiter.inFlight("k")) === 0, "expired at expiresAt", undefined);
      const b = await limiter.acquire("k");
      check(b.allowed, "the slot is free again", b);
      check(
        (await limiter.release(a.lease!)) === false,
        "the expired lease releases nothing",
        undefined,
      );
      check((await limiter.inFlight("k")) === 1, "the new holder keeps its slot", undefined);
      check(
        (await limiter.renew(a.lease!)) === false,
        "an expired lease cannot be renewed",
        undefined,
      );
      check((await limiter.inFlight("k")) === 1, "and its renewal took no slot", undefined);
    });

    it("renew extends a live lease to now + leaseMs; a released lease cannot be renewed", async () => {
      const { clock, limiter } = await setup(1);
      const a = (await limiter.acquire("k")).lease!;
      clock.advance(LEASE_MS - 1);
      const renewed = await limiter.renew(a);
      check(
        renewed !== false && renewed.id === a.id && renewed.expiresAt === clock.now() + LEASE_MS,
        "renewed to now + leaseMs",
        renewed,
      );
      clock.advance(LEASE_MS - 1);
      check((await limiter.inFlight("k")) === 1, "still held past the first expiry", undefined);
      check(!(await limiter.acquire("k")).allowed, "its slot stays taken", undefined);
      check(
        (await limiter.release(a)) === true,
        "the old copy releases the renewed lease",
        undefined,
      );
      check((await limiter.renew(a)) === false, "a released lease cannot be renewed", undefined);
      check((await limiter.acquire("k")).allowed, "the slot is free", undefined);
    });

    it("two limiters on one store and prefix share one max", async () => {
      const { make } = await setup(3);
      const one = make();
      const two = make();
      const results: AcquireResult[] = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).acquire("shared")),
      );
      check(results.filter((r) => r.allowed).length === 3, "3 granted across both", undefined);
      const lease = results.find((r) => r.allowed)!.lease!;
      check((await two.release(lease)) === true, "either limiter releases a lease", undefined);
      check((await one.inFlight("shared")) === 2, "both see the release", undefined);
    });
  });
}

function check(condition: boolean, what: string, actual: unknown): void {
  if (condition) return;
  throw new Error(
    `concurrency conformance: expected ${what}${actual === undefined ? "" : `; got ${JSON.stringify(actual)}`}`,
  );
}
