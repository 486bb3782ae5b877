/**
 * createScheduler on the memory store, on a manual clock with its timers: every wait below is
 * the clock moving, never a real sleep.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { type ManualClock, manualClock } from "../testing/manual-clock.js";
import { createConcurrencyLimiter } from "./concurrency.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import type { PolicyInput } from "./policy.js";
import { createScheduler, type Scheduler, type SchedulerOptions } from "./scheduler.js";

/** A limit that never binds: what is measured is the scheduler, not the rate. */
const UNBOUND: PolicyInput = { limit: 1_000_000_000, window: "1h" };
/** Exactly n per second in every 1-s span: the algorithm a vendor's "n/s" needs. */
const perSecond = (n: number): PolicyInput => ({
  limit: n,
  window: "1s",
  algorithm: "sliding-log",
});

function setup(policies: PolicyInput, extra: Partial<SchedulerOptions> = {}) {
  const clock = manualClock(0);
  const limiter = createLimiter({ policies, clock: clock.now, timers: clock.timers });
  const scheduler = createScheduler({ limiter, timers: clock.timers, ...extra });
  return { clock, limiter, scheduler };
}

/** A promise settled from outside: a job that runs until the test says so. */
function deferred<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Lets promise callbacks run without moving the clock. */
const settle = (clock: ManualClock) => clock.advanceAsync(0);

/** How a job ended: its value, or the error's code/reason/message, with the clock's time. */
function outcome(clock: ManualClock, p: Promise<unknown>): Promise<string> {
  return p.then(
    (v) => `ok:${String(v)}@${clock.now()}`,
    (e: unknown) =>
      e instanceof RateLimitedError
        ? `limited:${e.decision.reason}@${clock.now()}`
        : `error:${e instanceof Error ? e.message : String(e)}@${clock.now()}`,
  );
}

