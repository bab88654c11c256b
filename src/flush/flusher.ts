/**
 * The public Flusher and its schedule: the interval and heartbeat timers, the threshold trigger,
 * `flush()` (one at a time, callers arriving while one is queued share it), backoff while Redis
 * fails, and `release()` of the gauge index at close. How a flush is laid out over Redis is the
 * layout's job (layout-registry.ts, layout-metric.ts).
 */
import PQueue from 'p-queue';
import type { SeriesStore } from '../buffer/series-store.js';
import {
  FlushError,
  RedisUnavailableError,
  UndeliveredDataError,
  UnknownOutcomeError,
} from '../core/errors.js';
import { fakedScheduling, fakedSchedulingMessage } from '../core/fake-timers.js';
import { whenReady } from '../redis/connection.js';
import { Backoff } from './backoff.js';
import { GaugeLease } from './gauge-lease.js';
import { LastValues } from './last-values.js';
import type { FlusherHost, FlushStats } from './host.js';
import type { FlushLayout } from './layout.js';
import { MetricLayout } from './layout-metric.js';
import { RegistryLayout } from './layout-registry.js';
import { ReplyHandler } from './reply.js';

export type { FlushStats } from './host.js';

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
  readonly #backoff: Backoff;
  readonly #replies: ReplyHandler;
  readonly #lease: GaugeLease;
  readonly #layout: FlushLayout;
  /** Families whose metadata the next registry-wide batch carries (new, or to check again). */
  readonly #unconfirmed = new Set<SeriesStore>();
  #queued: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #thresholdScheduled = false;

  constructor(host: FlusherHost) {
    this.#host = host;
    this.#backoff = new Backoff(host.settings);
    const lastValues = new LastValues();
    this.#replies = new ReplyHandler(host, this.stats, this.#backoff, this.#unconfirmed, lastValues);
    this.#lease = new GaugeLease(host, lastValues);
    const state = {
      host,
      replies: this.#replies,
      lease: this.#lease,
      unconfirmed: this.#unconfirmed,
      undelivered: () => this.undelivered,
      lastValues,
    };
    this.#layout = host.settings.shardBy === 'metric' ? new MetricLayout(state) : new RegistryLayout(state);
  }

  /** The gauge index this process holds (-1 before its first flush with gauges). */
  get gaugeIndex(): number {
    return this.#lease.index;
  }

  /** Series recorded but not yet acknowledged by Redis. */
  get undelivered(): number {
    return this.#layout.unacknowledged + this.#host.buffer.size;
  }

  /**
   * Of the undelivered series, those sent without an answer (in flight, or unanswered): Redis
   * may have applied them; only a retry under the same sequence number would settle which.
   */
  get unknownOutcome(): number {
    return this.#layout.unknownOutcome;
  }

  /**
   * What is still undelivered, as errors to report (at close): series never applied in Redis
   * (`UndeliveredDataError`) apart from those sent without an answer, which Redis may have
   * applied (`UnknownOutcomeError`). Empty when everything was delivered.
   */
  leftovers(cause?: unknown): Error[] {
    const options = cause === undefined ? undefined : { cause };
    const unknown = this.unknownOutcome;
    const unsent = this.undelivered - unknown;
    const errors: Error[] = [];
    if (unsent > 0) errors.push(new UndeliveredDataError(unsent, options));
    if (unknown > 0) errors.push(new UnknownOutcomeError(unknown, options));
    return errors;
  }

  /** Start the timers (idempotent). They never keep the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.#host.settings.flushIntervalMs);
    this.#timer.unref();
    // Per-process gauges must be refreshed before their lease expires, even with a long interval.
    this.#heartbeat = setInterval(() => this.#tick(), this.#lease.heartbeatMs);
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
      try {
        await this.#lease.release();
      } catch (error) {
        throw new FlushError(
          `Could not give up gauge index ${this.#lease.index}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    });
  }

  /** A new family: its metadata is written at the next flush even if it records nothing. */
  registered(store: SeriesStore): void {
    this.#unconfirmed.add(store);
  }

  /** A family removed from the registry: its metadata, if not written yet, is not written. */
  forget(store: SeriesStore): void {
    this.#unconfirmed.delete(store);
  }

  /**
   * Called from the hot path when the buffer reaches `flushThreshold`: schedule, never run, a
   * flush. Also while a flush is running: the next one queues behind it (and takes everything
   * changed by then), so no batch carries more than the threshold plus what arrives during one
   * flush. While retrying after a failure the backoff decides.
   */
  thresholdReached(): void {
    if (this.#thresholdScheduled || this.#timer === undefined) return;
    this.#thresholdScheduled = true;
    setImmediate(() => {
      this.#thresholdScheduled = false;
      if (this.#timer === undefined || this.#backoff.waiting) return;
      this.#flushInBackground();
    });
  }

  /** Whether `error` (a flush's rejection) was already given to `onError` by the reply that named it. */
  reported(error: unknown): boolean {
    return error instanceof Error && this.#replies.delivered(error);
  }

  /** A flush nobody awaits: its failure goes to `onError` (unless the data got through after all). */
  #flushInBackground(): void {
    this.flush().catch((error: unknown) => {
      if (!this.reported(error)) this.#host.report(error as Error);
    });
  }

  /**
   * Flush now. Resolves once every delta recorded before the call is applied in Redis; waits for
   * a running flush first. Callers arriving while a flush is queued share it.
   */
  flush(): Promise<void> {
    const faked = fakedScheduling();
    if (faked.length > 0) return Promise.reject(new RedisUnavailableError(fakedSchedulingMessage(faked)));
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
    if (this.#backoff.waiting) return;
    if (!this.#due() && !this.#host.collects()) return;
    this.#flushInBackground();
  }

  #due(): boolean {
    if (this.#layout.waiting) return true;
    if (this.#host.buffer.size > 0 || this.#unconfirmed.size > 0) return true;
    return this.#lease.refreshDue();
  }

  async #flushOnce(): Promise<void> {
    // Sampled values go out with this flush (a scrape's flush, too: it shows them).
    await this.#host.collect();
    const redis = this.#host.redis();
    if (redis === undefined) {
      throw new RedisUnavailableError('No Redis connection: pass `redis` to the Registry or call setRedis()');
    }
    await whenReady(redis, this.#host.settings.flushTimeoutMs).catch((error: unknown) => {
      this.#replies.unavailable();
      throw error;
    });
    await this.#layout.flush(redis);
    // Redis lost this process's keys: what it owns goes again now, not at the next interval.
    if (this.#replies.restoreDue()) await this.#layout.flush(redis);
  }
}
