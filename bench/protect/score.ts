import type { AbuseDetector, AbuseSignal } from "../../src/protect/types.js";
import {
  ATTACKER_KINDS,
  type AttackerKind,
  type ClientKind,
  isAttacker,
  LEGITIMATE_KINDS,
  type LegitimateKind,
  type Trace,
  type TraceEvent,
} from "./trace.js";

/**
 * Replays a trace through a detector, with the trace's own clock (each request's `time`), and
 * scores it: which clients were ever judged suspicious, and how soon after their first request.
 * Shared by `npm run bench:protect` and the seeded test, so both judge the same way.
 */

export const WITHIN_MS = 10_000;

export type AttackerRow = {
  readonly kind: AttackerKind;
  readonly clients: number;
  readonly flagged: number;
  readonly flaggedWithin10s: number;
  /** Time from a client's first request to its first suspicious verdict, over flagged clients. */
  readonly medianMs: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
};

export type LegitimateRow = {
  readonly kind: LegitimateKind;
  readonly clients: number;
  readonly flagged: number;
  /** Which signals fired on the flagged ones' first suspicious verdict (count per signal). */
  readonly reasons: Partial<Record<AbuseSignal, number>>;
};

export type Score = {
  readonly events: number;
  readonly attackers: readonly AttackerRow[];
  readonly legitimate: readonly LegitimateRow[];
  /** Seconds spent inside analyze (batches timed, the trace's generation excluded): wall clock. */
  readonly analyzeSeconds: number;
  /** The same, in CPU time of the process (less sensitive to a machine shared with others). */
  readonly analyzeCpuSeconds: number;
  /** Legitimate clients flagged, for inspection: client, kind, time after start, reasons. */
  readonly falsePositives: readonly {
    client: string;
    kind: LegitimateKind;
    afterMs: number;
    reasons: readonly AbuseSignal[];
  }[];
};

type Seen = { first: number; flaggedAt: number; reasons: readonly AbuseSignal[] };

function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** Clocks in ms that time the batches: wall (performance.now) and the process's CPU time. */
export type Timers = { readonly wall: () => number; readonly cpu: () => number };

/**
 * Replays `trace` through `detector`. `timers` time the batches (the bench passes them; the test
 * passes nothing and gets no timing).
 */
export function replay(trace: Trace, detector: AbuseDetector, timers?: Timers): Score {
  const seen = new Map<string, Seen>();
  const kinds = new Map<string, ClientKind>();
  for (const c of trace.clients) kinds.set(c.client, c.kind);
  let events = 0;
  let analyzeMs = 0;
  let analyzeCpuMs = 0;
  const batch: TraceEvent[] = [];
  const verdicts: boolean[] = [];
  const reasons: (readonly AbuseSignal[])[] = [];
  const run = (): void => {
    const t0 = timers?.wall() ?? 0;
    const c0 = timers?.cpu() ?? 0;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as TraceEvent;
      const v = detector.analyze(e.client, e.endpoint, {
        status: e.status,
        userAgent: e.userAgent,
        time: e.time,
      });
      verdicts[i] = v.isSuspicious;
      reasons[i] = v.reasons;
    }
    analyzeMs += (timers?.wall() ?? 0) - t0;
    analyzeCpuMs += (timers?.cpu() ?? 0) - c0;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as TraceEvent;
      let s = seen.get(e.client);
      if (s === undefined) {
        s = { first: e.time, flaggedAt: -1, reasons: [] };
        seen.set(e.client, s);
      }
      if (verdicts[i] && s.flaggedAt < 0) {
        s.flaggedAt = e.time;
        s.reasons = reasons[i] as readonly AbuseSignal[];
      }
    }
    events += batch.length;
    batch.length = 0;
  };
  for (const e of trace.events()) {
    batch.push(e);
    if (batch.length === 10_000) run();
  }
  run();

  const attackers: AttackerRow[] = ATTACKER_KINDS.map((kind) => {
    const delays: number[] = [];
    let clients = 0;
    let within = 0;
    for (const c of trace.clients) {
      if (c.kind !== kind) continue;
      const s = seen.get(c.client);
      if (s === undefined) continue; // no request inside the trace
      clients++;
      if (s.flaggedAt < 0) continue;
      const d = s.flaggedAt - s.first;
      delays.push(d);
      if (d <= WITHIN_MS) within++;
    }
    delays.sort((a, b) => a - b);
    return {
      kind,
      clients,
      flagged: delays.length,
      flaggedWithin10s: within,
      medianMs: quantile(delays, 0.5),
      p99Ms: quantile(delays, 0.99),
      maxMs: delays.at(-1),
    };
  }).filter((row) => row.clients > 0);

  const falsePositives: Score["falsePositives"][number][] = [];
  const legitimate: LegitimateRow[] = LEGITIMATE_KINDS.map((kind) => {
    let clients = 0;
    let flagged = 0;
    const why: Partial<Record<AbuseSignal, number>> = {};
    for (const [client, s] of seen) {
      if (kinds.get(client) !== kind) continue;
      clients++;
      if (s.flaggedAt < 0) continue;
      flagged++;
      for (const r of s.reasons) why[r] = (why[r] ?? 0) + 1;
      falsePositives.push({ client, kind, afterMs: s.flaggedAt - s.first, reasons: s.reasons });
    }
    return { kind, clients, flagged, reasons: why };
  });
  for (const [client] of seen) {
    const kind = kinds.get(client);
    if (kind === undefined) throw new Error(`trace client ${client} is not in trace.clients`);
    void isAttacker(kind);
  }
  return {
    events,
    attackers,
    legitimate,
    analyzeSeconds: analyzeMs / 1000,
    analyzeCpuSeconds: analyzeCpuMs / 1000,
    falsePositives,
  };
}

/** Totals the targets are about: all attacking kinds in the target, all legitimate clients. */
export function totals(score: Score, kinds: readonly AttackerKind[]) {
  const rows = score.attackers.filter((r) => kinds.includes(r.kind));
  const attackers = rows.reduce((n, r) => n + r.clients, 0);
  const within = rows.reduce((n, r) => n + r.flaggedWithin10s, 0);
  const legit = score.legitimate.reduce((n, r) => n + r.clients, 0);
  const flaggedLegit = score.legitimate.reduce((n, r) => n + r.flagged, 0);
  return {
    attackers,
    within,
    withinShare: attackers === 0 ? 1 : within / attackers,
    legitimate: legit,
    flaggedLegitimate: flaggedLegit,
    flaggedLegitimateShare: legit === 0 ? 0 : flaggedLegit / legit,
  };
}
