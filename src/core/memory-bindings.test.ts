/**
 * The memory store's bindings (one per prefix + policy set) are bounded: a policy function that
 * builds limits from client input mints one per distinct limit, and the store must not keep
 * them all. A binding goes only once no limiter holds it and its keys are gone; one with live
 * state stays, and two binds of one prefix and policies keep sharing it.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** What the store holds per binding: registered (weakly) and held (strongly, having keys). */
type Counts = { readonly bindingCount: number; readonly heldCount: number };

/** Collects garbage and lets the finalizers that follow run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

it("100,000 attacker-chosen policy sets leave a bounded registry, and live state survives", async () => {
  const clock = manualClock();
  const store = memoryStore({ logger: false });
  const counts = store as unknown as Counts;
  const opts = { store, prefix: "api", clock: clock.now } as const;

  const live = createLimiter({ ...opts, policies: "1000/1d" });
  for (let i = 0; i < 5; i++) live.consumeSync("alice");
  // Limiters dropped at once whose keys are still live: a limited counter and a block.
  for (let i = 0; i < 3; i++) createLimiter({ ...opts, policies: "3/1d" }).consumeSync("bob");
  await createLimiter({ ...opts, policies: "7/1d" }).block("carol", 86_400_000);

  let mostHeld = 0;
  let mostKeys = 0;
  for (let i = 0; i < 100_000; i++) {
    clock.advance(10);
    // What `(req) => \`${req.header("x-limit")}/s\`` builds, one request per distinct value.
    createLimiter({ ...opts, policies: `${i + 2}/s` }).consumeSync("mallory");
    if (i % 1000 === 0) {
      mostHeld = Math.max(mostHeld, counts.heldCount);
      mostKeys = Math.max(mostKeys, store.size);
    }
  }
  // Each held binding holds a key; rested ones are swept as new ones arrive (a 1 s window,
  // 10 ms apart: about 3 windows' worth, 300, before the sweep reaches them).
  expect(mostHeld).toBeLessThan(1000);
  expect(mostKeys).toBeLessThan(1000);
  await settle();
  expect(counts.bindingCount).toBeLessThan(1000);
  // The live limiter's binding holds a key; every binding neither held nor in use was collected.
  expect(counts.bindingCount).toBe(counts.heldCount);

  // The limiter still in use kept its count, and a second bind of it shares it.
  expect((await live.peek("alice")).remaining).toBe(995);
  const twin = createLimiter({ ...opts, policies: "1000/1d" });
  twin.consumeSync("alice");
  expect((await live.peek("alice")).remaining).toBe(994);
  // State nobody held a limiter for, but still live, was kept.
  const bob = createLimiter({ ...opts, policies: "3/1d" }).consumeSync("bob");
  expect(bob).toMatchObject({ allowed: false, reason: "limited", remaining: 0 });
  const carol = createLimiter({ ...opts, policies: "7/1d" }).consumeSync("carol");
  expect(carol).toMatchObject({ allowed: false, reason: "blocked" });
}, 120_000);

it("a binding a limiter holds is kept, and shared, after its keys are gone", async () => {
  const clock = manualClock();
  const store = memoryStore({ logger: false });
  const counts = store as unknown as Counts;
  const opts = { store, prefix: "api", clock: clock.now } as const;
  const a = createLimiter({ ...opts, policies: "5/s" });
  a.consumeSync("k");
  expect(counts.heldCount).toBe(1);
  clock.advance("10s");
  // New bindings taking their first key sweep older ones: a's key at rest goes.
  for (let i = 0; i < 10; i++) createLimiter({ ...opts, policies: `${i + 10}/s` }).consumeSync("x");
  await settle();
  expect(counts.heldCount).toBe(10); // a holds no key now: only its limiter keeps it
  expect((await a.peek("k")).remaining).toBe(5);
  a.consumeSync("k");
  const b = createLimiter({ ...opts, policies: "5/s" });
  b.consumeSync("k");
  expect((await a.peek("k")).remaining).toBe(3);
  expect(counts.bindingCount).toBe(counts.heldCount);
});

it("a binding nobody holds and with no keys is collected", async () => {
  const clock = manualClock();
  const store = memoryStore({ logger: false });
  const counts = store as unknown as Counts;
  const opts = { store, prefix: "api", clock: clock.now } as const;
  for (let i = 0; i < 100; i++) createLimiter({ ...opts, policies: `${i + 2}/s` });
  await settle();
  expect(counts.bindingCount).toBe(0);
  expect(counts.heldCount).toBe(0);
  expect(store.size).toBe(0);
});
