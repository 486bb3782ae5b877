/**
 * apolloRateLimit under NestJS GraphQL's Apollo driver (Express), as docs/graphql.md shows it:
 * one entry in `plugins`, no guard. Nest puts the Node request in every context, so the default
 * identity (the socket's address) works with nothing else configured.
 */
import { ApolloDriver, type ApolloDriverConfig } from "@nestjs/apollo";
import { Module } from "@nestjs/common";
import { Args, GraphQLModule, Query, Resolver } from "@nestjs/graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apolloRateLimit } from "../../src/graphql/apollo.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type RunningApp, startApp } from "../nest/support/app.js";
import { decorate } from "../nest/support/decorate.js";
import { costOf, DEEP, post, SMALL } from "./support/library.js";

// The library schema, schema-first (no code-first reflection, so no decorator metadata).
const typeDefs = /* GraphQL */ `
  type Book {
    title: String!
    author: Author!
  }
  type Author {
    name: String!
    books(first: Int!): [Book!]!
  }
  type Query {
    books(first: Int!): [Book!]!
  }
`;

const shelf = (first: number) =>
  ["Dune", "Emma", "Ulysses"].slice(0, first).map((title) => ({
    title,
    author: { name: `author of ${title}`, books: [] },
  }));

class BooksResolver {
  books(first: number) {
    return shelf(first);
  }
}
// Parameter decorators by hand: Args("first") for the method's first parameter.
Args("first")(BooksResolver.prototype, "books", 0);
decorate(BooksResolver, [Resolver()], { books: [Query("books")] });

const clock = manualClock();
const budget = 2 * costOf(SMALL);

class AppModule {}
decorate(AppModule, [
  Module({
    imports: [
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs,
        playground: false,
        plugins: [apolloRateLimit({ points: `${budget}/h`, maxDepth: 3, clock: clock.now })],
      }),
    ],
    providers: [BooksResolver],
  }),
]);

describe("apolloRateLimit in NestJS GraphQL (Apollo driver, Express)", () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp("express", AppModule);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("charges the points budget per client address and answers 429 with Retry-After once spent", async () => {
    const url = `${app.url}/graphql`;
    for (let k = 1; k <= 2; k++) {
      const ok = await post(url, SMALL);
      expect(ok.status).toBe(200);
      expect(ok.body.data).toEqual({ books: [{ title: "Dune" }] });
      expect(ok.body.extensions?.rateLimit).toMatchObject({
        cost: costOf(SMALL),
        limit: budget,
        remaining: budget - k * costOf(SMALL),
      });
    }
    const refused = await post(url, SMALL);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");

    clock.advance(`${refused.headers.get("retry-after")}s`);
    expect((await post(url, SMALL)).status).toBe(200);
  });

  it("refuses too deep a query with 400 QUERY_TOO_DEEP before any resolver runs", async () => {
    const deep = await post(`${app.url}/graphql`, DEEP);
    expect(deep.status).toBe(400);
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: "QUERY_TOO_DEEP", limit: 3 });
  });
});
