/**
 * node-redis, every major peerDependencies promise (`redis` ^4 || ^5; issue 19, item 8): the
 * suites that run on node-redis take their client from here and run once per major. node-redis 4
 * is installed under the npm alias `redis4`. The majors differ in how a client is ended (v5:
 * close/destroy, v4: quit/disconnect), so a test ends it through this wrapper.
 */
import { createRequire } from "node:module";
import { createClient, createCluster } from "redis";
import * as redis4 from "redis4";
import type { RedisClientLike } from "../../src/stores/redis/index.js";

/** A connected node-redis client or cluster, as the tests use it. */
export type NodeRedisConnection = {
  /** What redisStore gets. */
  readonly client: RedisClientLike;
  /** Waits for pending replies, then closes (v5 `close()`, v4 `quit()`). */
  close(): Promise<void>;
  /** Drops the connection now (v5 `destroy()`, v4 `disconnect()`). */
  destroy(): void;
};

type Address = { readonly host: string; readonly port: number };

/** One node-redis major. */
export type NodeRedisMajor = {
  /** "node-redis 5", "node-redis 4": shown in test names. */
  readonly name: string;
  readonly major: 4 | 5;
  /** The installed package's version, so a drifted alias cannot run one major twice. */
  readonly version: string;
  /** A connected client on one node; errors are swallowed (the tests kill servers). */
  client(node: Address): Promise<NodeRedisConnection>;
  /** A connected cluster client from these seeds. */
  cluster(seeds: readonly Address[]): Promise<NodeRedisConnection>;
};

/**
 * A node-redis 4 client built with `legacyMode: true`, the mode callback-era code (connect-redis
 * 6 among it) asks for: its `sendCommand` takes a callback and returns nothing, the promise API
 * moves to `client.v4`.
 */
export async function nodeRedis4Legacy({ host, port }: Address): Promise<NodeRedisConnection> {
  const c = redis4.createClient({ socket: { host, port }, legacyMode: true });
  c.on("error", quiet);
  await c.connect();
  return {
    client: c,
    close: async () => {
      await c.v4.quit();
    },
    destroy: () => {
      c.disconnect().catch(quiet);
    },
  };
}

const require = createRequire(import.meta.url);
const quiet = () => {};

const v5: NodeRedisMajor = {
  name: "node-redis 5",
  major: 5,
  version: require("redis/package.json").version,
  async client({ host, port }) {
    const c = createClient({ socket: { host, port } });
    c.on("error", quiet);
    await c.connect();
    return { client: c, close: () => c.close(), destroy: () => c.destroy() };
  },
  async cluster(seeds) {
    const c = createCluster({
      rootNodes: seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })),
    });
    c.on("error", quiet);
    await c.connect();
    return { client: c, close: () => c.close(), destroy: () => c.destroy() };
  },
};

const v4: NodeRedisMajor = {
  name: "node-redis 4",
  major: 4,
  version: require("redis4/package.json").version,
  async client({ host, port }) {
    const c = redis4.createClient({ socket: { host, port } });
    c.on("error", quiet);
    await c.connect();
    return {
      client: c,
      close: async () => {
        await c.quit();
      },
      destroy: () => {
        c.disconnect().catch(quiet);
      },
    };
  },
  async cluster(seeds) {
    const c = redis4.createCluster({
      rootNodes: seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })),
    });
    c.on("error", quiet);
    await c.connect();
    return {
      client: c,
      close: async () => {
        await c.quit();
      },
      destroy: () => {
        c.disconnect().catch(quiet);
      },
    };
  },
};

/** Every node-redis major the store supports, newest first. */
export const nodeRedisMajors: readonly NodeRedisMajor[] = [v5, v4];
