// STUB (lead, issue 15): helper A replaces this file with the real wrap.
import type { Limiter } from "./limiter.js";

export type WrapOptions<F extends (...args: never[]) => unknown> = {
  key?: (this: ThisParameterType<F>, ...args: Parameters<F>) => string;
  cost?: number | ((this: ThisParameterType<F>, ...args: Parameters<F>) => number);
  onLimited?: "throw" | "wait" | ((...args: never[]) => unknown);
};

export type Wrapped<F extends (...args: never[]) => unknown> = F;

export function wrapFunction<F extends (...args: never[]) => unknown>(
  _limiter: Limiter,
  fn: F,
  _options?: WrapOptions<F>,
): Wrapped<F> {
  return fn;
}
