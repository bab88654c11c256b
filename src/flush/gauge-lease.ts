/**
 * This process's gauge index and its lease: which index it holds, when its per-process gauge
 * keys were last kept alive (the heartbeat), which gauge families flushes write, and giving the
 * index up at `close()`. The heartbeat also runs for a process that set common gauges and is
 * otherwise idle: its flush is how a wipe is noticed and their values written again.
 */
import type { SeriesStore } from '../buffer/series-store.js';
import { callRelease, releaseArgs } from '../redis/scripts.js';
import type { FlusherHost } from './host.js';
import type { LastValues } from './last-values.js';

export class GaugeLease {
  /** The gauge index this process holds (-1 before its first flush with gauges). */
  index = -1;
  /** When this process's gauge keys last had their expiry refreshed (every gauge family). */
  refreshedMs = 0;
  /** The gauge index was given up (`close()`): later flushes write no per-process gauges. */
  #released = false;
  readonly #host: FlusherHost;
  readonly #lastValues: LastValues;

  constructor(host: FlusherHost, lastValues: LastValues) {
    this.#host = host;
    this.#lastValues = lastValues;
  }

  /** Refresh gauge leases four times per `expireSeconds`. */
  get heartbeatMs(): number {
    return (this.#host.settings.expireSeconds * 1000) / 4;
  }

  /** Whether this process's gauge keys (and lease) need their expiry refreshed now (or a wipe checked for). */
  refreshDue(): boolean {
    return (
      (this.#hasGauges() || this.#lastValues.holding) && Date.now() - this.refreshedMs > this.heartbeatMs
    );
  }

  /** The per-process gauge families that flushes write (none once the index was given up). */
  gauges(): SeriesStore[] {
    if (this.#released) return [];
    return this.#host.stores().filter((s) => s.meta.kind === 'gauge' && !s.conflicted);
  }

  /**
   * Give up the index: its per-process gauges disappear from scrapes now rather than
   * `expireSeconds` later, and the index is free. Later flushes write no per-process gauges.
   * Does nothing in Redis if the lease is no longer this process's.
   */
  async release(): Promise<void> {
    this.#released = true;
    const redis = this.#host.redis();
    const index = this.index;
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
    await callRelease(redis, releaseArgs({ keys, processId, index, gaugeHashes: own }));
    this.index = -1;
  }

  /** Whether the application has per-process gauges to keep alive (the library's own do not count). */
  #hasGauges(): boolean {
    return !this.#released && this.#host.stores().some((s) => s.meta.kind === 'gauge' && !s.internal);
  }
}
