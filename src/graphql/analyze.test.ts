/**
 * analyze against a table of queries whose cost and depth were computed by hand (the formula of
 * docs/graphql.md), on graphql 16 and 17; options validation; nothing ever executes.
 */
import * as graphql16 from "graphql";
import * as graphql17 from "graphql17";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../index.js";
import { actualCost } from "./actual-cost.js";
import { executeCounting, MAJORS, SDL, validationErrors } from "./analysis-fixture.js";
import { analyze } from "./analyze.js";
import type { AnalyzeOptions } from "./types.js";

type Row = {
  readonly name: string;
  readonly query: string;
  readonly options?: AnalyzeOptions;
  readonly cost: number;
  readonly depth: number;
  readonly aliases?: number;
  readonly rootFields?: number;
};

// Defaults: object fields 1, scalars 0, lists 10, introspection 100. Each cost is worked out in
// its comment: a field costs its weight + (its list size per list level) × its selection's cost.
const TABLE: readonly Row[] = [
  { name: "scalars are free, objects cost 1", query: "{ me { id name } }", cost: 1, depth: 2 },
  {
    name: "a list multiplies its selection by first", // 1 + 10 × (1 + 5 × 0)
    query: "{ users(first: 10) { friends(first: 5) { name } } }",
    cost: 11,
    depth: 3,
  },
  {
    name: "nested lists sized by variables and a variable's default", // 1 + 3 × (1 + 4 × (1 + 4 × 0))
    query:
      "query($a: Int, $b: Int = 4) { users(first: $a) { friends(first: $b) { friends(first: $b) { id } } } }",
    options: { variables: { a: 3 } },
    cost: 16,
    depth: 4,
  },
  {
    name: "a given variable beats its default", // 1 + 3 × (1 + 2 × 1)
    query:
      "query($a: Int, $b: Int = 4) { users(first: $a) { friends(first: $b) { friends(first: $b) { id } } } }",
    options: { variables: { a: 3, b: 2 } },
    cost: 10,
    depth: 4,
  },
  {
    name: "a variable with no value and no default: defaultListSize", // 1 + 10 × (1 + 4 × 1)
    query:
      "query($a: Int, $b: Int = 4) { users(first: $a) { friends(first: $b) { friends(first: $b) { id } } } }",
    cost: 51,
    depth: 4,
  },
  {
    name: "the schema's argument default (posts(limit: Int = 20))", // 1 + (1 + 20 × 1)
    query: "{ me { posts { author { id } } } }",
    cost: 22,
    depth: 4,
  },
  {
    name: "@cost(weight: 2, defaultListSize: 3)", // 1 + (1 + (2 + 3 × 1))
    query: "{ me { best { comments { author { id } } } } }",
    cost: 7,
    depth: 5,
  },
  { name: "@cost on a scalar", query: "{ expensive }", cost: 50, depth: 1 },
  {
    name: "a fragment counts once per use, aliases too", // 2 × (1 + (1 + 2 × 1))
    query:
      "{ a: me { ...U } b: me { ...U } } fragment U on User { friends(first: 2) { best { id } } }",
    cost: 8,
    depth: 4,
    aliases: 2,
    rootFields: 2,
  },
  {
    name: "aliases inside a fragment, per use",
    query: '{ me { ...V } user(id: "1") { ...V } } fragment V on User { x: id y: name }',
    cost: 2,
    depth: 2,
    aliases: 4,
    rootFields: 2,
  },
  {
    name: "@skip and @include with literals", // users: 1 + 2 × 1
    query: "{ me @skip(if: true) { id } users(first: 2) @include(if: true) { best { id } } }",
    cost: 3,
    depth: 3,
    rootFields: 1,
  },
  {
    name: "@skip and @include with variables (a default applies)",
    query:
      "query($s: Boolean!, $i: Boolean = false) { me @skip(if: $s) { id } users(first: 2) @include(if: $i) { best { id } } }",
    options: { variables: { s: false } },
    cost: 1,
    depth: 2,
    rootFields: 1,
  },
  {
    name: "@skip and @include with variables, both given",
    query:
      "query($s: Boolean!, $i: Boolean = false) { me @skip(if: $s) { id } users(first: 2) @include(if: $i) { best { id } } }",
    options: { variables: { s: true, i: true } },
    cost: 3,
    depth: 3,
    rootFields: 1,
  },
  {
    name: "both directives on one field: included only if not skipped and included",
    query:
      "query($s: Boolean!, $i: Boolean!) { me @skip(if: $s) @include(if: $i) { id } users(first: 0) { id } }",
    options: { variables: { s: false, i: false } },
    cost: 1,
    depth: 2,
    rootFields: 1,
  },
  {
    name: "@skip and @include on fragments",
    query:
      "{ ...F @skip(if: true) ... @include(if: false) { me { id } } users(first: 1) { id } } fragment F on Query { me { id } }",
    cost: 1,
    depth: 2,
    rootFields: 1,
  },
  {
    name: "a union costs its most expensive member", // 1 + 4 × max(1 + 2 × 1, 2 + 3 × 1, 1)
    query:
      "{ search(first: 4) { ... on User { friends(first: 2) { best { id } } } ... on Post { comments { author { id } } } ... on Comment { author { id } } } }",
    cost: 21,
    depth: 4,
  },
  {
    name: "an interface fragment inside a union adds to the types it applies to", // 1 + 3 × (User: 1 + max(1, 1 + 4 × 1))
    query:
      "{ search(first: 3) { ... on User { best { id } } ... on Node { ... on Post { author { id } } ... on User { friends(first: 4) { best { id } } } } } }",
    cost: 19,
    depth: 4,
  },
  {
    name: "fragments on the same interface keep each type's share", // 1 + 2 × max(User: 1, Post: 1)
    query:
      "{ nodes(first: 2) { ... on Node { ... on User { best { id } } } ...N } } fragment N on Node { ... on Post { author { id } } }",
    cost: 3,
    depth: 3,
  },
  {
    name: "introspection at a fixed price, depth counted",
    query: "{ __schema { types { name fields { name type { name } } } } }",
    cost: 100,
    depth: 5,
  },
  {
    name: "__type plus a field",
    query: '{ __type(name: "User") { name } me { id } }',
    cost: 101,
    depth: 2,
    rootFields: 2,
  },
  {
    name: "__typename is free",
    query: "{ __typename me { __typename } }",
    cost: 1,
    depth: 2,
    rootFields: 2,
  },
  {
    name: "introspectionCost",
    query: "{ __schema { queryType { name } } }",
    options: { introspectionCost: 5 },
    cost: 5,
    depth: 3,
  },
  {
    name: "a list of lists multiplies once per level", // 1 + (1 + 3 × 3 × 1)
    query: "{ me { grid(first: 3) { best { id } } } }",
    cost: 11,
    depth: 4,
  },
  {
    name: 'costs: "Type.field" > "Type.*" > "*.field" > defaults', // 1 + (7 + (4 + 3 + 3)) + (3 + 2 × 3)
    query: "{ me { best { author { id name } } friends(first: 2) { id } } }",
    options: { costs: { "User.best": 7, "User.*": 3, "*.author": 4 } },
    cost: 27,
    depth: 4,
  },
  {
    name: "costs beat the @cost directive", // 1 + (1 + (9 + 3 × 1))
    query: "{ me { best { comments { author { id } } } } }",
    options: { costs: { "Post.comments": 9 } },
    cost: 14,
    depth: 5,
  },
  {
    name: "a field selected through an interface weighs the most its implementations weigh", // 1 + 2 × 2
    query: "{ nodes(first: 2) { id } }",
    options: { costs: { "User.*": 2 } },
    cost: 5,
    depth: 2,
  },
  {
    name: "first and last both given: the larger bounds the list", // 1 + (1 + 5 × 1)
    query: "{ me { friends(first: 2, last: 5) { best { id } } } }",
    cost: 7,
    depth: 4,
  },
  {
    name: "listSizes for an unbounded list", // 1 + (1 + 4 × 1)
    query: "{ me { friends { best { id } } } }",
    options: { listSizes: { "User.friends": 4 } },
    cost: 6,
    depth: 4,
  },
  {
    name: "listSizeArguments", // first is not a size here: 1 + 10 × 1
    query: "{ users(first: 2) { best { id } } }",
    options: { listSizeArguments: ["limit"] },
    cost: 11,
    depth: 3,
  },
  {
    name: "a negative size bounds nothing: defaultListSize", // 1 + 10 × 1
    query: "query($n: Int) { users(first: $n) { best { id } } }",
    options: { variables: { n: -5 } },
    cost: 11,
    depth: 3,
  },
  {
    name: "a fractional size rounds up", // 1 + 3 × 1
    query: "query($n: Int) { users(first: $n) { best { id } } }",
    options: { variables: { n: 2.5 } },
    cost: 4,
    depth: 3,
  },
  {
    name: "objectCost and scalarCost", // 2 + 1 + (2 + 3 × (1 + 1))
    query: "{ me { id friends(first: 3) { id name } } }",
    options: { objectCost: 2, scalarCost: 1 },
    cost: 11,
    depth: 3,
  },
  // Relay connections: `first`/`last` sits on the connection (an object), the list is its
  // `nodes`/`edges` (sizedFields), which take that size instead of defaultListSize (issue 16).
  {
    name: "a connection's first sizes its nodes", // 1 + (1 + (1 + 20 × (1 + 0)))
    query: "{ me { followers(first: 20) { nodes { followers(first: 20) { totalCount } } } } }",
    cost: 23,
    depth: 5,
  },
  {
    name: "a connection's first sizes its edges, each edge's node counted", // 1 + (1 + (1 + 5 × (1 + 1)))
    query: "{ me { followers(first: 5) { edges { cursor node { best { id } } } } } }",
    cost: 13,
    depth: 6,
  },
  {
    name: "nested connections multiply", // 1 + (1 + (1 + 3 × (1 + (1 + 4 × 1))))
    query:
      "{ me { followers(first: 3) { totalCount nodes { followers(first: 4) { nodes { best { id } } } } } } }",
    cost: 21,
    depth: 7,
  },
  {
    name: "a connection's first from a variable", // 1 + (1 + (1 + 15 × 1))
    query: "query($n: Int) { me { followers(first: $n) { nodes { best { id } } } } }",
    options: { variables: { n: 15 } },
    cost: 18,
    depth: 5,
  },
  {
    name: "a connection's first from a variable with no value: defaultListSize", // 1 + (1 + (1 + 10 × 1))
    query: "query($n: Int) { me { followers(first: $n) { nodes { best { id } } } } }",
    cost: 13,
    depth: 5,
  },
  {
    name: "a connection without first: its nodes take defaultListSize", // 1 + (1 + (1 + 10 × 1))
    query: "{ me { followers { nodes { best { id } } } } }",
    cost: 13,
    depth: 5,
  },
  {
    name: "a connection's last sizes its edges", // 1 + (1 + (1 + 12 × 1))
    query: "{ me { followers(last: 12) { edges { node { id } } } } }",
    cost: 15,
    depth: 5,
  },
  {
    name: "a connection's first from the schema's default (members(first: Int = 4))", // 1 + (1 + 4 × 1)
    query: "{ members { nodes { best { id } } } }",
    cost: 6,
    depth: 4,
  },
  {
    name: "a fragment on a connection is priced per page size it is spread under", // 1 + (1 + (1 + 2)) + (1 + (1 + 6))
    query:
      "{ me { a: followers(first: 2) { ...C } b: followers(first: 6) { ...C } } } fragment C on UserConnection { nodes { best { id } } }",
    cost: 13,
    depth: 5,
    aliases: 2,
  },
  {
    name: "an inline fragment on a connection", // 1 + (1 + (1 + 7 × 1))
    query: "{ me { followers(first: 7) { ... on UserConnection { nodes { best { id } } } } } }",
    cost: 10,
    depth: 5,
  },
  {
    name: "only a connection's direct children are sized", // 1 + (1 + (1 + 2 × (1 + 10 × 0)))
    query: "{ me { followers(first: 2) { nodes { friends { id } } } } }",
    cost: 5,
    depth: 5,
  },
  {
    name: "sizedFields names the children a connection's first sizes", // nodes: 1 + (1 + (1 + 10 × 1))
    query: "{ me { followers(first: 20) { nodes { best { id } } } } }",
    options: { sizedFields: ["edges"] },
    cost: 13,
    depth: 5,
  },
  {
    name: "@listSize(slicingArguments:, sizedFields:) on a page field", // 1 + (1 + 5 × 1)
    query: "{ feed(count: 5) { total items { author { id } } } }",
    options: { sizedFields: ["nodes"] },
    cost: 7,
    depth: 4,
  },
  {
    name: "@listSize(assumedSize:) without its slicing argument", // 1 + (1 + 3 × 1)
    query: "{ feed { items { author { id } } } }",
    cost: 5,
    depth: 4,
  },
  { name: "a mutation", query: 'mutation { like(id: "1") { author { id } } }', cost: 2, depth: 3 },
  {
    name: "operationName picks the operation",
    query: "query A { me { id } } query B { users(first: 3) { best { id } } }",
    options: { operationName: "B" },
    cost: 4,
    depth: 3,
  },
  {
    name: "no operation can be selected: nothing runs, nothing is priced",
    query: "query A { me { id } } query B { users(first: 3) { best { id } } }",
    cost: 0,
    depth: 0,
    rootFields: 0,
  },
];

