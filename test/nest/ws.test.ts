import type { AddressInfo } from "node:net";
import { Module, UseGuards } from "@nestjs/common";
import { WsAdapter } from "@nestjs/platform-ws";
import { Test } from "@nestjs/testing";
import { SubscribeMessage, WebSocketGateway } from "@nestjs/websockets";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ThrottlekitGuard, ThrottlekitModule } from "../../src/adapters/nest/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { decorate } from "./support/decorate.js";

class PingGateway {
  ping(_client: unknown, data: unknown) {
    return { event: "pong", data };
  }
}
decorate(PingGateway, [WebSocketGateway(), UseGuards(ThrottlekitGuard)], {
  ping: [SubscribeMessage("ping")],
});

const clock = manualClock();
class WsAppModule {}
decorate(WsAppModule, [
  Module({
    imports: [ThrottlekitModule.forRoot({ throttlers: "2/min", clock: clock.now })],
    providers: [PingGateway],
  }),
]);

describe("throttlekit/nest on a WebSocket gateway (ws adapter)", () => {
  it("answers a limited message with an exception frame, handles the others, and keeps the socket", async () => {
    const moduleRef = await Test.createTestingModule({ imports: [WsAppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, "127.0.0.1");
    try {
      const { port } = app.getHttpServer().address() as AddressInfo;
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const frames: { event: string; data: Record<string, unknown> | number }[] = [];
      const got = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (frames.length >= n) {
              ws.off("message", onMessage);
              resolve();
            }
          };
          const onMessage = () => check();
          ws.on("message", onMessage);
          check();
        });
      ws.on("message", (raw) => frames.push(JSON.parse(String(raw))));
      for (let i = 1; i <= 3; i++) ws.send(JSON.stringify({ event: "ping", data: i }));
      await got(3);
      // The refusal is sent from the guard, before the handled messages' replies: compare
      // without order.
      const pongs = frames.filter((f) => f.event === "pong");
      const refused = frames.filter((f) => f.event === "exception");
      expect(pongs).toEqual([
        { event: "pong", data: 1 },
        { event: "pong", data: 2 },
      ]);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        event: "exception",
        data: { status: "error", code: "TOO_MANY_REQUESTS" },
      });
      expect((refused[0]!.data as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
      // The socket stays open and is served again once the window has passed.
      clock.advance("2m");
      ws.send(JSON.stringify({ event: "ping", data: 4 }));
      await got(4);
      expect(frames[3]).toEqual({ event: "pong", data: 4 });
      ws.close();
    } finally {
      await app.close();
    }
  });
});
