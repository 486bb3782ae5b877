/**
 * token-throttler's README, ported: identifiers with several buckets, added and removed at run
 * time. Run `node --import tsx examples/functions/registry.ts`:
 * 1. manual use: "hello_world" has two buckets, 10 per 10 s and 20 per 30 s; ten calls pass, the
 *    eleventh is refused by the first bucket and charges neither;
 * 2. the decorator (token-throttler's `@throttler.enable("hello_world")`), from its dict
 *    configuration ({ replenish_time, max_tokens } in seconds) loaded as it is;
 * 3. buckets added and removed at run time keep the others' counters; an identifier nobody
 *    added is a ConfigError, or passes with `unknown: "unlimited"` (IDENTIFIER_FAIL_SAFE).
 */
import { ConfigError, createLimiterRegistry, RateLimitedError } from "throttlekit";

// 1. Manual usage.
const throttler = createLimiterRegistry({ policies: { hello_world: ["10/10s", "20/30s"] } });
for (let i = 0; i < 10; i++) await throttler.consume("hello_world");
const refused = await throttler.consume("hello_world");
if (!refused.allowed) {
  const left = refused.policies.map((p) => `${p.policy.name} has ${p.remaining} left`);
  console.log(`bucket ${refused.policy.name} ran out of tokens (${left.join(", ")})`);
}

// 2. Decorator usage, from token-throttler's own dict shape.
const fromDict = createLimiterRegistry({
  policies: {
    hello_world: [
      { replenish_time: 10, max_tokens: 10 },
      { replenish_time: 30, max_tokens: 20 },
    ],
  },
});

class Greeter {
  @fromDict.throttle("hello_world")
  helloWorld(): string {
    return "Hello World";
  }
}

const greeter = new Greeter();
let said = 0;
try {
  for (;;) {
    greeter.helloWorld();
    said++;
  }
} catch (error) {
  if (!(error instanceof RateLimitedError)) throw error;
  const seconds = error.decision.retryAfterMs / 1000;
  console.log(
    `said Hello World ${said} times; bucket_one ran out of tokens, retry in ${seconds} s`,
  );
}

// 3. Buckets at run time; unknown identifiers.
fromDict.add("hello_world", { limit: 100, window: "1h", name: "hourly" });
fromDict.remove("hello_world", "10/10s");
const now = await fromDict.peek("hello_world");
console.log(now.policies.map((p) => `${p.policy.name}: ${p.remaining} left`).join(", "));

try {
  await fromDict.consume("nobody");
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.log(
    `unknown identifier: ${error.problems[0]!.option} ${JSON.stringify(error.problems[0]!.received)}`,
  );
}
const failSafe = createLimiterRegistry({ unknown: "unlimited" });
console.log(`with unknown "unlimited": ${(await failSafe.consume("nobody")).reason}`);
