/**
 * One server process of the ws fleet test: a ws echo server behind wsRateLimit on a shared
 * Redis, reporting its port over IPC. Config comes as JSON in argv[2].
 */
import { Cluster, Redis } from "ioredis";
import { wsRateLimit } from "../../src/adapters/ws/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { serve } from "./harness.js";

const config = JSON.parse(process.argv[2]!) as {
  seeds: { host: string; port: number }[];
  cluster: boolean;
  prefix: string;
  max: number;
  leaseMs: number;
};
const client = config.cluster
  ? new Cluster(config.seeds)
  : new Redis(config.seeds[0]!.port, config.seeds[0]!.host);
const limit = wsRateLimit({
  store: redisStore({ client }),
  prefix: config.prefix,
  maxConnections: config.max,
  leaseMs: config.leaseMs,
  logger: false,
});
const srv = await serve(limit);
process.send!({ port: srv.port });
process.on("message", async (m) => {
  if (m === "stats") process.send!({ stats: limit.stats() });
});
