/**
 * The little redisStore needs from a Redis client, described structurally so no client library
 * is imported: ioredis and iovalkey (single and Cluster) expose `call`, node-redis v4/v5 (client
 * and cluster) expose `sendCommand`. Each is reduced to one function: send this command to the
 * node that serves this key.
 */

/** An ioredis or iovalkey client (`new Redis()`) or cluster (`new Redis.Cluster()`). */
export interface IoRedisLike {
  call(command: string, args: (string | number)[]): Promise<unknown>;
  readonly isCluster: boolean;
}

/**
 * A node-redis v4 or v5 client (`createClient()`); a v4 client in `legacyMode` is used through
 * its `v4` property.
 */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
}

/** A node-redis v4 or v5 cluster (`createCluster()`). */
export interface NodeRedisClusterLike {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  getMasters(): unknown;
}

/** Any client redisStore accepts. It is used as built: the store never connects or quits it. */
export type RedisClientLike = IoRedisLike | NodeRedisLike | NodeRedisClusterLike;

/** One client, reduced to what the store uses. */
export type Commands = {
  /** "ioredis" (also iovalkey) or "node-redis". */
  readonly kind: "ioredis" | "node-redis";
  /** Keys of one command must then share a hash slot; the store groups batches by slot. */
  readonly cluster: boolean;
  /** Sends `args` (command name first) to the node serving `key`. */
  send(key: string, args: string[]): Promise<unknown>;
};

/** Recognises a supported client, or returns undefined so the factory can say what it expected. */
export function wrapClient(client: unknown): Commands | undefined {
  if (typeof client !== "object" || client === null) return undefined;
  const c = client as Record<string, unknown>;
  if (typeof c.call === "function" && typeof c.isCluster === "boolean") {
    const io = client as IoRedisLike;
    return {
      kind: "ioredis",
      cluster: io.isCluster,
      // ioredis routes a cluster command by its first key, which is the one we pass first.
      send: (_key, args) => io.call(args[0]!, args.slice(1)),
    };
  }
  if (typeof c.sendCommand === "function") {
    if (typeof c.getMasters === "function" || "masters" in c) {
      const cluster = client as NodeRedisClusterLike;
      return {
        kind: "node-redis",
        cluster: true,
        send: (key, args) => cluster.sendCommand(key, false, args),
      };
    }
    // node-redis 4 with `legacyMode: true` (what callback-era code such as connect-redis 6
    // asked for) replaces sendCommand with a callback form that returns nothing; the promise
    // form moves to `client.v4`, whose getter throws outside legacy mode (issue 19, item 8).
    const legacy = (c.options as { legacyMode?: unknown } | undefined)?.legacyMode === true;
    const single = (legacy ? c.v4 : client) as NodeRedisLike;
    return { kind: "node-redis", cluster: false, send: (_key, args) => single.sendCommand(args) };
  }
  return undefined;
}
