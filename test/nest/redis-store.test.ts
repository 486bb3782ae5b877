/**
 * throttlekit/nest on the Redis store: two apps (two instances of one service) share one
 * redis-server this file starts on a free port, so a client's budget is one budget across the
 * fleet, exactly, on both platforms.
 */
import { Controller, Get, Module, type Type } from "@nestjs/common";
import { APP_FILTER, APP_GUARD } from "@nestjs/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { get, PLATFORMS, type RunningApp, startApp } from "./support/app.js";
import { decorate } from "./support/decorate.js";

class HelloController {
  hello() {
    return "hello";
  }
}
decorate(HelloController, [Controller("hello")], { hello: [Get()] });

/** One instance of the service: its own Redis client, the fleet's shared prefix. */
function instanceModule(client: Redis): Type<unknown> {
  class InstanceModule {}
  decorate(InstanceModule, [
    Module({
      imports: [
        ThrottlekitModule.forRoot({
          throttlers: { default: "3/min" },
          store: redisStore({ client }),
          prefix: "fleet",
        }),
      ],
      controllers: [HelloController],
      providers: [
        { provide: APP_GUARD, useClass: ThrottlekitGuard },
        { provide: APP_FILTER, useClass: ThrottlekitExceptionFilter },
      ],
    }),
  ]);
  return InstanceModule;
}

let redis: RedisNode;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

describe.each(PLATFORMS)("throttlekit/nest on the Redis store, %s", (platform) => {
  const apps: RunningApp[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const client = new Redis({ host: "127.0.0.1", port: redis.port });
      clients.push(client);
      apps.push(await startApp(platform, instanceModule(client)));
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    // One fleet per platform: the next platform starts from an empty store.
    await clients[0]?.flushall();
  });

  it("admits a client's limit once across two instances, then both answer 429", async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(apps[i % 2]!.url, "/hello"));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(answers[2]!.headers.get("ratelimit")).toMatch(/r=0/);
    const retryAfter = Number(answers[3]!.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(answers[3]!.headers.get("content-type")).toMatch(/problem\+json/);
  });
});
