/**
 * One hello-world server for `npm run bench:http`, in its own process so the load generator
 * never shares an event loop with it. Usage:
 *   node --import tsx bench/http/server.ts <variant> [redisPort]
 * Prints `PORT <n>` once listening on 127.0.0.1; exits on SIGTERM.
 *
 * Every limited variant keys on the `x-api-key` request header (the bench sends many keys) and
 * keeps its library's default response headers. Limits are far above what a run sends.
 */
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Redis as RedisClient } from "ioredis";

export const FRAMEWORKS = ["fastify", "express"] as const;
export const LIMITERS = ["bare", "tk-memory", "peer-memory", "tk-redis", "peer-redis"] as const;
/**
 * bench:http:marginal's and bench:http:profile's reference point, not a limiter: a hook that
 * counts requests per key in a Map and sets two constant header fields rendered by throttlekit's
 * own draft-10 renderer. No limiter that sends two header fields can cost less, so it marks how
 * close the real ones come.
 */
export const FLOOR = "fastify-floor";
export type Variant = `${(typeof FRAMEWORKS)[number]}-${(typeof LIMITERS)[number]}` | typeof FLOOR;

/** Far above anything a run sends: nothing is rejected. */
const LIMIT = 1_000_000_000;
/** throttlekit's policy in every variant (the floor copies its header fields). */
const TK_POLICY = `${LIMIT}/min`;
const KEY_HEADER = "x-api-key";

async function redisClient(port: number): Promise<RedisClient> {
  const { Redis } = await import("ioredis");
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
  await client.connect();
  return client;
}

async function throttlekitStore(redisPort: number | undefined) {
  if (redisPort === undefined) return undefined;
  const { redisStore } = await import("../../src/stores/redis/index.js");
  // fail-closed: a Redis fault shows up as errors in the run, never as a quiet memory fallback.
  return redisStore({ client: await redisClient(redisPort), onStoreError: "fail-closed" });
}

/** bench:http:marginal sets it: the limiter's own header fields off. */
const NO_HEADERS = process.env.BENCH_NO_HEADERS === "1";

async function tkOptions(redisPort: number | undefined) {
  const { apiKey } = await import("../../src/http/identity/api-key.js");
  const store = await throttlekitStore(redisPort);
  return {
    policies: TK_POLICY,
    identity: apiKey(KEY_HEADER),
    ...(store !== undefined ? { store } : {}),
    ...(NO_HEADERS ? { headers: false as const } : {}),
  };
}

/**
 * bench:http:marginal's switch (BENCH_SWITCH=1): every route's onRequest hooks (the limiter's)
 * run only while it is on; SIGUSR1 flips it. Registered after the limiter, so it wraps them.
 */
function installSwitch(app: import("fastify").FastifyInstance): void {
  let on = true;
  process.on("SIGUSR1", () => {
    on = !on;
  });
  app.addHook("onRoute", (route) => {
    const hooks = route.onRequest;
    if (hooks === undefined) return;
    route.onRequest = (Array.isArray(hooks) ? hooks : [hooks]).map(
      (hook) =>
        function (this: unknown, req, reply, done) {
          if (on) return hook.call(this as never, req, reply, done);
          done();
        } as typeof hook,
    );
  });
}

