import {
  clamp,
  exponential,
  harmonicNumber,
  intBetween,
  logNormal,
  logUniform,
  pick,
  type Random,
  zipfPick,
} from "./random.js";
import {
  API_AGENTS,
  API_ENDPOINTS,
  ASSETS,
  BROWSER_AGENTS,
  PAGES,
  probePath,
  TOOL_AGENTS,
} from "./vocabulary.js";

/**
 * The synthetic clients of the trace, one behaviour each. An actor knows the time of its next
 * request (`next`) and, asked for it, describes that request and schedules the following one;
 * the trace merges every actor's requests in time order with a heap. Times in ms.
 */

export type LegitimateKind = "browser" | "office" | "api" | "heavy";
export type AttackerKind = "flood" | "scanner" | "stuffer" | "low-and-slow" | "trickle";
export type ClientKind = LegitimateKind | AttackerKind;

export const LEGITIMATE_KINDS: readonly LegitimateKind[] = ["browser", "office", "api", "heavy"];
export const ATTACKER_KINDS: readonly AttackerKind[] = [
  "flood",
  "scanner",
  "stuffer",
  "low-and-slow",
  "trickle",
];

export function isAttacker(kind: ClientKind): kind is AttackerKind {
  return (ATTACKER_KINDS as readonly string[]).includes(kind);
}

/** One request of the trace. */
export type TraceEvent = {
  readonly time: number;
  readonly client: string;
  readonly kind: ClientKind;
  readonly method: "GET" | "POST";
  readonly endpoint: string;
  readonly status: number;
  /** Undefined: the request had no User-Agent header. */
  readonly userAgent: string | undefined;
};

/** A request an actor has lined up (a page's assets, a login retry). */
type Pending = {
  readonly at: number;
  readonly method: "GET" | "POST";
  readonly endpoint: string;
  readonly status: number;
};

export abstract class Actor {
  /** When the next request is due; Infinity once the actor is done. */
  next: number;

  constructor(
    readonly client: string,
    readonly kind: ClientKind,
    readonly start: number,
    readonly end: number,
    /** This actor's own stream: adding or removing other clients never changes its requests. */
    protected readonly rng: Random,
  ) {
    this.next = start;
  }

  /** The request due at `next`; schedules the one after (or sets `next` to Infinity). */
  abstract take(): TraceEvent;

  protected event(
    method: "GET" | "POST",
    endpoint: string,
    status: number,
    userAgent: string | undefined,
  ): TraceEvent {
    return {
      time: this.next,
      client: this.client,
      kind: this.kind,
      method,
      endpoint,
      status,
      userAgent,
    };
  }

  protected schedule(at: number): void {
    this.next = at < this.end ? at : Number.POSITIVE_INFINITY;
  }
}

const PAGES_H = harmonicNumber(PAGES.length);

/**
 * A person with a browser: page views as a Poisson process at a heavy-tailed rate (log-normal,
 * median one every 40 s), each an HTML page then its assets within half a second (all of them
 * on the first page, a few after: the cache), product images per page; favicon 404s on a third
 * of first visits, a broken link now and then (1% of pages), a page with several missing images
 * rarely (0.5%); 15% log in, some after mistyping their password once to a few times. One
 * browser agent throughout.
 */
export class Browser extends Actor {
  private readonly agent: string;
  private readonly pageEvery: number;
  private readonly queue: Pending[] = [];
  private pages = 0;
  private nextPage: number;

  constructor(client: string, kind: ClientKind, start: number, end: number, rng: Random) {
    super(client, kind, start, end, rng);
    this.agent = pick(rng, BROWSER_AGENTS);
    this.pageEvery = 1000 / clamp(logNormal(rng, 1 / 40, 0.9), 1 / 600, 0.5);
    this.nextPage = start;
    this.refill(rng);
  }

