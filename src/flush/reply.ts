/**
 * The one reply handler of both flush layouts: what a flush script reply means for the
 * flusher's state (duplicates, metadata confirmed or to check again, conflicts and write errors
 * reported, a recurring one again at most once per REPORT_AGAIN_MS), and the outcome of each
 * flush attempt (stats, backoff, self-metrics).
 */
import { performance } from 'node:perf_hooks';
import type { SeriesStore } from '../buffer/series-store.js';
import { shapeOf } from '../core/family.js';
import {
  FlushError,
  FlushTimeoutError,
  MetadataConflictError,
  AcknowledgedDataLostError,
  NonFiniteValueError,
  RedisStateLostError,
  RefusedSeriesError,
  type WrongKeyTypeError,
} from '../core/errors.js';
import { labelKeyOf, SEPARATOR, SUM } from '../redis/fields.js';
import type { Backoff } from './backoff.js';
import type { FlusherHost, FlushStats } from './host.js';
import type { LastValues } from './last-values.js';
import type { RefusedRecord } from '../redis/flush-sections.js';
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

/** A problem that keeps recurring is reported again after this long, saying how often it recurred. */
export const REPORT_AGAIN_MS = 60_000;
/** Chains that see one wipe within this long report it once. */
const WIPE_REPORTED_MS = 10_000;
/** Distinct problems remembered for REPORT_AGAIN_MS (the oldest are forgotten beyond). */
const REMEMBERED_PROBLEMS = 1000;

export class ReplyHandler {
  readonly #host: FlusherHost;
  readonly #stats: FlushStats;
  readonly #backoff: Backoff;
  readonly #unconfirmed: Set<SeriesStore>;
  /** By problem: when it was last reported, and how often it recurred since. */
  readonly #reported = new Map<string, { atMs: number; repeats: number }>();
  readonly #delivered = new WeakSet<Error>();
  readonly #lastValues: LastValues;
  /** When a wipe was last reported (chains of one flush may all see it). */
  #wipedAtMs = -Infinity;
  /** A wipe was seen and what it lost is not yet written again (see `restoreDue`). */
  #restoreDue = false;

