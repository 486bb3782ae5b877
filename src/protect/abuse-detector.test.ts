import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { type AutoBlockEvent, createEvents } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import { memoryLists } from "../core/memory-list-store.js";
import { createAbuseDetector } from "./abuse-detector.js";
import { ABUSE_REASON_PREFIX, type AbuseDetector, type AbuseDetectorOptions } from "./types.js";

const T0 = 1_700_000_000_000;

/** 30 failed logins over 10 s: suspicious (errors) after a few. Returns the last verdict. */
function stuff(d: AbuseDetector, id: string, from = T0) {
  let last = d.analyze(id, "/login", { status: 401, userAgent: "x", time: from });
  for (let i = 1; i < 30; i++)
    last = d.analyze(id, "/login", { status: 401, userAgent: "x", time: from + i * 333 });
  return last;
}

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => lines.push(m) } };
}

describe("autoBlock", () => {
  it("puts a suspicious client on the deny list once, with the expiry and an abuse: reason", async () => {
    const lists = memoryLists()("tk");
    const events = createEvents({ logger: false });
    const seen: AutoBlockEvent[] = [];
    events.on("autoBlock", (e) => seen.push(e));
    const log = recorder();
    const d = createAbuseDetector({
      autoBlock: true,
      blockDuration: "10m",
      lists,
      events,
      logger: log.logger,
    });
    const v = stuff(d, "203.0.113.7");
    expect(v).toMatchObject({ isSuspicious: true, blocked: true });
    const entries = await lists.entries(T0 + 10_000);
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(entry.list).toBe("deny");
    expect(entry.value).toBe("203.0.113.7");
    expect(entry.reason).toBe(`${ABUSE_REASON_PREFIX} errors`);
    const blockedAt = entry.addedAt;
    expect(entry.expiresAt).toBe(blockedAt + 600_000);

    // One event, one log line: not one per request while the block stands.
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      type: "autoBlock",
      identifier: "203.0.113.7",
      by: "abuse",
      reasons: ["errors"],
      durationMs: 600_000,
      time: blockedAt,
      until: blockedAt + 600_000,
    });
    expect(seen[0]!.score).toBeGreaterThanOrEqual(0.8);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain("WARN_TK_AUTO_BLOCKED");
    expect(log.lines[0]).toContain("203.0.113.7");

    expect(d.isBlocked("203.0.113.7", blockedAt + 599_999)).toBe(true);
    expect(d.isBlocked("203.0.113.7", blockedAt + 600_000)).toBe(false);
    expect(d.isBlocked("198.51.100.1", blockedAt)).toBe(false);
  });

  it("blocks again when the block has run out and the client is still at it", async () => {
    const lists = memoryLists()("tk");
    const log = recorder();
    const d = createAbuseDetector({
      autoBlock: true,
      blockDuration: "1m",
      lists,
      logger: log.logger,
    });
    stuff(d, "a");
    expect(stuff(d, "a", T0 + 10_000 + 30_000).blocked).toBe(true);
    expect(log.lines).toHaveLength(1);
    stuff(d, "a", T0 + 10_000 + 61_000);
    expect(log.lines).toHaveLength(2);
    expect(await lists.entries(T0 + 75_000)).toHaveLength(1);
  });

  it("keeps at most maxBlocked blocks on the deny list at once; past it, blocks stay local", async () => {
    const lists = memoryLists()("tk");
    const log = recorder();
    const d = createAbuseDetector({
      autoBlock: true,
      blockDuration: "1m",
      maxBlocked: 2,
      lists,
      logger: log.logger,
    });
    for (const id of ["a", "b", "c", "e"]) expect(stuff(d, id).blocked).toBe(true);
    // Two on the fleet's list; the third and fourth are blocked here only, logged once.
    expect((await lists.entries(T0 + 10_000)).map((e) => e.value)).toEqual(["a", "b"]);
    expect(d.isBlocked("c", T0 + 10_000)).toBe(true);
    expect(log.lines.filter((l) => l.includes("WARN_TK_DENY_LIST_FULL"))).toHaveLength(1);
    expect(log.lines.find((l) => l.includes("WARN_TK_DENY_LIST_FULL"))).toContain('"c"');
    // Once the first two have run out, the list has room again.
    expect(stuff(d, "f", T0 + 10_000 + 60_000).blocked).toBe(true);
    expect((await lists.entries(T0 + 80_000)).map((e) => e.value)).toEqual(["f"]);
  });

  it("keeps blocks in the process without lists", () => {
    const d = createAbuseDetector({ autoBlock: true, logger: false });
    expect(stuff(d, "a").blocked).toBe(true);
    expect(d.isBlocked("a", T0 + 10_000)).toBe(true);
    d.reset("a");
    expect(d.isBlocked("a", T0 + 10_000)).toBe(false);
  });

  it("only reports without autoBlock", () => {
    const log = recorder();
    const d = createAbuseDetector({ logger: log.logger });
    expect(stuff(d, "a")).toMatchObject({ isSuspicious: true, blocked: false });
    expect(d.isBlocked("a", T0 + 10_000)).toBe(false);
    expect(log.lines).toEqual([]);
  });

  it("keeps a block when the client's history is evicted", () => {
    const d = createAbuseDetector({ autoBlock: true, maxClients: 2, logger: false });
    stuff(d, "a");
    d.analyze("b", "/", { time: T0 + 11_000 });
    d.analyze("c", "/", { time: T0 + 11_000 });
    expect(d.size).toBe(2);
    expect(d.analyze("a", "/", { status: 200, time: T0 + 12_000 }).blocked).toBe(true);
  });

  it("never throws from analyze when the lists fail, rejecting or throwing", async () => {
    const rejecting: ListStore = {
      add: () => Promise.reject(new Error("store down")),
      remove: () => Promise.reject(new Error("store down")),
      entries: () => Promise.reject(new Error("store down")),
    };
    const throwing: ListStore = {
      ...rejecting,
      add: () => {
        throw new Error("store down");
      },
    };
    for (const lists of [rejecting, throwing]) {
      const d = createAbuseDetector({ autoBlock: true, lists, logger: false });
      expect(stuff(d, "a").blocked).toBe(true);
      expect(d.isBlocked("a", T0 + 10_000)).toBe(true);
    }
    // A rejection left unhandled would fail the run: let it surface if there is one.
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe("bounded memory", () => {
  it("tracks at most maxClients under a flood of 1,000,000 distinct identifiers", () => {
    const d = createAbuseDetector({ maxClients: 1000, logger: false });
    for (let i = 0; i < 1_000_000; i++) d.analyze(`id-${i}`, "/", { time: T0 + i });
    expect(d.size).toBe(1000);
    // The newest are remembered, the oldest forgotten (they start over if they come back).
    expect(d.analyze("id-999999", "/", { time: T0 + 1_000_000 }).requestRate).toBeGreaterThan(0);
  });

  it("forgets the least recently seen, not the first seen", () => {
    const d = createAbuseDetector({ maxClients: 2, logger: false });
    stuff(d, "old");
    d.analyze("new", "/", { time: T0 + 10_000 });
    d.analyze("old", "/login", { status: 401, time: T0 + 10_001 });
    d.analyze("newer", "/", { time: T0 + 10_002 });
    // "new" went; "old" kept its history (still suspicious).
    expect(d.analyze("old", "/login", { status: 401, time: T0 + 10_003 }).isSuspicious).toBe(true);
    expect(d.size).toBe(2);
  });

  it("uses its clock for a request whose time is not a number", () => {
    let now = T0;
    const d = createAbuseDetector({ logger: false, clock: () => now });
    for (let i = 0; i < 30; i++, now += 333)
      d.analyze("a", "/login", { status: 401, time: i % 2 === 0 ? Number.NaN : now });
    const v = d.analyze("a", "/login", { status: 401, time: Number.POSITIVE_INFINITY });
    expect(v.isSuspicious).toBe(true);
    expect(Number.isFinite(v.requestRate)).toBe(true);
  });

  it("reset() forgets everyone", () => {
    const d = createAbuseDetector({ logger: false });
    stuff(d, "a");
    d.reset();
    expect(d.size).toBe(0);
  });
});

describe("options", () => {
  function problems(options: unknown): string[] {
    try {
      createAbuseDetector(options as AbuseDetectorOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((p) => p.option);
    }
    return [];
  }

  it("accepts nothing, and every option", () => {
    expect(problems({})).toEqual([]);
    expect(
      problems({
        threshold: 500,
        window: "30s",
        autoBlock: true,
        blockDuration: 60_000,
        scoreThreshold: 0.9,
        lists: memoryLists()("x"),
        maxClients: 10,
        maxBlocked: 5,
        events: createEvents(),
        logger: false,
        clock: () => 0,
      }),
    ).toEqual([]);
  });

  it("lists every problem at once", () => {
    expect(
      problems({
        threshold: 0,
        window: "100",
        autoBlock: "yes",
        blockDuration: "-1s",
        scoreThreshold: 1.5,
        lists: {},
        maxClients: 1.5,
        maxBlocked: 0,
        events: {},
        logger: "console",
        clock: 5,
        treshold: 10,
      }),
    ).toEqual([
      "treshold",
      "threshold",
      "window",
      "autoBlock",
      "blockDuration",
      "scoreThreshold",
      "lists",
      "maxClients",
      "maxBlocked",
      "events",
      "logger",
      "clock",
    ]);
    expect(problems(null)).toEqual(["createAbuseDetector(options)"]);
  });

  it("says what it received and what it expects", () => {
    expect(() => createAbuseDetector({ window: "1ms" })).toThrow(
      /window: received "1ms"; expected a duration of at least 1s/,
    );
  });
});
