/**
 * The one reply handler of both flush layouts: what a flush script reply means for the
 * flusher's state (duplicates, metadata confirmed or to check again, conflicts and write errors
 * reported once each), and the outcome of each flush attempt (stats, backoff, self-metrics).
 */
import { performance } from 'node:perf_hooks';
import type { SeriesStore } from '../buffer/series-store.js';
import { shapeOf } from '../core/family.js';
import { FlushError, FlushTimeoutError, MetadataConflictError } from '../core/errors.js';
import type { Backoff } from './backoff.js';
import type { FlusherHost, FlushStats } from './host.js';
import type { FlushReply } from '../redis/scripts.js';

/** What a reply says, once read. */
export interface ReadReply {
  /** The batch had been applied by an earlier attempt whose reply was lost. */
  readonly duplicate: boolean;
  /** The gauge index the script holds for this process (-1 without gauges). */
  readonly index: number;
  /** The index was (re)claimed, or a gauge hash was missing: every gauge must be written again. */
  readonly fresh: boolean;
}

export class ReplyHandler {
  readonly #host: FlusherHost;
  readonly #stats: FlushStats;
  readonly #backoff: Backoff;
  readonly #unconfirmed: Set<SeriesStore>;
  readonly #reported = new Set<string>();
  readonly #delivered = new WeakSet<Error>();

  /** `unconfirmed`: the families whose metadata the next registry-wide batch must carry. */
  constructor(host: FlusherHost, stats: FlushStats, backoff: Backoff, unconfirmed: Set<SeriesStore>) {
    this.#host = host;
    this.#stats = stats;
    this.#backoff = backoff;
    this.#unconfirmed = unconfirmed;
  }

  /**
   * Read the reply of an applied batch. `confirms`: the stores whose registry-wide metadata the
   * batch carried (none for a `shardBy: "metric"` family group, whose metadata entry only checks
   * the shape within the group).
   */
  read(reply: FlushReply, confirms: readonly SeriesStore[]): ReadReply {
    const duplicate = reply[0] === 'DUP';
    if (duplicate) {
      // Applied by an attempt whose reply was lost, metadata included — and so were the conflicts
      // it found, which only that reply named: check these families again in the next batch
      // (an entry stored as sent is not written again).
      this.#stats.duplicates++;
      for (const store of confirms) if (!store.internal) this.#unconfirmed.add(store);
    } else {
      for (const store of confirms) this.#unconfirmed.delete(store);
    }
    return { duplicate, index: Number(reply[1]), fresh: reply[2] === '1' };
  }

  /** A batch whose outcome is unknown is sent again. */
  retried(): void {
    this.#stats.retries++;
    this.#host.selfMetrics?.retried();
  }

  /** Count an acknowledged flush (`duplicate` when one of its batches replied DUP). */
  succeeded(duplicate: boolean, series: number, started: number): void {
    this.#backoff.succeeded();
    this.#stats.ok++;
    this.#stats.lastSeries = series;
    this.#stats.lastDurationMs = performance.now() - started;
    this.#stats.lastSuccessMs = Date.now();
    this.#host.selfMetrics?.flushed(
      duplicate ? 'duplicate' : 'success',
      this.#stats.lastDurationMs / 1000,
      series,
    );
  }

  /** Count a failed attempt (a script call threw) and back off. */
  failed(started: number, error: unknown): void {
    this.#stats.failed++;
    this.#backoff.failed();
    const seconds = (performance.now() - started) / 1000;
    this.#host.selfMetrics?.flushed(error instanceof FlushTimeoutError ? 'timeout' : 'error', seconds, 0);
  }

  /** Count an attempt that found no usable connection and back off. */
  unavailable(): void {
    this.#stats.failed++;
    this.#backoff.failed();
    this.#host.selfMetrics?.flushed('unavailable', 0, 0);
  }

  /** Whether `error` was already given to the registry's `onError` (by a reply that named it). */
  delivered(error: Error): boolean {
    return this.#delivered.has(error);
  }

  /**
   * Mark the families a reply says conflict with Redis, and report what went wrong (once each);
   * returns those problems. Called after the layout has acted on `read()`.
   */
  problems([, , , conflicts, errorCount, firstError]: FlushReply): Error[] {
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
