import { buildSchema, parse } from "graphql";
import { GraphQLError as GraphQLError17 } from "graphql17";
import { describe, expect, it } from "vitest";
import { type HttpRequest, UNLIMITED } from "../http/index.js";
import { ConfigError } from "../index.js";
import { manualClock } from "../testing/index.js";
import { createGraphQLLimiter } from "./limiter.js";
import { toGraphQLError } from "./refusal.js";
import type { CheckResult, GraphQLLimiterOptions } from "./types.js";

const schema = buildSchema(`
  type Query { hello: String, ping: String, user(id: ID): User, users(first: Int): [User] }
  type User { id: ID, name: String, friend: User }
  type Mutation { like: Boolean }
`);

// Explicit weights, so every figure below is computed by hand from the `costs` map alone.
const costs = { "Query.hello": 3, "Query.ping": 1, "Mutation.like": 2 };
const HELLO = parse("{ hello }"); // 3
const PING = parse("{ ping }"); // 1
const LIKE = parse("mutation { like }"); // 2

function limiter(options: GraphQLLimiterOptions = {}) {
  const clock = manualClock();
  return { clock, limiter: createGraphQLLimiter({ costs, clock: clock.now, ...options }) };
}

function refusal(r: CheckResult) {
  if (r.allowed) throw new Error("expected a refusal");
  return r.refusal;
}

function request(address: string): HttpRequest {
  return {
    method: "POST",
    path: "/graphql",
    remoteAddress: address,
    raw: {},
    header: () => undefined,
  };
}

