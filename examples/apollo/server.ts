/**
 * A priced GraphQL API on Apollo Server 5, on 127.0.0.1:4000 (or $PORT; 0 picks a free port).
 * Each client address has 1,000 points a minute; an operation reserves what `analyze` prices
 * it at and, with `settle`, keeps only what it really resolved: `books(first: 100)` with each
 * author reserves 101 points, but this shelf holds 5 books, so 95 come back. Mutations are also
 * limited to 3 a minute; operations may nest 4 levels and cost 500 at most.
 * Run `node --import tsx examples/apollo/server.ts`, then:
 *   q() { curl -si localhost:4000/ -H 'content-type: application/json' -d "{\"query\":\"$1\"}"; echo; }
 *   q '{ books(first: 100) { title author { name } } }'
 *       200, the 5 books, "extensions":{"rateLimit":{"cost":101,"remaining":899,...}}
 *   for i in 1 2 3 4; do q 'mutation { addBook(title: \"Kim\") { title } }'; done
 *       three 200s, then 429 with Retry-After and "code":"RATE_LIMITED"
 *   q '{ books(first: 1) { author { books(first: 1) { author { name } } } } }'
 *       400 with "code":"QUERY_TOO_DEEP" (5 levels, 4 allowed)
 */

import type { IncomingMessage } from "node:http";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { apolloRateLimit } from "throttlekit/graphql";

const typeDefs = /* GraphQL */ `
  type Book {
    title: String!
    author: Author!
  }
  type Author {
    name: String!
    books(first: Int = 10): [Book!]!
  }
  type Query {
    books(first: Int = 10): [Book!]!
  }
  type Mutation {
    addBook(title: String!): Book!
  }
`;

const titles = ["Dune", "Emma", "Ulysses", "Beloved", "Kim"];
const shelf = (first: number) =>
  titles
    .slice(0, Math.max(0, first))
    .map((title) => ({ title, author: { name: `author of ${title}` } }));

const resolvers = {
  Query: { books: (_: unknown, { first }: { first: number }) => shelf(first) },
  Author: { books: (_: unknown, { first }: { first: number }) => shelf(first) },
  Mutation: {
    addBook: (_: unknown, { title }: { title: string }) => ({ title, author: { name: "you" } }),
  },
};

const server = new ApolloServer<{ req: IncomingMessage }>({
  typeDefs,
  resolvers,
  plugins: [
    apolloRateLimit({
      points: "1000/min",
      mutations: "3/min",
      maxDepth: 4,
      maxCost: 500,
      settle: true,
    }),
  ],
});

// The plugin reads each client's address from contextValue.req.socket (NestJS's context has it).
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PORT ?? 4000), host: "127.0.0.1" },
  context: async ({ req }) => ({ req }),
});
console.log(`listening on ${url}`);

const stop = () => void server.stop();
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
