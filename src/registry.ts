/**
 * Registry: ties one Redis connection, one key prefix, one buffer and one flusher to the metrics
 * that record into them, serves the merged exposition, and closes cleanly. Also `REGISTRY`, the
 * default registry.
 */
import { performance } from 'node:perf_hooks';
import { Cluster } from 'ioredis';
import type { Cell } from './buffer/cells.js';
import { DeltaBuffer } from './buffer/delta-buffer.js';
import { SeriesStore } from './buffer/series-store.js';
import {
  CardinalityLimitError,
  PrometheusRedisError,
  RecordedAfterCloseError,
  RedisConfigurationError,
  RedisUnavailableError,
  UndeliveredDataError,
  UnknownOutcomeError,
} from './core/errors.js';
import { streamFamilies, type RenderOptions } from './export/read.js';
import {
  renderStream,
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
  type ExpositionFormat,
} from './export/text-format.js';
import { sampleNames, type FamilyMeta } from './core/family.js';
import { describeValue, isRedisUrl, validateBoolean } from './core/validate.js';
import { Flusher, type FlushStats } from './flush/flusher.js';
import { Keys, newProcessId } from './redis/keys.js';
import {
  closeOwned,
  isRedisClient,
  keepAlive,
  openOwned,
  whenReady,
  withTimeout,
} from './redis/connection.js';
import type { RedisClient } from './redis/connection.js';
import { setDefaultRegistry, type MetricRegistry } from './metrics/default-registry.js';
import { SelfMetrics } from './self-metrics.js';
import type { CloseOptions, MetricsOptions } from './core/registry-api.js';
import { resolveOptions, type RegistryOptions, type ResolvedOptions } from './options.js';

/**
 * Ties one Redis connection, one key prefix, one buffer, one flusher and the metrics that record
 * into them. Any registry with the same prefix on the same Redis can serve the merged metrics
 * of every process, including processes running other code.
 */
export type { CloseOptions, MetricsOptions };

/** `metrics()` options, checked. */
function renderOf(options: MetricsOptions): RenderOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected metrics() options to be an object, got ${describeValue(options)}`);
  }
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'openmetrics') {
    throw new TypeError(`Expected \`format\` to be "text" or "openmetrics", got ${JSON.stringify(format)}`);
  }
  return { format, created: validateBoolean('created', options.created ?? true) };
}

export class Registry implements MetricRegistry {
  /** Content type of the default (text 0.0.4) exposition. */
  readonly contentType = TEXT_CONTENT_TYPE;
  /** Identity of this registry instance in Redis (one per process, normally). */
  readonly processId = newProcessId();
  readonly #options: ResolvedOptions;
  readonly #keys: Keys;
  readonly #buffer: DeltaBuffer<SeriesStore>;
  readonly #flusher: Flusher;
  readonly #stores = new Map<string, SeriesStore>();
  readonly #sampleOwners = new Map<string, string>();
  #redis: RedisClient | undefined;
  #owned = false;
  #closing: Promise<void> | undefined;

