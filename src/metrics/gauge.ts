import { performance } from 'node:perf_hooks';
import { GaugeCell } from '../buffer/cells.js';
import type { LabelValue, SeriesStore } from '../buffer/series-store.js';
import { GAUGE_AGGREGATES, type GaugeAggregate } from '../core/family.js';
import { Metric, type Labels, type MetricOptions } from './metric.js';
import { startTimer, type EndTimer } from './timer.js';
import { badValue, describeValue } from '../core/validate.js';

/** Options of a per-process `Gauge`. */
export interface GaugeOptions<L extends string = string> extends MetricOptions<L> {
  /**
   * How the values of the live processes are exported. `all`: one series per process, labelled
   * `gauge_index`. `sum`, `min`, `max`, `avg`: one series per label set, merged over the live
   * processes that hold it. `last`: the value written most recently (`set`, `inc` and `dec` are
   * writes), ordered by the Redis server's clock. A process that stops flushing leaves every mode
   * after the registry's `expireSeconds`. Every process must declare the same mode for a metric.
   * @default "all"
   */
  readonly aggregate?: GaugeAggregate;
}

function validateAggregate(metric: unknown, aggregate: unknown): GaugeAggregate {
  if (aggregate === undefined) return 'all';
  if (typeof aggregate !== 'string' || !GAUGE_AGGREGATES.includes(aggregate as GaugeAggregate)) {
    throw new TypeError(
      `Metric "${String(metric)}": expected \`aggregate\` to be one of ${GAUGE_AGGREGATES.map((a) => `"${a}"`).join(', ')}, got ${describeValue(aggregate)}`,
    );
  }
  return aggregate as GaugeAggregate;
}

function setCell(
  store: SeriesStore<GaugeCell>,
  metric: string,
  target: GaugeCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'value', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  cell.v = value;
  if (cell.t >= 0) cell.t = performance.now(); // `last` gauges only
  if (!cell.d) store.touch(cell);
}

function addCell(
  store: SeriesStore<GaugeCell>,
  metric: string,
  target: GaugeCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
  sign = 1,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'amount', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  const next = cell.v + sign * value;
  if (next - next !== 0) badValue(metric, 'resulting value', next);
  cell.v = next;
  if (cell.t >= 0) cell.t = performance.now(); // `last` gauges only
  if (!cell.d) store.touch(cell);
}

/** A per-process gauge bound to one label set. */
export class GaugeChild {
  readonly #cell: GaugeCell;
  readonly #store: SeriesStore<GaugeCell>;
  readonly #metric: string;

  /** @internal */
  constructor(cell: GaugeCell, store: SeriesStore<GaugeCell>, metric: string) {
    this.#cell = cell;
    this.#store = store;
    this.#metric = metric;
  }

  /** Set this process's value. Throws for a non-finite value. */
  set(value: number): void {
    setCell(this.#store, this.#metric, this.#cell, value);
  }
  /** Add `value` (default 1) to this process's value. */
  inc(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value);
  }
  /** Subtract `value` (default 1) from this process's value. */
  dec(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value, undefined, -1);
  }
  /** Set to the current Unix time in seconds. */
  setToCurrentTime(): void {
    setCell(this.#store, this.#metric, this.#cell, Date.now() / 1000);
  }
  /** Start a timer; calling the result sets the gauge to the elapsed seconds. */
  startTimer(): () => number {
    return startTimer((s) => this.set(s), undefined);
  }
}

/**
 * A value per process — queue depth, memory, connections. By default each process's series are
 * exported with a `gauge_index` label: a small number unique among live processes and reused once
 * a process is gone. With `aggregate` (`sum`, `min`, `max`, `avg`, `last`) the live processes'
 * values are merged at scrape time into one series per label set instead. The flusher keeps a
 * live process's values fresh; a process that dies stops being exported (and counted) after the
 * registry's `expireSeconds`. For one value shared by all processes use `CommonGauge`.
 */
export class Gauge<L extends string = string> extends Metric<L, GaugeCell> {
  /** How live processes' values are exported (see `GaugeOptions.aggregate`). */
  readonly aggregate: GaugeAggregate;

  constructor(options: GaugeOptions<L>) {
    const aggregate = validateAggregate(options?.name, options?.aggregate);
    super(options, {
      kind: 'gauge',
      create: (key) => new GaugeCell(key, aggregate === 'last'),
      reserved: ['gauge_index'],
      ...(aggregate === 'all' ? {} : { extra: { aggregate } }),
    });
    this.aggregate = aggregate;
  }

  /** Set this process's value of the metric without labels. Throws for a non-finite value. */
  set(value: number): void;
  /** Set this process's value of one label set. Throws for a non-finite value. */
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') setCell(this.store, this.name, undefined, b as number, a);
    else setCell(this.store, this.name, this.store.single, a);
  }

  /** Add `value` (default 1) to this process's value of the metric without labels. */
  inc(value?: number): void;
  /** Add `value` (default 1) to this process's value of one label set. */
  inc(labels: Labels<L>, value?: number): void;
  inc(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') addCell(this.store, this.name, undefined, b ?? 1, a);
    else addCell(this.store, this.name, this.store.single, a ?? 1);
  }

  /** Subtract `value` (default 1) from this process's value of the metric without labels. */
  dec(value?: number): void;
  /** Subtract `value` (default 1) from this process's value of one label set. */
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

  /** Start a timer; the returned function sets the gauge to the elapsed seconds. */
  startTimer(labels?: Partial<Labels<L>>): EndTimer<L> {
    return startTimer<L>((s, l) => (l === undefined ? this.set(s) : this.set(l as Labels<L>, s)), labels);
  }

  /** The child for one label set. */
  labels(labels: Labels<L>): GaugeChild;
  labels(...values: LabelValue[]): GaugeChild;
  labels(...args: unknown[]): GaugeChild {
    return new GaugeChild(this.cellOf(args), this.store, this.name);
  }
}
