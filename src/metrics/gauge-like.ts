/**
 * What Gauge and CommonGauge share: `set`, `inc`, `dec`, `setToCurrentTime` and the timers, for
 * the metric and for its children, written once over two cell writes each type defines (a value
 * per process, or one shared by all processes).
 */
import type { Cell } from '../buffer/cells.js';
import type { Labels } from './metric.js';
import { BoundTimed, TimedMetric, type TimedChild } from './timed.js';

/** A gauge of either kind bound to one label set. Get one from `labels()`. */
export interface GaugeLikeChild<L extends string = string> extends TimedChild<L> {
  /** Set the value. Throws for a non-finite value. */
  set(value: number): void;
  /** Add `value` (default 1) to the value. */
  inc(value?: number): void;
  /** Subtract `value` (default 1) from the value. */
  dec(value?: number): void;
  /** Set to the current Unix time in seconds. */
  setToCurrentTime(): void;
}

/**
 * A gauge of either kind: `Gauge` (a value per process) or `CommonGauge` (one value shared by
 * every process, where the last `set()` to reach Redis wins).
 */
export abstract class GaugeLike<
  L extends string = string,
  Child extends GaugeLikeChild<L> = GaugeLikeChild<L>,
> extends TimedMetric<L, Child> {
  /** @internal Set `target` (or, without one, the series `labels` names) to `value`. */
  protected abstract write(target: Cell | undefined, value: number, labels?: Labels): void;
  /** @internal Add `sign * value` to `target` (or, without one, the series `labels` names). */
  protected abstract add(
    target: Cell | undefined,
    value: number,
    labels: Labels | undefined,
    sign: number,
  ): void;

  /**
   * Set the value of the metric without labels — this process's (`Gauge`) or the shared one
   * (`CommonGauge`: the last flush to reach Redis wins). Throws for a non-finite value.
   */
  set(value: number): void;
  /** Set the value of one label set (see `set(value)`). Throws for a non-finite value. */
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') this.write(undefined, b as number, a);
    else this.write(this.store.single, a);
  }

  /**
   * Add `value` (default 1) to the value of the metric without labels — this process's (`Gauge`)
   * or the shared one (`CommonGauge`: increments from every process add up).
   */
  inc(value?: number): void;
  /** Add `value` (default 1) to the value of one label set. */
  inc(labels: Labels<L>, value?: number): void;
  inc(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') this.add(undefined, b ?? 1, a, 1);
    else this.add(this.store.single, a ?? 1, undefined, 1);
  }

  /** Subtract `value` (default 1) from the value of the metric without labels. */
  dec(value?: number): void;
  /** Subtract `value` (default 1) from the value of one label set. */
  dec(labels: Labels<L>, value?: number): void;
  dec(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') this.add(undefined, b ?? 1, a, -1);
    else this.add(this.store.single, a ?? 1, undefined, -1);
  }

  /** Set to the current Unix time in seconds. */
  setToCurrentTime(labels?: Labels<L>): void {
    const cell = labels === undefined ? this.store.single : this.store.fromObject(labels);
    this.write(cell, Date.now() / 1000);
  }

  /** @internal A timer sets the gauge to the elapsed seconds. */
  recordSeconds(seconds: number, labels: Labels<L> | undefined): void {
    this.write(labels === undefined ? this.store.single : undefined, seconds, labels);
  }
}

/** What both gauge kinds' bound children share; each kind's child class writes its own cell. */
export abstract class BoundGaugeLike<L extends string> extends BoundTimed<L> implements GaugeLikeChild<L> {
  abstract set(value: number): void;
  abstract inc(value?: number): void;
  abstract dec(value?: number): void;

  setToCurrentTime(): void {
    this.set(Date.now() / 1000);
  }

  protected recordSeconds(seconds: number): void {
    this.set(seconds);
  }
}
