import { memoryStore, parseTimerDuration, type Store } from "../index.js";
import { redisStore } from "../stores/redis/index.js";
import type { StoreSpec } from "./types.js";

/** A store loadConfig built, and how to let go of what it opened. */
export type BuiltStore = { readonly store: Store; close(): Promise<void> };

/** Longest wait for a new Redis client's first connection before loadConfig goes on. */
const DEFAULT_CONNECT_MS = 10_000;

type IoRedisClient = {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
  status: string;
};

/**
 * Builds the store a spec describes: the memory store, or redisStore over an ioredis client
 * (an optional peer dependency, imported only here).
 */
export async function buildStore(spec: StoreSpec): Promise<BuiltStore> {
  if (spec.type === "memory") {
    return {
      store: memoryStore(spec.maxKeys === undefined ? {} : { maxKeys: spec.maxKeys }),
      close: async () => {},
    };
  }
  const ioredis = await import("ioredis").catch((cause: unknown) => {
    throw new Error(
      'store: { type: "redis" } needs the ioredis package (npm install ioredis), or pass your own store to loadConfig',
      { cause },
    );
  });
  const connectMs =
    spec.connectTimeout === undefined
      ? DEFAULT_CONNECT_MS
      : parseTimerDuration(spec.connectTimeout)!;
  // docs/redis.md: fail fast rather than queue while Redis is away; the store answers outages.
  const common = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: connectMs };
  const client: IoRedisClient =
    spec.cluster === undefined
      ? new ioredis.Redis(spec.url, common)
      : new ioredis.Cluster(
          spec.cluster.map((u) => {
            const url = new URL(u);
            return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 6379) };
          }),
          { enableOfflineQueue: false, redisOptions: { ...common, ...auth(spec.cluster[0]!) } },
        );
  // An unhandled 'error' event would crash the process; the store reports outages itself.
  client.on("error", () => {});
  await ready(client, connectMs);
  const store = redisStore({
    client: client as never,
    ...(spec.timeout === undefined ? {} : { timeout: spec.timeout }),
    ...(spec.onStoreError === undefined ? {} : { onStoreError: spec.onStoreError }),
  });
  return {
    store,
    close: async () => {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

function auth(u: string): { username?: string; password?: string; tls?: object } {
  const url = new URL(u);
  return {
    ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    ...(url.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/**
 * Waits for the first connection (or its failure, or `ms`): requests right after loadConfig
 * then reach Redis instead of being answered degraded. A Redis that is down does not stop the
 * app: the store answers per `onStoreError` until it is back.
 */
function ready(client: IoRedisClient, ms: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    client.once("ready", done);
    client.once("end", done);
    client.once("close", done);
  });
}
