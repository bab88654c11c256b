/**
 * The Registry's options: the public `RegistryOptions` type with its documented defaults, and
 * `resolveOptions`, which validates them once and applies the defaults.
 */
import type { FlusherSettings } from './flush/host.js';
import type { RedisClient } from './redis/connection.js';
import { describeValue, validateBoolean, validatePositiveInteger } from './core/validate.js';

/** Options of a `Registry`. Every field is optional; defaults are listed per field. */
export interface RegistryOptions {
  /**
   * The Redis connection: an ioredis `Redis` or `Cluster` (the caller keeps ownership and closes
   * it), or a `redis://` / `rediss://` URL (the registry opens the connection and closes it in
   * `close()`). Without it, metrics record locally until `setRedis()` is called.
   * @default undefined
   */
  readonly redis?: RedisClient | string;
  /**
   * Namespace of every key. All keys of a registry share the hash tag `{prefix}`, so a flush
   * lands in one Redis Cluster slot. Must not contain `{` or `}`.
   * @default "prometheus"
   */
  readonly prefix?: string;
  /**
   * How often buffered deltas are flushed to Redis. Lower: fresher scrapes, more Redis load.
   * @default 1000
   */
  readonly flushIntervalMs?: number;
  /**
   * A flush starts early once this many series have changed since the last one.
   * @default 5000
   */
  readonly flushThreshold?: number;
  /**
   * A flush that gets no reply within this time is failed and retried (with the same token).
   * @default 5000
   */
  readonly flushTimeoutMs?: number;
  /**
   * Field updates one flush call carries at most (a counter series is one, a histogram series
   * one per changed bucket plus its sum, a new series two more for its creation time). A bigger
   * flush goes as several calls, each applied exactly once and in order, so no call holds the
   * Redis you share with other clients for long: the default keeps one call near 0.5 ms of Redis
   * time (docs/scaling.md). A series is never split between calls.
   * @default 250
   */
  readonly flushChunkUpdates?: number;
  /**
   * Flush calls in flight at once on the connection. Redis runs everything one client has
   * pipelined before serving another, so an unrelated client waits up to about this many calls.
   * @default 2
   */
  readonly flushWindow?: number;
  /**
   * How long `close()` tries to deliver the last deltas before giving up (and reporting them).
   * @default 5000
   */
  readonly closeTimeoutMs?: number;
  /**
   * Per-process gauges of a process that stopped flushing disappear after this many seconds, and
   * its gauge index becomes free for a new process. A live process refreshes its gauges every
   * quarter of this, whatever `flushIntervalMs` is.
   * @default 60
   */
  readonly expireSeconds?: number;
  /**
   * How long Redis remembers a process's last applied batch. A batch whose reply was lost is
   * deduplicated if it is retried within this window after it was applied; a retry later than
   * that could apply it twice.
   * @default 86400
   */
  readonly tokenTtlSeconds?: number;
  /**
   * Series a single metric may hold in this process; new label sets beyond it are dropped,
   * counted and reported once through `onError` (the call never throws).
   * @default 10000
   */
  readonly maxSeriesPerMetric?: number;
  /**
   * Longest label value accepted, in characters (UTF-16 code units, as `string.length` counts):
   * a longer one is refused at the call with a RangeError naming the metric and the label, as
   * any invalid label is. Generous for real values (URLs, user agents) while keeping every
   * series far inside Redis's argument limits (`proto-max-bulk-len`).
   * @default 4096
   */
  readonly maxLabelValueLength?: number;
  /**
   * Longest wait between retries while Redis fails (the backoff doubles from `flushIntervalMs`).
   * @default 30000
   */
  readonly maxBackoffMs?: number;
  /**
   * Count a flush as delivered only once `replicas` replicas acknowledge it (Redis `WAIT`, up to
   * `timeoutMs`); until then the batch is kept and retried under the same token. Acknowledged
   * batches are also kept for `replayWindowMs` (default 60000): a failover to a replica that
   * missed some of them (a Sentinel failover while another replica still followed the old
   * primary) is noticed at the next flush, and they are sent again, in order, exactly once.
   * Without it, asynchronous replication can lose the last flushes before a failover (never
   * double them; the loss is reported). A single Redis or a Sentinel-managed primary; not for
   * Redis Cluster clients.
   * @default undefined
   */
  readonly durability?: {
    /** Replicas that must acknowledge each flush (`WAIT replicas …`), at least 1. */
    readonly replicas: number;
    /** How long one `WAIT` may take, in milliseconds. */
    readonly timeoutMs?: number;
    /** How long acknowledged batches are kept to be replayed after a failover, in milliseconds. */
    readonly replayWindowMs?: number;
  };
  /**
   * How a Redis Cluster's write load is spread. `registry`: every key of the registry shares the
   * hash tag `{prefix}`, so a flush is one script call on one slot. `metric`: each metric family
   * gets its own hash tag, and a flush sends one call per changed family, all at once, after a
   * small call for metadata and gauge leases on `{prefix}` — the load spreads over the cluster's
   * primaries, for more round trips per flush. Exactly once either way (each family keeps its
   * own sequence). Every process and reader of a prefix must use the same setting: a family
   * recorded one way conflicts with the other (MetadataConflictError). Readers need no option,
   * but must be a version that knows the setting (this one or later): an older reader shows
   * such families without series.
   * @default "registry"
   */
  readonly shardBy?: 'registry' | 'metric';
  /**
   * Export the library's own metrics (`prometheus_redis_client_*`: flushes by outcome, flush
   * duration and size, retries, dropped series, buffered series, last flush time).
   * @default true
   */
  readonly selfMetrics?: boolean;
  /**
   * Receives every background failure (flush errors, conflicts, dropped series). The library
   * never prints and never throws from the background.
   * @default a no-op
   */
  readonly onError?: (error: Error) => void;
}

