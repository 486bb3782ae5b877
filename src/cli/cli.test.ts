import { describe, expect, it } from "vitest";
import type { FleetMetrics, OutcomeCounts } from "../index.js";
import { type CliIo, humanMs } from "./io.js";
import { addressProblem } from "./manage.js";
import { buildView, renderFrame, renderLine } from "./monitor.js";
import { run } from "./program.js";
import { csvCell } from "./stats.js";

function io(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    env: {},
    cwd: "/nonexistent",
    stdout: () => out,
    stderr: () => err,
  };
}

const counts = (requests: number, limited: number): OutcomeCounts => ({
  requests,
  allowed: requests - limited,
  limited,
  blocked: 0,
  denied: 0,
  degraded: 0,
  shadowed: 0,
  blockRate: requests === 0 ? 0 : limited / requests,
});

describe("cli helpers", () => {
  it("catches address typos and leaves identity keys alone", () => {
    expect(addressProblem("10.0.0.0/8")).toBeUndefined();
    expect(addressProblem("2001:db8::/32")).toBeUndefined();
    expect(addressProblem("user:42")).toBeUndefined();
    expect(addressProblem("203.0.113.7")).toBeUndefined();
    expect(addressProblem("10.0.0.0/33")).toContain("0 to 32");
    expect(addressProblem("2001:db8::/129")).toContain("0 to 128");
    expect(addressProblem("300.1.2.3")).toContain("not a valid IPv4");
  });

  it("quotes CSV cells and defuses formulas from client-supplied keys", () => {
    expect(csvCell("ip:1.2.3.4")).toBe("ip:1.2.3.4");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell(12)).toBe("12");
    expect(csvCell(undefined)).toBe("");
  });

  it("writes durations for people", () => {
    expect(humanMs(0)).toBe("0ms");
    expect(humanMs(59_600)).toBe("59.6s");
    expect(humanMs(900_000)).toBe("15m");
    expect(humanMs(3_599_000)).toBe("59m 59s");
    expect(humanMs(Number.POSITIVE_INFINITY)).toBe("never");
  });

  it("monitor rates cover finished seconds of the rate window only", () => {
    const now = 1_000_000_500; // second 1_000_000, in progress
    const m: FleetMetrics = {
      from: now - 60_000,
      to: now,
      total: counts(70, 10),
      rules: { api: { ...counts(70, 10), policies: {} } },
      seconds: [
        {
          second: 999_990,
          total: counts(1000, 0),
          rules: { api: { ...counts(1000, 0), policies: {} } },
        }, // outside
        {
          second: 999_998,
          total: counts(40, 0),
          rules: { api: { ...counts(40, 0), policies: {} } },
        },
        {
          second: 999_999,
          total: counts(20, 10),
          rules: { api: { ...counts(20, 10), policies: {} } },
        },
        {
          second: 1_000_000,
          total: counts(10, 0),
          rules: { api: { ...counts(10, 0), policies: {} } },
        }, // in progress
      ],
      topOffenders: [{ key: "ip:203.0.113.9", count: 10, error: 0 }],
    };
    const view = buildView(m, now, 2);
    expect(view.total.perSecond).toBe(30);
    expect(view.total.refusedPerSecond).toBe(5);
    expect(view.rules[0]).toMatchObject({ rule: "api", perSecond: 30, blockRate: 10 / 60 });
    expect(view.violations).toEqual([
      { second: 999_999, rule: "api", limited: 10, blocked: 0, denied: 0 },
    ]);
    expect(renderLine(view)).toContain("requests 30.0/s");
    const frame = renderFrame(view, "redis://x", 24, 80).join("\n");
    expect(frame).toMatch(/api\s+30\.0\/s\s+25\.0\/s\s+5\.0\/s\s+16\.67%/);
    expect(frame).toContain("ip:203.0.113.9");
    expect(renderFrame(view, "redis://x", 3, 10).every((l) => l.length <= 10)).toBe(true);
  });

  it("exit codes: usage 2, help and version 0, no config file 2", async () => {
    for (const [argv, code] of [
      [[], 2],
      [["--help"], 0],
      [["--version"], 0],
      [["nope"], 2],
      [["test", "--rule", "a"], 2],
      [["test", "--rule", "a", "--identifier", "x"], 2],
      [["config", "validate"], 2],
      [["manage", "deny", "add", "1.2.3.4"], 2],
      [["monitor", "--refresh", "1ms", "--redis", "redis://127.0.0.1:1"], 2],
    ] as const) {
      const o = io();
      expect(await run(argv, o), `${argv.join(" ")}: ${o.stderr()}`).toBe(code);
      expect(o.stderr()).not.toMatch(/\n\s+at /);
    }
  });
});