async function fastifyApp(limiter: string, redisPort: number | undefined) {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  if (limiter.startsWith("tk-")) {
    const { fastifyRateLimit } = await import("../../src/adapters/fastify.js");
    await app.register(fastifyRateLimit, await tkOptions(redisPort));
  } else if (limiter.startsWith("peer-")) {
    const { default: rateLimit } = await import("@fastify/rate-limit");
    await app.register(rateLimit, {
      max: LIMIT,
      timeWindow: 60_000,
      keyGenerator: (req) => String(req.headers[KEY_HEADER]),
      ...(redisPort !== undefined ? { redis: await redisClient(redisPort) } : {}),
      ...(NO_HEADERS
        ? {
            addHeadersOnExceeding: {
              "x-ratelimit-limit": false,
              "x-ratelimit-remaining": false,
              "x-ratelimit-reset": false,
            },
          }
        : {}),
    });
  }
  if (limiter === "floor") {
    // A route hook, as the limiters add theirs, so bench:http:marginal's switch wraps it too.
    const hook = await floorHook();
    app.addHook("onRoute", (route) => {
      route.onRequest = [hook];
    });
  }
  if (process.env.BENCH_SWITCH === "1") installSwitch(app);
  app.get("/", async () => "hello");
  await app.listen({ host: "127.0.0.1", port: 0 });
  return (app.server.address() as AddressInfo).port;
}

async function floorHook(): Promise<import("fastify").onRequestHookHandler> {
  // throttlekit's own renderer, run once on its own first decision: both fields are values it
  // sends here (its t moves between 60 and 120 with the window, one digit at most). Built once, because a string concatenated per request would
  // cost a flatten each time (see docs/benchmarks.md), and the floor must be the cheapest case.
  const { createLimiter } = await import("../../src/core/limiter.js");
  const { headerRenderer } = await import("../../src/http/headers.js");
  const limiter = createLimiter({ policies: TK_POLICY });
  const fields = headerRenderer("draft-10", limiter.policies, Date.now)!(limiter.consumeSync("k"));
  const policy = fields["RateLimit-Policy"]!;
  const item = fields.RateLimit!;
  const counts = new Map<string, number>();
  return function floor(req, reply, done) {
    const key = String(req.headers[KEY_HEADER]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    reply.header("ratelimit-policy", policy);
    reply.header("ratelimit", item);
    done();
  };
}

async function expressApp(limiter: string, redisPort: number | undefined) {
  const { default: express } = await import("express");
  const app = express();
  app.disable("x-powered-by");
  if (limiter.startsWith("tk-")) {
    const { expressRateLimit } = await import("../../src/adapters/express.js");
    app.use(expressRateLimit(await tkOptions(redisPort)));
  } else if (limiter.startsWith("peer-")) {
    const { rateLimit } = await import("express-rate-limit");
    let store: import("express-rate-limit").Store | undefined;
    if (redisPort !== undefined) {
      const { RedisStore } = await import("rate-limit-redis");
      const client = await redisClient(redisPort);
      store = new RedisStore({
        sendCommand: (command: string, ...args: string[]) =>
          client.call(command, ...args) as Promise<never>,
      });
    }
    app.use(
      rateLimit({
        windowMs: 60_000,
        limit: LIMIT,
        keyGenerator: (req) => String(req.headers[KEY_HEADER]),
        validate: false,
        ...(store !== undefined ? { store } : {}),
      }),
    );
  }
  app.get("/", (_req, res) => {
    res.send("hello");
  });
  return new Promise<number>((resolve) => {
    const server = app.listen(0, "127.0.0.1", () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
}

async function main(): Promise<void> {
  const [variant, redisArg] = process.argv.slice(2);
  const m = /^(fastify|express)-(.+)$/.exec(variant ?? "");
  if (m === null || !(variant === FLOOR || (LIMITERS as readonly string[]).includes(m[2]!))) {
    throw new Error(
      `usage: server.ts <${FRAMEWORKS.join("|")}>-<${LIMITERS.join("|")}> [redisPort], or ${FLOOR}`,
    );
  }
  const limiter = m[2]!;
  const redisPort = limiter.endsWith("-redis") ? Number(redisArg) : undefined;
  if (redisPort !== undefined && !Number.isSafeInteger(redisPort))
    throw new Error(`${variant}: needs the Redis port as second argument`);
  const port =
    m[1] === "fastify"
      ? await fastifyApp(limiter, redisPort)
      : await expressApp(limiter, redisPort);
  process.stdout.write(`PORT ${port}\n`);
  process.once("SIGTERM", () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
