import { describe, expect, it } from "vitest";
import type { ListEntry, ListStore } from "../core/list-store.js";
import { memoryLists } from "../core/memory-list-store.js";
import { memoryStore } from "../core/memory-store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import { parseIp } from "./ip-address.js";
import { ListIndex } from "./lists.js";
import type { HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";

function req(address = "192.0.2.1"): HttpRequest {
  return {
    method: "GET",
    path: "/",
    remoteAddress: address,
    raw: undefined,
    header: () => undefined,
  };
}

/** A list store under the test's control: each entries() call takes the answer of the moment. */
function flakyLists(notify = false) {
  let answer: () => Promise<ListEntry[]> = async () => [];
  let listener: (() => void) | undefined;
  const calls = { entries: 0 };
  const lists: ListStore = {
    add: async () => {},
    remove: async () => false,
    entries: () => {
      calls.entries++;
      return answer();
    },
    ...(notify
      ? {
          subscribe: (l: () => void) => {
            listener = l;
            return () => {};
          },
        }
      : {}),
  };
  return {
    lists,
    calls,
    set(next: () => Promise<ListEntry[]>) {
      answer = next;
    },
    signal: () => listener?.(),
  };
}

const down = () => Promise.reject(new Error("store down"));
const never = () => new Promise<ListEntry[]>(() => {});
const deny = (value: string): ListEntry => ({
  list: "deny",
  value,
  addedAt: 0,
  expiresAt: undefined,
  reason: undefined,
});

function build(store: ListStore, extra: { deny?: string[] } = {}) {
  const clock = manualClock();
  const limiter = createHttpLimiter({
    policies: "100/min",
    store: Object.assign(memoryStore(), { lists: () => store }),
    clock: clock.now,
    listsRefresh: "5s",
    ...extra,
  });
  return { clock, limiter };
}

async function reasons(handle: () => unknown, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await (handle() as Promise<HttpOutcome>)).reason);
  return out;
}

describe("lists during a store outage (issue 13, item 2)", () => {
  it("down at start: requests pass on the static entries, and the store is retried in the background, not per request", async () => {
    const f = flakyLists();
    f.set(down);
    const { limiter, clock } = build(f.lists, { deny: ["198.51.100.9"] });
    expect(await reasons(() => limiter.handle(req()), 20)).toEqual(Array(20).fill("ok"));
    expect((await limiter.handle(req("198.51.100.9"))).reason).toBe("denied");
    expect(f.calls.entries).toBe(1);
    clock.advance("1s");
    await limiter.handle(req());
    await limiter.handle(req());
    expect(f.calls.entries).toBe(2);
    // Backoff: the next retry waits 2 s.
    clock.advance("1s");
    await limiter.handle(req());
    expect(f.calls.entries).toBe(2);
    clock.advance("1s");
    await limiter.handle(req());
    expect(f.calls.entries).toBe(3);
  });

  it("a store that comes back is read again, and its entries apply", async () => {
    const f = flakyLists();
    f.set(down);
    const { limiter, clock } = build(f.lists);
    expect((await limiter.handle(req())).reason).toBe("ok");
    f.set(async () => [deny("192.0.2.1")]);
    clock.advance("1s");
    await limiter.handle(req()); // starts the background load
    await Promise.resolve();
    expect((await limiter.handle(req())).reason).toBe("denied");
  });

  it("failing after a good load: the last good snapshot keeps applying", async () => {
    const f = flakyLists();
    f.set(async () => [deny("192.0.2.1")]);
    const { limiter, clock } = build(f.lists);
    expect((await limiter.handle(req())).reason).toBe("denied");
    f.set(down);
    clock.advance("5s");
    expect(await reasons(() => limiter.handle(req()), 5)).toEqual(Array(5).fill("denied"));
    expect((await limiter.handle(req("192.0.2.2"))).reason).toBe("ok");
  });

  it("a stalled background load never holds a request", async () => {
    const f = flakyLists();
    const { limiter, clock } = build(f.lists);
    await limiter.handle(req());
    f.set(never);
    clock.advance("5s");
    // Synchronous outcomes (memory store): nothing waits on the stalled load.
    for (let i = 0; i < 5; i++) expect((limiter.handle(req()) as HttpOutcome).reason).toBe("ok");
    expect(f.calls.entries).toBe(2);
  });

  it("a change signal whose reload fails answers on the last snapshot, once", async () => {
    const f = flakyLists(true);
    f.set(async () => [deny("192.0.2.1")]);
    const { limiter } = build(f.lists);
    expect((await limiter.handle(req())).reason).toBe("denied");
    f.set(down);
    f.signal();
    expect(await reasons(() => limiter.handle(req()), 5)).toEqual(Array(5).fill("denied"));
    // One awaited reload for the signal; the retry waits for its backoff.
    expect(f.calls.entries).toBe(2);
  });

  it("a change signal during a load in flight is not answered with that load's older snapshot", async () => {
    const f = flakyLists(true);
    const { limiter } = build(f.lists);
    expect((await limiter.handle(req())).reason).toBe("ok");
    // A load starts (signal 1) and is still in flight when the entry lands and signal 2 comes.
    let release: (entries: ListEntry[]) => void = () => {};
    f.set(() => new Promise<ListEntry[]>((resolve) => (release = resolve)));
    f.signal();
    const first = limiter.handle(req()) as Promise<HttpOutcome>;
    f.set(async () => [deny("192.0.2.1")]);
    f.signal();
    const second = limiter.handle(req()) as Promise<HttpOutcome>;
    release([]); // the older snapshot: no entry yet
    expect((await first).reason).toBe("ok");
    expect((await second).reason).toBe("denied");
  });

  it("a store that throws synchronously is a failed load too", async () => {
    const f = flakyLists();
    f.set(() => {
      throw new Error("sync throw");
    });
    const { limiter } = build(f.lists);
    expect((await limiter.handle(req())).reason).toBe("ok");
  });
});

describe("matched entries", () => {
  it("carry their list, expiry and reason; a deny wins; the longest of one list speaks", async () => {
    const clock = manualClock();
    const store = memoryLists()("t");
    const index = new ListIndex(store, true, clock.now, [{ list: "allow", value: "user:a" }], 5000);
    const now = clock.now();
    await index.deny("user:a", { for: "1m", reason: "short" });
    await index.deny("user:a", { for: "1h", reason: "long" });
    await index.deny("10.0.0.0/8", { reason: "range" });
    await index.allow("10.1.0.0/16");
    expect(index.matchKey("user:a", now)).toEqual({
      list: "deny",
      expiresAt: now + 3_600_000,
      reason: "long",
    });
    expect(index.matchKey("user:a", now + 3_600_000)).toMatchObject({ list: "allow" });
    expect(index.matchKey("user:b", now)).toBeUndefined();
    expect(index.matchAddress(parseIp("10.1.2.3"), now)).toMatchObject({
      list: "deny",
      reason: "range",
      expiresAt: Number.POSITIVE_INFINITY,
    });
    expect(index.matchAddress(parseIp("192.0.2.1"), now)).toBeUndefined();
    index.close();
  });
});
