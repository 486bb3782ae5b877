/**
 * bench:graphql's HTTP servers: GraphQL Yoga 5 answering `{ hello }` on 127.0.0.1, one variant
 * per process (this file run with the variant's name; it sends its port over IPC, and answers
 * any later message with the number of operations the peer's plugin checked, so the load side
 * can tell that no request went around it; `{ plugin: boolean }` switches throttlekit's plugin
 * on or off, so its cost can also be measured within one process).
 *
 * - `bare`: Yoga alone.
 * - `throttlekit`: Yoga + throttlekit/graphql's `useRateLimit` on the memory store: a points
 *   budget charged each operation's cost, a query rate, and maxCost / maxDepth, all far above
 *   the load (one refusal fails the run).
 * - `peer`: the same job by hand: graphql-query-complexity's `getComplexity` in an envelop
 *   plugin (the max-complexity check) and an in-memory per-IP counter of points and queries.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { GraphQLError } from "graphql";
import { getComplexity, simpleEstimator } from "graphql-query-complexity";
import { createSchema, createYoga, type Plugin } from "graphql-yoga";

export const VARIANTS = ["bare", "throttlekit", "peer"] as const;
export type Variant = (typeof VARIANTS)[number];

/** What every variant answers; the load side checks each response against it. */
export const HELLO = { query: "{ hello }", answer: "world" } as const;

/** Limits far above anything a run sends: every operation is decided, none refused. */
export const NEVER_BINDS = {
  maxCost: 1000,
  maxDepth: 20,
  points: { limit: 1_000_000_000, window: "1h" },
  queries: { limit: 1_000_000_000, window: "1m" },
} as const;

const schema = createSchema({
  typeDefs: "type Query { hello: String! }",
  resolvers: { Query: { hello: () => HELLO.answer } },
});

/** Operations the peer's plugin has checked. */
let checked = 0;

/**
 * The hand-rolled per-IP counter: fixed windows for points (1 h) and queries (1 min), one
 * entry per IP, pruned of expired entries when it grows past MAX_IPS (bounded, as any counter
 * an attacker's addresses can grow must be).
 */
const MAX_IPS = 10_000;
type Entry = { pointsReset: number; points: number; queriesReset: number; queries: number };
const counters = new Map<string, Entry>();

function take(ip: string, cost: number, now: number): boolean {
  let e = counters.get(ip);
  if (e === undefined) {
    if (counters.size >= MAX_IPS) {
      for (const [k, v] of counters) if (v.pointsReset <= now) counters.delete(k);
    }
    e = { pointsReset: now + 3_600_000, points: 0, queriesReset: now + 60_000, queries: 0 };
    counters.set(ip, e);
  }
  if (e.pointsReset <= now) {
    e.pointsReset = now + 3_600_000;
    e.points = 0;
  }
  if (e.queriesReset <= now) {
    e.queriesReset = now + 60_000;
    e.queries = 0;
  }
  if (e.queries + 1 > NEVER_BINDS.queries.limit) return false;
  if (e.points + cost > NEVER_BINDS.points.limit) return false;
  e.queries++;
  e.points += cost;
  return true;
}

const estimators = [simpleEstimator({ defaultComplexity: 1 })];

/** graphql-query-complexity + the counter, as a Yoga (envelop) plugin: checked before execution. */
function peerPlugin(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      checked++;
      const cost = getComplexity({
        schema: args.schema,
        query: args.document,
        variables: (args.variableValues ?? {}) as Record<string, unknown>,
        ...(args.operationName ? { operationName: args.operationName } : {}),
        estimators,
      });
      const req = (args.contextValue as { req?: IncomingMessage }).req;
      const ip = req?.socket.remoteAddress ?? "unknown";
      if (cost > NEVER_BINDS.maxCost || !take(ip, cost, Date.now())) {
        setResultAndStopExecution({
          errors: [new GraphQLError("Too many requests", { extensions: { code: "RATE_LIMITED" } })],
        });
      }
    },
  };
}

/** Whether throttlekit's plugin runs: the load side switches it to compare within one process. */
let enabled = true;

async function throttlekitPlugin(): Promise<Plugin> {
  // Imported here so that bare and peer never load throttlekit. Its every response carries
  // extensions.rateLimit, which the load side checks: proof that the plugin saw each operation.
  const { useRateLimit } = await import("../../src/graphql/envelop.js");
  const inner = useRateLimit(NEVER_BINDS);
  // Switched off, what remains is one empty onExecute hook: a bias of well under 1 µs in a
  // request of hundreds, against the plugin.
  return {
    onExecute: (payload) => (enabled ? inner.onExecute(payload as never) : undefined),
  } as Plugin;
}

async function serve(variant: Variant): Promise<void> {
  const plugins: Plugin[] = [];
  if (variant === "peer") plugins.push(peerPlugin());
  if (variant === "throttlekit") plugins.push(await throttlekitPlugin());
  const yoga = createYoga({
    schema,
    plugins,
    logging: false,
    landingPage: false,
    graphiql: false,
  });
  const server = createServer(yoga);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  process.on("message", (m: unknown) => {
    if (typeof m === "object" && m !== null && "plugin" in m) enabled = m.plugin === true;
    process.send!({ checked, plugin: enabled });
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ port: (server.address() as AddressInfo).port });
}

if (process.argv[2] !== undefined && (VARIANTS as readonly string[]).includes(process.argv[2])) {
  await serve(process.argv[2] as Variant);
}
