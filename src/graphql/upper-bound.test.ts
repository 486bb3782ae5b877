/**
 * The property a user relies on (issue 16): the static cost is an upper bound on what executing
 * the operation resolves. Random valid queries over a test schema are analysed, then executed
 * with graphql's own `execute` against resolvers that return full pages (every list as long as
 * the size the analysis assumed) and count each resolved field's weight: cost ≥ count, on
 * graphql 16 and 17, with default weights, with every field weighing 1, and with a `costs` map.
 */
import { describe, expect, it } from "vitest";
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
const PRICINGS: readonly (readonly [string, Pricing])[] = [
  ["default weights", { defaultListSize: 2 }],
  ["every field weighs 1", { defaultListSize: 2, objectCost: 1, scalarCost: 1 }],
  [
    "a costs map",
    {
      defaultListSize: 3,
      costs: { "User.*": 2, "*.author": 3, "Post.title": 1, "Post.comments": 4 },
    },
  ],
];

describe.each(MAJORS)("static cost ≥ fields resolved, on %s", (_major, graphql) => {
  const schema = graphql.buildSchema(SDL);

  it.each(PRICINGS)("%s", async (_name, pricing) => {
    const seed = 1_600 + pricing.defaultListSize;
    const rnd = seeded(seed);
    let tight = 0;
    let resolved = 0;
    for (let i = 0; i < QUERIES; i++) {
      const { text, variables } = randomOperation(rnd, false);
      const document = graphql.parse(text);
      expect(validationErrors(graphql, schema, document), text).toEqual([]);
      const a = analyze(schema, document, { ...pricing, variables });
      const run = await executeCounting(graphql, schema, document, variables, pricing);
      expect(run.errors, text).toBeUndefined();
      expect(
        a.cost,
        `seed ${seed}, query ${i}: ${text} ${JSON.stringify(variables)}`,
      ).toBeGreaterThanOrEqual(run.count);
      if (a.cost === run.count) tight++;
      resolved += run.count;
    }
    // The generator must produce real work, and the bound must often be exact (not a loose guess).
    expect(resolved).toBeGreaterThan(QUERIES * 5);
    expect(tight).toBeGreaterThan(QUERIES / 4);
  });
});
