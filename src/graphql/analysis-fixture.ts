/**
 * Test support only (never imported by the library): the schema the analysis tests price
 * documents against, and graphql 16 and 17 side by side, so every table runs on both majors.
 */
import * as graphql16 from "graphql";
import * as graphql17 from "graphql17";

export const SDL = /* GraphQL */ `
  directive @cost(weight: Int, defaultListSize: Int) on FIELD_DEFINITION
  directive @listSize(
    assumedSize: Int
    slicingArguments: [String!]
    sizedFields: [String!]
    requireOneSlicingArgument: Boolean = true
  ) on FIELD_DEFINITION

  interface Node {
    id: ID!
  }
  type User implements Node {
    id: ID!
    name: String
    friends(first: Int, last: Int): [User!]!
    posts(limit: Int = 20): [Post!]!
    best: Post
    matrix(first: Int): [[Int]]
    grid(first: Int): [[User]]
    followers(first: Int, last: Int): UserConnection!
  }
  type UserConnection {
    totalCount: Int!
    nodes: [User!]!
    edges: [UserEdge!]!
  }
  type UserEdge {
    cursor: String!
    node: User!
  }
  type Post implements Node {
    id: ID!
    title: String
    author: User!
    comments(last: Int): [Comment] @cost(weight: 2, defaultListSize: 3)
    tags: [String!]!
  }
  type Comment {
    id: ID!
    body: String
    author: User
  }
  union SearchResult = User | Post | Comment
  type Query {
    me: User
    user(id: ID!): User
    users(first: Int): [User!]!
    search(first: Int): [SearchResult!]!
    node(id: ID!): Node
    nodes(first: Int): [Node!]!
    expensive: Int @cost(weight: 50)
    members(first: Int = 4): UserConnection
    feed(count: Int): PostPage
      @listSize(slicingArguments: ["count"], sizedFields: ["items"], assumedSize: 3)
  }
  type PostPage {
    total: Int
    items: [Post!]!
  }
  type Mutation {
    like(id: ID!): Post
  }
`;

export const MAJORS: readonly (readonly [string, typeof graphql16 | typeof graphql17])[] = [
  ["graphql 16", graphql16],
  ["graphql 17", graphql17],
];

/** A seeded generator (mulberry32): the random tests print their seed and replay it. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the tests price with, and what the counting resolvers mirror. */
export type Pricing = {
  readonly costs?: Readonly<Record<string, number>>;
  readonly objectCost?: number;
  readonly scalarCost?: number;
  readonly defaultListSize: number;
};

/** The @cost directives of SDL, as the resolvers' mirror of the weights and sizes. */
const DIRECTIVE_WEIGHT: Readonly<Record<string, number>> = {
  "Post.comments": 2,
  "Query.expensive": 50,
};
const DIRECTIVE_SIZE: Readonly<Record<string, number>> = { "Post.comments": 3 };
const SIZE_ARGS = ["first", "last", "limit"];
/** A connection's list children, sized by its `first`/`last` (the analysis's sizedFields). */
const SIZED = ["edges", "nodes"];
/** On an object a non-list field returned: its size arguments' page, for its sized fields. */
const PAGE = Symbol("page");
/** SDL's @listSize directives, mirrored: the slicing argument, sized fields and assumed size. */
const LIST_SIZE: Readonly<Record<string, { args: string[]; sized: string[]; assumed: number }>> = {
  "Query.feed": { args: ["count"], sized: ["items"], assumed: 3 },
};
const MAX_LEVEL = 4;

/** A field's weight as docs/graphql.md defines it, computed independently of the analysis. */
export function expectedWeight(p: Pricing, parent: string, field: string, leaf: boolean): number {
  const c = p.costs ?? {};
  return (
    c[`${parent}.${field}`] ??
    c[`${parent}.*`] ??
    c[`*.${field}`] ??
    DIRECTIVE_WEIGHT[`${parent}.${field}`] ??
    (leaf ? (p.scalarCost ?? 0) : (p.objectCost ?? 1))
  );
}

