import { algorithms } from "../core/algorithms/index.js";
import { pureStep } from "../core/algorithms/step.js";
import type { Decision } from "../core/decision.js";
import { createLimiter } from "../core/limiter.js";
import { ALGORITHMS, type AlgorithmName, type PolicyInput } from "../core/policy.js";
import type { Store } from "../core/store.js";
import { manualClock } from "./manual-clock.js";

type Describe = (name: string, fn: () => void) => void;
type It = (name: string, fn: () => Promise<void>) => void;

export type ConformanceOptions = {
  /** Shown in test names ("memory", "redis cluster"). */
  name: string;
  /** The test runner's `describe` and `it` (Vitest, Jest, node:test all fit). */
  describe: Describe;
  it: It;
  /**
   * Returns the store under test. Called once per case; a remote store may return the same
   * instance every time: each case uses its own prefix, so cases never share state.
   */
  store: () => Store | Promise<Store>;
  /** Algorithms to cover. @default every algorithm */
  algorithms?: readonly AlgorithmName[];
  /**
   * Require escalating `blockFor` (`{ base, factor, max, forgetAfter }`, docs/penalties.md):
   * the store keeps each key's row of blocks with its state and sizes each new block with
   * `nextBlockMs` from throttlekit/store. Every store throttlekit ships passes it, and so does
   * the example store (docs/store-authors.md). Pass `false` only for a store that ignores
   * `Policy.escalation` (it blocks for `base` every time): its users must not be offered
   * escalating penalties.
   * @default true
   */
  escalation?: boolean;
};

/**
 * The store conformance suite: every store, throttlekit's and third parties', must pass it
 * for every algorithm. Time is driven by a manual clock passed as the limiter's `clock`, so a
 * store must honour the caller's time when one is given.
 *
 * @example
 * import { describe, it } from "vitest";
 * storeConformance({ name: "my store", describe, it, store: () => myStore });
 */
