/**
 * Base class of every error this library throws or reports through `onError`.
 * Input mistakes made by the caller are plain `TypeError` / `RangeError`, as in the
 * standard library; these classes are for failures a caller may want to catch by kind.
 */
export class PrometheusRedisError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flush did not complete. Its deltas are kept and retried with the same token. */
export class FlushError extends PrometheusRedisError {}

/** A flush took longer than `flushTimeoutMs`; its outcome is unknown and it will be retried. */
export class FlushTimeoutError extends FlushError {}

/** No usable Redis connection (not configured, closed, or reconnecting). */
export class RedisUnavailableError extends PrometheusRedisError {}

/**
 * Redis already holds a metric family of this name with a different type, label names,
 * buckets or storage version. The family's writes are refused instead of corrupting data.
 */
export class MetadataConflictError extends PrometheusRedisError {
  constructor(
    /** The metric family's name. */
    readonly metric: string,
    /** The shape stored in Redis (type, label names, buckets, layout version). */
    readonly stored: string,
    /** The shape this process registered. */
    readonly wanted: string,
  ) {
    super(
      `Metric "${metric}" is registered in Redis as ${stored}, but this process registers it as ${wanted}; ` +
        `its writes are dropped until the definitions agree (or the old family is purged)`,
    );
  }
}

/** A label set was refused because its metric already holds `maxSeriesPerMetric` series. */
export class CardinalityLimitError extends PrometheusRedisError {
  constructor(
    /** The metric whose new label set was refused. */
    readonly metric: string,
    /** The `maxSeriesPerMetric` in force. */
    readonly limit: number,
  ) {
    super(
      `Metric "${metric}" reached maxSeriesPerMetric (${limit}); new label sets are dropped and counted ` +
        `(reported once per metric)`,
    );
  }
}

/** Raised by `close()` when deltas could not be delivered before `closeTimeoutMs`. */
export class UndeliveredDataError extends PrometheusRedisError {
  constructor(
    /** How many series still had deltas that did not reach Redis. */
    readonly series: number,
    options?: ErrorOptions,
  ) {
    super(`Closing with ${series} series whose deltas could not be delivered to Redis`, options);
  }
}
