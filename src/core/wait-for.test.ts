import { describe, expect, it } from "vitest";
import { type ManualClock, manualClock } from "../testing/manual-clock.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import { createLimiter, type Limiter, type LimiterOptions } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import type { PolicyInput } from "./policy.js";
import type { Timers } from "./timers.js";
import { MAX_WAITERS, WaitQueues } from "./wait-for.js";
import { type Waiter, WaiterList } from "./wait-queue.js";

/** Timers that count: calls made, and the most pending at once. */
function counted(clock: ManualClock) {
  let live = 0;
  const stats = { calls: 0, maxLive: 0 };
  const handles = new Set<unknown>();
  const timers: Timers & { now: () => number } = {
    now: clock.now,
    setTimeout(callback, ms) {
      stats.calls++;
      live++;
      stats.maxLive = Math.max(stats.maxLive, live);
      const handle = clock.timers.setTimeout(() => {
        handles.delete(handle);
        live--;
        callback();
      }, ms);
      handles.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      if (handles.delete(handle)) live--;
      clock.timers.clearTimeout(handle);
    },
  };
  return { timers, stats };
}

function setup(policies: PolicyInput, extra: Partial<LimiterOptions> = {}) {
  const clock = manualClock(0);
  const { timers, stats } = counted(clock);
  const limiter = createLimiter({ policies, clock: clock.now, timers, ...extra });
  return { clock, limiter, stats };
}

/** Token bucket of 10 per second: one token per 100 ms, at most 10. */
const TEN_PER_S: PolicyInput = { limit: 10, window: "1s", algorithm: "token-bucket" };
/** One per second, the next exactly 1 s after the last (the default sliding window would ask 2 s). */
const ONE_PER_S: PolicyInput = { limit: 1, window: "1s", algorithm: "token-bucket" };

/** Records when (on the manual clock) and in what order promises settle. */
function recorder(clock: ManualClock) {
  const log: string[] = [];
  const track = (name: string, p: Promise<Decision>) =>
    p.then(
      () => {
        log.push(`${name}@${clock.now()}`);
      },
      (error: unknown) => {
        log.push(
          `${name}!${clock.now()}:${error instanceof RateLimitedError ? error.decision.reason : String(error)}`,
        );
      },
    );
  return { log, track };
}

/**
 * A limiter answering through a promise the test releases: a remote store's consume, with the
 * gap between asking and answering under the test's control.
 */
function remote(base: Limiter) {
  const gates: Array<() => void> = [];
  let hold = false;
  const limiter: Limiter = Object.assign(Object.create(base) as Limiter, {
    canConsumeSync: false,
    consume(key: string, options?: { cost?: number }) {
      if (!hold) return base.consume(key, options);
      return new Promise<void>((go) => gates.push(go)).then(() => base.consume(key, options));
    },
  });
  return {
    limiter,
    hold: (on: boolean) => {
      hold = on;
    },
    release: () => {
      for (const go of gates.splice(0)) go();
    },
    pending: () => gates.length,
  };
}

