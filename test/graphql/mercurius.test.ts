/**
 * mercuriusRateLimit on a real Fastify 5 + Mercurius 16 server on 127.0.0.1, on the memory
 * store and on Redis: what a client sees (status, Retry-After, error codes,
 * extensions.rateLimit) while a points budget, operation rates, settle and static limits act.
 */
import Fastify, { type FastifyInstance } from "fastify";
import mercurius from "mercurius";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createGraphQLLimiter } from "../../src/graphql/limiter.js";
import { type MercuriusRaw, mercuriusRateLimit } from "../../src/graphql/mercurius.js";
import { apiKey } from "../../src/http/index.js";
import type { Store } from "../../src/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  actualCostOf,
  costOf,
  DEEP,
  deadRedisStore,
  post,
  resolvers,
  SMALL,
  STORES,
  stopStores,
  typeDefs,
  uniquePrefix,
  WIDE,
} from "./support/library.js";

const running: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) await app.close();
});
afterAll(stopStores);

/** Fastify + Mercurius + the plugin; returns the GraphQL endpoint's URL. */
async function serve(
  options: Parameters<typeof mercuriusRateLimit>[0],
  mercuriusOptions: { allowBatchedQueries?: boolean } = {},
): Promise<string> {
  const app = Fastify();
  running.push(app);
  await app.register(mercurius, { schema: typeDefs, resolvers, ...mercuriusOptions });
  await app.register(mercuriusRateLimit(options));
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  return `${address}/graphql`;
}

describe.each(STORES)("mercuriusRateLimit on Mercurius 16, $name store", (storeCase) => {
  const base = async (): Promise<{ store: Store; prefix: string }> => ({
    store: await storeCase.store(),
    prefix: uniquePrefix(),
  });

  it("charges each operation its cost, reports it in extensions.rateLimit, and answers 429 with Retry-After once the budget is spent", async () => {
    const clock = manualClock();
    const c = costOf(SMALL);
    const limit = 3 * c;
    const url = await serve({ ...(await base()), clock: clock.now, points: `${limit}/h` });

    for (let k = 1; k <= 3; k++) {
      const ok = await post(url, SMALL);
      expect(ok.status).toBe(200);
      expect(ok.body.data).toEqual({ books: [{ title: "Dune" }] });
      expect(ok.body.extensions?.rateLimit).toMatchObject({
        cost: c,
        limit,
        remaining: limit - k * c,
      });
      expect(ok.body.extensions?.rateLimit?.resetAt).toBeGreaterThan(clock.now());
    }

    const refused = await post(url, SMALL);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(7200); // a sliding window is full again within two
    expect(refused.body.data ?? null).toBeNull(); // refused before execution: nothing ran
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: "RATE_LIMITED",
      cost: c,
      limit,
    });
    expect(refused.body.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);

    clock.advance(`${retryAfter}s`);
    expect((await post(url, SMALL)).status).toBe(200);
  });

  it("limits mutations at their own rate while queries keep passing", async () => {
    const url = await serve({ ...(await base()), mutations: "2/min", queries: "100/min" });
    const add = 'mutation { addBook(title: "Kim") { title } }';
    for (let i = 0; i < 2; i++) {
      const ok = await post(url, add);
      expect(ok.status).toBe(200);
      expect(ok.body.data).toEqual({ addBook: { title: "Kim" } });
    }
    const refused = await post(url, add);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", limit: 2 });
    const query = await post(url, "{ hello }");
    expect(query.status).toBe(200);
    expect(query.body.data).toEqual({ hello: "hello" });
  });

  it("with settle, refunds what an operation reserved but did not resolve, so the budget admits more", async () => {
    const w = costOf(WIDE);
    const first = await serve({ ...(await base()), points: `${w}/h`, settle: true });
    const a = actualCostOf(WIDE, (await post(first, WIDE)).body.data);
    expect(a).toBeLessThan(w); // the static cost is an upper bound; this shelf is short

    // A budget of w + a: without settle two WIDE queries need 2w and the second is refused.
    const limit = w + a;
    const plain = await serve({ ...(await base()), points: `${limit}/h` });
    expect((await post(plain, WIDE)).status).toBe(200);
    expect((await post(plain, WIDE)).status).toBe(429);

    const settled = await serve({ ...(await base()), points: `${limit}/h`, settle: true });
    const one = await post(settled, WIDE);
    expect(one.status).toBe(200);
    expect(one.body.extensions?.rateLimit).toMatchObject({ cost: w, limit });
    const two = await post(settled, WIDE);
    expect(two.status).toBe(200);
    expect(two.body.extensions?.rateLimit?.remaining).toBe(limit - a - w);
  });

  it("refuses too deep an operation with 400 QUERY_TOO_DEEP before it runs, charging nothing", async () => {
    const c = costOf(SMALL);
    const url = await serve({ ...(await base()), maxDepth: 3, points: `${10 * c}/h` });
    const deep = await post(url, DEEP);
    expect(deep.status).toBe(400);
    expect(deep.headers.get("retry-after")).toBeNull();
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: "QUERY_TOO_DEEP", limit: 3 });
    const next = await post(url, SMALL);
    expect(next.body.extensions?.rateLimit?.remaining).toBe(10 * c - c);
  });

  it("refuses an operation above maxCost with 400 QUERY_TOO_COMPLEX", async () => {
    const url = await serve({ ...(await base()), maxCost: costOf(WIDE) - 1 });
    const wide = await post(url, WIDE);
    expect(wide.status).toBe(400);
    expect(wide.body.errors?.[0]?.extensions).toMatchObject({
      code: "QUERY_TOO_COMPLEX",
      cost: costOf(WIDE),
      limit: costOf(WIDE) - 1,
    });
    expect((await post(url, SMALL)).status).toBe(200);
  });
});