  /** Lines up page views due before the next queued request, then points `next` at the head. */
  private refill(rng: Random): void {
    const q = this.queue;
    while (this.nextPage < this.end && (q.length === 0 || this.nextPage <= (q[0] as Pending).at)) {
      this.pageView(rng, this.nextPage);
      this.nextPage += exponential(rng, this.pageEvery);
    }
    // Queued requests of a page viewed just before the end still go out.
    this.next = q.length > 0 ? (q[0] as Pending).at : Number.POSITIVE_INFINITY;
  }

  private pageView(rng: Random, at: number): void {
    const first = this.pages === 0;
    this.pages++;
    const page = zipfPick(rng, PAGES, PAGES_H);
    const broken = rng() < 0.01;
    const q = this.queue;
    q.push({ at, method: "GET", endpoint: page, status: broken ? 404 : rng() < 0.1 ? 304 : 200 });
    let t = at + 40 + rng() * 120;
    const assets = first ? intBetween(rng, 10, 30) : intBetween(rng, 0, 4);
    for (let i = 0; i < assets; i++) {
      t += 2 + rng() * 25;
      q.push({ at: t, method: "GET", endpoint: pick(rng, ASSETS), status: first ? 200 : 304 });
    }
    if (page.startsWith("/products/")) {
      const images = intBetween(rng, 2, 6);
      const missing = rng() < 0.005 ? intBetween(rng, 3, 8) : 0;
      for (let i = 0; i < images + missing; i++) {
        t += 2 + rng() * 25;
        q.push({
          at: t,
          method: "GET",
          endpoint: `/img${page}-${i}.jpg`,
          status: i >= images ? 404 : 200,
        });
      }
    }
    if (first && rng() < 0.33) {
      t += 5 + rng() * 30;
      q.push({ at: t, method: "GET", endpoint: "/favicon.ico", status: 404 });
    }
    if (first && rng() < 0.15) {
      // Logging in: typing takes seconds; 25% mistype once or more, 1% give up after five.
      const u = rng();
      const failures = u < 0.75 ? 0 : u < 0.9 ? 1 : u < 0.96 ? 2 : u < 0.99 ? 3 : 5;
      t += 4000 + rng() * 8000;
      for (let i = 0; i < failures; i++) {
        q.push({ at: t, method: "POST", endpoint: "/login", status: 401 });
        t += 3000 + rng() * 9000;
      }
      if (failures < 5) q.push({ at: t, method: "POST", endpoint: "/login", status: 303 });
    }
    q.sort((a, b) => a.at - b.at);
  }

  take(): TraceEvent {
    const p = this.queue.shift() as Pending;
    const e = this.event(p.method, p.endpoint, p.status, this.agent);
    this.refill(this.rng);
    return e;
  }
}

/**
 * A program calling the API: Poisson requests at a heavy-tailed rate (log-normal, median one per
 * 5 s, clipped at 8/s), over a few endpoints; 30% work through item ids (a new path per request;
 * up to 15% of the ids are gone: 404); 20% send batches (20 to 100 requests at 50/s every few minutes). Errors as a
 * healthy integration has them: 1% 404, 1% 5xx, an expired token now and then (one 401, then a
 * token refresh). 3% send no user agent (bare scripts); the rest one agent throughout.
 */
export class ApiClient extends Actor {
  private readonly agent: string | undefined;
  private readonly every: number;
  private readonly endpoints: readonly string[];
  private readonly crawls: boolean;
  private readonly batches: boolean;
  private nextBatch: number;
  private batchLeft = 0;
  private item: number;
  /** Share of the ids a crawling client asks for that no longer exist (404). */
  private readonly gaps: number;
  private refresh = false;

