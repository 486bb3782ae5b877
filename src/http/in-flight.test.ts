import { describe, expect, it } from "vitest";
import { createConcurrencyLimiter } from "../core/concurrency.js";
import { memoryStore } from "../core/memory-store.js";
import { manualClock } from "../testing/manual-clock.js";
import { InFlight, type RenewTimer } from "./in-flight.js";

/** A renewal timer driven by hand: `tick()` is one interval. */
function handTimer() {
  let tick: (() => void) | undefined;
  let starts = 0;
  const timer: RenewTimer = {
    start(t) {
      starts++;
      tick = t;
      return starts;
    },
    stop() {
      tick = undefined;
    },
  };
  return {
    timer,
    get starts() {
      return starts;
    },
    get running() {
      return tick !== undefined;
    },
  };
}

function setup() {
  const clock = manualClock();
  const slots = createConcurrencyLimiter({
    max: 5,
    leaseMs: "30s",
    store: memoryStore(),
    clock: clock.now,
  });
  const t = handTimer();
  const inFlight = new InFlight(clock.now, 10_000, t.timer);
  return { clock, slots, t, inFlight };
}

async function grant(slots: ReturnType<typeof setup>["slots"], key = "k") {
  const r = await slots.acquire(key);
  if (!r.allowed) throw new Error("refused");
  return r.lease;
}

describe("InFlight: the slots an HTTP limiter's requests hold", () => {
  it("renews a request that outlives its lease, so its slot is not freed under it", async () => {
    const { clock, slots, inFlight } = setup();
    inFlight.hold(slots, await grant(slots));
    inFlight.hold(slots, await grant(slots));
    for (let i = 0; i < 9; i++) {
      clock.advance("10s"); // 90 s in all: three leases' worth
      await inFlight.renewDue();
    }
    expect(await slots.inFlight("k")).toBe(2);
  });

  it("a released slot is free at once and never renewed again", async () => {
    const { clock, slots, inFlight } = setup();
    const h = inFlight.hold(slots, await grant(slots));
    inFlight.release(h);
    await new Promise((r) => setImmediate(r));
    expect(await slots.inFlight("k")).toBe(0);
    expect(inFlight.size).toBe(0);
    clock.advance("10s");
    await inFlight.renewDue();
    expect(await slots.inFlight("k")).toBe(0);
  });

  it("a lease lost to expiry is dropped: the request goes on uncounted", async () => {
    const { clock, slots, inFlight } = setup();
    inFlight.hold(slots, await grant(slots));
    clock.advance("31s"); // no renewal ran (a long outage): the lease expired
    await inFlight.renewDue();
    expect(inFlight.size).toBe(0);
    expect(await slots.inFlight("k")).toBe(0);
  });

  it("one timer for every held lease, running only while some lease is held", async () => {
    const { clock, slots, t, inFlight } = setup();
    expect(t.running).toBe(false);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(inFlight.hold(slots, await grant(slots, `k${i}`)));
    expect(t.starts).toBe(1);
    for (const h of held) inFlight.release(h);
    clock.advance("10s");
    await inFlight.renewDue(); // finds nothing held: stops
    expect(t.running).toBe(false);
    inFlight.hold(slots, await grant(slots));
    expect(t.starts).toBe(2);
    inFlight.close();
    expect(t.running).toBe(false);
  });
});
