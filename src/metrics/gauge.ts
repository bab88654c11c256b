/**
 * Gauge: a value per process (exported per `gauge_index`, or merged by `aggregate`), and its
 * bound child. The per-process cell write and its validation live here; the methods users call
 * come from GaugeLike (gauge-like.ts), which CommonGauge shares.
 */
import { performance } from 'node:perf_hooks';
import { GaugeCell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import { GAUGE_AGGREGATES, type GaugeAggregate } from '../core/family.js';
import { BoundGaugeLike, GaugeLike, type GaugeLikeChild } from './gauge-like.js';
import type { Labels, MetricOptions } from './metric.js';
import { badValue, describeValue } from '../core/validate.js';

/** Options of a per-process `Gauge`. */
export interface GaugeOptions<L extends string = string> extends MetricOptions<L> {
  /** See `MetricOptions.collect`: `this` is the metric. */
  readonly collect?: (this: Gauge<L>) => void | Promise<void>;
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

/** A per-process gauge bound to one label set. Get one from `Gauge.labels()`. */
export interface GaugeChild<L extends string = string> extends GaugeLikeChild<L> {
  /** Set this process's value. Throws for a non-finite value. */
  set(value: number): void;
  /** Add `value` (default 1) to this process's value. */
  inc(value?: number): void;
  /** Subtract `value` (default 1) from this process's value. */
  dec(value?: number): void;
}

class BoundGauge<L extends string> extends BoundGaugeLike<L> implements GaugeChild<L> {
  readonly #cell: GaugeCell;
  readonly #store: SeriesStore<GaugeCell>;
  readonly #metric: string;

  constructor(parent: Gauge<L>, args: readonly unknown[], cell: GaugeCell, store: SeriesStore<GaugeCell>) {
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
 * A value per process — queue depth, memory, connections. By default each process's series are
 * exported with a `gauge_index` label: a small number unique among live processes and reused once
 * a process is gone. With `aggregate` (`sum`, `min`, `max`, `avg`, `last`) the live processes'
 * values are merged at scrape time into one series per label set instead. The flusher keeps a
 * live process's values fresh; a process that dies stops being exported (and counted) after the
 * registry's `expireSeconds`. For one value shared by all processes use `CommonGauge`.
 */
export class Gauge<L extends string = string> extends GaugeLike<L, GaugeChild<L>> {
  /** How live processes' values are exported (see `GaugeOptions.aggregate`). */
  readonly aggregate: GaugeAggregate;
  /** @internal */
  declare protected readonly store: SeriesStore<GaugeCell>;

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

  /** @internal */
  protected write(target: GaugeCell | undefined, value: number, labels?: Labels): void {
    setCell(this.store, this.name, target, value, labels);
  }

  /** @internal */
  protected add(
    target: GaugeCell | undefined,
    value: number,
    labels: Labels | undefined,
    sign: number,
  ): void {
    addCell(this.store, this.name, target, value, labels, sign);
  }

  /** @internal */
  protected child(cell: GaugeCell, args: readonly unknown[]): GaugeChild<L> {
    return new BoundGauge(this, args, cell, this.store);
  }
}