describe("mercuriusRateLimit: identities, batches, a shared limiter", () => {
  it("ignores X-Forwarded-For unless trustProxy says a proxy wrote it", async () => {
    const url = await serve({ points: `${costOf(SMALL)}/h`, logger: false });
    expect((await post(url, SMALL, { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(
      200,
    );
    const again = await post(url, SMALL, { headers: { "x-forwarded-for": "198.51.100.7" } });
    expect(again.status).toBe(429);
  });

  it("believes the forwarding header from a trusted proxy: each forwarded client has its own budget", async () => {
    const url = await serve({ points: `${costOf(SMALL)}/h`, trustProxy: ["127.0.0.1"] });
    const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
    expect((await post(url, SMALL, from("203.0.113.9"))).status).toBe(200);
    expect((await post(url, SMALL, from("203.0.113.9"))).status).toBe(429);
    expect((await post(url, SMALL, from("198.51.100.7"))).status).toBe(200);
  });

  it("answers a failed identity 401 UNAUTHENTICATED", async () => {
    const url = await serve({ points: "10/h", identity: apiKey() });
    const anonymous = await post(url, SMALL);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect((await post(url, SMALL, { headers: { "x-api-key": "k" } })).status).toBe(200);
  });

  it("prices each operation of a batch by its own name, settling each", async () => {
    const w = costOf(WIDE);
    const url = await serve({ points: `${10 * w}/h`, settle: true }, { allowBatchedQueries: true });
    const query = `query Small ${SMALL} query Wide ${WIDE}`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { query, operationName: "Small" },
        { query, operationName: "Wide" },
      ]),
    });
    const body = (await res.json()) as {
      data?: unknown;
      extensions?: { rateLimit?: { cost: number; remaining: number } };
    }[];
    expect(body.map((r) => r.extensions?.rateLimit?.cost)).toEqual([costOf(SMALL), w]);
    // Both settled: the budget lost only what the two really resolved.
    const spent = actualCostOf(SMALL, body[0]?.data) + actualCostOf(WIDE, body[1]?.data);
    const after = await post(url, "{ hello }");
    expect(after.body.extensions?.rateLimit?.remaining).toBe(10 * w - spent - costOf("{ hello }"));
  });

  it("takes a limiter built once (shared by two servers: one budget) and settles as its options say", async () => {
    const c = costOf(SMALL);
    const limiter = createGraphQLLimiter<MercuriusRaw>({ points: `${c}/h` });
    const one = await serve(limiter);
    const two = await serve(limiter);
    expect((await post(one, SMALL)).status).toBe(200);
    expect((await post(two, SMALL)).status).toBe(429);
  });
});

describe("mercuriusRateLimit: a store outage", () => {
  it("answers 503 SERVICE_UNAVAILABLE under fail-closed, never RATE_LIMITED: the client exceeded nothing", async () => {
    const dead = await deadRedisStore();
    try {
      const url = await serve({ store: dead.store, points: "100/h" });
      const refused = await post(url, SMALL);
      expect(refused.status).toBe(503);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe("SERVICE_UNAVAILABLE");
      expect(refused.body.data ?? null).toBeNull();
    } finally {
      await dead.close();
    }
  });
});
