/**
 * examples/prometheus/server.ts runs as its header says: started on a free port, the seventh
 * request to /api/items in 10 s is refused, and GET /metrics (never limited) shows five allowed
 * and two limited on the rule "api", beside prom-client's default process metrics.
 */
import { afterEach, expect, it } from "vitest";
import { type ExampleProcess, startExample } from "./example-process.js";
import { parseExposition, sampleValue } from "./prometheus-exposition.js";

let example: ExampleProcess | undefined;
afterEach(() => example?.kill());

it("limits /api and shows it on /metrics", async () => {
  example = await startExample("examples/prometheus/server.ts");
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await fetch(`${example.url}/api/items`);
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  for (let i = 0; i < 3; i++) expect((await fetch(`${example.url}/health`)).status).toBe(200);

  const scrapes = [];
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${example.url}/metrics`);
    expect(r.status).toBe(200);
    scrapes.push(parseExposition(await r.text()));
  }
  const e = scrapes[1]!;
  const api = { rule: "api", policy: "5/10s" };
  expect(sampleValue(e, "throttlekit_requests_total", { ...api, outcome: "allowed" })).toBe(5);
  expect(sampleValue(e, "throttlekit_requests_total", { ...api, outcome: "limited" })).toBe(2);
  expect(sampleValue(e, "throttlekit_violations_total", api)).toBe(2);
  expect(sampleValue(e, "throttlekit_store_duration_seconds_count", { rule: "api" })).toBe(7);
  // prom-client's default metrics share the registry.
  expect(e.types.get("process_cpu_user_seconds_total")).toBe("counter");
  expect(await example.stop()).toBe(0);
});
