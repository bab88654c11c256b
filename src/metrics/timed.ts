/**
 * Timers for the metric types that record durations — Gauge, CommonGauge, Histogram, Summary —
 * and for their children: `startTimer()` and `timeit()`, written once over each type's one
 * recording call (a gauge sets the seconds, a histogram or summary observes them).
 */
import { Metric, type Labels } from './metric.js';
import { startTimer, timeit, type EndTimer } from './timer.js';

/** A child that can time code, recording into its own series. */
export interface TimedChild<L extends string = string> {
  /**
   * Start a timer; calling the result records the elapsed seconds in this child's series and
   * returns them. Labels given at the end are merged over this child's (as in prom-client): the
   * duration goes to the series they name.
   */
  startTimer(): EndTimer<L>;
  /**
   * Wrap `fn` so each call records its duration in seconds in this child's series, sync or async
   * (when the promise settles); `this`, arguments and the result pass through.
   */
  timeit<A extends unknown[], R, T>(fn: (this: T, ...args: A) => R): (this: T, ...args: A) => R;
}

/** A metric that can time code: `startTimer()` and `timeit()`, on it and on its children. */
export abstract class TimedMetric<
  L extends string = string,
  Child extends TimedChild<L> = TimedChild<L>,
> extends Metric<L, Child> {
  /** @internal Record a duration in seconds in the series of `labels` (none: the unlabelled one). */
  abstract recordSeconds(seconds: number, labels: Labels<L> | undefined): void;

  /**
   * Start a timer; the returned function records the elapsed seconds and returns them. Labels may
   * be given at the start, at the end, or both (merged, the end's winning).
   */
  startTimer(labels?: Partial<Labels<L>>): EndTimer<L> {
    return startTimer<L>((s, l) => this.recordSeconds(s, l as Labels<L> | undefined), labels);
  }

  /**
   * Wrap `fn` so each call records its duration in seconds under `labels`, sync or async (when the
   * promise settles); `this`, arguments and the result pass through.
   */
  timeit<A extends unknown[], R, T>(
    fn: (this: T, ...args: A) => R,
    labels?: Labels<L>,
  ): (this: T, ...args: A) => R {
    const child = labels === undefined ? this.labels() : this.labels(labels);
    return child.timeit(fn);
  }
}

/** The timers of every bound child of a `TimedMetric`; each type's child class extends it. */
export abstract class BoundTimed<L extends string> implements TimedChild<L> {
  readonly #parent: TimedMetric<L>;
  readonly #args: readonly unknown[];

  protected constructor(parent: TimedMetric<L>, args: readonly unknown[]) {
    this.#parent = parent;
    this.#args = args;
  }

  /** This child's own recording call, with a duration in seconds. */
  protected abstract recordSeconds(seconds: number): void;

  startTimer(): EndTimer<L> {
    // The child's labels as they are when the timer starts (a caller may reuse its label object).
    const own = { ...this.#parent.labelsOf(this.#args) };
    return startTimer<L>((s, end) => {
      if (end === undefined) this.recordSeconds(s);
      else this.#parent.recordSeconds(s, { ...own, ...end });
    }, undefined);
  }

  timeit<A extends unknown[], R, T>(fn: (this: T, ...args: A) => R): (this: T, ...args: A) => R {
    return timeit(fn, (s) => this.recordSeconds(s));
  }
}