describe("createGraphQLLimiter options", () => {
  it("reports every bad option in one ConfigError", () => {
    let error: unknown;
    try {
      createGraphQLLimiter({
        maxCost: -1,
        maxDepth: 1.5,
        points: "lots",
        queries: "0/min",
        objectCost: -2,
        costs: { "Query.x": Number.NaN },
        trustProxy: "everyone" as never,
        settle: "yes" as never,
        colour: "red",
      } as GraphQLLimiterOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const options = (error as ConfigError).problems.map((p) => p.option);
    for (const name of [
      "maxCost",
      "maxDepth",
      "points",
      "queries",
      "objectCost",
      "costs",
      "trustProxy",
      "settle",
      "colour",
    ]) {
      expect(options.some((o) => o.startsWith(name))).toBe(true);
    }
  });
});

describe("static limits", () => {
  it("refuses a deep operation with QUERY_TOO_DEEP and charges nothing", async () => {
    const { limiter: l } = limiter({ maxDepth: 2, points: "10/min" });
    const deep = parse("{ user { friend { friend { id } } } }");
    const r = refusal(await l.check({ schema, document: deep, key: "a" }));
    expect(r).toMatchObject({ code: "QUERY_TOO_DEEP", limit: 2, status: 400, retryAfterMs: 0 });
    expect(r.cost).toBeGreaterThan(2);
    const next = await l.check({ schema, document: HELLO, key: "a" });
    expect(next.extension?.remaining).toBe(7); // only hello's 3 charged
  });

  it("refuses cost, aliases and root fields over their caps with QUERY_TOO_COMPLEX", async () => {
    const { limiter: l } = limiter({ maxCost: 5, maxAliases: 2, maxRootFields: 3 });
    const costly = refusal(
      await l.check({ schema, document: parse("{ a: hello b: hello }"), key: "k" }),
    );
    expect(costly).toMatchObject({ code: "QUERY_TOO_COMPLEX", cost: 6, limit: 5, status: 400 });
    const aliased = parse("{ a: ping b: ping c: ping }");
    expect(refusal(await l.check({ schema, document: aliased, key: "k" }))).toMatchObject({
      code: "QUERY_TOO_COMPLEX",
      limit: 2,
    });
    const wide = parse("{ ping hello user { id } users(first: 1) { id } }");
    const manyRoots = createGraphQLLimiter({ costs, maxRootFields: 3 });
    expect(refusal(await manyRoots.check({ schema, document: wide, key: "k" }))).toMatchObject({
      code: "QUERY_TOO_COMPLEX",
      limit: 3,
    });
  });

  it("answers a cost above the whole budget with QUERY_TOO_COMPLEX: no wait could admit it", async () => {
    const { limiter: l } = limiter({ points: "5/min" });
    const r = refusal(
      await l.check({ schema, document: parse("{ a: hello b: hello }"), key: "k" }),
    );
    expect(r).toMatchObject({ code: "QUERY_TOO_COMPLEX", cost: 6, limit: 5, status: 400 });
    expect((await l.check({ schema, document: HELLO, key: "k" })).extension?.remaining).toBe(2);
  });
});

describe("points and operation rates", () => {
  it("charges the cost to the budget until it is spent, then refuses with 429 and Retry-After", async () => {
    const { clock, limiter: l } = limiter({ points: "10/min" });
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await l.check({ schema, document: HELLO, key: "k" });
      expect(r.allowed).toBe(true);
      expect(r.extension).toMatchObject({ cost: 3, limit: 10 });
      expect(r.extension!.resetAt).toBeGreaterThan(clock.now());
      seen.push(r.extension?.remaining);
    }
    expect(seen).toEqual([7, 4, 1]);
    const r = refusal(await l.check({ schema, document: HELLO, key: "k" }));
    expect(r).toMatchObject({ code: "RATE_LIMITED", cost: 3, limit: 10, status: 429 });
    expect(r.retryAfterMs).toBeGreaterThan(0);
    expect(Number(r.headers["Retry-After"])).toBeGreaterThanOrEqual(1);
    expect((await l.check({ schema, document: PING, key: "k" })).allowed).toBe(true);
    clock.advance("1m");
    expect((await l.check({ schema, document: HELLO, key: "k" })).allowed).toBe(true);
  });

  it("counts queries and mutations against separate rates", async () => {
    const { limiter: l } = limiter({ queries: "2/min", mutations: "1/min" });
    expect((await l.check({ schema, document: PING, key: "k" })).allowed).toBe(true);
    expect((await l.check({ schema, document: PING, key: "k" })).allowed).toBe(true);
    const q = refusal(await l.check({ schema, document: PING, key: "k" }));
    expect(q).toMatchObject({ code: "RATE_LIMITED", limit: 2, status: 429 });
    expect(q.message).toContain("queries");
    const m = await l.check({ schema, document: LIKE, key: "k" });
    expect(m.allowed).toBe(true);
    // Without points the extension reports the operation rate's budget.
    expect(m.extension).toMatchObject({ cost: 2, limit: 1, remaining: 0 });
    expect(refusal(await l.check({ schema, document: LIKE, key: "k" })).limit).toBe(1);
  });

  it("spends nothing on a refused operation: a points refusal gives the rate's unit back", async () => {
    const { limiter: l } = limiter({ queries: "2/min", points: "4/min" });
    expect((await l.check({ schema, document: HELLO, key: "k" })).allowed).toBe(true); // 1 point left
    const refused = await l.check({ schema, document: HELLO, key: "k" });
    expect(refusal(refused).code).toBe("RATE_LIMITED");
    expect(refused.extension).toMatchObject({ cost: 3, limit: 4, remaining: 1 });
    // Had the refused query counted, this second admitted one would be the rate's third.
    expect((await l.check({ schema, document: PING, key: "k" })).allowed).toBe(true);
    // Refused by the rate, the points budget was not consulted: the extension has only the cost.
    const byRate = await l.check({ schema, document: PING, key: "k" });
    expect(refusal(byRate).limit).toBe(2);
    expect(byRate.extension).toEqual({
      cost: 1,
      remaining: undefined,
      limit: undefined,
      resetAt: undefined,
    });
  });

  it("keeps identities apart and lets UNLIMITED past the budgets but not the static limits", async () => {
    const vip = "10.0.0.9";
    const { limiter: l } = limiter({
      points: "3/min",
      maxDepth: 2,
      identity: (req) => (req.remoteAddress === vip ? UNLIMITED : `ip:${req.remoteAddress}`),
    });
    expect((await l.check({ schema, document: HELLO, request: request("10.0.0.1") })).allowed).toBe(
      true,
    );
    expect((await l.check({ schema, document: HELLO, request: request("10.0.0.1") })).allowed).toBe(
      false,
    );
    expect((await l.check({ schema, document: HELLO, request: request("10.0.0.2") })).allowed).toBe(
      true,
    );
    for (let i = 0; i < 3; i++) {
      const r = await l.check({ schema, document: HELLO, request: request(vip) });
      expect(r.allowed && r.extension).toEqual({
        cost: 3,
        remaining: undefined,
        limit: undefined,
        resetAt: undefined,
      });
    }
    const deep = parse("{ user { friend { id } } }");
    expect(refusal(await l.check({ schema, document: deep, request: request(vip) })).code).toBe(
      "QUERY_TOO_DEEP",
    );
  });

  it("asks no identity when nothing counts the operation (static limits only)", async () => {
    const { limiter: l } = limiter({ maxDepth: 3, mutations: "1/min" });
    const anonymous: HttpRequest = { ...request("x"), remoteAddress: undefined };
    // ip() cannot identify a request without an address; a query here needs no identity at all.
    expect((await l.check({ schema, document: HELLO, request: anonymous })).allowed).toBe(true);
    expect((await l.check({ schema, document: HELLO })).allowed).toBe(true);
    await expect(l.check({ schema, document: LIKE, request: anonymous })).rejects.toMatchObject({
      code: "ERR_TK_IDENTITY",
    });
  });

  it("identifies by the peer address by default and needs a request or a key", async () => {
    const { limiter: l } = limiter({ points: "3/min" });
    await l.check({ schema, document: HELLO, request: request("192.0.2.1") });
    expect((await l.check({ schema, document: HELLO, key: "192.0.2.1" })).allowed).toBe(false);
    await expect(l.check({ schema, document: HELLO })).rejects.toBeInstanceOf(ConfigError);
  });

  it("prices each variable's value: an analysis cached per document never ignores variables", async () => {
    const { limiter: l } = limiter({ costs: { "Query.users": 1, "User.id": 1 } });
    const doc = parse("query Q($n: Int) { users(first: $n) { id } }");
    const small = await l.check({ schema, document: doc, variables: { n: 1 }, key: "k" });
    const big = await l.check({ schema, document: doc, variables: { n: 50 }, key: "k" });
    expect(big.analysis!.cost).toBeGreaterThan(small.analysis!.cost);
    const again = await l.check({ schema, document: doc, variables: { n: 1 }, key: "k" });
    expect(again.analysis!.cost).toBe(small.analysis!.cost);
  });
});

describe("settle", () => {
  it("refunds reserved − actual once, so the budget pays only for what ran", async () => {
    const { limiter: l } = limiter({ points: "10/min", settle: true });
    const r = await l.check({ schema, document: HELLO, key: "k" });
    expect(r.allowed && r.extension.remaining).toBe(7);
    if (!r.allowed) return;
    await r.settle(1);
    await r.settle(0); // a second settle changes nothing
    const next = await l.check({ schema, document: PING, key: "k" });
    expect(next.extension?.remaining).toBe(8); // 10 − 1 (settled) − 1 (ping)
  });

  it("keeps the charge when settle is off, late, or the actual cost is not below the reservation", async () => {
    const off = limiter({ points: "10/min" }).limiter;
    const a = await off.check({ schema, document: HELLO, key: "k" });
    if (a.allowed) await a.settle(0);
    expect((await off.check({ schema, document: PING, key: "k" })).extension?.remaining).toBe(6);

    const { clock, limiter: late } = limiter({
      points: "100/h",
      settle: true,
      settleTimeout: "10s",
    });
    const b = await late.check({ schema, document: HELLO, key: "k" });
    clock.advance("11s");
    if (b.allowed) await b.settle(0);
    const c = await late.check({ schema, document: HELLO, key: "k" });
    if (c.allowed) await c.settle(5);
    expect((await late.check({ schema, document: PING, key: "k" })).extension?.remaining).toBe(93);
  });
});

describe("toGraphQLError", () => {
  it("carries code, cost, limit, retryAfterMs and the HTTP status and headers", async () => {
    const { limiter: l } = limiter({ points: "3/min" });
    await l.check({ schema, document: HELLO, key: "k" });
    const r = refusal(await l.check({ schema, document: HELLO, key: "k" }));
    const error = toGraphQLError(r);
    expect(error.message).toBe(r.message);
    expect(error.extensions).toEqual({
      code: "RATE_LIMITED",
      cost: 3,
      limit: 3,
      retryAfterMs: r.retryAfterMs,
      http: { status: 429, headers: { "Retry-After": r.headers["Retry-After"] } },
    });
    const e17 = toGraphQLError(r, GraphQLError17);
    expect(e17).toBeInstanceOf(GraphQLError17);
    expect(e17.extensions.code).toBe("RATE_LIMITED");
    const never = toGraphQLError({ ...r, retryAfterMs: Number.POSITIVE_INFINITY });
    expect(JSON.parse(JSON.stringify(never.toJSON())).extensions.retryAfterMs).toBeNull();
  });
});