/**
 * Options with defaults applied. The ones the flusher reads (flushIntervalMs, flushTimeoutMs,
 * flushChunkUpdates, flushWindow, expireSeconds, tokenTtlSeconds, maxBackoffMs, durability,
 * shardBy) are stated once, in `FlusherSettings`: the flush layer may not import this file.
 */
export interface ResolvedOptions extends FlusherSettings {
  readonly prefix: string;
  readonly flushThreshold: number;
  readonly closeTimeoutMs: number;
  readonly maxSeriesPerMetric: number;
  readonly maxLabelValueLength: number;
  readonly selfMetrics: boolean;
  readonly onError: (error: Error) => void;
}

const KNOWN = new Set([
  'redis',
  'prefix',
  'flushIntervalMs',
  'flushThreshold',
  'flushTimeoutMs',
  'flushChunkUpdates',
  'flushWindow',
  'closeTimeoutMs',
  'expireSeconds',
  'tokenTtlSeconds',
  'maxSeriesPerMetric',
  'maxLabelValueLength',
  'maxBackoffMs',
  'selfMetrics',
  'durability',
  'shardBy',
  'onError',
]);

function resolveDurability(value: unknown): ResolvedOptions['durability'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(
      `Expected \`durability\` to be { replicas, timeoutMs?, replayWindowMs? }, got ${describeValue(value)}`,
    );
  }
  const { replicas, timeoutMs, replayWindowMs } = value as {
    replicas?: unknown;
    timeoutMs?: unknown;
    replayWindowMs?: unknown;
  };
  return {
    replicas: validatePositiveInteger('durability.replicas', replicas),
    timeoutMs: validatePositiveInteger('durability.timeoutMs', timeoutMs ?? 1000),
    replayWindowMs: validatePositiveInteger('durability.replayWindowMs', replayWindowMs ?? 60_000),
  };
}

function resolveShardBy(value: unknown): ResolvedOptions['shardBy'] {
  if (value === undefined || value === 'registry' || value === 'metric') return value ?? 'registry';
  throw new TypeError(`Expected \`shardBy\` to be "registry" or "metric", got ${describeValue(value)}`);
}

/** The key prefix of a registry created without `prefix`. */
export const DEFAULT_PREFIX = 'prometheus';

/** Validate options and apply defaults; errors name the option, what was expected and what was given. */
export function resolveOptions(options: RegistryOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected Registry options to be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`Unknown Registry option \`${key}\``);
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  // eslint-disable-next-line no-control-regex
  if (typeof prefix !== 'string' || prefix === '' || /[{}\x00-\x1f]/.test(prefix) || prefix.length > 200) {
    throw new TypeError(
      `Expected \`prefix\` to be a non-empty string of at most 200 characters without braces or control characters, got ${describeValue(prefix)}`,
    );
  }
  const flushIntervalMs = validatePositiveInteger('flushIntervalMs', options.flushIntervalMs ?? 1000, 10);
  const expireSeconds = validatePositiveInteger('expireSeconds', options.expireSeconds ?? 60);
  const onError = options.onError ?? ((): void => {});
  if (typeof onError !== 'function') {
    throw new TypeError(`Expected \`onError\` to be a function, got ${describeValue(onError)}`);
  }
  const tokenTtlSeconds = validatePositiveInteger('tokenTtlSeconds', options.tokenTtlSeconds ?? 86_400);
  if (tokenTtlSeconds < expireSeconds) {
    // The process key that remembers the last batch also remembers the gauge index: if it expired
    // before the index lease, the process would claim a second index while the first is alive.
    throw new RangeError(
      `Expected \`tokenTtlSeconds\` (${tokenTtlSeconds}) to be at least \`expireSeconds\` (${expireSeconds})`,
    );
  }
  return {
    prefix,
    flushIntervalMs,
    flushThreshold: validatePositiveInteger('flushThreshold', options.flushThreshold ?? 5000),
    flushTimeoutMs: validatePositiveInteger('flushTimeoutMs', options.flushTimeoutMs ?? 5000),
    flushChunkUpdates: validatePositiveInteger('flushChunkUpdates', options.flushChunkUpdates ?? 250),
    flushWindow: validatePositiveInteger('flushWindow', options.flushWindow ?? 2),
    closeTimeoutMs: validatePositiveInteger('closeTimeoutMs', options.closeTimeoutMs ?? 5000, 0),
    expireSeconds,
    tokenTtlSeconds,
    maxSeriesPerMetric: validatePositiveInteger('maxSeriesPerMetric', options.maxSeriesPerMetric ?? 10_000),
    maxLabelValueLength: validatePositiveInteger('maxLabelValueLength', options.maxLabelValueLength ?? 4096),
    maxBackoffMs: validatePositiveInteger('maxBackoffMs', options.maxBackoffMs ?? 30_000),
    selfMetrics: validateBoolean('selfMetrics', options.selfMetrics ?? true),
    durability: resolveDurability(options.durability),
    shardBy: resolveShardBy(options.shardBy),
    onError,
  };
}

/** `close()` options, checked: whether to keep the per-process gauges. */
export function keepGaugesOf(options: unknown): boolean {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected close() options to be an object, got ${describeValue(options)}`);
  }
  const { keepGauges = false } = options as { keepGauges?: unknown };
  if (typeof keepGauges !== 'boolean') {
    throw new TypeError(`Expected \`keepGauges\` to be a boolean, got ${describeValue(keepGauges)}`);
  }
  return keepGauges;
}
