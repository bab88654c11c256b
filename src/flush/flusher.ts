import { performance } from 'node:perf_hooks';
import PQueue from 'p-queue';
import type { DeltaBuffer } from '../buffer/delta-buffer.js';
import type { SeriesStore } from '../buffer/series-store.js';
import { shapeOf } from '../core/family.js';
import {
  FlushError,
  FlushTimeoutError,
  MetadataConflictError,
  PrometheusRedisError,
  RedisUnavailableError,
} from '../core/errors.js';
import { encodeBatch, encodeGroups, withGaugeIndex, type BatchContext, type EncodedBatch } from './encode.js';
import { whenReady, withTimeout } from '../redis/connection.js';
import type { FlushObserver } from './observer.js';
import type { Keys } from '../redis/keys.js';
import type { Redis } from 'ioredis';
import { callScript, FLUSH_COMMAND, RELEASE_COMMAND } from '../redis/scripts.js';
import type { RedisClient } from '../redis/connection.js';

/** Resolved flusher settings (see RegistryOptions for their meaning and defaults). */
export interface FlusherSettings {
  readonly flushIntervalMs: number;
  readonly flushTimeoutMs: number;
  readonly expireSeconds: number;
  readonly tokenTtlSeconds: number;
  readonly maxBackoffMs: number;
  readonly durability?: Durability | undefined;
  readonly shardBy: 'registry' | 'metric';
}

/** Wait for replicas after each flush (see RegistryOptions.durability). */
export interface Durability {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** What the flusher needs from its registry. */
export interface FlusherHost {
  readonly keys: Keys;
  readonly processId: string;
  readonly buffer: DeltaBuffer<SeriesStore>;
  readonly settings: FlusherSettings;
  redis(): RedisClient | undefined;
  stores(): readonly SeriesStore[];
  report(error: Error): void;
  /** The library's own metrics, if enabled. */
  readonly selfMetrics?: FlushObserver | undefined;
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

/** The flush script's reply (see flush-4.lua). */
type FlushReply = [
  status: string,
  index: string,
  fresh: string,
  conflicts: string[],
  errorCount: string,
  firstError: string,
];

/**
 * Moves deltas from the buffer to Redis: on an interval, when the buffer passes its threshold,
 * and on `flush()`. Flushes run one at a time. A batch whose outcome is unknown is kept and sent
 * again, unchanged and under the same sequence number, before anything newer: the script
 * applies each sequence number once, so a lost reply never doubles a count.
 */
export class Flusher {
  readonly stats: FlushStats = {
    ok: 0,
    failed: 0,
    retries: 0,
    duplicates: 0,
    lastSeries: 0,
    lastDurationMs: 0,
    lastSuccessMs: 0,
  };
  readonly #host: FlusherHost;
  readonly #queue = new PQueue({ concurrency: 1 });
  #queued: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #pending: EncodedBatch | undefined;
  #seq = 0;
  #failures = 0;
  #retryAt = 0;
  #thresholdScheduled = false;
  #gaugeIndex = -1;
  readonly #unconfirmed = new Set<SeriesStore>();
  /** When this process's gauge keys last had their expiry refreshed (every gauge family). */
  #gaugesRefreshedMs = 0;
  /** shardBy "metric": per-family batches not yet acknowledged, by family name. */
  readonly #pendingGroups = new Map<string, EncodedBatch>();
  /** shardBy "metric": gauge families whose group must empty this process's gauge hash first. */
  readonly #resetDue = new Set<string>();
  /** shardBy "metric": a control call failed, so whether it (re)claimed the gauge index is unknown. */
  #controlUncertain = false;
  /** shardBy "metric": a batch of the running flush replied DUP (its outcome is `duplicate`). */
  #duplicated = false;
  /** The gauge index was given up (`close()`): later flushes write no per-process gauges. */
  #released = false;
  readonly #reported = new Set<string>();
  readonly #delivered = new WeakSet<Error>();

  constructor(host: FlusherHost) {
    this.#host = host;
  }

  /** The gauge index this process holds (-1 before its first flush with gauges). */
  get gaugeIndex(): number {
    return this.#gaugeIndex;
  }

