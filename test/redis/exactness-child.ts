/**
 * One of the exactness test's worker processes: many consumes on one shared key per algorithm,
 * counting how many were admitted. Waits for "go" so the workers hammer the keys together.
 */
import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import { createLimiter } from "../../src/core/limiter.js";
import { ALGORITHMS } from "../../src/core/policy.js";
import { redisStore } from "../../src/stores/redis/index.js";

type Config = {
  seeds: { host: string; port: number }[];
  cluster: boolean;
  client: "ioredis" | "node-redis";
  maxBatch: number;
  prefix: string;
  limit: number;
  count: number;
  inFlight: number;
};

const config = JSON.parse(process.argv[2]!) as Config;

async function connect() {
  const [seed] = config.seeds;
  if (config.client === "ioredis") {
    const client = config.cluster ? new Cluster(config.seeds) : new Redis(seed!.port, seed!.host);
    return { client, close: async () => client.disconnect() };
  }
  const client = config.cluster
    ? createCluster({
        rootNodes: config.seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })),
      })
    : createClient({ socket: { host: seed!.host, port: seed!.port } });
  client.on("error", () => {});
  await client.connect();
  return { client, close: async () => void (await client.close()) };
}

const { client, close } = await connect();
// The local cache is off so that every request, rejected ones too, reaches Redis.
const store = redisStore({ client, maxBatch: config.maxBatch, localCache: false, timeout: "10s" });
await new Promise<void>((resolve) => process.once("message", () => resolve()));

const admitted: Record<string, number> = {};
let degraded = 0;
for (const algorithm of ALGORITHMS) {
  // A 30-day window: nothing refills while the test runs, so admitted must equal the capacity.
  const limiter = createLimiter({
    policies: { limit: config.limit, window: "30d", algorithm },
    store,
    prefix: config.prefix,
  });
  let sent = 0;
  let allowed = 0;
  const worker = async () => {
    while (sent < config.count) {
      sent++;
      const d = await limiter.consume(`shared-${algorithm}`);
      if (d.allowed) allowed++;
      if (d.reason === "degraded") degraded++;
    }
  };
  await Promise.all(Array.from({ length: config.inFlight }, worker));
  admitted[algorithm] = allowed;
}
process.send!({ admitted, degraded }, () => {
  void close().then(() => process.exit(0));
});
