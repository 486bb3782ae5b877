/**
 * useRateLimit on a real GraphQL Yoga 5 server (node:http on 127.0.0.1), on the memory store and
 * on Redis: what a client sees (status, Retry-After, error codes, extensions.rateLimit) while a
 * points budget, operation rates, settle, static limits and identities act, and what a Redis
 * outage answers under each onStoreError.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { parse } from "graphql";
import { createSchema, createYoga } from "graphql-yoga";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { actualCost } from "../../src/graphql/actual-cost.js";
import { analyze } from "../../src/graphql/analyze.js";
import { useRateLimit, type YogaRaw } from "../../src/graphql/envelop.js";
import { createGraphQLLimiter } from "../../src/graphql/limiter.js";
import type { GraphQLLimiterOptions } from "../../src/graphql/types.js";
import { apiKey } from "../../src/http/index.js";
import { memoryStore, type Store } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const USERS = [
  { id: "1", name: "Ada" },
  { id: "2", name: "Grace" },
];

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query { hello: String, users(first: Int!): [User!]!, user: User }
    type User { id: ID!, name: String, friend: User, secret: String }
    type Mutation { like: Boolean }
    type Subscription { tick: Int }
  `,
  resolvers: {
    Query: { hello: () => "world", users: () => USERS, user: () => USERS[0] },
    User: {
      friend: () => USERS[1],
      secret: () => {
        throw new Error("no access");
      },
    },
    Mutation: { like: () => true },
    Subscription: {
      tick: {
        async *subscribe() {
          yield { tick: 1 };
        },
      },
    },
  },
});

// Explicit weights for the fields the budgets are counted in, so the figures are the test's.
const costs = { "Query.hello": 1, "Mutation.like": 2, "User.name": 1 };
const HELLO = "{ hello }";
const LIKE = "mutation { like }";
const USERS_QUERY = "query ($n: Int!) { users(first: $n) { id name } }";

type Answer = { status: number; headers: Headers; body: Body };
type Body = {
  data?: unknown;
  errors?: { message: string; extensions: Record<string, unknown> }[];
  extensions?: { rateLimit?: Record<string, number | undefined> };
};

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

// Vitest loads this repository's "graphql" as ES modules but Yoga's (from node_modules) as
// CommonJS: two GraphQLError classes. The plugin's `GraphQLError` option names Yoga's, as a user
// whose bundler splits graphql the same way would.
const { GraphQLError } = createRequire(import.meta.url)("graphql") as typeof import("graphql");

async function serve(plugin: ReturnType<typeof useRateLimit>): Promise<string> {
  const yoga = createYoga({ schema, plugins: [plugin], logging: false });
  const server = createServer(yoga);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/graphql`;
}

async function post(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Body,
  };
}

/** A subscription over server-sent events (GraphQL over SSE, "distinct connections" mode). */
async function subscribe(
  url: string,
  query: string,
): Promise<{ status: number; headers: Headers; events: Body[] }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  const events = text
    .split("\n\n")
    .filter((e) => e.startsWith("event: next"))
    .map((e) => JSON.parse(e.slice(e.indexOf("data: ") + 6)) as Body);
  return { status: response.status, headers: response.headers, events };
}

let redis: RedisNode | undefined;
const clients: Redis[] = [];
let prefixes = 0;
afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await redis?.stop();
});

