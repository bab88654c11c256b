/**
 * The library's own metrics (`prometheus_redis_client_*`): flush outcomes, durations and sizes,
 * retries, dropped series, buffered series and the last flush time. They are ordinary Counter,
 * Histogram and Gauge metrics, registered as internal families: they record through the same
 * cells and stores as the application's and ride along with flushes without ever causing one.
 */
import type { SeriesStore } from './buffer/series-store.js';
import type { FlushObserver, FlushOutcome } from './flush/observer.js';
import { Counter } from './metrics/counter.js';
import type { MetricRegistry } from './metrics/default-registry.js';
import { Gauge } from './metrics/gauge.js';
import { Histogram } from './metrics/histogram.js';

const PREFIX = 'prometheus_redis_client_';
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SERIES_BUCKETS = [1, 10, 100, 1000, 10_000, 100_000];

/**
 * The library's own metrics, recorded into the same buffer as the application's and exported the
 * same way (merged over processes; the two gauges per process). They ride along with flushes and
 * never cause one. Names start with `prometheus_redis_client_`.
 */
export class SelfMetrics implements FlushObserver {
  readonly #flushes: Counter<'outcome'>;
  readonly #duration: Histogram;
  readonly #series: Histogram;
  readonly #retries: Counter;
  readonly #dropped: Counter<'metric'>;
  readonly #refused: Counter<'metric'>;
  readonly #buffered: Gauge;
  readonly #lastFlush: Gauge;
  readonly #droppedSeen = new Map<SeriesStore, number>();
  /** The value last given to `buffered_series`: an unchanged value is not written again. */
  #bufferedValue = 0;

  /** The self-metrics are internal families of `registry`, the registry they report on. */
  constructor(registry: MetricRegistry) {
    const own = { registry, internal: true } as const;
    this.#flushes = new Counter({
      name: `${PREFIX}flushes`,
      help: 'Flush attempts by outcome (success, duplicate, partial, error, timeout, unavailable).',
      labelNames: ['outcome'],
      ...own,
    });
    this.#duration = new Histogram({
      name: `${PREFIX}flush_duration_seconds`,
      help: 'Duration of acknowledged flushes (one round trip each).',
      buckets: DURATION_BUCKETS,
      ...own,
    });
    this.#series = new Histogram({
      name: `${PREFIX}flush_series`,
      help: 'Series carried by each acknowledged flush.',
      buckets: SERIES_BUCKETS,
      ...own,
    });
    this.#retries = new Counter({
      name: `${PREFIX}flush_retries`,
      help: 'Batches sent again after an unknown outcome (same token).',
      ...own,
    });
    this.#dropped = new Counter({
      name: `${PREFIX}dropped_series`,
      help: 'Label sets refused by maxSeriesPerMetric, by metric.',
      labelNames: ['metric'],
      ...own,
    });
    this.#refused = new Counter({
      name: `${PREFIX}refused_series`,
      help: 'Series dropped because Redis refused them outright (an argument past its proto-max-bulk-len), by metric.',
      labelNames: ['metric'],
      ...own,
    });
    this.#buffered = new Gauge({
      name: `${PREFIX}buffered_series`,
      help: 'Series recorded in this process and not yet acknowledged by Redis.',
      ...own,
    });
    this.#lastFlush = new Gauge({
      name: `${PREFIX}last_flush_timestamp_seconds`,
      help: 'Unix time of the last acknowledged flush of this process.',
      ...own,
    });
  }

  /** Record a flush attempt's outcome. */
  flushed(outcome: FlushOutcome, seconds: number, series: number): void {
    this.#flushes.inc({ outcome });
    if (outcome !== 'success' && outcome !== 'duplicate' && outcome !== 'partial') return;
    this.#duration.observe(seconds);
    this.#series.observe(series);
    this.#lastFlush.set(Date.now() / 1000);
  }

  retried(): void {
    this.#retries.inc();
  }

  refused(metric: string): void {
    this.#refused.inc({ metric });
  }

  /** Refresh the values read from the registry's state (called before each flush). */
  sample(undelivered: number, stores: Iterable<SeriesStore>): void {
    // Unchanged, it is not marked for the next flush (the per-process gauge refresh rewrites it).
    if (undelivered !== this.#bufferedValue) {
      this.#bufferedValue = undelivered;
      this.#buffered.set(undelivered);
    }
    for (const store of stores) {
      const seen = this.#droppedSeen.get(store) ?? 0;
      if (store.dropped > seen) {
        this.#dropped.inc({ metric: store.meta.name }, store.dropped - seen);
        this.#droppedSeen.set(store, store.dropped);
      }
    }
  }
}
