import {
  type Actor,
  ApiClient,
  type AttackerKind,
  apiRate,
  Browser,
  type ClientKind,
  Flood,
  heavyRate,
  Prober,
  Scanner,
  Stuffer,
  type TraceEvent,
} from "./actors.js";
import { exponential, prng, type Random } from "./random.js";

export {
  ATTACKER_KINDS,
  type AttackerKind,
  type ClientKind,
  isAttacker,
  LEGITIMATE_KINDS,
  type LegitimateKind,
  type TraceEvent,
} from "./actors.js";

/**
 * The synthetic trace of issue 17: legitimate clients (browsers, offices behind one address, API
 * integrations, heavy API users) with attackers (floods, path scanners, credential stuffers,
 * low-and-slow probers) starting at staggered times. Seeded: the same options give the same
 * events, in the same order, on every run. Streamed: `events()` is a generator over a heap of
 * actors, so memory is the actors (one small object per client), never the events.
 *
 * Legitimate clients arrive as a Poisson process over the trace; each kind's behaviour is
 * described on its class in ./actors.ts.
 */
export type TraceOptions = {
  /** @default 17 */
  readonly seed?: number;
  /** Simulated span. @default 600_000 (10 minutes) */
  readonly durationMs?: number;
  /** Legitimate clients. @default 10_000 */
  readonly legitimate?: number;
  /** Attacking clients of each kind. @default 200 each, trickle 100 */
  readonly attackers?: Partial<Record<AttackerKind, number>>;
  /** Time of the trace's first instant (ms since the epoch). @default 1_700_000_000_000 */
  readonly startAt?: number;
};

/** One client of the trace, as the bench needs to score it. */
export type TraceClient = {
  readonly client: string;
  readonly kind: ClientKind;
  /** When it starts (its first request). */
  readonly start: number;
};

export type Trace = {
  readonly seed: number;
  readonly startAt: number;
  readonly durationMs: number;
  readonly clients: readonly TraceClient[];
  /** Every request in time order (a fresh, identical stream on each call). */
  events(): Generator<TraceEvent>;
};

/** Shares of the legitimate clients. */
export const LEGITIMATE_MIX = Object.freeze({ browser: 0.7, office: 0.02, api: 0.27, heavy: 0.01 });

export const DEFAULT_ATTACKERS: Readonly<Record<AttackerKind, number>> = Object.freeze({
  flood: 200,
  scanner: 200,
  stuffer: 200,
  "low-and-slow": 200,
  trickle: 100,
});

function address(prefix: string, i: number): string {
  return `${prefix}.${(i >> 8) & 255}.${i & 255}`;
}

