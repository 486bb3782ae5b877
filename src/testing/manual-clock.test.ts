import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { manualClock } from "./manual-clock.js";

describe("manualClock timers", () => {
  it("fire in due order (ties in the order scheduled), each seeing its own due time", () => {
    const clock = manualClock(0);
    const seen: string[] = [];
    clock.timers.setTimeout(() => seen.push(`c@${clock.now()}`), 300);
    clock.timers.setTimeout(() => seen.push(`a@${clock.now()}`), 100);
    clock.timers.setTimeout(() => seen.push(`b@${clock.now()}`), 100);
    expect(clock.pendingTimers()).toBe(3);
    expect(clock.advance(250)).toBe(250);
    expect(seen).toEqual(["a@100", "b@100"]);
    clock.advance(50);
    expect(seen).toEqual(["a@100", "b@100", "c@300"]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("clearTimeout stops a timer; clearing one that fired, or a foreign handle, does nothing", () => {
    const clock = manualClock(0);
    let fired = 0;
    const a = clock.timers.setTimeout(() => fired++, 10);
    const b = clock.timers.setTimeout(() => fired++, 20);
    clock.timers.clearTimeout(a);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(20);
    clock.timers.clearTimeout(b);
    clock.timers.clearTimeout({});
    clock.timers.clearTimeout(undefined);
    expect(fired).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("treats a delay below 1 ms (or not a number) as 1 ms, as Node does: a timer rescheduling itself cannot stall advance", () => {
    const clock = manualClock(0);
    let ticks = 0;
    const tick = () => {
      ticks++;
      clock.timers.setTimeout(tick, 0);
    };
    clock.timers.setTimeout(tick, 0);
    clock.advance(5);
    expect(ticks).toBe(5);
    clock.timers.setTimeout(() => ticks++, Number.NaN);
    clock.advance(1);
    expect(ticks).toBe(7);
  });

  it("set() forward fires what is due on the way; backward fires nothing until time comes back", () => {
    const clock = manualClock(1000);
    const seen: number[] = [];
    clock.timers.setTimeout(() => seen.push(clock.now()), 500);
    clock.set(900);
    expect(seen).toEqual([]);
    clock.set(1499);
    expect(seen).toEqual([]);
    clock.set(2000);
    expect(seen).toEqual([1500]);
    expect(clock.now()).toBe(2000);
  });

  it("a throwing callback does not stop the others; the error comes out of the advance that fired it", async () => {
    const clock = manualClock(0);
    const seen: number[] = [];
    clock.timers.setTimeout(() => {
      throw new Error("first");
    }, 10);
    clock.timers.setTimeout(() => seen.push(clock.now()), 20);
    expect(() => clock.advance(30)).toThrow("first");
    expect(seen).toEqual([20]);
    expect(clock.now()).toBe(30);

    for (const ms of [10, 20]) {
      clock.timers.setTimeout(() => {
        throw new Error(`at ${ms}`);
      }, ms);
    }
    clock.timers.setTimeout(() => seen.push(clock.now()), 15);
    const error = await clock.advanceAsync(30).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual([
      "at 10",
      "at 20",
    ]);
    expect(seen).toEqual([20, 45]);
    expect(clock.now()).toBe(60);
  });

  it("advanceAsync lets promise callbacks run between timers, so a wait started by one timer can end within the same advance", async () => {
    const clock = manualClock(0);
    const sleep = (ms: number) => new Promise<void>((done) => clock.timers.setTimeout(done, ms));
    const seen: number[] = [];
    const job = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(100);
        seen.push(clock.now());
      }
    })();
    clock.advance(300); // only the first sleep was scheduled: the others start after it returns
    await clock.advanceAsync(0);
    expect(seen).toEqual([300]); // its continuation ran after advance returned: at 300, not 100
    await clock.advanceAsync(300);
    await job;
    expect(seen).toEqual([300, 400, 500]);
    expect(clock.now()).toBe(600);
  });

  it("refuses a bad duration with a ConfigError", async () => {
    const clock = manualClock();
    expect(() => clock.advance("soon")).toThrow(ConfigError);
    await expect(clock.advanceAsync(-1)).rejects.toThrow(ConfigError);
  });

  it("holds many timers cheaply (a heap, not a scan per firing), still firing in due order", () => {
    const clock = manualClock(0);
    const times: number[] = [];
    const handles = [];
    for (let i = 0; i < 20_000; i++) {
      handles.push(clock.timers.setTimeout(() => times.push(clock.now()), 1 + ((i * 7919) % 1000)));
    }
    for (let i = 0; i < 20_000; i += 2) clock.timers.clearTimeout(handles[i]);
    expect(clock.pendingTimers()).toBe(10_000);
    clock.advance(1000);
    expect(times).toHaveLength(10_000);
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
  });
});
