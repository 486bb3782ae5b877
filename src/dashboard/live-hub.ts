import type { ServerResponse } from "node:http";
import type { LiveSnapshot } from "./snapshot.js";

/**
 * The server-sent event streams: one snapshot is built per interval, however many pages
 * watch, and only while one does (no timer, no store read when nobody looks). Streams are
 * bounded (`maxClients`), each ends when its session does, and `close()` ends them all.
 */
export class LiveHub {
  private readonly clients = new Map<ServerResponse, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private building: Promise<LiveSnapshot | undefined> | undefined;
  private latest: LiveSnapshot | undefined;
  private closed = false;

  constructor(
    private readonly build: () => Promise<LiveSnapshot>,
    private readonly intervalMs: number,
    private readonly maxClients: number,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  get full(): boolean {
    return this.clients.size >= this.maxClients;
  }

  /** Adds a stream whose headers are sent; it ends at `endsAt` (ms) at the latest. */
  add(res: ServerResponse, endsAt: number): void {
    if (this.closed) {
      res.end();
      return;
    }
    this.clients.set(res, endsAt);
    res.on("close", () => this.remove(res));
    // A reconnecting page waits this long (the stream's own retry, RFC: HTML §9.2.4).
    res.write("retry: 3000\n\n");
    if (this.latest !== undefined && Date.now() - this.latest.at < this.intervalMs)
      this.send(res, this.latest);
    else void this.tick();
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref?.();
    }
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private send(res: ServerResponse, snapshot: LiveSnapshot): void {
    res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
  }

  /** Builds a snapshot now (one at a time) and sends it to every stream. */
  tick(): Promise<LiveSnapshot | undefined> {
    if (this.building !== undefined) return this.building;
    this.building = this.build()
      .then(
        (snapshot) => {
          this.latest = snapshot;
          const now = Date.now();
          for (const [res, endsAt] of this.clients) {
            if (now >= endsAt) res.end();
            else if (!res.writableEnded) this.send(res, snapshot);
          }
          return snapshot;
        },
        () => undefined,
      )
      .finally(() => {
        this.building = undefined;
      });
    return this.building;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}