describe.each(MAJORS)("analyze on %s", (_major, graphql) => {
  const schema = graphql.buildSchema(SDL);

  it.each(TABLE)("$name", (row) => {
    const a = analyze(schema, graphql.parse(row.query), row.options);
    expect({ cost: a.cost, depth: a.depth }).toEqual({ cost: row.cost, depth: row.depth });
    if (row.aliases !== undefined) expect(a.aliases).toBe(row.aliases);
    if (row.rootFields !== undefined) expect(a.rootFields).toBe(row.rootFields);
    expect(a.aborted).toBe(false);
  });

  it("names the operation and its type", () => {
    const a = analyze(schema, graphql.parse('mutation Like { like(id: "1") { id } }'));
    expect(a).toMatchObject({ operationType: "mutation", operationName: "Like" });
  });

  it("stops once the cost must pass stopAbove.cost, with a lower bound above it", () => {
    const doc = graphql.parse(
      "{ users(first: 100) { friends(first: 100) { best { id } } } me { id } }",
    );
    expect(analyze(schema, doc).cost).toBe(1 + 100 * (1 + 100 * 1) + 1);
    const a = analyze(schema, doc, { stopAbove: { cost: 500 } });
    expect(a.aborted).toBe(true);
    expect(a.cost).toBeGreaterThan(500);
    expect(a.cost).toBeLessThanOrEqual(10_102);
  });

  it("stops once a field is deeper than stopAbove.depth, and says how deep", () => {
    const doc = graphql.parse("{ me { best { author { best { id } } } } }");
    expect(analyze(schema, doc).depth).toBe(5);
    const a = analyze(schema, doc, { stopAbove: { depth: 3 } });
    expect(a).toMatchObject({ aborted: true, depth: 4 });
    expect(analyze(schema, doc, { stopAbove: { depth: 5, cost: 4 } }).aborted).toBe(false);
  });
});

