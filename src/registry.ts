/**
 * Registry: ties one Redis connection, one key prefix, one buffer and one flusher to the metrics
 * that record into them, serves the merged exposition, and closes cleanly. Also `REGISTRY`, the
 * default registry.
 */
import { performance } from 'node:perf_hooks';
import type { Cell } from './buffer/cells.js';
import { DeltaBuffer } from './buffer/delta-buffer.js';
import { SeriesStore } from './buffer/series-store.js';
import {
  CardinalityLimitError,
  PrometheusRedisError,
  RecordedAfterCloseError,
  RedisUnavailableError,
  RemovedMetricError,
} from './core/errors.js';
import { contentTypeOf, type ExpositionFormat } from './export/text-format.js';
import type { FamilyMeta } from './core/family.js';
import { describeValue } from './core/validate.js';
import { Flusher, type FlushStats } from './flush/flusher.js';
import { Keys, newProcessId } from './redis/keys.js';
import { Catalog, onceEach, validateName } from './catalog.js';
import { MergedRegistry } from './merged.js';
import { Collectors } from './collectors.js';
import { Scraper, familyNamesOf, formatOfContentType } from './scrape.js';
import { DefaultLabels } from './export/default-labels.js';
import type { Metric } from './metrics/metric.js';
import { clientOf, closeOwned, withTimeout } from './redis/connection.js';
import type { RedisClient } from './redis/connection.js';
import { setDefaultRegistry, type MetricRegistry } from './metrics/default-registry.js';
import { SelfMetrics } from './self-metrics.js';
import type { CloseOptions, MetricObject, MetricsOptions } from './core/registry-api.js';
import { keepGaugesOf, resolveOptions, type RegistryOptions, type ResolvedOptions } from './options.js';

/**
 * Ties one Redis connection, one key prefix, one buffer, one flusher and the metrics that record
 * into them. Any registry with the same prefix on the same Redis can serve the merged metrics
 * of every process, including processes running other code.
 */
export class Registry implements MetricRegistry {
  /** One exposition of several registries, for one endpoint (prom-client's `Registry.merge`). */
  static merge(registries: readonly Registry[]): MergedRegistry {
    return new MergedRegistry(registries);
  }

  /** prom-client's name of the text 0.0.4 content type (for `setContentType`). */
  static readonly PROMETHEUS_CONTENT_TYPE = contentTypeOf('text');
  /** prom-client's name of the OpenMetrics 1.0 content type. */
  static readonly OPENMETRICS_CONTENT_TYPE = contentTypeOf('openmetrics');