describe("createScheduler options", () => {
  it("one ConfigError lists every problem", () => {
    let error: unknown;
    try {
      createScheduler({
        limiter: {},
        concurrency: 0,
        key: 5,
        maxQueue: 0,
        timers: {},
        nope: true,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual(
      ["concurrency", "key", "limiter", "maxQueue", "nope", "timers"].sort(),
    );
  });

  it("concurrency is a whole number ≥ 1 or a ConcurrencyLimiter", () => {
    const limiter = createLimiter({ policies: UNBOUND });
    expect(() => createScheduler({ limiter, concurrency: 2.5 })).toThrow(/concurrency/);
    const slots = createConcurrencyLimiter({ max: 2, leaseMs: "10s" });
    expect(createScheduler({ limiter, concurrency: slots }).size).toBe(0);
  });

  it("a bad job is refused by a rejected promise listing every problem, never a throw", async () => {
    const { scheduler } = setup(UNBOUND);
    const bad = scheduler.schedule(() => 1, {
      priority: Number.NaN,
      cost: -1,
      key: 7,
      signal: {},
      maxWaitMs: 0,
      nope: 1,
    } as never);
    const error = await bad.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual(
      ["cost", "key", "maxWaitMs", "nope", "priority", "signal"].sort(),
    );
    await expect(scheduler.schedule("not a function" as never)).rejects.toThrow(/fn/);
    expect(scheduler.size).toBe(0);
  });
});

describe("order", () => {
  it("higher priority first, first come first served within one; a job waiting for its rate is not overtaken", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    const ran: string[] = [];
    const job = (name: string, priority: number) =>
      scheduler.schedule(() => ran.push(`${name}@${clock.now()}`), { priority });
    const all = [job("a", 0), job("b", 0), job("c", 5), job("d", 0), job("e", 5), job("f", -1)];
    await settle(clock);
    // a ran at once; c (the best waiting) now waits for the rate: h, scheduled later with a
    // higher priority, comes right after c, not before it.
    all.push(job("g", 5), job("h", 9));
    await clock.advanceAsync("10s");
    await Promise.all(all);
    expect(ran).toEqual([
      "a@0",
      "c@1000",
      "h@2000",
      "e@3000",
      "g@4000",
      "b@5000",
      "d@6000",
      "f@7000",
    ]);
  });

  it("keeps the order of 200 jobs of one priority, and admits them at the rate", async () => {
    const { clock, scheduler } = setup(perSecond(20));
    const ran: number[] = [];
    const starts: number[] = [];
    const jobs = Array.from({ length: 200 }, (_, i) =>
      scheduler.schedule(() => {
        ran.push(i);
        starts.push(clock.now());
      }),
    );
    await clock.advanceAsync("20s");
    await Promise.all(jobs);
    expect(ran).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // 20 per 1-s span, never more: the k-th job starts at floor(k / 20) s.
    expect(starts).toEqual(Array.from({ length: 200 }, (_, i) => Math.floor(i / 20) * 1000));
  });

  it("keys do not wait for each other's rate", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    const a1 = outcome(
      clock,
      scheduler.schedule(() => "a1", { key: "a" }),
    );
    const a2 = outcome(
      clock,
      scheduler.schedule(() => "a2", { key: "a" }),
    );
    const b1 = outcome(
      clock,
      scheduler.schedule(() => "b1", { key: "b" }),
    );
    await clock.advanceAsync("1s");
    expect(await Promise.all([a1, a2, b1])).toEqual(["ok:a1@0", "ok:a2@1000", "ok:b1@0"]);
  });
});

describe("concurrency", () => {
  it("a number caps jobs running in this process; size counts waiting jobs, pending running ones", async () => {
    const { clock, scheduler } = setup(UNBOUND, { concurrency: 3 });
    let running = 0;
    let most = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const started: number[] = [];
    const jobs = gates.map((g, i) =>
      scheduler.schedule(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        try {
          return await g.promise;
        } finally {
          running--;
        }
      }),
    );
    await settle(clock);
    expect([scheduler.pending, scheduler.size, started]).toEqual([3, 7, [0, 1, 2]]);
    let idle = false;
    void scheduler.idle().then(() => {
      idle = true;
    });
    // Finish them out of order: each freed slot goes to the next job in line at once.
    for (const i of [1, 0, 2, 4, 3, 5, 6, 7, 8, 9]) {
      gates[i]!.resolve(`v${i}`);
      await settle(clock);
      expect(idle).toBe(i === 9);
    }
    expect(await Promise.all(jobs)).toEqual(gates.map((_, i) => `v${i}`));
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
    expect([scheduler.pending, scheduler.size]).toEqual([0, 0]);
  });

  it("errors, throws and aborts never leak a local slot", async () => {
    const { clock, limiter, scheduler } = setup(perSecond(3), { concurrency: 2 });
    const failures = [
      scheduler.schedule(() => {
        throw new Error("sync throw");
      }),
      scheduler.schedule(() => Promise.reject(new Error("async reject"))),
      scheduler.schedule(() => "over", { cost: 4 }), // can never pass "3/s"
    ].map((p) => outcome(clock, p));
    const waiting = new AbortController();
    // Holds a slot while it waits for the rate: 2 units, and the two runs above left 1.
    const aborted = scheduler.schedule(() => "never", { cost: 2, signal: waiting.signal });
    const queued = new AbortController();
    const neverRan = scheduler.schedule(() => "never", { signal: queued.signal });
    await settle(clock);
    expect(await Promise.all(failures)).toEqual([
      "error:sync throw@0",
      "error:async reject@0",
      "limited:cost-exceeds-limit@0",
    ]);
    queued.abort(new Error("queued abort"));
    waiting.abort(new Error("waiting abort"));
    expect(await outcome(clock, aborted)).toBe("error:waiting abort@0");
    expect(await outcome(clock, neverRan)).toBe("error:queued abort@0");
    // The aborted job charged nothing: the unit left after the two runs is still there.
    expect((await limiter.peek("scheduler")).remaining).toBe(1);
    await clock.advanceAsync("1s");
    // Both slots are free: two jobs run side by side.
    const gates = [deferred(), deferred()];
    const both = gates.map((g) => scheduler.schedule(() => g.promise));
    await settle(clock);
    expect(scheduler.pending).toBe(2);
    for (const g of gates) g.resolve("done");
    expect(await Promise.all(both)).toEqual(["done", "done"]);
  });

  it("a ConcurrencyLimiter: no lease is leaked by errors or aborts, idle() waits for the releases", async () => {
    const clock = manualClock(0);
    const limiter = createLimiter({
      policies: perSecond(2),
      clock: clock.now,
      timers: clock.timers,
    });
    const slots = createConcurrencyLimiter({ max: 2, leaseMs: "10s", clock: clock.now });
    const scheduler = createScheduler({ limiter, concurrency: slots, timers: clock.timers });
    const queued = new AbortController();
    const waiting = new AbortController();
    const results = [
      scheduler.schedule(() => {
        throw new Error("sync throw");
      }),
      scheduler.schedule(() => Promise.reject(new Error("async reject"))),
      scheduler.schedule(() => "over", { cost: 3 }),
      scheduler.schedule(() => "never", { cost: 2, signal: waiting.signal }),
      scheduler.schedule(() => "never", { signal: queued.signal }),
    ].map((p) => outcome(clock, p));
    await settle(clock);
    queued.abort(new Error("queued abort"));
    waiting.abort(new Error("waiting abort"));
    expect(await Promise.all(results)).toEqual([
      "error:sync throw@0",
      "error:async reject@0",
      "limited:cost-exceeds-limit@0",
      "error:waiting abort@0",
      "error:queued abort@0",
    ]);
    await scheduler.idle();
    expect(await slots.inFlight("scheduler")).toBe(0);
  });

  it("schedulers sharing a ConcurrencyLimiter run at most max jobs together; a slot freed elsewhere is taken within the re-check", async () => {
    const clock = manualClock(0);
    const limiter = createLimiter({ policies: UNBOUND, clock: clock.now, timers: clock.timers });
    const slots = createConcurrencyLimiter({ max: 2, leaseMs: "10s", clock: clock.now });
    const fleet = [1, 2].map(() =>
      createScheduler({ limiter, concurrency: slots, timers: clock.timers }),
    );
    let running = 0;
    let most = 0;
    const gates: ReturnType<typeof deferred<string>>[] = [];
    const start = (s: Scheduler) =>
      s.schedule(async () => {
        most = Math.max(most, ++running);
        const g = deferred();
        gates.push(g);
        await g.promise;
        running--;
      });
    const jobs = [0, 1, 2, 3, 4, 5].map((i) => start(fleet[i % 2]!));
    await settle(clock);
    expect(running).toBe(2);
    for (let done = 0; done < 6; done++) {
      gates.shift()!.resolve("ok");
      // The other process learns of the freed lease only by asking again: 50 ms at most.
      await clock.advanceAsync(70);
    }
    await Promise.all(jobs);
    expect(most).toBe(2);
    await Promise.all(fleet.map((s) => s.idle()));
    expect(await slots.inFlight("scheduler")).toBe(0);
  });

  it("a slot freed in this process goes to its next job at once, with no re-check", async () => {
    const clock = manualClock(0);
    const limiter = createLimiter({ policies: UNBOUND, clock: clock.now, timers: clock.timers });
    const slots = createConcurrencyLimiter({ max: 1, leaseMs: "10s", clock: clock.now });
    const scheduler = createScheduler({ limiter, concurrency: slots, timers: clock.timers });
    const g = deferred();
    const first = outcome(
      clock,
      scheduler.schedule(() => g.promise),
    );
    const second = outcome(
      clock,
      scheduler.schedule(() => "second"),
    );
    await settle(clock);
    g.resolve("first");
    for (let i = 0; i < 5; i++) await settle(clock);
    expect(await Promise.all([first, second])).toEqual(["ok:first@0", "ok:second@0"]);
  });

  it("a job running past its lease keeps the lease renewed, and gives it back when it ends", async () => {
    const clock = manualClock(0);
    const limiter = createLimiter({ policies: UNBOUND, clock: clock.now, timers: clock.timers });
    const slots = createConcurrencyLimiter({ max: 1, leaseMs: "1s", clock: clock.now });
    const scheduler = createScheduler({ limiter, concurrency: slots, timers: clock.timers });
    const g = deferred();
    const long = scheduler.schedule(() => g.promise);
    await clock.advanceAsync("5s");
    // Without renewals the lease would have expired at 1 s and a second job could start.
    expect(await slots.inFlight("scheduler")).toBe(1);
    const other = outcome(
      clock,
      scheduler.schedule(() => "other"),
    );
    await clock.advanceAsync("2s");
    expect(scheduler.size).toBe(1);
    g.resolve("long");
    expect(await long).toBe("long");
    await clock.advanceAsync(0);
    expect(await other).toBe("ok:other@7000");
    await scheduler.idle();
    expect(await slots.inFlight("scheduler")).toBe(0);
  });
});

