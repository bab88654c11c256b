import { KIND_SUMMARY, SummaryCell } from '../buffer/cells.js';
import type { LabelValue, SeriesStore } from '../buffer/series-store.js';
import { Metric, type Labels, type MetricOptions } from './metric.js';
import { startTimer, timeit, type EndTimer } from './timer.js';
import { badValue } from './validate.js';

/** Options of a `Summary`. */
export type SummaryOptions<L extends string = string> = MetricOptions<L>;

function observeCell(
  store: SeriesStore<SummaryCell>,
  metric: string,
  target: SummaryCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'observed value', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  cell.n += 1;
  cell.sum += value;
  if (!cell.d) store.touch(cell);
}

/** A summary bound to one label set. */
export class SummaryChild {
  readonly #cell: SummaryCell;
  readonly #store: SeriesStore<SummaryCell>;
  readonly #metric: string;

  /** @internal */
  constructor(cell: SummaryCell, store: SeriesStore<SummaryCell>, metric: string) {
    this.#cell = cell;
    this.#store = store;
    this.#metric = metric;
  }

  /** Record one observation (any finite number). */
  observe(value: number): void {
    observeCell(this.#store, this.#metric, this.#cell, value);
  }

  /** Start a timer; calling the result observes the elapsed seconds. */
  startTimer(): () => number {
    return startTimer((s) => this.observe(s), undefined);
  }

  /** Wrap `fn` so each call observes its duration in seconds. */
  timeit<A extends unknown[], R, T>(fn: (this: T, ...args: A) => R): (this: T, ...args: A) => R {
    return timeit(fn, (s) => this.observe(s));
  }
}

/**
 * `_count` and `_sum` of observations, merged over every process. (Summing per-process quantiles
 * would be wrong, so none are exported here.)
 */
export class Summary<L extends string = string> extends Metric<L, SummaryCell> {
  constructor(options: SummaryOptions<L>) {
    super(options, {
      kind: 'summary',
      cellKind: KIND_SUMMARY,
      create: (key) => new SummaryCell(key),
      reserved: ['quantile'],
    });
  }

  /** Record one observation. */
  observe(value: number): void;
  observe(labels: Labels<L>, value: number): void;
  observe(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') observeCell(this.store, this.name, undefined, b as number, a);
    else observeCell(this.store, this.name, this.store.single, a);
  }

  /** Start a timer; the returned function observes the elapsed seconds. */
  startTimer(labels?: Partial<Labels<L>>): EndTimer<L> {
    return startTimer<L>(
      (s, l) => (l === undefined ? this.observe(s) : this.observe(l as Labels<L>, s)),
      labels,
    );
  }

  /** Wrap `fn` so each call observes its duration in seconds under `labels`. */
  timeit<A extends unknown[], R, T>(
    fn: (this: T, ...args: A) => R,
    labels?: Labels<L>,
  ): (this: T, ...args: A) => R {
    const child = labels === undefined ? this.labels() : this.labels(labels);
    return child.timeit(fn);
  }

  /** The child for one label set. */
  labels(labels: Labels<L>): SummaryChild;
  labels(...values: LabelValue[]): SummaryChild;
  labels(...args: unknown[]): SummaryChild {
    return new SummaryChild(this.cellOf(args), this.store, this.name);
  }
}
