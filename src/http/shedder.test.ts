import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import type { ContinueOutcome, HttpLimiterOptions, HttpOutcome, ShedContext } from "./options.js";
import { TEMPORARY_REDUCED_CAPACITY_TYPE } from "./problem.js";
import type { HttpRequest } from "./request.js";

type Respond = Extract<HttpOutcome, { action: "respond" }>;

function req(path = "/", method = "GET"): HttpRequest {
  return { method, path, remoteAddress: "192.0.2.1", raw: undefined, header: () => undefined };
}

function build(options: Partial<HttpLimiterOptions>) {
  const clock = manualClock();
  return createHttpLimiter({
    clock: clock.now,
    rules: [
      { path: "/pay", priority: "critical", policies: "1000/min" },
      { path: "/search", priority: "sheddable", policies: "1000/min" },
      { path: "/health", priority: "critical", exempt: true },
    ],
    policies: "1000/min",
    ...options,
  });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.option);
    throw error;
  }
  throw new Error("no ConfigError");
}

describe("shed: the load shedder", () => {
  it("reserves room per class: critical all of it, normal all but 20%, sheddable 30% less", () => {
    const limiter = build({ shed: { maxInFlight: 10 } });
    expect(limiter.shed?.capacity).toEqual({ critical: 10, normal: 8, sheddable: 7 });
    // Rounded up to whole requests: with any reserve, each class sheds strictly before the next.
    const small = build({ shed: { maxInFlight: 3 } });
    expect(small.shed?.capacity).toEqual({ critical: 3, normal: 2, sheddable: 1 });
  });

  it("sheds sheddable first, then normal; critical uses the whole capacity", async () => {
    const limiter = build({ shed: { maxInFlight: 10 } });
    const held: ContinueOutcome[] = [];
    const get = async (path: string) => {
      const o = await limiter.handle(req(path));
      if (o.action === "continue") held.push(o);
      return o;
    };
    for (let i = 0; i < 7; i++) expect((await get("/search")).action).toBe("continue");
    const shed = (await get("/search")) as Respond;
    expect(shed.status).toBe(503);
    expect(shed.reason).toBe("shed");
    expect(shed.headers["Retry-After"]).toBe("1");
    expect(shed.headers["Cache-Control"]).toBe("no-store");
    expect(JSON.parse(shed.body!)).toMatchObject({
      type: TEMPORARY_REDUCED_CAPACITY_TYPE,
      status: 503,
      retryAfter: 1,
    });
    expect((await get("/")).action).toBe("continue"); // normal: 8th
    expect((await get("/")).action).toBe("respond");
    expect((await get("/pay")).action).toBe("continue"); // critical: 9th, 10th
    expect((await get("/health")).action).toBe("continue");
    expect(((await get("/pay")) as Respond).status).toBe(503);
    expect(limiter.shed?.inFlight).toBe(10);
    for (const o of held) o.after!(200);
    expect(limiter.shed?.inFlight).toBe(0);
  });

  it("counts each request once: after() twice, a 499 on abort, and the limiter's own answers", async () => {
    const limiter = build({ shed: { maxInFlight: 10 }, policies: "1/min" });
    const a = (await limiter.handle(req("/"))) as ContinueOutcome;
    expect(a.holds).toBe(true);
    expect(limiter.shed?.inFlight).toBe(1);
    a.after!(499);
    a.after!(200);
    expect(limiter.shed?.inFlight).toBe(0);
    // A refusal the limiter answers itself (429) holds nothing once answered.
    expect(((await limiter.handle(req("/"))) as Respond).status).toBe(429);
    expect(limiter.shed?.inFlight).toBe(0);
  });

  it("unmatched requests count at the top-level priority; skipped ones not at all", async () => {
    const limiter = createHttpLimiter({
      rules: [{ path: "/api/**", policies: "100/min" }],
      shed: { maxInFlight: 10 },
      priority: "sheddable",
      skip: (r) => r.path === "/skip",
    });
    for (let i = 0; i < 7; i++)
      expect((await limiter.handle(req("/page"))).reason).toBe("unmatched");
    expect(((await limiter.handle(req("/page"))) as Respond).status).toBe(503);
    expect((await limiter.handle(req("/api/x"))).action).toBe("continue"); // normal
    expect((await limiter.handle(req("/skip"))).reason).toBe("skipped");
    expect(limiter.shed?.inFlight).toBe(8);
  });

  it("refuses before the identity and the store: a shed request costs a comparison", async () => {
    let identified = 0;
    const limiter = createHttpLimiter({
      policies: "100/min",
      identity: () => {
        identified++;
        return "k";
      },
      shed: { maxInFlight: 1, reserve: { critical: 0, normal: 0 } },
    });
    await limiter.handle(req());
    expect(identified).toBe(1);
    expect(((await limiter.handle(req())) as Respond).reason).toBe("shed");
    expect(identified).toBe(1);
  });

  it("a fault on the path (an identity bug) leaves the count", async () => {
    const limiter = createHttpLimiter({
      policies: "100/min",
      identity: async () => 42 as never,
      shed: { maxInFlight: 5 },
    });
    await expect(Promise.resolve().then(() => limiter.handle(req()))).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(limiter.shed?.inFlight).toBe(0);
  });

  it("onShed builds the response, with the priority, rule and count", async () => {
    const seen: ShedContext[] = [];
    const limiter = build({
      shed: { maxInFlight: 2, reserve: { critical: 0.5, normal: 0 }, retryAfter: "5s" },
      onShed: (c) => {
        seen.push(c as ShedContext);
        return { body: { busy: true } };
      },
    });
    await limiter.handle(req("/search"));
    const r = (await limiter.handle(req("/search"))) as Respond;
    expect(r.status).toBe(503);
    expect(r.headers["Retry-After"]).toBe("5");
    expect(r.headers["Cache-Control"]).toBe("no-store");
    expect(r.body).toBe('{"busy":true}');
    expect(seen[0]).toMatchObject({
      priority: "sheddable",
      rule: expect.stringMatching(/^r-[0-9a-f]{8}$/),
      inFlight: 1,
      retryAfter: 5,
    });
  });

  it("limiters given one shedder count together", async () => {
    const a = build({ shed: { maxInFlight: 3, reserve: { critical: 0, normal: 0 } } });
    const b = build({ shed: a.shed! });
    expect(b.shed).toBe(a.shed);
    await a.handle(req());
    await b.handle(req());
    await b.handle(req());
    expect(((await a.handle(req())) as Respond).reason).toBe("shed");
  });

  it("validates shed and priority with every other option, in one ConfigError", () => {
    const bad = (shed: unknown, extra: object = {}) =>
      problemsOf(() =>
        createHttpLimiter({ policies: "1/s", shed, ...extra } as unknown as HttpLimiterOptions),
      );
    expect(bad({ maxInFlight: 0, retryAfter: "soon", typo: 1 })).toEqual([
      "shed.typo",
      "shed.maxInFlight",
      "shed.retryAfter",
    ]);
    expect(bad({ maxInFlight: 10, reserve: { critical: -0.1, normal: 1 } })).toEqual([
      "shed.reserve.critical",
      "shed.reserve.normal",
    ]);
    expect(bad({ maxInFlight: 10, reserve: { critical: 0.6, normal: 0.4 } })).toEqual([
      "shed.reserve",
    ]);
    expect(bad(100)).toEqual(["shed"]);
    expect(bad({ maxInFlight: 10 }, { priority: "high", onShed: "503" })).toEqual([
      "onShed",
      "priority",
    ]);
    // Too small for its reserves: sheddable requests would never get in.
    let message = "";
    try {
      createHttpLimiter({ policies: "1/s", shed: { maxInFlight: 2 } });
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/shed\.maxInFlight[\s\S]*at least 3/);
  });
});
