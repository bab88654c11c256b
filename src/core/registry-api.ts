/**
 * The public face of a registry, in the bottom layer: what users call on a `Registry` (and on
 * `metric.registry`), with the option and stats types those calls take. registry.ts implements
 * it; metrics/ and the HTTP handler see registries through it, without importing registry.ts.
 */
import type { Cluster, Redis } from 'ioredis';

/** `text` (Prometheus text format 0.0.4) or `openmetrics` (OpenMetrics 1.0). */
export type ExpositionFormat = 'text' | 'openmetrics';

/** Options of `registry.close()`. */
export interface CloseOptions {
  /**
   * Leave this process's per-process gauges in Redis until `expireSeconds` after its last flush
   * (as a crashed process's), instead of removing them and freeing its gauge index now. For a
   * short job whose last gauge values should still be scraped after it exits.
   * @default false
   */
  readonly keepGauges?: boolean;
}

/** Options of `registry.metrics()`. */
export interface MetricsOptions {
  /**
   * `text` (Prometheus 0.0.4) or `openmetrics` (OpenMetrics 1.0).
   * @default "text"
   */
  readonly format?: ExpositionFormat;
  /**
   * OpenMetrics only: the `_created` sample of every counter, histogram and summary series (its
   * creation time). Prometheus stores each as a series of its own unless
   * `created_timestamp_zero_ingestion` is on; `false` leaves them out (prom-client emits none).
   * @default true
   */
  readonly created?: boolean;
}

/** Counters the flusher keeps about itself (exported as self-metrics by the registry). */
export interface FlushStats {
  /** Flushes Redis acknowledged. */
  ok: number;
  /** Flush attempts that failed or timed out (their deltas were kept and retried). */
  failed: number;
  /** Batches re-sent after an unknown outcome. */
  retries: number;
  /** Retried batches Redis had already applied (the reply had been lost). */
  duplicates: number;
  /** Series carried by the last acknowledged flush. */
  lastSeries: number;
  /** Duration of the last acknowledged flush, in milliseconds. */
  lastDurationMs: number;
  /** Unix time (ms) of the last acknowledged flush, 0 before the first. */
  lastSuccessMs: number;
}

/** What users call on a registry. */
export interface RegistryApi {
  /** The key prefix (namespace in Redis) of every metric of this registry. */
  readonly prefix: string;
  /** This process's id in Redis (host, pid and a random part). */
  readonly processId: string;
  /** Content type of the text format, for HTTP responses. */
  readonly contentType: string;
  /** The gauge index this process holds, -1 while it holds none. */
  readonly gaugeIndex: number;
  /** Counters of the flushes so far. */
  readonly flushStats: Readonly<FlushStats>;
  /** Series recorded but not yet acknowledged by Redis. */
  readonly undeliveredSeries: number;
  /** Give the registry its connection (a client, or a redis:// URL it then owns). */
  setRedis(redis: Redis | Cluster | string): void;
  /** Names of this registry's metric families. */
  getMetricNames(): string[];
  /** Send everything recorded so far; resolves once Redis acknowledged it. */
  flush(): Promise<void>;
  /** The merged exposition of every process sharing the prefix. */
  metrics(options?: MetricsOptions): Promise<string>;
  /** `metrics()` piece by piece, as it is read (what `metricsHandler` streams). */
  metricsStream(options?: MetricsOptions): AsyncIterable<string>;
  /** `metrics()`, under the Python original's name. */
  output(options?: MetricsOptions): Promise<string>;
  /** Content type of `format`. */
  contentTypeFor(format: ExpositionFormat): string;
  /** The exposition of one family (a counter also by its `_total` name). */
  getSingleMetricAsString(name: string, options?: MetricsOptions): Promise<string>;
  /** Every family of the merged state in prom-client's JSON shape. */
  getMetricsAsJSON(): Promise<MetricObject[]>;
  /** One family in prom-client's JSON shape, undefined when Redis holds none of that name. */
  getSingleMetricAsJSON(name: string): Promise<MetricObject | undefined>;
  /** Forget a metric in this process, so it can be defined again. */
  removeSingleMetric(name: string): void;
  /** Forget every metric of this registry in this process. */
  clear(): void;
  /** `reset()` every metric of this registry (in Redis, for every process, at the next flush). */
  resetMetrics(): void;
  /** Flush once more, stop, and release what the registry owns. */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * One sample of `metric.get()` / `registry.getMetricsAsJSON()`, in prom-client's shape: `le` and
 * `quantile` labels are numbers (`le` is `"+Inf"` for the last bucket).
 */
export interface MetricValue {
  /** The sample's value, merged over every process. */
  readonly value: number;
  /** The sample's labels (with `le`, `quantile` or `gauge_index` where the type has them). */
  readonly labels: Readonly<Record<string, string | number>>;
  /** The sample's name where it differs from the family's: `_bucket`, `_sum`, `_count`. */
  readonly metricName?: string;
}

/** A family of the merged state as prom-client's `get()` returns it. */
export interface MetricObject {
  /** The name the text exposition gives the family (counters: with `_total`). */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** The Prometheus type (a `CommonGauge` is a `gauge`). */
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  /**
   * How the processes' values were merged: `sum` for counters, histograms, summaries and common
   * gauges; a per-process gauge's `aggregate` (`all`: one series per process, `gauge_index`).
   */
  readonly aggregator: string;
  /** Every sample of the family, as the text exposition lists them. */
  readonly values: MetricValue[];
}
