import { slotOf } from './buffer/buckets.js';
import { AddCell, GaugeCell, HistogramCell, type Cell } from './buffer/cells.js';
import type { SeriesStore } from './buffer/series-store.js';
import type { FamilyMeta } from './core/family.js';
import { LAYOUT_VERSION } from './core/version.js';
import type { FlushObserver, FlushOutcome } from './flush/observer.js';

type Register = <C extends Cell>(meta: FamilyMeta, create: (key: string) => C) => SeriesStore<C>;

const PREFIX = 'prometheus_redis_client_';
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SERIES_BUCKETS = [1, 10, 100, 1000, 10_000, 100_000];
const DURATION_BOUNDS = new Float64Array(DURATION_BUCKETS);
const SERIES_BOUNDS = new Float64Array(SERIES_BUCKETS);

function meta(
  name: string,
  kind: FamilyMeta['kind'],
  help: string,
  extra: Partial<FamilyMeta> = {},
): FamilyMeta {
  return { v: LAYOUT_VERSION, name: PREFIX + name, kind, help, labelNames: [], ...extra };
}

function add(store: SeriesStore<AddCell>, cell: AddCell, value: number): void {
  cell.v += value;
  if (!cell.d) store.touch(cell);
}

/**
 * The library's own metrics, recorded into the same buffer as the application's and exported the
 * same way (merged over processes; the two gauges per process). They ride along with flushes and
 * never cause one. Names start with `prometheus_redis_client_`.
 */
export class SelfMetrics implements FlushObserver {
  readonly #flushes: SeriesStore<AddCell>;
  readonly #duration: SeriesStore<HistogramCell>;
  readonly #series: SeriesStore<HistogramCell>;
  readonly #retries: SeriesStore<AddCell>;
  readonly #dropped: SeriesStore<AddCell>;
  readonly #buffered: SeriesStore<GaugeCell>;
  readonly #lastFlush: SeriesStore<GaugeCell>;
  readonly #droppedSeen = new Map<SeriesStore, number>();

  constructor(register: Register) {
    this.#flushes = register(
      meta(
        'flushes',
        'counter',
        'Flush attempts by outcome (success, duplicate, error, timeout, unavailable).',
        {
          labelNames: ['outcome'],
        },
      ),
      (key) => new AddCell(key),
    );
    this.#duration = register(
      meta('flush_duration_seconds', 'histogram', 'Duration of acknowledged flushes (one round trip each).', {
        buckets: DURATION_BUCKETS,
      }),
      (key) => new HistogramCell(key, DURATION_BUCKETS.length + 1),
    );
    this.#series = register(
      meta('flush_series', 'histogram', 'Series carried by each acknowledged flush.', {
        buckets: SERIES_BUCKETS,
      }),
      (key) => new HistogramCell(key, SERIES_BUCKETS.length + 1),
    );
    this.#retries = register(
      meta('flush_retries', 'counter', 'Batches sent again after an unknown outcome (same token).'),
      (key) => new AddCell(key),
    );
    this.#dropped = register(
      meta('dropped_series', 'counter', 'Label sets refused by maxSeriesPerMetric, by metric.', {
        labelNames: ['metric'],
      }),
      (key) => new AddCell(key),
    );
    this.#buffered = register(
      meta('buffered_series', 'gauge', 'Series recorded in this process and not yet acknowledged by Redis.'),
      (key) => new GaugeCell(key),
    );
    this.#lastFlush = register(
      meta(
        'last_flush_timestamp_seconds',
        'gauge',
        'Unix time of the last acknowledged flush of this process.',
      ),
      (key) => new GaugeCell(key),
    );
  }

  /** Record a flush attempt's outcome. */
  flushed(outcome: FlushOutcome, seconds: number, series: number): void {
    add(this.#flushes, this.#flushes.fromValues([outcome]), 1);
    if (outcome !== 'success' && outcome !== 'duplicate') return;
    this.#observe(this.#duration, DURATION_BOUNDS, seconds);
    this.#observe(this.#series, SERIES_BOUNDS, series);
    this.#set(this.#lastFlush, Date.now() / 1000);
  }

  retried(): void {
    add(this.#retries, this.#retries.single, 1);
  }

  /** Refresh the values read from the registry's state (called before each flush). */
  sample(undelivered: number, stores: Iterable<SeriesStore>): void {
    this.#set(this.#buffered, undelivered);
    for (const store of stores) {
      const seen = this.#droppedSeen.get(store) ?? 0;
      if (store.dropped > seen) {
        add(this.#dropped, this.#dropped.fromValues([store.meta.name]), store.dropped - seen);
        this.#droppedSeen.set(store, store.dropped);
      }
    }
  }

  #observe(store: SeriesStore<HistogramCell>, bounds: Float64Array, value: number): void {
    const cell = store.single;
    cell.counts[slotOf(bounds, value)]! += 1;
    cell.sum += value;
    if (!cell.d) store.touch(cell);
  }

  #set(store: SeriesStore<GaugeCell>, value: number): void {
    const cell = store.single;
    if (cell.v === value) return;
    cell.v = value;
    if (!cell.d) store.touch(cell);
  }
}
