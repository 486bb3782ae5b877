/**
 * bench:graphql's first part (bench/graphql.ts describes the method): `analyze` on the 500-field
 * query against graphql's `execute`, `validate` and graphql-query-complexity's `getComplexity`,
 * in this process, interleaved rounds, medians and best rounds.
 */
import {
  buildSchema,
  type DocumentNode,
  type ExecutionResult,
  execute,
  type GraphQLSchema,
  parse,
  validate,
} from "graphql";
import { getComplexity, simpleEstimator } from "graphql-query-complexity";
import { analyze, type CostOptions } from "../../src/graphql/index.js";
import { median } from "../http/harness.js";
import { fieldCounts, ONE_EACH, PAGES, QUERY, ROOT, SDL } from "./schema.js";

/** Every result is folded in, so no call can be optimised away. */
let checksum = 0;

/** The analysis's pricing: the schema's @cost directive plus a map, as a user would set it. */
const COSTS: CostOptions = { costs: { "Repository.issues": 2, "Issue.comments": 2 } };

type Contender = { id: string; run: () => number };

/** Every contender's median ns per call over interleaved, rotating rounds. */
function timeInterleaved(
  contenders: readonly Contender[],
  rounds: number,
  roundMs: number,
): Map<string, number[]> {
  const sizes = new Map<string, number>();
  for (const c of contenders) {
    // Calibrate: double the batch until it takes ≥ 50 ms, then size a round to roundMs.
    let n = 8;
    for (;;) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) checksum = (checksum + c.run()) | 0;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (ms >= 50) {
        sizes.set(c.id, Math.max(10, Math.round((n * roundMs) / ms)));
        break;
      }
      n *= 2;
    }
  }
  const ns = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length]!;
      const n = sizes.get(c.id)!;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) checksum = (checksum + c.run()) | 0;
      ns.get(c.id)!.push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  return ns;
}

/** Fields in an execution result (object keys, list items' included): what was resolved. */
function resolvedFields(x: unknown): number {
  if (Array.isArray(x)) return x.reduce((a: number, y) => a + resolvedFields(y), 0);
  if (x === null || typeof x !== "object") return 0;
  let n = 0;
  for (const v of Object.values(x)) n += 1 + resolvedFields(v);
  return n;
}

function executeChecked(
  schema: GraphQLSchema,
  document: DocumentNode,
  vars: Readonly<Record<string, unknown>>,
): number {
  const r = execute({ schema, document, rootValue: ROOT, variableValues: vars }) as ExecutionResult;
  if (r.errors !== undefined || r.data === null || r.data === undefined) {
    throw new Error(`execution failed: ${r.errors?.[0]?.message ?? "no data"}`);
  }
  return Object.keys(r.data).length;
}

/** Times every contender; `target` is the most analysis may take as a share of execution. */
export function analysisPart(settings: { rounds: number; roundMs: number; target: number }) {
  const { rounds, roundMs, target } = settings;
  const schema = buildSchema(SDL);
  const document = parse(QUERY);
  const errors = validate(schema, document);
  if (errors.length > 0) throw new Error(`bench query invalid: ${errors[0]!.message}`);
  const fields = fieldCounts(document);
  const sets = { pages: PAGES, oneEach: ONE_EACH } as const;
  const analyses = Object.fromEntries(
    Object.entries(sets).map(([k, v]) => [
      k,
      analyze(schema, document, { ...COSTS, variables: v }),
    ]),
  );
  const resolved = Object.fromEntries(
    Object.entries(sets).map(([k, v]) => [
      k,
      resolvedFields(
        (execute({ schema, document, rootValue: ROOT, variableValues: v }) as ExecutionResult).data,
      ),
    ]),
  );
  const estimators = [simpleEstimator({ defaultComplexity: 1 })];
  const contenders: Contender[] = [
    {
      id: "analyze (pages)",
      run: () => analyze(schema, document, { ...COSTS, variables: PAGES }).cost,
    },
    {
      id: "analyze (one each)",
      run: () => analyze(schema, document, { ...COSTS, variables: ONE_EACH }).cost,
    },
    {
      id: "getComplexity (peer)",
      run: () => getComplexity({ schema, query: document, variables: PAGES, estimators }),
    },
    { id: "validate", run: () => validate(schema, document).length + 1 },
    { id: "execute (pages)", run: () => executeChecked(schema, document, PAGES) },
    { id: "execute (one each)", run: () => executeChecked(schema, document, ONE_EACH) },
  ];
  console.log(
    `analysis: ${fields.written} fields as written, ${fields.expanded} with fragments expanded; ` +
      `resolved when executed: ${resolved.pages} (pages), ${resolved.oneEach} (one each); ` +
      `${rounds} rounds × ~${roundMs} ms per contender`,
  );
  const a = analyses.pages!;
  console.log(
    `analyze: cost ${a.cost} (pages), ${analyses.oneEach!.cost} (one each); depth ${a.depth}, ` +
      `${a.aliases} aliases, ${a.rootFields} root fields; getComplexity ${getComplexity({ schema, query: document, variables: PAGES, estimators })}`,
  );
  const ns = timeInterleaved(contenders, rounds, roundMs);
  const us = (id: string) => Math.round(median(ns.get(id)!) / 10) / 100;
  const best = (id: string) => Math.round(Math.min(...ns.get(id)!) / 10) / 100;
  const figures = Object.fromEntries(contenders.map((c) => [c.id, us(c.id)]));
  const bests = Object.fromEntries(contenders.map((c) => [c.id, best(c.id)]));
  const share = {
    pages: us("analyze (pages)") / us("execute (pages)"),
    oneEach: us("analyze (one each)") / us("execute (one each)"),
  };
  const bestShare = {
    pages: best("analyze (pages)") / best("execute (pages)"),
    oneEach: best("analyze (one each)") / best("execute (one each)"),
  };
  console.log("\ncontender               µs (median)   µs (best)   rounds (µs)");
  for (const c of contenders) {
    const rounds = ns.get(c.id)!.map((x) => (x / 1000).toFixed(1));
    console.log(
      `${c.id.padEnd(22)} ${figures[c.id]!.toFixed(2).padStart(11)} ${bests[c.id]!.toFixed(2).padStart(11)}   ${rounds.join(" ")}`,
    );
  }
  const met = (x: number) => (x <= target ? "met" : "MISSED");
  console.log(
    `analysis ÷ execution: ${(share.pages * 100).toFixed(1)}% with pages (${met(share.pages)}), ` +
      `${(share.oneEach * 100).toFixed(1)}% with one item per list (${met(share.oneEach)}); target ≤ 10%`,
  );
  return {
    fields,
    resolvedFields: resolved,
    analysis: analyses,
    costOptions: COSTS,
    peerEstimators: "simpleEstimator({ defaultComplexity: 1 })",
    microsPerCall: figures,
    bestRoundMicrosPerCall: bests,
    roundsMicros: Object.fromEntries(
      contenders.map((c) => [c.id, ns.get(c.id)!.map((x) => Math.round(x / 10) / 100)]),
    ),
    analysisShareOfExecution: {
      pages: Number(share.pages.toFixed(4)),
      oneEach: Number(share.oneEach.toFixed(4)),
    },
    analysisShareOfExecutionBestRounds: {
      pages: Number(bestShare.pages.toFixed(4)),
      oneEach: Number(bestShare.oneEach.toFixed(4)),
    },
    met: {
      pages: share.pages <= target,
      oneEach: share.oneEach <= target,
    },
    checksum,
  };
}
