/**
 * apolloRateLimit on a real Apollo Server 5 (its standalone HTTP server on 127.0.0.1), on the
 * memory store and on Redis: what a client sees (status, Retry-After, error codes,
 * extensions.rateLimit) while a points budget, operation rates, settle and static limits act.
 */

import type { IncomingMessage } from "node:http";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import type { Logger } from "@apollo/utils.logger";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { apolloRateLimit } from "../../src/graphql/apollo.js";
import { apiKey } from "../../src/http/index.js";
import { ConfigError, type Store } from "../../src/index.js";
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

type Context = { req: IncomingMessage };
type Options = Parameters<typeof apolloRateLimit>[0];

const running: ApolloServer<Context>[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});
afterAll(stopStores);

/**
 * An Apollo server with the plugin. The context carries `req`, where the plugin reads the
 * client's socket address by default (NestJS's Apollo driver puts it there too).
 */
async function serve(
  options: Options,
  extra: {
    integration?: Parameters<typeof apolloRateLimit>[1];
    context?: (req: IncomingMessage) => Partial<Context>;
    logger?: Logger;
  } = {},
): Promise<string> {
  const server = new ApolloServer<Context>({
    typeDefs,
    resolvers,
    plugins: [apolloRateLimit(options, extra.integration)],
    ...(extra.logger ? { logger: extra.logger } : {}),
  });
  running.push(server);
  const context = extra.context ?? ((req) => ({ req }));
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: "127.0.0.1" },
    context: async ({ req }) => context(req) as Context,
  });
  return url;
}

/** Apollo's logger, keeping its warnings. */
function keepingWarnings(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const nothing = () => {};
  return {
    warnings,
    debug: nothing,
    info: nothing,
    error: nothing,
    warn: (message: unknown) => {
      warnings.push(String(message));
    },
  };
}

describe.each(STORES)("apolloRateLimit on Apollo Server 5, $name store", (storeCase) => {
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
    expect(refused.body.data).toBeUndefined(); // refused before execution: nothing ran
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: "RATE_LIMITED",
      cost: c,
      limit,
    });
    expect(refused.body.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
    expect(refused.body.errors?.[0]?.extensions).not.toHaveProperty("http");
    expect(refused.body.extensions?.rateLimit).toMatchObject({ cost: c, limit });

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
    // What WIDE resolves here: 3 books, each with an author and that author's 3 books.
    const first = await serve({ ...(await base()), points: `${w}/h`, settle: true });
    const data = (await post(first, WIDE)).body.data;
    const a = actualCostOf(WIDE, data);
    expect(a).toBeLessThan(w); // the static cost is an upper bound; this shelf is short

    // A budget of w + a: without settle two WIDE queries need 2w and the second is refused.
    const limit = w + a;
    const plain = await serve({ ...(await base()), points: `${limit}/h` });
    expect((await post(plain, WIDE)).status).toBe(200);
    const noRefund = await post(plain, WIDE);
    expect(noRefund.status).toBe(429);

    const settled = await serve({ ...(await base()), points: `${limit}/h`, settle: true });
    const one = await post(settled, WIDE);
    expect(one.status).toBe(200);
    expect(one.body.extensions?.rateLimit).toMatchObject({ cost: w, limit });
    const two = await post(settled, WIDE);
    expect(two.status).toBe(200);
    // w reserved now, a spent by the first: nothing left.
    expect(two.body.extensions?.rateLimit?.remaining).toBe(limit - a - w);
  });

  it("refuses too deep an operation with 400 QUERY_TOO_DEEP before it runs, charging nothing", async () => {
    const c = costOf(SMALL);
    const url = await serve({ ...(await base()), maxDepth: 3, points: `${10 * c}/h` });
    const deep = await post(url, DEEP);
    expect(deep.status).toBe(400);
    expect(deep.headers.get("retry-after")).toBeNull(); // retrying the same query cannot help
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: "QUERY_TOO_DEEP", limit: 3 });
    expect(deep.body.errors?.[0]?.extensions?.cost).toBeGreaterThan(3); // its depth
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

describe("apolloRateLimit: who the client is", () => {
  it("reads the client's address from contextValue.req, and without it refuses 401 and warns once", async () => {
    const logger = keepingWarnings();
    const url = await serve({ points: "100/h" }, { context: () => ({}), logger });
    for (let i = 0; i < 2; i++) {
      const refused = await post(url, SMALL);
      expect(refused.status).toBe(401);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain("context: async ({ req }) => ({ req })");

    // Or say where the address is: here a context field of the user's own naming.
    const given = await serve(
      { points: "100/h" },
      {
        context: (req) => ({ peer: req.socket.remoteAddress }) as never,
        integration: { remoteAddress: ({ contextValue }) => contextValue.peer },
      },
    );
    expect((await post(given, SMALL)).status).toBe(200);
  });

  it("lists every bad option at once, the plugin's and the limiter's", () => {
    let error: unknown;
    try {
      apolloRateLimit({ points: "lots", maxDepth: -1 }, {
        remoteAddress: "127.0.0.1" as never,
        key: 1,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual([
      "integration.key",
      "integration.remoteAddress",
      "maxDepth",
      "points",
    ]);
  });

  it("ignores X-Forwarded-For unless trustProxy says a proxy wrote it", async () => {
    const url = await serve({ points: `${costOf(SMALL)}/h`, prefix: uniquePrefix() });
    const spoof = { headers: { "x-forwarded-for": "203.0.113.9" } };
    expect((await post(url, SMALL, spoof)).status).toBe(200);
    // Another made-up address is still the same socket, so the same spent budget.
    const again = await post(url, SMALL, { headers: { "x-forwarded-for": "198.51.100.7" } });
    expect(again.status).toBe(429);
  });

  it("keys by an identity over Apollo's headers, and answers a failed identity 401 UNAUTHENTICATED", async () => {
    const url = await serve({ points: `${costOf(SMALL)}/h`, identity: apiKey() });
    const alice = { headers: { "x-api-key": "alice" } };
    expect((await post(url, SMALL, alice)).status).toBe(200);
    expect((await post(url, SMALL, alice)).status).toBe(429);
    expect((await post(url, SMALL, { headers: { "x-api-key": "bob" } })).status).toBe(200);

    const anonymous = await post(url, SMALL);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(anonymous.body.data).toBeUndefined();
  });
});

describe("apolloRateLimit: a store outage", () => {
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