describe.each(MAJORS)("connections executed on %s", (_major, graphql) => {
  const schema = graphql.buildSchema(SDL);

  it("static cost = fields resolved = actual cost when every page is full", async () => {
    // The report: this was priced 13 (nodes sized 10) while execution resolved 23.
    const doc = graphql.parse(
      "{ me { followers(first: 20) { nodes { followers(first: 20) { totalCount } } } } }",
    );
    const a = analyze(schema, doc);
    const run = await executeCounting(graphql, schema, doc, {}, { defaultListSize: 10 });
    expect(run.errors).toBeUndefined();
    expect([a.cost, run.count, actualCost(schema, doc, run.data)]).toEqual([23, 23, 23]);
  });
});

describe("weights of a code-first schema", () => {
  const { GraphQLInt, GraphQLList, GraphQLObjectType, GraphQLSchema, GraphQLString, parse } =
    graphql16;
  let resolved = 0;
  const count = () => {
    resolved++;
    return null;
  };
  const Item: graphql16.GraphQLObjectType = new GraphQLObjectType({
    name: "Item",
    fields: () => ({
      name: { type: GraphQLString, resolve: count },
      heavy: { type: GraphQLInt, extensions: { cost: 5 }, resolve: count },
      children: {
        type: new GraphQLList(Item),
        args: { first: { type: GraphQLInt } },
        extensions: { cost: { weight: 2, defaultListSize: 7 } },
        resolve: count,
      },
    }),
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: "Query",
      fields: { item: { type: Item, resolve: count } },
    }),
  });

  it("reads extensions.cost (a number, or { weight, defaultListSize }) and runs no resolver", () => {
    // 1 + (2 + 7 × (5 + 0)) + 5
    const a = analyze(schema, parse("{ item { children { heavy name } heavy } }"));
    expect(a.cost).toBe(43);
    expect(resolved).toBe(0);
  });
});

