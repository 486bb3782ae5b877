/**
 * One server of the fleet test: a grpc-js server on 127.0.0.1:0 whose interceptor keeps its
 * maxConcurrent leases on the Redis named in argv; it reports its port over IPC and runs until
 * killed. `Hold` calls stay open, holding their slot.
 */
import { Redis } from "ioredis";
import { grpcRateLimit } from "../../src/adapters/grpc.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { startGrpc } from "./harness.js";

const { redisPort, prefix, max, leaseMs } = JSON.parse(process.argv[2]!) as {
  redisPort: number;
  prefix: string;
  max: number;
  leaseMs: number;
};
const limit = grpcRateLimit({
  store: redisStore({ client: new Redis(redisPort, "127.0.0.1") }),
  prefix,
  identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
  maxConcurrent: max,
  leaseMs,
});
const h = await startGrpc([limit]);
process.send?.({ port: h.port });
process.on("disconnect", () => process.exit(0));
