import { describe, expect, it } from "vitest";
import { createAbuseDetector } from "./abuse-detector.js";
import type { AbuseDetector, TrafficVerdict } from "./types.js";

/**
 * Each signal, through the public analyze(): what makes a client suspicious, and what the busy
 * but legitimate look-alike of each attack does not. Time comes from each request's `time`.
 */

const T0 = 1_700_000_000_000;
const CHROME = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0";

type Request = { endpoint?: string; status?: number; userAgent?: string | undefined };

/** Sends `count` requests evenly over `spanMs` from `from`; returns every verdict. */
function send(
  d: AbuseDetector,
  id: string,
  count: number,
  spanMs: number,
  make: (i: number) => Request,
  from = T0,
): TrafficVerdict[] {
  const out: TrafficVerdict[] = [];
  for (let i = 0; i < count; i++) {
    const r = make(i);
    out.push(
      d.analyze(id, r.endpoint ?? "/api/v1/orders", {
        status: r.status ?? 200,
        userAgent: "userAgent" in r ? r.userAgent : CHROME,
        time: from + Math.floor((i * spanMs) / count),
      }),
    );
  }
  return out;
}

/** Seconds from the first request to the first suspicious verdict (undefined: never). */
function flaggedAfter(verdicts: readonly TrafficVerdict[], spanMs: number): number | undefined {
  const i = verdicts.findIndex((v) => v.isSuspicious);
  return i < 0 ? undefined : (i * spanMs) / verdicts.length / 1000;
}

const detector = (threshold = 1000) =>
  createAbuseDetector({ threshold, window: "60s", logger: false });

describe("rate", () => {
  it("flags a client above threshold per window, and says rate", () => {
    const v = send(detector(), "a", 1500, 60_000, () => ({})).at(-1)!;
    expect(v.isSuspicious).toBe(true);
    expect(v.reasons[0]).toBe("rate");
    expect(v.requestRate).toBeCloseTo(25, 0);
  });

  it("projects the rate of a new client from its first seconds: 100/s is flagged within 3 s", () => {
    const verdicts = send(detector(), "a", 1000, 10_000, () => ({}));
    expect(flaggedAfter(verdicts, 10_000)).toBeLessThan(3);
    expect(verdicts.at(-1)!.requestRate).toBeGreaterThan(90);
  });

  it("leaves a heavy client at half the threshold alone for ten minutes", () => {
    const verdicts = send(detector(), "heavy", 5000, 600_000, (i) => ({
      endpoint: `/api/v1/${["orders", "invoices", "me"][i % 3]}`,
    }));
    expect(verdicts.some((v) => v.isSuspicious)).toBe(false);
    expect(verdicts.at(-1)!.reasons).toEqual([]);
    expect(verdicts.at(-1)!.requestRate).toBeCloseTo(500 / 60, 0);
  });

  it("does not read a client's first few requests as a huge rate", () => {
    const verdicts = send(detector(), "a", 60, 1000, (i) => ({ endpoint: `/static/${i}.js` }));
    expect(verdicts.some((v) => v.isSuspicious)).toBe(false);
  });
});

describe("burst", () => {
  it("adds burst to a flood's reasons", () => {
    const v = send(detector(), "flood", 2000, 4000, () => ({})).at(-1)!;
    expect(v.isSuspicious).toBe(true);
    expect(v.reasons).toContain("burst");
  });

  it("is not suspicious alone: 150 requests in one second, then quiet", () => {
    const d = detector();
    const v = send(d, "batch", 150, 1000, () => ({}));
    expect(v.at(-1)!.reasons).toContain("burst");
    expect(v.some((x) => x.isSuspicious)).toBe(false);
  });
});

describe("scanning", () => {
  it("flags many distinct paths answered 404 within seconds", () => {
    const verdicts = send(detector(), "scanner", 60, 10_000, (i) => ({
      endpoint: `/probe/${i}.php`,
      status: i % 10 === 0 ? 403 : 404,
    }));
    expect(flaggedAfter(verdicts, 10_000)).toBeLessThan(5);
    expect(verdicts.at(-1)!.reasons).toContain("scanning");
  });

  it("leaves a crawler of existing items alone: distinct paths answered 200", () => {
    const verdicts = send(detector(), "crawler", 300, 60_000, (i) => ({
      endpoint: `/api/v1/items/${i}`,
      status: i % 20 === 0 ? 404 : 200,
    }));
    expect(verdicts.some((v) => v.isSuspicious)).toBe(false);
    expect(verdicts.at(-1)!.reasons).toContain("scanning");
  });
});

