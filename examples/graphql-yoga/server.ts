/**
 * A GraphQL Yoga 5 server on node:http (127.0.0.1:4000, or $PORT) whose operations are priced
 * before they run: at most 6 levels deep and 500 points each, 1,000 points a minute per client
 * address, 5 mutations a minute, and the points a query reserved but did not use given back.
 * Run `node --import tsx examples/graphql-yoga/server.ts`, then:
 *   curl -s localhost:4000/graphql -H 'content-type: application/json' \
 *     -d '{"query":"{ books(first: 20) { title author { name } } }"}'
 * answers the data with extensions.rateLimit { cost: 21, remaining: 979, limit: 1000, resetAt }:
 * the list costs 1 plus 20 books × 1 for each author. Only 3 books exist, so settle gives back
 * 17 of the 21 points once the result is known (the next answer's `remaining` shows it).
 * `books(first: 600)` (601 points, over maxCost) is refused before it runs: 400, QUERY_TOO_COMPLEX.
 * A sixth `mutation { like(id: 1) }` within a minute: status 429, Retry-After, RATE_LIMITED.
 */
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";
import { useRateLimit } from "throttlekit/graphql";

const BOOKS = [
  { id: 1, title: "Dune", author: { name: "Frank Herbert" } },
  { id: 2, title: "Kindred", author: { name: "Octavia E. Butler" } },
  { id: 3, title: "Solaris", author: { name: "Stanisław Lem" } },
];

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query { books(first: Int = 10): [Book!]! }
    type Book { id: Int!, title: String!, author: Author! }
    type Author { name: String! }
    type Mutation { like(id: Int!): Boolean }
  `,
  resolvers: {
    Query: { books: (_: unknown, args: { first: number }) => BOOKS.slice(0, args.first) },
    Mutation: { like: () => true },
  },
});

const yoga = createYoga({
  schema,
  logging: false,
  plugins: [
    useRateLimit({
      maxDepth: 6,
      maxCost: 500,
      points: "1000/min",
      mutations: "5/min",
      settle: true,
      // Behind a proxy (a load balancer), say which: ip() then reads X-Forwarded-For from it.
      // trustProxy: 1,
    }),
  ],
});

const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 4000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : address}`);
});
process.once("SIGTERM", () => server.close());
process.once("SIGINT", () => server.close());
