/**
 * What the adapters' events tests share: a recorder of every event a hub emits, the stores each
 * test runs on (memory, and a real redis-server started here), and unique prefixes so tests
 * sharing a Redis never share counters.
 */
import { Redis } from "ioredis";
import {
  createEvents,
  type DecisionEvent,
  EVENT_TYPES,
  type EventHub,
  type ThrottleEvent,
  type ViolationEvent,
} from "../../src/core/events.js";
import { memoryStore } from "../../src/core/memory-store.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

export type Recorder = {
  readonly hub: EventHub;
  /** Every event, in emission order. */
  readonly all: ThrottleEvent[];
  /** `decision` events, of one rule when given. */
  decisions(rule?: string): DecisionEvent[];
  /** `limited` and `blocked` events, of one rule when given. */
  refusals(rule?: string): DecisionEvent[];
  violations(rule?: string): ViolationEvent[];
  /** A decision event's summary: rule, key, cost, allowed, reason. */
  summary(rule?: string): string[];
};

/** A hub with a listener on every event type, recording them. */
export function recorder(): Recorder {
  const hub = createEvents({ logger: false });
  const all: ThrottleEvent[] = [];
  for (const type of EVENT_TYPES) hub.on(type, (e) => all.push(e));
  const of = <T extends ThrottleEvent>(types: string[], rule?: string) =>
    all.filter(
      (e) =>
        types.includes(e.type) && (rule === undefined || (e as { rule: string }).rule === rule),
    ) as T[];
  return {
    hub,
    all,
    decisions: (rule) => of<DecisionEvent>(["decision"], rule),
    refusals: (rule) => of<DecisionEvent>(["limited", "blocked"], rule),
    violations: (rule) => of<ViolationEvent>(["violation"], rule),
    summary: (rule) =>
      of<DecisionEvent>(["decision"], rule).map(
        (e) =>
          `${e.rule} ${e.key} ${e.cost} ${e.decision.allowed ? "allowed" : "refused"} ${e.decision.reason}`,
      ),
  };
}

/**
 * Checks the derived events of a recorder against its decisions: one limited/blocked and one
 * violation per refusal the client caused (limited, blocked, cost-exceeds-limit), none
 * otherwise, each right after its decision with the same payload.
 */
export function derivedAgree(r: Recorder): string[] {
  const problems: string[] = [];
  const all = r.all;
  for (let i = 0; i < all.length; i++) {
    const e = all[i]!;
    if (e.type !== "decision") continue;
    const d = e.decision;
    const causes =
      !d.allowed &&
      (d.reason === "limited" || d.reason === "blocked" || d.reason === "cost-exceeds-limit");
    const next = all[i + 1];
    const after = all[i + 2];
    if (!causes) {
      if (next?.type === "limited" || next?.type === "blocked")
        problems.push(`${i}: extra refusal`);
      continue;
    }
    const type = d.reason === "blocked" ? "blocked" : "limited";
    if (next?.type !== type || (next as DecisionEvent).decision !== d)
      problems.push(`${i}: no ${type} event after the refused decision`);
    if (after?.type !== "violation") problems.push(`${i}: no violation after the refusal`);
    else if (after.identifier !== e.key || after.rule !== e.rule)
      problems.push(`${i}: violation of another key or rule`);
  }
  return problems;
}

export type StoreCase = { readonly name: string; store(): Store };

/** Memory, and a Redis node of its own (started by `start`). */
export function storeCases(): {
  readonly cases: readonly StoreCase[];
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  let node: RedisNode | undefined;
  let client: Redis | undefined;
  let redis: Store | undefined;
  return {
    cases: [
      { name: "memory", store: () => memoryStore() },
      { name: "redis", store: () => redis! },
    ],
    async start() {
      node = await startRedis();
      client = new Redis(node.port, node.host);
      redis = redisStore({ client, logger: false });
    },
    async stop() {
      client?.disconnect();
      await node?.stop();
    },
  };
}

let n = 0;
/** A prefix no other test uses. */
export function uniquePrefix(tag: string): string {
  return `ev${tag}${process.pid}x${++n}`;
}

/** Waits (bounded) until `probe` holds: for what a socket does on the server side. */
export async function until(probe: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