  constructor(options: RegistryOptions = {}) {
    this.#options = resolveOptions(options);
    this.#keys = new Keys(this.#options.prefix);
    this.#buffer = new DeltaBuffer(this.#options.flushThreshold, () => this.#flusher.thresholdReached());
    const stores = (): readonly SeriesStore[] => [...this.#stores.values()];
    const selfMetrics = this.#options.selfMetrics ? new SelfMetrics(this) : undefined;
    this.#flusher = new Flusher({
      selfMetrics,
      keys: this.#keys,
      processId: this.processId,
      buffer: this.#buffer,
      settings: this.#options,
      redis: () => this.#redis,
      stores,
      report: (error) => this.#report(error),
    });
    if (options.redis !== undefined) this.setRedis(options.redis);
  }

  /** The key prefix (without braces). */
  get prefix(): string {
    return this.#options.prefix;
  }

  /** This process's gauge index, or -1 before the first flush that needed one. */
  get gaugeIndex(): number {
    return this.#flusher.gaugeIndex;
  }

  /** Flush counters of this registry. */
  get flushStats(): Readonly<FlushStats> {
    return this.#flusher.stats;
  }

  /** Series recorded here and not yet acknowledged by Redis. */
  get undeliveredSeries(): number {
    return this.#flusher.undelivered;
  }

  /**
   * Use this Redis connection (an ioredis `Redis`/`Cluster`, kept open by the caller, or a URL the
   * registry opens and owns). Deltas recorded before a connection existed are flushed through it.
   */
  setRedis(redis: RedisClient | string): void {
    if (this.#closing !== undefined) throw new RedisUnavailableError('This registry is closed');
    let client: RedisClient;
    let owned = false;
    if (typeof redis === 'string') {
      if (!isRedisUrl(redis)) {
        throw new TypeError(
          `Expected \`redis\` to be a redis:// or rediss:// URL or an ioredis client, got ${JSON.stringify(redis)}`,
        );
      }
      client = openOwned(redis, (error) => this.#report(error));
      owned = true;
    } else if (isRedisClient(redis)) {
      client = redis;
    } else {
      throw new TypeError(
        `Expected \`redis\` to be an ioredis Redis or Cluster, or a redis:// URL, got ${typeof redis}`,
      );
    }
    if (this.#options.durability !== undefined && client instanceof Cluster) {
      throw new TypeError(
        'The `durability` option (WAIT for replicas) is not supported with a Redis Cluster client',
      );
    }
    const previous = this.#owned ? this.#redis : undefined;
    this.#redis = client;
    this.#owned = owned;
    if (previous !== undefined) previous.disconnect();
    this.#flusher.start();
  }

  /** @internal Called by metric constructors. */
  register<C extends Cell>(meta: FamilyMeta, create: (key: string) => C, internal = false): SeriesStore<C> {
    // The library's own metrics stay in the registry's slot: they ride along with the control call.
    if (this.#options.shardBy === 'metric' && !internal) meta = { ...meta, shard: 'metric' };
    if (this.#stores.has(meta.name)) {
      throw new TypeError(`A metric named "${meta.name}" is already registered in this registry`);
    }
    const names = sampleNames(meta);
    for (const sample of names) {
      const owner = this.#sampleOwners.get(sample);
      if (owner !== undefined) {
        throw new TypeError(
          `Metric "${meta.name}" would expose series named "${sample}", which metric "${owner}" already exposes`,
        );
      }
    }
    const store = new SeriesStore<C>({
      meta,
      labelNames: meta.labelNames,
      buffer: this.#buffer,
      maxSeries: this.#options.maxSeriesPerMetric,
      maxLabelValueLength: this.#options.maxLabelValueLength,
      create,
      onLimit: () => this.#report(new CardinalityLimitError(meta.name, this.#options.maxSeriesPerMetric)),
      internal,
    });
    this.#stores.set(meta.name, store);
    for (const sample of names) this.#sampleOwners.set(sample, meta.name);
    if (!internal) this.#flusher.registered(store);
    return store;
  }

  /** Names of the metric families registered here (not the library's own self-metrics). */
  getMetricNames(): string[] {
    return [...this.#stores.values()].filter((s) => !s.internal).map((s) => s.meta.name);
  }

  /**
   * Apply every delta recorded before this call to Redis. Rejects if that failed (the deltas stay
   * buffered and are retried).
   */
  flush(): Promise<void> {
    if (this.#closing !== undefined && this.#redis === undefined) {
      return Promise.reject(new RedisUnavailableError('This registry is closed'));
    }
    return this.#flusher.flush();
  }

  /**
   * The merged exposition of every process recording under this prefix — including families this
   * process does not define. Flushes this process's own deltas first. Resolves with the whole
   * text; `metricsStream()` gives it piece by piece as it is read.
   */
  async metrics(options: MetricsOptions = {}): Promise<string> {
    const render = renderOf(options);
    const redis = await this.#beforeScrape();
    const ms = this.#options.flushTimeoutMs;
    const collect = async (): Promise<string> => {
      const parts: string[] = [];
      for await (const part of this.#read(redis, render)) parts.push(part);
      return parts.join('');
    };
    return keepAlive(
      withTimeout(
        collect(),
        ms,
        () => new RedisUnavailableError(`Redis did not answer the scrape within flushTimeoutMs (${ms} ms)`),
      ),
    );
  }

  /**
   * `metrics()` as a stream of text pieces, family by family, each rendered while Redis reads
   * the next: what `metricsHandler` sends, so a scrape of a million series never sits in memory
   * whole. An error part-way (Redis gone) is thrown from the iteration: the output is then
   * incomplete and must not be served as a scrape.
   */
  metricsStream(options: MetricsOptions = {}): AsyncIterable<string> {
    return this.#scrape(renderOf(options));
  }

  async *#scrape(render: RenderOptions): AsyncGenerator<string> {
    yield* this.#read(await this.#beforeScrape(), render);
  }

  /** Flush this process's own deltas (a scrape shows them), and wait for the connection. */
  async #beforeScrape(): Promise<RedisClient> {
    const redis = this.#redis;
    if (redis === undefined) {
      throw new RedisUnavailableError(
        this.#closing === undefined
          ? 'No Redis connection: pass `redis` to the Registry or call setRedis()'
          : 'This registry is closed: close() closed its Redis connection',
      );
    }
    await this.flush().catch((error: unknown) => {
      // Unreachable Redis: the flush already waited for it; reading would only wait again.
      // A database Redis refused: reading would read another one.
      if (error instanceof RedisUnavailableError || error instanceof RedisConfigurationError) throw error;
      if (!this.#flusher.reported(error)) this.#report(error as Error);
    });
    await whenReady(redis, this.#options.flushTimeoutMs);
    return redis;
  }

  #read(redis: RedisClient, render: RenderOptions): AsyncGenerator<string> {
    const families = streamFamilies(redis, this.#keys, [], render, ({ error }) => this.#report(error));
    return renderStream(families, render.format);
  }

  /** Alias of `metrics()`, as in the Python original. */
  output(options: MetricsOptions = {}): Promise<string> {
    return this.metrics(options);
  }

  /** Content type for a format (`registry.contentType` is the text format's). */
  contentTypeFor(format: ExpositionFormat): string {
    return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
  }

  /**
   * Stop the timer, deliver the last deltas (within `closeTimeoutMs`; what cannot be delivered is
   * reported through `onError`), give up this process's gauge index — its per-process gauges
   * describe a live process, so they leave the merged view now (`keepGauges: true` leaves them
   * until `expireSeconds` after the last flush instead) — and close the connection if the
   * registry opened it. Calling it again returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(
        new TypeError(`Expected close() options to be an object, got ${describeValue(options)}`),
      );
    }
    const { keepGauges = false } = options;
    if (typeof keepGauges !== 'boolean') {
      return Promise.reject(
        new TypeError(`Expected \`keepGauges\` to be a boolean, got ${describeValue(keepGauges)}`),
      );
    }
    // A second call shares the first one's close, options included.
    this.#closing ??= this.#close(keepGauges);
    return this.#closing;
  }

  async #close(keepGauges: boolean): Promise<void> {
    this.#flusher.stop();
    const redis = this.#redis;
    if (redis === undefined) {
      this.#reportLeftovers();
      this.#seal();
      return;
    }
    const ms = this.#options.closeTimeoutMs;
    const deadline = performance.now() + ms;
    try {
      await withTimeout(
        (async () => {
          await this.#flusher.flush();
          // A flush that (re)claimed the gauge index leaves every gauge marked for a rewrite,
          // and deltas may have been recorded meanwhile: one more flush delivers them.
          if (this.#flusher.undelivered > 0) await this.#flusher.flush();
          // Everything delivered, then this process's gauges leave with it.
          if (!keepGauges) await this.#flusher.release();
        })(),
        ms,
        () => new RedisUnavailableError(`closeTimeoutMs (${ms} ms) elapsed`),
      );
      // Recorded while closing, after the last flush began: not delivered, and said so.
      this.#reportLeftovers();
    } catch (error) {
      if (!this.#reportLeftovers(error)) this.#report(error as Error);
    }
    if (this.#owned) {
      this.#redis = undefined;
      this.#seal();
      // QUIT within what is left of closeTimeoutMs; a Redis that does not answer is disconnected.
      await closeOwned(redis, deadline - performance.now());
    }
  }

  /**
   * Report what close() leaves behind: series never applied in Redis (`UndeliveredDataError`)
   * apart from those sent without an answer, which Redis may have applied
   * (`UnknownOutcomeError`). Returns whether there was any.
   */
  #reportLeftovers(cause?: unknown): boolean {
    const options = cause === undefined ? undefined : { cause };
    const unknown = this.#flusher.unknownOutcome;
    const unsent = this.#flusher.undelivered - unknown;
    if (unsent > 0) this.#report(new UndeliveredDataError(unsent, options));
    if (unknown > 0) this.#report(new UnknownOutcomeError(unknown, options));
    return unsent > 0 || unknown > 0;
  }

  /**
   * Closed with no connection left: whatever is recorded from now on can never be delivered.
   * Said once per metric; the hot path is not slowed (the buffer calls back only when a series
   * changes for the first time, which after close happens once per series).
   */
  #seal(): void {
    const said = new Set<string>();
    this.#buffer.seal((store) => {
      if (store.internal || said.has(store.meta.name)) return;
      said.add(store.meta.name);
      this.#report(new RecordedAfterCloseError(store.meta.name));
    });
  }

  #report(error: Error): void {
    try {
      this.#options.onError(error instanceof Error ? error : new PrometheusRedisError(String(error)));
    } catch {
      // An onError hook that throws must not take the background down with it.
    }
  }
}

/** The default registry, for metrics created without a `registry` option. Call `setRedis()` on it. */
export const REGISTRY = new Registry();
setDefaultRegistry(REGISTRY);
