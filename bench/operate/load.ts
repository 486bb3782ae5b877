/**
 * bench:operate's side of the traffic: the autocannon load (every answer counted by status),
 * the dashboard's one live client (a server-sent events stream, read as a browser's
 * EventSource would) and the operator who edits the configuration file every 500 ms.
 */
import { renameSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { cpuTime, LOAD } from "../http/harness.js";

/**
 * Half the requests hit the `api` rule (`/api/**`), half the catch-all; each carries one of
 * LOAD.keys API keys, so counters (and the fleet's top offenders) spread over many keys.
 */
const requests = Array.from({ length: LOAD.keys }, (_, i) => ({
  method: "GET" as const,
  path: i % 2 === 0 ? `/api/items/${i % 50}` : "/",
  headers: { "x-api-key": `key-${i}` },
}));

const PER_CONNECTION = Math.ceil(LOAD.keys / LOAD.connections);

/** One phase's traffic: req/s, every answer by status, socket errors, CPU µs per request. */
export type Phase = {
  rps: number;
  total: number;
  ok: number;
  limited: number;
  /** Answers other than 200 and 429: each one fails the run. */
  other: number;
  /** Socket errors and timeouts: each one fails the run too. */
  errors: number;
  /** The server process's CPU µs per request (user + system, from /proc). */
  cpuUs: number;
  /** redis-server's CPU µs per request over the same phase (the metrics' writes land there). */
  redisCpuUs: number;
};

export async function load(
  port: number,
  seconds: number,
  serverPid: number | undefined,
  redisPid: number | undefined,
): Promise<Phase> {
  const cpu0 = cpuTime(serverPid);
  const redis0 = cpuTime(redisPid);
  let client = 0;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: LOAD.connections,
    duration: seconds,
    requests: requests.slice(0, 1),
    // Each connection cycles over its own share of the keys: autocannon builds every request
    // of its list once per connection, and 2,000 × 50 of them took a second before each load.
    setupClient: (c) => {
      const i = client++ % LOAD.connections;
      const share = requests.slice(i * PER_CONNECTION, (i + 1) * PER_CONNECTION);
      c.setRequests(share.length > 0 ? share : requests);
    },
  });
  const cpu1 = cpuTime(serverPid);
  const redis1 = cpuTime(redisPid);
  const total = r.requests.total;
  const byStatus = (r as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats;
  const count = (code: string) => byStatus?.[code]?.count ?? 0;
  const ok = count("200");
  const limited = count("429");
  const perRequest = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || total === 0 ? Number.NaN : (b - a) / total;
  return {
    rps: total / seconds,
    total,
    ok,
    limited,
    other: total - ok - limited,
    errors: r.errors + r.timeouts,
    cpuUs: perRequest(cpu0, cpu1),
    redisCpuUs: perRequest(redis0, redis1),
  };
}

/** What the dashboard's live stream delivered while it was open. */
export type LiveStream = {
  /** Snapshot events received. */
  snapshots: number;
  /** The fleet's request count over the window in the last snapshot (proof the buckets flow). */
  fleetRequests: number;
  status: number | undefined;
  close(): void;
};

/**
 * Opens `GET <basePath>/api/events` with the token, as a page's EventSource does (Bearer here:
 * a browser would hold the session cookie instead), and counts the snapshots it receives.
 */
export function openLiveStream(port: number, path: string, token: string): Promise<LiveStream> {
  return new Promise((resolve, reject) => {
    const stream: LiveStream = {
      snapshots: 0,
      fleetRequests: 0,
      status: undefined,
      close: () => req.destroy(),
    };
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
      },
      (res) => {
        stream.status = res.statusCode;
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`${path}: ${res.statusCode}`));
          return;
        }
        res.setEncoding("utf8");
        let buffered = "";
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let end = buffered.indexOf("\n\n");
          while (end >= 0) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            end = buffered.indexOf("\n\n");
            if (!event.startsWith("event: snapshot\n")) continue;
            stream.snapshots++;
            const data = event.slice(event.indexOf("data: ") + 6);
            const snapshot = JSON.parse(data) as { fleet: { total: { requests: number } } };
            stream.fleetRequests = snapshot.fleet.total.requests;
          }
        });
        res.on("error", () => {});
        resolve(stream);
      },
    );
    req.on("error", (error) => {
      if (stream.status === undefined) reject(error);
    });
    req.end();
  });
}

/**
 * The operator: every `everyMs`, writes the other version of the file (a temporary file renamed
 * over it, as editors save). `stop()` writes the first version back if the last edit left the
 * other one, and returns the number of edits made (that restore included).
 */
export function editEvery(
  file: string,
  versions: readonly [string, string],
  everyMs: number,
): { stop(): number } {
  let current = 0;
  let edits = 0;
  const write = (i: number) => {
    writeFileSync(`${file}.tmp`, versions[i]!);
    renameSync(`${file}.tmp`, file);
    current = i;
    edits++;
  };
  const timer = setInterval(() => write(1 - current), everyMs);
  return {
    stop() {
      clearInterval(timer);
      if (current !== 0) write(0);
      return edits;
    },
  };
}

/** What one dashboard snapshot costs the server, measured with no load running. */
export type SnapshotCost = { medianMs: number; cpuUs: number; bytes: number; count: number };

/**
 * `count` sequential `GET <basePath>/api/snapshot` calls: the work the live stream does once a
 * second (read every second of the window from the store, the lists, serialise), timed from
 * here (wall) and charged to the server process (CPU, from /proc, over all of them).
 */
export async function snapshotCost(
  port: number,
  path: string,
  token: string,
  count: number,
  serverPid: number | undefined,
): Promise<SnapshotCost> {
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path, headers: { Authorization: `Bearer ${token}` } },
        (res) => {
          let bytes = 0;
          res.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
          });
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(bytes)
              : reject(new Error(`${path}: ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  await get(); // the first builds what the rest reuse (the connection, the JIT)
  const ms: number[] = [];
  let bytes = 0;
  const cpu0 = cpuTime(serverPid);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    bytes = await get();
    ms.push(performance.now() - t0);
  }
  const cpu1 = cpuTime(serverPid);
  ms.sort((a, b) => a - b);
  return {
    medianMs: Math.round(ms[count >> 1]! * 100) / 100,
    cpuUs:
      cpu0 === undefined || cpu1 === undefined ? Number.NaN : Math.round((cpu1 - cpu0) / count),
    bytes,
    count,
  };
}
