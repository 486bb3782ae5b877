import { describe, expect, it } from "vitest";
import { verdictFree } from "../core/decision.js";
import type { Policy } from "../core/policy.js";
import type { Store, StoreBinding } from "../core/store.js";
import { createHttpLimiter } from "./http-limiter.js";
import { QUOTA_EXCEEDED_TYPE, TEMPORARY_REDUCED_CAPACITY_TYPE } from "./index.js";
import type { HttpOutcome, LimitedContext } from "./options.js";
import type { HttpRequest } from "./request.js";

const req: HttpRequest = {
  method: "GET",
  path: "/",
  remoteAddress: "192.0.2.1",
  raw: undefined,
  header: () => undefined,
};

/** A store whose every decision is what fail-closed answers during an outage. */
function failClosedStore(retryAfterMs = 1000): Store {
  return {
    name: "fail-closed",
    bind(_namespace: string, policies: readonly Policy[]): StoreBinding {
      const refuse = async () => verdictFree(policies, "degraded", false, retryAfterMs);
      const fail = () => Promise.reject(new Error("down"));
      return {
        consume: refuse,
        peek: refuse,
        refund: fail,
        reset: fail,
        block: fail,
        unblock: fail,
      };
    },
  };
}

describe("a store outage's refusal (issue 13, item 4)", () => {
  it("is a 503 temporary-reduced-capacity with Retry-After and no-store, not a quota 429", async () => {
    const limiter = createHttpLimiter({ policies: "5/min", store: failClosedStore(1500) });
    const out = (await limiter.handle(req)) as HttpOutcome & {
      status: number;
      headers: Record<string, string>;
      body: string;
    };
    expect(out.action).toBe("respond");
    expect(out.reason).toBe("degraded");
    expect(out.status).toBe(503);
    expect(out.headers["Retry-After"]).toBe("2");
    expect(out.headers["Cache-Control"]).toBe("no-store");
    expect(out.headers["Content-Type"]).toBe("application/problem+json");
    const body = JSON.parse(out.body);
    expect(body.type).toBe(TEMPORARY_REDUCED_CAPACITY_TYPE);
    expect(body.type).not.toBe(QUOTA_EXCEEDED_TYPE);
    expect(body).toMatchObject({ status: 503, retryAfter: 2, "violated-policies": ["5/1m"] });
  });

  it("onLimited is told the reason and the default status, which a response without status gets", async () => {
    let seen: LimitedContext | undefined;
    const limiter = createHttpLimiter({
      policies: "5/min",
      store: failClosedStore(),
      onLimited: (context) => {
        seen = context;
        return { body: "busy" };
      },
    });
    const out = (await limiter.handle(req)) as { status: number; headers: Record<string, string> };
    expect(seen?.reason).toBe("degraded");
    expect(seen?.status).toBe(503);
    expect(out.status).toBe(503);
    expect(out.headers["Retry-After"]).toBe("1");
    expect(out.headers["Cache-Control"]).toBe("no-store");
  });

  it("a quota refusal stays a 429 quota-exceeded, and onLimited hears reason limited", async () => {
    let seen: LimitedContext | undefined;
    const limiter = createHttpLimiter({
      policies: "1/min",
      onLimited: (context) => {
        seen = context;
        return { body: "slow down" };
      },
    });
    await limiter.handle(req);
    const out = (await limiter.handle(req)) as { status: number };
    expect(out.status).toBe(429);
    expect(seen).toMatchObject({ reason: "limited", status: 429 });
  });
});