describe("abort, maxWaitMs, maxQueue, cost", () => {
  it("a job aborted while queued leaves at once: fn never runs, nothing is charged", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    const first = outcome(
      clock,
      scheduler.schedule(() => "first"),
    );
    const c = new AbortController();
    let ran = false;
    const second = outcome(
      clock,
      scheduler.schedule(() => "second"),
    );
    const third = outcome(
      clock,
      scheduler.schedule(
        () => {
          ran = true;
        },
        { signal: c.signal },
      ),
    );
    await settle(clock);
    expect(scheduler.size).toBe(2);
    c.abort(new Error("changed my mind"));
    expect(scheduler.size).toBe(1);
    expect(await third).toBe("error:changed my mind@0");
    await clock.advanceAsync("5s");
    // Had the aborted job taken a unit, second would have started at 2 s.
    expect(await Promise.all([first, second])).toEqual(["ok:first@0", "ok:second@1000"]);
    expect(ran).toBe(false);
  });

  it("jobs sharing one signal add one abort listener, removed once none of them waits", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    const c = new AbortController();
    const jobs = Array.from({ length: 1000 }, (_, i) =>
      outcome(
        clock,
        scheduler.schedule(() => i, { signal: c.signal }),
      ),
    );
    await settle(clock);
    // Ours, for the 998 queued, and waitFor's, for the one waiting for its rate.
    expect(getEventListeners(c.signal, "abort")).toHaveLength(2);
    c.abort(new Error("stop"));
    const results = await Promise.all(jobs);
    expect(results[0]).toBe("ok:0@0");
    expect(results.slice(1).every((r) => r === "error:stop@0")).toBe(true);
    expect(getEventListeners(c.signal, "abort")).toHaveLength(0);
    expect(scheduler.size).toBe(0);
    // Once every job sharing a signal has started, the signal holds no listener of ours.
    const d = new AbortController();
    await clock.advanceAsync("1s");
    const done = [scheduler.schedule(() => 1, { signal: d.signal })];
    await settle(clock);
    expect(await Promise.all(done)).toEqual([1]);
    expect(getEventListeners(d.signal, "abort")).toHaveLength(0);
  });

  it("an already aborted signal is refused at once; a running job gets the signal and decides", async () => {
    const { clock, scheduler } = setup(UNBOUND);
    const gone = AbortSignal.abort(new Error("gone"));
    await expect(scheduler.schedule(() => 1, { signal: gone })).rejects.toThrow("gone");
    const c = new AbortController();
    const g = deferred();
    let seen: AbortSignal | undefined;
    const running = scheduler.schedule(
      (signal) => {
        seen = signal;
        signal?.addEventListener("abort", () => g.resolve("stopped by the job"));
        return g.promise;
      },
      { signal: c.signal },
    );
    await settle(clock);
    expect(seen).toBe(c.signal);
    c.abort();
    expect(await running).toBe("stopped by the job");
  });

  it("maxWaitMs: refused at once when the rate says it cannot start in time, or when it passes in the queue", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    const a = outcome(
      clock,
      scheduler.schedule(() => "a"),
    );
    await settle(clock);
    // The lane's head now waits 1 s for the rate; 500 ms can never be enough for it.
    const hopeless = outcome(
      clock,
      scheduler.schedule(() => "b", { maxWaitMs: 500 }),
    );
    await settle(clock);
    const b = outcome(
      clock,
      scheduler.schedule(() => "b2"),
    );
    // c waits behind b2 (which starts at 1 s): its 500 ms pass while it is still queued.
    const c = outcome(
      clock,
      scheduler.schedule(() => "c", { maxWaitMs: 500 }),
    );
    // d becomes the head at 1 s with 500 ms left of its 1.5 s, and needs 1 s more: refused then.
    const d = outcome(
      clock,
      scheduler.schedule(() => "d", { maxWaitMs: "1500ms" }),
    );
    const e = outcome(
      clock,
      scheduler.schedule(() => "e", { maxWaitMs: "2500ms" }),
    );
    await clock.advanceAsync("5s");
    expect(await Promise.all([a, hopeless, b, c, d, e])).toEqual([
      "ok:a@0",
      "limited:limited@0",
      "ok:b2@1000",
      "limited:limited@500",
      "limited:limited@1000",
      "ok:e@2000",
    ]);
    expect(scheduler.size).toBe(0);
  });

  it("maxQueue: one job more than maxQueue waiting is refused at once with RateLimitedError", async () => {
    const { clock, scheduler } = setup(perSecond(1), { maxQueue: 3 });
    const jobs = [scheduler.schedule(() => 1)];
    await settle(clock);
    jobs.push(...[2, 3, 4].map((i) => scheduler.schedule(() => i)));
    await settle(clock);
    expect(scheduler.size).toBe(3); // 1 ran; 2 waits for the rate; 3 and 4 are queued
    const error = await scheduler.schedule(() => 5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).code).toBe("ERR_TK_RATE_LIMITED");
    expect((error as RateLimitedError).decision).toMatchObject({
      allowed: false,
      reason: "limited",
    });
    expect((error as Error).message).toMatch(/maxQueue 3/);
    await clock.advanceAsync("3s");
    expect(await Promise.all(jobs)).toEqual([1, 2, 3, 4]);
  });

  it("cost: a job spends its cost of the rate; cost 0 checks without charging; too large a cost fails alone", async () => {
    const { clock, limiter, scheduler } = setup(perSecond(5));
    const results = [
      scheduler.schedule(() => "three", { cost: 3 }),
      scheduler.schedule(() => "six", { cost: 6 }), // above the limit: can never pass
      scheduler.schedule(() => "zero", { cost: 0 }),
      scheduler.schedule(() => "three again", { cost: 3 }), // 3 + 3 > 5: at 1 s
    ].map((p) => outcome(clock, p));
    await clock.advanceAsync("1s");
    expect(await Promise.all(results)).toEqual([
      "ok:three@0",
      "limited:cost-exceeds-limit@0",
      "ok:zero@0",
      "ok:three again@1000",
    ]);
    // At 1 s the first 3 have left the window; the second 3 are in it.
    expect((await limiter.peek("scheduler")).remaining).toBe(2);
  });

  it("a store answering degraded holds the queue until it answers again, never wedges it", async () => {
    const clock = manualClock(0);
    // A store of one key, filled with a block: every other key is refused "degraded" until
    // the block ends (the memory store's whenFull: "reject").
    const store = memoryStore({ maxKeys: 1, logger: false });
    const limiter = createLimiter({
      policies: perSecond(1),
      store,
      clock: clock.now,
      timers: clock.timers,
    });
    await limiter.block("someone", "10s");
    expect((await limiter.consume("scheduler")).reason).toBe("degraded");
    const scheduler = createScheduler({ limiter, timers: clock.timers });
    const job = outcome(
      clock,
      scheduler.schedule(() => "ran"),
    );
    await clock.advanceAsync("9s");
    expect(scheduler.size).toBe(1);
    await clock.advanceAsync("2s");
    expect(await job).toBe("ok:ran@10000");
  });

  it("idle() resolves at once when nothing waits or runs, else when the last job settles", async () => {
    const { clock, scheduler } = setup(perSecond(1));
    await scheduler.idle();
    let idle = false;
    const jobs = [scheduler.schedule(() => 1), scheduler.schedule(async () => 2)];
    void scheduler.idle().then(() => {
      idle = true;
    });
    await clock.advanceAsync(999);
    expect(idle).toBe(false);
    await clock.advanceAsync(1);
    expect(idle).toBe(true);
    expect(await Promise.all(jobs)).toEqual([1, 2]);
  });
});
