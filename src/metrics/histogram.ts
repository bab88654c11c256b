/**
 * Histogram: observations counted into buckets, merged over every process, and its bound child;
 * plus the bucket helpers (`DEFAULT_BUCKETS`, `linearBuckets`, `exponentialBuckets`). Timers come
 * from TimedMetric (timed.ts), which Summary and the gauges share.
 */
import { performance } from 'node:perf_hooks';
import { slotOf } from '../buffer/buckets.js';
import { HistogramCell } from '../buffer/cells.js';
import { keepExemplar } from '../buffer/exemplars.js';
import type { SeriesStore } from '../buffer/series-store.js';
import { renderExemplarLabels, type ExemplarLabels } from './exemplar.js';
import type { Labels, MetricOptions } from './metric.js';
import { BoundTimed, TimedMetric, type TimedChild } from './timed.js';
import { badValue, validateBoolean, validateBuckets } from '../core/validate.js';

/** prom-client's default buckets (seconds), so dashboards built for it keep working. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** `count` buckets starting at `start`, each `width` wider. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isFinite(start) || !(width > 0) || !Number.isInteger(count) || count < 1) {
    throw new RangeError(`linearBuckets(start, width > 0, count >= 1), got (${start}, ${width}, ${count})`);
  }
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** `count` buckets starting at `start`, each `factor` times the previous. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !(factor > 1) || !Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `exponentialBuckets(start > 0, factor > 1, count >= 1), got (${start}, ${factor}, ${count})`,
    );
  }
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** Options of a `Histogram`. */
/** prom-client's object form of `observe()`. */
export interface Observation<L extends string = string> {
  /** The observed value. */
  readonly value: number;
  /** The series; omitted for a histogram without labels. */
  readonly labels?: Labels<L>;
  /** An exemplar for the observation's bucket, as the positional `exemplar` argument. */
  readonly exemplarLabels?: ExemplarLabels;
}

export interface HistogramOptions<L extends string = string> extends MetricOptions<L> {
  /**
   * prom-client's switch for exemplars. Here a histogram always takes them (positionally or in
   * the object form); accepted so that ported options compile, and changes nothing.
   */
  readonly enableExemplars?: boolean;
  /** See `MetricOptions.collect`: `this` is the metric. */
  readonly collect?: (this: Histogram<L>) => void | Promise<void>;
  /**
   * Upper bounds of the buckets; `+Inf` is always added.
   * @default DEFAULT_BUCKETS
   */
  readonly buckets?: readonly number[];
}

function observeCell(
  store: SeriesStore<HistogramCell>,
  metric: string,
  bounds: Float64Array,
  target: HistogramCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
  exemplar?: ExemplarLabels,
): void {
  if (typeof value !== 'number' || value - value !== 0) badValue(metric, 'observed value', value);
  // Only calls that pass an exemplar take this branch; the plain hot path stays as it was.
  if (exemplar !== undefined) {
    observeWithExemplar(store, metric, bounds, target, value, labels, exemplar);
    return;
  }
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  cell.counts[slotOf(bounds, value)]! += 1;
  cell.sum += value;
  if (!cell.d) store.touch(cell);
}

function observeWithExemplar(
  store: SeriesStore<HistogramCell>,
  metric: string,
  bounds: Float64Array,
  target: HistogramCell | undefined,
  value: number,
  labels: Readonly<Record<string, unknown>> | undefined,
  exemplar: ExemplarLabels,
): void {
  // Validated before anything is written: a rejected exemplar rejects the whole observation.
  const rendered = renderExemplarLabels(metric, exemplar);
  const cell = target ?? store.fromObject(labels!);
  const slot = slotOf(bounds, value);
  cell.counts[slot]! += 1;
  cell.sum += value;
  keepExemplar((cell.ex ??= []), slot, value, rendered, performance.now());
  if (!cell.d) store.touch(cell);
}

/** A histogram bound to one label set. Get one from `Histogram.labels()`. */
export interface HistogramChild<L extends string = string> extends TimedChild<L> {
  /**
   * Record one observation (any finite number), optionally with an exemplar: the latest one per
   * bucket is kept and exposed in OpenMetrics output.
   */
  observe(value: number, exemplar?: ExemplarLabels): void;
  /**
   * @internal Add pre-bucketed counts (one per slot, the last `+Inf`) and their sum at once, for
   * sources that only provide a distribution (the event-loop delay histogram).
   */
  addBuckets(counts: readonly number[], sum: number): void;
}