  constructor(
    client: string,
    kind: ClientKind,
    start: number,
    end: number,
    rng: Random,
    rate: number,
  ) {
    super(client, kind, start, end, rng);
    this.agent = rng() < 0.03 ? undefined : pick(rng, API_AGENTS);
    this.every = 1000 / rate;
    const n = kind === "heavy" ? intBetween(rng, 2, 5) : intBetween(rng, 2, 8);
    const first = intBetween(rng, 0, API_ENDPOINTS.length - 1);
    this.endpoints = Array.from(
      { length: n },
      (_, i) => API_ENDPOINTS[(first + i) % API_ENDPOINTS.length] as string,
    );
    this.crawls = kind !== "heavy" && rng() < 0.3;
    this.gaps = this.crawls ? rng() * 0.15 : 0;
    this.batches = rng() < 0.2;
    this.nextBatch = start + exponential(rng, 180_000);
    this.item = intBetween(rng, 1, 1_000_000);
  }

  take(): TraceEvent {
    let e: TraceEvent;
    if (this.refresh) {
      this.refresh = false;
      e = this.event("POST", "/oauth/token", 200, this.agent);
    } else {
      const item = this.crawls && this.rng() < 0.7;
      const endpoint = item ? `/api/v1/items/${this.item++}` : pick(this.rng, this.endpoints);
      const u = this.rng();
      const status =
        item && this.rng() < this.gaps
          ? 404
          : u < 0.01
            ? 404
            : u < 0.02
              ? 503
              : u < 0.025
                ? 401
                : 200;
      if (status === 401) this.refresh = true;
      e = this.event(endpoint.endsWith("/events") ? "POST" : "GET", endpoint, status, this.agent);
    }
    if (this.refresh) this.schedule(this.next + 50 + this.rng() * 200);
    else if (this.batchLeft > 0) {
      this.batchLeft--;
      this.schedule(this.next + exponential(this.rng, 20));
    } else if (this.batches && this.next >= this.nextBatch) {
      this.batchLeft = intBetween(this.rng, 20, 100);
      this.nextBatch = this.next + exponential(this.rng, 180_000);
      this.schedule(this.next + exponential(this.rng, 20));
    } else this.schedule(this.next + exponential(this.rng, this.every));
    return e;
  }
}

/** The rate of an ordinary API client: log-normal, median 0.2/s, clipped to [0.005, 8]. */
export function apiRate(rng: Random): number {
  return clamp(logNormal(rng, 0.2, 1.2), 0.005, 8);
}

/** A heavy API user: 2 to 8 requests per second, all day. */
export function heavyRate(rng: Random): number {
  return logUniform(rng, 2, 8);
}

/**
 * A flood: one tool hammering one or a few endpoints at 30 to 1,000 requests per second
 * (log-uniform) for 15 to 45 s; the server still answers 200. Agent: a tool's, a browser's
 * copied string, or none.
 */
export class Flood extends Actor {
  private readonly agent: string | undefined;
  private readonly every: number;
  private readonly targets: readonly string[];

  constructor(client: string, start: number, rng: Random) {
    super(client, "flood", start, start + 15_000 + rng() * 30_000, rng);
    const u = rng();
    this.agent = u < 0.4 ? pick(rng, TOOL_AGENTS) : u < 0.7 ? undefined : pick(rng, BROWSER_AGENTS);
    this.every = 1000 / logUniform(rng, 30, 1000);
    this.targets =
      rng() < 0.7 ? [pick(rng, ["/", "/search", "/api/v1/products"])] : PAGES.slice(0, 5);
  }

  take(): TraceEvent {
    const e = this.event("GET", pick(this.rng, this.targets), 200, this.agent);
    this.schedule(this.next + exponential(this.rng, this.every));
    return e;
  }
}

/**
 * A path scanner: a wordlist of distinct paths at 1 to 20 per second (log-uniform) for 30 s to
 * 5 min; 85% 404, 7% 403, 5% 200, 3% 301. Agent: a scanner's own (40%), a browser's (40%), none.
 */
export class Scanner extends Actor {
  private readonly agent: string | undefined;
  private readonly every: number;
  private n: number;

