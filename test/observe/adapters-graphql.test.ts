/**
 * throttlekit/graphql events (issue 17): useRateLimit on a real GraphQL Yoga 5 server on
 * 127.0.0.1, on the memory store and a real redis-server. Every budget the limiter asks
 * (graphql:queries, graphql:mutations, graphql:points) is emitted once through the `events` hub,
 * keyed by the identity, with ratethrottle's violation payload for each refusal; static limits
 * ask no budget and emit nothing.
 */
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { createSchema, createYoga } from "graphql-yoga";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { useRateLimit } from "../../src/graphql/envelop.js";
import { createGraphQLLimiter } from "../../src/graphql/limiter.js";
import { createEvents } from "../../src/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { derivedAgree, recorder, storeCases, uniquePrefix } from "./adapter-events.js";

const stores = storeCases();
beforeAll(() => stores.start(), 30_000);
afterAll(() => stores.stop());

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query { hello: String, user: User }
    type User { name: String, friend: User }
    type Mutation { like: Boolean }
  `,
  resolvers: {
    Query: { hello: () => "world", user: () => ({ name: "Ada" }) },
    User: { friend: () => ({ name: "Grace" }) },
    Mutation: { like: () => true },
  },
});
// Yoga's graphql is loaded as CommonJS here: its GraphQLError class (see test/graphql/yoga.test.ts).
const { GraphQLError } = createRequire(import.meta.url)("graphql") as typeof import("graphql");

async function post(url: string, query: string, user: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      "x-user": user,
    },
    body: JSON.stringify({ query }),
  });
  await response.text();
  return response.status;
}

describe.each(stores.cases)("GraphQL (Yoga) events on $name", ({ store }) => {
  it("each budget asked is one event; refusals carry the violation; static limits emit nothing", async () => {
    const rec = recorder();
    const plugin = useRateLimit(
      {
        store: store(),
        prefix: uniquePrefix("gql"),
        clock: manualClock().now,
        identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
        costs: { "Query.hello": 1, "Mutation.like": 2 },
        points: "5/min",
        queries: "3/min",
        mutations: "2/min",
        maxDepth: 2,
        events: rec.hub,
      },
      { GraphQLError },
    );
    const yoga = createYoga({ schema, plugins: [plugin], logging: false });
    const server = createServer(yoga);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await post(url, "{ hello }", "ann"));
    for (let i = 0; i < 2; i++) statuses.push(await post(url, "mutation { like }", "ann"));
    // Too deep: refused before any budget is asked.
    statuses.push(await post(url, "{ user { friend { friend { name } } } }", "ann"));
    expect(statuses).toEqual([200, 200, 200, 429, 200, 429, 400]);
    expect(rec.summary()).toEqual([
      "graphql:queries user:ann 1 allowed ok",
      "graphql:points user:ann 1 allowed ok",
      "graphql:queries user:ann 1 allowed ok",
      "graphql:points user:ann 1 allowed ok",
      "graphql:queries user:ann 1 allowed ok",
      "graphql:points user:ann 1 allowed ok",
      "graphql:queries user:ann 1 refused limited",
      "graphql:mutations user:ann 1 allowed ok",
      "graphql:points user:ann 2 allowed ok",
      // The mutation's rate passes, then the points refuse (and the rate's unit is given back).
      "graphql:mutations user:ann 1 allowed ok",
      "graphql:points user:ann 2 refused limited",
    ]);
    expect(rec.violations().map((v) => [v.rule, v.identifier, v.requestsMade, v.limit])).toEqual([
      ["graphql:queries", "user:ann", 4, 3],
      ["graphql:points", "user:ann", 7, 5],
    ]);
    expect(rec.violations()[1]).toMatchObject({ policy: "5/1m", reason: "limited" });
    expect(derivedAgree(rec)).toEqual([]);
  });
});

describe("GraphQL limiter events option", () => {
  it("the hub is the limiter's events; without the option it has one of its own", () => {
    const events = createEvents({ logger: false });
    expect(createGraphQLLimiter({ points: "10/min", events }).events).toBe(events);
    expect(typeof createGraphQLLimiter({ points: "10/min" }).events.on).toBe("function");
  });

  it("a bad hub is a ConfigError with the other problems", () => {
    expect(() => createGraphQLLimiter({ events: {} as never, maxDepth: -1 })).toThrowError(
      /events[\s\S]*maxDepth|maxDepth[\s\S]*events/,
    );
  });
});
