import {
  createEvents,
  createLimiter,
  createMetrics,
  type EventHub,
  type Limiter,
  memoryStore,
} from "../../src/index.js";
import { type Contender, limitFor, type Tally, type Traffic, WINDOW_MS } from "./contenders.js";

/**
 * The issue-17 overhead contenders (bench/results/observe-overhead.md): the same memory-store
 * consume, with
 * - `plain`: an inert hub whose `active` is a constant false field, the cheapest a limiter can
 *   be told "nobody listens" (what the HTTP layer gives its rule limiters): consume as it was
 *   before events, give or take one field read;
 * - `idle`: its own hub with no listener (the default for every limiter);
 * - `listener`: one `decision` listener;
 * - `metrics`: one `decision` listener plus createMetrics on the same hub;
 * - `timed` (instruction counts only): one listener that asks for timings, as metrics does, to
 *   tell the clock reads from the collector's own work;
 * - `untimed`: `metrics`, but the limiter sees a hub that never asks for timings (a forwarding
 *   wrapper): what metrics would cost if in-process decisions were not timed.
 */
export type ObserveMode = "plain" | "idle" | "listener" | "timed" | "metrics" | "untimed";

const NOTHING = (): void => {};
const INERT: EventHub = Object.freeze({
  active: false,
  timing: false,
  on: () => NOTHING,
  off: NOTHING,
  wants: () => false,
  emit: NOTHING,
  wantTimings: () => NOTHING,
});

const LABELS: Record<ObserveMode, string> = {
  plain: "consume, inert hub (plain)",
  idle: "consume, no listener",
  listener: "consume, one decision listener",
  timed: "consume, one listener asking for timings",
  metrics: "consume, listener + createMetrics",
  untimed: "consume, listener + createMetrics, untimed",
};

/** Read by the listener, so its work cannot be optimised away. */
export const seen = { decisions: 0 };

/** `hub` as the limiter sees it, minus timings. */
function untimed(hub: EventHub): EventHub {
  return {
    get active() {
      return hub.active;
    },
    timing: false,
    on: (type, listener) => hub.on(type, listener),
    off: (type, listener) => hub.off(type, listener),
    wants: (type) => hub.wants(type),
    emit: (type, event) => hub.emit(type, event),
    wantTimings: () => NOTHING,
  };
}

function observedLimiter(traffic: Traffic, mode: ObserveMode): Limiter {
  const events = mode === "plain" ? INERT : createEvents();
  const limiter = createLimiter({
    policies: { limit: limitFor(traffic), window: WINDOW_MS },
    store: memoryStore(),
    events: mode === "untimed" ? untimed(events) : events,
  });
  if (mode === "timed") events.wantTimings();
  if (mode === "listener" || mode === "metrics" || mode === "timed" || mode === "untimed") {
    events.on("decision", () => {
      seen.decisions++;
    });
  }
  if (mode === "metrics" || mode === "untimed") createMetrics(events);
  return limiter;
}

function tally(): Tally {
  return { allowed: 0, rejected: 0, sum: 0 };
}

export function observeAsync(traffic: Traffic, mode: ObserveMode): Contender {
  const limiter = observedLimiter(traffic, mode);
  return {
    id: `obs-${mode}`,
    label: LABELS[mode],
    api: "await limiter.consume(key)",
    mode: "async",
    prime(keys) {
      for (const k of keys) {
        if (!limiter.consumeSync(k).allowed) throw new Error(`obs-${mode}: priming ${k} failed`);
      }
    },
    async run(order, from, n, inflight) {
      const t = tally();
      const len = order.length;
      let next = 0;
      const loop = async (): Promise<void> => {
        for (let j = next++; j < n; j = next++) {
          const d = await limiter.consume(order[(from + j) % len]!);
          if (d.allowed) t.allowed++;
          else t.rejected++;
          t.sum += d.remaining;
        }
      };
      const loops: Promise<void>[] = [];
      for (let i = 0; i < inflight; i++) loops.push(loop());
      await Promise.all(loops);
      return t;
    },
  };
}

export function observeSync(traffic: Traffic, mode: ObserveMode): Contender {
  const limiter = observedLimiter(traffic, mode);
  return {
    id: `obs-${mode}-sync`,
    label: `${LABELS[mode]} (consumeSync)`,
    api: "limiter.consumeSync(key)",
    mode: "sync",
    prime(keys) {
      for (const k of keys) {
        if (!limiter.consumeSync(k).allowed) throw new Error(`obs-${mode}: priming ${k} failed`);
      }
    },
    run(order, from, n) {
      const t = tally();
      const len = order.length;
      for (let j = 0; j < n; j++) {
        const d = limiter.consumeSync(order[(from + j) % len]!);
        if (d.allowed) t.allowed++;
        else t.rejected++;
        t.sum += d.remaining;
      }
      return t;
    },
  };
}

export const OBSERVE_MODES: readonly ObserveMode[] = [
  "plain",
  "idle",
  "listener",
  "metrics",
  "untimed",
];

/** Each contender's median ÷ the plain one's of the same mode, for the report. */
export function observeRatios(
  figures: readonly { id: string; mode: string; median: number }[],
): { id: string; vsPlain: number | null }[] {
  return figures.map((f) => {
    const plain = figures.find((p) => p.mode === f.mode && p.id.startsWith("obs-plain"));
    return {
      id: f.id,
      vsPlain: plain === undefined ? null : Math.round((f.median / plain.median) * 1000) / 1000,
    };
  });
}
