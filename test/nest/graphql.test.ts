import { ApolloDriver, type ApolloDriverConfig } from "@nestjs/apollo";
import { Module } from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import { GraphQLModule, Query, Resolver } from "@nestjs/graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SkipThrottle,
  Throttle,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type RunningApp, startApp } from "./support/app.js";
import { decorate } from "./support/decorate.js";

// @nestjs/apollo 13 mounts Apollo Server 5 on Express through @as-integrations/express5, a
// devDependency here: without it the driver calls process.exit(1) at startup.
// Schema-first: no code-first type reflection, so no emitted decorator metadata is needed.
const typeDefs = /* GraphQL */ `
  type Query {
    limited: String!
    open: String!
  }
`;

class LimitedResolver {
  limited() {
    return "limited";
  }
}
decorate(LimitedResolver, [Resolver()], { limited: [Query("limited"), Throttle("2/min")] });

class OpenResolver {
  open() {
    return "open";
  }
}
decorate(OpenResolver, [Resolver(), SkipThrottle()], { open: [Query("open")] });

const clock = manualClock();

class GraphqlAppModule {}
decorate(GraphqlAppModule, [
  Module({
    imports: [
      ThrottlekitModule.forRoot({ throttlers: { default: "100/min" }, clock: clock.now }),
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs,
        playground: false,
      }),
    ],
    providers: [LimitedResolver, OpenResolver, { provide: APP_GUARD, useClass: ThrottlekitGuard }],
  }),
]);

type GraphqlError = {
  message: string;
  path?: string[];
  extensions?: { code?: string; retryAfter?: number; violatedPolicies?: string[] };
};
type GraphqlReply = {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> | null; errors?: GraphqlError[] };
};

async function gql(base: string, query: string): Promise<GraphqlReply> {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as never };
}

describe("throttlekit/nest in GraphQL resolvers (Apollo driver, Express)", () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp("express", GraphqlAppModule);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("answers a limited query with a TOO_MANY_REQUESTS error, keeps serving, and recovers", async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await gql(app.url, "{ limited }");
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ data: { limited: "limited" } });
    }

    const limited = await gql(app.url, "{ limited }");
    // GraphQL over HTTP: a resolver error is a 200 with an errors array, not a crash.
    expect(limited.status).toBe(200);
    expect(limited.body.data ?? null).toBeNull(); // non-null field: data nulls out
    expect(limited.body.errors).toHaveLength(1);
    const error = limited.body.errors![0]!;
    expect(error.path).toEqual(["limited"]);
    expect(error.extensions?.code).toBe("TOO_MANY_REQUESTS");
    const retryAfter = error.extensions?.retryAfter;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(120); // a sliding window is full again within two
    expect(error.extensions?.violatedPolicies).toEqual(["2/1m"]);
    expect(limited.headers.get("retry-after")).toBe(String(retryAfter));

    // The server survived: a skipped resolver answers, the limited one stays limited.
    expect((await gql(app.url, "{ open }")).body).toEqual({ data: { open: "open" } });
    expect((await gql(app.url, "{ limited }")).body.errors?.[0]?.extensions?.code).toBe(
      "TOO_MANY_REQUESTS",
    );

    clock.advance(`${retryAfter}s`);
    expect((await gql(app.url, "{ limited }")).body).toEqual({ data: { limited: "limited" } });
    clock.advance("2m"); // two sliding windows: back to full
  });

  it("never limits a @SkipThrottle resolver", async () => {
    for (let i = 0; i < 10; i++) {
      const r = await gql(app.url, "{ open }");
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ data: { open: "open" } });
      expect(r.headers.get("ratelimit")).toBeNull();
    }
  });
});

class CountedResolver {
  counted() {
    return "counted";
  }
}
decorate(CountedResolver, [Resolver()], { counted: [Query("counted")] });

class ConcurrentAppModule {}
decorate(ConcurrentAppModule, [
  Module({
    imports: [
      ThrottlekitModule.forRoot({ throttlers: { default: "100/min" }, concurrency: 1 }),
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs: "type Query { counted: String! }",
        playground: false,
      }),
    ],
    providers: [CountedResolver, { provide: APP_GUARD, useClass: ThrottlekitGuard }],
  }),
]);

describe("throttlekit/nest concurrency in GraphQL resolvers", () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp("express", ConcurrentAppModule);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("a query's resolvers never refuse each other: a resolver's slot is given back at once", async () => {
    // Three calls of one guarded resolver in one request, under concurrency 1: holding each
    // slot to the end of the shared HTTP response would refuse the second and third.
    for (let i = 0; i < 3; i++) {
      const r = await gql(app.url, "{ a: counted b: counted c: counted }");
      expect(r.body).toEqual({ data: { a: "counted", b: "counted", c: "counted" } });
    }
  });
});
