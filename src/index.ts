/**
 * The public API: every export is named here (no `export *`). Children are exported as types
 * only — users get them from `labels()`; their classes are internal. The abstract bases (Metric,
 * TimedMetric, GaugeLike) are values, so `instanceof Metric` works as its type says.
 */
export { Registry, REGISTRY, register } from './registry.js';
export type { CloseOptions, MetricsOptions } from './core/registry-api.js';
export type { RegistryOptions } from './options.js';
export type { MergedRegistry, Mergeable } from './merged.js';
export type { RedisClient } from './redis/connection.js';
export type { FlushStats } from './flush/flusher.js';
export { Counter, type CounterChild, type CounterOptions } from './metrics/counter.js';
export { Gauge, type GaugeChild, type GaugeOptions } from './metrics/gauge.js';
export { CommonGauge, type CommonGaugeChild, type CommonGaugeOptions } from './metrics/common-gauge.js';
export {
  Histogram,
  type HistogramChild,
  DEFAULT_BUCKETS,
  linearBuckets,
  exponentialBuckets,
  type HistogramOptions,
  type Observation,
} from './metrics/histogram.js';
export { Summary, type SummaryChild, type SummaryOptions } from './metrics/summary.js';
export { Metric, type Labels, type MetricOptions } from './metrics/metric.js';
export { TimedMetric, type TimedChild } from './metrics/timed.js';
export { GaugeLike, type GaugeLikeChild } from './metrics/gauge-like.js';
export type { MetricRegistry } from './metrics/default-registry.js';
export type { RegistryApi, MetricObject, MetricValue } from './core/registry-api.js';
export type { EndTimer } from './metrics/timer.js';
export type { ExemplarLabels } from './metrics/exemplar.js';
export type { LabelValue } from './buffer/series-store.js';
export type { FamilyKind, MetricType, GaugeAggregate } from './core/family.js';
export { TEXT_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, type ExpositionFormat } from './export/text-format.js';
export { negotiateFormat } from './export/negotiate.js';
export { metricsHandler, type MetricsHandler, type MetricsHandlerOptions } from './http.js';
export { httpMetrics, type HttpMetrics, type HttpMetricsOptions } from './middleware/index.js';
export type { HttpLabel } from './middleware/request-metrics.js';
export type { ExpressMiddleware } from './middleware/express.js';
export type { FastifyPlugin } from './middleware/fastify.js';
export type { NodeRequestListener } from './middleware/node-http.js';
export {
  PrometheusRedisError,
  FlushError,
  FlushTimeoutError,
  RedisUnavailableError,
  MetadataConflictError,
  CardinalityLimitError,
  UndeliveredDataError,
  UnknownOutcomeError,
  RedisConfigurationError,
  RecordedAfterCloseError,
  WrongKeyTypeError,
  NonFiniteValueError,
  RefusedSeriesError,
  RedisStateLostError,
  AcknowledgedDataLostError,
  CollectError,
  RemovedMetricError,
} from './core/errors.js';
export { VERSION } from './core/version.js';
export { installShutdownHooks, type ShutdownHookOptions, type ClosableServer } from './shutdown.js';
export { collectDefaultMetrics, type DefaultMetricsOptions } from './default-metrics.js';
