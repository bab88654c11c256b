/**
 * Summary: `_count` and `_sum` merged over every process and, with `percentiles`, sliding-window
 * quantiles from a shared sketch; its bound child; and the validation of its quantile options.
 * Timers come from TimedMetric (timed.ts), which Histogram and the gauges share.
 */
import { SummaryCell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import type { Labels, MetricOptions } from './metric.js';
import { BoundTimed, TimedMetric, type TimedChild } from './timed.js';
import type { FamilyMeta } from '../core/family.js';
import { badValue, describeValue } from '../core/validate.js';

/** Options of a `Summary`. */
export interface SummaryOptions<L extends string = string> extends MetricOptions<L> {
  /** See `MetricOptions.collect`: `this` is the metric. */
  readonly collect?: (this: Summary<L>) => void | Promise<void>;
  /**
   * Quantiles to export (each from 0 to 1, e.g. `[0.5, 0.9, 0.99]`), merged over every process:
   * each reported value is within 0.5% relative error of the exact quantile of all the
   * observations of the last `maxAgeSeconds`. Without it (or with `[]`) the summary exports only
   * `_sum` and `_count`.
   * @default []
   */
  readonly percentiles?: readonly number[];
  /**
   * With `percentiles`: the sliding window quantiles are computed over, in seconds (whole seconds).
   * @default 600
   */
  readonly maxAgeSeconds?: number;
  /**
   * With `percentiles`: how many time slots the window is kept in. Observations leave the window
   * one slot (`maxAgeSeconds / ageBuckets`) at a time. From 1 to 100, at most `maxAgeSeconds`.
   * @default 5
   */
  readonly ageBuckets?: number;
}

/** What a summary adds to its family's metadata: nothing, or its quantile configuration. */
function quantileMeta(
  metric: string,
  options: Pick<SummaryOptions, 'percentiles' | 'maxAgeSeconds' | 'ageBuckets'>,
): Pick<FamilyMeta, 'percentiles' | 'maxAgeSeconds' | 'ageBuckets'> {
  const { percentiles, maxAgeSeconds = 600, ageBuckets = 5 } = options;
  if (percentiles !== undefined && !Array.isArray(percentiles)) {
    throw new TypeError(
      `Metric "${metric}": expected \`percentiles\` to be an array of numbers from 0 to 1, got ${describeValue(percentiles)}`,
    );
  }
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1) {
    throw new RangeError(
      `Metric "${metric}": expected \`maxAgeSeconds\` to be an integer from 1 and up, got ${describeValue(maxAgeSeconds)}`,
    );
  }
  if (!Number.isInteger(ageBuckets) || ageBuckets < 1 || ageBuckets > Math.min(100, maxAgeSeconds)) {
    throw new RangeError(
      `Metric "${metric}": expected \`ageBuckets\` to be an integer from 1 to ${Math.min(100, maxAgeSeconds)} (at most 100 and at most \`maxAgeSeconds\`), got ${describeValue(ageBuckets)}`,
    );
  }
  if (percentiles === undefined || percentiles.length === 0) return {};
  const given: readonly unknown[] = percentiles;
  for (const q of given) {
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
      throw new RangeError(
        `Metric "${metric}": expected every percentile to be a number from 0 to 1, got ${describeValue(q)}`,
      );
    }
  }
  const sorted = (given as readonly number[]).map((q) => (Object.is(q, -0) ? 0 : q)).sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new RangeError(`Metric "${metric}": percentile ${sorted[i]} appears twice`);
    }
  }
  return { percentiles: Object.freeze(sorted), maxAgeSeconds, ageBuckets };
}

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
  const sketch = cell.q;
  if (sketch !== undefined) sketch.add(value);
  if (!cell.d) store.touch(cell);
}

/** A summary bound to one label set. Get one from `Summary.labels()`. */
export interface SummaryChild<L extends string = string> extends TimedChild<L> {
  /** Record one observation (any finite number). */
  observe(value: number): void;
}

class BoundSummary<L extends string> extends BoundTimed<L> implements SummaryChild<L> {
  readonly #cell: SummaryCell;
  readonly #store: SeriesStore<SummaryCell>;
  readonly #metric: string;

  constructor(
    parent: Summary<L>,
    args: readonly unknown[],
    cell: SummaryCell,
    store: SeriesStore<SummaryCell>,
  ) {
    super(parent, args);
    this.#cell = cell;
    this.#store = store;
    this.#metric = parent.name;
  }

  observe(value: number): void {
    observeCell(this.#store, this.#metric, this.#cell, value);
  }

  protected recordSeconds(seconds: number): void {
    this.observe(seconds);
  }
}

/**
 * `_count` and `_sum` of observations, merged over every process; with `percentiles`, also
 * quantiles over a sliding window, merged exactly across processes from a shared sketch
 * (src/core/sketch-mapping.ts) — never by combining per-process quantiles, which would be wrong.
 */
export class Summary<L extends string = string> extends TimedMetric<L, SummaryChild<L>> {
  /** @internal */
  declare protected readonly store: SeriesStore<SummaryCell>;

  constructor(options: SummaryOptions<L>) {
    const extra =
      typeof options === 'object' && options !== null ? quantileMeta(String(options.name), options) : {};
    const quantiles = extra.percentiles !== undefined;
    super(options, {
      kind: 'summary',
      create: (key) => new SummaryCell(key, quantiles),
      reserved: ['quantile'],
      extra,
    });
  }

  /** Record one observation. */
  observe(value: number): void;
  observe(labels: Labels<L>, value: number): void;
  observe(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') observeCell(this.store, this.name, undefined, b as number, a);
    else observeCell(this.store, this.name, this.store.single, a);
  }

  /** @internal A timer observes the elapsed seconds. */
  recordSeconds(seconds: number, labels: Labels<L> | undefined): void {
    if (labels === undefined) this.observe(seconds);
    else this.observe(labels, seconds);
  }

  /** @internal */
  protected child(cell: SummaryCell, args: readonly unknown[]): SummaryChild<L> {
    return new BoundSummary(this, args, cell, this.store);
  }
}