class BoundHistogram<L extends string> extends BoundTimed<L> implements HistogramChild<L> {
  readonly #cell: HistogramCell;
  readonly #store: SeriesStore<HistogramCell>;
  readonly #metric: string;
  readonly #bounds: Float64Array;

  constructor(
    parent: Histogram<L>,
    args: readonly unknown[],
    cell: HistogramCell,
    store: SeriesStore<HistogramCell>,
    bounds: Float64Array,
  ) {
    super(parent, args);
    this.#cell = cell;
    this.#store = store;
    this.#metric = parent.name;
    this.#bounds = bounds;
  }

  observe(value: number, exemplar?: ExemplarLabels): void {
    observeCell(this.#store, this.#metric, this.#bounds, this.#cell, value, undefined, exemplar);
  }

  addBuckets(counts: readonly number[], sum: number): void {
    const cell = this.#cell;
    let total = 0;
    for (let i = 0; i < cell.counts.length; i++) {
      const n = counts[i] ?? 0;
      if (!(n >= 0) || !Number.isInteger(n)) badValue(this.#metric, 'bucket count', n);
      total += n;
    }
    if (sum - sum !== 0) badValue(this.#metric, 'sum', sum);
    if (total === 0) return;
    for (let i = 0; i < cell.counts.length; i++) cell.counts[i]! += counts[i] ?? 0;
    cell.sum += sum;
    if (!cell.d) this.#store.touch(cell);
  }

  protected recordSeconds(seconds: number): void {
    this.observe(seconds);
  }
}

/**
 * Counts observations into buckets, merged over every process: `_bucket{le}` (cumulative,
 * numeric order, always with `+Inf`), `_sum` and `_count`.
 */
export class Histogram<L extends string = string> extends TimedMetric<L, HistogramChild<L>> {
  /** Bucket upper bounds, ascending, without `+Inf`. */
  readonly buckets: readonly number[];
  /** The same bounds as a typed array: the hot path scans these. */
  readonly #bounds: Float64Array;
  /** @internal */
  declare protected readonly store: SeriesStore<HistogramCell>;

  constructor(options: HistogramOptions<L>) {
    if (options?.enableExemplars !== undefined) validateBoolean('enableExemplars', options.enableExemplars);
    const buckets =
      options?.buckets === undefined
        ? DEFAULT_BUCKETS
        : validateBuckets(String(options.name), options.buckets);
    super(options, {
      kind: 'histogram',
      create: (key) => new HistogramCell(key, buckets.length + 1),
      reserved: ['le'],
      extra: { buckets },
    });
    this.buckets = buckets;
    this.#bounds = new Float64Array(buckets);
  }

  /**
   * Record one observation, optionally with an exemplar (`{ traceId, ...labels }`): the latest
   * exemplar per bucket, across all processes, is exposed in OpenMetrics output. prom-client's
   * object form, `observe({ value, labels, exemplarLabels })`, is accepted too.
   */
  observe(value: number, exemplar?: ExemplarLabels): void;
  observe(labels: Labels<L>, value: number, exemplar?: ExemplarLabels): void;
  observe(observation: Observation<L>): void;
  observe(a: Labels<L> | Observation<L> | number, b?: number | ExemplarLabels, c?: ExemplarLabels): void {
    if (typeof a === 'object') {
      if (b === undefined && a !== null) {
        // One object: prom-client's { value, labels?, exemplarLabels? }.
        const { value, labels, exemplarLabels } = a as Observation<L>;
        const target = labels === undefined ? this.store.single : undefined;
        // No labels on a histogram that has some: the label check names what is missing.
        const named = target === undefined ? (labels ?? {}) : undefined;
        observeCell(this.store, this.name, this.#bounds, target, value, named, exemplarLabels);
        return;
      }
      observeCell(this.store, this.name, this.#bounds, undefined, b as number, a as Labels<L>, c);
    } else {
      observeCell(this.store, this.name, this.#bounds, this.store.single, a, undefined, b as ExemplarLabels);
    }
  }

  /**
   * Create the series of `labels` now, exported with zero counts until it is observed (prom-client's
   * `zero()`): so that a rate over it exists from the start. The same as calling `labels(...)`.
   */
  zero(labels: Labels<L>): void {
    this.labels(labels);
  }

  /** @internal A timer observes the elapsed seconds. */
  recordSeconds(seconds: number, labels: Labels<L> | undefined): void {
    if (labels === undefined) this.observe(seconds);
    else this.observe(labels, seconds);
  }

  /** @internal */
  protected child(cell: HistogramCell, args: readonly unknown[]): HistogramChild<L> {
    return new BoundHistogram(this, args, cell, this.store, this.#bounds);
  }
}
