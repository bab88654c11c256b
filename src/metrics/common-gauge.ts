/**
 * CommonGauge: one value shared by every process (the Python original's), and its bound child.
 * The shared cell writes and their validation live here; the methods users call come from
 * GaugeLike (gauge-like.ts), which Gauge shares.
 */
import { AddCell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import { writeAbsolute, writeDelta } from './add-cell.js';
import { BoundGaugeLike, GaugeLike, type GaugeLikeChild } from './gauge-like.js';
import type { Labels, MetricOptions } from './metric.js';
import { badValue, validatePositiveInteger } from '../core/validate.js';

/** Options of a `CommonGauge`. */
export interface CommonGaugeOptions<L extends string = string> extends MetricOptions<L> {
  /** See `MetricOptions.collect`: `this` is the metric. */
  readonly collect?: (this: CommonGauge<L>) => void | Promise<void>;
  /**
   * Seconds a series lives after its last write from any process; unset, series live until removed.
   * @default undefined
   */
  readonly expireSeconds?: number;
}

function setCell(
  store: SeriesStore<AddCell>,
  metric: string,
  target: AddCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'value', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  writeAbsolute(store, target ?? store.fromObject(labels!), value);
}

function addCell(
  store: SeriesStore<AddCell>,
  metric: string,
  target: AddCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
  sign = 1,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'amount', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  const next = cell.v + sign * value;
  // The delta (and, after a set(), the value it is added to) must stay finite, as Redis requires.
  if (next - next !== 0 || cell.s + next - (cell.s + next) !== 0) badValue(metric, 'resulting value', next);
  writeDelta(store, cell, next);
}

/** A common gauge bound to one label set. Get one from `CommonGauge.labels()`. */
export interface CommonGaugeChild<L extends string = string> extends GaugeLikeChild<L> {
  /** Overwrite the shared value (the last flush to reach Redis wins). Throws for a non-finite value. */
  set(value: number): void;
  /** Add `value` (default 1) to the shared value; increments from every process add up. */
  inc(value?: number): void;
  /** Subtract `value` (default 1) from the shared value. */
  dec(value?: number): void;
}

class BoundCommonGauge<L extends string> extends BoundGaugeLike<L> implements CommonGaugeChild<L> {
  readonly #cell: AddCell;
  readonly #store: SeriesStore<AddCell>;
  readonly #metric: string;

  constructor(parent: CommonGauge<L>, args: readonly unknown[], cell: AddCell, store: SeriesStore<AddCell>) {
    super(parent, args);
    this.#cell = cell;
    this.#store = store;
    this.#metric = parent.name;
  }

  set(value: number): void {
    setCell(this.#store, this.#metric, this.#cell, value);
  }
  inc(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value);
  }
  dec(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value, undefined, -1);
  }
}

/**
 * One value shared by every process (the Python original's CommonGauge): `inc()`/`dec()` add up
 * across processes; `set()` overwrites it (the last flush to reach Redis wins, and increments
 * recorded after it in the same process are added on top). Exposed as a gauge.
 */
export class CommonGauge<L extends string = string> extends GaugeLike<L, CommonGaugeChild<L>> {
  /** Seconds a series lives after its last write from any process; `undefined`: until removed. */
  readonly expireSeconds: number | undefined;
  /** @internal */
  declare protected readonly store: SeriesStore<AddCell>;

  constructor(options: CommonGaugeOptions<L>) {
    const expireSeconds =
      options?.expireSeconds === undefined
        ? undefined
        : validatePositiveInteger(`expireSeconds` + ` of "${String(options.name)}"`, options.expireSeconds);
    super(options, {
      kind: 'common_gauge',
      create: (key) => new AddCell(key),
      ...(expireSeconds === undefined ? {} : { extra: { expireSeconds } }),
    });
    this.expireSeconds = expireSeconds;
  }

  /** @internal */
  protected write(target: AddCell | undefined, value: number, labels?: Labels): void {
    setCell(this.store, this.name, target, value, labels);
  }

  /** @internal */
  protected add(target: AddCell | undefined, value: number, labels: Labels | undefined, sign: number): void {
    addCell(this.store, this.name, target, value, labels, sign);
  }

  /** @internal */
  protected child(cell: AddCell, args: readonly unknown[]): CommonGaugeChild<L> {
    return new BoundCommonGauge(this, args, cell, this.store);
  }
}