export function storeConformance(options: ConformanceOptions): void {
  const { describe, it } = options;
  let counter = 0;
  const setup = async (policies: PolicyInput | PolicyInput[]) => {
    const clock = manualClock();
    const store = await options.store();
    const prefix = `conf${process.pid}-${Date.now().toString(36)}-${counter++}`;
    return {
      clock,
      limiter: createLimiter({ policies, store, prefix, clock: clock.now }),
      prefix,
      store,
    };
  };

  describe(`store conformance: ${options.name}`, () => {
    for (const algorithm of options.algorithms ?? ALGORITHMS) {
      const policy = { limit: 5, window: "10s", algorithm } as const;
      describe(algorithm, () => {
        it("admits exactly the limit, then rejects until retryAfterMs has passed", async () => {
          const { clock, limiter } = await setup(policy);
          for (let i = 0; i < 5; i++) {
            const d = await limiter.consume("k");
            check(d.allowed && d.reason === "ok", `request ${i + 1} of 5 allowed`, d);
            check(d.remaining === 4 - i, `remaining ${4 - i} after request ${i + 1}`, d);
          }
          const rejected = await limiter.consume("k");
          check(
            !rejected.allowed && rejected.reason === "limited",
            "6th request limited",
            rejected,
          );
          check(rejected.remaining === 0, "nothing remaining when limited", rejected);
          check(
            rejected.retryAfterMs > 0 && rejected.retryAfterMs <= 20_000,
            "retryAfterMs in (0, 2W]",
            rejected,
          );
          if (rejected.retryAfterMs > 1) {
            clock.advance(rejected.retryAfterMs - 1);
            const early = await limiter.consume("k");
            check(!early.allowed, "still limited 1 ms before retryAfterMs", early);
            clock.advance(1);
          } else {
            clock.advance(rejected.retryAfterMs);
          }
          const later = await limiter.consume("k");
          check(later.allowed, "allowed once retryAfterMs has passed", later);
        });

        it("charges nothing for rejected requests", async () => {
          const { clock, limiter } = await setup(policy);
          for (let i = 0; i < 5; i++) {
            await limiter.consume("hammered");
            await limiter.consume("calm");
          }
          for (let i = 0; i < 20; i++) await limiter.consume("hammered");
          clock.advance("4s");
          const admitted = async (key: string) => {
            let n = 0;
            while (n < 10 && (await limiter.consume(key)).allowed) n++;
            return n;
          };
          const hammered = await admitted("hammered");
          const calm = await admitted("calm");
          check(hammered === calm, `rejections left no trace (${hammered} vs ${calm} admitted)`);
        });

        it("honours cost, cost 0, and rejects a cost above capacity as never passable", async () => {
          const { limiter } = await setup(policy);
          check((await limiter.consume("c", { cost: 3 })).remaining === 2, "cost 3 leaves 2");
          const tooMuch = await limiter.consume("c", { cost: 3 });
          check(
            !tooMuch.allowed && tooMuch.reason === "limited",
            "cost 3 with 2 left is limited",
            tooMuch,
          );
          const free = await limiter.consume("c", { cost: 0 });
          check(free.allowed && free.remaining === 2, "cost 0 allowed and charges nothing", free);
          const never = await limiter.consume("c", { cost: 6 });
          check(
            !never.allowed &&
              never.reason === "cost-exceeds-limit" &&
              never.retryAfterMs === Number.POSITIVE_INFINITY,
            "cost above capacity: cost-exceeds-limit with retryAfterMs Infinity",
            never,
          );
          check((await limiter.consume("c", { cost: 2 })).allowed, "the remaining 2 still pass");
        });

        it("peek reports without charging", async () => {
          const { limiter } = await setup(policy);
          await limiter.consume("p", { cost: 2 });
          for (let i = 0; i < 5; i++) {
            const d = await limiter.peek("p");
            check(d.allowed && d.remaining === 3, "peek shows 3 remaining and charges nothing", d);
          }
          const d = await limiter.peek("p", { cost: 4 });
          check(
            !d.allowed && d.remaining === 3,
            "peek of cost 4 is rejected, remaining still 3",
            d,
          );
        });

        it("refunds, never above capacity", async () => {
          const { limiter } = await setup(policy);
          for (let i = 0; i < 5; i++) await limiter.consume("r");
          await limiter.refund("r", 2);
          check((await limiter.consume("r")).allowed, "refunded unit 1 usable");
          check((await limiter.consume("r")).allowed, "refunded unit 2 usable");
          check(!(await limiter.consume("r")).allowed, "no more than refunded");
          await limiter.refund("r", 1000);
          const d = await limiter.peek("r");
          check(d.remaining === 5, "a huge refund restores capacity exactly, never above", d);
          let n = 0;
          while (n < 10 && (await limiter.consume("r")).allowed) n++;
          check(n === 5, `exactly capacity admitted after a huge refund (got ${n})`);
        });

        it("resets, blocks and unblocks", async () => {
          const { clock, limiter } = await setup(policy);
          for (let i = 0; i < 6; i++) await limiter.consume("b");
          await limiter.reset("b");
          const fresh = await limiter.peek("b");
          check(fresh.remaining === 5 && fresh.resetMs === 0, "reset restores a fresh key", fresh);
          await limiter.block("b", "1m");
          const blocked = await limiter.consume("b");
          check(!blocked.allowed && blocked.reason === "blocked", "blocked key rejected", blocked);
          check(blocked.retryAfterMs === 60_000, "retryAfterMs is the block's remainder", blocked);
          clock.advance("30s");
          check((await limiter.consume("b")).retryAfterMs === 30_000, "block counts down");
          await limiter.unblock("b");
          check((await limiter.consume("b")).allowed, "unblocked key allowed");
          await limiter.block("b", "1s");
          clock.advance("1s");
          check((await limiter.consume("b")).allowed, "a block ends on time by itself");
        });

        it("blockFor puts a key in the penalty box from the rejection", async () => {
          const { clock, limiter } = await setup({ ...policy, blockFor: "1m" });
          for (let i = 0; i < 5; i++) await limiter.consume("pb");
          const hit = await limiter.consume("pb");
          check(!hit.allowed && hit.reason === "limited", "the rejection itself is limited", hit);
          // The rejection that starts the block must say when the request can really pass: the
          // block's end, not the policy's own (shorter) wait.
          check(
            hit.retryAfterMs === 60_000 && hit.resetMs >= 60_000,
            "the rejection that starts a block reports the block's wait (60 s)",
            hit,
          );
          const entry = hit.policies[0];
          check(entry?.retryAfterMs === 60_000, "its policy entry reports the block's wait", hit);
          clock.advance("20s");
          const boxed = await limiter.consume("pb");
          check(
            boxed.reason === "blocked" && boxed.retryAfterMs === 40_000,
            "blocked 1m from the rejection",
            boxed,
          );
          clock.advance("40s");
          check(
            (await limiter.consume("pb")).allowed,
            "free when the block ends (window long past)",
          );
        });

        if (options.escalation !== false) {
          it("an escalating blockFor grows for repeat offenders up to max, and starts over after forgetAfter", async () => {
            const { clock, limiter } = await setup({
              ...policy,
              blockFor: { base: "1m", factor: 2, max: "5m", forgetAfter: "1h" },
            });
            // Five pass (the window or bucket is full again after any block), the sixth is refused.
            const offend = async () => {
              for (let i = 0; i < 5; i++) await limiter.consume("esc");
              return limiter.consume("esc");
            };
            const waits: number[] = [];
            for (let i = 0; i < 5; i++) {
              const hit = await offend();
              check(!hit.allowed && hit.reason === "limited", `offence ${i + 1} is limited`, hit);
              waits.push(hit.retryAfterMs);
              clock.advance(hit.retryAfterMs - 1);
              const boxed = await limiter.consume("esc");
              check(
                boxed.reason === "blocked" && boxed.retryAfterMs === 1,
                `block ${i + 1} lasts what its rejection said`,
                boxed,
              );
              clock.advance(1);
            }
            check(
              waits.join() === "60000,120000,240000,300000,300000",
              `blocks of 1m, 2m, 4m, then max 5m (got ${waits.join()})`,
            );
            clock.advance(3_600_000 - 1);
            const remembered = await offend();
            check(
              remembered.retryAfterMs === 300_000,
              "a block starting 1 ms before forgetAfter continues the row",
              remembered,
            );
            clock.advance(300_000 + 3_600_000);
            const forgotten = await offend();
            check(
              forgotten.retryAfterMs === 60_000,
              "a key clean for forgetAfter starts over at base",
              forgotten,
            );
            await limiter.reset("esc");
            clock.advance(60_000);
            const afterReset = await offend();
            check(
              afterReset.retryAfterMs === 60_000,
              "reset forgets the row of blocks",
              afterReset,
            );
          });
        }

        it("keeps keys and prefixes apart", async () => {
          const { limiter, store, clock } = await setup(policy);
          for (let i = 0; i < 5; i++) await limiter.consume("a");
          check(!(await limiter.consume("a")).allowed, "a is limited");
          check((await limiter.consume("b")).allowed, "b is independent of a");
          const other = createLimiter({
            policies: policy,
            store,
            prefix: `${limiter.prefix}-other`,
            clock: clock.now,
          });
          check((await other.consume("a")).allowed, "another prefix has its own counters");
        });

        it("comes back to full capacity after the state's lifetime", async () => {
          const { clock, limiter } = await setup(policy);
          for (let i = 0; i < 7; i++) await limiter.consume("e");
          clock.advance("20s");
          const d = await limiter.peek("e");
          check(d.remaining === 5 && d.resetMs === 0, "full and at rest after 2W", d);
        });

        it("decides exactly as the algorithm's pure step on a mixed sequence", async () => {
          const { clock, limiter } = await setup(policy);
          const p = limiter.policies[0]!;
          let state: number[] | undefined;
          let seed = 42;
          const rand = (n: number) => {
            seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
            return seed % n;
          };
          for (let i = 0; i < 120; i++) {
            clock.advance(rand(4) === 0 ? rand(6000) : rand(300));
            const cost = rand(5) === 0 ? rand(4) : 1;
            const expected = pureStep(algorithms[algorithm] as never, state, clock.now(), cost, p);
            state = expected.state;
            const got = await limiter.consume("seq", { cost });
            const e = expected.decision;
            check(
              got.allowed === e.allowed &&
                got.remaining === e.remaining &&
                got.resetMs === e.resetMs &&
                got.retryAfterMs === e.retryAfterMs &&
                got.delayMs === e.delayMs,
              `step ${i}: store matches the pure algorithm (${JSON.stringify(e)})`,
              got,
            );
          }
        });
      });
    }

    describe("composite policies", () => {
      it("are all-or-nothing: a rejection charges no policy", async () => {
        const { clock, limiter } = await setup([
          "2/s",
          { limit: 3, window: "10s", algorithm: "gcra" },
        ]);
        check((await limiter.consume("m")).allowed, "1st");
        check((await limiter.consume("m")).allowed, "2nd");
        const third = await limiter.consume("m");
        check(
          !third.allowed && third.policy.name === "2/1s",
          "3rd rejected by the per-second policy",
          third,
        );
        check(third.policies[1]!.remaining === 1, "the 10s policy was not charged", third);
        clock.advance("2s");
        check(
          (await limiter.consume("m")).allowed,
          "4th passes once the per-second windows are past",
        );
        const fifth = await limiter.consume("m");
        check(
          !fifth.allowed && fifth.policy.algorithm === "gcra",
          "then the 10s policy binds",
          fifth,
        );
      });

      it("report the longest wait among rejecting policies", async () => {
        const { limiter } = await setup([
          { limit: 1, window: "1s", algorithm: "fixed-window" },
          { limit: 1, window: "1m", algorithm: "fixed-window" },
        ]);
        await limiter.consume("w");
        const d = await limiter.consume("w");
        check(
          d.retryAfterMs === 60_000 && d.policy.windowMs === 60_000,
          "binding policy waits longest",
          d,
        );
        check(d.policies.length === 2 && d.policies.every((x) => !x.allowed), "both rejected", d);
      });
    });
  });
}

function check(condition: boolean, what: string, actual?: Decision | unknown): void {
  if (condition) return;
  const shown =
    actual !== undefined && typeof actual === "object" && actual !== null && "allowed" in actual
      ? summarize(actual as Decision)
      : JSON.stringify(actual);
  throw new Error(`conformance: expected ${what}${actual === undefined ? "" : `; got ${shown}`}`);
}

function summarize(d: Decision): string {
  const { policy, policies, ...rest } = d;
  return JSON.stringify({ ...rest, policy: policy.name, retryAfterMs: String(rest.retryAfterMs) });
}
