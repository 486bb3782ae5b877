/**
 * A NestJS app (Express platform) limited by throttlekit: `npx tsx examples/nest/main.ts`, then
 * `curl -i http://127.0.0.1:3000/` a few times. Written without decorator syntax so it
 * type-checks under this repo's tsconfig; in your app write `@Controller()`, `@Get()`,
 * `@Throttle(...)` as usual (with "experimentalDecorators" on).
 */
import "reflect-metadata";
import { Controller, Get, Module } from "@nestjs/common";
import { APP_FILTER, APP_GUARD, NestFactory } from "@nestjs/core";
import {
  SkipThrottle,
  Throttle,
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "throttlekit/nest";

class AppController {
  hello() {
    return { hello: "world" };
  }
  login() {
    return { ok: true };
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
method("health", Get("health"), SkipThrottle());
Controller()(AppController);

class AppModule {}
Module({
  imports: [
    ThrottlekitModule.forRoot({
      // Two named throttlers, checked as one decision: 3 per second and 20 per minute.
      throttlers: { short: "3/s", long: "20/min" },
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
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, "127.0.0.1");
console.log(`listening on http://127.0.0.1:${port}`);
