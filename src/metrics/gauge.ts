import { GaugeCell, KIND_GAUGE } from '../buffer/cells.js';
import type { LabelValue, SeriesStore } from '../buffer/series-store.js';
import { Metric, type Labels, type MetricOptions } from './metric.js';
import { startTimer, type EndTimer } from './timer.js';
import { badValue } from './validate.js';

/** Options of a per-process `Gauge`. */
export type GaugeOptions<L extends string = string> = MetricOptions<L>;

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

  set(value: number): void {
    setCell(this.#store, this.#metric, this.#cell, value);
  }
  inc(value = 1): void {
    addCell(this.#store, this.#metric, this.#cell, value);
  }
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
 * A value per process — queue depth, memory, connections. Each process's series are exported with
 * a `gauge_index` label: a small number unique among live processes and reused once a process is
 * gone. The flusher keeps a live process's values fresh; a process that dies stops being exported
 * after the registry's `expireSeconds`. For one value shared by all processes use `CommonGauge`.
 */
export class Gauge<L extends string = string> extends Metric<L, GaugeCell> {
  constructor(options: GaugeOptions<L>) {
    super(options, {
      kind: 'gauge',
      cellKind: KIND_GAUGE,
      create: (key) => new GaugeCell(key),
      reserved: ['gauge_index'],
    });
  }

  set(value: number): void;
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') setCell(this.store, this.name, undefined, b as number, a);
    else setCell(this.store, this.name, this.store.single, a);
  }

  inc(value?: number): void;
  inc(labels: Labels<L>, value?: number): void;
  inc(a?: Labels<L> | number, b?: number): void {
    if (typeof a === 'object') addCell(this.store, this.name, undefined, b ?? 1, a);
    else addCell(this.store, this.name, this.store.single, a ?? 1);
  }

  dec(value?: number): void;
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
