/**
 * throttlekit/redis: the Redis store (single node, Cluster, Valkey) for ioredis, iovalkey and
 * node-redis clients. See docs/redis.md.
 */
export type {
  IoRedisLike,
  NodeRedisClusterLike,
  NodeRedisLike,
  RedisClientLike,
} from "./client.js";
export {
  type RedisStore,
  type RedisStoreOptions,
  type RedisStoreStats,
  redisStore,
} from "./redis-store.js";