describe("options", () => {
  const schema = graphql16.buildSchema(SDL);
  const doc = graphql16.parse("{ me { id } }");

  it("reports every invalid option in one ConfigError", () => {
    const bad = {
      costs: { "User friends": 1, "User.best": -1, "*.*": 1 },
      listSizes: { "User.friends": 2.5 },
      objectCost: -1,
      scalarCost: Number.NaN,
      defaultListSize: 2.5,
      introspectionCost: "100",
      listSizeArguments: "first",
      sizedFields: ["nodes", "edges { node }"],
      costDirective: "@cost",
      variables: [1],
      operationName: 3,
      stopAbove: { cost: -1, depths: 3 },
      maxCost: 10,
    } as unknown as AnalyzeOptions;
    let error: unknown;
    try {
      analyze(schema, doc, bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual(
      [
        'costs["*.*"]',
        'costs["User friends"]',
        'costs["User.best"]',
        'listSizes["User.friends"]',
        "costDirective",
        "defaultListSize",
        "introspectionCost",
        "listSizeArguments",
        "sizedFields",
        "maxCost",
        "objectCost",
        "operationName",
        "scalarCost",
        "stopAbove.cost",
        "stopAbove.depths",
        "variables",
      ].sort(),
    );
  });

  it("refuses a negative @cost weight in the schema, naming the field", () => {
    const s = graphql16.buildSchema(`
      directive @cost(weight: Int) on FIELD_DEFINITION
      type Query { a: Int @cost(weight: -1) }
    `);
    expect(() => analyze(s, graphql16.parse("{ a }"))).toThrow(/Query\.a/);
  });

  it("reads @listSize on list fields: slicingArguments, assumedSize (a negative one refused)", () => {
    const s = graphql16.buildSchema(`
      directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!]) on FIELD_DEFINITION
      type T { id: ID t: T }
      type Query {
        a(take: Int, first: Int): [T] @listSize(slicingArguments: "take", assumedSize: 7)
        b: [T] @listSize(assumedSize: -1)
      }
    `);
    const cost = (q: string) => analyze(s, graphql16.parse(q)).cost;
    expect(cost("{ a(take: 4, first: 50) { t { id } } }")).toBe(1 + 4 * 1);
    expect(cost("{ a(first: 50) { t { id } } }")).toBe(1 + 7 * 1);
    expect(() => cost("{ b { t { id } } }")).toThrow(/@listSize\(assumedSize:\) on Query\.b/);
  });

  it("refuses a schema or document of the wrong kind", () => {
    expect(() => analyze({}, doc)).toThrow(TypeError);
    expect(() => analyze(schema, "{ me { id } }")).toThrow(TypeError);
  });

  it("reads costDirective by its name", () => {
    const s = graphql16.buildSchema(`
      directive @price(weight: Int) on FIELD_DEFINITION
      type Query { a: Int @price(weight: 4) }
    `);
    const a = graphql16.parse("{ a }");
    expect(analyze(s, a).cost).toBe(0);
    expect(analyze(s, a, { costDirective: "price" }).cost).toBe(4);
  });
});

describe("graphql 17's fragment arguments", () => {
  const schema = graphql17.buildSchema(SDL);
  const parse = (text: string) => graphql17.parse(text, { experimentalFragmentArguments: true });

  it("reads a fragment's own variables from each spread, then its defaults", async () => {
    const doc = parse(`
      query($n: Int = 3) { users(first: 1) { ...F(n: 4) } me { ...F } user(id: "1") { ...F(n: $n) } }
      fragment F($n: Int = 2) on User { friends(first: $n) { best { id } } }
    `);
    expect(validationErrors(graphql17, schema, doc)).toEqual([]);
    // users 1 + 1 × (1 + 4 × 1); me 1 + (1 + 2 × 1); user 1 + (1 + 3 × 1)
    const a = analyze(schema, doc);
    expect(a.cost).toBe(6 + 4 + 5);
    const pricing = { defaultListSize: 10 };
    const run = await executeCounting(graphql17, schema, doc, {}, pricing);
    expect(run.errors).toBeUndefined();
    expect(run.count).toBe(a.cost);
    expect(actualCost(schema, doc, run.data)).toBe(a.cost);
  });
});
