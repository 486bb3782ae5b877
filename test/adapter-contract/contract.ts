/**
 * The adapter contract: one table of behaviours every throttlekit HTTP adapter must show, over a
 * real socket. Each adapter's test file calls `adapterContract(runner, store)` once per store.
 *
 * ## The runner (what an adapter author writes, ~20 lines)
 *
 * ```ts
 * const runner: AdapterRunner = {
 *   name: "express",
 *   async start(options) {            // options: HttpLimiterOptions, pass them through as they are
 *     const app = express();
 *     const limit = expressRateLimit(options);
 *     app.use(limit);
 *     app.all("/status/:code", (req, res) => res.status(Number(req.params.code)).send("ok"));
 *     app.all("*", (req, res) => res.send("ok"));
 *     // served (./listen.ts): waits for "listening", closes keep-alive sockets, then the limiter
 *     const server = await served(app.listen(0, "127.0.0.1"), () => limit.limiter.close());
 *     return { ...server, limiter: limit.limiter };  // the limiter the adapter built
 *   },
 * };
 * ```
 *
 * The server a runner starts must:
 * 1. listen on 127.0.0.1, port 0, and return its base URL without a trailing slash;
 * 2. hand `options` to the adapter unchanged (they carry the store, clock and prefix);
 * 3. answer every request that gets through with status 200 and the body `ok`, except paths
 *    `/status/<code>` and `/status/<code>/<anything>`, answered with that status (and body
 *    `ok`), for every method;
 * 4. send a limiter response exactly as produced (status, headers, body);
 * 5. on `close()`, stop listening and drop idle keep-alive connections (the client is fetch);
 * 6. answer `POST /login` with 200 and the body `login` from a handler registered for that path
 *    the way an app would (`app.post("/login", ...)`, or comparing the path its own way when the
 *    framework has no router), so that cases-paths.ts can tell which spellings of the path the
 *    framework routes there; list those spellings in `loginRoutes`;
 * 7. answer `/slow?ms=<n>`, for every method, from a handler that awaits
 *    `slow.hold(slowMs(target))` (./slow.ts) and then answers 200 `ok`: a request that stays
 *    in flight until the case lets it go (or `ms` passes), counted by a gauge the cases read
 *    (cases-concurrency.ts);
 * 8. answer `/items/<id>`, for every method, with 200 `ok`: from a route registered as
 *    `/items/:id` where the framework has a router (cases-route.ts), else from the catch-all;
 * 9. return, as `limiter`, the HttpLimiter the adapter built and counts with (Express's and
 *    Koa's `limit.limiter`, Fastify's `app.throttlekit`...): cases-keys.ts manages keys on it, as
 *    the app holding the middleware would.
 *
 * ## The store factory
 *
 * `{ name, create() }`: a fresh store for each case (a Redis factory may share one server and
 * rely on the unique `prefix` each case passes). Cases close the store they created.
 */
import { afterEach, describe } from "vitest";
import type { Store } from "../../src/core/store.js";
import type { HttpLimiter } from "../../src/http/http-limiter.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import { type ManualClock, manualClock } from "../../src/testing/manual-clock.js";
import { concurrencyCases } from "./cases-concurrency.js";
import { eventCases } from "./cases-events.js";
import { identityCases } from "./cases-identity.js";
import { infoCases } from "./cases-info.js";
import { keyCases } from "./cases-keys.js";
import { limitCases } from "./cases-limits.js";
import { type LoginForm, pathCases } from "./cases-paths.js";
import { routeCases } from "./cases-route.js";
import { shadowCases } from "./cases-shadow.js";
import { slow } from "./slow.js";

/** A started server. */
export type RunningServer = {
  /** Base URL, e.g. "http://127.0.0.1:43121" (no trailing slash). */
  readonly url: string;
  /**
   * The HttpLimiter the adapter built (point 9). Optional in the type only because suites that
   * borrow this shape (test/outage, whose Nest runner has no single HttpLimiter) leave it out;
   * the contract refuses a runner that does not return it.
   */
  readonly limiter?: HttpLimiter;
  close(): Promise<void>;
};