describe("waitFor on the memory store (manual clock, no sleeps)", () => {
  it("resolves at once, synchronously charged and with no timer, when the key has room", async () => {
    const { limiter, stats } = setup("2/s");
    const first = limiter.waitFor("k");
    expect((await limiter.peek("k")).remaining).toBe(1); // charged before any await
    expect((await first).allowed).toBe(true);
    expect((await limiter.waitFor("k", { cost: 1 })).reason).toBe("ok");
    expect(stats.calls).toBe(0);
  });

  it("admits one key's waiters first come, first served: a small cost never overtakes a large one", async () => {
    const { clock, limiter } = setup(TEN_PER_S);
    limiter.consumeSync("k", { cost: 10 }); // empty at t=0
    const { log, track } = recorder(clock);
    const all = Promise.all([
      track("a5", limiter.waitFor("k", { cost: 5 })),
      track("b1", limiter.waitFor("k", { cost: 1 })), // would fit at 100 ms: waits behind a5
      track("c3", limiter.waitFor("k", { cost: 3 })),
      track("other", limiter.waitFor("other", { cost: 1 })), // another key is not held up
    ]);
    await clock.advanceAsync("2s");
    await all;
    expect(log).toEqual(["other@0", "a5@500", "b1@600", "c3@900"]);
  });

  it("sleeps exactly retryAfterMs: admitted at the millisecond the store would admit it", async () => {
    const { clock, limiter } = setup({ limit: 3, window: "1s", algorithm: "fixed-window" });
    limiter.consumeSync("k", { cost: 3 });
    clock.advance(250);
    let done = false;
    const p = limiter.waitFor("k").then((d) => {
      done = true;
      return d;
    });
    await clock.advanceAsync(749);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    expect(done).toBe(true);
    expect((await p).remaining).toBe(2);
  });

  it("uses one timer per waiting key, not per waiter, and admits a burst of room at once", async () => {
    const { clock, limiter, stats } = setup({ limit: 3, window: "1s", algorithm: "fixed-window" });
    const { log, track } = recorder(clock);
    const all: Promise<void>[] = [];
    for (const key of ["x", "y"]) {
      limiter.consumeSync(key, { cost: 3 });
      for (let i = 0; i < 6; i++) all.push(track(`${key}${i}`, limiter.waitFor(key)));
    }
    expect(stats.maxLive).toBe(2);
    await clock.advanceAsync("1s");
    // The window opening admits three per key in the same tick.
    expect(log).toEqual(["x0@1000", "x1@1000", "x2@1000", "y0@1000", "y1@1000", "y2@1000"]);
    await clock.advanceAsync("1s");
    await Promise.all(all);
    expect(log.slice(6)).toEqual([
      "x3@2000",
      "x4@2000",
      "x5@2000",
      "y3@2000",
      "y4@2000",
      "y5@2000",
    ]);
    expect(stats.maxLive).toBe(2);
    expect(stats.calls).toBe(4); // one sleep per key per window
    expect(clock.pendingTimers()).toBe(0); // nothing left behind once the queues are empty
  });

  it("refuses at once what can never pass (cost above the limit), charging nothing", async () => {
    const { limiter, stats } = setup("2/s");
    const error = await limiter.waitFor("k", { cost: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).code).toBe("ERR_TK_RATE_LIMITED");
    expect((error as RateLimitedError).decision.reason).toBe("cost-exceeds-limit");
    expect(stats.calls).toBe(0);
    expect((await limiter.peek("k")).remaining).toBe(2);
  });

  it("waits a block out, unless maxWaitMs says it is too long", async () => {
    const { clock, limiter } = setup("2/s");
    await limiter.block("k", "10s");
    const tooLong = await limiter.waitFor("k", { maxWaitMs: "5s" }).catch((e: unknown) => e);
    expect((tooLong as RateLimitedError).decision.reason).toBe("blocked");
    expect(clock.now()).toBe(0); // refused without sleeping just to fail
    const { log, track } = recorder(clock);
    const p = track("k", limiter.waitFor("k", { maxWaitMs: "10s" }));
    await clock.advanceAsync("10s");
    await p;
    expect(log).toEqual(["k@10000"]);
  });

  it('waits on "degraded" refusals (a memory store full of blocks) for as long as they say', async () => {
    const store = memoryStore({ maxKeys: 1, logger: false });
    const { clock, limiter } = setup("2/s", { store });
    await limiter.block("x", "30s");
    expect(limiter.consumeSync("z").reason).toBe("degraded");
    const { log, track } = recorder(clock);
    const p = track("z", limiter.waitFor("z"));
    await clock.advanceAsync("29s");
    expect(log).toEqual([]);
    await clock.advanceAsync("1s");
    await p;
    expect(log).toEqual(["z@30000"]);
  });

  it("maxWaitMs: refused at once when the head's wait is already too long, and a waiter behind is refused as soon as the line shows it cannot be admitted in time", async () => {
    const { clock, limiter } = setup(TEN_PER_S);
    limiter.consumeSync("k", { cost: 10 });
    const { log, track } = recorder(clock);
    const all = Promise.all([
      track("wait150", limiter.waitFor("k", { cost: 2, maxWaitMs: 150 })), // ready at 200: no
      track("head", limiter.waitFor("k", { cost: 1, maxWaitMs: 100 })), // ready at 100: yes
      track("short", limiter.waitFor("k", { cost: 1, maxWaitMs: 50 })), // behind the head: no
      track("next", limiter.waitFor("k", { cost: 1, maxWaitMs: 150 })), // 200 once head is in: no
      track("last", limiter.waitFor("k", { cost: 1, maxWaitMs: "1s" })),
    ]);
    await clock.advanceAsync("1s");
    await all;
    expect(log).toEqual([
      "wait150!0:limited",
      "short!0:limited",
      "head@100",
      "next!100:limited",
      "last@200",
    ]);
  });

  it("maxQueue: one caller more than the key's queue holds is refused at once", async () => {
    const { clock, limiter } = setup(ONE_PER_S);
    limiter.consumeSync("k");
    const a = limiter.waitFor("k", { maxQueue: 2 });
    const b = limiter.waitFor("k", { maxQueue: 2 });
    const c = await limiter.waitFor("k", { maxQueue: 2 }).catch((e: unknown) => e);
    expect(c).toBeInstanceOf(RateLimitedError);
    expect((c as Error).message).toMatch(/2 callers already wait on this key \(maxQueue\)/);
    await clock.advanceAsync("2s");
    expect((await a).allowed && (await b).allowed).toBe(true);
  });

  it(`bounds the callers one limiter keeps waiting over all keys (MAX_WAITERS = ${MAX_WAITERS})`, async () => {
    const { clock, limiter } = setup({ limit: 1000, window: "1h", algorithm: "fixed-window" });
    const waiting: Promise<unknown>[] = [];
    for (let k = 0; k < MAX_WAITERS / 1000; k++) {
      limiter.consumeSync(`k${k}`, { cost: 1000 });
      for (let i = 0; i < 1000; i++) {
        waiting.push(limiter.waitFor(`k${k}`, { maxQueue: 1000 }).catch(() => "refused"));
      }
    }
    limiter.consumeSync("one-more", { cost: 1000 });
    await expect(limiter.waitFor("one-more")).rejects.toThrow(/MAX_WAITERS/);
    clock.advance("1h"); // the next window: every key's waiters in, on one timer per key
    const results = await Promise.all(waiting);
    expect(results.filter((r) => r === "refused")).toEqual([]);
  });

  it("abort: an aborted signal refuses at once; a queued waiter leaves with the signal's reason and charges nothing", async () => {
    const { clock, limiter } = setup(TEN_PER_S);
    const gone = new AbortController();
    gone.abort(new Error("caller left"));
    await expect(limiter.waitFor("k", { signal: gone.signal })).rejects.toThrow("caller left");
    expect((await limiter.peek("k")).remaining).toBe(10);

    limiter.consumeSync("k", { cost: 10 });
    const { log, track } = recorder(clock);
    const middle = new AbortController();
    const all = Promise.all([
      track("a", limiter.waitFor("k", { cost: 2 })),
      track("b", limiter.waitFor("k", { cost: 3, signal: middle.signal })),
      track("c", limiter.waitFor("k", { cost: 3 })),
    ]);
    await clock.advanceAsync(100);
    middle.abort("changed my mind");
    await clock.advanceAsync("1s");
    await all;
    // c takes b's place in line: admitted 300 ms after a, as if b had never come.
    expect(log).toEqual(["b!100:changed my mind", "a@200", "c@500"]);
  });

  it("abort of the sleeping head lets the next waiter in at once when it fits", async () => {
    const { clock, limiter } = setup(TEN_PER_S);
    limiter.consumeSync("k", { cost: 10 });
    const { log, track } = recorder(clock);
    const head = new AbortController();
    const all = Promise.all([
      track("big", limiter.waitFor("k", { cost: 8, signal: head.signal })),
      track("small", limiter.waitFor("k", { cost: 2 })),
    ]);
    await clock.advanceAsync(250); // 2 tokens by now; big needs 8
    head.abort("timeout");
    await clock.advanceAsync(0);
    await all;
    expect(log).toEqual(["big!250:timeout", "small@250"]);
  });

  it("removes its abort listener when it settles (no leak on a long-lived signal)", async () => {
    const { clock, limiter } = setup(ONE_PER_S);
    const controller = new AbortController();
    let listeners = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof remove;
    limiter.consumeSync("k");
    const waits = [1, 2, 3].map(() => limiter.waitFor("k", { signal }));
    expect(listeners).toBe(3);
    await clock.advanceAsync("3s");
    await Promise.all(waits);
    expect(listeners).toBe(0);
  });

  it("leaky bucket in delay mode: resolves when the caller may act, and an abort during the delay refunds", async () => {
    const { clock, limiter } = setup({
      limit: 10,
      window: "1s",
      burst: 5,
      algorithm: "leaky-bucket",
      mode: "delay",
    });
    const { log, track } = recorder(clock);
    const leave = new AbortController();
    const all = Promise.all([
      track("a", limiter.waitFor("k")),
      track("b", limiter.waitFor("k")),
      track("c", limiter.waitFor("k", { signal: leave.signal })),
    ]);
    await clock.advanceAsync(150);
    leave.abort("no longer needed");
    await clock.advanceAsync("1s");
    await all;
    expect(log).toEqual(["a@0", "b@100", "c!150:no longer needed"]);
    expect((await limiter.peek("k")).delayMs).toBe(0); // c's slot was given back
    expect(clock.pendingTimers()).toBe(0);
  });

  it("leaky bucket delay longer than maxWaitMs: refused at once, and the admission it made is refunded", async () => {
    const { limiter } = setup({
      limit: 10,
      window: "1s",
      burst: 5,
      algorithm: "leaky-bucket",
      mode: "delay",
    });
    limiter.consumeSync("k", { cost: 3 }); // the next caller would act 300 ms from now
    const before = await limiter.peek("k");
    const error = await limiter.waitFor("k", { maxWaitMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).decision.delayMs).toBe(300);
    expect(await limiter.peek("k")).toEqual(before);
  });

  it("rejects invalid options with one ConfigError, as a rejected promise (never a throw)", async () => {
    const { limiter } = setup(ONE_PER_S);
    let promise: Promise<Decision> | undefined;
    expect(() => {
      promise = limiter.waitFor("k", {
        cost: -1,
        maxWaitMs: "soon",
        maxQueue: 0,
        signal: {} as AbortSignal,
        priority: 1,
      } as never);
    }).not.toThrow();
    const error = (await promise!.catch((e: unknown) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((p) => p.option)).toEqual([
      "waitFor.priority",
      "waitFor.cost",
      "waitFor.maxWaitMs",
      "waitFor.maxQueue",
      "waitFor.signal",
    ]);
    await expect(limiter.waitFor("k".repeat(1025))).rejects.toThrow(ConfigError);
  });

  it("a store error rejects that waiter only: the queue moves on", async () => {
    const clock = manualClock(0);
    const base = createLimiter({ policies: TEN_PER_S, clock: clock.now });
    const flaky: Limiter = Object.assign(Object.create(base) as Limiter, {
      consumeSync(key: string, options?: { cost?: number }) {
        if (options?.cost === 7) throw new Error("store fell over");
        return base.consumeSync(key, options);
      },
    });
    const waiters = new WaitQueues(flaky, clock.timers);
    base.consumeSync("k", { cost: 10 });
    const { log, track } = recorder(clock);
    const all = Promise.all([
      track("a", waiters.waitFor("k", { cost: 1 })),
      track("bad", waiters.waitFor("k", { cost: 7 })),
      track("c", waiters.waitFor("k", { cost: 1 })),
    ]);
    await clock.advanceAsync("1s");
    await all;
    expect(log).toEqual(["a@100", "bad!100:Error: store fell over", "c@200"]);
  });

  it("without timers given, waits on the host's timers in real time (5/s: the 6th call waits)", async () => {
    const limiter = createLimiter({ policies: { limit: 5, window: "1s", algorithm: "gcra" } });
    const order: number[] = [];
    const start = Date.now();
    await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => limiter.waitFor("k").then(() => order.push(i))),
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(150); // one emission interval, about 200 ms
  });
});

