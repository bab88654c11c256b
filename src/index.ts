export { Registry, REGISTRY, type CloseOptions, type MetricsOptions } from './registry.js';
export type { RegistryOptions } from './options.js';
export type { RedisClient } from './redis/connection.js';
export type { FlushStats } from './flush/flusher.js';
export { Counter, CounterChild, type CounterOptions } from './metrics/counter.js';
export { Gauge, GaugeChild, type GaugeOptions } from './metrics/gauge.js';
export { CommonGauge, CommonGaugeChild, type CommonGaugeOptions } from './metrics/common-gauge.js';
export {
  Histogram,
  HistogramChild,
  DEFAULT_BUCKETS,
  linearBuckets,
  exponentialBuckets,
  type HistogramOptions,
} from './metrics/histogram.js';
export { Summary, SummaryChild, type SummaryOptions } from './metrics/summary.js';
export type { Metric, Labels, MetricOptions } from './metrics/metric.js';
export type { EndTimer } from './metrics/timer.js';
export type { ExemplarLabels } from './metrics/exemplar.js';
export type { LabelValue } from './buffer/series-store.js';
export type { FamilyMeta, FamilyKind, MetricType, GaugeAggregate } from './core/family.js';
export { TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, type ExpositionFormat } from './export/text-format.js';
export { negotiateFormat } from './export/negotiate.js';
export { metricsHandler, type MetricsHandler, type MetricsHandlerOptions } from './http.js';
export {
  PrometheusRedisError,
  FlushError,
  FlushTimeoutError,
  RedisUnavailableError,
  MetadataConflictError,
  CardinalityLimitError,
  UndeliveredDataError,
} from './core/errors.js';
export { VERSION } from './core/version.js';
export { installShutdownHooks, type ShutdownHookOptions } from './shutdown.js';
export { collectDefaultMetrics, type DefaultMetricsOptions } from './default-metrics.js';
