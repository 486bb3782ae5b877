/**
 * examples/otel/server.ts runs as its header says: started on a free port, the fourth request in
 * 10 s is refused; the console span exporter prints each request's span with its ratelimit.*
 * attributes, and on SIGTERM the metrics are flushed to the console, throttlekit.requests with
 * its allowed and limited counts among them.
 */
import { afterEach, expect, it } from "vitest";
import { type ExampleProcess, startExample } from "./example-process.js";

let example: ExampleProcess | undefined;
afterEach(() => example?.kill());

it("sets ratelimit.* on each request's span and flushes the metrics on exit", async () => {
  example = await startExample("examples/otel/server.ts");
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${example.url}/`);
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  expect(statuses).toEqual([200, 200, 200, 429]);
  expect(await example.stop()).toBe(0);
  const out = example.stdout();
  // util.inspect output of the console exporters: one span object per request.
  const spans = out.split(/\n(?=\{)/).filter((s) => s.includes("traceId"));
  expect(spans).toHaveLength(4);
  const refused = spans.filter((s) => s.includes("'ratelimit.allowed': false"));
  expect(refused).toHaveLength(1);
  for (const attribute of [
    "'ratelimit.policy': '3/10s'",
    "'ratelimit.remaining': 0",
    "'ratelimit.rule': 'api'",
    "'ratelimit.reason': 'limited'",
    "'http.response.status_code': 429",
  ]) {
    expect(refused[0]).toContain(attribute);
  }
  expect(spans.filter((s) => s.includes("'ratelimit.allowed': true"))).toHaveLength(3);
  // The metrics flushed at shutdown.
  const requests = out.slice(out.indexOf("name: 'throttlekit.requests'"));
  expect(requests).toMatch(/outcome: 'allowed'\s*\},[^{}]*value: 3\b/);
  expect(requests).toMatch(/outcome: 'limited'\s*\},[^{}]*value: 1\b/);
});