describe("waitFor on a remote store (consume answers asynchronously)", () => {
  it("queues callers behind a refusal, one consume out at a time, in order", async () => {
    const clock = manualClock(0);
    const base = createLimiter({ policies: TEN_PER_S, clock: clock.now });
    const r = remote(base);
    const waiters = new WaitQueues(r.limiter, clock.timers, () => 0);
    base.consumeSync("k", { cost: 9 });
    const { log, track } = recorder(clock);
    const all = Promise.all(
      ["a", "b", "c", "d"].map((name) => track(name, waiters.waitFor("k", { cost: 1 }))),
    );
    await clock.advanceAsync("1s");
    await all;
    expect(log).toEqual(["a@0", "b@100", "c@200", "d@300"]);
  });

  it("adds jitter of at most 10% (and 25 ms) to a remote re-check; the memory store has none", async () => {
    const clock = manualClock(0);
    const base = createLimiter({
      policies: { limit: 1, window: "1s", algorithm: "fixed-window" },
      clock: clock.now,
    });
    const waiters = new WaitQueues(remote(base).limiter, clock.timers, () => 0.999);
    base.consumeSync("k");
    const { log, track } = recorder(clock);
    const p = track("k", waiters.waitFor("k"));
    await clock.advanceAsync(1024);
    expect(log).toEqual([]);
    await clock.advanceAsync(1);
    await p;
    expect(log).toEqual(["k@1025"]);
  });

  it("an abort while the head's consume is out refunds the charge: an aborted caller never spends quota", async () => {
    const clock = manualClock(0);
    const base = createLimiter({ policies: ONE_PER_S, clock: clock.now });
    const r = remote(base);
    const waiters = new WaitQueues(r.limiter, clock.timers, () => 0);
    r.hold(true);
    const controller = new AbortController();
    const p = waiters.waitFor("k", { signal: controller.signal });
    expect(r.pending()).toBe(1);
    controller.abort("gone");
    await expect(p).rejects.toBe("gone");
    r.release();
    await clock.advanceAsync(0);
    expect((await base.peek("k")).remaining).toBe(1);
  });

  it("a consume that throws instead of rejecting fails that waiter only", async () => {
    const clock = manualClock(0);
    const base = createLimiter({ policies: ONE_PER_S, clock: clock.now });
    let calls = 0;
    const broken: Limiter = Object.assign(Object.create(base) as Limiter, {
      canConsumeSync: false,
      consume(key: string, options?: { cost?: number }) {
        if (++calls === 3) throw new Error("thrown, not rejected"); // a's re-check
        return base.consume(key, options);
      },
    });
    const waiters = new WaitQueues(broken, clock.timers, () => 0);
    base.consumeSync("k");
    const { log, track } = recorder(clock);
    const all = Promise.all([track("a", waiters.waitFor("k")), track("b", waiters.waitFor("k"))]);
    await clock.advanceAsync("3s");
    await all;
    expect(log).toEqual(["a!1000:Error: thrown, not rejected", "b@1000"]);
  });

  it("refuses queued callers at their deadline while the head's consume is still out", async () => {
    const clock = manualClock(0);
    const base = createLimiter({ policies: ONE_PER_S, clock: clock.now });
    const r = remote(base);
    const waiters = new WaitQueues(r.limiter, clock.timers, () => 0);
    base.consumeSync("k");
    const { log, track } = recorder(clock);
    const head = track("head", waiters.waitFor("k"));
    await clock.advanceAsync(0); // refused: sleeps until 1000
    r.hold(true);
    await clock.advanceAsync(1000); // its second consume is out, and hangs
    const late = track("late", waiters.waitFor("k", { maxWaitMs: 50 }));
    await clock.advanceAsync(50);
    expect(log).toEqual(["late!1050:limited"]);
    r.hold(false);
    r.release();
    await clock.advanceAsync(0);
    await Promise.all([head, late]);
    expect(log).toEqual(["late!1050:limited", "head@1050"]);
  });
});

describe("WaiterList", () => {
  it("keeps delayed admissions in act-time order when remote answers come back out of order", () => {
    const list = new WaiterList();
    const at = (actAt: number) => ({ actAt }) as Waiter;
    const [a, b, c, d] = [at(100), at(300), at(200), at(50)];
    for (const w of [a, b, c, d]) list.insertByActAt(w);
    const order: number[] = [];
    for (let w = list.head; w !== undefined; w = w.next) order.push(w.actAt);
    expect(order).toEqual([50, 100, 200, 300]);
    list.remove(c);
    list.remove(d);
    expect([list.head?.actAt, list.tail?.actAt, list.size]).toEqual([100, 300, 2]);
  });
});
