/**
 * actualCost (Shopify's settle): the static formula over the executed data. It equals the
 * weighted count of fields the resolvers really resolved, and never exceeds the static cost when
 * resolvers return at most the page size: checked by hand and on random queries executed with
 * graphql's own `execute` (short lists, nulls), on graphql 16 and 17.
 */
import { describe, expect, it } from "vitest";
import { actualCost } from "./actual-cost.js";
import {
  executeCounting,
  MAJORS,
  type Pricing,
  randomOperation,
  SDL,
  seeded,
  validationErrors,
} from "./analysis-fixture.js";
import { analyze } from "./analyze.js";

const QUERIES = 100;

describe.each(MAJORS)("actualCost on %s", (_major, graphql) => {
  const schema = graphql.buildSchema(SDL);

  it("counts each list for the items it returned", () => {
    const doc = graphql.parse(
      "{ users(first: 10) { id friends(first: 5) { best { id } } } search(first: 4) { ... on Post { comments { author { id } } } ... on User { best { id } } } }",
    );
    // Static: users 1 + 10 × (1 + 5 × 1) = 61; search 1 + 4 × max(2 + 3 × 1, 1) = 21.
    expect(analyze(schema, doc).cost).toBe(82);
    const data = {
      users: [
        { id: "1", friends: [{ best: null }, { best: { id: "p" } }] },
        { id: "2", friends: [] },
      ],
      search: [{ comments: [{ author: { id: "u" } }, null] }, { best: null }],
    };
    // users 1 + (1 + 1 + 1) + 1 = 5 (a null best still ran); search 1 + (2 + 1) + 1 = 5.
    expect(actualCost(schema, doc, data)).toBe(10);
  });

  it("counts a connection's nodes and edges for the items returned, never above the first-sized static cost", () => {
    const doc = graphql.parse(
      "query($n: Int) { me { followers(first: $n) { totalCount nodes { best { id } } edges { node { id } } } } }",
    );
    // Static: me 1 + (followers 1 + (nodes 1 + 20 × 1) + (edges 1 + 20 × 1)) = 44.
    expect(analyze(schema, doc, { variables: { n: 20 } }).cost).toBe(44);
    const data = {
      me: {
        followers: {
          totalCount: 3,
          nodes: [{ best: { id: "p" } }, { best: null }, { best: null }],
          edges: [{ node: { id: "u" } }],
        },
      },
    };
    // me 1 + (followers 1 + (nodes 1 + 3 × 1) + (edges 1 + 1 × 1)) = 8.
    expect(actualCost(schema, doc, data, { variables: { n: 20 } })).toBe(8);
  });

  it("honours @skip/@include with the operation's variables, and introspection's price", () => {
    const doc = graphql.parse(
      "query($s: Boolean = true) { me @skip(if: $s) { best { id } } __schema { queryType { name } } }",
    );
    const data = { me: { best: { id: "x" } }, __schema: { queryType: { name: "Query" } } };
    expect(actualCost(schema, doc, data, { variables: { s: false } })).toBe(2 + 100);
    expect(actualCost(schema, doc, data)).toBe(100);
  });

  it("leaves the static cost when there is no data to measure (nothing refunded unseen)", () => {
    const doc = graphql.parse("{ users(first: 3) { best { id } } }");
    expect(actualCost(schema, doc, null)).toBe(4);
    expect(actualCost(schema, doc, undefined)).toBe(4);
    expect(actualCost(schema, doc, { users: [] })).toBe(1);
  });

  const PRICINGS: readonly (readonly [string, Pricing, boolean])[] = [
    ["default weights", { defaultListSize: 2 }, true],
    ["every field weighs 1", { defaultListSize: 2, objectCost: 1, scalarCost: 1 }, true],
    // "User.*" weighs Node.id 2 whichever type an item turns out to be: actual may then exceed
    // the count (never the static cost).
    ["a costs map", { defaultListSize: 3, costs: { "User.*": 2, "*.author": 3 } }, false],
  ];

  it.each(PRICINGS)(
    "random queries, %s: resolved ≤ actual ≤ static",
    async (_name, pricing, exact) => {
      const seed = 1_700 + pricing.defaultListSize;
      const rnd = seeded(seed);
      const short = seeded(seed + 1);
      let fewer = 0;
      for (let i = 0; i < QUERIES; i++) {
        const { text, variables } = randomOperation(rnd, true);
        const document = graphql.parse(text);
        expect(validationErrors(graphql, schema, document), text).toEqual([]);
        const options = { ...pricing, variables };
        const full = await executeCounting(graphql, schema, document, variables, pricing);
        const cut = await executeCounting(graphql, schema, document, variables, pricing, short);
        expect([full.errors, cut.errors], text).toEqual([undefined, undefined]);
        const why = `seed ${seed}, query ${i}: ${text} ${JSON.stringify(variables)}`;
        const staticCost = analyze(schema, document, options).cost;
        const fullActual = actualCost(schema, document, full.data, options);
        const cutActual = actualCost(schema, document, cut.data, options);
        if (exact) {
          expect([fullActual, cutActual], why).toEqual([full.count, cut.count]);
        } else {
          expect(fullActual, why).toBeGreaterThanOrEqual(full.count);
          expect(cutActual, why).toBeGreaterThanOrEqual(cut.count);
        }
        expect(fullActual, why).toBeLessThanOrEqual(staticCost);
        // (Not ≤ fullActual: items of a union may turn out to be other types in the short run.)
        expect(cutActual, why).toBeLessThanOrEqual(staticCost);
        if (cutActual < staticCost) fewer++;
      }
      // Short pages must really refund something most of the time.
      expect(fewer).toBeGreaterThan(QUERIES / 3);
    },
  );
});
