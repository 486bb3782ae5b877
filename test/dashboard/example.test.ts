/**
 * examples/dashboard/server.ts runs as its header says: the dashboard answers 401 without the
 * token and 200 with it, a deny entry for 127.0.0.1 makes the app answer 403, and SIGTERM stops
 * it cleanly.
 */
import { afterEach, expect, it } from "vitest";
import { type ExampleProcess, startExample } from "../observe/example-process.js";

let example: ExampleProcess | undefined;
afterEach(() => example?.kill());

it("serves the dashboard under /admin/throttlekit beside the limited app", async () => {
  const token = "example-token-0123456789abcdef";
  process.env.DASHBOARD_TOKEN = token;
  try {
    example = await startExample("examples/dashboard/server.ts");
  } finally {
    delete process.env.DASHBOARD_TOKEN;
  }
  const base = `${example.url}/admin/throttlekit`;
  expect(example.stdout()).toContain("/admin/throttlekit/");
  expect(example.stdout()).not.toContain(token);
  expect((await fetch(`${base}/`)).status).toBe(401);
  const auth = { authorization: `Bearer ${token}` };
  expect((await fetch(`${example.url}/api/items`)).status).toBe(200);
  const config = await (await fetch(`${base}/api/config`, { headers: auth })).text();
  expect(config).toContain("[redacted]");
  expect(config).not.toContain("change-me");
  const add = await fetch(`${base}/api/lists`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ list: "deny", value: "127.0.0.1", for: "1m" }),
  });
  expect(add.status).toBe(201);
  expect((await fetch(`${example.url}/api/items`)).status).toBe(403);
  const remove = await fetch(`${base}/api/lists?list=deny&value=127.0.0.1`, {
    method: "DELETE",
    headers: auth,
  });
  expect(remove.status).toBe(200);
  expect((await fetch(`${example.url}/api/items`)).status).toBe(200);
  expect(await example.stop()).toBe(0);
}, 60_000);
