/**
 * The schema the Apollo and Mercurius integration tests serve: a library whose `books(first:)`
 * returns at most the 3 books it holds, so a query asking for 50 reserves far more than it
 * resolves (what `settle` refunds). Costs and actual costs come from the analysis itself, so
 * the tests check the integrations' arithmetic, not the pricing (test/graphql has its own).
 */
import { once } from "node:events";
import { buildSchema, type DocumentNode, parse } from "graphql";
import { Redis } from "ioredis";
import { actualCost } from "../../../src/graphql/actual-cost.js";
import { analyze } from "../../../src/graphql/analyze.js";
import type { Store } from "../../../src/index.js";
import { memoryStore } from "../../../src/index.js";
import { redisStore } from "../../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../../support/redis-server.js";

export const typeDefs = /* GraphQL */ `
  type Book {
    title: String!
    author: Author!
  }
  type Author {
    name: String!
    books(first: Int!): [Book!]!
  }
  type Query {
    hello: String!
    books(first: Int!): [Book!]!
  }
  type Mutation {
    addBook(title: String!): Book!
  }
`;

export const schema = buildSchema(typeDefs);

const TITLES = ["Dune", "Emma", "Ulysses"];
const shelf = (first: number) =>
  TITLES.slice(0, first).map((title) => ({ title, author: { name: `author of ${title}` } }));

/** Resolvers in the shape both servers take (Mercurius: by type; Apollo: the same). */
export const resolvers = {
  Query: {
    hello: () => "hello",
    books: (_: unknown, args: { first: number }) => shelf(args.first),
  },
  Mutation: {
    addBook: (_: unknown, args: { title: string }) => ({
      title: args.title,
      author: { name: "you" },
    }),
  },
  Author: {
    books: (_: unknown, args: { first: number }) => shelf(args.first),
  },
};

/** A query reserving 50 books and their authors' 50 books; 3 and 3 × 3 are there. */
export const WIDE = "{ books(first: 50) { title author { name books(first: 50) { title } } } }";
export const SMALL = "{ books(first: 1) { title } }";
export const DEEP = "{ books(first: 1) { author { books(first: 1) { author { name } } } } }";

/** The static cost of a query, as the limiter computes it (default cost options). */
export function costOf(query: string): number {
  return analyze(schema, parse(query)).cost;
}

/** What a query really cost once run against this schema's resolvers (settle's refund basis). */
export function actualCostOf(query: string, data: unknown): number {
  return actualCost(schema, parse(query) as DocumentNode, data);
}

export type StoreCase = { readonly name: string; store(): Promise<Store> };

let redis: Promise<{ node: RedisNode; client: Redis }> | undefined;

/**
 * Memory, and Redis on a redis-server started on first use. Call `stopStores()` in afterAll.
 * Each test passes its own `prefix`, so cases sharing the server never share counters.
 */
export const STORES: readonly StoreCase[] = [
  { name: "memory", store: () => Promise.resolve(memoryStore()) },
  {
    name: "redis",
    async store() {
      redis ??= startRedis().then((node) => ({
        node,
        client: new Redis({ host: "127.0.0.1", port: node.port }),
      }));
      return redisStore({ client: (await redis).client });
    },
  },
];

export async function stopStores(): Promise<void> {
  if (redis === undefined) return;
  const { node, client } = await redis;
  redis = undefined;
  client.disconnect();
  await node.stop();
}

/**
 * A fail-closed Redis store whose server has been killed: every decision is "degraded", which
 * the integrations must answer 503 SERVICE_UNAVAILABLE, never RATE_LIMITED. The client fails
 * fast (no offline queue), as docs/redis.md advises. Call `close()` when done.
 */
export async function deadRedisStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const node = await startRedis();
  const client = new Redis({
    host: "127.0.0.1",
    port: node.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  client.on("error", () => {});
  await once(client, "ready");
  const store = redisStore({ client, timeout: 200, onStoreError: "fail-closed", logger: false });
  await node.kill();
  return {
    store,
    async close() {
      client.disconnect();
      await node.stop();
    },
  };
}

let n = 0;
/** A prefix no other case uses (the Redis server is shared by a file's cases). */
export function uniquePrefix(): string {
  n += 1;
  return `tkg-${process.pid}-${n}`;
}

/** One GraphQL response over HTTP. */
export type Reply = {
  readonly status: number;
  readonly headers: Headers;
  readonly body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
    extensions?: {
      rateLimit?: { cost: number; remaining?: number; limit?: number; resetAt?: number };
    };
  };
};

/** POSTs one operation; `headers` for identities that read them. */
export async function post(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify({ query, ...(options.variables ? { variables: options.variables } : {}) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Reply["body"] };
}