  constructor(client: string, start: number, rng: Random) {
    super(client, "scanner", start, start + 30_000 + rng() * 270_000, rng);
    const u = rng();
    this.agent = u < 0.4 ? pick(rng, TOOL_AGENTS) : u < 0.8 ? pick(rng, BROWSER_AGENTS) : undefined;
    this.every = 1000 / logUniform(rng, 1, 20);
    this.n = intBetween(rng, 0, 40);
  }

  take(): TraceEvent {
    const u = this.rng();
    const status = u < 0.85 ? 404 : u < 0.92 ? 403 : u < 0.97 ? 200 : 301;
    const e = this.event("GET", probePath(this.n++), status, this.agent);
    this.schedule(this.next + exponential(this.rng, this.every));
    return e;
  }
}

/**
 * A credential stuffer from one address: POST /login with leaked pairs at 1 to 10 attempts per
 * second, 97% 401; half fetch the login form (GET /login, 200) before each attempt, for its CSRF
 * token. Agent: rotated per request from browser strings (40%), none (30%), one fixed (30%).
 * Runs 1 to 10 minutes.
 */
export class Stuffer extends Actor {
  private readonly agentMode: "rotate" | "none" | "fixed";
  private readonly agent: string;
  private readonly every: number;
  private readonly withForm: boolean;
  private formDone = false;

  constructor(client: string, start: number, rng: Random) {
    super(client, "stuffer", start, start + 60_000 + rng() * 540_000, rng);
    const u = rng();
    this.agentMode = u < 0.4 ? "rotate" : u < 0.7 ? "none" : "fixed";
    this.agent = pick(rng, BROWSER_AGENTS);
    this.every = 1000 / logUniform(rng, 1, 10);
    this.withForm = rng() < 0.5;
  }

  take(): TraceEvent {
    const agent =
      this.agentMode === "rotate"
        ? pick(this.rng, BROWSER_AGENTS)
        : this.agentMode === "none"
          ? undefined
          : this.agent;
    let e: TraceEvent;
    if (this.withForm && !this.formDone) {
      this.formDone = true;
      e = this.event("GET", "/login", 200, agent);
      this.schedule(this.next + 20 + this.rng() * 80);
    } else {
      this.formDone = false;
      e = this.event("POST", "/login", this.rng() < 0.97 ? 401 : 303, agent);
      this.schedule(this.next + exponential(this.rng, this.every));
    }
    return e;
  }
}

/**
 * Low and slow: a prober that stays far under any rate threshold and mixes its probes with
 * ordinary page views to blend in: `rate` requests per second, 65% probes (distinct paths: 80%
 * 404, 20% 403) and 35% popular pages (200), one browser agent (80%) or none. It keeps going
 * until the trace ends. `low-and-slow` runs at 1 to 3 per second (under a fifth of the default threshold's pace),
 * `trickle` at 0.05 to 0.5 (one request every 2 to 20 s).
 */
export class Prober extends Actor {
  private readonly agent: string | undefined;
  private readonly every: number;
  private n: number;

  constructor(
    client: string,
    kind: "low-and-slow" | "trickle",
    start: number,
    end: number,
    rng: Random,
  ) {
    super(client, kind, start, end, rng);
    this.agent = rng() < 0.8 ? pick(rng, BROWSER_AGENTS) : undefined;
    this.every = 1000 / (kind === "trickle" ? logUniform(rng, 0.05, 0.5) : logUniform(rng, 1, 3));
    this.n = intBetween(rng, 0, 200);
  }

  take(): TraceEvent {
    const e =
      this.rng() < 0.65
        ? this.event("GET", probePath(this.n++), this.rng() < 0.8 ? 404 : 403, this.agent)
        : this.event("GET", pick(this.rng, PAGES.slice(0, 20)), 200, this.agent);
    this.schedule(this.next + exponential(this.rng, this.every));
    return e;
  }
}
