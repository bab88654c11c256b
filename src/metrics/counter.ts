/**
 * Counter: a monotonically increasing total summed over every process, and its bound child
 * (the cheapest way to record). Validation of increments and totals lives here.
 */
import { AddCell } from '../buffer/cells.js';
import type { SeriesStore } from '../buffer/series-store.js';
import { writeAbsolute, writeDelta } from './add-cell.js';
import { Metric, type Labels, type MetricOptions } from './metric.js';
import { badIncrement, validateBoolean } from '../core/validate.js';

/** Options of a `Counter`. */
export interface CounterOptions<L extends string = string> extends MetricOptions<L> {
  /** See `MetricOptions.collect`: `this` is the metric. */
  readonly collect?: (this: Counter<L>) => void | Promise<void>;
  /**
   * prom-client's counter exemplars are not supported: `true` throws, naming the alternative
   * (exemplars on a Histogram). `false` is accepted.
   */
  readonly enableExemplars?: boolean;
}

function add(
  store: SeriesStore<AddCell>,
  metric: string,
  target: AddCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
): void {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity)
    badIncrement(metric, 'increment', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  const cell = target ?? store.fromObject(labels!);
  const next = cell.v + value;
  if (next === Infinity) overflow(metric, value);
  writeDelta(store, cell, next);
}

/** An increment that would make the buffered delta infinite: refused, nothing recorded. */
function overflow(metric: string, value: number): never {
  throw new RangeError(
    `Metric "${metric}": increment ${value} would overflow the counter (beyond ${Number.MAX_VALUE})`,
  );
}

function setTotal(
  store: SeriesStore<AddCell>,
  metric: string,
  target: AddCell | undefined,
  value: number,
  labels?: Readonly<Record<string, unknown>>,
): void {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity) badIncrement(metric, 'value', value);
  // Validate before the lookup: a rejected call must not create the series it names.
  writeAbsolute(store, target ?? store.fromObject(labels!), value);
}

/** A counter bound to one label set: the cheapest way to record. Get one from `Counter.labels()`. */
export interface CounterChild {
  /** Add `value` (default 1, must be finite and >= 0). */
  inc(value?: number): void;
  /** Set the counter's total for all processes (see `Counter.set`). */
  set(value: number): void;
}

class BoundCounter implements CounterChild {
  readonly #cell: AddCell;
  readonly #store: SeriesStore<AddCell>;
  readonly #metric: string;

  constructor(cell: AddCell, store: SeriesStore<AddCell>, metric: string) {
    this.#cell = cell;
    this.#store = store;
    this.#metric = metric;
  }

  inc(value?: number): void {
    // The hot path, written out: no call between the child and its cell.
    const cell = this.#cell;
    if (value === undefined) cell.v += 1;
    else {
      if (typeof value !== 'number' || !(value >= 0) || value === Infinity) {
        badIncrement(this.#metric, 'increment', value);
      }
      if (cell.v + value === Infinity) overflow(this.#metric, value);
      cell.v += value;
    }
    if (!cell.d) this.#store.touch(cell);
  }

  set(value: number): void {
    setTotal(this.#store, this.#metric, this.#cell, value);
  }
}

/**
 * A monotonically increasing total, summed over every process. Exposed as `<name>_total`;
 * a name given with `_total` is stored without it, as in the official clients.
 *
 * ```ts
 * const requests = new Counter({ name: 'http_requests_total', help: 'Requests', labelNames: ['route'] });
 * requests.inc({ route: '/a' });
 * const a = requests.labels('/a'); a.inc();
 * ```
 */
export class Counter<L extends string = string> extends Metric<L, CounterChild> {
  /** @internal */
  declare protected readonly store: SeriesStore<AddCell>;

  constructor(options: CounterOptions<L>) {
    if (
      options?.enableExemplars !== undefined &&
      validateBoolean('enableExemplars', options.enableExemplars)
    ) {
      throw new TypeError(
        `Metric "${String(options.name)}": counters take no exemplars here (\`enableExemplars\`); record them on a Histogram: observe(value, { traceId })`,
      );
    }
    super(options, {
      kind: 'counter',
      create: (key) => new AddCell(key),
      familyName: (name) => (name.endsWith('_total') && name !== '_total' ? name.slice(0, -6) : name),
    });
  }

  /** Add 1, or `value`, to the series of `labels` (no labels only when the counter has none). */
  inc(value?: number): void;
  inc(labels: Labels<L>, value?: number): void;
  inc(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') add(this.store, this.name, undefined, b === undefined ? 1 : b, a);
    else add(this.store, this.name, this.store.single, a === undefined ? 1 : a);
  }

  /**
   * Set the total to an absolute value for every process, as the Python original allows.
   * The last flush to reach Redis wins; increments recorded after the `set()` in this process are
   * added on top. Prefer `inc()`: concurrent `set()`s from several processes overwrite each other.
   */
  set(value: number): void;
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') setTotal(this.store, this.name, undefined, b as number, a);
    else setTotal(this.store, this.name, this.store.single, a);
  }

  /** @internal */
  protected child(cell: AddCell): CounterChild {
    return new BoundCounter(cell, this.store, this.name);
  }
}
