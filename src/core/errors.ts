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

/**
 * Reported by `close()` for deltas that certainly did not reach Redis before `closeTimeoutMs`:
 * never sent, or refused by Redis. Deltas that were sent and never answered are an
 * `UnknownOutcomeError` instead.
 */
export class UndeliveredDataError extends PrometheusRedisError {
  constructor(
    /** How many series had deltas that were never applied in Redis. */
    readonly series: number,
    options?: ErrorOptions,
  ) {
    super(
      `Closing with ${series} series whose deltas could not be delivered to Redis (never sent, or refused)`,
      options,
    );
  }
}

/**
 * Reported by `close()` for deltas that were sent to Redis but not acknowledged before
 * `closeTimeoutMs` (a hung or black-holed link): Redis may have applied them or not, and the
 * retry that would have settled it (exactly once) will not happen.
 */
export class UnknownOutcomeError extends PrometheusRedisError {
  constructor(
    /** How many series had deltas sent without an answer. */
    readonly series: number,
    options?: ErrorOptions,
  ) {
    super(
      `Closing with ${series} series whose deltas were sent to Redis without an answer: ` +
        `they may or may not have been applied`,
      options,
    );
  }
}

/**
 * Redis refused the connection's configuration — a database index (`redis://host/99`) beyond
 * its `databases` setting. Nothing is written (not to database 0 either), and retrying does not
 * help: fix the URL.
 */
export class RedisConfigurationError extends PrometheusRedisError {}

/**
 * A metric recorded a value after `close()` of a registry that no longer has a Redis
 * connection: the value can never be delivered. Reported once per metric; the call never throws.
 */
export class RecordedAfterCloseError extends PrometheusRedisError {
  constructor(
    /** The metric that recorded after close(). */
    readonly metric: string,
  ) {
    super(
      `Metric "${metric}" recorded a value after close(): the registry has no Redis connection any ` +
        `more, so it is never delivered (reported once per metric)`,
    );
  }
}

/**
 * A key the library writes holds another type (a user's key under the prefix, say). Nothing of
 * the batch was applied. A key of one metric family (`metric`): that family's changes are kept in
 * memory and retried at every flush while the others flow; the registry's own keys (`metric`
 * undefined): every change is kept and retried. Delete or rename the key to resume.
 */
export class WrongKeyTypeError extends FlushError {
  constructor(
    /** The Redis key. */
    readonly key: string,
    /** What the key holds and what the library needs there ("holds a string, not the hash …"). */
    readonly detail: string,
    /** The metric family the key belongs to; undefined for the registry's own keys. */
    readonly metric: string | undefined,
  ) {
    super(
      metric === undefined
        ? `Flush refused: Redis ${detail}; nothing was applied, every series is kept and retried ` +
            `until the key is deleted or renamed`
        : `Metric "${metric}" is not written: Redis ${detail}; its changes are kept and retried at ` +
            `every flush until the key is deleted or renamed, the other metrics flow`,
    );
  }
}

/**
 * A series' value went past the range of a double in Redis (a histogram or summary sum, or a
 * counter, of two observations of 1e308): it is stored and exported as +Inf, -Inf or NaN, as
 * Prometheus accepts, and its counts keep applying. Reported once per series.
 */
export class NonFiniteValueError extends PrometheusRedisError {
  constructor(
    /** The metric family. */
    readonly metric: string,
    /** The series' labels, as exposed (`method="GET",route="/a"`). */
    readonly series: string,
    /** What went past the range: a histogram's or summary's sum, or the series' value. */
    readonly what: 'sum' | 'value',
  ) {
    super(
      `Metric "${metric}" {${series}}: its ${what} went past the range of a double in Redis; it is ` +
        `stored and exported as +Inf/-Inf (NaN when both) and its counts keep applying (reported once per series)`,
    );
  }
}

/**
 * Redis no longer has flushes this process had acknowledged: a failover to a replica that had
 * not received them (asynchronous replication). With `durability`, batches acknowledged within
 * its `replayWindowMs` are sent again, in order, exactly once; older ones (and all of them
 * without `durability`) are lost — this error says so instead of the totals silently dropping.
 */
export class AcknowledgedDataLostError extends FlushError {
  constructor(
    /** The last batch Redis has of this process. */
    readonly at: number,
    /** Kept batches sent again. */
    readonly replayed: number,
  ) {
    super(
      `Redis lost flushes this process had acknowledged (a failover to a replica that had not ` +
        `received them; it has batches up to ${at}): ${replayed} kept batch(es) were sent again, ` +
        `the others are lost — set \`durability\` to keep them for replay`,
    );
  }
}

/**
 * Redis lost this registry's keys while the process ran: FLUSHALL or FLUSHDB, a restart
 * without persistence, a failover to a replica that had none of them, a purge. The process
 * writes again what it owns — metadata, its per-process gauges, the values it last set on
 * common gauges (unless another process wrote them since). Counters, histograms and summaries
 * start again from what processes flush from now on: Prometheus sees a counter reset, which
 * `rate()` and `increase()` handle. Reported once per wipe, by every process that sees it.
 */
export class RedisStateLostError extends PrometheusRedisError {
  constructor(
    /** The registry's prefix. */
    readonly prefix: string,
  ) {
    super(
      `Redis lost the keys of prefix "${prefix}" (FLUSHALL, a restart without persistence, a purge?): ` +
        `metadata, per-process gauges and the common-gauge values this process set are written again; ` +
        `counters, histograms and summaries restart from zero (Prometheus sees a reset)`,
    );
  }
}

/**
 * Redis refused a series outright, whatever the retry: one of its arguments is past the
 * server's `proto-max-bulk-len` (a label value far beyond `maxLabelValueLength`'s default, say).
 * The series' changes in that flush are dropped and counted in
 * `prometheus_redis_client_refused_series_total`; everything else is applied.
 */
export class RefusedSeriesError extends FlushError {
  constructor(
    /** The metric family. */
    readonly metric: string,
    /** The series' labels, as exposed. */
    readonly series: string,
    /** Bytes of the argument Redis refused. */
    readonly bytes: number,
  ) {
    super(
      `Metric "${metric}" {${series.length > 200 ? `${series.slice(0, 200)}…` : series}}: Redis refused its ` +
        `${bytes}-byte argument outright (past its proto-max-bulk-len); the series' changes in this flush ` +
        `are dropped and counted, the others applied`,
    );
  }
}

/**
 * A `collect` callback (a metric's, or one given to `registry.registerCollector`) threw, rejected,
 * or did not settle in time; the flush went on with the values as they were. `metric` names the
 * metric, or is `undefined` for a registry collector.
 */
export class CollectError extends PrometheusRedisError {
  /** The metric whose `collect` option failed; undefined for a `registerCollector` callback. */
  readonly metric: string | undefined;

  constructor(metric: string | undefined, message: string, options?: ErrorOptions) {
    super(message, options);
    this.metric = metric;
  }
}

/**
 * A metric removed from its registry (`removeSingleMetric`, `clear`) was recorded through
 * afterwards (an old module's closure, say): those records are dropped, as the metric was (said
 * once per metric object). What it held unflushed when removed was dropped by the removal.
 */
export class RemovedMetricError extends PrometheusRedisError {
  /** The metric's name. */
  readonly metric: string;

  constructor(metric: string) {
    super(
      `Metric "${metric}" was removed from its registry (removeSingleMetric or clear): what is recorded through it from now on is dropped`,
    );
    this.metric = metric;
  }
}
