/**
 * Koa with throttlekit on 127.0.0.1:3000 (PORT to change it), counting per JWT subject with
 * per-plan limits. Run it with `npx tsx examples/koa/server.ts`; it prints a demo token, then:
 *   curl -i -H "authorization: Bearer <token>" localhost:3000/api/me
 *   for i in $(seq 12); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000/; done
 */
import { SignJWT } from "jose";
import Koa from "koa";
import { ip, jwt, UNLIMITED } from "throttlekit/http";
import { koaRateLimit } from "throttlekit/koa";

const secret = process.env.JWT_SECRET ?? "demo secret: set JWT_SECRET in real life";

const app = new Koa();

// Errors from the limiter (a store down) reach Koa's error handling like any other.
app.use(async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    console.error(error);
    ctx.status = 500;
    ctx.body = "Internal Server Error";
  }
});

app.use(
  koaRateLimit({
    headers: "draft-7",
    rules: [
      { path: "/health", exempt: true },
      { path: "/login", methods: "POST", policies: "5/min", blockFor: "15m" },
      {
        path: "/api/**",
        name: "api",
        // Signed tokens count per subject; requests without one per client address.
        identity: jwt({ secret, groupClaim: "plan", algorithms: ["HS256"], fallback: ip() }),
        policies: {
          default: ["5/10s", "100/day"],
          groups: { pro: ["50/10s", "100000/day"], admin: UNLIMITED },
        },
      },
    ],
    policies: "10/min",
  }),
);

app.use((ctx) => {
  if (ctx.path === "/health") ctx.body = "ok";
  else if (ctx.path === "/api/me") ctx.body = { hello: "api", time: new Date().toISOString() };
  else ctx.body = "Hello from Koa behind throttlekit.\n";
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, "127.0.0.1", async () => {
  const token = await new SignJWT({ plan: "pro" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("demo-user")
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
  console.log(`throttlekit + koa on http://127.0.0.1:${port}\ndemo token (plan "pro"): ${token}`);
});
