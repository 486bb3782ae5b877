import {
  ConfigError,
  type Decision,
  type Policy,
  type PolicyDecision,
  type Store,
  type StoreBinding,
} from "../../index.js";

/** What @nestjs/throttler's ThrottlerStorage.increment answers (times in whole seconds). */
export type ThrottlerStorageRecord = {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
};

/**
 * @nestjs/throttler's storage contract (v6): `ThrottlerStorageService`,
 * `@nest-lab/throttler-storage-redis` and yours implement it.
 */
export interface ThrottlerStorage {
  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord>;
}

/**
 * A throttlekit Store over a @nestjs/throttler ThrottlerStorage, so a storage you already run
 * keeps counting. Its semantics are the storage's, not throttlekit's: fixed windows only (a
 * policy of another algorithm is a ConfigError), every policy counted on its own (one
 * `increment` per throttler, no all-or-nothing), and a refused request counted too. Only
 * consume exists: peek, refund, reset, block and unblock throw, so options that need them
 * (countFailed, lists kept in the store, key management) need a throttlekit store.
 *
 * @example
 * ThrottlekitModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 10 }], storage: new ThrottlerStorageService() })
 */
export function throttlerStorageStore(storage: ThrottlerStorage): Store {
  if (typeof storage !== "object" || storage === null || typeof storage.increment !== "function") {
    throw new ConfigError([
      { option: "storage", received: storage, expected: "a ThrottlerStorage with increment()" },
    ]);
  }
  return {
    name: "nest-throttler-storage",
    bind(namespace: string, policies: readonly Policy[]): StoreBinding {
      const problems = policies.filter((p) => p.algorithm !== "fixed-window");
      if (problems.length > 0) {
        throw new ConfigError(
          problems.map((p) => ({
            option: `policies.${p.name}.algorithm`,
            received: p.algorithm,
            expected: '"fixed-window" (a ThrottlerStorage counts fixed windows only)',
          })),
        );
      }
      const unsupported = (what: string) => () =>
        Promise.reject(
          new ConfigError([
            {
              option: "storage",
              received: what,
              expected: `a throttlekit store (a ThrottlerStorage has no ${what})`,
            },
          ]),
        );
      return {
        async consume(key: string, cost: number): Promise<Decision> {
          const records = await Promise.all(
            policies.map(async (p) => {
              // No blockFor is no block (@nestjs/throttler's blockDuration: 0); its default
              // (ttl) is already the policy's blockFor (throttler-compat.ts).
              const blockMs = p.blockForMs;
              let r: ThrottlerStorageRecord | undefined;
              for (let i = 0; i < Math.max(1, cost); i++) {
                r = await storage.increment(
                  `${namespace}:${p.id}:${key}`,
                  p.windowMs,
                  p.limit,
                  blockMs,
                  p.name,
                );
              }
              return r!;
            }),
          );
          return decisionOf(policies, records);
        },
        peek: unsupported("peek"),
        refund: unsupported("refund"),
        reset: unsupported("reset"),
        block: unsupported("block"),
        unblock: unsupported("unblock"),
      };
    },
  };
}

function decisionOf(
  policies: readonly Policy[],
  records: readonly ThrottlerStorageRecord[],
): Decision {
  const entries = policies.map((p, i): PolicyDecision => {
    const r = records[i]!;
    const allowed = !r.isBlocked;
    return {
      policy: p,
      allowed,
      limit: p.limit,
      remaining: Math.max(0, p.limit - r.totalHits),
      resetMs: Math.max(0, r.timeToExpire) * 1000,
      retryAfterMs: allowed ? 0 : Math.max(1, r.timeToBlockExpire) * 1000,
    };
  });
  const refused = entries.filter((e) => !e.allowed);
  // The binding entry: the refusal that waits longest, else the one with the least left.
  const binding =
    refused.length > 0
      ? refused.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a))
      : entries.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  const allowed = refused.length === 0;
  return {
    allowed,
    limit: binding.limit,
    remaining: binding.remaining,
    resetMs: binding.resetMs,
    retryAfterMs: binding.retryAfterMs,
    reason: allowed ? "ok" : "limited",
    policy: binding.policy,
    policies: entries,
    delayMs: 0,
  };
}