  /** Content type of what `metrics()` returns without a `format` (text 0.0.4 unless set). */
  get contentType(): string {
    return this.contentTypeFor(this.#scraper.format);
  }

  /** prom-client's `setContentType()`: the format of `metrics()` without one (not the handler's). */
  setContentType(type: string): void {
    this.#scraper.format = formatOfContentType(type);
  }
  /** Identity of this registry instance in Redis (one per process, normally). */
  readonly processId = newProcessId();
  readonly #options: ResolvedOptions;
  readonly #keys: Keys;
  readonly #buffer: DeltaBuffer<SeriesStore>;
  readonly #flusher: Flusher;
  readonly #collectors: Collectors;
  readonly #catalog: Catalog;
  readonly #scraper: Scraper;
  #defaults: DefaultLabels | undefined;
  #redis: RedisClient | undefined;
  #owned = false;
  #closing: Promise<void> | undefined;

  constructor(options: RegistryOptions = {}) {
    this.#options = resolveOptions(options);
    this.#collectors = new Collectors(this.#options.flushIntervalMs, (e) => this.#report(e));
    this.#catalog = new Catalog(this.#collectors);
    this.#keys = new Keys(this.#options.prefix);
    this.#buffer = new DeltaBuffer(this.#options.flushThreshold, () => this.#flusher.thresholdReached());
    this.#buffer.onRetired(onceEach((store) => this.#report(new RemovedMetricError(store.meta.name))));
    const stores = (): readonly SeriesStore[] => this.#catalog.stores();
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
      collect: () => this.#collectors.run(),
      collects: () => this.#collectors.size > 0,
    });
    this.#scraper = new Scraper({
      keys: this.#keys,
      flushTimeoutMs: this.#options.flushTimeoutMs,
      connection: () => this.#connection(),
      flush: () => this.flush(),
      reported: (error) => this.#flusher.reported(error),
      report: (error) => this.#report(error),
      defaults: () => this.#defaults,
    });
    if (options.redis !== undefined) this.setRedis(options.redis);
  }

  #connection(): RedisClient {
    if (this.#redis !== undefined) return this.#redis;
    throw new RedisUnavailableError(
      this.#closing === undefined
        ? 'No Redis connection: pass `redis` to the Registry or call setRedis()'
        : 'This registry is closed: close() closed its Redis connection',
    );
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
    const { client, owned } = clientOf(redis, this.#options.durability !== undefined, (error) =>
      this.#report(error),
    );
    const previous = this.#owned ? this.#redis : undefined;
    this.#redis = client;
    this.#owned = owned;
    if (previous !== undefined) previous.disconnect();
    this.#flusher.start();
  }

  /** @internal Called by metric constructors (`metric`: the object, for `getSingleMetric`). */
  register<C extends Cell>(
    meta: FamilyMeta,
    create: (key: string) => C,
    internal = false,
    metric?: object,
  ): SeriesStore<C> {
    // The library's own metrics stay in the registry's slot: they ride along with the control call.
    if (this.#options.shardBy === 'metric' && !internal) meta = { ...meta, shard: 'metric' };
    this.#catalog.check(meta);
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
    this.#catalog.add(store, metric);
    if (!internal) this.#flusher.registered(store);
    return store;
  }

  /** Names of the metric families registered here (not the library's own self-metrics). */
  getMetricNames(): string[] {
    return this.#catalog.names();
  }

  /**
   * The metric registered here as `name` (a counter also as `<name>_total`), or undefined: the
   * guard against defining a metric twice (`getSingleMetric(n) ?? new Counter(…)`).
   */
  getSingleMetric(name: string): Metric | undefined {
    return this.#catalog.find(validateName(name))?.metric as Metric | undefined;
  }

  /**
   * Forget the metric `name` in this process, so that it can be defined again (hot reload,
   * tests), as prom-client does: what it recorded since its last flush began is dropped, and
   * what the old object records from now on too (said once, `RemovedMetricError`). Its series
   * already in Redis stay there, for every process: `reset()` and flush first to delete them.
   */
  removeSingleMetric(name: string): void {
    const store = this.#catalog.remove(validateName(name));
    if (store !== undefined) this.#flusher.forget(store);
  }

  /** `removeSingleMetric` for every metric, and no default labels (prom-client's `clear()`). */
  clear(): void {
    for (const name of this.#catalog.names()) this.removeSingleMetric(name);
    this.#defaults = undefined;
  }

  /**
   * Run `collect` before each flush of this process, as a metric's `collect` option runs: to
   * sample several metrics at once, or a value only this process knows. Sync or async; waited
   * for at most `flushIntervalMs` or 1 s. Returns the function that removes it.
   */
  registerCollector(collect: () => void | Promise<void>): () => void {
    return this.#collectors.add(undefined, collect);
  }

  /** prom-client's `registerMetric`: accepts a metric already here (they join when constructed). */
  registerMetric(metric: Metric): void {
    if (metric instanceof Object && this.getSingleMetric(String(metric.name)) === metric) return;
    throw new TypeError(
      `registerMetric(): a metric joins its registry when it is constructed: pass \`registry\` in its options (got ${describeValue(metric)})`,
    );
  }

  /**
   * Labels this registry adds to every series it serves (`metrics()`, the handler, JSON), as
   * prom-client's default labels — also to series other processes recorded: they describe the
   * exposition (`{ service: 'shop' }`), not a process. A family with a label of the same name
   * keeps its own. Replaces the previous set; `{}` removes them.
   */
  setDefaultLabels(labels: Readonly<Record<string, string | number>>): void {
    const defaults = new DefaultLabels(labels);
    this.#defaults = defaults.pairs.length === 0 ? undefined : defaults;
  }

  /** @internal A metric's `collect` option. */
  addCollect(metric: string, run: () => unknown): void {
    this.#collectors.add(metric, run);
  }

  /**
   * `reset()` every metric of this registry: at the next flush their series are deleted in
   * Redis, for every process, and count again from zero.
   */
  resetMetrics(): void {
    for (const name of this.#catalog.names()) this.#catalog.find(name)?.store.reset();
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
  metrics(options: MetricsOptions = {}): Promise<string> {
    return this.#scraper.text(options);
  }

  /**
   * `metrics()` as a stream of text pieces, family by family, each rendered while Redis reads
   * the next: what `metricsHandler` sends, so a scrape of a million series never sits in memory
   * whole. An error part-way (Redis gone) is thrown from the iteration: the output is then
   * incomplete and must not be served as a scrape.
   */
  metricsStream(options: MetricsOptions = {}): AsyncIterable<string> {
    return this.#scraper.stream(options);
  }

  /**
   * The exposition of one family (a counter also by its `_total` name), as `metrics()` would show
   * it; empty when Redis holds no such family.
   */
  async getSingleMetricAsString(name: string, options: MetricsOptions = {}): Promise<string> {
    return this.#scraper.text(options, familyNamesOf(validateName(name)));
  }

  /**
   * Every family of the merged state in prom-client's JSON shape (`getMetricsAsJSON()`), from
   * Redis like `metrics()`: held whole in memory, for tests and small JSON endpoints.
   */
  getMetricsAsJSON(): Promise<MetricObject[]> {
    return this.#scraper.json();
  }

  /** One family as `getMetricsAsJSON()` gives it, or undefined when Redis holds no such family. */
  async getSingleMetricAsJSON(name: string): Promise<MetricObject | undefined> {
    return (await this.#scraper.json(familyNamesOf(validateName(name))))[0];
  }

  /** Alias of `metrics()`, as in the Python original. */
  output(options: MetricsOptions = {}): Promise<string> {
    return this.metrics(options);
  }

  /** Content type for a format. */
  contentTypeFor(format: ExpositionFormat): string {
    return contentTypeOf(format);
  }

  /**
   * Stop the timer, deliver the last deltas (within `closeTimeoutMs`; what cannot be delivered is
   * reported through `onError`), give up this process's gauge index — its per-process gauges
   * describe a live process, so they leave the merged view now (`keepGauges: true` leaves them
   * until `expireSeconds` after the last flush instead) — and close the connection if the
   * registry opened it. Calling it again returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    let keepGauges: boolean;
    try {
      keepGauges = keepGaugesOf(options);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
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
    const leftovers = this.#flusher.leftovers(cause);
    for (const error of leftovers) this.#report(error);
    return leftovers.length > 0;
  }

  /**
   * Closed with no connection left: whatever is recorded from now on can never be delivered.
   * Said once per metric; the hot path is not slowed (the buffer calls back only when a series
   * changes for the first time, which after close happens once per series).
   */
  #seal(): void {
    this.#buffer.seal(onceEach((store) => this.#report(new RecordedAfterCloseError(store.meta.name))));
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

/** `REGISTRY` under prom-client's name (`import { register } from 'prom-client'`). */
export const register = REGISTRY;
