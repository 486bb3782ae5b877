import type { AddressInfo } from "node:net";
import type { INestApplication, Type } from "@nestjs/common";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import { Test } from "@nestjs/testing";

export type Platform = "express" | "fastify";
export const PLATFORMS: readonly Platform[] = ["express", "fastify"];

export type RunningApp = {
  readonly app: INestApplication;
  readonly url: string;
  close(): Promise<void>;
};

/** Compiles `root` with @nestjs/testing and listens on 127.0.0.1, a free port. */
export async function startApp(platform: Platform, root: Type<unknown>): Promise<RunningApp> {
  const moduleRef = await Test.createTestingModule({ imports: [root] }).compile();
  const app =
    platform === "fastify"
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  await app.listen(0, "127.0.0.1");
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export type Reply = {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  json(): unknown;
};

export async function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(base + path, { headers });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body) };
}

/** Sends `n` requests one after another and returns their statuses. */
export async function statuses(
  base: string,
  path: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(base, path, headers)).status);
  return out;
}
