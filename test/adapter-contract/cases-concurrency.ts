import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createConcurrencyLimiter } from "../../src/core/concurrency.js";
import { TEMPORARY_REDUCED_CAPACITY_TYPE } from "../../src/http/problem.js";
import type { CaseKit, Harness } from "./contract.js";
import { slow } from "./slow.js";

/** Long enough never to end on its own during a case: cases let `/slow` go themselves. */
const HELD = "/slow?ms=15000";

const byUser = (req: { header(name: string): string | undefined }) =>
  `user:${req.header("x-user") ?? "anon"}`;

/** A request on its own socket, left open: the case destroys it (a client abort). */
function openRequest(url: string, method: string, target: string, user: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nx-user: ${user}\r\nContent-Length: 0\r\n\r\n`,
      );
      resolve(socket);
    });
    socket.on("error", reject);
  });
}

/** Waits (bounded) for something the server does after the response, e.g. a release in Redis. */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Slots held in the store for one key (the catch-all rule's pool: `<prefix>:cc:r:default`). */
function slotsOf(t: Harness, max: number) {
  const view = createConcurrencyLimiter({
    max,
    leaseMs: "30s",
    store: t.store,
    prefix: `${t.prefix}:cc:r:default`,
    clock: t.clock.now,
  });
  return (key: string) => view.inFlight(key);
}

/**
 * `concurrency` (requests in flight per identity) and `shed` (the process's load shedder) over
 * a real socket: slots and the shedder's count are given back when the response ends, and when
 * the client goes away before it does.
 */
export function concurrencyCases({ setup, statusOf }: CaseKit): void {
  describe("concurrency: requests in flight per identity", () => {
    it("20 parallel requests, concurrency 5: never more than 5 in the handler, the rest 429", async () => {
      const t = await setup({ policies: "1000/min", concurrency: 5, identity: byUser });
      const inFlight = slotsOf(t, 5);
      slow.reset();
      const as = (user: string) => t.get(HELD, { headers: { "x-user": user } });
      const answered: Response[] = [];
      const all = Array.from({ length: 20 }, () =>
        as("a").then((res) => {
          answered.push(res);
          return res;
        }),
      );
      await slow.reached(5);
      // The 15 refused come back at once; the 5 admitted are still in the handler.
      await until(() => answered.length === 15, "15 refusals");
      for (const res of answered) {
        expect(res.status).toBe(429);
        expect(res.headers.get("retry-after")).toBe("1");
        expect(res.headers.get("cache-control")).toBe("no-store");
        expect(await res.json()).toMatchObject({ "violated-policies": ["concurrency"] });
      }
      expect(slow.active).toBe(5);
      expect(await inFlight("user:a")).toBe(5);
      // Another identity is not affected.
      expect(await statusOf(t.get("/", { headers: { "x-user": "b" } }))).toBe(200);
      slow.releaseAll();
      const admitted = (await Promise.all(all)).filter(
        (res) => !answered.slice(0, 15).includes(res),
      );
      expect(await Promise.all(admitted.map((res) => statusOf(Promise.resolve(res))))).toEqual([
        200, 200, 200, 200, 200,
      ]);
      expect(slow.peak).toBe(5);
      // Every slot is free again once the responses are done.
      await until(async () => (await inFlight("user:a")) === 0, "the slots to be released");
      const again = Array.from({ length: 5 }, () => as("a"));
      await slow.reached(5);
      expect(await statusOf(as("a"))).toBe(429);
      slow.releaseAll();
      expect(await Promise.all(again.map((r) => statusOf(r)))).toEqual([200, 200, 200, 200, 200]);
    });

    it("a client that aborts mid-request frees its slot", async () => {
      const t = await setup({ policies: "1000/min", concurrency: 1, identity: byUser });
      const inFlight = slotsOf(t, 1);
      slow.reset();
      const socket = await openRequest(t.url, "GET", HELD, "a");
      await slow.reached(1);
      expect(await statusOf(t.get("/", { headers: { "x-user": "a" } }))).toBe(429);
      socket.destroy();
      await until(async () => (await inFlight("user:a")) === 0, "the aborted request's slot");
      expect(await statusOf(t.get("/", { headers: { "x-user": "a" } }))).toBe(200);
      slow.releaseAll();
    });
  });

  describe("shed: the process's load shedder", () => {
    // maxInFlight 4, a quarter reserved for critical and a quarter for normal: sheddable
    // requests may use 2 places, normal 3, critical all 4.
    const shedOptions = {
      shed: { maxInFlight: 4, reserve: { critical: 0.25, normal: 0.25 } },
      rules: [
        { path: "/slow", methods: "POST", priority: "critical", policies: "1000/min" },
        { path: "/slow", methods: "PUT", priority: "normal", policies: "1000/min" },
        { path: "/slow", priority: "sheddable", policies: "1000/min" },
      ],
    } as const;

    it("sheds sheddable requests first with 503 and Retry-After; critical ones still pass", async () => {
      const t = await setup(shedOptions);
      slow.reset();
      const held = [t.get(HELD), t.get(HELD)];
      await slow.reached(2);
      const shed = await t.get(HELD);
      expect(shed.status).toBe(503);
      expect(shed.headers.get("retry-after")).toBe("1");
      expect(shed.headers.get("cache-control")).toBe("no-store");
      expect(await shed.json()).toMatchObject({
        type: TEMPORARY_REDUCED_CAPACITY_TYPE,
        status: 503,
      });
      held.push(t.get(HELD, { method: "PUT" }));
      await slow.reached(3);
      expect(await statusOf(t.get(HELD, { method: "PUT" }))).toBe(503);
      held.push(t.get(HELD, { method: "POST" }));
      await slow.reached(4);
      expect(await statusOf(t.get(HELD, { method: "POST" }))).toBe(503);
      slow.releaseAll();
      expect(await Promise.all(held.map((r) => statusOf(r)))).toEqual([200, 200, 200, 200]);
      // Back to 0 in flight: two sheddable requests fit again, and only two.
      const again = [t.get(HELD), t.get(HELD)];
      await slow.reached(2);
      expect(await statusOf(t.get(HELD))).toBe(503);
      slow.releaseAll();
      expect(await Promise.all(again.map((r) => statusOf(r)))).toEqual([200, 200]);
    });

    it("an aborted request leaves the count exactly once", async () => {
      const t = await setup(shedOptions);
      slow.reset();
      const socket = await openRequest(t.url, "GET", HELD, "a");
      const other = t.get(HELD);
      await slow.reached(2);
      expect(await statusOf(t.get(HELD))).toBe(503);
      socket.destroy();
      // One place frees (the aborted request's handler is still running, uncounted): one more
      // sheddable request gets in, and the next is shed again. Twice would let two in.
      let third: Promise<Response> | undefined;
      await until(async () => {
        const r = t.get(HELD);
        const first = await Promise.race([r, slow.reached(3).then(() => undefined)]);
        if (first === undefined) {
          third = r;
          return true;
        }
        await first.arrayBuffer();
        return false;
      }, "the aborted request to leave the count");
      expect(await statusOf(t.get(HELD))).toBe(503);
      slow.releaseAll();
      expect(await statusOf(other)).toBe(200);
      expect(await statusOf(third!)).toBe(200);
    });
  });
}