export function createTrace(options: TraceOptions = {}): Trace {
  const seed = options.seed ?? 17;
  const durationMs = options.durationMs ?? 600_000;
  const legitimate = options.legitimate ?? 10_000;
  const attackers = { ...DEFAULT_ATTACKERS, ...options.attackers };
  const startAt = options.startAt ?? 1_700_000_000_000;

  // The client list is drawn from its own stream, so it is known before any event is made.
  const plan = (rng: Random): Actor[] => {
    const actors: Actor[] = [];
    /** Each actor draws from a stream of its own, seeded from the plan's. */
    const own = (): Random => prng(Math.floor(rng() * 4294967296));
    const end = startAt + durationMs;
    const counts = {
      office: Math.round(legitimate * LEGITIMATE_MIX.office),
      heavy: Math.round(legitimate * LEGITIMATE_MIX.heavy),
      api: Math.round(legitimate * LEGITIMATE_MIX.api),
    };
    const browsers = legitimate - counts.office - counts.heavy - counts.api;
    // Poisson arrivals over the trace, each arrival a kind in the mix's proportions.
    const kinds: ("browser" | "office" | "api" | "heavy")[] = [
      ...Array<"browser">(browsers).fill("browser"),
      ...Array<"office">(counts.office).fill("office"),
      ...Array<"api">(counts.api).fill("api"),
      ...Array<"heavy">(counts.heavy).fill("heavy"),
    ];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [kinds[i], kinds[j]] = [
        kinds[j] as (typeof kinds)[number],
        kinds[i] as (typeof kinds)[number],
      ];
    }
    let t = startAt;
    const meanGap = durationMs / Math.max(1, legitimate);
    kinds.forEach((kind, i) => {
      t += exponential(rng, meanGap);
      const arrival = Math.min(t, end - 1000);
      const id = address("198.18", i);
      if (kind === "browser") {
        const session = Math.max(20_000, exponential(rng, 240_000));
        actors.push(new Browser(id, "browser", arrival, Math.min(end, arrival + session), own()));
      } else if (kind === "office") {
        // Several people behind one address (NAT): one browser each, one client for the detector.
        const people = 3 + Math.floor(rng() * 10);
        for (let p = 0; p < people; p++) {
          const from = arrival + exponential(rng, 60_000);
          if (from < end) actors.push(new Browser(id, "office", from, end, own()));
        }
      } else if (kind === "heavy") {
        // Heavy users are there all along: they start in the first minute and never stop.
        const from = startAt + rng() * 60_000;
        actors.push(new ApiClient(id, "heavy", from, end, own(), heavyRate(rng)));
      } else {
        const session = Math.max(30_000, exponential(rng, 600_000));
        actors.push(
          new ApiClient(id, "api", arrival, Math.min(end, arrival + session), own(), apiRate(rng)),
        );
      }
    });
    let a = 0;
    const attackStart = (): number => startAt + 30_000 + rng() * Math.max(0, durationMs - 90_000);
    for (const kind of Object.keys(attackers) as AttackerKind[]) {
      for (let i = 0; i < (attackers[kind] ?? 0); i++) {
        const id = address("203.0", a++);
        const from = attackStart();
        if (kind === "flood") actors.push(new Flood(id, from, own()));
        else if (kind === "scanner") actors.push(new Scanner(id, from, own()));
        else if (kind === "stuffer") actors.push(new Stuffer(id, from, own()));
        else actors.push(new Prober(id, kind, from, end, own()));
      }
    }
    return actors;
  };

  const clients = new Map<string, TraceClient>();
  for (const actor of plan(prng(seed))) {
    const known = clients.get(actor.client);
    if (known === undefined || actor.next < known.start)
      clients.set(actor.client, { client: actor.client, kind: actor.kind, start: actor.next });
  }

  return {
    seed,
    startAt,
    durationMs,
    clients: [...clients.values()],
    *events(): Generator<TraceEvent> {
      const heap = new ActorHeap(plan(prng(seed)));
      const end = startAt + durationMs;
      for (;;) {
        const actor = heap.top();
        if (actor === undefined || actor.next === Number.POSITIVE_INFINITY) return;
        const event = actor.take();
        heap.fixTop();
        if (event.time < end + 5_000) yield event;
      }
    },
  };
}

/** A binary min-heap of actors by their next request's time. */
class ActorHeap {
  private readonly a: Actor[] = [];

  constructor(actors: readonly Actor[]) {
    for (const actor of actors) this.push(actor);
  }

  top(): Actor | undefined {
    return this.a[0];
  }

  private push(actor: Actor): void {
    const a = this.a;
    a.push(actor);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as Actor).next <= actor.next) break;
      a[i] = a[parent] as Actor;
      i = parent;
    }
    a[i] = actor;
  }

  /** Restores the heap after the top actor's `next` moved later. */
  fixTop(): void {
    const a = this.a;
    const n = a.length;
    const actor = a[0] as Actor;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (a[r] as Actor).next < (a[l] as Actor).next ? r : l;
      if ((a[c] as Actor).next >= actor.next) break;
      a[i] = a[c] as Actor;
      i = c;
    }
    a[i] = actor;
  }
}
