/**
 * A NestJS app (Express platform) limited by throttlekit: `npx tsx examples/nest/main.ts`, then
 * `curl -i http://127.0.0.1:3000/` a few times. `/login` has its own limits (1/s, 5/min);
 * `/quota` shows the decision the handler got (@RateLimit()); `POST /forgive` resets the
 * caller's `/login` counters through ThrottlekitService; `/health` is not limited. Written without decorator syntax so it
 * type-checks under this repo's tsconfig; in your app write `@Controller()`, `@Get()`,
 * `@Throttle(...)` as usual (with "experimentalDecorators" on).
 */
import "reflect-metadata";
import type { AddressInfo } from "node:net";
import { Controller, Get, Inject, Module, Post } from "@nestjs/common";
import { APP_FILTER, APP_GUARD, NestFactory } from "@nestjs/core";
import {
  RateLimit,
  type RateLimitInfo,
  SkipThrottle,
  Throttle,
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
  ThrottlekitService,
} from "throttlekit/nest";

class AppController {
  constructor(private readonly throttle: ThrottlekitService) {}
  hello() {
    return { hello: "world" };
  }
  login() {
    return { ok: true };
  }
  quota(info: RateLimitInfo | undefined) {
    return { key: info?.key, limit: info?.limit, remaining: info?.remaining };
  }
  async forgive(info: RateLimitInfo | undefined) {
    if (info !== undefined)
      await this.throttle.resetKey(info.key, { route: [AppController, "login"] });
    return { forgiven: info?.key };
  }
  health() {
    return "ok";
  }
}
const proto = AppController.prototype;
const method = (name: keyof AppController, ...decorators: MethodDecorator[]) => {
  for (const d of decorators.reverse())
    d(proto, name, Object.getOwnPropertyDescriptor(proto, name)!);
};
method("hello", Get());
method("login", Get("login"), Throttle({ short: "1/s", long: "5/min" }));
method("quota", Get("quota"));
method("forgive", Post("forgive"));
method("health", Get("health"), SkipThrottle());
RateLimit()(proto, "quota", 0);
RateLimit()(proto, "forgive", 0);
Inject(ThrottlekitService)(AppController, undefined, 0);
Controller()(AppController);

class AppModule {}
Module({
  imports: [
    ThrottlekitModule.forRoot({
      // Two named throttlers, checked as one decision: 3 per second and 20 per minute.
      throttlers: { short: "3/s", long: "20/min" },
      // throttlekit/http's options apply to every handler: lists, identities, cost, answers.
      deny: ["198.51.100.0/24"],
      onLimited: ({ retryAfter }) => ({ body: { error: "slow down", retryAfter } }),
      // Behind one load balancer you run, say so; by default X-Forwarded-For is ignored.
      // trustProxy: 1,
    }),
  ],
  controllers: [AppController],
  providers: [
    { provide: APP_GUARD, useClass: ThrottlekitGuard },
    { provide: APP_FILTER, useClass: ThrottlekitExceptionFilter },
  ],
})(AppModule);

const app = await NestFactory.create(AppModule);
await app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
const { port } = app.getHttpServer().address() as AddressInfo;
console.log(`listening on http://127.0.0.1:${port}`);