type Page = { readonly size: number; readonly sized: readonly string[] };
type Field = { name: string; type: unknown; args: readonly { name: string; type: unknown }[] };
type Api = typeof graphql16;

/**
 * A random valid query over SDL's Query type: nested lists sized by literals, variables (given,
 * defaulted or missing) or nothing; aliases; @skip/@include on literals and variables; inline
 * fragments on concrete and abstract types; named fragments. With `once`, every named fragment
 * is spread once and every field has its own alias, so nothing merges in execution: the
 * resolved count then equals the formula applied to the data.
 */
export function randomOperation(
  rnd: () => number,
  once: boolean,
): { text: string; variables: Record<string, unknown> } {
  const schema = graphql16.buildSchema(SDL);
  const g = graphql16;
  const defs: string[] = [];
  const variables: Record<string, unknown> = {};
  const fragments: string[] = [];
  const byType = new Map<string, string[]>();
  let n = 0;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T;
  const variable = (type: "Int" | "Boolean", value: () => unknown): string => {
    const name = `v${n++}`;
    const r = rnd();
    if (r < 0.4) {
      // @skip(if:) takes a Boolean!: without a default the variable must be non-null.
      defs.push(`$${name}: ${type}${type === "Boolean" ? "!" : ""}`);
      variables[name] = value();
    } else if (r < 0.7 || type === "Boolean") {
      defs.push(`$${name}: ${type} = ${JSON.stringify(value())}`);
    } else {
      defs.push(`$${name}: ${type}`); // no value, no default: the size argument is left out
    }
    return `$${name}`;
  };
  const directives = (): string => {
    const r = rnd();
    if (r > 0.2) return "";
    const which = rnd() < 0.5 ? "skip" : "include";
    const cond = rnd() < 0.5 ? String(rnd() < 0.5) : variable("Boolean", () => rnd() < 0.5);
    return ` @${which}(if: ${cond})`;
  };
  const size = () => Math.floor(rnd() * 4);
  const args = (f: Field): string => {
    const out: string[] = [];
    for (const a of f.args) {
      if (g.isNonNullType(a.type)) out.push(`${a.name}: "1"`);
      else if (SIZE_ARGS.includes(a.name) || a.name === "count") {
        const r = rnd();
        if (r < 0.4) out.push(`${a.name}: ${size()}`);
        else if (r < 0.7) out.push(`${a.name}: ${variable("Int", size)}`);
      }
    }
    return out.length === 0 ? "" : `(${out.join(", ")})`;
  };
  const fieldSel = (f: Field, level: number): string | undefined => {
    const named = g.getNamedType(f.type as graphql16.GraphQLType);
    const leaf = g.isLeafType(named);
    if (!leaf && level >= MAX_LEVEL) return undefined;
    // A field with arguments or a selection gets its own alias, so two uses never conflict.
    const alias = once || !leaf || f.args.length > 0 || rnd() < 0.5 ? `a${n++}: ` : "";
    const sub = leaf ? "" : ` { ${selection(named.name, level + 1)} }`;
    return `${alias}${f.name}${args(f)}${directives()}${sub}`;
  };
  const fragmentOn = (type: string, level: number): string => {
    const existing = byType.get(type);
    if (!once && existing !== undefined && rnd() < 0.6)
      return `...${pick(existing)}${directives()}`;
    const name = `F${n++}`;
    const body = selection(type, level);
    fragments.push(`fragment ${name} on ${type} { ${body} }`);
    if (!once) byType.set(type, [...(existing ?? []), name]);
    return `...${name}${directives()}`;
  };
  function selection(typeName: string, level: number): string {
    const type = schema.getType(typeName);
    const out: string[] = [];
    if (g.isObjectType(type) || g.isInterfaceType(type)) {
      const fields = Object.values(type.getFields()) as unknown as Field[];
      const count = 1 + Math.floor(rnd() * 3);
      for (let i = 0; i < count; i++) {
        const s = fieldSel(pick(fields), level);
        if (s !== undefined) out.push(s);
      }
    }
    if (g.isAbstractType(type)) {
      for (const t of schema.getPossibleTypes(type)) {
        if (rnd() < 0.6)
          out.push(`... on ${t.name}${directives()} { ${selection(t.name, level)} }`);
      }
      if (typeName === "SearchResult" && rnd() < 0.5)
        out.push(`... on Node { ${selection("Node", level)} }`);
    }
    if (rnd() < 0.15) out.push(fragmentOn(typeName, level));
    if (g.isObjectType(type) && rnd() < 0.1) out.push(`... { ${selection(typeName, level)} }`);
    if (out.length === 0 || rnd() < 0.1) out.push("__typename");
    return out.join(" ");
  }
  const body = selection("Query", 1);
  const head = defs.length === 0 ? "query" : `query(${defs.join(", ")})`;
  return { text: `${head} { ${body} } ${fragments.join(" ")}`, variables };
}

