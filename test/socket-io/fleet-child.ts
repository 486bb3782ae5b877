/**
 * One Socket.IO server process of the fleet test: maxConnections on a shared Redis. Sends its
 * port to the parent once listening.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { socketIoRateLimit } from "../../src/adapters/socket-io/index.js";
import { redisStore } from "../../src/stores/redis/index.js";

const config = JSON.parse(process.argv[2]!) as {
  port: number;
  prefix: string;
  max: number;
  leaseMs: number;
};
const client = new Redis(config.port, "127.0.0.1");
const limit = socketIoRateLimit({
  store: redisStore({ client, logger: false }),
  prefix: config.prefix,
  logger: false,
  maxConnections: config.max,
  leaseMs: config.leaseMs,
});
const http = createServer();
const io = new Server(http);
io.use(limit.middleware);
http.listen(0, "127.0.0.1", () => {
  process.send!({ port: (http.address() as AddressInfo).port });
});
process.on("disconnect", () => process.exit(0));
