/**
 * `npm run bench:nest`: a hello-world NestJS app (Express platform) three ways, in one run:
 * bare, with throttlekit's guard (APP_GUARD), and with @nestjs/throttler's guard. Each app runs
 * in its own child process on 127.0.0.1; autocannon loads them in interleaved rounds (the order
 * rotates every round) and the median round is reported. Limits are far above the load:
 * nothing may be rejected (a non-2xx answer fails the run).
 * Env: BENCH_ROUNDS (default 5), BENCH_SECONDS (per round, default 4), BENCH_CONNECTIONS (default 50).
 * Writes bench/results/nest.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";

type Variant = "bare" | "throttlekit" | "nestjs-throttler";
const VARIANTS: readonly Variant[] = ["bare", "throttlekit", "nestjs-throttler"];
const LABELS: Readonly<Record<Variant, string>> = {
  bare: "bare Nest (no guard)",
  throttlekit: "throttlekit/nest ThrottlekitGuard",
  "nestjs-throttler": "@nestjs/throttler ThrottlerGuard",
};
const BIG = 1_000_000_000;

function envInt(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a whole number ≥ 1`);
  return n;
}

/** Child: one app, listening on a free loopback port, which it prints. */
async function serve(variant: Variant): Promise<void> {
  await import("reflect-metadata");
  const { Controller, Get, Module } = await import("@nestjs/common");
  const { APP_GUARD, NestFactory } = await import("@nestjs/core");
  class HelloController {
    hello() {
      return "hello";
    }
  }
  Controller()(HelloController);
  const proto = HelloController.prototype;
  Get()(proto, "hello", Object.getOwnPropertyDescriptor(proto, "hello")!);

  // biome-ignore lint/suspicious/noExplicitAny: Nest's module metadata types.
  const imports: any[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: Nest's provider types.
  const providers: any[] = [];
  if (variant === "throttlekit") {
    const { ThrottlekitGuard, ThrottlekitModule } = await import("../src/adapters/nest/index.js");
    imports.push(
      ThrottlekitModule.forRoot({ throttlers: { default: { limit: BIG, window: "1m" } } }),
    );
    providers.push({ provide: APP_GUARD, useClass: ThrottlekitGuard });
  } else if (variant === "nestjs-throttler") {
    const { ThrottlerGuard, ThrottlerModule } = await import("@nestjs/throttler");
    imports.push(ThrottlerModule.forRoot([{ ttl: 60_000, limit: BIG }]));
    providers.push({ provide: APP_GUARD, useClass: ThrottlerGuard });
  }
  class AppModule {}
  Module({ imports, controllers: [HelloController], providers })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, "127.0.0.1");
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.stdout.write(`${port}\n`);
}

type Server = { variant: Variant; url: string; child: ChildProcess };

async function start(variant: Variant): Promise<Server> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "serve", variant],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line !== undefined) resolve(Number(line));
    });
    child.once("exit", (code) => reject(new Error(`${variant} server exited (${code})`)));
  });
  return { variant, url: `http://127.0.0.1:${port}/`, child };
}

type Round = { requestsPerSec: number; non2xx: number; errors: number; p99Ms: number };

async function load(url: string, seconds: number, connections: number): Promise<Round> {
  const { default: autocannon } = await import("autocannon");
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  return {
    requestsPerSec: r.requests.average,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p99Ms: r.latency.p99,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const rounds = envInt("BENCH_ROUNDS", 5);
  const seconds = envInt("BENCH_SECONDS", 4);
  const connections = envInt("BENCH_CONNECTIONS", 50);
  const servers = await Promise.all(VARIANTS.map(start));
  try {
    const samples = new Map<Variant, Round[]>(VARIANTS.map((v) => [v, []]));
    for (const s of servers) await load(s.url, 2, connections); // warm-up (JIT), not recorded
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no variant always runs first (or hottest).
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(i + r) % servers.length]!;
        const round = await load(s.url, seconds, connections);
        if (round.non2xx !== 0 || round.errors !== 0) {
          throw new Error(`${s.variant}: ${round.non2xx} non-2xx, ${round.errors} errors`);
        }
        samples.get(s.variant)!.push(round);
        console.log(`round ${r + 1} ${s.variant}: ${Math.round(round.requestsPerSec)} req/s`);
      }
    }
    const figures = VARIANTS.map((v) => {
      const rs = samples.get(v)!;
      return {
        id: v,
        label: LABELS[v],
        rounds: rs.map((x) => Math.round(x.requestsPerSec)),
        medianReqPerSec: Math.round(median(rs.map((x) => x.requestsPerSec))),
        medianP99Ms: median(rs.map((x) => x.p99Ms)),
      };
    });
    const bare = figures[0]!.medianReqPerSec;
    const tk = figures[1]!.medianReqPerSec;
    const nt = figures[2]!.medianReqPerSec;
    const result = {
      bench: "nest",
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      plan: { rounds, secondsPerRound: seconds, connections, platform: "express" },
      figures: figures.map((f) => ({
        ...f,
        ofBare: Number((f.medianReqPerSec / bare).toFixed(3)),
      })),
      targets: [
        {
          target: "throttlekit ÷ bare",
          measured: Number((tk / bare).toFixed(3)),
          required: "≥ 0.85",
          met: tk / bare >= 0.85,
        },
        {
          target: "throttlekit ÷ @nestjs/throttler",
          measured: Number((tk / nt).toFixed(3)),
          required: "> 1",
          met: tk > nt,
        },
      ],
    };
    const out = fileURLToPath(new URL("./results/nest.json", import.meta.url));
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.table(
      result.figures.map((f) => ({
        variant: f.label,
        "req/s": f.medianReqPerSec,
        "of bare": f.ofBare,
        "p99 ms": f.medianP99Ms,
      })),
    );
    console.table(result.targets);
  } finally {
    for (const s of servers) s.child.kill();
  }
}

if (process.argv[2] === "serve") {
  await serve(process.argv[3] as Variant);
} else {
  await main();
}
