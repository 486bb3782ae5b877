import { parseTimerDuration, TIMER_DURATION_FORM } from "../index.js";
import { child } from "./document.js";
import { isRecord, type Located } from "./located.js";
import type { StoreSpec } from "./types.js";

const MEMORY_KEYS = ["type", "maxKeys"];
const REDIS_KEYS = ["type", "url", "cluster", "timeout", "connectTimeout", "onStoreError"];
const ON_STORE_ERROR = ["fail-closed", "fail-open", "fallback"] as const;
const URL_FORM = 'a Redis URL such as "redis://:password@host:6379/0" (redis: or rediss:)';

/** A Redis URL ioredis can open. */
export function isRedisUrl(value: unknown): value is string {
  if (typeof value !== "string" || !URL.canParse(value)) return false;
  const protocol = new URL(value).protocol;
  return protocol === "redis:" || protocol === "rediss:";
}

/** Validates throttlekit's `store` (absent: the memory store). */
export function readStoreSpec(input: unknown, path: string, problems: Located): StoreSpec {
  if (input === undefined || input === null) return { type: "memory" };
  if (!isRecord(input)) {
    problems.add(path, input, '{ type: "memory", maxKeys? } or { type: "redis", url, ... }');
    return { type: "memory" };
  }
  if (input.type === "memory" || input.type === undefined) {
    problems.unknownKeys(input, MEMORY_KEYS, path);
    const maxKeys = input.maxKeys;
    if (maxKeys === undefined) return { type: "memory" };
    if (!Number.isSafeInteger(maxKeys) || (maxKeys as number) < 1) {
      problems.add(child(path, "maxKeys"), maxKeys, "a whole number ≥ 1");
      return { type: "memory" };
    }
    return { type: "memory", maxKeys: maxKeys as number };
  }
  if (input.type !== "redis") {
    problems.add(child(path, "type"), input.type, '"memory" or "redis"');
    return { type: "memory" };
  }
  problems.unknownKeys(input, REDIS_KEYS, path);
  const cluster = input.cluster;
  let nodes: string[] | undefined;
  if (cluster !== undefined) {
    if (!Array.isArray(cluster) || cluster.length === 0) {
      problems.add(child(path, "cluster"), cluster, `a non-empty list of node URLs (${URL_FORM})`);
    } else {
      nodes = [];
      cluster.forEach((u, i) => {
        if (isRedisUrl(u)) nodes!.push(u);
        else problems.add(child(child(path, "cluster"), i), u, URL_FORM);
      });
    }
  }
  const url = input.url ?? nodes?.[0];
  if (!isRedisUrl(url)) problems.add(child(path, "url"), input.url, URL_FORM);
  const spec: {
    type: "redis";
    url: string;
    cluster?: readonly string[];
    timeout?: string | number;
    connectTimeout?: string | number;
    onStoreError?: (typeof ON_STORE_ERROR)[number];
  } = { type: "redis", url: typeof url === "string" ? url : "" };
  if (nodes !== undefined) spec.cluster = nodes;
  for (const k of ["timeout", "connectTimeout"] as const) {
    const v = input[k];
    if (v === undefined) continue;
    if (parseTimerDuration(v) === undefined) problems.add(child(path, k), v, TIMER_DURATION_FORM);
    else spec[k] = v as string | number;
  }
  const mode = input.onStoreError;
  if (mode !== undefined) {
    if (!(ON_STORE_ERROR as readonly unknown[]).includes(mode)) {
      problems.add(child(path, "onStoreError"), mode, '"fail-closed" | "fail-open" | "fallback"');
    } else spec.onStoreError = mode as (typeof ON_STORE_ERROR)[number];
  }
  return spec;
}

/** Two specs describe the same store (a watcher refuses any other change). */
export function sameStore(a: StoreSpec, b: StoreSpec): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(spec: StoreSpec): unknown {
  return Object.fromEntries(Object.entries(spec).sort(([x], [y]) => x.localeCompare(y)));
}
