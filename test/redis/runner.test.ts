/**
 * The runner's deadline (issue 13, item 8) against a scripted server whose clock the test moves:
 * the clock probe, the deadline it yields, a server clock stepping forward (one resend with the
 * corrected deadline) or back (the estimate is dropped, never left too high), and a server that
 * is always late (a timeout, nothing done). The real script's side is in late-runs.test.ts.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { CircuitBreaker } from "../../src/stores/redis/breaker.js";
import { wrapClient } from "../../src/stores/redis/client.js";
import { OutageLog } from "../../src/stores/redis/outage-log.js";
import { ScriptRunner } from "../../src/stores/redis/runner.js";

const TIMEOUT_MS = 200;
const MARGIN_MS = 50; // a quarter of 200 ms, capped at 50
const localNow = () => performance.timeOrigin + performance.now();

/** A fake ioredis client: a server whose clock is local time + `skew`, answering at once. */
function fakeServer() {
  const server = {
    skew: 0,
    /** Every deadline received, in order ("0" for the probe). */
    deadlines: [] as string[],
    /** Answer late whatever the deadline says. */
    alwaysLate: false,
    client: {
      isCluster: false,
      async call(_command: string, args: (string | number)[]): Promise<unknown> {
        const numKeys = Number(args[1]);
        const deadline = String(args[2 + numKeys]);
        server.deadlines.push(deadline);
        const now = Math.floor(localNow() + server.skew);
        if (server.alwaysLate || now > Number(deadline)) return [-1, now];
        return [now, 0];
      },
    },
  };
  return server;
}

function runner(server: ReturnType<typeof fakeServer>) {
  const commands = wrapClient(server.client)!;
  const outages = new OutageLog(silentLogger, "fail-closed", { degraded: 0 });
  return new ScriptRunner(commands, TIMEOUT_MS, new CircuitBreaker(3, 1000), outages);
}

describe("the runner's deadline", () => {
  it("probes the clock once, then sends the timer's expiry in server time less the margin", async () => {
    const server = fakeServer();
    server.skew = 3_600_000; // the server's clock is an hour ahead
    const r = runner(server);
    const sent = localNow();
    // Two calls at once: one probe between them.
    await Promise.all([r.run(["k"], [""]), r.run(["k"], [""])]);
    expect(server.deadlines[0]).toBe("0");
    expect(server.deadlines.slice(1).filter((d) => d === "0")).toEqual([]);
    expect(server.deadlines).toHaveLength(3);
    const expected = sent + server.skew + TIMEOUT_MS - MARGIN_MS;
    for (const d of server.deadlines.slice(1)) {
      // Never later than the timer (in server time), and not much earlier.
      expect(Number(d)).toBeLessThanOrEqual(Math.ceil(localNow() + server.skew + TIMEOUT_MS));
      expect(Math.abs(Number(d) - expected)).toBeLessThan(40);
    }
    expect(r.calls).toBe(3);
  });

  it("a server clock that stepped forward: the refused call is resent once, in time", async () => {
    const server = fakeServer();
    const r = runner(server);
    await r.run(["k"], [""]);
    server.skew += 10_000;
    const before = r.calls;
    await expect(r.run(["k"], [""])).resolves.toEqual([expect.any(Number), 0]);
    expect(r.calls - before).toBe(2);
    const [late, resent] = server.deadlines.slice(-2).map(Number);
    expect(resent! - late!).toBeGreaterThan(9_900);
  });

  it("a server clock that stepped back: the estimate is dropped, so deadlines follow it", async () => {
    const server = fakeServer();
    const r = runner(server);
    await r.run(["k"], [""]);
    server.skew -= 10_000;
    // This reply proves the estimate too high (the deadline it carried was 10 s too late).
    await r.run(["k"], [""]);
    const at = localNow();
    await r.run(["k"], [""]);
    const last = Number(server.deadlines.at(-1));
    expect(last).toBeLessThanOrEqual(Math.ceil(localNow() + server.skew + TIMEOUT_MS));
    expect(Math.abs(last - (at + server.skew + TIMEOUT_MS - MARGIN_MS))).toBeLessThan(40);
  });

  it("a server that runs the call too late: a timeout error, one resend at most", async () => {
    const server = fakeServer();
    const r = runner(server);
    await r.run(["k"], [""]);
    server.alwaysLate = true;
    const before = r.calls;
    await expect(r.run(["k"], [""])).rejects.toMatchObject({ code: "ERR_TK_STORE_TIMEOUT" });
    expect(r.calls - before).toBeLessThanOrEqual(2);
  });
});
