import { memoryStore, type Store } from "../index.js";
import { redisStore } from "../stores/redis/index.js";
import { CliError, EXIT } from "./io.js";

/** A store the CLI opened, and how to let go of it. */
export type OpenedStore = {
  readonly store: Store;
  /** "memory" (this process only), "redis" (--redis), or "config" (the config file's). */
  readonly kind: "memory" | "redis" | "config";
  /** Where it is, for headers and messages (the URL without its password). */
  readonly label: string;
  close(): Promise<void>;
};

/** The ioredis surface the CLI uses: an optional peer, so imported only when --redis is given. */
type IoRedisModule = {
  Redis: new (
    url: string,
    options: Record<string, unknown>,
  ) => {
    connect(): Promise<void>;
    ping(): Promise<string>;
    quit(): Promise<unknown>;
    disconnect(): void;
    on(event: string, listener: (...args: unknown[]) => void): unknown;
  };
};

/** The URL as it may be printed: no password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "<invalid URL>";
  }
}

/**
 * Opens `--redis URL` as a redisStore over an ioredis client. The connection is checked with a
 * PING before any command runs, so a wrong URL is one clear message rather than a hang.
 */
export async function openRedis(url: string, timeoutMs = 5000): Promise<OpenedStore> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`--redis: not a URL: ${JSON.stringify(url)} (redis://host:port[/db])`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new CliError(`--redis: expected a redis:// or rediss:// URL, got ${parsed.protocol}//`);
  }
  let mod: IoRedisModule;
  try {
    mod = (await import("ioredis")) as unknown as IoRedisModule;
  } catch {
    throw new CliError(
      "--redis needs the ioredis package (an optional peer dependency): npm install ioredis",
      EXIT.failed,
    );
  }
  const client = new mod.Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    // One attempt: the CLI reports a server that is down instead of retrying forever.
    retryStrategy: () => null,
  });
  // ioredis emits "error" for every failed attempt; the PING below reports the failure once.
  client.on("error", () => {});
  const label = redactUrl(url);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new CliError(
      `cannot reach Redis at ${label}: ${error instanceof Error ? error.message : String(error)}`,
      EXIT.failed,
    );
  }
  const store = redisStore({ client: client as never, logger: false });
  return {
    store,
    kind: "redis",
    label,
    async close() {
      await store.close?.();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** The embedded store: this process only. */
export function openMemory(): OpenedStore {
  const store = memoryStore();
  return { store, kind: "memory", label: "memory", close: async () => {} };
}

/**
 * Commands that read or change shared state (manage, stats, monitor) refuse the memory store:
 * a fresh one in this process holds nothing any server sees.
 */
export function requireShared(opened: OpenedStore, command: string): void {
  if (opened.kind === "memory") {
    throw new CliError(
      `${command}: the memory store lives inside each server process, so a separate command cannot see or change it.\n` +
        "Point the CLI at the shared store: --redis redis://host:6379, or --config with a Redis store.",
      EXIT.usage,
    );
  }
}
