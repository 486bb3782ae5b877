/**
 * Limiting your own functions with `limiter.wrap`. Run `node --import tsx examples/functions/wrap.ts`:
 * 1. an SMS sender, 2 texts per recipient per minute: the third text to one number is refused
 *    (RateLimitedError, with how long to wait), another number still gets through;
 * 2. a price lookup, 3 per second, that answers from its cache instead of failing when called
 *    more often (onLimited as a function);
 * 3. an async vendor call, 4 per second, whose extra calls wait their turn (onLimited "wait").
 * On the memory store a synchronous function stays synchronous: 1 and 2 return plain values.
 */
import { createLimiter, RateLimitedError } from "throttlekit";

// 1. One budget per recipient: the key function reads the call's arguments.
const sms = createLimiter({ policies: { limit: 2, window: "1m", algorithm: "gcra" } });
const sendSms = sms.wrap((to: string, text: string) => `sent to ${to}: ${text}`, {
  key: (to) => `sms:${to}`,
});

for (const [to, text] of [
  ["+15550100", "one"],
  ["+15550100", "two"],
  ["+15550100", "three"],
  ["+15550199", "hello"],
] as const) {
  try {
    console.log(sendSms(to, text));
  } catch (error) {
    if (!(error instanceof RateLimitedError)) throw error;
    const seconds = Math.ceil(error.decision.retryAfterMs / 1000);
    console.log(`refused for ${to}: ${error.decision.reason}, retry in ${seconds} s`);
  }
}

// 2. Over the limit, answer the last known price instead of calling the pricing service.
const cache = new Map<string, number>();
function fetchPrice(sku: string): number {
  const price = 100 + cache.size; // stands in for a call to a pricing service
  cache.set(sku, price);
  return price;
}
const pricing = createLimiter({ policies: { limit: 3, window: "1s", algorithm: "fixed-window" } });
const price = pricing.wrap(fetchPrice, {
  onLimited: (_decision, sku) => cache.get(sku) ?? null,
});
console.log(["a", "b", "c", "a", "d"].map((sku) => `${sku}=${price(sku)}`).join(" "));

// 3. An async call that waits for a slot instead of failing; at most 2 s, then it fails.
const vendor = createLimiter({ policies: { limit: 4, window: "1s", algorithm: "gcra" } });
const geocode = vendor.wrap(async (city: string) => `${city}: ok`, {
  onLimited: "wait",
  maxWaitMs: "2s",
});
const start = Date.now();
const cities = ["Oslo", "Lima", "Pune", "Kobe", "Nice", "Bern"];
for (const line of await Promise.all(cities.map((city) => geocode(city)))) {
  console.log(line);
}
// Four go at once, then one every 250 ms: the sixth about 500 ms after the first.
console.log(`6 calls in ${Math.round((Date.now() - start) / 250) * 250} ms`);