  /** Series recorded but not yet acknowledged by Redis. */
  get undelivered(): number {
    let pending = this.#pending?.series ?? 0;
    for (const batch of this.#pendingGroups.values()) pending += batch.series;
    return pending + this.#host.buffer.size;
  }

  /** Start the timers (idempotent). They never keep the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.#host.settings.flushIntervalMs);
    this.#timer.unref();
    // Per-process gauges must be refreshed before their lease expires, even with a long interval.
    this.#heartbeat = setInterval(() => this.#tick(), this.#heartbeatMs());
    this.#heartbeat.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    this.#timer = undefined;
    this.#heartbeat = undefined;
  }

  /**
   * Give up this process's gauge index (at `close()`, after the last flush): its per-process
   * gauges disappear from scrapes now rather than `expireSeconds` later, and the index is free.
   * Does nothing if the lease is no longer this process's.
   */
  release(): Promise<void> {
    // In the queue: never beside a flush that could claim or write the index meanwhile.
    return this.#queue.add(async () => {
      this.#released = true;
      try {
        await this.#release();
      } catch (error) {
        throw new FlushError(
          `Could not give up gauge index ${this.#gaugeIndex}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    });
  }

  async #release(): Promise<void> {
    const redis = this.#host.redis();
    const index = this.#gaugeIndex;
    if (redis === undefined || index < 0) return;
    const { keys, processId } = this.#host;
    const gauges = this.#host.stores().filter((s) => s.meta.kind === 'gauge');
    const grouped = gauges.filter((s) => s.meta.shard !== undefined);
    if (grouped.length > 0) {
      // In other slots than the lease: deleted first, while the lease says they are ours.
      if ((await redis.get(keys.lease(index))) !== processId) return;
      await Promise.all(grouped.map((s) => redis.del(keys.group(s.meta.name).gauge(s.meta.name, index))));
    }
    const own = gauges.filter((s) => s.meta.shard === undefined).map((s) => keys.gauge(s.meta.name, index));
    await callScript(redis, RELEASE_COMMAND, [keys.lease(index), keys.process(processId), processId, ...own]);
    this.#gaugeIndex = -1;
  }

  /** A new family: its metadata is written at the next flush even if it records nothing. */
  registered(store: SeriesStore): void {
    this.#unconfirmed.add(store);
  }

  /** Called from the hot path when the buffer passes `flushThreshold`: schedule, never run, a flush. */
  thresholdReached(): void {
    if (this.#thresholdScheduled || this.#timer === undefined) return;
    this.#thresholdScheduled = true;
    setImmediate(() => {
      this.#thresholdScheduled = false;
      this.#tick();
    });
  }

  /**
   * Flush now. Resolves once every delta recorded before the call is applied in Redis; waits for
   * a running flush first. Callers arriving while a flush is queued share it.
   */
  flush(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    let started = false;
    const run = this.#queue.add(async () => {
      // From here on, deltas recorded by later callers are not in this flush: they queue anew.
      started = true;
      this.#queued = undefined;
      await this.#flushOnce();
    });
    // p-queue starts an idle queue's task synchronously; only a task still waiting is shared.
    if (!started) this.#queued = run;
    return run;
  }

  #tick(): void {
    if (this.#queue.pending > 0 || this.#queued !== undefined) return;
    if (Date.now() < this.#retryAt) return;
    if (!this.#due()) return;
    this.flush().catch((error: unknown) => {
      if (!this.#delivered.has(error as Error)) this.#host.report(error as Error);
    });
  }

  #due(): boolean {
    if (this.#pending !== undefined || this.#pendingGroups.size > 0) return true;
    if (this.#host.buffer.size > 0 || this.#unconfirmed.size > 0) return true;
    return this.#resetDue.size > 0 || this.#gaugeRefreshDue();
  }

  /** Whether this process's gauge keys (and lease) need their expiry refreshed now. */
  #gaugeRefreshDue(): boolean {
    return this.#hasGauges() && Date.now() - this.#gaugesRefreshedMs > this.#heartbeatMs();
  }

  /** Refresh gauge leases four times per `expireSeconds`. */
  #heartbeatMs(): number {
    return (this.#host.settings.expireSeconds * 1000) / 4;
  }

  /** Whether the application has per-process gauges to keep alive (the library's own do not count). */
  #hasGauges(): boolean {
    return !this.#released && this.#host.stores().some((s) => s.meta.kind === 'gauge' && !s.internal);
  }

  async #flushOnce(): Promise<void> {
    const redis = this.#host.redis();
    if (redis === undefined) {
      throw new RedisUnavailableError('No Redis connection: pass `redis` to the Registry or call setRedis()');
    }
    await whenReady(redis, this.#host.settings.flushTimeoutMs).catch((error: unknown) => {
      this.#failed();
      this.#host.selfMetrics?.flushed('unavailable', 0, 0);
      throw error;
    });
    if (this.#host.settings.shardBy === 'metric') return this.#flushGroups(redis);
    if (this.#pending !== undefined) {
      this.stats.retries++;
      this.#host.selfMetrics?.retried();
      await this.#send(redis, this.#pending);
    }
    const heartbeat = this.#gaugeRefreshDue();
    if (this.#host.buffer.size === 0 && this.#unconfirmed.size === 0 && !heartbeat) return;
    this.#host.selfMetrics?.sample(this.undelivered, this.#host.stores());
    const stores = this.#host.buffer.take();
    const batch = await encodeBatch(stores, [...this.#unconfirmed], ++this.#seq, {
      ...this.#context(),
      gaugeFamilies: this.#gauges().map((s) => s.meta.name),
    });
    this.#pending = batch;
    await this.#send(redis, batch);
  }

  #context(): Omit<BatchContext, 'gaugeFamilies'> {
    return {
      keys: this.#host.keys,
      processId: this.#host.processId,
      tokenTtlSeconds: this.#host.settings.tokenTtlSeconds,
      expireSeconds: this.#host.settings.expireSeconds,
    };
  }

  /** The per-process gauge families that flushes write (none once the index was given up). */
  #gauges(): SeriesStore[] {
    if (this.#released) return [];
    return this.#host.stores().filter((s) => s.meta.kind === 'gauge' && !s.conflicted);
  }

  /**
   * `shardBy: "metric"`. First a control batch on `{prefix}` (metadata, sample names, the gauge
   * lease, and the library's own metrics, which keep the registry layout), then one batch per
   * changed family to the family's own group, all in flight at once. Every batch has its own
   * sequence number in its own slot, so each is applied exactly once, like a whole flush
   * otherwise. A batch whose outcome is unknown goes again, unchanged, before anything newer of
   * its slot: an earlier control batch before this flush's, and a family's earlier batch before
   * its newer changes, which wait in the family's store meanwhile — other families carry on.
   */
  async #flushGroups(redis: RedisClient, again = false): Promise<void> {
    const started = performance.now();
    const idle = this.#pending === undefined && this.#pendingGroups.size === 0;
    const quiet = this.#host.buffer.size === 0 && this.#unconfirmed.size === 0 && this.#resetDue.size === 0;
    if (idle && quiet && !this.#gaugeRefreshDue()) return;
    const problems: Error[] = [];
    this.#duplicated = false;
    if (!idle) {
      this.stats.retries++;
      this.#host.selfMetrics?.retried();
    }
    if (this.#pending !== undefined)
      problems.push(...(await this.#sendControl(redis, this.#pending, started)));
    this.#host.selfMetrics?.sample(this.undelivered, this.#host.stores());
    const taken = this.#host.buffer.take();
    const waiting = taken.filter((s) => this.#pendingGroups.has(s.meta.name));
    this.#host.buffer.requeue(waiting);
    const own = taken.filter((s) => s.meta.shard === undefined);
    const sharded = taken.filter((s) => s.meta.shard !== undefined && !this.#pendingGroups.has(s.meta.name));
    // Gauge families go along even unchanged when their keys' expiry is due (or to be emptied).
    const refresh = this.#resetDue.size > 0 || this.#gaugeRefreshDue();
    const gauges = this.#gauges();
    const groupGauges = gauges.filter(
      (s) => s.meta.shard !== undefined && !this.#pendingGroups.has(s.meta.name),
    );
    const grouped = refresh ? [...new Set([...sharded, ...groupGauges])] : sharded;
    const seq = ++this.#seq;
    // Both encoders take their stores' changes as they are called, together with the buffer's
    // take above (nothing runs in between), and then encode side by side.
    const [control, batches] = await Promise.all([
      // Sent even without changes of its own: it keeps the gauge lease (whose index the family
      // batches write under) alive, and checks metadata before the data it describes is sent.
      encodeBatch(own, [...this.#unconfirmed, ...sharded], seq, {
        ...this.#context(),
        // The library's own per-process gauges live in the registry's slot, as without sharding.
        gaugeFamilies: gauges.filter((s) => s.meta.shard === undefined).map((s) => s.meta.name),
        index: gauges.length > 0 ? '1' : '0',
      }),
      encodeGroups(grouped, seq, { ...this.#context(), gaugeFamilies: [] }),
    ]);
    let series = control.series;
    this.#pending = control;
    for (const [name, batch] of batches) {
      this.#pendingGroups.set(name, batch);
      series += batch.series;
    }
    problems.push(...(await this.#sendControl(redis, control, started)));
    // Earlier batches still unacknowledged go with this flush's, each family in its own order.
    problems.push(...(await this.#sendGroups(redis, started)));
    if (refresh) this.#gaugesRefreshedMs = Date.now();
    this.#succeeded(this.#duplicated, series, started);
    if (problems.length > 0) throw problems[0]!;
    // Changes that waited behind an earlier batch of their family, now acknowledged: they were
    // recorded before this flush was asked for, so they go now too (one more round).
    if (!again && waiting.length > 0) await this.#flushGroups(redis, true);
  }

  /** Send the control batch; resolves with the problems its reply names. */
  async #sendControl(redis: RedisClient, batch: EncodedBatch, started: number): Promise<Error[]> {
    let reply: FlushReply;
    try {
      reply = await this.#call(redis, batch);
    } catch (error) {
      // It may have been applied: a (re)claimed gauge index would then go unnoticed.
      this.#controlUncertain = true;
      this.#failedAt(started, error);
      throw error;
    }
    this.#pending = undefined;
    if (reply[0] === 'DUP') {
      // Applied by an attempt whose reply was lost, and so were the conflicts it found: check
      // these families again in the next control batch (sent before any family batch).
      this.stats.duplicates++;
      this.#duplicated = true;
      for (const store of batch.metaStores) if (!store.internal) this.#unconfirmed.add(store);
    } else {
      for (const store of batch.metaStores) this.#unconfirmed.delete(store);
    }
    const problems = this.#problems(reply);
    // Families found in conflict are not written: drop their pending batches (as the script
    // skips them in a whole flush).
    for (const store of this.#host.stores())
      if (store.conflicted) this.#pendingGroups.delete(store.meta.name);
    const index = Number(reply[1]);
    if (index >= 0 && (reply[2] === '1' || this.#controlUncertain || index !== this.#gaugeIndex)) {
      // A new or re-claimed index may hold a dead process's values: each gauge family's group
      // empties it (the script did so for gauges in this slot), and every gauge is written again.
      for (const store of this.#gauges()) {
        store.touchAll();
        if (store.meta.shard !== undefined) this.#resetDue.add(store.meta.name);
      }
    }
    this.#controlUncertain = false;
    this.#gaugeIndex = index;
    return problems;
  }

  /** Send every pending family batch at once; resolves with the problems their replies name. */
  async #sendGroups(redis: RedisClient, started: number): Promise<Error[]> {
    const entries = [...this.#pendingGroups];
    const results = await Promise.allSettled(
      entries.map(([name, batch]) =>
        // The gauge index is set per attempt: the current one, emptied first if just (re)claimed.
        this.#call(redis, {
          ...batch,
          args: withGaugeIndex(batch, this.#gaugeIndex, this.#resetDue.has(name)),
        }),
      ),
    );
    const problems: Error[] = [];
    const failures: unknown[] = [];
    results.forEach((result, i) => {
      const [name] = entries[i]!;
      if (result.status === 'rejected') {
        failures.push(result.reason);
        return;
      }
      this.#pendingGroups.delete(name);
      this.#resetDue.delete(name);
      const reply = result.value;
      if (reply[0] === 'DUP') {
        this.stats.duplicates++;
        this.#duplicated = true;
      }
      // A lost first reply may have hidden a reset (DUP), or the group lost this process's gauge
      // hash while its lease lived elsewhere (a restarted or failed-over node): write it all again.
      if (reply[0] === 'DUP' || reply[2] === '1') {
        this.#host
          .stores()
          .find((s) => s.meta.name === name && s.meta.kind === 'gauge')
          ?.touchAll();
      }
      problems.push(...this.#problems(reply));
    });
    if (failures.length > 0) {
      const first = failures[0] as Error;
      this.#failedAt(started, first);
      if (failures.length === entries.length) throw first;
      throw new FlushError(
        `${failures.length} of ${entries.length} metric families failed to flush; they are kept and retried: ${first.message}`,
        { cause: first },
      );
    }
    return problems;
  }

  #failed(): void {
    this.stats.failed++;
    this.#failures++;
    const { flushIntervalMs, maxBackoffMs } = this.#host.settings;
    const ceiling = Math.min(maxBackoffMs, flushIntervalMs * 2 ** Math.min(this.#failures - 1, 20));
    // Full jitter over the upper half: processes that failed together do not retry together.
    this.#retryAt = Date.now() + ceiling * (0.5 + Math.random() / 2);
  }

  /** Count a failed attempt (after `#call` threw) and back off. */
  #failedAt(started: number, error: unknown): void {
    this.#failed();
    const seconds = (performance.now() - started) / 1000;
    this.#host.selfMetrics?.flushed(error instanceof FlushTimeoutError ? 'timeout' : 'error', seconds, 0);
  }

  /** Count an acknowledged flush. */
  #succeeded(duplicate: boolean, series: number, started: number): void {
    this.#failures = 0;
    this.#retryAt = 0;
    this.stats.ok++;
    this.stats.lastSeries = series;
    this.stats.lastDurationMs = performance.now() - started;
    this.stats.lastSuccessMs = Date.now();
    this.#host.selfMetrics?.flushed(
      duplicate ? 'duplicate' : 'success',
      this.stats.lastDurationMs / 1000,
      series,
    );
  }

  /**
   * One script call. Resolves with the reply once Redis applied the batch (or had applied it);
   * throws a PrometheusRedisError otherwise, and the caller keeps the batch for a retry.
   */
  async #call(redis: RedisClient, batch: EncodedBatch): Promise<FlushReply> {
    let reply: FlushReply;
    try {
      const ms = this.#host.settings.flushTimeoutMs;
      reply = (await withTimeout(
        callScript(redis, FLUSH_COMMAND, batch.args),
        ms,
        () =>
          new FlushTimeoutError(`Flush got no reply within flushTimeoutMs (${ms} ms); it will be retried`),
      )) as FlushReply;
    } catch (error) {
      if (error instanceof PrometheusRedisError) throw error;
      throw new FlushError(
        `Flush failed; its ${batch.series} series are kept and retried: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (reply[0] === 'MOVING') {
      // Redis Cluster is moving this batch's slot: the script stopped before writing anything.
      throw new FlushError(
        `Flush deferred while the Redis Cluster slot moves; its ${batch.series} series are kept and retried: ${reply[5]}`,
      );
    }
    const durability = this.#host.settings.durability;
    if (durability !== undefined) {
      // Applied on the primary; count it acknowledged only once `replicas` replicas have it too.
      // Otherwise keep the batch: a retry is recognised as a duplicate by a primary that has it,
      // and applied by a newly promoted replica that never received it — exactly once either way.
      const acked = await (redis as Redis).wait(durability.replicas, durability.timeoutMs).catch(() => -1);
      if (acked < durability.replicas) {
        throw new FlushError(
          `Flush applied but acknowledged by ${Math.max(acked, 0)} of ${durability.replicas} replica(s) within ${durability.timeoutMs} ms; it is kept and retried`,
        );
      }
    }
    return reply;
  }

  async #send(redis: RedisClient, batch: EncodedBatch): Promise<void> {
    const started = performance.now();
    let reply: FlushReply;
    try {
      reply = await this.#call(redis, batch);
    } catch (error) {
      this.#failedAt(started, error);
      throw error;
    }
    this.#pending = undefined;
    const [status, index, fresh] = reply;
    if (status === 'DUP') this.stats.duplicates++;
    this.#succeeded(status === 'DUP', batch.series, started);
    this.#gaugesRefreshedMs = Date.now();
    if (status === 'DUP') {
      // Applied by an attempt whose reply was lost, and so were the conflicts it found: check
      // these families again in the next batch.
      for (const store of batch.metaStores) if (!store.internal) this.#unconfirmed.add(store);
    } else {
      for (const store of batch.metaStores) this.#unconfirmed.delete(store);
    }
    this.#gaugeIndex = Number(index);
    // A DUP may hide a lost first reply that said the index was (re)claimed: rewrite to be safe.
    if (fresh === '1' || status === 'DUP') {
      // A new or re-claimed gauge index starts empty: write every per-process gauge again.
      for (const store of this.#gauges()) store.touchAll();
    }
    const problems = this.#problems(reply);
    if (problems.length > 0) throw problems[0]!;
  }

  /** Mark the families a reply says conflict with Redis, and report what went wrong (once each). */
  #problems([, , , conflicts, errorCount, firstError]: FlushReply): Error[] {
    const problems: Error[] = [];
    for (let i = 0; i + 1 < conflicts.length; i += 2) {
      const name = conflicts[i]!;
      const store = this.#host.stores().find((s) => s.meta.name === name);
      if (store === undefined || store.conflicted) continue;
      store.conflicted = true;
      problems.push(new MetadataConflictError(name, conflicts[i + 1]!, shapeOf(store.meta)));
    }
    if (Number(errorCount) > 0) {
      problems.push(new FlushError(`${errorCount} write(s) of a flush failed in Redis: ${firstError}`));
    }
    for (const problem of problems) this.#reportOnce(problem);
    return problems;
  }

  #reportOnce(error: Error): void {
    this.#delivered.add(error);
    if (this.#reported.has(error.message)) return;
    this.#reported.add(error.message);
    this.#host.report(error);
  }
}
