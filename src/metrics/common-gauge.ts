import { AddCell } from '../buffer/cells.js';
import type { LabelValue, SeriesStore } from '../buffer/series-store.js';
import { Metric, type Labels, type MetricOptions } from './metric.js';
import { badValue, validatePositiveInteger } from '../core/validate.js';

/** Options of a `CommonGauge`. */
export interface CommonGaugeOptions<L extends string = string> extends MetricOptions<L> {
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
  const cell = target ?? store.fromObject(labels!);
  cell.s = value;
  cell.v = 0;
  cell.hasSet = true;
  if (!cell.d) store.touch(cell);
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
  cell.v = next;
  if (!cell.d) store.touch(cell);
}

/** A common gauge bound to one label set. */
export class CommonGaugeChild {
  readonly #cell: AddCell;
  readonly #store: SeriesStore<AddCell>;
  readonly #metric: string;

  /** @internal */
  constructor(cell: AddCell, store: SeriesStore<AddCell>, metric: string) {
    this.#cell = cell;
    this.#store = store;
    this.#metric = metric;
  }

  /** Overwrite the shared value (the last flush to reach Redis wins). Throws for a non-finite value. */
  set(value: number): void {
    setCell(this.#store, this.#metric, this.#cell, value);
  }
  /** Add `value` (default 1) to the shared value; increments from every process add up. */
  inc(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value);
  }
  /** Subtract `value` (default 1) from the shared value. */
  dec(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value, undefined, -1);
  }
  /** Set to the current Unix time in seconds. */
  setToCurrentTime(): void {
    setCell(this.#store, this.#metric, this.#cell, Date.now() / 1000);
  }
}

/**
 * One value shared by every process (the Python original's CommonGauge): `inc()`/`dec()` add up
 * across processes; `set()` overwrites it (the last flush to reach Redis wins, and increments
 * recorded after it in the same process are added on top). Exposed as a gauge.
 */
export class CommonGauge<L extends string = string> extends Metric<L, AddCell> {
  /** Seconds a series lives after its last write from any process; `undefined`: until removed. */
  readonly expireSeconds: number | undefined;

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

  /** Overwrite the shared value of the metric without labels (the last flush to reach Redis wins). */
  set(value: number): void;
  /** Overwrite the shared value of one label set (the last flush to reach Redis wins). */
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') setCell(this.store, this.name, undefined, b as number, a);
    else setCell(this.store, this.name, this.store.single, a);
  }

  /** Add `value` (default 1) to the shared value of the metric without labels. */
  inc(value?: number): void;
  /** Add `value` (default 1) to the shared value of one label set. */
  inc(labels: Labels<L>, value?: number): void;
  inc(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') addCell(this.store, this.name, undefined, b ?? 1, a);
    else addCell(this.store, this.name, this.store.single, a ?? 1);
  }

  /** Subtract `value` (default 1) from the shared value of the metric without labels. */
  dec(value?: number): void;
  /** Subtract `value` (default 1) from the shared value of one label set. */
  dec(labels: Labels<L>, value?: number): void;
  dec(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') addCell(this.store, this.name, undefined, b ?? 1, a, -1);
    else addCell(this.store, this.name, this.store.single, a ?? 1, undefined, -1);
  }

  /** Set to the current Unix time in seconds. */
  setToCurrentTime(labels?: Labels<L>): void {
    const cell = labels === undefined ? this.store.single : this.store.fromObject(labels);
    setCell(this.store, this.name, cell, Date.now() / 1000);
  }

  /** The child for one label set. */
  labels(labels: Labels<L>): CommonGaugeChild;
  labels(...values: LabelValue[]): CommonGaugeChild;
  labels(...args: unknown[]): CommonGaugeChild {
    return new CommonGaugeChild(this.cellOf(args), this.store, this.name);
  }
}
