/**
 * The two timing primitives every timer is built on: `startTimer` (a start time and a function
 * that records the elapsed seconds) and `timeit` (a wrapper that records each call's duration).
 *
 * Both read the global `performance` at each call, not node:perf_hooks' export: fake timers
 * (jest's, vitest's, @sinonjs/fake-timers) replace the global, so a test that advances the fake
 * clock sees its timers advance too, as prom-client's (process.hrtime) do.
 */
import type { LabelValue } from '../buffer/series-store.js';

/** Stops a timer started by `startTimer()`, records the elapsed seconds and returns them. */
export type EndTimer<L extends string = string> = (labels?: Partial<Record<L, LabelValue>>) => number;

/** Start timing; the returned function records elapsed seconds through `record` when called. */
export function startTimer<L extends string>(
  record: (seconds: number, labels: Record<string, unknown> | undefined) => void,
  startLabels: Record<string, unknown> | undefined,
): EndTimer<L> {
  const start = performance.now();
  return (endLabels) => {
    const seconds = (performance.now() - start) / 1000;
    record(seconds, endLabels === undefined ? startLabels : { ...startLabels, ...endLabels });
    return seconds;
  };
}

/**
 * Wrap `fn` so each call records its duration in seconds — the Python original's `timeit`
 * decorator as a wrapper. Works for synchronous functions and for ones returning promises
 * (recorded when the promise settles, fulfilled or rejected); `this` and arguments pass through.
 */
export function timeit<A extends unknown[], R, T>(
  fn: (this: T, ...args: A) => R,
  record: (seconds: number) => void,
): (this: T, ...args: A) => R {
  if (typeof fn !== 'function') throw new TypeError(`timeit() expects a function, got ${typeof fn}`);
  return function (this: T, ...args: A): R {
    const start = performance.now();
    const done = (): void => record((performance.now() - start) / 1000);
    let result: R;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      done();
      throw error;
    }
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as { then?: unknown }).then === 'function'
    ) {
      (result as unknown as PromiseLike<unknown>).then(done, done);
    } else {
      done();
    }
    return result;
  };
}