/**
 * Executes `document` on `api`'s `execute`, every field through one resolver that returns full
 * pages (lists as long as their size argument, the schema's default or the pricing's default
 * size) or, with `short`, random shorter lists and nulls, and that adds each resolved field's
 * weight to the count.
 */
export async function executeCounting(
  api: Api | typeof graphql17,
  schema: unknown,
  document: unknown,
  variables: Record<string, unknown>,
  pricing: Pricing,
  short?: () => number,
): Promise<{ count: number; data: unknown; errors: unknown }> {
  const g = api as Api;
  let count = 0;
  let turn = 0;
  const typeNames = ["User", "Post", "Comment"];
  const value = (type: graphql16.GraphQLOutputType, page: number, nullable: boolean): unknown => {
    if (g.isNonNullType(type)) return value(type.ofType, page, false);
    if (short !== undefined && nullable && short() < 0.2) return null;
    if (g.isListType(type)) {
      const length = short === undefined ? page : Math.floor(short() * (page + 1));
      return Array.from({ length }, () => value(type.ofType, page, true));
    }
    if (g.isLeafType(type)) return type.name === "Int" ? 1 : "x";
    if (g.isAbstractType(type)) {
      const possible = typeNames.filter((t) => t !== "Comment" || type.name === "SearchResult");
      return { __typename: possible[turn++ % possible.length] };
    }
    return {};
  };
  const result = await g.execute({
    schema: schema as graphql16.GraphQLSchema,
    document: document as graphql16.DocumentNode,
    variableValues: variables,
    typeResolver: (v: { __typename: string }) => v.__typename,
    fieldResolver: (_source, args: Record<string, unknown>, _ctx, info) => {
      const parent = info.parentType.name;
      const key = `${parent}.${info.fieldName}`;
      count += expectedWeight(
        pricing,
        parent,
        info.fieldName,
        g.isLeafType(g.getNamedType(info.returnType)),
      );
      const listSize = LIST_SIZE[key];
      const sizes = (listSize?.args ?? SIZE_ARGS)
        .map((a) => args[a])
        .filter((v): v is number => typeof v === "number");
      const own = sizes.length > 0 ? Math.max(...sizes) : undefined;
      // A connection's page: its `first` (or the schema's default) sizes its nodes and edges.
      const slice = (_source as { [PAGE]?: Page } | null)?.[PAGE];
      const page = slice?.sized.includes(info.fieldName)
        ? Math.max(slice.size, own ?? 0)
        : (own ?? DIRECTIVE_SIZE[key] ?? listSize?.assumed ?? pricing.defaultListSize);
      const out = value(info.returnType, page, true);
      const sliced = own ?? listSize?.assumed;
      if (sliced !== undefined && typeof out === "object" && out !== null && !Array.isArray(out)) {
        (out as { [PAGE]?: Page })[PAGE] = { size: sliced, sized: listSize?.sized ?? SIZED };
      }
      return out;
    },
  });
  return { count, data: result.data, errors: result.errors };
}

/** graphql's own validation of `document` on `api` (a generator bug shows as messages). */
export function validationErrors(
  api: Api | typeof graphql17,
  schema: unknown,
  document: unknown,
): string[] {
  const g = api as Api;
  return g
    .validate(schema as graphql16.GraphQLSchema, document as graphql16.DocumentNode)
    .map((e) => e.message);
}
