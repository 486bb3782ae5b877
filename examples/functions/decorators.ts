/**
 * `@throttle` on class methods (TC39 decorators: TypeScript 5+ without a flag; NestJS's legacy
 * experimentalDecorators work the same). Run `node --import tsx examples/functions/decorators.ts`:
 * each account may export twice per minute (the key reads `this`, so each account has its own
 * budget); a synchronous method stays synchronous; the async `notify` answers "queued" instead of
 * failing when an account sends more than 1 notification per second.
 */
import { createLimiter, RateLimitedError, throttle } from "throttlekit";

const csvExports = createLimiter({ policies: { limit: 2, window: "1m", algorithm: "gcra" } });
const notifications = createLimiter({ policies: { limit: 1, window: "1s", algorithm: "gcra" } });

class Account {
  constructor(readonly id: string) {}

  @throttle(csvExports, {
    key(this: Account) {
      return `export:${this.id}`;
    },
  })
  exportCsv(rows: number): string {
    return `${this.id}: exported ${rows} rows`;
  }

  @throttle(notifications, {
    key(this: Account) {
      return `notify:${this.id}`;
    },
    onLimited: () => "queued",
  })
  async notify(message: string): Promise<string> {
    return `${this.id}: sent "${message}"`;
  }
}

const ann = new Account("ann");
const bob = new Account("bob");
for (const [account, rows] of [
  [ann, 10],
  [ann, 20],
  [ann, 30],
  [bob, 5],
] as const) {
  try {
    console.log(account.exportCsv(rows));
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    const seconds = Math.ceil(error.decision.retryAfterMs / 1000);
    console.log(`${account.id}: export refused, retry in ${seconds} s`);
  }
}
console.log(await ann.notify("hello"));
console.log(await ann.notify("hello again"));
console.log(await bob.notify("hello"));