  /**
   * `unconfirmed`: the families whose metadata the next registry-wide batch must carry;
   * `lastValues`: what this process set on its common gauges, written again after a wipe.
   */
  constructor(
    host: FlusherHost,
    stats: FlushStats,
    backoff: Backoff,
    unconfirmed: Set<SeriesStore>,
    lastValues: LastValues,
  ) {
    this.#host = host;
    this.#lastValues = lastValues;
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
      // (Not a family removed from the registry since: its definition must not be written.)
      for (const store of confirms) if (!store.internal && !store.retired) this.#unconfirmed.add(store);
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

  /**
   * Count an acknowledged flush: `duplicate` when one of its batches replied DUP, `partial` when
   * a reply said Redis refused some of its writes (`problems`, as `problems()` returned them).
   */
  succeeded(duplicate: boolean, series: number, started: number, problems: readonly Error[] = []): void {
    this.#backoff.succeeded();
    this.#stats.ok++;
    this.#stats.lastSeries = series;
    this.#stats.lastDurationMs = performance.now() - started;
    this.#stats.lastSuccessMs = Date.now();
    const refused = problems.some((problem) => problem instanceof FlushError);
    this.#host.selfMetrics?.flushed(
      refused ? 'partial' : duplicate ? 'duplicate' : 'success',
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
   * Mark the families a reply says conflict with Redis, and report what went wrong (a conflict
   * once per family; a write error again at most once per REPORT_AGAIN_MS while it recurs);
   * returns those problems. Called after the layout has acted on `read()`.
   */
  problems([, , , conflicts, errorCount, firstError, , pastRange]: FlushReply): Error[] {
    const problems: Error[] = [];
    // Applied, and stored as infinite: reported (the script names each series once), not a failure.
    for (let i = 0; i + 1 < (pastRange?.length ?? 0); i += 2) {
      const field = pastRange[i + 1]!;
      const what = field.endsWith(`${SEPARATOR}${SUM}`) ? 'sum' : 'value';
      this.#host.report(new NonFiniteValueError(pastRange[i]!, labelKeyOf(field), what));
    }
    for (let i = 0; i + 1 < conflicts.length; i += 2) {
      const name = conflicts[i]!;
      const store = this.#host.stores().find((s) => s.meta.name === name);
      if (store === undefined || store.conflicted) continue;
      store.conflicted = true;
      const conflict = new MetadataConflictError(name, conflicts[i + 1]!, shapeOf(store.meta));
      problems.push(conflict);
      this.#report(conflict, conflict.message);
    }
    if (Number(errorCount) > 0) {
      const refused = new FlushError(`${errorCount} write(s) of a flush failed in Redis: ${firstError}`);
      problems.push(refused);
      // The same refusal with another count of writes is the same problem.
      this.#report(refused, `write: ${firstError}`);
    }
    return problems;
  }

  /**
   * A family's key has the wrong type and its changes are held (ChunkQueue): report it, again at
   * most once per REPORT_AGAIN_MS while it recurs; returns it as the flush's problem.
   */
  isolated(error: WrongKeyTypeError): Error {
    this.#report(error, `wrong type: ${error.key}`);
    return error;
  }

  /**
   * Redis lost this process's keys (a chain's process key vanished within its TTL): report it
   * (once per wipe), and write again what this process owns — every family's metadata, and the
   * values it set on its common gauges (unless another process wrote them since). Per-process
   * gauges come back with the gauge index, which the script reclaims fresh.
   */
  wiped(): void {
    const now = Date.now();
    if (now - this.#wipedAtMs < WIPE_REPORTED_MS) return;
    this.#wipedAtMs = now;
    this.#restoreDue = true;
    const stores = this.#host.stores();
    for (const store of stores) if (!store.conflicted) this.#unconfirmed.add(store);
    this.#host.buffer.requeue(this.#lastValues.wiped(stores));
    this.#host.report(new RedisStateLostError(this.#host.keys.prefix));
  }

  /**
   * Redis is behind acknowledged batches (a failover lost them; at 0 it lost the process key,
   * which `wiped` reports): report what could not be sent again.
   */
  behind(at: number, replayed: number, lost: boolean): void {
    if (lost && at > 0) this.#report(new AcknowledgedDataLostError(at, replayed), 'behind');
  }

  /** Whether a wipe was seen since the last call: the flush then runs once more to restore. */
  restoreDue(): boolean {
    const due = this.#restoreDue;
    this.#restoreDue = false;
    return due;
  }

  /**
   * A series Redis refused outright, dropped from its chunk (ChunkQueue): counted in the
   * self-metrics and reported; returns the error as the flush's problem.
   */
  refused(record: RefusedRecord): Error {
    const error = new RefusedSeriesError(record.family, record.labelKey, record.bytes);
    this.#host.selfMetrics?.refused(record.family);
    this.#report(error, error.message);
    return error;
  }

  /**
   * Report `error` unless the problem `key` names was reported less than REPORT_AGAIN_MS ago
   * (then it is only counted); reported again, its message says how often it recurred meanwhile.
   */
  #report(error: Error, key: string): void {
    this.#delivered.add(error);
    const now = Date.now();
    const last = this.#reported.get(key);
    if (last !== undefined && now - last.atMs < REPORT_AGAIN_MS) {
      last.repeats++;
      return;
    }
    if (last !== undefined && last.repeats > 0) {
      const seconds = Math.round((now - last.atMs) / 1000);
      error.message += ` (it recurred ${last.repeats} more time(s) in the ${seconds} s since it was last reported)`;
    }
    this.#reported.delete(key);
    this.#reported.set(key, { atMs: now, repeats: 0 });
    if (this.#reported.size > REMEMBERED_PROBLEMS) {
      this.#reported.delete(this.#reported.keys().next().value!);
    }
    this.#host.report(error);
  }
}