async function client(port: number): Promise<Redis> {
  const c = new Redis({
    host: "127.0.0.1",
    port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  c.on("error", () => {});
  clients.push(c);
  await once(c, "ready");
  return c;
}

const STORES: { name: string; store(): Promise<Store> }[] = [
  { name: "memory", store: async () => memoryStore() },
  {
    name: "redis",
    async store() {
      redis ??= await startRedis();
      return redisStore({ client: await client(redis.port) });
    },
  },
];

describe.each(STORES)("useRateLimit on GraphQL Yoga 5, $name store", (storeCase) => {
  const limiterOptions = async (options: GraphQLLimiterOptions<YogaRaw>) => {
    const clock = manualClock();
    return {
      clock,
      options: {
        costs,
        store: await storeCase.store(),
        prefix: `yoga${prefixes++}`,
        clock: clock.now,
        ...options,
      } as GraphQLLimiterOptions<YogaRaw>,
    };
  };

  it("spends the points budget by cost, reports it on every response, then answers 429 with Retry-After", async () => {
    const { clock, options } = await limiterOptions({ points: "3/h" });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    for (let k = 1; k <= 3; k++) {
      const ok = await post(url, HELLO);
      expect(ok.status).toBe(200);
      expect(ok.body.data).toEqual({ hello: "world" });
      expect(ok.body.extensions?.rateLimit).toMatchObject({ cost: 1, limit: 3, remaining: 3 - k });
      expect(ok.body.extensions?.rateLimit?.resetAt).toBeGreaterThan(clock.now());
    }
    const refused = await post(url, HELLO);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: "RATE_LIMITED",
      cost: 1,
      limit: 3,
    });
    expect(refused.body.errors?.[0]?.extensions.retryAfterMs).toBeGreaterThan(0);
    expect(refused.body.errors?.[0]?.extensions.http).toBeUndefined(); // Yoga's, not the client's
    expect(refused.body.extensions?.rateLimit).toMatchObject({ cost: 1, limit: 3, remaining: 0 });
    clock.advance(refused.body.errors?.[0]?.extensions.retryAfterMs as number);
    expect((await post(url, HELLO)).status).toBe(200);
  });

  it("counts queries and mutations against their own rates", async () => {
    const { options } = await limiterOptions({ queries: "2/min", mutations: "1/min" });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    expect((await post(url, HELLO)).status).toBe(200);
    expect((await post(url, HELLO)).status).toBe(200);
    const q = await post(url, HELLO);
    expect(q.status).toBe(429);
    expect(q.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", limit: 2 });
    const m = await post(url, LIKE);
    expect(m.status).toBe(200);
    expect(m.body.data).toEqual({ like: true });
    expect(m.body.extensions?.rateLimit).toMatchObject({ cost: 2, limit: 1, remaining: 0 });
    expect((await post(url, LIKE)).status).toBe(429);
  });

  it("with settle, refunds what the reservation priced but the result did not resolve", async () => {
    const n = 50; // the resolver returns 2 users however many are asked for
    const doc = parse(USERS_QUERY);
    const reserved = analyze(schema, doc, { costs, variables: { n } }).cost;
    const actual = actualCost(schema, doc, { users: USERS }, { costs, variables: { n } });
    expect(actual).toBeLessThan(reserved);
    const limit = 10 * reserved;
    const { options } = await limiterOptions({ points: `${limit}/h`, settle: true });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const first = await post(url, USERS_QUERY, { variables: { n } });
    expect(first.body.extensions?.rateLimit).toMatchObject({
      cost: reserved,
      remaining: limit - reserved,
    });
    const next = await post(url, HELLO);
    expect(next.body.extensions?.rateLimit?.remaining).toBe(limit - Math.ceil(actual) - 1);
  });

  it("with settle, keeps the reservation when the result has errors (they null out work that ran)", async () => {
    const n = 50;
    const query = "query ($n: Int!) { users(first: $n) { id name secret } }";
    const reserved = analyze(schema, parse(query), { costs, variables: { n } }).cost;
    const limit = 10 * reserved;
    const { options } = await limiterOptions({ points: `${limit}/h`, settle: true });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const first = await post(url, query, { variables: { n } });
    expect(first.body.errors).toHaveLength(2); // one per user (Yoga masks the message)
    expect(first.body.data).toBeTruthy();
    const next = await post(url, HELLO);
    expect(next.body.extensions?.rateLimit?.remaining).toBe(limit - reserved - 1);
  });

  it("keeps the reservation without settle", async () => {
    const n = 50;
    const reserved = analyze(schema, parse(USERS_QUERY), { costs, variables: { n } }).cost;
    const { options } = await limiterOptions({ points: `${10 * reserved}/h` });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    await post(url, USERS_QUERY, { variables: { n } });
    const next = await post(url, HELLO);
    expect(next.body.extensions?.rateLimit?.remaining).toBe(9 * reserved - 1);
  });

  it("refuses static limits before any charge: 400 to graphql-response+json clients, 200 to legacy JSON ones", async () => {
    const { options } = await limiterOptions({ points: "10/h", maxDepth: 2, maxCost: 5 });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const deepQuery = "{ user { friend { id } } }";
    const deep = await post(url, deepQuery);
    expect(deep.status).toBe(400);
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({
      code: "QUERY_TOO_DEEP",
      limit: 2,
      retryAfterMs: 0,
    });
    const legacy = await post(url, deepQuery, { headers: { accept: "application/json" } });
    expect(legacy.status).toBe(200);
    expect(legacy.body.errors?.[0]?.extensions.code).toBe("QUERY_TOO_DEEP");
    const wide = await post(url, "{ a: hello b: hello c: hello d: hello e: hello f: hello }");
    expect(wide.status).toBe(400);
    expect(wide.body.errors?.[0]?.extensions).toMatchObject({
      code: "QUERY_TOO_COMPLEX",
      cost: 6,
      limit: 5,
    });
    // No budget was consulted: the extension has the cost alone (JSON drops the undefined rest).
    expect(wide.body.extensions?.rateLimit).toEqual({ cost: 6 });
    const ok = await post(url, HELLO);
    expect(ok.body.extensions?.rateLimit?.remaining).toBe(9); // the refused ones charged nothing
  });

  it("keeps clients apart by address (behind a trusted proxy) or by the limiter's identity", async () => {
    const { options } = await limiterOptions({ points: "1/h", trustProxy: ["127.0.0.1"] });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const from = (ip: string) => ({ headers: { "x-forwarded-for": ip } });
    expect((await post(url, HELLO, from("203.0.113.1"))).status).toBe(200);
    expect((await post(url, HELLO, from("203.0.113.1"))).status).toBe(429);
    expect((await post(url, HELLO, from("203.0.113.2"))).status).toBe(200);

    const byUser = await limiterOptions({ points: "1/h" });
    const limiter = createGraphQLLimiter({
      ...byUser.options,
      identity: (req) => `user:${req.header("x-user")}`,
    });
    const url2 = await serve(useRateLimit(limiter, { GraphQLError }));
    expect((await post(url2, HELLO, { headers: { "x-user": "a" } })).status).toBe(200);
    expect((await post(url2, HELLO, { headers: { "x-user": "a" } })).status).toBe(429);
    expect((await post(url2, HELLO, { headers: { "x-user": "b" } })).status).toBe(200);
  });

  it("answers 401 UNAUTHENTICATED, not a 500, when the identity refuses the request", async () => {
    const { options } = await limiterOptions({ points: "10/h", identity: apiKey("x-api-key") });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const anonymous = await post(url, HELLO);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions.code).toBe("UNAUTHENTICATED");
    const keyed = await post(url, HELLO, { headers: { "x-api-key": "k1" } });
    expect(keyed.status).toBe(200);
    expect(keyed.body.extensions?.rateLimit).toMatchObject({ remaining: 9 });
  });

  it("limits subscriptions when they subscribe (over server-sent events)", async () => {
    const { options } = await limiterOptions({ subscriptions: "1/min" });
    const url = await serve(useRateLimit(options, { GraphQLError }));
    const first = await subscribe(url, "subscription { tick }");
    expect(first.status).toBe(200);
    expect(first.events).toEqual([
      {
        data: { tick: 1 },
        extensions: { rateLimit: expect.objectContaining({ cost: 0, limit: 1 }) },
      },
    ]);
    const second = await subscribe(url, "subscription { tick }");
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(second.events[0]?.errors?.[0]?.extensions).toMatchObject({
      code: "RATE_LIMITED",
      limit: 1,
    });
  });
});

describe("useRateLimit while Redis is out", () => {
  it.each([
    ["fail-closed", 503],
    ["fail-open", 200],
    ["fallback", 200],
  ] as const)(
    "answers per onStoreError %s (%i), never as a quota exceeded",
    async (mode, status) => {
      const node = await startRedis();
      try {
        const store = redisStore({
          client: await client(node.port),
          onStoreError: mode,
          timeout: 100,
        });
        const url = await serve(
          useRateLimit(
            { costs, store, points: "100/h", prefix: `out${prefixes++}` },
            { GraphQLError },
          ),
        );
        expect((await post(url, HELLO)).status).toBe(200);
        await node.kill();
        const answer = await post(url, HELLO);
        expect(answer.status).toBe(status);
        if (mode === "fail-closed") {
          expect(answer.body.errors?.[0]?.extensions.code).toBe("SERVICE_UNAVAILABLE");
          expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
          expect(answer.body.extensions?.rateLimit).toEqual({ cost: 1 });
        } else {
          expect(answer.body.data).toEqual({ hello: "world" });
        }
      } finally {
        await node.stop();
      }
    },
  );
});
