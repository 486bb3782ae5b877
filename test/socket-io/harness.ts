import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Cluster, Redis } from "ioredis";
import { Server, type ServerOptions } from "socket.io";
import {
  io as connectClient,
  type ManagerOptions,
  type Socket,
  type SocketOptions,
} from "socket.io-client";
import {
  type SocketIoRateLimit,
  type SocketIoRateLimitOptions,
  socketIoRateLimit,
} from "../../src/adapters/socket-io/index.js";
import { memoryStore } from "../../src/core/memory-store.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";

/** A Socket.IO server on 127.0.0.1:0 with the limiter installed. */
export type Harness = {
  readonly io: Server;
  readonly http: HttpServer;
  readonly url: string;
  readonly limit: SocketIoRateLimit;
  /** Handler runs per event name. */
  readonly handled: Map<string, number>;
  close(): Promise<void>;
};

export async function serve(
  options: SocketIoRateLimitOptions,
  server: Partial<ServerOptions> & {
    handshake?: boolean;
    /** Told each admission's outcome (the error passed to next, or undefined). */
    admitted?: (error: unknown) => void;
  } = {},
): Promise<Harness> {
  const { handshake, admitted, ...serverOptions } = server;
  const limit = socketIoRateLimit(options);
  const http = createServer();
  const io = new Server(http, {
    ...serverOptions,
    ...(handshake ? { allowRequest: limit.allowRequest } : {}),
  });
  io.use((socket, next) =>
    limit.middleware(socket, (error) => {
      admitted?.(error);
      next(error);
    }),
  );
  const handled = new Map<string, number>();
  io.on("connection", (socket) => {
    socket.onAny(() => {});
    socket.on("chat:message", (...args: unknown[]) => count(handled, "chat:message", args));
    socket.on("chat:typing", (...args: unknown[]) => count(handled, "chat:typing", args));
    socket.on("other", (...args: unknown[]) => count(handled, "other", args));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    io,
    http,
    url: `http://127.0.0.1:${port}`,
    limit,
    handled,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await limit.close();
    },
  };
}

function count(handled: Map<string, number>, name: string, args: unknown[]): void {
  handled.set(name, (handled.get(name) ?? 0) + 1);
  const ack = args[args.length - 1];
  if (typeof ack === "function") ack({ ok: true });
}

const clients: Socket[] = [];

/** A client; resolves once connected, rejects with the connect_error. */
export function connect(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<Socket> {
  const socket = connectClient(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  clients.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** The connect_error of a connection expected to be refused. */
export async function refused(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
): Promise<Error & { data?: Record<string, unknown>; description?: unknown; context?: unknown }> {
  try {
    await connect(url, options);
  } catch (error) {
    return error as Error & { data?: Record<string, unknown> };
  }
  throw new Error("the connection was admitted");
}

export function closeClients(): void {
  for (const c of clients.splice(0)) c.close();
}

/** Emits with an ack and resolves with the ack's first argument. */
export function ask(socket: Socket, event: string, ...args: unknown[]): Promise<unknown> {
  return socket.timeout(5000).emitWithAck(event, ...args);
}

/** Resolves once `until` holds, polling every 10 ms for at most `ms`. */
export async function eventually(
  until: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await until())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The three stores every test runs on; Redis ones start their own servers. */
export type StoreCase = { readonly name: string; store(): Store };

export type Stores = {
  readonly cases: readonly StoreCase[];
  start(): Promise<void>;
  stop(): Promise<void>;
};

export function storeCases(): Stores {
  let single: RedisNode | undefined;
  let cluster: RedisCluster | undefined;
  const redisClients: { disconnect(): void }[] = [];
  let singleStore: Store | undefined;
  let clusterStore: Store | undefined;
  return {
    cases: [
      { name: "memory", store: () => memoryStore() },
      { name: "redis single", store: () => singleStore! },
      { name: "redis cluster", store: () => clusterStore! },
    ],
    async start() {
      [single, cluster] = await Promise.all([startRedis(), startCluster()]);
      const a = new Redis(single.port, single.host);
      const b = new Cluster([...cluster.seeds]);
      redisClients.push(a, b);
      singleStore = redisStore({ client: a });
      clusterStore = redisStore({ client: b });
    },
    async stop() {
      for (const c of redisClients) c.disconnect();
      await Promise.all([single?.stop(), cluster?.stop()]);
    },
  };
}

let n = 0;
/** A prefix no other test uses, so tests sharing a Redis never share counters. */
export function uniquePrefix(): string {
  return `sio${process.pid}x${++n}`;
}
