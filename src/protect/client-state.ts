import { hash32, linearCount, popcount32 } from "./distinct.js";

/**
 * What the detector remembers about one client: a fixed handful of numbers, whatever the client
 * sends. Counts are exponentially decayed with a time constant of one window (a request `window`
 * ago weighs 1/e): for steady traffic the decayed count equals the count of the last window, and
 * it needs no buckets and no list of timestamps. Distinct endpoints and agents are bitmaps
 * (./distinct.ts) kept for two half-windows, so what a client did more than a window ago drops
 * out.
 */

/** Statuses that count as errors: authentication failures and probing for what is not there. */
export function isAuthFailure(status: number): boolean {
  return status === 401 || status === 403 || status === 407;
}

export function isNotFound(status: number): boolean {
  // 405 and 410 are what probing for methods and removed paths gets; 429 is ours, not a signal.
  return status === 404 || status === 405 || status === 410;
}

/** Errors closer together than this are one episode (a page's missing images). */
const SPACED_MS = 100;

export class ClientState {
  /** When this run of activity began (a client silent for a whole window starts over). */
  first: number;
  /** The latest request's time. */
  last: number;
  /** Requests (decayed over the window). */
  requests = 0;
  /** Requests whose status was known. */
  withStatus = 0;
  /** 401 / 403 / 407 answers. */
  authFailures = 0;
  /** 404 / 405 / 410 answers. */
  notFound = 0;
  /**
   * Errors that came at least SPACED_MS after the previous one: persistence. A page with eight
   * missing images is eight errors in one burst, one spaced error; a prober sending one request
   * every second or two scores one per probe.
   */
  spacedErrors = 0;
  /** When the latest error came (−Infinity: none yet). */
  lastErrorAt = Number.NEGATIVE_INFINITY;
  /** Requests whose user agent was reported (present or missing). */
  withAgentInfo = 0;
  /** Requests with no user agent, or an empty one. */
  missingAgent = 0;
  /** Requests decayed over one second: the instantaneous pace, for burstiness. */
  recent = 0;
  /** Which half-window the bitmaps below are for. */
  epoch: number;
  /** Endpoints seen this half-window (64 bits as two words) and the one before. */
  paths0 = 0;
  paths1 = 0;
  prevPaths0 = 0;
  prevPaths1 = 0;
  /** User agents seen this half-window (32 bits) and the one before. */
  agents = 0;
  prevAgents = 0;
  /** Until when this client is blocked (0: not blocked), mirrored from the block table. */
  blockedUntil = 0;

  constructor(now: number, epoch: number) {
    this.first = now;
    this.last = now;
    this.epoch = epoch;
  }

  /** Forgets everything, as if the client were new at `now`. */
  restart(now: number, epoch: number): void {
    this.first = now;
    this.last = now;
    this.requests = 0;
    this.withStatus = 0;
    this.authFailures = 0;
    this.notFound = 0;
    this.spacedErrors = 0;
    this.lastErrorAt = Number.NEGATIVE_INFINITY;
    this.withAgentInfo = 0;
    this.missingAgent = 0;
    this.recent = 0;
    this.epoch = epoch;
    this.paths0 = 0;
    this.paths1 = 0;
    this.prevPaths0 = 0;
    this.prevPaths1 = 0;
    this.agents = 0;
    this.prevAgents = 0;
  }

  /**
   * Records one request at `now`. `decay` is e^(−elapsed/window) and `recentDecay`
   * e^(−elapsed/1 s), computed by the caller (who knows the window).
   */
  record(
    now: number,
    decay: number,
    recentDecay: number,
    epoch: number,
    endpoint: string,
    status: number | undefined,
    agentReported: boolean,
    agent: string | undefined,
  ): void {
    if (now > this.last) this.last = now;
    this.requests = this.requests * decay + 1;
    this.recent = this.recent * recentDecay + 1;
    this.withStatus *= decay;
    this.authFailures *= decay;
    this.notFound *= decay;
    this.spacedErrors *= decay;
    this.withAgentInfo *= decay;
    this.missingAgent *= decay;
    if (status !== undefined) {
      this.withStatus += 1;
      let error = true;
      if (isAuthFailure(status)) this.authFailures += 1;
      else if (isNotFound(status)) this.notFound += 1;
      else error = false;
      if (error) {
        if (now - this.lastErrorAt >= SPACED_MS) this.spacedErrors += 1;
        this.lastErrorAt = now;
      }
    }
    if (epoch !== this.epoch) {
      // One half-window later the current bitmaps become the previous ones; two or more later
      // nothing seen is recent enough to keep.
      const adjacent = epoch === this.epoch + 1;
      this.prevPaths0 = adjacent ? this.paths0 : 0;
      this.prevPaths1 = adjacent ? this.paths1 : 0;
      this.prevAgents = adjacent ? this.agents : 0;
      this.paths0 = 0;
      this.paths1 = 0;
      this.agents = 0;
      this.epoch = epoch;
    }
    const h = hash32(endpoint);
    if ((h & 32) === 0) this.paths0 |= 1 << (h & 31);
    else this.paths1 |= 1 << (h & 31);
    if (agentReported) {
      this.withAgentInfo += 1;
      if (agent === undefined || agent === "") this.missingAgent += 1;
      else this.agents |= 1 << (hash32(agent) & 31);
    }
  }

  /** Distinct endpoints over the last half window to whole window (estimated). */
  distinctEndpoints(): number {
    const ones =
      popcount32(this.paths0 | this.prevPaths0) + popcount32(this.paths1 | this.prevPaths1);
    return linearCount(ones, 64);
  }

  /** Distinct non-empty user agents over the same span (estimated). */
  distinctAgents(): number {
    return linearCount(popcount32(this.agents | this.prevAgents), 32);
  }
}