describe("errors", () => {
  it("flags a storm of 401 on /login (credential stuffing)", () => {
    const verdicts = send(detector(), "stuffer", 20, 10_000, () => ({
      endpoint: "/login",
      status: 401,
    }));
    expect(flaggedAfter(verdicts, 10_000)).toBeLessThan(4);
    expect(verdicts.at(-1)!.reasons[0]).toBe("errors");
  });

  it("leaves a user who mistyped a password three times alone", () => {
    const d = detector();
    send(d, "user", 25, 2000, (i) => ({ endpoint: `/static/${i}.css` }));
    const v = send(
      d,
      "user",
      4,
      30_000,
      (i) => ({ endpoint: "/login", status: i < 3 ? 401 : 303 }),
      T0 + 5000,
    );
    expect(v.some((x) => x.isSuspicious)).toBe(false);
  });

  it("leaves a page with eight missing images alone (one burst of 404s among 200s)", () => {
    const d = detector();
    const v = send(d, "browser", 30, 600, (i) => ({
      endpoint: `/img/${i}.jpg`,
      status: i >= 22 ? 404 : 200,
    }));
    expect(v.some((x) => x.isSuspicious)).toBe(false);
  });

  it("flags persistent probing at one request per second, mixed with ordinary pages", () => {
    const verdicts = send(detector(), "prober", 30, 30_000, (i) => ({
      endpoint: i % 3 === 2 ? "/" : `/backup-${i}.zip`,
      status: i % 3 === 2 ? 200 : 404,
    }));
    expect(flaggedAfter(verdicts, 30_000)).toBeLessThan(10);
  });

  it("does not count 429 as an error", () => {
    const verdicts = send(detector(), "eager", 50, 10_000, () => ({ status: 429 }));
    expect(verdicts.some((v) => v.isSuspicious)).toBe(false);
    expect(verdicts.at(-1)!.reasons).not.toContain("errors");
  });
});

describe("user-agent", () => {
  it("notes rotating agents but does not flag them alone (an office behind one address)", () => {
    const verdicts = send(detector(), "office", 120, 60_000, (i) => ({
      endpoint: `/page/${i % 12}`,
      userAgent: `${CHROME} user-${i % 8}`,
    }));
    expect(verdicts.at(-1)!.reasons).toContain("user-agent");
    expect(verdicts.some((v) => v.isSuspicious)).toBe(false);
  });

  it("notes a missing agent, only when the caller says what the agent was", () => {
    const d = detector();
    expect(send(d, "bare", 10, 5000, () => ({ userAgent: undefined })).at(-1)!.reasons).toEqual([
      "user-agent",
    ]);
    for (let i = 0; i < 10; i++) d.analyze("unknown", "/", { time: T0 + i * 500, status: 200 });
    expect(d.analyze("unknown", "/", { time: T0 + 5000 }).reasons).toEqual([]);
  });

  it("tips failed logins over when they come from rotating agents", () => {
    // One attempt in three fails: not enough alone; with a new agent each time, suspicious.
    const stuff = (rotate: boolean) =>
      send(detector(), "s", 40, 20_000, (i) => ({
        endpoint: "/login",
        status: i % 3 === 2 ? 401 : 200,
        userAgent: rotate ? `${CHROME}.${i}` : CHROME,
      }));
    expect(stuff(false).some((v) => v.isSuspicious)).toBe(false);
    const rotating = stuff(true).at(-1)!;
    expect(rotating.isSuspicious).toBe(true);
    expect(rotating.reasons).toEqual(["errors", "user-agent"]);
  });
});

describe("the window", () => {
  it("forgets a client silent for a whole window", () => {
    const d = detector();
    expect(
      send(d, "s", 30, 10_000, () => ({ endpoint: "/login", status: 401 })).at(-1)!.isSuspicious,
    ).toBe(true);
    const later = d.analyze("s", "/", {
      status: 200,
      userAgent: CHROME,
      time: T0 + 10_000 + 60_000,
    });
    expect(later).toEqual({
      requestRate: later.requestRate,
      suspicionScore: 0,
      isSuspicious: false,
      reasons: [],
      blocked: false,
    });
  });

  it("answers a plain verdict", () => {
    const v = createAbuseDetector({ logger: false, clock: () => T0 }).analyze("x", "/");
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v).sort()).toEqual([
      "blocked",
      "isSuspicious",
      "reasons",
      "requestRate",
      "suspicionScore",
    ]);
  });
});