/** How the contract starts an app with one adapter. */
export type AdapterRunner = {
  /** Shown in test names ("node", "fetch", "express"...). */
  readonly name: string;
  start(options: HttpLimiterOptions): Promise<RunningServer>;
  /**
   * The spellings of cases-paths.ts's LOGIN_FORMS this framework, as the runner sets it up,
   * routes to its `POST /login` handler. When given, the contract asserts the framework does
   * exactly that (and, given or not, that each of them is limited by a rule on `/login`).
   */
  readonly loginRoutes?: readonly LoginForm[];
  /**
   * True when the adapter, as this runner mounts it, fills `req.route` with the framework's
   * matched template: `GET /items/<id>` then carries "/items/:id" and `/status/<code>`
   * "/status/:code" (cases-route.ts). False (the default) for app-wide middleware that runs
   * before the router matched, and for frameworks without a router.
   * @default false
   */
  readonly routeTemplates?: boolean;
};

/** Makes a fresh store per case. */
export type StoreFactory = {
  readonly name: string;
  create(): Store | Promise<Store>;
};

/** What each case gets: a started server over a fresh store and clock. */
export type Harness = {
  readonly clock: ManualClock;
  readonly store: Store;
  readonly prefix: string;
  /** The server's base URL (for raw-socket requests). */
  readonly url: string;
  /** The limiter the adapter under test built (its resetKey, block, getKey...). */
  readonly limiter: HttpLimiter;
  get(path?: string, init?: RequestInit): Promise<Response>;
};

let counter = 0;

/**
 * Registers the contract's cases (describe/it) for one adapter and one store.
 *
 * @example
 * adapterContract(nodeRunner, { name: "memory", create: () => memoryStore() });
 */
export function adapterContract(runner: AdapterRunner, stores: StoreFactory): void {
  describe(`${runner.name} adapter contract (${stores.name} store)`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      // Handlers still held in /slow answer first, so servers close without waiting on them.
      slow.reset();
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(options: HttpLimiterOptions): Promise<Harness> {
      const clock = manualClock();
      const store = await stores.create();
      const prefix = `ct${process.pid}x${++counter}`;
      cleanups.push(async () => {
        await store.close?.();
      });
      const server = await runner.start({ store, clock: clock.now, prefix, ...options });
      cleanups.push(() => server.close());
      const { limiter } = server;
      if (limiter === undefined) {
        throw new Error(`${runner.name}: start() must return the adapter's limiter (point 9)`);
      }
      return {
        clock,
        store,
        prefix,
        url: server.url,
        limiter,
        get: (path = "/", init) => fetch(`${server.url}${path}`, init),
      };
    }

    /** Reads the body too, so keep-alive sockets are free for the next request. */
    async function statusOf(r: Promise<Response>): Promise<number> {
      const res = await r;
      await res.arrayBuffer();
      return res.status;
    }

    limitCases({ setup, statusOf, runner });
    identityCases({ setup, statusOf, runner });
    pathCases({ setup, statusOf, runner });
    concurrencyCases({ setup, statusOf, runner });
    eventCases({ setup, statusOf, runner });
    shadowCases({ setup, statusOf, runner });
    keyCases({ setup, statusOf, runner });
    infoCases({ setup, statusOf, runner });
    routeCases({ setup, statusOf, runner });
  });
}

/** What the case files receive from adapterContract. */
export type CaseKit = {
  /** Starts the runner's server with these options plus a fresh store, manual clock and prefix. */
  setup(options: HttpLimiterOptions): Promise<Harness>;
  /** Awaits a response, drains its body, and returns its status. */
  statusOf(r: Promise<Response>): Promise<number>;
  /** The runner under test. */
  readonly runner: AdapterRunner;
};
